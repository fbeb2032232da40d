package sqlx

import (
	"strconv"
	"sync"
	"testing"
)

// TestConcurrentAnalyzers runs two Analyzers (two detectors in one
// process) and the uncached Analyze at once on DDL, DCL, SET and masked
// statements, the classes that go through the TiDB parser's paths with
// package-level state (charset and collation lookups, the masked-secret
// retry, the go-sqllexer fallback). Every result must be the one Analyze
// gives alone. Run with -race: analyzeMySQL used to return its parser to the
// pool before walking the statements, which live in the parser's reused
// result slice, so a concurrent Parse replaced the AST under the walk (a
// data race, and wrong features).
func TestConcurrentAnalyzers(t *testing.T) {
	stmts := []stmtCase{
		{"GRANT ALL PRIVILEGES ON *.* TO 'bob'@'%' WITH GRANT OPTION", MySQL},
		{"CREATE USER 'x'@'%' IDENTIFIED BY ''", MySQL},
		{"ALTER USER 'app'@'%' IDENTIFIED BY '*****'", MySQL},
		{"CREATE TABLE t (a INT, b VARCHAR(10) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin) DEFAULT CHARSET=latin1", MySQL},
		{"ALTER TABLE t ADD COLUMN c TEXT COLLATE 'utf8mb4_general_ci'", MySQL},
		{"SELECT _utf8mb4'x' COLLATE utf8mb4_bin, CONVERT('a' USING gbk), CAST('a' AS CHAR CHARACTER SET latin1)", MySQL},
		{"SET GLOBAL tidb_audit_enabled = OFF", MySQL},
		{"SET NAMES utf8mb4 COLLATE utf8mb4_unicode_ci", MySQL},
		{"CREATE FUNCTION sys_exec RETURNS INT SONAME 'lib_mysqludf_sys.so'", MySQL},
		{"FLASHBACK TABLE t TO t2", MySQL},
		{"BACKUP DATABASE * TO 's3://bucket/x'", MySQL},
		{"DROP USER 'bob'@'%'", MySQL},
		{"ALTER ROLE mallory SUPERUSER", Postgres},
		{"COPY t TO PROGRAM 'curl x'", Postgres},
		{"create user u1 pass ''", TDengine},
		{"SELECT * FROM t WHERE a = 5", MySQL},
	}
	a1, a2 := New(Options{}), New(Options{CacheSize: 8})
	want := map[string]Analysis{}
	for _, c := range stmts {
		for i := 0; i < 3; i++ {
			sql := c.sql + " /* " + strconv.Itoa(i) + " */"
			want[c.d.String()+sql] = Analyze(sql, c.d)
		}
	}
	var wg sync.WaitGroup
	for w := 0; w < 6; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < 40; i++ {
				c := stmts[(i+w)%len(stmts)]
				sql := c.sql + " /* " + strconv.Itoa(i%3) + " */"
				var got Analysis
				switch w % 3 {
				case 0:
					got = a1.Analyze(sql, c.d)
				case 1:
					got = a2.Analyze(sql, c.d)
				default:
					got = Analyze(sql, c.d)
				}
				if d := diffAnalysis(got, want[c.d.String()+sql]); d != nil {
					t.Errorf("%q analysed concurrently: %v", sql, d)
				}
			}
		}(w)
	}
	wg.Wait()
}
