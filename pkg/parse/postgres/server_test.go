package postgres_test

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dbsec/dbsec/pkg/parse"
	"github.com/dbsec/dbsec/pkg/parse/parsetest"
	"github.com/dbsec/dbsec/pkg/parse/postgres"
	"github.com/dbsec/dbsec/pkg/parse/postgrescsv"
)

const pgBin = "/usr/lib/postgresql/15/bin"

// pgServer is a throw-away PostgreSQL 15 with pgaudit.
type pgServer struct {
	// sql runs a psql session; ok says whether it must succeed.
	sql func(tcp bool, user, password, db, script string, ok bool)
	// stop shuts the server down (the logs are complete after it).
	stop func()
	// data is the data directory; the logs are in data/log.
	data string
}

// startPG starts PostgreSQL 15 with pgaudit.log set to auditLog, the
// connection logs on and the stderr and csv logs under data/log.
func startPG(t *testing.T, auditLog string) *pgServer {
	t.Helper()
	need := []string{pgBin + "/initdb", pgBin + "/pg_ctl", "/usr/lib/postgresql/15/lib/pgaudit.so"}
	for _, f := range need {
		if _, err := os.Stat(f); err != nil {
			msg := fmt.Sprintf("%s missing: install the Debian packages postgresql-15 and postgresql-15-pgaudit", f)
			if os.Getenv("CI") != "" {
				t.Fatal(msg)
			}
			t.Skip(msg)
		}
	}
	psql, err := exec.LookPath("psql")
	if err != nil {
		psql = pgBin + "/psql"
	}
	if testing.Short() {
		t.Skip("-short")
	}
	asPostgres := func(name string, args ...string) *exec.Cmd {
		if os.Geteuid() == 0 {
			return exec.Command("runuser", append([]string{"-u", "postgres", "--", name}, args...)...)
		}
		return exec.Command(name, args...)
	}
	run := func(c *exec.Cmd) string {
		t.Helper()
		out, err := c.CombinedOutput()
		if err != nil {
			t.Fatalf("%v: %v\n%s", c.Args, err, out)
		}
		return string(out)
	}

	dir, err := os.MkdirTemp("", "dbsec-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if os.Geteuid() == 0 {
		run(exec.Command("chown", "postgres:", dir))
	}
	data := filepath.Join(dir, "data")
	pwfile := filepath.Join(dir, "pw")
	if err := os.WriteFile(pwfile, []byte("adminpw\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	run(asPostgres(pgBin+"/initdb", "-D", data, "-U", "postgres", "--pwfile="+pwfile,
		"--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C"))

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	l.Close()

	conf := fmt.Sprintf(`
listen_addresses = '127.0.0.1'
port = %s
unix_socket_directories = '%s'
shared_preload_libraries = 'pgaudit'
pgaudit.log = '%s'
log_connections = on
log_disconnections = on
log_line_prefix = '%%m [%%p] %%q%%u@%%d %%h '
logging_collector = on
log_destination = 'stderr,csvlog'
log_directory = 'log'
log_filename = 'pg'
log_timezone = 'UTC'
lc_messages = 'C'
fsync = off
# No background worker may be running when the test stops the server: a
# fast shutdown logs FATAL for each, which would count as an error event
# depending on the machine's load.
autovacuum = off
`, port, dir, auditLog)
	appendFile(t, filepath.Join(data, "postgresql.conf"), conf)
	// Only these databases are reachable over TCP, so that connecting to
	// template1 gives "no pg_hba.conf entry".
	hba := "local all all trust\nhost postgres,appdb all 127.0.0.1/32 scram-sha-256\n"
	if err := os.WriteFile(filepath.Join(data, "pg_hba.conf"), []byte(hba), 0o600); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		run(exec.Command("chown", "postgres:", filepath.Join(data, "pg_hba.conf")))
	}
	run(asPostgres(pgBin+"/pg_ctl", "-D", data, "-w", "-t", "30", "-l", filepath.Join(dir, "startup.log"), "start"))
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			out, err := asPostgres(pgBin+"/pg_ctl", "-D", data, "-w", "-m", "fast", "stop").CombinedOutput()
			if err != nil {
				t.Logf("pg_ctl stop: %v\n%s", err, out)
			}
		}
	}
	t.Cleanup(stop)

	// sql runs a psql session; ok says whether it must succeed.
	sql := func(tcp bool, user, password, db, script string, ok bool) {
		t.Helper()
		host := dir
		if tcp {
			host = "127.0.0.1"
		}
		c := exec.Command(psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", host, "-p", port, "-U", user, "-d", db, "-f", "-")
		c.Env = append(os.Environ(), "PGPASSWORD="+password, "PGCONNECT_TIMEOUT=10", "PGSSLMODE=disable", "PGAPPNAME=dbsec-test")
		c.Stdin = strings.NewReader(script)
		out, err := c.CombinedOutput()
		if (err == nil) != ok {
			t.Fatalf("psql %s@%s (want ok=%v): %v\n%s", user, db, ok, err, out)
		}
	}
	return &pgServer{sql: sql, stop: stop, data: data}
}

// TestRealServer runs PostgreSQL 15 with pgaudit, replays a scripted
// session and checks that both the stderr log and the csvlog give exactly
// the events the script caused. Set DBSEC_PG_SAVE=dir to keep the logs.
func TestRealServer(t *testing.T) {
	pg := startPG(t, "read, write, ddl, role")
	sql, stop, data := pg.sql, pg.stop, pg.data

	// --- the scripted session ---
	// 5 failed logins (the fifth, nologin, below).
	sql(true, "postgres", "wrong1", "postgres", "SELECT 1;", false)   // 28P01
	sql(true, "postgres", "wrong2", "postgres", "SELECT 1;", false)   // 28P01
	sql(true, "nosuch", "whatever", "postgres", "SELECT 1;", false)   // 28P01, role does not exist
	sql(true, "postgres", "adminpw", "template1", "SELECT 1;", false) // no pg_hba.conf entry
	// Admin session (login 1): 3 CREATE ROLE, ALTER ROLE, CREATE TABLE,
	// ALTER TABLE, INSERT, GRANT, a multi-line SELECT.
	sql(true, "postgres", "adminpw", "postgres", `
CREATE ROLE alice LOGIN PASSWORD 'alicepw';
CREATE ROLE bob LOGIN PASSWORD 'bobpw';
CREATE ROLE nologin NOLOGIN PASSWORD 'nlpw';
ALTER ROLE bob PASSWORD 'bobpw2';
CREATE TABLE secrets (id int, v text);
ALTER TABLE secrets ADD COLUMN note text;
INSERT INTO secrets (id, v) VALUES (1, 'a,"b"');
GRANT SELECT ON secrets TO alice;
SELECT id,
       v
  FROM secrets
 WHERE v <> 'x,y';
`, true)
	sql(true, "nologin", "nlpw", "postgres", "SELECT 1;", false)              // not permitted to log in
	sql(true, "alice", "alicepw", "postgres", "SELECT * FROM secrets;", true) // login 2, read
	sql(true, "bob", "bobpw2", "postgres", "SELECT * FROM secrets;", false)   // login 3, denied
	// login 4, over the unix socket: REVOKE, DROP TABLE, DROP ROLE.
	sql(false, "postgres", "", "postgres", `
REVOKE SELECT ON secrets FROM alice;
DROP TABLE secrets;
DROP ROLE bob;
`, true)
	stop()

	want := map[string]int{
		"login/failure": 5,
		// 4 sessions + nologin: PostgreSQL writes "connection authorized"
		// before it checks rolcanlogin, then FATAL "not permitted to log
		// in" (counted as the failure); a parser cannot retract the success.
		"login/success":            5,
		"logout/success":           4,
		"privilege_change/success": 7, // CREATE ROLE ×3, ALTER ROLE, GRANT, REVOKE, DROP ROLE
		"ddl/success":              3, // CREATE TABLE, ALTER TABLE, DROP TABLE
		"dml_write/success":        1,
		"read/success":             2,
		"access_denied/failure":    1,
	}
	logDir := filepath.Join(data, "log")
	stderrLog := readFile(t, filepath.Join(logDir, "pg"))
	csvLog := readFile(t, filepath.Join(logDir, "pg.csv"))
	if d := os.Getenv("DBSEC_PG_SAVE"); d != "" {
		_ = os.WriteFile(filepath.Join(d, "real-pg15.log"), stderrLog, 0o644)
		_ = os.WriteFile(filepath.Join(d, "real-pg15.csv"), csvLog, 0o644)
	}

	stderrFormat := postgres.Format
	stderrFormat.New = func(o parse.Options) parse.Parser {
		p, err := postgres.NewWithPrefix("%m [%p] %q%u@%d %h ", o)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	gotStderr := count(t, "stderr", parsetest.Run(stderrFormat, parsetest.Options(), stderrLog))
	gotCSV := count(t, "csvlog", parsetest.Run(postgrescsv.Format, parsetest.Options(), csvLog))
	for name, got := range map[string]map[string]int{"stderr": gotStderr, "csvlog": gotCSV} {
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s: %s = %d, want %d", name, k, got[k], v)
			}
		}
		for k, v := range got {
			if _, ok := want[k]; !ok {
				t.Errorf("%s: unexpected %s = %d", name, k, v)
			}
		}
		if t.Failed() {
			t.Logf("%s log:\n%s", name, map[string][]byte{"stderr": stderrLog, "csvlog": csvLog}[name])
		}
	}
	// The denied statement carries its text in both formats.
	for name, data := range map[string][]byte{"stderr": stderrLog, "csvlog": csvLog} {
		if !bytes.Contains(data, []byte("permission denied for table secrets")) {
			t.Errorf("%s: no permission denied record", name)
		}
	}
}

func count(t *testing.T, name string, recs []parsetest.Record) map[string]int {
	t.Helper()
	got := map[string]int{}
	for _, r := range recs {
		if r.Error != "" {
			t.Errorf("%s line %d: %s", name, r.Line, r.Error)
			continue
		}
		ev := r.Event
		if ev.Category.String() == "access_denied" && ev.Statement != "SELECT * FROM secrets;" {
			t.Errorf("%s line %d: denied statement %q", name, r.Line, ev.Statement)
		}
		got[ev.Category.String()+"/"+ev.Outcome.String()]++
	}
	return got
}

func appendFile(t *testing.T, name, s string) {
	f, err := os.OpenFile(name, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, name string) []byte {
	t.Helper()
	var b []byte
	var err error
	for range 50 { // the logging collector writes asynchronously
		b, err = os.ReadFile(name)
		if err == nil && bytes.Contains(b, []byte("database system is shut down")) {
			return b
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	return b
}
