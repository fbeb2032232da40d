package mariadbaudit_test

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dbsec/dbsec/pkg/event"
	"github.com/dbsec/dbsec/pkg/parse"
	"github.com/dbsec/dbsec/pkg/parse/mariadbaudit"
	"github.com/dbsec/dbsec/pkg/parse/mariadberror"
	"github.com/dbsec/dbsec/pkg/parse/parsetest"
)

var saveReal = flag.Bool("save-real", false, "copy the logs of the real-server test to testdata/real-*.log")

// server is a throw-away MariaDB with server_audit.
type server struct {
	dir, sock, audit, errlog string
	port                     int
	client                   string
}

func lookBin(t *testing.T, names ...string) string {
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
		for _, d := range []string{"/usr/sbin", "/usr/bin", "/usr/local/mysql/bin"} {
			p := filepath.Join(d, n)
			if _, err := os.Stat(p); err == nil {
				return p
			}
		}
	}
	msg := fmt.Sprintf("%s not found: install the Debian package mariadb-server (apt-get install -y mariadb-server)", strings.Join(names, "/"))
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func startServer(t *testing.T) *server {
	t.Helper()
	if testing.Short() {
		t.Skip("real-server test skipped with -short")
	}
	mariadbd := lookBin(t, "mariadbd", "mysqld")
	installDB := lookBin(t, "mariadb-install-db", "mysql_install_db")
	client := lookBin(t, "mariadb", "mysql")
	plugin := ""
	for _, d := range []string{"/usr/lib/mysql/plugin", "/usr/lib/x86_64-linux-gnu/mariadb19/plugin", "/usr/lib64/mysql/plugin"} {
		if _, err := os.Stat(filepath.Join(d, "server_audit.so")); err == nil {
			plugin = d
		}
	}
	if plugin == "" {
		msg := "server_audit.so not found: install the Debian package mariadb-server"
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}

	// t.TempDir is 0700 and owned by root; the server runs as an
	// unprivileged user, so make a directory it can use.
	dir, err := os.MkdirTemp("", "dbsec-mariadb-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	var userArgs []string
	if os.Geteuid() == 0 {
		name := "mysql"
		u, err := user.Lookup(name)
		if err != nil {
			name = "nobody"
			if u, err = user.Lookup(name); err != nil {
				t.Fatal("running as root and neither user mysql nor nobody exists")
			}
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chmod(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
		userArgs = []string{"--user=" + name}
	}
	s := &server{
		dir:    dir,
		sock:   filepath.Join(dir, "sock"),
		audit:  filepath.Join(dir, "server_audit.log"),
		errlog: filepath.Join(dir, "error.log"),
		port:   freePort(t),
		client: client,
	}
	data := filepath.Join(dir, "data")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)

	args := append([]string{"--no-defaults", "--datadir=" + data, "--auth-root-authentication-method=normal", "--skip-test-db"}, userArgs...)
	if out, err := exec.CommandContext(ctx, installDB, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", installDB, err, out)
	}

	args = append([]string{
		"--no-defaults",
		"--datadir=" + data,
		"--plugin-dir=" + plugin,
		"--socket=" + s.sock,
		"--bind-address=127.0.0.1",
		"--port=" + strconv.Itoa(s.port),
		"--pid-file=" + filepath.Join(dir, "pid"),
		"--log-error=" + s.errlog,
		"--log-warnings=2",
		"--skip-name-resolve",
		"--skip-log-bin",
		"--innodb-buffer-pool-size=16M",
		"--innodb-log-file-size=8M",
		"--plugin-load-add=server_audit",
		"--server-audit-logging=ON",
		"--server-audit-file-path=" + s.audit,
	}, userArgs...)
	cmd := exec.Command(mariadbd, args...)
	cmd.Env = append(os.Environ(), "TZ=UTC")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		// A throw-away server: kill it (and anything it started) outright.
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
	})
	// Wait for "ready for connections" in the error log: polling with a
	// client would add logins to the audit log.
	deadline := time.Now().Add(30 * time.Second)
	for {
		b, _ := os.ReadFile(s.errlog)
		if bytes.Contains(b, []byte("ready for connections")) {
			break
		}
		select {
		case <-done:
			t.Fatalf("mariadbd exited: %s\n%s\n%s", cmd.ProcessState, out.String(), b)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("mariadbd not ready after 30s:\n%s\n%s", out.String(), b)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return s
}

// run runs one client session (one connection) with the SQL on stdin.
// Over the socket the account is u@localhost; with tcp it is u@127.0.0.1
// (skip-name-resolve).
func (s *server) run(t *testing.T, tcp bool, user, password, sql string, wantErr bool) string {
	t.Helper()
	args := []string{"--no-defaults", "--batch", "--force", "-u" + user}
	if tcp {
		args = append(args, "--protocol=tcp", "-h127.0.0.1", "-P"+strconv.Itoa(s.port))
	} else {
		args = append(args, "--protocol=socket", "-S"+s.sock)
	}
	if password != "" {
		args = append(args, "-p"+password)
	}
	cmd := exec.Command(s.client, args...)
	cmd.Stdin = strings.NewReader(sql)
	out, err := cmd.CombinedOutput()
	if (err != nil) != wantErr {
		t.Fatalf("%s %v: err=%v, want error %v\n%s", user, sql, err, wantErr, out)
	}
	return string(out)
}

// TestRealServer runs a scripted session against a real MariaDB with
// server_audit and checks that the parsers count exactly what it did.
func TestRealServer(t *testing.T) {
	s := startServer(t)
	start := time.Now().Add(-time.Minute)

	// 1. root over the socket: schema, users, grants, a write.
	s.run(t, false, "root", "", `
CREATE DATABASE shop;
CREATE TABLE shop.orders (id INT PRIMARY KEY, item VARCHAR(40));
INSERT INTO shop.orders VALUES (1, 'book, paperback'), (2, 'it''s a pen');
CREATE USER 'analyst'@'%' IDENTIFIED BY 'Secret-1';
GRANT SELECT ON shop.* TO 'analyst'@'%';
`, false)
	// 2. failed logins: 3 wrong passwords over TCP, 1 unknown user without
	// a password over the socket.
	for i := range 3 {
		s.run(t, true, "analyst", fmt.Sprintf("wrong%d", i), "SELECT 1;\n", true)
	}
	s.run(t, false, "intruder", "", "SELECT 1;\n", true)
	// 3. analyst logs in over TCP, reads, and is denied three statements
	// (--force goes on after each error).
	out := s.run(t, true, "analyst", "Secret-1", `
SELECT id, item FROM shop.orders WHERE item LIKE '%,%';
DELETE FROM shop.orders;
DROP TABLE shop.orders;
SELECT user FROM mysql.user;
`, false) // --force: the client goes on and exits 0
	if n := strings.Count(out, "ERROR 1142"); n != 3 {
		t.Fatalf("want 3 denied statements, client said:\n%s", out)
	}
	// 4. root: DDL, privilege changes, a multi-line statement.
	s.run(t, false, "root", "", `
ALTER TABLE shop.orders ADD COLUMN note TEXT;
REVOKE SELECT ON shop.* FROM 'analyst'@'%';
ALTER USER 'analyst'@'%' IDENTIFIED BY 'Secret-2';
SET PASSWORD FOR 'analyst'@'%' = PASSWORD('Secret-3');
CREATE USER 'tmp'@'localhost';
DROP USER 'tmp'@'localhost';
SELECT id,
       item
FROM shop.orders
WHERE id > 0;
DROP TABLE shop.orders;
DROP DATABASE shop;
DROP USER 'analyst'@'%';
`, false)

	// 7 sessions: 3 logins and 4 failed attempts, each ends with DISCONNECT.
	audit := readLog(t, s.audit, ",DISCONNECT,", 7)
	errlog := readLog(t, s.errlog, "Access denied", 4)
	if *saveReal {
		if err := os.WriteFile("testdata/real-10.11.log", audit, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile("../mariadberror/testdata/real-10.11.log", errlog, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	opts := parse.Options{Location: time.UTC}.Defaults()
	recs := parsetest.Run(mariadbaudit.Format, opts, audit)
	type key struct {
		c event.Category
		o event.Outcome
	}
	got := map[key]int{}
	actions := map[event.Action]int{}
	for _, r := range recs {
		if r.Error != "" {
			t.Errorf("line %d: %s", r.Line, r.Error)
			continue
		}
		ev := r.Event
		if ev.Time.Before(start) || ev.Time.After(time.Now().Add(time.Minute)) {
			t.Errorf("line %d: time %v out of range", r.Line, ev.Time)
		}
		if ev.Category == event.CategoryAccessDenied && ev.User != "analyst" {
			t.Errorf("line %d: denied for %q", r.Line, ev.User)
		}
		if strings.Contains(ev.Statement, "Secret-3") || strings.Contains(ev.Raw, "Secret-3") {
			t.Errorf("line %d: password not redacted: %s", r.Line, ev.Raw)
		}
		got[key{ev.Category, ev.Outcome}]++
		actions[ev.Action]++
	}
	S, F := event.OutcomeSuccess, event.OutcomeFailure
	want := map[key]int{
		{event.CategoryLogin, S}:           3, // root ×2, analyst
		{event.CategoryLogin, F}:           4, // 3 wrong passwords + unknown user; not also logouts
		{event.CategoryLogout, S}:          3,
		{event.CategoryDDL, S}:             5, // CREATE DATABASE, CREATE TABLE, ALTER TABLE, DROP TABLE, DROP DATABASE
		{event.CategoryPrivilegeChange, S}: 8, // CREATE USER×2, GRANT, REVOKE, ALTER USER, SET PASSWORD, DROP USER×2
		{event.CategoryDMLWrite, S}:        1, // INSERT (the TABLE WRITE event is not counted again)
		{event.CategoryRead, S}:            2, // analyst SELECT, multi-line SELECT
		{event.CategoryAccessDenied, F}:    3, // DELETE, DROP TABLE, SELECT mysql.user
	}
	for k, n := range want {
		if got[k] != n {
			t.Errorf("%s/%s: got %d, want %d", k.c, k.o, got[k], n)
		}
	}
	for k, n := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("unexpected %s/%s: %d", k.c, k.o, n)
		}
	}
	wantActions := map[event.Action]int{
		event.ActionConnect: 7, event.ActionDisconnect: 3,
		event.ActionCreateDatabase: 1, event.ActionCreateTable: 1, event.ActionAlterTable: 1,
		event.ActionDropTable: 2, event.ActionDropDatabase: 1, // DROP TABLE: denied + root's
		event.ActionCreateUser: 2, event.ActionGrant: 1, event.ActionRevoke: 1, event.ActionAlterUser: 1,
		event.ActionSetPassword: 1, event.ActionDropUser: 2,
		event.ActionInsert: 1, event.ActionSelect: 3, event.ActionDelete: 1,
	}
	for a, n := range wantActions {
		if actions[a] != n {
			t.Errorf("action %s: got %d, want %d", a, actions[a], n)
		}
	}
	for a, n := range actions {
		if _, ok := wantActions[a]; !ok {
			t.Errorf("unexpected action %s: %d", a, n)
		}
	}
	// The multi-line statement keeps its newlines.
	found := false
	for _, r := range recs {
		if r.Event != nil && strings.HasPrefix(r.Event.Statement, "SELECT id,\n       item\nFROM shop.orders") {
			found = true
		}
	}
	if !found {
		t.Error("multi-line SELECT not decoded")
	}

	// The error log: one failed login per attempt, nothing else.
	erecs := parsetest.Run(mariadberror.Format, opts, errlog)
	var failed, other int
	for _, r := range erecs {
		switch {
		case r.Error != "":
			t.Errorf("error log line %d: %s", r.Line, r.Error)
		case r.Event.Category == event.CategoryLogin && r.Event.Outcome == event.OutcomeFailure:
			failed++
		default:
			other++
		}
	}
	if failed != 4 || other != 0 {
		t.Errorf("error log: %d failed logins and %d other events, want 4 and 0", failed, other)
	}
}

// readLog reads a log once it holds want occurrences of marker: the server
// writes a DISCONNECT after the client has already exited.
func readLog(t *testing.T, path, marker string, want int) []byte {
	t.Helper()
	var b []byte
	for range 100 {
		var err error
		b, err = os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Count(b, []byte(marker)) >= want && bytes.HasSuffix(b, []byte("\n")) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	return b
}
