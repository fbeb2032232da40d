package nginxerror

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dbsec/dbsec/pkg/event"
	"github.com/dbsec/dbsec/pkg/parse/parsetest"
)

var saveReal = flag.Bool("save-real", false, "copy the error log of the real-nginx test to testdata/real.log")

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// TestRealNginx runs the Debian nginx in front of a Redash-like upstream
// with a limit_req zone on /login and a location whose upstream is down,
// and checks that its error log gives exactly the rejections and the
// upstream failure, and nothing for the 404 nor the notices.
func TestRealNginx(t *testing.T) {
	bin, err := exec.LookPath("nginx")
	if err != nil {
		if _, e := os.Stat("/usr/sbin/nginx"); e == nil {
			bin, err = "/usr/sbin/nginx", nil
		}
	}
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("nginx not found: install the Debian package nginx (apt-get install -y nginx)")
		}
		t.Skip("nginx not found: install the Debian package nginx to run this test")
	}
	up, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, `<form method="post"></form>`)
	})}
	go func() { _ = srv.Serve(up) }()
	t.Cleanup(func() { _ = srv.Close() })

	dir := t.TempDir()
	_ = os.Chmod(dir, 0o755)
	_ = os.Chmod(filepath.Dir(dir), 0o755)
	if err := os.MkdirAll(filepath.Join(dir, "html", "static"), 0o755); err != nil {
		t.Fatal(err)
	}
	userLine := ""
	if os.Geteuid() == 0 {
		group := "nogroup"
		if _, err := user.LookupGroup(group); err != nil {
			group = "nobody"
		}
		userLine = "user nobody " + group + ";"
	}
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	dead := fmt.Sprintf("127.0.0.1:%d", freePort(t)) // nothing listens there
	errorLog := filepath.Join(dir, "error.log")
	conf := fmt.Sprintf(`%s
worker_processes 1;
pid %[2]s/nginx.pid;
error_log %[2]s/error.log info;
events { worker_connections 64; }
http {
    client_body_temp_path %[2]s/body;
    proxy_temp_path %[2]s/proxy;
    fastcgi_temp_path %[2]s/fastcgi;
    uwsgi_temp_path %[2]s/uwsgi;
    scgi_temp_path %[2]s/scgi;
    access_log off;
    limit_req_zone $binary_remote_addr zone=login:1m rate=1r/m;
    server {
        listen %[3]s;
        server_name redash;
        location = /login { limit_req zone=login; proxy_pass http://%[4]s; }
        location /dead/ { proxy_pass http://%[5]s; }
        location /static/ { root %[2]s/html; }
        location / { proxy_pass http://%[4]s; }
    }
}
`, userLine, dir, addr, up.Addr().String(), dead)
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
			t.Fatalf("nginx exited: %s", stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("nginx did not listen on %s: %s", addr, stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}

	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	do := func(method, path string, want int) {
		t.Helper()
		req, _ := http.NewRequest(method, "http://"+addr+path, strings.NewReader("email=a%40b.c&password=x"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Fatalf("%s %s: %d, want %d", method, path, resp.StatusCode, want)
		}
	}
	do("POST", "/login", 200) // within the rate
	do("POST", "/login", 503) // limiting requests
	do("POST", "/login", 503)
	do("GET", "/dead/api/queries/7/results.csv?api_key=SECRET42", 502) // connect() failed
	do("GET", "/static/missing.js", 404)                               // open() failed: the access log's 404

	// nginx writes each line when the request ends; wait for the last ones.
	var data []byte
	for range 200 {
		data, _ = os.ReadFile(errorLog)
		if bytes.Count(data, []byte("limiting requests")) >= 2 && bytes.Contains(data, []byte("connect() failed")) &&
			bytes.Contains(data, []byte("missing.js")) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if *saveReal {
		if err := os.WriteFile("testdata/real.log", data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got := map[string]int{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	p := New(parsetest.Options())
	var ev event.Event
	for sc.Scan() {
		ev.Reset()
		ok, err := p.Parse(sc.Bytes(), &ev)
		if err != nil {
			t.Errorf("%s: %v", sc.Text(), err)
			continue
		}
		if !ok {
			continue
		}
		if strings.Contains(ev.Raw+ev.Reason, "SECRET42") {
			t.Errorf("api key not masked: %s", ev.Raw)
		}
		if ev.ClientIP != "127.0.0.1" {
			t.Errorf("client %q in %s", ev.ClientIP, ev.Raw)
		}
		got[fmt.Sprintf("%s/%s/%s/%s", ev.Category, ev.StatusCode, strings.Join(ev.Objects, ","), firstWord(ev.Reason))]++
	}
	want := map[string]int{
		"access_denied/login//login/limit_req":             2,
		"error///dead/api/queries/7/results.csv/connect()": 1,
	}
	for k, n := range got {
		if want[k] != n {
			t.Errorf("%s: %d, want %d", k, n, want[k])
		}
	}
	for k, n := range want {
		if got[k] != n {
			t.Errorf("%s: %d, want %d", k, got[k], n)
		}
	}
	if t.Failed() {
		t.Logf("error log:\n%s", data)
	}
}

func firstWord(s string) string {
	if i := strings.IndexByte(s, ' '); i >= 0 {
		return s[:i]
	}
	return s
}
