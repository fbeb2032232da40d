package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"golang.org/x/crypto/bcrypt"

	"github.com/dbsec/dbsec/pkg/collector"
	"github.com/dbsec/dbsec/pkg/config"
	"github.com/dbsec/dbsec/pkg/detect"
	"github.com/dbsec/dbsec/pkg/input/syslog"
	"github.com/dbsec/dbsec/pkg/input/taosaudit"
	"github.com/dbsec/dbsec/pkg/parse/formats"
)

func runCapture(t *testing.T, ctx context.Context, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var o, e bytes.Buffer
	code = run(ctx, args, &o, &e)
	return code, o.String(), e.String()
}

// checkedFamilies are the families of testdata/expected/once.txt: for them,
// the exact set of non-zero series is compared.
var checkedFamilies = map[string]string{
	"dbsec_lines_read_total":        "",
	"dbsec_parse_errors_total":      "reason",
	"dbsec_login_attempts_total":    "outcome",
	"dbsec_events_total":            "category,outcome",
	"dbsec_ddl_statements_total":    "action",
	"dbsec_privilege_changes_total": "action",
	"dbsec_access_denied_total":     "",
	"dbsec_statements_total":        "class",
}

func parseExposition(t *testing.T, text string) map[string]*dto.MetricFamily {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(strings.NewReader(text))
	if err != nil {
		t.Fatalf("exposition does not parse: %v\n%s", err, text)
	}
	return mfs
}

// TestOnce replays testdata's TiDB corpus and compares the counts with the
// hand-checked testdata/expected/once.txt.
// demoSystems is the system of every source of testdata/demo.toml.
var demoSystems = map[string]string{
	"tidb-1-audit": "tidb", "tidb-1-log": "tidb", "tidb-1-slow": "tidb",
	"mariadb-1-audit": "mariadb", "pg-1": "postgres", "redash-nginx": "redash",
	"tdengine-1-taosd": "tdengine", "tdengine-1-audit": "tdengine",
}

func TestOnce(t *testing.T) {
	code, out, errOut := runCapture(t, context.Background(), "--once", "--config.file", "../testdata/demo.toml", "--log.level", "warn")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	// The malformed line is reported with file:line:col and processing went on.
	if !regexp.MustCompile(`tidb-audit-plugin\.log:22:\d+`).MatchString(errOut) {
		t.Errorf("the parse error is not reported with file:line:col:\n%s", errOut)
	}
	mfs := parseExposition(t, out)
	var got []string
	for name, labels := range checkedFamilies {
		mf, ok := mfs[name]
		if !ok {
			t.Errorf("family %s missing", name)
			continue
		}
		for _, m := range mf.GetMetric() {
			lv := map[string]string{}
			for _, l := range m.GetLabel() {
				lv[l.GetName()] = l.GetValue()
			}
			if sys := demoSystems[lv["source"]]; sys == "" || lv["system"] != sys || lv["cluster"] != "demo" {
				t.Errorf("%s: want system=%q and cluster=demo labels, got %v", name, sys, lv)
			}
			v := m.GetCounter().GetValue()
			if v == 0 {
				continue
			}
			parts := []string{fmt.Sprintf("source=%q", lv["source"])}
			if labels != "" {
				for _, l := range strings.Split(labels, ",") {
					parts = append(parts, fmt.Sprintf("%s=%q", l, lv[l]))
				}
			}
			got = append(got, fmt.Sprintf("%s{%s} %g", name, strings.Join(parts, ","), v))
		}
	}
	want := readExpected(t, "../testdata/expected/once.txt")
	sort.Strings(got)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("non-zero series differ from testdata/expected/once.txt\n--- want\n%s\n--- got\n%s", strings.Join(want, "\n"), strings.Join(got, "\n"))
	}
	// Detections over the same corpus, hand-checked against the log lines
	// (see the comments in the expected file). Every enabled rule is
	// pre-initialised, so zero series exist too.
	var dets []string
	zero := 0
	for _, m := range mfs["dbsec_detections_total"].GetMetric() {
		lv := map[string]string{}
		for _, l := range m.GetLabel() {
			lv[l.GetName()] = l.GetValue()
		}
		if v := m.GetCounter().GetValue(); v != 0 {
			dets = append(dets, fmt.Sprintf("dbsec_detections_total{source=%q,rule=%q,rule_id=%q,severity=%q} %g", lv["source"], lv["rule"], lv["rule_id"], lv["severity"], v))
		} else {
			zero++
		}
	}
	sort.Strings(dets)
	if want := readExpected(t, "../testdata/expected/detections.txt"); strings.Join(dets, "\n") != strings.Join(want, "\n") {
		t.Errorf("detections differ from testdata/expected/detections.txt\n--- want\n%s\n--- got\n%s", strings.Join(want, "\n"), strings.Join(dets, "\n"))
	}
	if zero < 30 {
		t.Errorf("only %d zero-valued detection series: the rules are not pre-initialised", zero)
	}
	if _, ok := mfs["dbsec_exporter_build_info"]; !ok {
		t.Error("dbsec_exporter_build_info missing")
	}
	if g := mfs["dbsec_config_last_reload_successful"]; g == nil || g.GetMetric()[0].GetGauge().GetValue() != 1 {
		t.Error("dbsec_config_last_reload_successful is not 1")
	}
	// Histograms: the slow log gives two durations, the plugin log its
	// COST_TIME (µs) on every statement record; rows returned by reads.
	for _, tc := range []struct {
		name, source string
		count        uint64
		sum          float64
	}{
		{"dbsec_query_duration_seconds", "tidb-1-slow", 2, 1.527627037 + 0.802001},
		{"dbsec_rows_returned", "tidb-1-slow", 1, 120000}, // the failed query's 0 rows do not count
		{"dbsec_rows_returned", "tidb-1-audit", 2, 3 + 1},
		{"dbsec_rows_affected", "tidb-1-audit", 2, 2},
	} {
		var h *dto.Histogram
		for _, m := range mfs[tc.name].GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "source" && l.GetValue() == tc.source {
					h = m.GetHistogram()
				}
			}
		}
		if h == nil || h.GetSampleCount() != tc.count || math.Abs(h.GetSampleSum()-tc.sum) > 1e-9 {
			t.Errorf("%s{source=%q}: got %v, want count %d sum %v", tc.name, tc.source, h, tc.count, tc.sum)
		}
	}
	// Configuration drift over the products' shipped example configs: the
	// TiDB example has no cluster TLS (TIDB-004) and binds the status port
	// to all interfaces (TIDB-006); both fail.
	for _, rule := range []string{"TIDB-004", "TIDB-006"} {
		if v := value(mfs, "dbsec_config_findings", "target", "demo-tidb", "rule", rule); v != 1 {
			t.Errorf("dbsec_config_findings{target=demo-tidb,rule=%s} = %v, want 1", rule, v)
		}
	}
	if v := value(mfs, "dbsec_config_findings", "target", "demo-tidb", "rule", "TIDB-001"); v != 0 {
		t.Errorf("TIDB-001 (skip-grant-table off) = %v, want 0", v)
	}
	lintExposition(t, out)
}

func readExpected(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		out = append(out, l)
	}
	sort.Strings(out)
	return out
}

// lintExposition applies the checks of `promtool check metrics`: in-process
// with promlint, and with the real promtool when it is installed (CI
// installs Debian's prometheus package and sets CI, where a missing promtool
// fails the test).
func lintExposition(t *testing.T, text string) {
	t.Helper()
	problems, err := promlint.New(strings.NewReader(text)).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("promtool not found: install the Debian package prometheus")
		}
		t.Log("promtool not found; skipping the promtool check (Debian package: prometheus)")
		return
	}
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(text)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}

func TestConfigCheck(t *testing.T) {
	demo, err := config.Load("../testdata/demo.toml")
	if err != nil {
		t.Fatal(err)
	}
	code, out, _ := runCapture(t, context.Background(), "--config.check", "--config.file", "../testdata/demo.toml")
	if code != 0 || !strings.Contains(out, fmt.Sprintf("configuration OK (%d sources)", len(demo.Sources))) || len(demo.Sources) < 5 {
		t.Errorf("exit %d, stdout %q", code, out)
	}
	code, _, errOut := runCapture(t, context.Background(), "--config.check", "--config.file", "../pkg/config/testdata/bad.toml")
	if code != 1 {
		t.Errorf("bad config: exit %d, want 1", code)
	}
	lines := strings.Split(strings.TrimSpace(errOut), "\n")
	pos := regexp.MustCompile(`^\.\./pkg/config/testdata/bad\.toml:\d+:\d+: `)
	n := 0
	for _, l := range lines {
		if pos.MatchString(l) {
			n++
		}
	}
	if n < 10 {
		t.Errorf("want every problem with file:line:col (>= 10), got %d:\n%s", n, errOut)
	}
}

func TestUsageErrors(t *testing.T) {
	if code, _, errOut := runCapture(t, context.Background(), "--no-such-flag"); code != 2 || !strings.Contains(errOut, "no-such-flag") {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
	if code, _, _ := runCapture(t, context.Background(), "--config.file", "does-not-exist.toml", "--once"); code != 1 {
		t.Errorf("missing config: exit %d, want 1", code)
	}
}

// TestMetricReference keeps the README's metric reference in step with the
// code: every exported family is documented, and nothing else is.
func TestMetricReference(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := map[string]bool{}
	re := regexp.MustCompile("(?m)^\\| `(dbsec_[a-z_]+)`")
	for _, m := range re.FindAllStringSubmatch(string(b), -1) {
		doc[m[1]] = true
	}
	names := slices.Clone(detect.MetricNames)
	names = append(names, outputMetricNames...)
	names = append(names, listenerMetricNames()...)
	for _, m := range collector.Metrics() {
		names = append(names, m.Name)
	}
	for _, name := range names {
		if !doc[name] {
			t.Errorf("README.md does not document %s", name)
		}
		delete(doc, name)
	}
	for name := range doc {
		t.Errorf("README.md documents %s, which the exporter does not export", name)
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// daemon starts run in the background and returns its base URL.
func daemon(t *testing.T, args ...string) (base string, stderr *syncBuffer) {
	t.Helper()
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	stderr = &syncBuffer{}
	done := make(chan int, 1)
	go func() { done <- run(ctx, append(args, "--web.listen-address", addr), io.Discard, stderr) }()
	t.Cleanup(func() {
		cancel()
		select {
		case code := <-done:
			if code != 0 {
				t.Errorf("exporter exited %d\n%s", code, stderr.String())
			}
		case <-time.After(20 * time.Second):
			t.Error("exporter did not stop")
		}
	})
	base = "http://" + addr
	waitFor(t, 10*time.Second, func() bool {
		resp, err := http.Get(base + "/-/healthy")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return true
	})
	return base, stderr
}

func waitFor(t *testing.T, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in time")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %s\n%s", url, resp.Status, b)
	}
	return parseExposition(t, string(b))
}

func value(mfs map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	mf := mfs[name]
	if mf == nil {
		return -1
	}
	for _, m := range mf.GetMetric() {
		ok := true
		for i := 0; i+1 < len(labels); i += 2 {
			found := false
			for _, l := range m.GetLabel() {
				if l.GetName() == labels[i] && l.GetValue() == labels[i+1] {
					found = true
				}
			}
			ok = ok && found
		}
		if ok {
			switch {
			case m.Counter != nil:
				return m.GetCounter().GetValue()
			case m.Gauge != nil:
				return m.GetGauge().GetValue()
			}
		}
	}
	return -1
}

const failedLogin = `[2026/11/30 10:00:00.000 +08:00] [INFO] [logger.go:77] [ID=1] [TIMESTAMP=2026/11/30 10:00:00.000 +08:00] [EVENT_CLASS=CONNECTION] [EVENT_SUBCLASS=Connected] [STATUS_CODE=1045] [COST_TIME=0] [HOST=10.0.1.5] [CLIENT_IP=203.0.113.9] [USER=admin] [DATABASES="[]"] [TABLES="[]"] [SQL_TEXT=] [ROWS=0] [CLIENT_PORT=4000] [CONNECTION_ID=7] [Reason=]`

func writeConfig(t *testing.T, dir, body string) string {
	t.Helper()
	p := filepath.Join(dir, "dbsec.toml")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestServeFollowAndReload runs the daemon on a live file: appended lines
// are counted, POST /-/reload applies a new configuration, and a broken one
// is refused and exported as dbsec_config_last_reload_successful 0.
func TestServeFollowAndReload(t *testing.T) {
	dir := t.TempDir()
	logPath := filepath.Join(dir, "audit.log")
	if err := os.WriteFile(logPath, []byte(failedLogin+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfgBody := fmt.Sprintf("[server]\nstate_dir = %q\n[[source]]\nname = \"a\"\nformat = \"tidb-audit-plugin\"\npath = %q\nstart_at = \"beginning\"\n", filepath.Join(dir, "state"), logPath)
	cfg := writeConfig(t, dir, cfgBody)
	base, stderr := daemon(t, "--config.file", cfg)

	failures := func() float64 {
		return value(scrape(t, base+"/metrics"), "dbsec_login_attempts_total", "source", "a", "outcome", "failure")
	}
	waitFor(t, 10*time.Second, func() bool { return failures() == 1 })
	f, err := os.OpenFile(logPath, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(f, failedLogin)
	fmt.Fprintln(f, failedLogin)
	f.Close()
	waitFor(t, 10*time.Second, func() bool { return failures() == 3 })

	// Reload with a second source.
	writeConfig(t, dir, cfgBody+"[[source]]\nname = \"b\"\nformat = \"tidb-audit-plugin\"\npath = \""+logPath+"\"\nstart_at = \"beginning\"\n")
	resp, err := http.Post(base+"/-/reload", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("reload: %s\n%s", resp.Status, stderr.String())
	}
	waitFor(t, 10*time.Second, func() bool {
		return value(scrape(t, base+"/metrics"), "dbsec_login_attempts_total", "source", "b", "outcome", "failure") == 3
	})
	// Source a kept its counters across the reload and re-read nothing.
	if got := failures(); got != 3 {
		t.Errorf("source a after reload: %v failures, want 3", got)
	}
	if v := value(scrape(t, base+"/metrics"), "dbsec_config_last_reload_successful"); v != 1 {
		t.Errorf("last_reload_successful = %v", v)
	}

	// A broken configuration is refused with its positioned errors.
	writeConfig(t, dir, "[[source]]\nname = \"a\"\nformat = \"nope\"\n")
	resp, err = http.Post(base+"/-/reload", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 400 || !strings.Contains(string(body), "dbsec.toml:3:10: unknown format") {
		t.Errorf("broken reload: %s %s", resp.Status, body)
	}
	if v := value(scrape(t, base+"/metrics"), "dbsec_config_last_reload_successful"); v != 0 {
		t.Errorf("last_reload_successful = %v after a failed reload", v)
	}
	// GET is not a reload.
	resp, err = http.Get(base + "/-/reload")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET /-/reload: %s", resp.Status)
	}
	// The landing page links to the metrics.
	resp, err = http.Get(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	lb, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(lb), `href="/metrics"`) {
		t.Errorf("landing page has no metrics link:\n%s", lb)
	}
}

// TestBasicAuth checks that exporter-toolkit's web config protects every
// route.
func TestBasicAuth(t *testing.T) {
	dir := t.TempDir()
	hash, err := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	web := filepath.Join(dir, "web.yml")
	if err := os.WriteFile(web, []byte("basic_auth_users:\n  prometheus: "+string(hash)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := writeConfig(t, dir, fmt.Sprintf("[server]\nstate_dir = %q\n", filepath.Join(dir, "state")))
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"--config.file", cfg, "--web.config.file", web, "--web.listen-address", addr}, io.Discard, io.Discard)
	}()
	defer func() { cancel(); <-done }()
	base := "http://" + addr
	var status int
	waitFor(t, 10*time.Second, func() bool {
		resp, err := http.Get(base + "/metrics")
		if err != nil {
			return false
		}
		resp.Body.Close()
		status = resp.StatusCode
		return true
	})
	if status != http.StatusUnauthorized {
		t.Errorf("unauthenticated /metrics: %d, want 401", status)
	}
	req, _ := http.NewRequest("GET", base+"/metrics", nil)
	req.SetBasicAuth("prometheus", "s3cret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(resp.Body)
	found := false
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "dbsec_exporter_build_info{") {
			found = true
		}
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || !found {
		t.Errorf("authenticated /metrics: %d, build_info found=%v", resp.StatusCode, found)
	}
}

// TestFormatReference keeps the README's format table in step with the
// registry.
func TestFormatReference(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := map[string]bool{}
	re := regexp.MustCompile("(?m)^\\| `([a-z0-9-]+)` \\| [a-z]+ \\|")
	for _, m := range re.FindAllStringSubmatch(string(b), -1) {
		doc[m[1]] = true
	}
	for _, f := range formats.All() {
		if !doc[f.Name] {
			t.Errorf("README.md does not document format %s", f.Name)
		}
		delete(doc, f.Name)
	}
	for name := range doc {
		t.Errorf("README.md documents format %s, which is not registered", name)
	}
}

// listenerMetricNames are the families of the network sources' collectors
// (syslog listeners, TDengine audit receivers), read from their Describe.
func listenerMetricNames() []string {
	ch := make(chan *prometheus.Desc, 64)
	(&syslog.Server{}).Collector().Describe(ch)
	(&taosaudit.Handler{}).Describe(ch)
	close(ch)
	re := regexp.MustCompile(`fqName: "([^"]+)"`)
	var names []string
	for d := range ch {
		if m := re.FindStringSubmatch(d.String()); m != nil {
			names = append(names, m[1])
		}
	}
	return names
}
