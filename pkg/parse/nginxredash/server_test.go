package nginxredash

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/dbsec/dbsec/pkg/event"
)

// fakeRedash answers /login like Redash's handlers/authentication.py: a
// wrong password re-renders the form (200), a good one redirects (302), and
// past the rate limit every POST is 429 (REDASH_THROTTLE_LOGIN_PATTERN).
type fakeRedash struct {
	mu    sync.Mutex
	posts int
	limit int
}

func (f *fakeRedash) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case strings.HasSuffix(r.URL.Path, "/login") && r.Method == http.MethodPost:
		f.mu.Lock()
		f.posts++
		n := f.posts
		f.mu.Unlock()
		if n > f.limit {
			http.Error(w, "429 Too Many Requests: 50 per 1 hour", http.StatusTooManyRequests)
			return
		}
		_ = r.ParseForm()
		if r.PostForm.Get("email") == "admin@example.com" && r.PostForm.Get("password") == "right" {
			http.Redirect(w, r, "/", http.StatusFound)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = io.WriteString(w, `<form method="post"><div class="alert">Wrong email or password.</div></form>`)
	case strings.HasSuffix(r.URL.Path, "/login"):
		_, _ = io.WriteString(w, `<form method="post"></form>`)
	case r.URL.Path == "/logout":
		http.Redirect(w, r, "/login", http.StatusFound)
	case r.URL.Path == "/api/admin":
		http.Error(w, "forbidden", http.StatusForbidden)
	case strings.HasPrefix(r.URL.Path, "/api/queries/"):
		_, _ = io.WriteString(w, "id,name\n1,x\n")
	case r.URL.Path == "/", strings.HasPrefix(r.URL.Path, "/static/"), strings.HasPrefix(r.URL.Path, "/api/"),
		strings.HasPrefix(r.URL.Path, "/queries"), strings.HasPrefix(r.URL.Path, "/dashboards"):
		_, _ = io.WriteString(w, "ok")
	default:
		http.NotFound(w, r) // /.env, /wp-login.php …: Redash has no such page
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startNginx runs the Debian nginx in front of upstream and returns its
// address and the path of its access log (format "main").
func startNginx(t *testing.T, upstream string) (addr, accessLog string) {
	t.Helper()
	bin, err := exec.LookPath("nginx")
	if err != nil {
		for _, p := range []string{"/usr/sbin/nginx", "/usr/local/sbin/nginx"} {
			if _, e := os.Stat(p); e == nil {
				bin, err = p, nil
				break
			}
		}
	}
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("nginx not found: install the Debian package nginx (apt-get install -y nginx)")
		}
		t.Skip("nginx not found: install the Debian package nginx to run this test")
	}
	dir := t.TempDir()
	// Workers may run as nobody: let them traverse the prefix.
	_ = os.Chmod(dir, 0o755)
	_ = os.Chmod(filepath.Dir(dir), 0o755)
	userLine := ""
	if os.Geteuid() == 0 {
		group := "nogroup"
		if _, err := user.LookupGroup(group); err != nil {
			group = "nobody"
		}
		userLine = "user nobody " + group + ";"
	}
	port := freePort(t)
	addr = fmt.Sprintf("127.0.0.1:%d", port)
	accessLog = filepath.Join(dir, "access.log")
	conf := fmt.Sprintf(`%s
worker_processes 1;
pid %[2]s/nginx.pid;
error_log %[2]s/error.log warn;
events { worker_connections 64; }
http {
    client_body_temp_path %[2]s/body;
    proxy_temp_path %[2]s/proxy;
    fastcgi_temp_path %[2]s/fastcgi;
    uwsgi_temp_path %[2]s/uwsgi;
    scgi_temp_path %[2]s/scgi;
    log_format  main  '$remote_addr - $remote_user [$time_local] "$request" '
                      '$status $body_bytes_sent "$http_referer" '
                      '"$http_user_agent" "$http_x_forwarded_for"';
    access_log %[2]s/access.log main;
    server {
        listen %[3]s;
        location / {
            proxy_pass http://%[4]s;
            proxy_set_header Host $host;
            proxy_set_header X-Real-IP $remote_addr;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        }
    }
}
`, userLine, dir, addr, upstream)
	confPath := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-p", dir, "-c", confPath, "-g", "daemon off;")
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGQUIT)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			break
		}
		select {
		case <-done:
			el, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Fatalf("nginx exited: %s\n%s", stderr.String(), el)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("nginx did not listen on %s: %s", addr, stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	return addr, accessLog
}

func TestRealNginx(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped with -short: real-server test (nginx)")
	}
	const (
		bad       = 12 // wrong password on /login, answered 200
		orgBad    = 1  // wrong password on /acme/login, answered 200
		good      = 3  // answered 302
		throttled = 4  // past the limit, answered 429
	)
	up := &fakeRedash{limit: bad + orgBad + good}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: up, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })

	addr, accessLog := startNginx(t, ln.Addr().String())
	base := "http://" + addr
	client := &http.Client{
		Timeout:       5 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	requests := 0
	do := func(method, path, body string, hdr map[string]string, want int) {
		t.Helper()
		req, err := http.NewRequest(method, base+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if body != "" {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		req.Header.Set("User-Agent", "dbsec-test/1.0")
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		requests++
		if resp.StatusCode != want {
			t.Fatalf("%s %s: status %d, want %d", method, path, resp.StatusCode, want)
		}
	}
	do("GET", "/login", "", nil, 200) // the form: traffic, not a security event
	for i := range bad {
		h := map[string]string{"Referer": base + "/login"}
		if i%3 == 0 {
			h["X-Forwarded-For"] = "203.0.113.7"
		}
		do("POST", "/login", "email=admin%40example.com&password=wrong"+fmt.Sprint(i), h, 200)
	}
	do("POST", "/acme/login", "email=admin%40example.com&password=nope", nil, 200)
	for range good {
		do("POST", "/login", "email=admin%40example.com&password=right", nil, 302)
	}
	for range throttled {
		do("POST", "/login", "email=admin%40example.com&password=right", nil, 429)
	}
	do("GET", "/api/queries/7/results.csv?api_key=SECRET123", "", map[string]string{"Referer": base + "/queries/7?api_key=SECRET123&p=1"}, 200)
	do("GET", "/api/admin", "", nil, 403)
	do("GET", "/logout", "", nil, 302)
	do("GET", "/static/app.js", "", nil, 200) // ordinary request: traffic

	// A TLS ClientHello on the plain-HTTP port: nginx logs "\x16\x03\x01…" 400.
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	_, _ = c.Write([]byte("\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03\x8b\x1f\"quote\\ \r\n\r\n"))
	_, _ = io.Copy(io.Discard, c)
	c.Close()
	requests++

	// nginx writes the line when the request ends; wait for all of them.
	var data []byte
	deadline := time.Now().Add(10 * time.Second)
	for {
		data, _ = os.ReadFile(accessLog)
		if bytes.Count(data, []byte("\n")) >= requests || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if n := bytes.Count(data, []byte("\n")); n != requests {
		t.Fatalf("access log has %d lines, want %d:\n%s", n, requests, data)
	}
	if out := os.Getenv("DBSEC_KEEP_NGINX_LOG"); out != "" {
		_ = os.WriteFile(out, data, 0o644)
	}

	p := New(Format.Name)
	var (
		ev                                         event.Event
		failed, success, denied, reads, logouts, n int
		throttledSeen, xff, traffic                int
	)
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := sc.Bytes()
		ev.Reset()
		ok, err := p.Parse(line, &ev)
		if err != nil {
			t.Fatalf("parse %q: %v", line, err)
		}
		if bytes.Contains(line, []byte(`"203.0.113.7"`)) {
			xff++
		}
		if !ok {
			continue
		}
		n++
		c := ev.Clone()
		if s := fmt.Sprintf("%+v", *c); strings.Contains(s, "SECRET123") {
			t.Errorf("secret leaked into event: %s", s)
		}
		if ev.ClientIP != "127.0.0.1" {
			t.Errorf("client ip %q", ev.ClientIP)
		}
		switch {
		case ev.Traffic:
			// GET /login (the form), /static/app.js and the ClientHello:
			// for the detectors only.
			traffic++
		case ev.Category == event.CategoryLogin && ev.Outcome == event.OutcomeFailure:
			failed++
			if ev.Reason == "throttled" {
				throttledSeen++
			}
		case ev.Category == event.CategoryLogin && ev.Outcome == event.OutcomeSuccess:
			success++
		case ev.Category == event.CategoryAccessDenied:
			denied++
		case ev.Category == event.CategoryRead:
			reads++
		case ev.Category == event.CategoryLogout:
			logouts++
		default:
			t.Errorf("unexpected event %+v", ev)
		}
	}
	if want := bad + orgBad + throttled; failed != want {
		t.Errorf("failed logins = %d, want %d", failed, want)
	}
	if success != good {
		t.Errorf("successful logins = %d, want %d", success, good)
	}
	if throttledSeen != throttled {
		t.Errorf("throttled = %d, want %d", throttledSeen, throttled)
	}
	if denied != 1 || reads != 1 || logouts != 1 {
		t.Errorf("denied=%d reads=%d logouts=%d, want 1 each", denied, reads, logouts)
	}
	if traffic != 3 {
		t.Errorf("%d ordinary requests, want 3", traffic)
	}
	if want := bad + orgBad + good + throttled + 3 + 3; n != want {
		t.Errorf("%d events, want %d", n, want)
	}
	if xff != (bad+2)/3 {
		t.Errorf("%d lines with X-Forwarded-For, want %d", xff, (bad+2)/3)
	}
	if !bytes.Contains(data, []byte(`"\x16\x03\x01`)) {
		t.Errorf("no malformed TLS request line in the log:\n%s", data)
	}
	if !bytes.Contains(data, []byte("SECRET123")) {
		t.Errorf("the raw log should contain the key (the test would prove nothing)")
	}
}
