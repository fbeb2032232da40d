package sqlx

import (
	"strings"
	"testing"

	"github.com/pingcap/tidb/pkg/parser"

	"github.com/dbsec/dbsec/pkg/event"
)

// Digests published in TiDB's own sources: the DigestHash doc comment
// (digester.go) and TestNormalizeDigest (digester_test.go).
func TestDigestEqualsTiDB(t *testing.T) {
	for _, tc := range []struct{ sql, norm, digest string }{
		{"select 1", "select ?", "e1c71d1661ae46e09b7aaec1c390957f0d6260410df4e4bc71b9c8d681021471"},
		{"select 2", "select ?", "e1c71d1661ae46e09b7aaec1c390957f0d6260410df4e4bc71b9c8d681021471"},
		{"select 1 from b where id in (1, 3, '3', 1, 2, 3, 4)", "select ? from `b` where `id` in ( ... )", "e1c8cc2738f596dc24f15ef8eb55e0d902910d7298983496362a7b46dbc0b310"},
	} {
		a := Analyze(tc.sql, MySQL)
		if a.Normalized != tc.norm || a.Digest != tc.digest {
			t.Errorf("Analyze(%q) = %q %s, want %q %s", tc.sql, a.Normalized, a.Digest, tc.norm, tc.digest)
		}
		d, n := Digest(tc.sql, MySQL)
		if d != tc.digest || n != tc.norm {
			t.Errorf("Digest(%q) = %s %q", tc.sql, d, n)
		}
	}
	// And equal to NormalizeDigest for anything, parsable or not.
	for _, s := range corpus {
		n, d := parser.NormalizeDigest(s)
		a := Analyze(s, MySQL)
		if a.Digest != d.String() || a.Normalized != n {
			t.Errorf("%q: digest differs from NormalizeDigest", s)
		}
	}
}

var corpus = []string{
	"SELECT * FROM orders WHERE id = 42 LIMIT 10",
	"GRANT ALL PRIVILEGES ON *.* TO 'bob'@'%' WITH GRANT OPTION",
	"CREATE USER 'x'@'%' IDENTIFIED BY ''",
	"DELETE FROM users",
	"select * from t where a = 1 or 1=1",
	"SELECT * FROM t INTO OUTFILE '/tmp/x'",
	"CREATE FUNCTION sys_exec RETURNS INT SONAME 'lib_mysqludf_sys.so'",
	"INSERT INTO t VALUES ('abc", // truncated
}

func TestFeatures(t *testing.T) {
	for _, tc := range []struct {
		d       Dialect
		sql     string
		want    Features
		notWant Features
		action  event.Action
	}{
		// D10 / D11
		{MySQL, "GRANT ALL PRIVILEGES ON *.* TO 'bob'@'%' WITH GRANT OPTION", GrantAll | GrantBroadLevel | GrantOption, 0, event.ActionGrant},
		{MySQL, "GRANT SELECT ON shop.orders TO 'app'@'10.%'", 0, GrantAll | GrantBroadLevel | GrantOption | GrantPrivileged, event.ActionGrant},
		{MySQL, "GRANT SUPER, FILE ON *.* TO bob", GrantPrivileged | GrantBroadLevel, GrantAll, event.ActionGrant},
		{MySQL, "GRANT SYSTEM_VARIABLES_ADMIN ON *.* TO bob", GrantPrivileged, 0, event.ActionGrant},
		{MySQL, "GRANT SELECT ON shop.* TO bob", GrantBroadLevel, GrantAll | GrantPrivileged, event.ActionGrant},
		{Postgres, "ALTER ROLE mallory SUPERUSER", GrantPrivileged, 0, event.ActionAlterUser},
		{Postgres, "GRANT pg_execute_server_program TO mallory", GrantPrivileged, 0, event.ActionGrant},
		{Postgres, "GRANT SELECT ON orders TO app", 0, GrantPrivileged | GrantAll, event.ActionGrant},
		{TDengine, "GRANT ALL ON *.* TO u1", GrantAll | GrantBroadLevel, 0, event.ActionGrant},
		// D12
		{MySQL, "CREATE USER 'x'@'%' IDENTIFIED BY ''", EmptyPassword | HostAny, NoAuth, event.ActionCreateUser},
		{MySQL, "CREATE USER 'x'@'10.0.0.1'", NoAuth, EmptyPassword | HostAny, event.ActionCreateUser},
		{MySQL, "CREATE USER 'x'@'10.0.0.1' IDENTIFIED BY 's3cret!'", 0, NoAuth | EmptyPassword | HostAny, event.ActionCreateUser},
		{TDengine, "CREATE USER u1 PASS ''", EmptyPassword, 0, event.ActionCreateUser},
		// D20
		{MySQL, "DELETE FROM users", NoWhere | NoLimit, WhereAlwaysTrue, event.ActionDelete},
		{MySQL, "UPDATE users SET a = 1 WHERE 1=1", WhereAlwaysTrue | NoLimit, NoWhere, event.ActionUpdate},
		{MySQL, "DELETE FROM users WHERE id = 7", NoLimit, NoWhere | WhereAlwaysTrue, event.ActionDelete},
		{Postgres, "DELETE FROM users", NoWhere, 0, event.ActionDelete},
		{Postgres, "DELETE FROM users WHERE id = $1", 0, NoWhere, event.ActionDelete},
		// D23 / D24 / D25
		{MySQL, "SELECT * FROM t INTO OUTFILE '/var/www/x.php'", IntoOutfile, 0, event.ActionSelect},
		{MySQL, "SELECT load_file('/etc/passwd')", FileRead, IntoOutfile, event.ActionSelect},
		{MySQL, "LOAD DATA LOCAL INFILE '/tmp/a.csv' INTO TABLE t", FileRead, 0, event.ActionLoadData},
		{Postgres, "COPY (SELECT 1) TO PROGRAM 'curl evil'", CmdExec, 0, event.ActionLoadData},
		{Postgres, "COPY users TO '/tmp/users.csv'", FileWrite, CmdExec, event.ActionLoadData},
		{MySQL, "BACKUP DATABASE * TO 's3://bucket/p?access-key=x'", ExternalExport, 0, event.ActionBackup},
		{MySQL, "BACKUP DATABASE * TO 'local:///backup'", 0, ExternalExport, event.ActionBackup},
		// D14 / D16 / D17
		{MySQL, "SET GLOBAL tidb_audit_enabled = 0", AuditDisable, AuditModify, event.ActionAuditConfig},
		{MySQL, "SET GLOBAL tidb_audit_enabled = OFF", AuditDisable, 0, 0},
		{MySQL, "SET GLOBAL tidb_audit_enabled = ON", AuditEnable, AuditDisable | AuditModify, 0},
		{MySQL, "SET GLOBAL server_audit_logging=ON", AuditEnable, AuditDisable | AuditModify, event.ActionSet},
		{MySQL, "SET GLOBAL server_audit_logging = 1", AuditEnable, AuditDisable | AuditModify, 0},
		{MySQL, "SET GLOBAL audit_log_filter_disable = false", AuditEnable, AuditDisable | AuditModify, 0},
		{MySQL, "SET GLOBAL server_audit_events = 'CONNECT,QUERY,TABLE'", AuditEnable, AuditDisable | AuditModify, 0},
		{MySQL, "SET GLOBAL server_audit_events = 'CONNECT'", AuditModify, AuditDisable | AuditEnable, 0},
		{MySQL, "SET GLOBAL server_audit_excl_users = 'app'", AuditModify, AuditEnable, 0},
		{MySQL, "SET GLOBAL server_audit_excl_users = ''", AuditEnable, AuditModify, 0},
		{MySQL, "SET GLOBAL server_audit_incl_users = 'root'", AuditModify, AuditEnable, 0},
		{MySQL, "SET GLOBAL server_audit_file_path = '/dev/null'", AuditModify, AuditEnable, 0},
		{Postgres, "ALTER SYSTEM SET pgaudit.log = 'all'", AuditEnable, AuditModify | AuditDisable, event.ActionConfigChange},
		{Postgres, "ALTER SYSTEM SET pgaudit.log TO 'read, write, ddl, role, misc'", AuditModify, AuditEnable | AuditDisable, 0},
		{Postgres, "ALTER SYSTEM SET pgaudit.log = 'all, -misc'", AuditModify, AuditEnable | AuditDisable, 0},
		{Postgres, "SET pgaudit.log = 'all'", AuditEnable, AuditModify | AuditDisable, event.ActionSetSession},
		{Postgres, "SET pgaudit.log = 'none'", AuditDisable, AuditEnable, 0},
		{Postgres, "ALTER SYSTEM SET pgaudit.log_parameter = on", AuditEnable, AuditModify, 0},
		{Postgres, "ALTER SYSTEM SET pgaudit.log_catalog = off", AuditModify, AuditEnable, 0},
		{Postgres, "ALTER ROLE app SET pgaudit.log = 'none'", AuditDisable, AuditEnable, event.ActionAlterUser},
		{Postgres, "ALTER ROLE auditor SET pgaudit.log = 'all'", AuditEnable, AuditDisable | AuditModify, event.ActionAlterUser},
		{Postgres, "ALTER DATABASE shop RESET pgaudit.log", AuditModify, AuditEnable, 0},
		{MySQL, "SET GLOBAL server_audit_logging = OFF", AuditDisable, 0, 0},
		{MySQL, "SET GLOBAL audit_log_filter_disable = true", AuditDisable, 0, 0},
		{MySQL, "SET GLOBAL max_connections = 100", 0, AuditDisable | AuditModify | LogEvasion | DangerousFeature, event.ActionSet},
		{MySQL, "SELECT audit_log_remove_filter('f1')", AuditDisable, 0, 0},
		{MySQL, "SELECT audit_log_create_filter('all', '{}')", AuditEnable, AuditModify | AuditDisable, 0},
		{MySQL, "SELECT audit_log_create_rule('%@%', 'all')", AuditEnable, AuditModify | AuditDisable, 0},
		{MySQL, `SELECT audit_log_filter_set_filter('none', '{ "filter": { "log": false } }')`, AuditModify, AuditDisable, 0},
		{MySQL, "SELECT audit_log_filter_set_user('app@%', 'none')", AuditModify, AuditDisable, 0},
		{MySQL, "UNINSTALL PLUGIN server_audit", AuditDisable, 0, event.ActionUninstallPlugin},
		{Postgres, "ALTER SYSTEM SET pgaudit.log = 'none'", AuditDisable | DangerousFeature, 0, 0},
		{Postgres, "DROP EXTENSION pgaudit", AuditDisable, 0, 0},
		{MySQL, "SET sql_log_bin = 0", LogEvasion, 0, 0},
		{MySQL, "SET sql_log_bin = 1", 0, LogEvasion, 0},
		{MySQL, "SET GLOBAL local_infile = 1", DangerousFeature | DangerousEnabled, 0, 0},
		{MySQL, "SET GLOBAL local_infile = 0", DangerousFeature, DangerousEnabled, 0},
		// D18
		{MySQL, "CREATE FUNCTION sys_exec RETURNS INT SONAME 'lib_mysqludf_sys.so'", ServerCode, 0, 0},
		{MySQL, "INSTALL PLUGIN evil SONAME 'evil.so'", ServerCode, 0, event.ActionInstallPlugin},
		{Postgres, "CREATE EXTENSION plpython3u", ServerCode, 0, 0},
		{Postgres, "CREATE EXTENSION pg_trgm", 0, ServerCode, 0},
		// D22
		{MySQL, "FLASHBACK TABLE t", Recoverability, 0, 0},
		{MySQL, "RECOVER TABLE t", Recoverability, 0, 0},
		// D30 / D31
		{MySQL, "SELECT table_name FROM information_schema.tables", Catalog, PasswordHashRead, event.ActionSelect},
		{MySQL, "SELECT user, authentication_string FROM mysql.user", Catalog | PasswordHashRead, 0, event.ActionSelect},
		{MySQL, "SHOW GRANTS FOR root", Catalog, 0, event.ActionShow},
		{MySQL, "SELECT @@version", EnvProbe, 0, event.ActionSelect},
		{MySQL, "SELECT version(), user()", EnvProbe, 0, 0},
		{MySQL, "SELECT name FROM users WHERE id = 1", 0, Catalog | EnvProbe | Injection, event.ActionSelect},
		{Postgres, "SELECT rolname, rolpassword FROM pg_authid", Catalog | PasswordHashRead, 0, 0},
		// D32
		{MySQL, "SELECT * FROM users WHERE name = 'a' OR 1=1", Tautology, 0, 0},
		{MySQL, "SELECT * FROM users WHERE name = 'a' OR 'x'='x'", Tautology, 0, 0},
		{MySQL, "SELECT * FROM users WHERE 1=1 AND name = 'a'", 0, Tautology, 0},
		{MySQL, "SELECT * FROM users WHERE a = 1 OR b = 2", 0, Tautology, 0},
		{MySQL, "SELECT a FROM t WHERE id = 1 UNION ALL SELECT NULL, NULL, NULL", UnionNull, 0, event.ActionSelect},
		{MySQL, "SELECT a FROM t UNION SELECT b FROM u", 0, UnionNull, 0},
		{MySQL, "SELECT * FROM t WHERE id = 1 AND SLEEP(5)", TimeBased, 0, 0},
		{MySQL, "SELECT BENCHMARK(1000000, MD5('a'))", TimeBased, 0, 0},
		{MySQL, "SELECT extractvalue(1, concat(0x7e, version()))", ErrorBased, 0, 0},
		{MySQL, "SELECT * FROM t; DROP TABLE users", Stacked, 0, event.ActionSelect},
		{MySQL, "SELECT 'a;b' FROM t", 0, Stacked, 0},
		{MySQL, "SELECT 1; -- trailing", 0, Stacked, 0},
		{MySQL, "SELECT CHAR(65)+CHAR(66)+CHAR(67)", Obfuscated, 0, 0},
		{MySQL, "SELECT /*!50000 user */ FROM t", Obfuscated, 0, 0},
		{MySQL, "SELECT * FROM t WHERE id=1 OR 1=1 -- x", Obfuscated | Tautology, 0, 0},
		{Postgres, "SELECT * FROM t WHERE id = 1 OR 1=1", Tautology, 0, 0},
		{Postgres, "SELECT pg_sleep(10)", TimeBased, 0, 0},
		{MySQL, "SELECT * FROM t WHERE note = 'please sleep well'", 0, TimeBased, 0},
	} {
		a := Analyze(tc.sql, tc.d)
		if a.Features&tc.want != tc.want {
			t.Errorf("%s %q: features %s, missing %s", tc.d, tc.sql, a.Features, tc.want&^a.Features)
		}
		if a.Features&tc.notWant != 0 {
			t.Errorf("%s %q: features %s, unexpected %s", tc.d, tc.sql, a.Features, a.Features&tc.notWant)
		}
		if tc.action != 0 && a.Action != tc.action {
			t.Errorf("%s %q: action %s, want %s", tc.d, tc.sql, a.Action, tc.action)
		}
	}
}

func TestDetails(t *testing.T) {
	a := Analyze("ALTER USER 'root'@'%' IDENTIFIED BY 'x'", MySQL)
	if strings.Join(a.TargetUsers, ",") != "root" {
		t.Errorf("target users %v", a.TargetUsers)
	}
	a = Analyze("SET GLOBAL tidb_gc_life_time = '1m'", MySQL)
	if len(a.Vars) != 1 || a.Vars[0].Name != "tidb_gc_life_time" || !a.Vars[0].Global || a.Vars[0].Value != "1m" {
		t.Errorf("vars %+v", a.Vars)
	}
	a = Analyze("DROP TABLE shop.orders, t2", MySQL)
	if strings.Join(a.Tables, ",") != "shop.orders,t2" || a.Action != event.ActionDropTable {
		t.Errorf("tables %v action %s", a.Tables, a.Action)
	}
	a = Analyze("SELECT * FROM t INTO OUTFILE '/etc/cron.d/x'", MySQL)
	if len(a.Paths) != 1 || a.Paths[0] != "/etc/cron.d/x" {
		t.Errorf("paths %v", a.Paths)
	}
	a = Analyze("select ts, avg(v) from meters where ts > now - 1h interval(10m)", TDengine)
	b := Analyze("select ts, avg(v) from meters where ts > now - 2h interval(5m)", TDengine)
	if a.Digest != b.Digest || a.Digest == "" {
		t.Errorf("TDengine digests differ: %q vs %q", a.Normalized, b.Normalized)
	}
	if a.Action != event.ActionSelect {
		t.Errorf("TDengine action %s", a.Action)
	}
	// Truncated statement: digest still TiDB's, tables from the lexer.
	a = Analyze("INSERT INTO shop.orders (a, b) VALUES ('abc", MySQL)
	if a.Parsed || a.Action != event.ActionInsert || a.Digest == "" {
		t.Errorf("truncated: %+v", a)
	}
}

func TestCache(t *testing.T) {
	z := New(Options{CacheSize: 2})
	q := "SELECT * FROM t WHERE a = 1 OR 1=1"
	a1 := z.Analyze(q, MySQL)
	a2 := z.Analyze(q, MySQL)
	if a1.Digest != a2.Digest || a1.Features != a2.Features {
		t.Fatal("cached analysis differs")
	}
	if h, m := z.CacheStats(); h != 1 || m != 1 {
		t.Errorf("hits %d misses %d", h, m)
	}
	// Different dialects are different entries.
	z.Analyze(q, Postgres)
	z.Analyze("select 3", MySQL)
	if n := z.cache.len(); n != 2 {
		t.Errorf("cache len %d, want cap 2", n)
	}
	// Too long: not cached.
	z2 := New(Options{MaxCachedLen: 4})
	z2.Analyze("select 1", MySQL)
	if z2.cache.len() != 0 {
		t.Error("long statement cached")
	}
}

func TestFeaturesString(t *testing.T) {
	if s := (GrantAll | Stacked).String(); s != "grant_all|stacked" {
		t.Errorf("String = %q", s)
	}
	if len(featureNames[numFeatures-1]) == 0 {
		t.Error("feature names incomplete")
	}
}

func TestDialectOf(t *testing.T) {
	if DialectOf(event.SystemTiDB) != MySQL || DialectOf(event.SystemPostgres) != Postgres || DialectOf(event.SystemTDengine) != TDengine {
		t.Error("DialectOf")
	}
}

func FuzzAnalyze(f *testing.F) {
	for _, s := range corpus {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, d := range []Dialect{MySQL, Postgres, TDengine} {
			a := Analyze(s, d)
			if a.Digest == "" {
				t.Fatalf("empty digest for %q", s)
			}
		}
	})
}

// TestFilePaths: the path of a file read or write is taken from function
// arguments as well as from INTO OUTFILE, LOAD DATA and COPY, in every
// dialect, so that D23 can judge it.
func TestFilePaths(t *testing.T) {
	for _, c := range []struct {
		d     Dialect
		sql   string
		feat  Features
		paths string
	}{
		{MySQL, "SELECT LOAD_FILE('/etc/passwd')", FileRead, "/etc/passwd"},
		{MySQL, "SELECT load_file(0x2f6574632f736861646f77)", FileRead, "/etc/shadow"},
		{MySQL, "SELECT 1 UNION SELECT LOAD_FILE('/root/.ssh/id_rsa') -- truncat", FileRead, "/root/.ssh/id_rsa"},
		{Postgres, "SELECT pg_read_file('/etc/passwd')", FileRead, "/etc/passwd"},
		{Postgres, "SELECT pg_read_file('/etc/passwd', 0, 200)", FileRead, "/etc/passwd"},
		{Postgres, "select pg_read_binary_file('/var/lib/postgresql/.pgpass')", FileRead, "/var/lib/postgresql/.pgpass"},
		{Postgres, "SELECT lo_import('/etc/shadow')", FileRead, "/etc/shadow"},
		{Postgres, "SELECT lo_import('/etc/shadow', 4242)", FileRead, "/etc/shadow"},
		{Postgres, "SELECT lo_export(16401, '/var/www/html/shell.php')", FileWrite, "/var/www/html/shell.php"},
		{Postgres, "SELECT pg_ls_dir('/root')", FileRead, "/root"},
		{Postgres, "COPY t FROM '/etc/passwd'", FileRead, "/etc/passwd"},
		{Postgres, "COPY (SELECT 1) TO '/var/www/x.txt'", FileWrite, "/var/www/x.txt"},
		{MySQL, "LOAD DATA INFILE '/etc/passwd' INTO TABLE t", FileRead, "/etc/passwd"},
	} {
		a := Analyze(c.sql, c.d)
		if !a.Has(c.feat) {
			t.Errorf("%s %q: features %s, missing %s", c.d, c.sql, a.Features, c.feat)
		}
		if got := strings.Join(a.Paths, ","); got != c.paths {
			t.Errorf("%s %q: paths %q, want %q", c.d, c.sql, got, c.paths)
		}
	}
}

// TestMasked: statements whose secrets the server masked, or that it cut
// short, keep their verb, target accounts and account features.
func TestMasked(t *testing.T) {
	for _, c := range []struct {
		d       Dialect
		sql     string
		act     event.Action
		targets string
		feat    Features
	}{
		// MariaDB server_audit.
		{MySQL, "ALTER USER 'admin'@'%' IDENTIFIED BY *****", event.ActionAlterUser, "admin", 0},
		{MySQL, "SET PASSWORD FOR 'root'@'localhost' = PASSWORD(*****)", event.ActionSetPassword, "root", 0},
		{MySQL, "CREATE USER 'x'@'%' IDENTIFIED BY *****", event.ActionCreateUser, "x", HostAny},
		{MySQL, "GRANT ALL ON *.* TO 'bob'@'%' IDENTIFIED BY *****", event.ActionGrant, "bob", GrantAll | GrantBroadLevel},
		// MySQL Enterprise Audit.
		{MySQL, "CREATE USER `u`@`%` IDENTIFIED BY <secret>", event.ActionCreateUser, "u", HostAny},
		// pgaudit.
		{Postgres, "ALTER ROLE postgres PASSWORD <REDACTED>", event.ActionAlterUser, "postgres", 0},
		// Cut short at the query-log limit (and redacted by dbsec).
		{MySQL, "alter user 'admin'@'%' identified by '<redacted>", event.ActionAlterUser, "admin", 0},
		{MySQL, "CREATE USER 'y'@'%' IDENTIFIED VIA ed25519 USING PASSWORD('", event.ActionCreateUser, "y", HostAny},
		// TiDB's audit log with tidb_audit_log_redacted: literals as ?.
		{MySQL, "alter user `root`@`%` identified by ?", event.ActionAlterUser, "root", 0},
		{MySQL, "set password for `admin`@`%` = ?", event.ActionSetPassword, "admin", 0},
		{MySQL, "create user `u`@`%` identified by ?", event.ActionCreateUser, "u", HostAny},
		// TiDB's CRUCIAL OPERATION "secure text".
		{MySQL, "create user name@%", event.ActionCreateUser, "name", HostAny},
		{MySQL, "alter user {root@% password = ***}", event.ActionAlterUser, "root", 0},
	} {
		a := Analyze(c.sql, c.d)
		if a.Action != c.act || strings.Join(a.TargetUsers, ",") != c.targets || !a.Has(c.feat) {
			t.Errorf("%s %q: action %s targets %v features %s; want %s %s %s", c.d, c.sql, a.Action, a.TargetUsers, a.Features, c.act, c.targets, c.feat)
		}
	}
}
