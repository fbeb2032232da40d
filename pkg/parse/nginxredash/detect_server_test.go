package nginxredash

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dbsec/dbsec/pkg/collector"
	"github.com/dbsec/dbsec/pkg/detect"
	"github.com/dbsec/dbsec/pkg/event"
	"github.com/dbsec/dbsec/pkg/input"
	"github.com/dbsec/dbsec/pkg/pipeline"
)

type sink struct{ evs []*event.Event }

func (s *sink) Consume(ev *event.Event) { s.evs = append(s.evs, ev.Clone()) }

// TestRealNginxDetections puts the Debian nginx in front of a Redash-like
// upstream, sends requests shaped like those of scanners, injection tools
// and content-discovery tools (their default user agents, payloads and
// paths) next to ordinary browsing, each kind from its own loopback
// address, and runs the access log through the pipeline with the detector:
// every request reaches the detector, D37 fires on each attack and on
// nothing else, and ordinary requests are neither counted as security
// events nor stored unless a rule fired on them.
func TestRealNginxDetections(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: &fakeRedash{limit: 100}, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	addr, accessLog := startNginx(t, ln.Addr().String())

	const browser = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"
	requests := 0
	// get sends one GET from the loopback address from (127.0.0.x).
	get := func(from, ua, path string, want int) {
		t.Helper()
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 2 * time.Second}
		c := &http.Client{
			Timeout:       5 * time.Second,
			Transport:     &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
		req, err := http.NewRequestWithContext(context.Background(), "GET", "http://"+addr+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("User-Agent", ua)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		requests++
		if resp.StatusCode != want {
			t.Fatalf("GET %s: %d, want %d", path, resp.StatusCode, want)
		}
	}
	discovery := []string{"/.env", "/.git/config", "/wp-login.php", "/admin.php", "/phpmyadmin/", "/backup.zip",
		"/server-status", "/config.php", "/.aws/credentials", "/actuator/env", "/console", "/db.sql", "/.DS_Store",
		"/wp-admin/", "/xmlrpc.php", "/.htaccess", "/old/", "/test.php", "/info.php", "/shell.php", "/admin/",
		"/setup.php", "/install.php", "/.svn/entries", "/web.config"}

	// Ordinary browsing, a few 404s among it: nothing fires.
	for i := range 10 {
		get("127.0.0.2", browser, fmt.Sprintf("/api/dashboards?q=sales+%d&page=1", i), 200)
	}
	for _, p := range discovery[:5] {
		get("127.0.0.2", browser, p, 404)
	}
	// sqlmap, answered 200: critical once (then suppressed).
	get("127.0.0.3", "sqlmap/1.7.2#stable (https://sqlmap.org)", "/api/queries/7?id=1%27%20AND%20SLEEP%285%29--%20-", 200)
	get("127.0.0.3", "sqlmap/1.7.2#stable (https://sqlmap.org)", "/api/queries/7?id=1%27%20AND%201%3D1--%20-", 200)
	// Nikto.
	get("127.0.0.4", "Mozilla/5.00 (Nikto/2.1.6) (Evasions:None) (Test:Port Check)", "/", 200)
	// Injection from a browser user agent, URL-encoded, then double-encoded.
	get("127.0.0.5", browser, "/api/dashboards?q=%27%20OR%20%271%27%3D%271", 200)
	get("127.0.0.6", browser, "/api/dashboards?q=1%2520UNION%2520ALL%2520SELECT%2520NULL%252CNULL--", 200)
	// gobuster: its user agent, and a burst of 404s.
	for _, p := range discovery {
		get("127.0.0.7", "gobuster/3.6", p, 404)
	}
	// ffuf, once.
	get("127.0.0.8", "Fuzz Faster U Fool v2.1.0-dev", "/FUZZ", 404)
	// dirb's default user agent is an ordinary browser's: only the burst.
	for _, p := range discovery {
		get("127.0.0.9", "Mozilla/4.0 (compatible; MSIE 6.0; Windows NT 5.1)", p, 404)
	}

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
		t.Fatalf("access log has %d lines, want %d", n, requests)
	}

	reg := collector.NewRegistry()
	m := reg.Configure([]collector.SourceSpec{{Name: "redash-nginx", System: event.SystemRedash}})[0]
	det, err := detect.New(detect.DefaultRules(), detect.Options{Sources: []string{"redash-nginx"}})
	if err != nil {
		t.Fatal(err)
	}
	stored := &sink{}
	src := pipeline.New(pipeline.Config{Name: "redash-nginx", Format: Format, Metrics: m, Stage: det,
		Sinks: []pipeline.Sink{stored}, IDGen: event.NewIDGen()})
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := int64(1); sc.Scan(); n++ {
		src.HandleLine(input.Line{Text: sc.Bytes(), Num: n})
	}

	// The detections, by source address and severity.
	got := map[string]int{}
	for _, ev := range stored.evs {
		for _, h := range ev.Hits {
			got[h.Rule+"/"+h.Severity+"/"+ev.ClientIP]++
		}
	}
	want := map[string]int{
		"redash_scanner/critical/127.0.0.3": 1, // sqlmap answered 200
		"redash_scanner/warning/127.0.0.4":  1, // Nikto
		"redash_scanner/warning/127.0.0.5":  1, // ' OR '1'='1
		"redash_scanner/warning/127.0.0.6":  1, // double-encoded UNION ALL SELECT NULL,NULL
		"redash_scanner/warning/127.0.0.7":  2, // gobuster's user agent, then its 404 burst
		"redash_scanner/warning/127.0.0.8":  1, // ffuf
		"redash_scanner/warning/127.0.0.9":  1, // the 404 burst alone
	}
	for k, n := range got {
		if want[k] != n {
			t.Errorf("%s: %d detections, want %d", k, n, want[k])
		}
	}
	for k, n := range want {
		if got[k] != n {
			t.Errorf("%s: %d detections, want %d", k, got[k], n)
		}
	}
	// Stored: only the requests a rule fired on (eight), all of them
	// ordinary traffic otherwise.
	if len(stored.evs) != 8 {
		t.Errorf("%d events reached the sinks, want 8", len(stored.evs))
	}
	for _, ev := range stored.evs {
		if !ev.Traffic || len(ev.Hits) == 0 || ev.ID == "" {
			t.Errorf("stored %+v", ev)
		}
	}
	// Counted: no security event, every line read.
	pr := prometheus.NewPedanticRegistry()
	pr.MustRegister(reg)
	mfs, err := pr.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		for _, mt := range mf.GetMetric() {
			v := mt.GetCounter().GetValue()
			switch mf.GetName() {
			case "dbsec_events_total", "dbsec_login_attempts_total", "dbsec_access_denied_total", "dbsec_statements_total":
				if v != 0 {
					t.Errorf("%s %v = %v: ordinary requests were counted as security events", mf.GetName(), mt.GetLabel(), v)
				}
			case "dbsec_lines_read_total":
				if int(v) != requests {
					t.Errorf("lines read %v, want %d", v, requests)
				}
			}
		}
	}
	if t.Failed() {
		t.Logf("access log:\n%s", strings.TrimSpace(string(data)))
	}
}
