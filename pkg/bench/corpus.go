// Package bench generates large synthetic corpora for the TiDB formats and
// measures the exporter's per-line path on them (read with the replay input,
// parse, classify, count). The corpora are written to the temporary
// directory on first use, never committed. `go tool mage bench` runs the
// benchmarks of this package on one core.
package bench

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Lines is the size of each generated corpus.
const Lines = 1_000_000

// statements is a realistic mix: mostly reads and writes, some DDL, grants,
// denials and logins.
var statements = []struct {
	weight int
	sql    string
	status int // legacy plugin errno
}{
	{50, "SELECT id, customer, total FROM orders WHERE id = 42", 0},
	{10, "select o.id, c.name from orders o join customers c on o.cid = c.id where c.region = 'EU' limit 100", 0},
	{12, "INSERT INTO orders (customer, total) VALUES ('acme', 10.50)", 0},
	{8, "UPDATE orders SET total = total * 1.1 WHERE id = 7", 0},
	{3, "DELETE FROM sessions WHERE expires < NOW()", 0},
	{4, "SET autocommit = 1", 0},
	{3, "BEGIN", 0},
	{3, "COMMIT", 0},
	{1, "CREATE TABLE IF NOT EXISTS audit_tmp (id BIGINT PRIMARY KEY, note VARCHAR(64))", 0},
	{1, "ALTER TABLE orders ADD COLUMN note VARCHAR(255)", 0},
	{1, "GRANT SELECT ON shop.* TO 'report'@'%'", 0},
	{1, "SELECT * FROM mysql.user", 1142},
	{1, "DROP TABLE orders", 1142},
}

func pick(r *rand.Rand) (string, int) {
	total := 0
	for _, s := range statements {
		total += s.weight
	}
	n := r.IntN(total)
	for _, s := range statements {
		if n < s.weight {
			return s.sql, s.status
		}
		n -= s.weight
	}
	return statements[0].sql, 0
}

func quote(s string) string {
	if strings.ContainsAny(s, " \\\"[]=\t\n") {
		return fmt.Sprintf("%q", s)
	}
	return s
}

// Generator writes n records of one format.
type Generator func(w *bufio.Writer, n int, r *rand.Rand) (lines int)

// Corpora are the generated formats, by format name.
var Corpora = map[string]Generator{
	"tidb-audit-plugin": genPlugin,
	"tidb-audit":        genExtension,
	"tidb-audit-json":   genExtensionJSON,
	"tidb-log":          genTiDBLog,
	"tidb-general":      genGeneral,
	"tidb-slow":         genSlow,
}

var base = time.Date(2026, 11, 30, 9, 0, 0, 0, time.FixedZone("", 8*3600))

func ts(i int) string {
	return base.Add(time.Duration(i) * time.Millisecond).Format("2006/01/02 15:04:05.000 -07:00")
}

func genPlugin(w *bufio.Writer, n int, r *rand.Rand) int {
	for i := range n {
		t := ts(i)
		conn := 1000 + r.IntN(200)
		if i%50 == 0 {
			st := 0
			if r.IntN(4) == 0 {
				st = 1045
			}
			fmt.Fprintf(w, "[%s] [INFO] [logger.go:77] [ID=%d] [TIMESTAMP=%s] [EVENT_CLASS=CONNECTION] [EVENT_SUBCLASS=Connected] [STATUS_CODE=%d] [COST_TIME=0] [HOST=10.0.1.5] [CLIENT_IP=10.0.%d.%d] [USER=app] [DATABASES=\"[shop]\"] [TABLES=\"[]\"] [SQL_TEXT=] [ROWS=0] [CLIENT_PORT=%d] [CONNECTION_ID=%d] [CONNECTION_TYPE=TCP] [SERVER_ID=1] [SERVER_PORT=4000] [SERVER_VERSION=v7.5.1] [PID=3141] [Reason=]\n",
				t, i, t, st, r.IntN(255), r.IntN(255), 40000+r.IntN(20000), conn)
			continue
		}
		sql, st := pick(r)
		fmt.Fprintf(w, "[%s] [INFO] [logger.go:77] [ID=%d] [TIMESTAMP=%s] [EVENT_CLASS=GENERAL] [EVENT_SUBCLASS=] [STATUS_CODE=%d] [COST_TIME=%d.%03d] [HOST=10.0.1.5] [CLIENT_IP=10.0.9.20] [USER=app] [DATABASES=\"[shop]\"] [TABLES=\"[shop.orders]\"] [SQL_TEXT=%s] [ROWS=%d] [CONNECTION_ID=%d] [CLIENT_PORT=52000] [PID=3141] [COMMAND=Query] [SQL_STATEMENTS=Select]\n",
			t, i, t, st, r.IntN(5000), r.IntN(1000), quote(sql), r.IntN(100), conn)
	}
	return n
}

func genExtension(w *bufio.Writer, n int, r *rand.Rand) int {
	for i := range n {
		t := ts(i)
		sql, st := pick(r)
		status := 1
		reason := ""
		if st != 0 {
			status = 0
			reason = fmt.Sprintf(" [REASON=\"[planner:%d]command denied to user 'app'@'%%'\"]", st)
		}
		fmt.Fprintf(w, "[%s] [INFO] [ID=5e1ca0a0-%08x] [EVENT=\"[QUERY,SELECT]\"] [USER=app] [ROLES=\"[]\"] [CONNECTION_ID=%d] [TABLES=\"[`shop`.`orders`]\"] [STATUS_CODE=%d]%s [CURRENT_DB=shop] [SQL_TEXT=%s]\n",
			t, i, 1000+r.IntN(200), status, reason, quote(sql))
	}
	return n
}

func genExtensionJSON(w *bufio.Writer, n int, r *rand.Rand) int {
	for i := range n {
		t := ts(i)
		sql, st := pick(r)
		status := 1
		if st != 0 {
			status = 0
		}
		fmt.Fprintf(w, `{"TIME":%q,"ID":"5e1ca0a0-%08x","EVENT":"[QUERY,SELECT]","USER":"app","ROLES":"[]","CONNECTION_ID":"%d","TABLES":"[`+"`shop`.`orders`"+`]","STATUS_CODE":"%d","CURRENT_DB":"shop","SQL_TEXT":%q}`+"\n",
			t, i, 1000+r.IntN(200), status, sql)
	}
	return n
}

func genTiDBLog(w *bufio.Writer, n int, r *rand.Rand) int {
	for i := range n {
		t := ts(i)
		switch k := i % 20; {
		case k < 14:
			fmt.Fprintf(w, "[%s] [INFO] [ddl_worker.go:314] [\"[ddl] add DDL jobs\"] [\"batch count\"=1] [jobs=\"ID:%d, Type:create table, State:queueing\"]\n", t, i)
		case k < 16:
			fmt.Fprintf(w, "[%s] [WARN] [conn.go:642] [\"open new session or authentication failure\"] [conn=%d] [error=\"[privilege:1045]Access denied for user 'root'@'203.0.113.%d' (using password: YES)\"]\n", t, i, r.IntN(255))
		case k < 18:
			fmt.Fprintf(w, "[%s] [INFO] [session.go:3313] [\"CRUCIAL OPERATION\"] [conn=%d] [schemaVersion=%d] [cur_db=shop] [sql=\"CREATE TABLE t%d (c0 INT);\"] [user=root@%%]\n", t, i, i, i)
		default:
			fmt.Fprintf(w, "[%s] [INFO] [conn.go:995] [\"command dispatched failed\"] [conn=%d] [connInfo=\"id:%d, addr:10.0.3.7:43450 status:10, collation:utf8mb4_0900_ai_ci, user:analyst\"] [command=Query] [status=\"inTxn:0, autocommit:1\"] [sql=\"select * from mysql.user\"] [txn_mode=PESSIMISTIC] [err=\"[planner:1142]SELECT command denied to user 'analyst'@'%%' for table 'user'\"]\n", t, i, i)
		}
	}
	return n
}

func genGeneral(w *bufio.Writer, n int, r *rand.Rand) int {
	for i := range n {
		sql, _ := pick(r)
		fmt.Fprintf(w, "[%s] [INFO] [session.go:3878] [GENERAL_LOG] [conn=%d] [session_alias=] [user=app@10.0.9.20] [schemaVersion=57] [txnStartTS=0] [forUpdateTS=0] [isReadConsistency=false] [currentDB=shop] [isPessimistic=false] [sessionTxnMode=PESSIMISTIC] [sql=%s]\n",
			ts(i), 1000+r.IntN(200), quote(sql))
	}
	return n
}

// genSlow writes slow-log records of 10 lines each until n lines are written.
func genSlow(w *bufio.Writer, n int, r *rand.Rand) int {
	lines := 0
	for i := 0; lines < n; i++ {
		t := base.Add(time.Duration(i) * time.Millisecond).Format(time.RFC3339Nano)
		sql, st := pick(r)
		succ := "true"
		if st != 0 {
			succ = "false"
		}
		fmt.Fprintf(w, "# Time: %s\n# Txn_start_ts: %d\n# User@Host: app[app] @ 10.0.9.20 [10.0.9.20]\n# Conn_ID: %d\n# Query_time: 0.%06d\n# DB: shop\n# Is_internal: false\n# Succ: %s\n# Result_rows: %d\n%s;\n",
			t, 410450924122144769+i, 1000+r.IntN(200), r.IntN(999999), succ, r.IntN(1000), sql)
		lines += 10
	}
	return lines
}

// Path returns the corpus file of a format, generating it on first use.
// It returns the file and its number of lines.
func Path(format string) (string, int, error) {
	gen, ok := Corpora[format]
	if !ok {
		return "", 0, fmt.Errorf("no generator for %q", format)
	}
	dir := filepath.Join(os.TempDir(), "dbsec-bench")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", 0, err
	}
	p := filepath.Join(dir, fmt.Sprintf("%s-v1-%d.log", format, Lines))
	count := p + ".lines"
	if b, err := os.ReadFile(count); err == nil {
		var n int
		if _, err := fmt.Sscan(string(b), &n); err == nil {
			if _, err := os.Stat(p); err == nil {
				return p, n, nil
			}
		}
	}
	tmp := p + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return "", 0, err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	n := gen(w, Lines, rand.New(rand.NewPCG(1, 2)))
	if err := w.Flush(); err != nil {
		f.Close()
		return "", 0, err
	}
	if err := f.Close(); err != nil {
		return "", 0, err
	}
	if err := os.Rename(tmp, p); err != nil {
		return "", 0, err
	}
	if err := os.WriteFile(count, []byte(fmt.Sprint(n)), 0o644); err != nil {
		return "", 0, err
	}
	return p, n, nil
}
