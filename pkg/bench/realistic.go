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

// Realistic are the corpora of issue 16: audit logs as a busy application
// writes them, where every statement carries its own literals (ids, strings,
// IN lists, timestamps), with a realistic mix of reads and writes, about 1 %
// failed logins, some DDL, grants and denials, a few hundred users and client
// IPs. Each generator is deterministic for a given seed and writes exactly n
// physical lines.
var Realistic = map[string]Generator{
	"tidb-audit-plugin": realPlugin,
	"mariadb-audit":     realMariaDB,
	"postgres":          realPostgres,
	"nginx-redash":      realNginx,
}

// RealisticFormats are the keys of Realistic in the order of the tables.
var RealisticFormats = []string{"tidb-audit-plugin", "mariadb-audit", "postgres", "nginx-redash"}

// stmtKind is what a generated statement is, so that a format can log it
// the way its server does (pgaudit's class and command, for one).
type stmtKind uint8

const (
	kSelect stmtKind = iota
	kInsert
	kUpdate
	kDelete
	kBegin
	kCommit
	kRollback
	kSetSession
	kShow
	kCreateTable
	kAlterTable
	kCreateIndex
	kDropTable
	kTruncate
	kGrant
	kRevoke
	kCreateUser
	kDropUser
	kDenied // a statement the server refuses for lack of privilege
)

// pgCommand is pgaudit's CLASS and COMMAND of a kind.
func (k stmtKind) pgCommand() (class, command string) {
	switch k {
	case kSelect:
		return "READ", "SELECT"
	case kInsert:
		return "WRITE", "INSERT"
	case kUpdate:
		return "WRITE", "UPDATE"
	case kDelete:
		return "WRITE", "DELETE"
	case kBegin:
		return "MISC", "BEGIN"
	case kCommit:
		return "MISC", "COMMIT"
	case kRollback:
		return "MISC", "ROLLBACK"
	case kSetSession:
		return "MISC", "SET"
	case kShow:
		return "MISC", "SHOW"
	case kCreateTable:
		return "DDL", "CREATE TABLE"
	case kAlterTable:
		return "DDL", "ALTER TABLE"
	case kCreateIndex:
		return "DDL", "CREATE INDEX"
	case kDropTable:
		return "DDL", "DROP TABLE"
	case kTruncate:
		return "WRITE", "TRUNCATE TABLE"
	case kGrant:
		return "ROLE", "GRANT"
	case kRevoke:
		return "ROLE", "REVOKE"
	case kCreateUser:
		return "ROLE", "CREATE ROLE"
	case kDropUser:
		return "ROLE", "DROP ROLE"
	}
	return "MISC", "SELECT"
}

// world holds the users, client IPs and names of one corpus.
type world struct {
	users []string
	ips   []string
	pg    bool // PostgreSQL dialect
}

var (
	userStems = []string{"app", "svc_orders", "svc_billing", "report", "etl", "alice", "bob", "carol", "dave", "erin",
		"frank", "grace", "heidi", "ivan", "judy", "mallory", "oscar", "peggy", "trent", "victor", "walter", "api", "batch",
		"analyst", "readonly", "backup", "monitor", "deploy", "admin", "support"}
	regions  = []string{"EU", "US", "APAC", "LATAM", "MEA"}
	statuses = []string{"new", "paid", "shipped", "cancelled", "refunded", "on_hold"}
	kinds    = []string{"page_view", "click", "search", "checkout", "login", "logout", "add_to_cart"}
	tables   = []string{"orders", "customers", "products", "invoices", "payments", "sessions", "events", "shipments"}
)

func newWorld(r *rand.Rand, pg bool) *world {
	w := &world{pg: pg}
	for i := range 300 {
		w.users = append(w.users, fmt.Sprintf("%s%d", userStems[i%len(userStems)], i/len(userStems)))
	}
	for i := range 250 {
		if i%10 == 9 {
			w.ips = append(w.ips, fmt.Sprintf("203.0.113.%d", 1+r.IntN(254)))
		} else {
			w.ips = append(w.ips, fmt.Sprintf("10.%d.%d.%d", i%4, r.IntN(256), 1+r.IntN(254)))
		}
	}
	return w
}

// skewed picks an index in [0,n) with a few hot entries, as real traffic has.
func skewed(r *rand.Rand, n int) int {
	if r.IntN(2) == 0 {
		return r.IntN(max(n/20, 1))
	}
	return r.IntN(n)
}

func (w *world) user(r *rand.Rand) string { return w.users[skewed(r, len(w.users))] }
func (w *world) ip(r *rand.Rand) string   { return w.ips[skewed(r, len(w.ips))] }

func stamp(r *rand.Rand) string {
	t := base.Add(-time.Duration(r.IntN(90*24*3600)) * time.Second)
	return t.Format("2006-01-02 15:04:05")
}

func email(r *rand.Rand) string {
	return fmt.Sprintf("%s.%d@example%d.com", userStems[r.IntN(len(userStems))], r.IntN(100000), r.IntN(50))
}

func inList(r *rand.Rand) string {
	n := 1 + r.IntN(20)
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%d", 1+r.IntN(5_000_000))
	}
	return b.String()
}

// statement returns a SQL statement with its own literals and its kind.
// Weights: ~60 % reads, ~27 % writes, transactions and session settings,
// ~0.4 % DDL, ~0.2 % privilege changes, ~0.5 % refused.
func (w *world) statement(r *rand.Rand) (string, stmtKind) {
	n := r.IntN(10000)
	limit := "LIMIT %d"
	switch {
	case n < 2500:
		return fmt.Sprintf("SELECT id, customer_id, total, status FROM orders WHERE id = %d", 1+r.IntN(50_000_000)), kSelect
	case n < 3500:
		return fmt.Sprintf("SELECT o.id, o.total, c.name FROM orders o JOIN customers c ON o.customer_id = c.id WHERE c.region = '%s' AND o.created_at > '%s' ORDER BY o.created_at DESC "+limit,
			regions[r.IntN(len(regions))], stamp(r), 10*(1+r.IntN(10))), kSelect
	case n < 4300:
		return fmt.Sprintf("SELECT id, sku, price, stock FROM products WHERE id IN (%s)", inList(r)), kSelect
	case n < 5000:
		return fmt.Sprintf("SELECT id, name, email FROM customers WHERE email = '%s'", email(r)), kSelect
	case n < 5500:
		return fmt.Sprintf("SELECT COUNT(*) FROM sessions WHERE user_id = %d AND expires_at > '%s'", 1+r.IntN(2_000_000), stamp(r)), kSelect
	case n < 6000:
		return fmt.Sprintf("SELECT status, SUM(total) FROM orders WHERE customer_id = %d AND created_at BETWEEN '%s' AND '%s' GROUP BY status", 1+r.IntN(2_000_000), stamp(r), stamp(r)), kSelect
	case n < 6900:
		return fmt.Sprintf("INSERT INTO orders (customer_id, total, status, created_at) VALUES (%d, %d.%02d, '%s', '%s')",
			1+r.IntN(2_000_000), r.IntN(5000), r.IntN(100), statuses[r.IntN(len(statuses))], stamp(r)), kInsert
	case n < 7500:
		return fmt.Sprintf("INSERT INTO events (user_id, kind, page, created_at) VALUES (%d, '%s', '/p/%d', '%s')",
			1+r.IntN(2_000_000), kinds[r.IntN(len(kinds))], r.IntN(100000), stamp(r)), kInsert
	case n < 8200:
		return fmt.Sprintf("UPDATE orders SET status = '%s', updated_at = '%s' WHERE id = %d", statuses[r.IntN(len(statuses))], stamp(r), 1+r.IntN(50_000_000)), kUpdate
	case n < 8600:
		return fmt.Sprintf("UPDATE customers SET last_login = '%s', login_count = login_count + 1 WHERE id = %d", stamp(r), 1+r.IntN(2_000_000)), kUpdate
	case n < 8900:
		return fmt.Sprintf("DELETE FROM sessions WHERE id = '%016x'", r.Uint64()), kDelete
	case n < 9250:
		return "BEGIN", kBegin
	case n < 9600:
		return "COMMIT", kCommit
	case n < 9650:
		return "ROLLBACK", kRollback
	case n < 9800:
		if w.pg {
			return fmt.Sprintf("SET statement_timeout = %d", 1000*(1+r.IntN(60))), kSetSession
		}
		return fmt.Sprintf("SET SESSION sql_select_limit = %d", 100*(1+r.IntN(100))), kSetSession
	case n < 9880:
		if w.pg {
			return "SHOW search_path", kShow
		}
		return fmt.Sprintf("SHOW TABLES FROM shop LIKE '%s%%'", tables[r.IntN(len(tables))][:3]), kShow
	case n < 9890:
		return fmt.Sprintf("CREATE TABLE tmp_report_%d (id BIGINT PRIMARY KEY, total DECIMAL(12,2), note VARCHAR(64))", r.IntN(100000)), kCreateTable
	case n < 9900:
		return fmt.Sprintf("ALTER TABLE %s ADD COLUMN note_%d VARCHAR(255)", tables[r.IntN(len(tables))], r.IntN(1000)), kAlterTable
	case n < 9910:
		return fmt.Sprintf("CREATE INDEX idx_%s_%d ON %s (created_at)", tables[r.IntN(len(tables))], r.IntN(1000), tables[r.IntN(len(tables))]), kCreateIndex
	case n < 9920:
		return fmt.Sprintf("DROP TABLE tmp_report_%d", r.IntN(100000)), kDropTable
	case n < 9925:
		return fmt.Sprintf("TRUNCATE TABLE tmp_report_%d", r.IntN(100000)), kTruncate
	case n < 9935:
		u := w.users[r.IntN(len(w.users))]
		t := tables[r.IntN(len(tables))]
		if w.pg {
			return fmt.Sprintf("GRANT SELECT, INSERT ON %s TO %s", t, u), kGrant
		}
		return fmt.Sprintf("GRANT SELECT, INSERT ON shop.%s TO '%s'@'10.0.%%'", t, u), kGrant
	case n < 9940:
		u := w.users[r.IntN(len(w.users))]
		if w.pg {
			return fmt.Sprintf("REVOKE INSERT ON %s FROM %s", tables[r.IntN(len(tables))], u), kRevoke
		}
		return fmt.Sprintf("REVOKE INSERT ON shop.%s FROM '%s'@'10.0.%%'", tables[r.IntN(len(tables))], u), kRevoke
	case n < 9945:
		if w.pg {
			return fmt.Sprintf("CREATE ROLE svc_tmp_%d LOGIN", r.IntN(100000)), kCreateUser
		}
		return fmt.Sprintf("CREATE USER 'svc_tmp_%d'@'10.0.%%'", r.IntN(100000)), kCreateUser
	case n < 9950:
		if w.pg {
			return fmt.Sprintf("DROP ROLE svc_tmp_%d", r.IntN(100000)), kDropUser
		}
		return fmt.Sprintf("DROP USER 'svc_tmp_%d'@'10.0.%%'", r.IntN(100000)), kDropUser
	}
	switch r.IntN(3) {
	case 0:
		return fmt.Sprintf("SELECT * FROM payments WHERE card_last4 = '%04d'", r.IntN(10000)), kDenied
	case 1:
		return fmt.Sprintf("DELETE FROM orders WHERE id = %d", 1+r.IntN(50_000_000)), kDenied
	}
	return fmt.Sprintf("UPDATE customers SET credit_limit = %d WHERE id = %d", 1000*r.IntN(100), 1+r.IntN(2_000_000)), kDenied
}

func realPlugin(w *bufio.Writer, n int, r *rand.Rand) int {
	wd := newWorld(r, false)
	type conn struct{ user, ip string }
	conns := map[int]conn{}
	var open openSet
	nextConn := 100
	for i := range n {
		t := ts(i)
		id := 17645000000 + i
		k := r.IntN(1000)
		switch {
		case k < 10: // failed login, ~1 %
			u, ip := wd.user(r), wd.ip(r)
			nextConn++
			fmt.Fprintf(w, "[%s] [INFO] [logger.go:77] [ID=%d] [TIMESTAMP=%s] [EVENT_CLASS=CONNECTION] [EVENT_SUBCLASS=Connected] [STATUS_CODE=1045] [COST_TIME=0] [HOST=10.0.1.5] [CLIENT_IP=%s] [USER=%s] [DATABASES=\"[]\"] [TABLES=\"[]\"] [SQL_TEXT=] [ROWS=0] [CLIENT_PORT=%d] [CONNECTION_ID=%d] [CONNECTION_TYPE=TCP] [SERVER_ID=1] [SERVER_PORT=4000] [SERVER_VERSION=v7.5.1] [PID=3141] [Reason=\"[privilege:1045]Access denied for user '%s'@'%s' (using password: YES)\"]\n",
				t, id, t, ip, u, 30000+r.IntN(30000), nextConn, u, ip)
		case k < 25 || len(conns) < 50: // login
			c := conn{wd.user(r), wd.ip(r)}
			nextConn++
			conns[nextConn] = c
			open.add(nextConn)
			fmt.Fprintf(w, "[%s] [INFO] [logger.go:77] [ID=%d] [TIMESTAMP=%s] [EVENT_CLASS=CONNECTION] [EVENT_SUBCLASS=Connected] [STATUS_CODE=0] [COST_TIME=0] [HOST=10.0.1.5] [CLIENT_IP=%s] [USER=%s] [DATABASES=\"[shop]\"] [TABLES=\"[]\"] [SQL_TEXT=] [ROWS=0] [CLIENT_PORT=%d] [CONNECTION_ID=%d] [CONNECTION_TYPE=TCP] [SERVER_ID=1] [SERVER_PORT=4000] [SERVER_VERSION=v7.5.1] [PID=3141] [Reason=]\n",
				t, id, t, c.ip, c.user, 30000+r.IntN(30000), nextConn)
		case k < 39: // logout of some open connection
			cid := open.take(r)
			c := conns[cid]
			delete(conns, cid)
			fmt.Fprintf(w, "[%s] [INFO] [logger.go:77] [ID=%d] [TIMESTAMP=%s] [EVENT_CLASS=CONNECTION] [EVENT_SUBCLASS=Disconnect] [STATUS_CODE=0] [COST_TIME=0] [HOST=10.0.1.5] [CLIENT_IP=%s] [USER=%s] [DATABASES=\"[shop]\"] [TABLES=\"[]\"] [SQL_TEXT=] [ROWS=0] [CLIENT_PORT=%d] [CONNECTION_ID=%d] [CONNECTION_TYPE=TCP] [SERVER_ID=1] [SERVER_PORT=4000] [SERVER_VERSION=v7.5.1] [PID=3141] [Reason=]\n",
				t, id, t, c.ip, c.user, 30000+r.IntN(30000), cid)
		default:
			cid := open.pick(r)
			c := conns[cid]
			sql, kind := wd.statement(r)
			st := 0
			if kind == kDenied {
				st = 1142
			}
			fmt.Fprintf(w, "[%s] [INFO] [logger.go:77] [ID=%d] [TIMESTAMP=%s] [EVENT_CLASS=GENERAL] [EVENT_SUBCLASS=] [STATUS_CODE=%d] [COST_TIME=%d.%d] [HOST=10.0.1.5] [CLIENT_IP=%s] [USER=%s] [DATABASES=\"[shop]\"] [TABLES=\"[shop.%s]\"] [SQL_TEXT=%s] [ROWS=%d] [CONNECTION_ID=%d] [CLIENT_PORT=%d] [PID=3141] [COMMAND=Query] [SQL_STATEMENTS=%s]\n",
				t, id, t, st, r.IntN(50000), r.IntN(10), c.ip, c.user, tables[r.IntN(len(tables))], quote(sql), r.IntN(200), cid, 30000+r.IntN(30000), pluginStmtName(kind))
		}
	}
	return n
}

func pluginStmtName(k stmtKind) string {
	switch k {
	case kSelect, kDenied:
		return "Select"
	case kInsert:
		return "Insert"
	case kUpdate:
		return "Update"
	case kDelete:
		return "Delete"
	case kBegin:
		return "Begin"
	case kCommit:
		return "Commit"
	case kRollback:
		return "Rollback"
	case kSetSession:
		return "Set"
	case kShow:
		return "Show"
	case kCreateTable:
		return "CreateTable"
	case kAlterTable:
		return "AlterTable"
	case kCreateIndex:
		return "CreateIndex"
	case kDropTable:
		return "DropTable"
	case kTruncate:
		return "TruncateTable"
	case kGrant:
		return "Grant"
	case kRevoke:
		return "Revoke"
	case kCreateUser:
		return "CreateUser"
	case kDropUser:
		return "DropUser"
	}
	return "Other"
}

// mariaTS is server_audit's "YYYYMMDD HH:MM:SS" at one record per ~5 ms.
func mariaTS(i int) string {
	return base.Add(time.Duration(i) * 5 * time.Millisecond).Format("20060102 15:04:05")
}

func mariaQuote(s string) string { return strings.ReplaceAll(s, "'", `\'`) }

func realMariaDB(w *bufio.Writer, n int, r *rand.Rand) int {
	wd := newWorld(r, false)
	type conn struct{ user, ip string }
	conns := map[int]conn{}
	var open openSet
	nextConn := 100
	qid := 0
	lines := 0
	for lines < n {
		t := mariaTS(lines)
		k := r.IntN(1000)
		switch {
		case k < 10 && lines+2 <= n: // failed login: FAILED_CONNECT + DISCONNECT
			u, ip := wd.user(r), wd.ip(r)
			nextConn++
			fmt.Fprintf(w, "%s,db1,%s,%s,%d,0,FAILED_CONNECT,,,1045\n%s,db1,%s,%s,%d,0,DISCONNECT,,,0\n", t, u, ip, nextConn, t, u, ip, nextConn)
			lines += 2
		case k < 25 || len(conns) < 50:
			c := conn{wd.user(r), wd.ip(r)}
			nextConn++
			conns[nextConn] = c
			open.add(nextConn)
			fmt.Fprintf(w, "%s,db1,%s,%s,%d,0,CONNECT,shop,,0\n", t, c.user, c.ip, nextConn)
			lines++
		case k < 39:
			cid := open.take(r)
			c := conns[cid]
			delete(conns, cid)
			fmt.Fprintf(w, "%s,db1,%s,%s,%d,0,DISCONNECT,shop,,0\n", t, c.user, c.ip, cid)
			lines++
		default:
			cid := open.pick(r)
			c := conns[cid]
			sql, kind := wd.statement(r)
			qid++
			rc := 0
			if kind == kDenied {
				rc = 1142
			}
			// The TABLE record server_audit writes before a statement
			// that touches a table (events = CONNECT,QUERY,TABLE).
			if lines+2 <= n && rc == 0 && (kind == kSelect || kind == kInsert || kind == kUpdate || kind == kDelete) && r.IntN(3) == 0 {
				op := "READ"
				if kind != kSelect {
					op = "WRITE"
				}
				fmt.Fprintf(w, "%s,db1,%s,%s,%d,%d,%s,shop,%s,\n", t, c.user, c.ip, cid, qid, op, tables[r.IntN(len(tables))])
				lines++
			}
			fmt.Fprintf(w, "%s,db1,%s,%s,%d,%d,QUERY,shop,'%s',%d\n", t, c.user, c.ip, cid, qid, mariaQuote(sql), rc)
			lines++
		}
	}
	return lines
}

// pgCSV quotes a pgaudit statement field as pgaudit does: in "…" with ""
// when it holds a comma, a quote or a newline.
func pgCSV(s string) string {
	if strings.ContainsAny(s, ",\"\n") {
		return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
	}
	return s
}

func realPostgres(w *bufio.Writer, n int, r *rand.Rand) int {
	wd := newWorld(r, true)
	type conn struct {
		user, db, ip string
		port, stmt   int
	}
	conns := map[int]*conn{}
	var open openSet
	pid := 4000
	lines := 0
	dbs := []string{"appdb", "billing", "analytics"}
	for lines < n {
		t := base.UTC().Add(time.Duration(lines) * time.Millisecond).Format("2006-01-02 15:04:05.000 UTC")
		k := r.IntN(1000)
		switch {
		case k < 10 && lines+3 <= n: // failed login: received, FATAL, DETAIL
			pid++
			u, ip, port := wd.user(r), wd.ip(r), 30000+r.IntN(30000)
			fmt.Fprintf(w, "%s [%d] [unknown]@[unknown] %s LOG:  connection received: host=%s port=%d\n", t, pid, ip, ip, port)
			fmt.Fprintf(w, "%s [%d] %s@appdb %s FATAL:  password authentication failed for user \"%s\"\n", t, pid, u, ip, u)
			fmt.Fprintf(w, "%s [%d] %s@appdb %s DETAIL:  Connection matched pg_hba.conf line 2: \"host all all 0.0.0.0/0 scram-sha-256\"\n", t, pid, u, ip)
			lines += 3
		case (k < 25 || len(conns) < 50) && lines+2 <= n:
			pid++
			c := &conn{user: wd.user(r), db: dbs[r.IntN(len(dbs))], ip: wd.ip(r), port: 30000 + r.IntN(30000)}
			conns[pid] = c
			open.add(pid)
			fmt.Fprintf(w, "%s [%d] [unknown]@[unknown] %s LOG:  connection received: host=%s port=%d\n", t, pid, c.ip, c.ip, c.port)
			fmt.Fprintf(w, "%s [%d] %s@%s %s LOG:  connection authorized: user=%s database=%s application_name=%s\n", t, pid, c.user, c.db, c.ip, c.user, c.db, "orders-api")
			lines += 2
		case k < 39:
			cid := open.take(r)
			c := conns[cid]
			delete(conns, cid)
			fmt.Fprintf(w, "%s [%d] %s@%s %s LOG:  disconnection: session time: 0:%02d:%02d.%03d user=%s database=%s host=%s port=%d\n",
				t, cid, c.user, c.db, c.ip, r.IntN(60), r.IntN(60), r.IntN(1000), c.user, c.db, c.ip, c.port)
			lines++
		default:
			cid := open.pick(r)
			c := conns[cid]
			sql, kind := wd.statement(r)
			if kind == kDenied {
				if lines+2 > n {
					continue
				}
				tbl := "payments"
				if strings.Contains(sql, "orders") {
					tbl = "orders"
				} else if strings.Contains(sql, "customers") {
					tbl = "customers"
				}
				fmt.Fprintf(w, "%s [%d] %s@%s %s ERROR:  permission denied for table %s\n", t, cid, c.user, c.db, c.ip, tbl)
				fmt.Fprintf(w, "%s [%d] %s@%s %s STATEMENT:  %s\n", t, cid, c.user, c.db, c.ip, sql)
				lines += 2
				continue
			}
			c.stmt++
			class, command := kind.pgCommand()
			fmt.Fprintf(w, "%s [%d] %s@%s %s LOG:  AUDIT: SESSION,%d,1,%s,%s,,,%s,<not logged>\n", t, cid, c.user, c.db, c.ip, c.stmt, class, command, pgCSV(sql))
			lines++
		}
	}
	return lines
}

var (
	agents = []string{
		"Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
		"python-requests/2.31.0",
		"curl/8.5.0",
	}
	redashPaths = []string{"/api/dashboards/%d", "/api/queries/%d", "/api/queries/%d/results", "/api/jobs/%x", "/api/data_sources/%d/schema",
		"/static/app.%x.js", "/static/vendor.%x.css", "/api/events", "/api/session", "/api/organization/status"}
)

func realNginx(w *bufio.Writer, n int, r *rand.Rand) int {
	wd := newWorld(r, false)
	for i := range n {
		t := base.UTC().Add(time.Duration(i) * 10 * time.Millisecond).Format("02/Jan/2006:15:04:05 -0700")
		ip := wd.ip(r)
		ua := agents[r.IntN(len(agents))]
		k := r.IntN(1000)
		var method, uri, ref string
		status, size := 200, 200+r.IntN(50000)
		ref = "-"
		switch {
		case k < 10: // failed login: the form again
			method, uri, status, size, ref = "POST", "/login", 200, 2310, "https://redash.example.com/login"
		case k < 20:
			method, uri, status, size, ref = "POST", "/login", 302, 209, "https://redash.example.com/login"
		case k < 25:
			method, uri, status, size = "GET", "/logout", 302, 209
		case k < 30: // refused
			method, uri, status, size = "GET", fmt.Sprintf("/api/queries/%d", r.IntN(5000)), 403, 86
		case k < 40: // data through an API key
			method, uri = "GET", fmt.Sprintf("/api/queries/%d/results.csv?api_key=%016x", r.IntN(5000), r.Uint64())
		case k < 43:
			method, uri, status, size = "POST", fmt.Sprintf("/api/queries/%d/results", r.IntN(5000)), 502, 157
		case k < 60:
			method, uri, status, size = "GET", fmt.Sprintf("/api/queries/%d", r.IntN(50000)), 404, 86
		default:
			method = "GET"
			if r.IntN(5) == 0 {
				method = "POST"
			}
			uri = redashPaths[r.IntN(len(redashPaths))]
			if id := r.IntN(100000); strings.Contains(uri, "%") {
				uri = fmt.Sprintf(uri, id)
			}
			if r.IntN(3) == 0 {
				uri += fmt.Sprintf("?page=%d&page_size=%d&q=%s", 1+r.IntN(20), 20, userStems[r.IntN(len(userStems))])
			}
		}
		fmt.Fprintf(w, "%s - - [%s] \"%s %s HTTP/1.1\" %d %d \"%s\" \"%s\" \"-\"\n", ip, t, method, uri, status, size, ref, ua)
	}
	return n
}

// RealisticPath returns the issue-16 corpus of a format with n lines,
// generating it into $TMPDIR/dbsec-bench on first use (seed fixed).
func RealisticPath(format string, n int) (string, error) {
	if _, ok := Realistic[format]; !ok {
		return "", fmt.Errorf("no realistic generator for %q", format)
	}
	dir := filepath.Join(os.TempDir(), "dbsec-bench")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	p := filepath.Join(dir, fmt.Sprintf("%s-real2-%d.log", format, n))
	if _, err := os.Stat(p); err == nil {
		return p, nil
	}
	return p, WriteRealistic(p, format, n)
}

// WriteRealistic writes the issue-16 corpus of a format with n lines to path.
func WriteRealistic(path, format string, n int) error {
	gen, ok := Realistic[format]
	if !ok {
		return fmt.Errorf("no realistic generator for %q", format)
	}
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	if got := gen(w, n, rand.New(rand.NewPCG(16, uint64(len(format))))); got != n {
		f.Close()
		return fmt.Errorf("%s: generated %d lines, want %d", format, got, n)
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// openSet is the open connections of a generated log, in a slice so that
// the choice is deterministic (a map's order is not).
type openSet struct{ ids []int }

func (o *openSet) add(id int) { o.ids = append(o.ids, id) }

// pick returns a recent connection more often than an old one.
func (o *openSet) pick(r *rand.Rand) int {
	if r.IntN(4) == 0 {
		return o.ids[r.IntN(len(o.ids))]
	}
	return o.ids[len(o.ids)-1-r.IntN(min(len(o.ids), 20))]
}

// take removes and returns a random connection.
func (o *openSet) take(r *rand.Rand) int {
	i := r.IntN(len(o.ids))
	id := o.ids[i]
	o.ids[i] = o.ids[len(o.ids)-1]
	o.ids = o.ids[:len(o.ids)-1]
	return id
}
