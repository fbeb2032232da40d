package alerting

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// TestEndToEnd runs the real chain: the exporter binary follows a MariaDB
// audit log, Prometheus scrapes it every second and evaluates the rule files
// of rules/ (only their `for:` durations shortened), and Alertmanager, with
// the routing and inhibition of alertmanager.yml, delivers to a webhook
// inside the test. An attack log must raise the detection alerts with the
// catalogue's severity; a second exporter replaying 5,100 ordinary
// statements must raise none.
func TestEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test skipped in -short mode")
	}
	promBin := tool(t, "prometheus", "prometheus")
	amBin := tool(t, "prometheus-alertmanager", "prometheus-alertmanager", "alertmanager")
	goBin := tool(t, "golang", "go")

	tmp := t.TempDir()

	// 1. Exporter binary. The build has no deadline of its own (the test's
	// -timeout bounds it): on a cold build cache it takes minutes, and how
	// many depends on the machine, not on what this test checks.
	exporterBin := filepath.Join(tmp, "dbsec")
	build := exec.Command(goBin, "build", "-o", exporterBin, "./exporter")
	build.Dir = ".."
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./exporter: %v\n%s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()

	// 2. Webhook receiver: records every alert with the receiver it was
	// routed to (the last path element).
	type got struct {
		receiver string
		status   string
		labels   map[string]string
	}
	var (
		mu       sync.Mutex
		received []got
	)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var msg struct {
			Alerts []struct {
				Status string            `json:"status"`
				Labels map[string]string `json:"labels"`
			} `json:"alerts"`
		}
		if err := json.NewDecoder(r.Body).Decode(&msg); err != nil {
			t.Errorf("webhook: %v", err)
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		mu.Lock()
		for _, a := range msg.Alerts {
			received = append(received, got{receiver: filepath.Base(r.URL.Path), status: a.Status, labels: a.Labels})
		}
		mu.Unlock()
	}))
	defer hook.Close()

	// 3. Two exporters: the attack one starts on an empty log, so that
	// Prometheus sees its pre-initialised zero counters before the attack is
	// appended (increase() needs the 0 → 1 step); the benign one replays
	// ordinary traffic from the beginning.
	attackLog := filepath.Join(tmp, "attack", "server_audit.log")
	benignLog := filepath.Join(tmp, "benign", "server_audit.log")
	writeFile(t, attackLog, "")
	writeFile(t, benignLog, benignTraffic(time.Now().UTC(), 50, 100))
	attackAddr := startExporter(ctx, t, exporterBin, tmp, "attack", attackLog)
	benignAddr := startExporter(ctx, t, exporterBin, tmp, "benign", benignLog)

	// 4. Alertmanager with alertmanager.yml, receivers pointed at the hook.
	amAddr := freeAddr(t)
	amCfg := filepath.Join(tmp, "alertmanager.yml")
	writeFile(t, amCfg, testAlertmanagerConfig(t, hook.URL))
	startProcess(ctx, t, tmp, "alertmanager", amBin,
		"--config.file="+amCfg,
		"--storage.path="+filepath.Join(tmp, "am-data"),
		"--web.listen-address="+amAddr,
		"--cluster.listen-address=",
	)
	waitHTTP(ctx, t, "http://"+amAddr+"/-/ready")

	// 5. Prometheus with the rule files, `for:` shortened.
	var rulePaths []string
	for _, f := range ruleFiles(t) {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(tmp, "rules", filepath.Base(f))
		writeFile(t, p, shortenFor(string(b)))
		rulePaths = append(rulePaths, p)
	}
	promAddr := freeAddr(t)
	promCfg := filepath.Join(tmp, "prometheus.yml")
	cfg := map[string]any{
		"global":     map[string]any{"scrape_interval": "1s", "evaluation_interval": "1s"},
		"rule_files": rulePaths,
		"alerting": map[string]any{"alertmanagers": []any{map[string]any{
			"static_configs": []any{map[string]any{"targets": []string{amAddr}}},
		}}},
		"scrape_configs": []any{map[string]any{
			"job_name":       "dbsec",
			"static_configs": []any{map[string]any{"targets": []string{attackAddr, benignAddr}}},
		}},
	}
	b, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, promCfg, string(b))
	startProcess(ctx, t, tmp, "prometheus", promBin,
		"--config.file="+promCfg,
		"--storage.tsdb.path="+filepath.Join(tmp, "prom-data"),
		"--web.listen-address="+promAddr,
	)
	waitHTTP(ctx, t, "http://"+promAddr+"/-/ready")

	// 6. The contract with the exporter: dbsec_detections_total is exported,
	// pre-initialised to 0, and Prometheus has stored it for both targets.
	for _, addr := range []string{attackAddr, benignAddr} {
		body := httpGet(ctx, t, "http://"+addr+"/metrics")
		if !strings.Contains(body, "dbsec_detections_total{") {
			t.Fatalf("exporter %s does not export dbsec_detections_total: detections are not wired into the exporter", addr)
		}
	}
	waitFor(ctx, t, "Prometheus to store the zero detection counters of both exporters", func() bool {
		return promCount(ctx, t, promAddr, `count by (instance) (dbsec_detections_total == 0)`) == 2
	})

	// 7. The attack.
	start := time.Now()
	appendFile(t, attackLog, attackTraffic(time.Now().UTC()))
	want := map[string]struct{ rule, severity, receiver string }{
		"DBSecBruteForceSucceeded":  {"brute_force_success", "critical", "security-pager"},
		"DBSecBroadPrivilegeGrant":  {"broad_privilege_grant", "critical", "security-pager"},
		"DBSecGrantWithGrantOption": {"grant_with_grant_option", "warning", "security-oncall"},
		"DBSecAuditLoggingDisabled": {"audit_disabled", "critical", "security-pager"},
		"DBSecFileAccessThroughSQL": {"file_access_sql", "warning", "security-oncall"},
	}
	firing := func() map[string]got {
		mu.Lock()
		defer mu.Unlock()
		m := map[string]got{}
		for _, g := range received {
			if g.status == "firing" && g.labels["instance"] == attackAddr {
				m[g.labels["alertname"]] = g
			}
		}
		return m
	}
	defer func() {
		if t.Failed() {
			mu.Lock()
			for _, g := range received {
				t.Logf("received via %s: %s %v", g.receiver, g.status, g.labels)
			}
			mu.Unlock()
			t.Logf("Prometheus ALERTS: %s", httpGet(context.Background(), t, "http://"+promAddr+"/api/v1/query?query=ALERTS"))
		}
	}()
	waitFor(ctx, t, "the attack alerts at the webhook", func() bool {
		f := firing()
		for a := range want {
			if _, ok := f[a]; !ok {
				return false
			}
		}
		return true
	})
	t.Logf("attack alerts delivered %v after the attack was written", time.Since(start).Round(100*time.Millisecond))
	f := firing()
	for a, w := range want {
		g := f[a]
		if g.labels["rule"] != w.rule || g.labels["severity"] != w.severity || g.receiver != w.receiver {
			t.Errorf("%s: rule=%q severity=%q via %s, want rule=%q severity=%q via %s",
				a, g.labels["rule"], g.labels["severity"], g.receiver, w.rule, w.severity, w.receiver)
		}
		if g.labels["job"] != "dbsec" || g.labels["detection_severity"] != w.severity {
			t.Errorf("%s: labels %v lack job=dbsec or detection_severity=%s", a, g.labels, w.severity)
		}
	}
	// The brute force itself fires in Prometheus, but alertmanager.yml's
	// inhibition (DBSecBruteForceSucceeded mutes the failed-login alerts of
	// the same instance) keeps it from the receivers.
	if n := promCount(ctx, t, promAddr, fmt.Sprintf(`count(ALERTS{alertname="DBSecBruteForceOneAccount",alertstate="firing",rule="brute_force_user",severity="warning",instance=%q})`, attackAddr)); n != 1 {
		t.Errorf("DBSecBruteForceOneAccount firing in Prometheus: %d series, want 1", n)
	}
	var amAlerts []struct {
		Labels map[string]string `json:"labels"`
		Status struct {
			State       string   `json:"state"`
			InhibitedBy []string `json:"inhibitedBy"`
		} `json:"status"`
	}
	if err := json.Unmarshal([]byte(httpGet(ctx, t, "http://"+amAddr+"/api/v2/alerts?filter="+urlQueryEscape(`alertname="DBSecBruteForceOneAccount"`))), &amAlerts); err != nil {
		t.Fatal(err)
	}
	if len(amAlerts) != 1 || amAlerts[0].Status.State != "suppressed" || len(amAlerts[0].Status.InhibitedBy) == 0 {
		t.Errorf("DBSecBruteForceOneAccount in Alertmanager = %+v, want one alert suppressed by inhibition", amAlerts)
	}
	if _, ok := f["DBSecBruteForceOneAccount"]; ok {
		t.Error("DBSecBruteForceOneAccount was delivered although DBSecBruteForceSucceeded inhibits it")
	}
	for a, g := range f {
		t.Logf("firing: %s rule=%s severity=%s → %s", a, g.labels["rule"], g.labels["severity"], g.receiver)
	}

	// 8. The benign replay: every detection counter of that exporter stays
	// at 0, and no alert names its instance (the attack alerts above prove
	// that the pipeline delivers).
	body := httpGet(ctx, t, "http://"+benignAddr+"/metrics")
	if m := regexp.MustCompile(`(?m)^dbsec_detections_total\{[^}]*\} [1-9].*$`).FindAllString(body, -1); len(m) > 0 {
		t.Errorf("benign replay raised detections:\n%s", strings.Join(m, "\n"))
	}
	if n := promCount(ctx, t, promAddr, fmt.Sprintf(`sum(dbsec_events_total{instance=%q})`, benignAddr)); n < 5000 {
		t.Errorf("benign exporter: %d events in Prometheus, want the 5,100 replayed statements and sessions", n)
	} else {
		t.Logf("benign replay: %d events, no detection, no alert", n)
	}
	if n := promCount(ctx, t, promAddr, fmt.Sprintf(`count(ALERTS{instance=%q})`, benignAddr)); n != 0 {
		t.Errorf("Prometheus has %d alerts for the benign exporter", n)
	}
	mu.Lock()
	for _, g := range received {
		if g.labels["instance"] == benignAddr {
			t.Errorf("benign replay delivered alert %v", g.labels)
		}
	}
	mu.Unlock()
}

// shortenFor rewrites only the `for:` durations of a rule file to 1s.
func shortenFor(s string) string {
	return regexp.MustCompile(`(?m)^(\s+)for: .*$`).ReplaceAllString(s, "${1}for: 1s")
}

// testAlertmanagerConfig is alertmanager.yml with every webhook pointed at
// base/<receiver> and the timers shortened.
func testAlertmanagerConfig(t *testing.T, base string) string {
	t.Helper()
	b, err := os.ReadFile("alertmanager.yml")
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	if err := yaml.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	var fix func(r map[string]any)
	fix = func(r map[string]any) {
		for _, k := range []string{"group_wait", "group_interval"} {
			r[k] = "1s"
		}
		r["repeat_interval"] = "1h"
		if rs, ok := r["routes"].([]any); ok {
			for _, sub := range rs {
				fix(sub.(map[string]any))
			}
		}
	}
	route, ok := cfg["route"].(map[string]any)
	if !ok {
		t.Fatal("alertmanager.yml: no route")
	}
	fix(route)
	recs, _ := cfg["receivers"].([]any)
	for _, r := range recs {
		r := r.(map[string]any)
		whs, _ := r["webhook_configs"].([]any)
		for _, w := range whs {
			w.(map[string]any)["url"] = base + "/" + r["name"].(string)
		}
	}
	out, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

func startExporter(ctx context.Context, t *testing.T, bin, tmp, name, logPath string) string {
	t.Helper()
	addr := freeAddr(t)
	dir := filepath.Join(tmp, name)
	cfg := fmt.Sprintf(`[server]
state_dir = %q

[[source]]
name = "mdb1"
format = "mariadb-audit"
path = %q
start_at = "beginning"
`, filepath.Join(dir, "state"), logPath)
	cfgPath := filepath.Join(dir, "dbsec.toml")
	writeFile(t, cfgPath, cfg)
	startProcess(ctx, t, tmp, "exporter-"+name, bin, "--config.file="+cfgPath, "--web.listen-address="+addr)
	waitHTTP(ctx, t, "http://"+addr+"/-/ready")
	return addr
}

// startProcess starts a process whose output goes to tmp/<name>.log (shown
// when the test fails) and stops it at the end of the test.
func startProcess(ctx context.Context, t *testing.T, tmp, name, bin string, args ...string) {
	t.Helper()
	logPath := filepath.Join(tmp, name+".log")
	lf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdout, cmd.Stderr = lf, lf
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		lf.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			if len(b) > 4000 {
				b = b[len(b)-4000:]
			}
			t.Logf("--- %s log (tail) ---\n%s", name, b)
		}
	})
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

func waitFor(ctx context.Context, t *testing.T, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s", what)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func waitHTTP(ctx context.Context, t *testing.T, url string) {
	t.Helper()
	waitFor(ctx, t, url, func() bool {
		resp, err := http.Get(url)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

func httpGet(ctx context.Context, t *testing.T, url string) string {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s %v", url, resp.Status, err)
	}
	return string(b)
}

// promCount returns the value of a scalar-like instant query (0 when the
// result is empty).
func promCount(ctx context.Context, t *testing.T, addr, query string) int {
	t.Helper()
	body := httpGet(ctx, t, "http://"+addr+"/api/v1/query?query="+urlQueryEscape(query))
	var r struct {
		Status string `json:"status"`
		Data   struct {
			Result []struct {
				Value [2]any `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal([]byte(body), &r); err != nil || r.Status != "success" {
		t.Fatalf("query %s: %v %s", query, err, body)
	}
	if len(r.Data.Result) == 0 {
		return 0
	}
	if len(r.Data.Result) > 1 {
		return len(r.Data.Result)
	}
	var n int
	fmt.Sscan(fmt.Sprint(r.Data.Result[0].Value[1]), &n)
	return n
}

func urlQueryEscape(s string) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

func writeFile(t *testing.T, path, s string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

func appendFile(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// MariaDB server_audit lines (pkg/parse/mariadbaudit/testdata shapes):
// timestamp,serverhost,username,host,connectionid,queryid,operation,database,object,retcode.
func mariaLine(ts time.Time, user, host string, conn, query int, op, db, object string, ret int) string {
	return fmt.Sprintf("%s,mdb1,%s,%s,%d,%d,%s,%s,%s,%d\n", ts.Format("20060102 15:04:05"), user, host, conn, query, op, db, object, ret)
}

// attackTraffic: 12 failed logins of admin from one address, then a
// success, GRANT ALL … WITH GRANT OPTION, audit logging switched off and a
// SELECT … INTO OUTFILE.
func attackTraffic(ts time.Time) string {
	var b strings.Builder
	for i := 1; i <= 12; i++ {
		b.WriteString(mariaLine(ts, "admin", fmt.Sprintf("203.0.113.9:%d", 40000+i), 100+i, 0, "FAILED_CONNECT", "", "", 1045))
	}
	const host = "203.0.113.9:50000"
	b.WriteString(mariaLine(ts, "admin", host, 200, 0, "CONNECT", "shop", "", 0))
	b.WriteString(mariaLine(ts, "admin", host, 200, 1, "QUERY", "shop", `'GRANT ALL PRIVILEGES ON *.* TO \'evil\'@\'%\' WITH GRANT OPTION'`, 0))
	b.WriteString(mariaLine(ts, "admin", host, 200, 2, "QUERY", "shop", `'SET GLOBAL server_audit_logging=OFF'`, 0))
	b.WriteString(mariaLine(ts, "admin", host, 200, 3, "QUERY", "shop", `'SELECT * FROM customers INTO OUTFILE \'/tmp/customers.csv\''`, 0))
	return b.String()
}

// benignTraffic: sessions × perSession ordinary statements of the
// application account from private addresses.
func benignTraffic(ts time.Time, sessions, perSession int) string {
	var b strings.Builder
	for c := 0; c < sessions; c++ {
		host := fmt.Sprintf("10.0.0.%d:%d", 10+c%20, 40000+c)
		conn := 1000 + c
		b.WriteString(mariaLine(ts, "app", host, conn, 0, "CONNECT", "shop", "", 0))
		for q := 0; q < perSession; q++ {
			n := c*perSession + q
			sql := [...]string{
				fmt.Sprintf("SELECT id, name, price FROM products WHERE id = %d", n),
				fmt.Sprintf("SELECT * FROM orders WHERE customer_id = %d ORDER BY created_at DESC LIMIT 20", n),
				fmt.Sprintf("INSERT INTO orders (customer_id, product_id, qty) VALUES (%d, %d, 1)", n, n%97),
				fmt.Sprintf("UPDATE carts SET qty = 2 WHERE id = %d", n),
				fmt.Sprintf("DELETE FROM sessions WHERE id = %d", n),
			}[q%5]
			b.WriteString(mariaLine(ts, "app", host, conn, q+1, "QUERY", "shop", "'"+sql+"'", 0))
		}
		b.WriteString(mariaLine(ts, "app", host, conn, 0, "DISCONNECT", "shop", "", 0))
	}
	return b.String()
}
