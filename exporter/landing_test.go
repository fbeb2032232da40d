package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dbsec/dbsec/internal/demo"
	"github.com/dbsec/dbsec/pkg/api"
)

// demoServer runs the exporter on a time-shifted mirror of the demo (as
// `go tool mage demo` does) on free ports, posts the TDengine audit
// records and waits until the store has settled. It returns the base URL.
func demoServer(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	p, err := demo.Prepare("..", dir, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	// The receiver gets a free port, so that a running demo does not collide.
	b, err := os.ReadFile(p.Config)
	if err != nil {
		t.Fatal(err)
	}
	recv := freeAddr(t)
	conf := strings.Replace(string(b), `listen = "http://127.0.0.1:6043"`, `listen = "http://`+recv+`"`, 1)
	if conf == string(b) {
		t.Fatal("testdata/demo.toml no longer declares the receiver this test expects")
	}
	if err := os.WriteFile(p.Config, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	stderr := &syncBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"--config.file", p.Config, "--web.listen-address", addr}, io.Discard, stderr)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case code := <-done:
			if code != 0 {
				t.Errorf("exit %d\n%s", code, stderr.String())
			}
		case <-time.After(30 * time.Second):
			t.Error("exporter did not stop")
		}
	})
	base := "http://" + addr
	c := &http.Client{Timeout: 10 * time.Second}
	wctx, wcancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer wcancel()
	if err := demo.WaitReady(wctx, c, base); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	if n, err := demo.PushAudit(wctx, c, "http://"+recv, filepath.Join(dir, demo.AuditRecords)); err != nil || n != 7 {
		t.Fatalf("audit push: %d records, %v", n, err)
	}
	if _, err := demo.Settle(wctx, c, base, nil); err != nil {
		t.Fatal(err)
	}
	return base
}

func get(t *testing.T, u string) (int, string) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// TestDemoLandingPage runs the demo's configuration over time-shifted
// samples and checks that the API's default 24-hour range shows them, and
// that the landing page says what the API says.
func TestDemoLandingPage(t *testing.T) {
	base := demoServer(t)
	c := &http.Client{Timeout: 10 * time.Second}
	sum, err := demo.Report(context.Background(), c, base)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range sum.Routes {
		// No approved snapshot is configured in the demo, so there are no
		// drift changes to show.
		if r.N == 0 && r.Name != "/api/v1/drift/changes" {
			t.Errorf("%s answers nothing over the default range", r.Name)
		}
	}
	var st struct {
		Sources []struct {
			Name   string
			Events int
		}
		Store struct{ Events int }
	}
	getJSONT(t, base+"/api/v1/status", &st)
	var dets struct{ Detections []struct{ Rule string } }
	getJSONT(t, base+"/api/v1/detections?limit=10000", &dets)
	var fs struct{ Findings []struct{ Severity string } }
	getJSONT(t, base+"/api/v1/findings?status=fail&limit=10000", &fs)
	// The --once hand counts (testdata/expected/detections.txt) plus the
	// pushed TDengine audit records' own: at least those.
	if len(dets.Detections) < 28 {
		t.Errorf("%d detections over the last 24 h, want at least the 28 of the --once replay", len(dets.Detections))
	}

	code, page := get(t, base+"/")
	if code != http.StatusOK {
		t.Fatalf("GET / = %d", code)
	}
	if strings.Contains(strings.ToLower(page), "<script") {
		t.Error("the landing page has a script")
	}
	card := func(title string) int {
		m := regexp.MustCompile(regexp.QuoteMeta(title) + `<b>(\d+)`).FindStringSubmatch(page)
		if m == nil {
			t.Errorf("no %q card", title)
			return -1
		}
		n, _ := strconv.Atoi(m[1])
		return n
	}
	if n := card("Detections, last 24 h"); n != len(dets.Detections) {
		t.Errorf("page shows %d detections, the API %d", n, len(dets.Detections))
	}
	if n := card("Failing config findings"); n != len(fs.Findings) || n == 0 {
		t.Errorf("page shows %d failing findings, the API %d", n, len(fs.Findings))
	}
	if n := card("Events stored"); n != st.Store.Events || n == 0 {
		t.Errorf("page shows %d stored events, the API %d", n, st.Store.Events)
	}
	if !strings.Contains(page, fmt.Sprintf("<b>%d / %d</b>", len(st.Sources), len(st.Sources))) {
		t.Errorf("the page does not show all %d sources up", len(st.Sources))
	}
	for _, s := range st.Sources {
		row := regexp.MustCompile(`(?s)<td><a href="/api/v1/events\?source=` + regexp.QuoteMeta(s.Name) + `">.*?</tr>`).FindString(page)
		if row == "" {
			t.Errorf("no row for source %s", s.Name)
			continue
		}
		if !strings.Contains(row, fmt.Sprintf(`<td class="n">%d</td>`, s.Events)) {
			t.Errorf("row of %s does not show its %d events: %s", s.Name, s.Events, row)
		}
		if strings.Contains(row, "last stored event</th>") || strings.Contains(row, ">never<") {
			t.Errorf("row of %s shows no last event: %s", s.Name, row)
		}
	}
	for _, want := range []string{"broad_privilege_grant", "password_spray", "redash_login_brute_force", `href="/metrics"`,
		`href="/api/v1/openapi.yaml"`, "Event store", "Configuration findings"} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %s", want)
		}
	}
	// Every local link of the page answers 200.
	for _, m := range regexp.MustCompile(`href="(/[^"]*)"`).FindAllStringSubmatch(page, -1) {
		link := strings.ReplaceAll(m[1], "&amp;", "&")
		if code, body := get(t, base+link); code != http.StatusOK {
			t.Errorf("link %s answers %d: %.200s", link, code, body)
		}
	}
	screenshot(t, base+"/")
}

func getJSONT(t *testing.T, u string, v any) {
	t.Helper()
	code, body := get(t, u)
	if code != http.StatusOK {
		t.Fatalf("GET %s = %d: %s", u, code, body)
	}
	if err := json.Unmarshal([]byte(body), v); err != nil {
		t.Fatal(err)
	}
}

// screenshot renders url in headless Chromium (Debian package chromium)
// and keeps the picture in exporter/testdata/artifacts/ (not committed).
func screenshot(t *testing.T, url string) {
	t.Helper()
	bin := ""
	for _, b := range []string{"chromium", "chromium-browser", "/usr/bin/chromium"} {
		if p, err := exec.LookPath(b); err == nil {
			bin = p
			break
		}
	}
	if bin == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("chromium not found: CI must install the Debian package chromium")
		}
		t.Skip("chromium not found: install the Debian package chromium to render the landing page")
	}
	out, err := filepath.Abs(filepath.Join("testdata", "artifacts", "landing.png"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		t.Fatal(err)
	}
	os.Remove(out)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
		"--user-data-dir="+t.TempDir(), "--window-size=1400,1800", "--screenshot="+out, url)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("chromium: %v\n%s", err, b)
	}
	fi, err := os.Stat(out)
	if err != nil || fi.Size() < 10_000 {
		t.Fatalf("no screenshot at %s (%v)", out, err)
	}
	t.Logf("screenshot of the landing page: %s", out)
}

// TestLandingWithoutStore: with [store] enabled = false the page still
// shows the sources, with lines per second from the registry over the
// interval between two views (an injected clock), and says what is off.
func TestLandingWithoutStore(t *testing.T) {
	reg := prometheus.NewRegistry()
	lines := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "dbsec_lines_read_total", Help: "Lines read."}, []string{"source"})
	reg.MustRegister(lines)
	now := time.Date(2026, 12, 6, 8, 0, 0, 0, time.UTC)
	l := newLandingPage(landingOptions{
		MetricsPath: "/metrics",
		Sources: func() []api.SourceStatus {
			return []api.SourceStatus{{Name: "a", Format: "tidb-log", Up: true, Events: 3}, {Name: "b", Format: "postgres", Up: false}}
		},
		Gatherer: reg,
		Now:      func() time.Time { return now },
	})
	view := func() string {
		rec := httptest.NewRecorder()
		l.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
		if rec.Code != http.StatusOK {
			t.Fatalf("GET / = %d", rec.Code)
		}
		return rec.Body.String()
	}
	lines.WithLabelValues("a").Add(100)
	now = now.Add(10 * time.Second)
	page := view() // 100 lines in the 10 s since start
	if !strings.Contains(page, `<td class="n">10.0</td>`) {
		t.Errorf("want 10.0 lines/s since the start:\n%s", page)
	}
	lines.WithLabelValues("a").Add(600)
	now = now.Add(20 * time.Second)
	page = view() // 600 lines in the 20 s since the previous view
	if !strings.Contains(page, `<td class="n">30.0</td>`) {
		t.Errorf("want 30.0 lines/s since the previous view:\n%s", page)
	}
	for _, want := range []string{"<b>1 / 2</b>", "stopped (see the log)", "The event store is disabled", "Disabled (<code>[store] enabled = false</code>)"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if rec := httptest.NewRecorder(); true {
		l.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/nope", nil))
		if rec.Code != http.StatusNotFound {
			t.Errorf("GET /nope = %d, want 404", rec.Code)
		}
	}
}

// TestOnceShifted replays the demo's mirror, its times moved into 2027,
// and finds the same security series and detections as the replay of the
// originals (testdata/expected): moving the times changes nothing else.
func TestOnceShifted(t *testing.T) {
	p, err := demo.Prepare("..", t.TempDir(), time.Date(2027, 3, 4, 5, 6, 7, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	security := regexp.MustCompile(`^dbsec_(lines_read|parse_errors|login_attempts|events|ddl_statements|privilege_changes|access_denied|statements|detections)_total\{`)
	series := func(cfg string) []string {
		code, out, errOut := runCapture(t, context.Background(), "--once", "--config.file", cfg, "--log.level", "error")
		if code != 0 {
			t.Fatalf("exit %d\n%s", code, errOut)
		}
		var got []string
		for _, l := range strings.Split(out, "\n") {
			if security.MatchString(l) && !strings.HasSuffix(l, " 0") {
				got = append(got, l)
			}
		}
		return got
	}
	want, got := series("../testdata/demo.toml"), series(p.Config)
	if strings.Join(got, "\n") != strings.Join(want, "\n") || len(got) < 100 {
		t.Errorf("the shifted replay differs (%d series, want %d):\n--- want\n%s\n--- got\n%s", len(got), len(want), strings.Join(want, "\n"), strings.Join(got, "\n"))
	}
}

// TestReplayProgress: a replay that takes longer than the progress
// interval logs how far each source is.
func TestReplayProgress(t *testing.T) {
	old := progressInterval
	progressInterval = 20 * time.Millisecond
	defer func() { progressInterval = old }()
	dir := t.TempDir()
	line := "[2026/11/30 09:00:00.001 +08:00] [INFO] [trackerRecorder.go:29] [\"Mem Profile Tracker started\"]\n"
	big := strings.Repeat(line, 150_000) // 15 MB: many progress intervals to read
	if err := os.WriteFile(filepath.Join(dir, "tidb.log"), []byte(big), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "dbsec.toml")
	os.WriteFile(cfg, []byte(fmt.Sprintf("[server]\nstate_dir = %q\n[[source]]\nname = \"big\"\nformat = \"tidb-log\"\npath = %q\nstart_at = \"beginning\"\n", dir, filepath.Join(dir, "tidb.log"))), 0o600)
	code, _, errOut := runCapture(t, context.Background(), "--once", "--config.file", cfg)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	m := regexp.MustCompile(`msg=replaying source_name=big lines=(\d+) lines_per_second=\d+`).FindAllStringSubmatch(errOut, -1)
	if len(m) == 0 {
		t.Fatalf("no progress in the log:\n%.2000s", errOut)
	}
	if n, _ := strconv.Atoi(m[0][1]); n <= 0 || n > 150_000 {
		t.Errorf("first progress line says %d lines", n)
	}
}
