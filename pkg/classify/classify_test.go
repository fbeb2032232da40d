package classify

import (
	"testing"

	"github.com/dbsec/dbsec/pkg/event"
)

func TestStatement(t *testing.T) {
	for _, tc := range []struct {
		sql  string
		want event.Action
	}{
		{"SELECT 1", event.ActionSelect},
		{"  /* hint */ select * from t", event.ActionSelect},
		{"(SELECT a FROM t) UNION (SELECT b FROM u)", event.ActionSelect},
		{"-- comment\nWITH x AS (SELECT 1) SELECT * FROM x", event.ActionSelect},
		{"# mysql comment\ninsert into t values (1)", event.ActionInsert},
		{"/*!40101 SET NAMES utf8 */", event.ActionSetSession},
		{"UPDATE t SET a = 1", event.ActionUpdate},
		{"delete from t", event.ActionDelete},
		{"REPLACE INTO t VALUES (1)", event.ActionReplace},
		{"LOAD DATA LOCAL INFILE '/tmp/x' INTO TABLE t", event.ActionLoadData},
		{"load xml infile 'x'", event.ActionOther},
		{"GRANT ALL ON *.* TO 'a'@'%' WITH GRANT OPTION", event.ActionGrant},
		{"revoke select on db.* from u", event.ActionRevoke},
		{"CREATE USER 'a'@'%' IDENTIFIED BY 'x'", event.ActionCreateUser},
		{"CREATE ROLE analyst", event.ActionCreateRole},
		{"ALTER USER u ACCOUNT LOCK", event.ActionAlterUser},
		{"ALTER ROLE bob PASSWORD 'x'", event.ActionAlterUser},
		{"DROP USER IF EXISTS 'u'", event.ActionDropUser},
		{"DROP ROLE r", event.ActionDropRole},
		{"RENAME USER a TO b", event.ActionRenameUser},
		{"SET PASSWORD FOR u = 'x'", event.ActionSetPassword},
		{"SET DEFAULT ROLE ALL TO u", event.ActionSetRole},
		{"SET ROLE admin", event.ActionSetRole},
		{"SET GLOBAL tidb_slow_log_threshold = 300", event.ActionSet},
		{"set @@global.read_only = 1", event.ActionSet},
		{"SET PERSIST max_connections = 10", event.ActionSet},
		{"SET autocommit = 0", event.ActionSetSession},
		{"set session sql_mode=''", event.ActionSetSession},
		{"CREATE TABLE t (a int)", event.ActionCreateTable},
		{"CREATE TEMPORARY TABLE IF NOT EXISTS t (a int)", event.ActionCreateTable},
		{"create stable meters (ts timestamp, v float) tags (loc binary(64))", event.ActionCreateTable},
		{"CREATE DATABASE shop", event.ActionCreateDatabase},
		{"create schema s", event.ActionCreateDatabase},
		{"CREATE UNIQUE INDEX i ON t (a)", event.ActionCreateIndex},
		{"CREATE OR REPLACE ALGORITHM=MERGE DEFINER=`root`@`%` SQL SECURITY DEFINER VIEW v AS SELECT 1", event.ActionCreateView},
		{"CREATE MATERIALIZED VIEW mv AS SELECT 1", event.ActionCreateView},
		{"CREATE FUNCTION f() RETURNS INT RETURN 1", event.ActionCreateOther},
		{"ALTER TABLE t ADD COLUMN b int", event.ActionAlterTable},
		{"ALTER ONLINE TABLE t ADD INDEX (a)", event.ActionAlterTable},
		{"ALTER DATABASE d CHARACTER SET utf8mb4", event.ActionAlterDatabase},
		{"ALTER SYSTEM SET log_connections = on", event.ActionConfigChange},
		{"ALTER INSTANCE RELOAD TLS", event.ActionConfigChange},
		{"alter view v as select 2", event.ActionAlterView},
		{"ALTER SEQUENCE s RESTART", event.ActionAlterOther},
		{"DROP TABLE IF EXISTS t", event.ActionDropTable},
		{"drop temporary table t", event.ActionDropTable},
		{"DROP DATABASE d", event.ActionDropDatabase},
		{"DROP INDEX i ON t", event.ActionDropIndex},
		{"DROP VIEW v", event.ActionDropView},
		{"DROP TRIGGER tr", event.ActionDropOther},
		{"TRUNCATE TABLE t", event.ActionTruncateTable},
		{"truncate t", event.ActionTruncateTable},
		{"RENAME TABLE a TO b", event.ActionRenameTable},
		{"USE shop", event.ActionUse},
		{"SHOW GRANTS", event.ActionShow},
		{"EXPLAIN SELECT 1", event.ActionExplain},
		{"desc t", event.ActionExplain},
		{"KILL 42", event.ActionKill},
		{"FLUSH PRIVILEGES", event.ActionFlush},
		{"SHUTDOWN", event.ActionShutdown},
		{"BACKUP DATABASE * TO 's3://b'", event.ActionBackup},
		{"RESTORE DATABASE * FROM 's3://b'", event.ActionRestore},
		{"IMPORT INTO t FROM 's3://b/x.csv'", event.ActionLoadData},
		{"INSTALL PLUGIN server_audit SONAME 'server_audit.so'", event.ActionInstallPlugin},
		{"UNINSTALL PLUGIN server_audit", event.ActionUninstallPlugin},
		{"BEGIN", event.ActionTransaction},
		{"START TRANSACTION", event.ActionTransaction},
		{"commit", event.ActionTransaction},
		{"ROLLBACK TO SAVEPOINT s", event.ActionTransaction},
		{"PREPARE s FROM 'select 1'", event.ActionPrepare},
		{"EXECUTE s", event.ActionExecute},
		{"CALL p()", event.ActionCall},
		{"COPY t FROM '/tmp/x'", event.ActionLoadData},
		{"", event.ActionOther},
		{"   ", event.ActionOther},
		{"/* unterminated", event.ActionOther},
		{"?", event.ActionOther},
		{"VACUUM", event.ActionOther},
		{"selectx 1", event.ActionOther},
	} {
		if got := Statement(tc.sql); got != tc.want {
			t.Errorf("Statement(%q) = %v, want %v", tc.sql, got, tc.want)
		}
	}
}

func TestCategory(t *testing.T) {
	if c := Category(event.ActionDropTable, false); c != event.CategoryDDL {
		t.Errorf("drop_table: %v", c)
	}
	if c := Category(event.ActionDropTable, true); c != event.CategoryAccessDenied {
		t.Errorf("denied drop_table: %v", c)
	}
	for _, code := range []int64{1044, 1045, 1142, 1143, 1227, 8121} {
		if !DeniedErrno(code) {
			t.Errorf("%d is a denial", code)
		}
	}
	for _, code := range []int64{0, 1, 1062, 1146, 2013} {
		if DeniedErrno(code) {
			t.Errorf("%d is not a denial", code)
		}
	}
}

func TestNoAlloc(t *testing.T) {
	stmts := []string{
		"select * from t", "Create Or Replace View v as select 1", "GRANT SELECT ON db.* TO u",
		"set @@global.x = 1", "/* c */ drop temporary table if exists t",
	}
	n := testing.AllocsPerRun(200, func() {
		for _, s := range stmts {
			_ = Statement(s)
		}
	})
	if n != 0 {
		t.Errorf("%v allocations per run, want 0", n)
	}
}

func BenchmarkStatement(b *testing.B) {
	stmts := []string{
		"SELECT id, customer, total FROM orders WHERE total > 5",
		"insert into orders values (2, 'globex', 99.00)",
		"/* ops */ CREATE TABLE IF NOT EXISTS audit_trail (id BIGINT PRIMARY KEY)",
		"GRANT SELECT, INSERT ON shop.* TO 'app'@'%'",
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		_ = Statement(stmts[i%len(stmts)])
	}
}

func FuzzStatement(f *testing.F) {
	for _, s := range []string{"select 1", "create or replace view v", "set @@global.x=1", "/*!1 drop table t*/", "-- x\n#y\n(("} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a := Statement(s)
		if a >= event.NumActions {
			t.Fatalf("action %d out of range", a)
		}
	})
}
