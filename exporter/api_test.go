package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/dbsec/dbsec/pkg/api"
	"github.com/dbsec/dbsec/pkg/export"
	"github.com/dbsec/dbsec/pkg/store"
)

// basicAuth is an http.RoundTripper that adds credentials.
type basicAuth struct{ user, pass string }

func (b basicAuth) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.SetBasicAuth(b.user, b.pass)
	return http.DefaultTransport.RoundTrip(r)
}

// TestAPIServed runs the exporter with the store, the export and basic
// auth from a web config file, over the bundled TiDB audit sample plus a
// statement with a planted password. The API refuses requests without
// valid credentials, its counts agree with the metrics, and the password
// appears nowhere: not in the store file, the API or the export.
func TestAPIServed(t *testing.T) {
	dir := t.TempDir()
	sample, err := os.ReadFile("../testdata/tidb/tidb-audit-plugin.log")
	if err != nil {
		t.Fatal(err)
	}
	const secret = "Pl4nted-Secret-7"
	lines := strings.Split(strings.TrimRight(string(sample), "\n"), "\n")
	planted := strings.Replace(lines[3], `[SQL_TEXT="CREATE USER 'app'@'%'"]`, `[SQL_TEXT="CREATE USER 'eve'@'%' IDENTIFIED BY '`+secret+`'"]`, 1)
	if planted == lines[3] {
		t.Fatal("sample line 4 is not the CREATE USER statement this test expects")
	}
	logFile := filepath.Join(dir, "audit.log")
	if err := os.WriteFile(logFile, []byte(string(sample)+planted+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	hash, err := bcrypt.GenerateFromPassword([]byte("s3cret-pw"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	webCfg := filepath.Join(dir, "web.yml")
	if err := os.WriteFile(webCfg, fmt.Appendf(nil, "basic_auth_users:\n  grafana: %s\n", hash), 0o600); err != nil {
		t.Fatal(err)
	}
	exportFile := filepath.Join(dir, "export", "events.jsonl")
	if err := os.MkdirAll(filepath.Dir(exportFile), 0o750); err != nil {
		t.Fatal(err)
	}
	storeFile := filepath.Join(dir, "store", "dbsec.db")
	cfg := filepath.Join(dir, "dbsec.toml")
	conf := fmt.Sprintf(`[server]
state_dir = %q

[store]
path = %q
all_statements = true

[export]
path = %q

[[source]]
name = "a"
format = "tidb-audit-plugin"
path = %q
start_at = "beginning"
timezone = "Asia/Shanghai"
`, dir, storeFile, exportFile, logFile)
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	stderr := &syncBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"--config.file", cfg, "--web.listen-address", addr, "--web.config.file", webCfg}, io.Discard, stderr)
	}()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case code := <-done:
			if code != 0 {
				t.Errorf("exit %d\n%s", code, stderr.String())
			}
		case <-time.After(20 * time.Second):
			t.Error("exporter did not stop")
		}
	}
	defer stop()
	base := "http://" + addr
	authed := &http.Client{Transport: basicAuth{"grafana", "s3cret-pw"}, Timeout: 10 * time.Second}
	c := api.NewClient(base, authed)

	// Wait until every line is read and every event stored. The sample
	// holds one malformed line (counted as a parse error) and lines that
	// make no event.
	var st api.Status
	var want int64
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if st, err = c.Status(ctx); err == nil && len(st.Sources) == 1 {
			resp, err := authed.Get(base + "/metrics")
			if err == nil {
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				read := value(parseExposition(t, string(b)), "dbsec_lines_read_total", "source", "a")
				want = int64(st.Sources[0].Events)
				if read == float64(len(lines)+1) && st.Store.Stored == want {
					break
				}
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	if want < 20 || st.Store.Stored != want || len(st.Sources) != 1 || st.Sources[0].Name != "a" || !st.Sources[0].Up || st.Sources[0].Errors != 1 {
		t.Fatalf("status: %+v (%v)\n%s", st, err, stderr.String())
	}

	// Without credentials, or with wrong ones: 401, for the API and /metrics.
	for _, hc := range []*http.Client{http.DefaultClient, {Transport: basicAuth{"grafana", "wrong"}}, {Transport: basicAuth{"admin", "s3cret-pw"}}} {
		for _, p := range []string{"/api/v1/events", "/api/v1/status", "/api/v1/integrity", "/metrics"} {
			resp, err := hc.Get(base + p)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized || strings.Contains(string(b), "tidb") {
				t.Errorf("GET %s without valid credentials: HTTP %d %.100s", p, resp.StatusCode, b)
			}
		}
	}

	// The API's failed logins equal the metric's.
	resp, err := authed.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	mfs := parseExposition(t, string(b))
	failedMetric := value(mfs, "dbsec_login_attempts_total", "source", "a", "outcome", "failure")
	if v := value(mfs, "dbsec_store_events"); v != float64(want) {
		t.Errorf("dbsec_store_events = %v, want %d", v, want)
	}
	from := "2026-11-29T00:00:00Z"
	to := "2026-12-01T00:00:00Z"
	var page store.EventPage
	getJSON(t, authed, base+"/api/v1/events?category=login&outcome=failure&from="+from+"&to="+to, &page)
	if failedMetric < 1 || float64(len(page.Events)) != failedMetric {
		t.Errorf("API failed logins %d, metric %v", len(page.Events), failedMetric)
	}
	// Drill down from a detection to its event.
	var dets store.DetectionPage
	getJSON(t, authed, base+"/api/v1/detections?from="+from+"&to="+to, &dets)
	if len(dets.Detections) == 0 {
		t.Fatal("no detections stored")
	}
	var ev map[string]any
	getJSON(t, authed, base+"/api/v1/events/"+dets.Detections[0].EventID, &ev)
	if ev["id"] != dets.Detections[0].EventID {
		t.Errorf("detection %+v: event %v", dets.Detections[0], ev)
	}
	var rep store.IntegrityReport
	getJSON(t, authed, base+"/api/v1/integrity", &rep)
	if !rep.OK || rep.Checked != want {
		t.Errorf("integrity: %+v", rep)
	}

	// The planted password: redacted in the API ...
	var all store.EventPage
	getJSON(t, authed, base+"/api/v1/events?limit=1000&from="+from+"&to="+to, &all)
	blob, _ := json.Marshal(all)
	redacted := 0
	for _, ev := range all.Events {
		if strings.Contains(ev.Statement, "IDENTIFIED BY '<redacted>'") {
			redacted++
		}
	}
	if redacted != 1 || len(all.Events) != int(want) {
		t.Errorf("%d redacted CREATE USER statements served among %d events, want 1", redacted, len(all.Events))
	}
	stop()
	// ... and absent from the store's files and the export.
	for _, f := range []string{storeFile, storeFile + "-wal", exportFile} {
		b, err := os.ReadFile(f)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		if strings.Contains(string(b), secret) {
			t.Errorf("%s holds the planted password", f)
		}
		blob = append(blob, b...)
	}
	if strings.Contains(string(blob), secret) {
		t.Error("the API served the planted password")
	}
	// The export holds every event once, as OCSF-aligned records.
	fh, err := os.Open(exportFile)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	sc := bufio.NewScanner(fh)
	sc.Buffer(nil, 1<<20)
	n, auth := 0, 0
	for sc.Scan() {
		var r export.Record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("export line %d: %v", n+1, err)
		}
		n++
		if r.ClassUID == export.ClassAuthentication {
			auth++
		}
	}
	if n != int(want) || auth == 0 {
		t.Errorf("export: %d records (%d authentication), want %d", n, auth, want)
	}
}

func getJSON(t *testing.T, c *http.Client, url string, out any) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: HTTP %d %s", url, resp.StatusCode, b)
	}
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}
