package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dbsec/dbsec/pkg/redact/redacttest"
	"github.com/dbsec/dbsec/pkg/store"
	"github.com/dbsec/dbsec/pkg/store/sqlite"
)

// leakFormat writes one credential statement as a record of its format.
type leakFormat struct {
	name    string // the source's format
	dialect string // which shapes it can carry
	options string // extra source keys
	// line renders the statement (and, for pgaudit, the parameter) as one
	// record; n makes ids unique.
	line func(n int, stmt, param string) string
}

func csvQuote(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

func jsonQuote(s string) string { b, _ := json.Marshal(s); return string(b) }

var leakFormats = []leakFormat{
	{name: "tidb-audit-plugin", dialect: "mysql", options: `timezone = "Asia/Shanghai"`, line: func(n int, s, _ string) string {
		return fmt.Sprintf(`[2026/11/30 09:00:03.500 +08:00] [INFO] [logger.go:77] [ID=1764500%04d] [TIMESTAMP=2026/11/30 09:00:03.500 +08:00] [EVENT_CLASS=GENERAL] [EVENT_SUBCLASS=] [STATUS_CODE=0] [COST_TIME=3100] [HOST=10.0.1.5] [CLIENT_IP=10.0.9.10] [USER=root] [DATABASES="[]"] [TABLES="[]"] [SQL_TEXT=%s] [ROWS=0] [CONNECTION_ID=%d] [CLIENT_PORT=51100] [PID=3141] [COMMAND=Query] [SQL_STATEMENTS=CreateUser]`, n, strconv.Quote(s), 1000+n)
	}},
	{name: "tidb-audit", dialect: "mysql", line: func(n int, s, _ string) string {
		return fmt.Sprintf(`[2026/01/08 19:44:27.782 +08:00] [INFO] [ID=2eda2307-54c1-49e5-9e65-eebf340b6d8f-%04d] [EVENT="[QUERY,QUERY_DCL]"] [USER=root] [ROLES="[]"] [CONNECTION_ID=%d] [SESSION_ALIAS=] [TABLES="[]"] [STATUS_CODE=1] [CURRENT_DB=test] [SQL_TEXT=%s]`, n, 2000+n, strconv.Quote(s))
	}},
	{name: "tidb-audit-json", dialect: "mysql", line: func(n int, s, _ string) string {
		return fmt.Sprintf(`{"TIME":"2026/01/08 19:44:11.110 +08:00","ID":"f1c681c2-8d80-4677-9dd4-6b7222610aa8-%04d","EVENT":["QUERY","QUERY_DCL"],"USER":"root","ROLES":[],"CONNECTION_ID":%d,"SESSION_ALIAS":"","TABLES":[],"STATUS_CODE":1,"CURRENT_DB":"test1","SQL_TEXT":%s,"AFFECTED_ROWS":0}`, n, 3000+n, jsonQuote(s))
	}},
	{name: "tidb-general", dialect: "mysql", line: func(n int, s, _ string) string {
		return fmt.Sprintf(`[2022/05/12 22:26:05.103 +08:00] [INFO] [session.go:3264] [GENERAL_LOG] [conn=%d] [user=root@%%] [schemaVersion=144] [txnStartTS=0] [forUpdateTS=0] [isReadConsistency=false] [current_db=bookshop] [txn_mode=PESSIMISTIC] [sql=%s]`, 4000+n, strconv.Quote(s))
	}},
	{name: "mariadb-audit", dialect: "mysql", line: func(n int, s, _ string) string {
		e := strings.NewReplacer(`\`, `\\`, `'`, `\'`, "\n", `\n`).Replace(s)
		return fmt.Sprintf(`20261202 10:31:59,vm,root,localhost,%d,%d,QUERY,,'%s',0`, 5000+n, n, e)
	}},
	{name: "mysql-enterprise-audit", dialect: "mysql", line: func(n int, s, _ string) string {
		return fmt.Sprintf(`{ "timestamp": "2020-10-19 19:25:51", "id": %d, "class": "general", "event": "status", "connection_id": %d, "account": { "user": "root", "host": "localhost" }, "login": { "user": "root", "os": "", "ip": "", "proxy": "" }, "general_data": { "command": "Query", "sql_command": "create_user", "query": %s, "status": 0 } },`, n, 6000+n, jsonQuote(s))
	}},
	{name: "percona-audit", dialect: "mysql", line: func(n int, s, _ string) string {
		return fmt.Sprintf(`{"audit_record":{"name":"Query","record":"%d_2026-09-29T09:40:00","timestamp":"2026-09-29T09:45:21Z","command_class":"create_user","connection_id":"%d","status":0,"sqltext":%s,"user":"root[root] @  [127.0.0.1]","host":"","os_user":"","ip":"127.0.0.1","db":"hr"}}`, n, 7000+n, jsonQuote(s))
	}},
	{name: "postgres", dialect: "postgres", options: `log_line_prefix = "%m [%p] %q%u@%d %h "`, line: func(n int, s, p string) string {
		if p == "" {
			p = "<not logged>"
		} else {
			p = csvQuote(p)
		}
		// pgaudit continues a multi-line entry on lines that start with a TAB.
		return strings.ReplaceAll(fmt.Sprintf(`2026-12-02 10:32:55.677 UTC [%d] postgres@postgres 127.0.0.1 LOG:  AUDIT: SESSION,%d,1,ROLE,ALTER ROLE,,,%s,%s`, 8000+n, n, csvQuote(s), p), "\n", "\n\t")
	}},
	{name: "postgres-csv", dialect: "postgres", line: func(n int, s, p string) string {
		if p == "" {
			p = "<not logged>"
		} else {
			p = csvQuote(p)
		}
		msg := fmt.Sprintf(`AUDIT: SESSION,%d,1,ROLE,ALTER ROLE,,,%s,%s`, n, csvQuote(s), p)
		return fmt.Sprintf(`2026-12-02 10:32:55.677 UTC,"postgres","postgres",%d,"127.0.0.1:41950",6b0ff3d7.f77,%d,"ALTER ROLE",2026-12-02 10:32:55 UTC,3/6,725,LOG,00000,%s,,,,,,,,,"dbsec-test","client backend",,0`, 9000+n, n, csvQuote(msg))
	}},
	{name: "taosadapter-sql", dialect: "tdengine", line: func(n int, s, _ string) string {
		return fmt.Sprintf(`"2025-07-23 17:11:01.%06d",%s,10.0.0.8,root,http,0x30000000000%05d,2025-07-23 17:11:00.990000,2025-07-23 17:11:01.000001,9000,0,1,10001,40123,`, n, csvQuote(s), n)
	}},
}

// TestCredentialLeaks plants a distinct secret in every credential shape
// of pkg/redact/redacttest, in every format that can carry it (the
// TDengine audit receiver included), runs the exporter with the store, the
// export and the detections on, and looks for each planted value in the
// API's answers, the export, /metrics, the log and the store's decoded
// rows. It prints the leak table.
func TestCredentialLeaks(t *testing.T) {
	dir := t.TempDir()
	type plant struct{ shape, format, value string }
	var plants []plant
	var sources strings.Builder
	total := 0
	for fi, f := range leakFormats {
		var lines []string
		for si, sh := range redacttest.Shapes {
			if !sh.Has(f.dialect) {
				continue
			}
			secret := fmt.Sprintf("Zq%02dLk%02dSecret", fi, si)
			stmt, planted := sh.Statement(secret)
			param := ""
			if sh.Param {
				param, planted = secret, secret
			}
			lines = append(lines, f.line(len(lines)+1, stmt, param))
			plants = append(plants, plant{sh.Name, f.name, planted})
		}
		if f.name == "mariadb-audit" {
			// A record that does not parse (its retcode is not a number):
			// the parse-error log must not quote what it holds.
			lines = append(lines, `20261202 10:31:59,vm,root,localhost,5999,1,QUERY,,'CREATE USER eve IDENTIFIED BY x',ZqMalformedSecret`)
			plants = append(plants, plant{"malformed-record", f.name, "ZqMalformedSecret"})
		}
		file := filepath.Join(dir, f.name+".log")
		if err := os.WriteFile(file, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		total += len(lines)
		if f.name == "mariadb-audit" {
			total-- // the malformed record makes no event
		}
		fmt.Fprintf(&sources, "\n[[source]]\nname = %q\nformat = %q\npath = %q\nstart_at = \"beginning\"\n%s\n", f.name, f.name, file, f.options)
	}
	recvAddr := freeAddr(t)
	fmt.Fprintf(&sources, "\n[[source]]\nname = \"tdengine-audit\"\nformat = \"tdengine-audit\"\nlisten = \"http://%s\"\n", recvAddr)
	storePath := filepath.Join(dir, "store", "dbsec.db")
	exportPath := filepath.Join(dir, "export", "events.jsonl")
	for _, d := range []string{filepath.Dir(storePath), filepath.Dir(exportPath)} {
		if err := os.MkdirAll(d, 0o750); err != nil {
			t.Fatal(err)
		}
	}
	cfg := filepath.Join(dir, "dbsec.toml")
	conf := fmt.Sprintf("[server]\nstate_dir = %q\n\n[store]\npath = %q\nall_statements = true\n\n[export]\npath = %q\n%s",
		dir, storePath, exportPath, sources.String())
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}

	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	stderr := &syncBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"--config.file", cfg, "--web.listen-address", addr, "--log.level", "debug"}, io.Discard, stderr)
	}()
	stop := func() {
		cancel()
		select {
		case code := <-done:
			if code != 0 {
				t.Errorf("exit %d\n%s", code, stderr.String())
			}
		case <-time.After(30 * time.Second):
			t.Fatal("exporter did not stop")
		}
	}
	stopped := false
	defer func() {
		if !stopped {
			stop()
		}
	}()
	base := "http://" + addr
	get := func(path string) string {
		t.Helper()
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
		}
		return string(b)
	}
	waitFor(t, 10*time.Second, func() bool {
		resp, err := http.Get("http://" + recvAddr + "/audit_v2")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return true
	})
	for si, sh := range redacttest.Shapes {
		if !sh.Has("tdengine") {
			continue
		}
		secret := fmt.Sprintf("Zq%02dLk%02dSecret", len(leakFormats), si)
		stmt, planted := sh.Statement(secret)
		body := fmt.Sprintf(`{"timestamp":"17332128%02d000000000","cluster_id":"7","user":"root","operation":"createUser","client_add":"10.1.0.5:50311","db":"","resource":"eve","details":%s}`, si, jsonQuote(stmt))
		resp, err := http.Post("http://"+recvAddr+"/audit_v2", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		rb, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("POST %s: %d %s", body, resp.StatusCode, rb)
		}
		plants = append(plants, plant{sh.Name, "tdengine-audit", planted})
		total++
	}

	var st struct {
		Store struct {
			Stored int64 `json:"stored"`
		} `json:"store"`
	}
	waitFor(t, 30*time.Second, func() bool {
		_ = json.Unmarshal([]byte(get("/api/v1/status")), &st)
		return st.Store.Stored >= int64(total)
	})

	channels := map[string]string{}
	const span = "from=2000-01-01T00:00:00Z&to=2030-01-01T00:00:00Z"
	list := get("/api/v1/events?limit=10000&" + span)
	channels["api"] = list
	var page struct {
		Events []struct {
			ID string `json:"id"`
		} `json:"events"`
	}
	if err := json.Unmarshal([]byte(list), &page); err != nil {
		t.Fatal(err)
	}
	if len(page.Events) < total {
		t.Fatalf("%d events listed, want %d", len(page.Events), total)
	}
	var one strings.Builder
	for _, e := range page.Events {
		one.WriteString(get("/api/v1/events/" + e.ID))
	}
	channels["api"] += one.String() + get("/api/v1/detections?limit=10000&"+span) + get("/api/v1/events?limit=10000&q=eve&"+span) +
		get("/api/v1/values/user?"+span) + get("/api/v1/top?by=user&"+span)
	channels["metrics"] = get("/metrics")
	stop()
	stopped = true
	channels["log"] = stderr.String()
	exp, err := os.ReadFile(exportPath)
	if err != nil {
		t.Fatal(err)
	}
	channels["export"] = string(exp)

	st2, err := sqlite.Open(sqlite.Options{Path: storePath})
	if err != nil {
		t.Fatal(err)
	}
	defer st2.Close(context.Background())
	evs, err := st2.Events(context.Background(), store.EventQuery{Limit: 100000})
	if err != nil {
		t.Fatal(err)
	}
	dets, err := st2.Detections(context.Background(), store.DetectionQuery{Limit: 100000})
	if err != nil {
		t.Fatal(err)
	}
	rows, _ := json.Marshal([]any{evs, dets})
	channels["store"] = string(rows)
	if len(evs.Events) < total {
		t.Fatalf("store holds %d events, want %d", len(evs.Events), total)
	}

	names := []string{"api", "export", "metrics", "log", "store"}
	leaks := 0
	perFormat := map[string][2]int{}
	var table strings.Builder
	fmt.Fprintf(&table, "%-18s %-24s %s\n", "shape", "format", "leaked into")
	for _, p := range plants {
		var in []string
		for _, c := range names {
			if strings.Contains(channels[c], p.value) {
				in = append(in, c)
			}
		}
		c := perFormat[p.format]
		c[0]++
		if len(in) > 0 {
			leaks++
			c[1]++
			fmt.Fprintf(&table, "%-18s %-24s %s\n", p.shape, p.format, strings.Join(in, ","))
		}
		perFormat[p.format] = c
	}
	var fs []string
	for f, c := range perFormat {
		fs = append(fs, fmt.Sprintf("%s %d/%d", f, c[1], c[0]))
	}
	sort.Strings(fs)
	t.Logf("planted %d secrets (%d shapes × formats), %d leaked; by format (leaked/planted): %s\n%s",
		len(plants), len(plants), leaks, strings.Join(fs, "; "), table.String())
	if leaks > 0 {
		t.Errorf("%d planted secrets leaked", leaks)
	}
}
