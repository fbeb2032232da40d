package sqlx

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/dbsec/dbsec/pkg/event"
	"github.com/dbsec/dbsec/pkg/parse"
	"github.com/dbsec/dbsec/pkg/parse/formats"
)

// The differential test: the cached Analyzer against the reference Analyze
// on every statement, through one Analyzer so that statements of one shape
// hit the entry of the first. DBSEC_SQLX_SEED changes the generated
// statements. DBSEC_SQLX_DIFF=N runs N generated statements
// (default 3000, 1000 with -race); go test -run Differential with
// DBSEC_SQLX_DIFF=200000 is the big run.

type stmtCase struct {
	sql string
	d   Dialect
}

// diffAnalysis returns the names of the fields where a and b differ.
func diffAnalysis(a, b Analysis) []string {
	var out []string
	va, vb := reflect.ValueOf(a), reflect.ValueOf(b)
	for i := 0; i < va.NumField(); i++ {
		if !reflect.DeepEqual(va.Field(i).Interface(), vb.Field(i).Interface()) {
			out = append(out, fmt.Sprintf("%s: %v != %v", va.Type().Field(i).Name, va.Field(i).Interface(), vb.Field(i).Interface()))
		}
	}
	return out
}

// differential runs cases through one Analyzer and compares each result
// with Analyze. It returns the number of fingerprint hits.
func differential(t *testing.T, an *Analyzer, cases []stmtCase) {
	t.Helper()
	first := map[string]string{} // key → first statement, for the report
	bad := 0
	for _, c := range cases {
		got := an.Analyze(c.sql, c.d)
		want := Analyze(c.sql, c.d)
		if diffs := diffAnalysis(got, want); diffs != nil {
			key, _ := Fingerprint(nil, c.sql, c.d)
			t.Errorf("%s %q (shape first seen as %q):\n  %s", c.d, c.sql, first[string(key)], strings.Join(diffs, "\n  "))
			if bad++; bad > 20 {
				t.Fatal("too many differences")
			}
		}
		if key, ok := Fingerprint(nil, c.sql, c.d); ok {
			if _, seen := first[string(key)]; !seen {
				first[string(key)] = c.sql
			}
		}
	}
}

// diffSeed is DBSEC_SQLX_SEED (default 0) added to the generators' seeds.
func diffSeed(t *testing.T) uint64 {
	s := os.Getenv("DBSEC_SQLX_SEED")
	if s == "" {
		return 0
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func diffN(t *testing.T) int {
	n := 3000
	if raceEnabled {
		n = 1000
	}
	if s := os.Getenv("DBSEC_SQLX_DIFF"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil {
			t.Fatal(err)
		}
		n = v
	}
	return n
}

func TestDifferentialGenerated(t *testing.T) {
	n := diffN(t)
	g := newGen(1 + diffSeed(t))
	cases := make([]stmtCase, n)
	for i := range cases {
		cases[i] = g.stmt()
	}
	an := New(Options{})
	differential(t, an, cases)
	hits, misses := an.CacheStats()
	cacheable := 0
	for _, c := range cases {
		if _, ok := Fingerprint(nil, c.sql, c.d); ok {
			cacheable++
		}
	}
	t.Logf("%d generated statements, %d cacheable by fingerprint, cache hits %d misses %d (%.1f%% hits), %d entries",
		n, cacheable, hits, misses, 100*float64(hits)/float64(hits+misses), an.cache.len())
	// A small cache: eviction under way all the time.
	small := New(Options{CacheSize: 64})
	differential(t, small, cases[:min(len(cases), 2000)])
}

// TestDifferentialMutated changes the literals of every statement (generated
// and real) and requires that a statement with the same cacheable key has
// the same analysis.
func TestDifferentialMutated(t *testing.T) {
	n := diffN(t) / 3
	g := newGen(2 + diffSeed(t))
	cases := realStatements(t)
	real := len(cases)
	for i := 0; i < n; i++ {
		cases = append(cases, g.stmt())
	}
	pairs, same := 0, 0
	an := New(Options{})
	var all []stmtCase
	for _, c := range cases {
		all = append(all, c)
		for k := 0; k < 2; k++ {
			v, ok := g.mutate(c.sql, c.d)
			if !ok {
				break
			}
			if k == 1 {
				if w, ok := g.extendList(v, c.d); ok {
					v = w
				}
			}
			all = append(all, stmtCase{v, c.d})
			pairs++
			k1, ok1 := Fingerprint(nil, c.sql, c.d)
			k2, ok2 := Fingerprint(nil, v, c.d)
			if !ok1 || !ok2 || !bytes.Equal(k1, k2) {
				continue
			}
			same++
			if diffs := diffAnalysis(Analyze(c.sql, c.d), Analyze(v, c.d)); diffs != nil {
				t.Errorf("%s: one key, two analyses:\n  %q\n  %q\n  %s", c.d, c.sql, v, strings.Join(diffs, "\n  "))
			}
		}
	}
	differential(t, an, all)
	hits, misses := an.CacheStats()
	t.Logf("%d real + %d generated statements, %d mutated variants (%d with the original's cacheable key); cache hits %d misses %d",
		real, n, pairs, same, hits, misses)
	if real < 100 {
		t.Errorf("only %d real statements found", real)
	}
}

// TestDifferentialReal runs the real-server corpora as they are.
func TestDifferentialReal(t *testing.T) {
	cases := realStatements(t)
	differential(t, New(Options{}), cases)
	// And again, every statement twice, so that the second is a hit.
	an := New(Options{})
	differential(t, an, append(cases, cases...))
}

// realStatements collects the statements of the real-server samples (the
// parsers' golden files), of the repository's end-to-end corpus, and the SQL
// string literals of the detect, classify and sqlx tests (in every dialect).
func realStatements(t *testing.T) []stmtCase {
	t.Helper()
	var out []stmtCase
	add := func(sys event.System, sql string) {
		if strings.TrimSpace(sql) != "" {
			out = append(out, stmtCase{sql, DialectOf(sys)})
		}
	}
	goldens, _ := filepath.Glob("../parse/*/testdata/*.golden.json")
	for _, f := range goldens {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var recs []struct {
			Event struct {
				System    string `json:"system"`
				Statement string `json:"statement"`
			} `json:"event"`
		}
		if json.Unmarshal(b, &recs) != nil {
			continue
		}
		for _, r := range recs {
			if sys, err := event.ParseSystem(r.Event.System); err == nil {
				add(sys, r.Event.Statement)
			}
		}
	}
	for file, format := range map[string]string{
		"tidb/tidb-audit-plugin.log": "tidb-audit-plugin", "tidb/tidb.log": "tidb-log", "tidb/tidb-slow.log": "tidb-slow",
		"mariadb/server_audit.log": "mariadb-audit", "postgres/postgresql.log": "postgres",
		"tdengine/taosd.log": "tdengine-taosd", "tdengine/audit.jsonl": "tdengine-audit",
		"../pkg/detect/testdata/one-server/tidb-audit.log": "tidb-audit", "../pkg/detect/testdata/one-server/tidb.log": "tidb-log",
	} {
		f, ok := formats.Lookup(format)
		if !ok {
			t.Fatalf("format %s", format)
		}
		for _, ev := range parseFile(t, filepath.Join("../../testdata", file), f) {
			add(ev.System, ev.Statement)
		}
	}
	for _, pattern := range []string{"../detect/*_test.go", "../classify/*_test.go", "*_test.go"} {
		files, _ := filepath.Glob(pattern)
		for _, f := range files {
			for _, s := range sqlLiterals(t, f) {
				for _, d := range []Dialect{MySQL, Postgres, TDengine} {
					out = append(out, stmtCase{s, d})
				}
			}
		}
	}
	return out
}

func parseFile(t *testing.T, path string, f parse.Format) []event.Event {
	t.Helper()
	file, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	p := f.New(parse.Options{}.Defaults())
	var asm parse.Assembler
	if f.NewAssembler != nil {
		asm = f.NewAssembler()
	}
	var out []event.Event
	one := func(rec []byte) {
		var ev event.Event
		if ok, err := p.Parse(rec, &ev); ok && err == nil && ev.Statement != "" {
			out = append(out, ev)
		}
	}
	sc := bufio.NewScanner(file)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	var ln int64
	for sc.Scan() {
		ln++
		line := append([]byte(nil), sc.Bytes()...)
		if asm == nil {
			one(line)
			continue
		}
		if rec, _, ok := asm.Add(line, parse.Pos{Line: ln}); ok {
			one(rec)
		}
	}
	if asm != nil {
		if rec, _, ok := asm.Flush(); ok {
			one(rec)
		}
	}
	return out
}

var sqlVerbs = []string{"select", "insert", "update", "delete", "replace", "with", "grant", "revoke", "create", "alter",
	"drop", "set", "show", "load", "copy", "call", "truncate", "rename", "install", "uninstall", "flashback", "recover",
	"backup", "restore", "exec", "explain", "do", "values", "(", "/*", "--", "lock", "kill", "flush", "shutdown", "use"}

// sqlLiterals returns the string literals of a Go file that look like SQL.
func sqlLiterals(t *testing.T, path string) []string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	ast.Inspect(f, func(n ast.Node) bool {
		bl, ok := n.(*ast.BasicLit)
		if !ok || bl.Kind != token.STRING {
			return true
		}
		s, err := strconv.Unquote(bl.Value)
		if err != nil || len(s) < 6 {
			return true
		}
		low := strings.ToLower(strings.TrimSpace(s))
		for _, v := range sqlVerbs {
			if strings.HasPrefix(low, v) {
				out = append(out, s)
				break
			}
		}
		return true
	})
	return out
}

// gen generates statements: templates of every statement class the rules
// look at, with varied literals, case, whitespace, comments and IN-list
// lengths, in the MySQL family, PostgreSQL and TDengine.
type gen struct{ r *rand.Rand }

func newGen(seed uint64) *gen { return &gen{r: rand.New(rand.NewPCG(seed, seed*7+1))} }

func (g *gen) pick(xs ...string) string { return xs[g.r.IntN(len(xs))] }

var strPool = []string{
	"", "a", "bob", "alice@example.com", "2026-11-30 01:02:03", "2026-11-30", "O'Brien", "it's", "x\\y", "日本語",
	"a  b", "1=1", "' or '1'='1", "or 1=1", "sleep(5)", "/etc/passwd", "/tmp/x.php", "union select null", "where",
	"***", "<redacted>", "--", "#", "(", "password", "for example", "black or white", "char(65)", "0x41", "true",
	"null", "NULL", "s3://bucket/x", "pg_catalog", "%admin%", "_", "\t", "a\nb", "LIMIT", "information_schema",
	"John Smith", "Paid", "new", "sent", "1", "-1", "3.14", "utf8mb4_bin", "bogus", "ab", "\\", "é",
	"$$", "$1", "@@version", "/**/", "*/", "select", "x'41'", "with grant option", "OFF", "ON", "none", "all",
}

func (g *gen) rawStr() string {
	if g.r.IntN(4) == 0 {
		// random short text
		const al = "abcXYZ 019_'\\\"-#/*()=.,;%@$"
		n := g.r.IntN(12)
		b := make([]byte, n)
		for i := range b {
			b[i] = al[g.r.IntN(len(al))]
		}
		return string(b)
	}
	return strPool[g.r.IntN(len(strPool))]
}

// quote writes s as a string literal of dialect d.
func (g *gen) quote(s string, d Dialect, q byte) string {
	var b strings.Builder
	b.WriteByte(q)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == q:
			if d != Postgres && g.r.IntN(2) == 0 {
				b.WriteByte('\\')
			} else {
				b.WriteByte(q)
			}
		case c == '\\' && d != Postgres:
			b.WriteByte('\\')
		}
		b.WriteByte(c)
	}
	b.WriteByte(q)
	return b.String()
}

func (g *gen) str(d Dialect) string {
	if d != Postgres && g.r.IntN(10) == 0 {
		return g.quote(g.rawStr(), d, '"')
	}
	return g.quote(g.rawStr(), d, '\'')
}

func (g *gen) num() string {
	switch g.r.IntN(12) {
	case 0:
		return "0"
	case 1:
		return strconv.FormatInt(g.r.Int64(), 10)
	case 2:
		return "18446744073709551616" + strconv.Itoa(g.r.IntN(10))
	case 3:
		return "0" + strconv.Itoa(g.r.IntN(100))
	case 4:
		return strconv.Itoa(g.r.IntN(1000)) + "." + strconv.Itoa(g.r.IntN(1000))
	case 5:
		return strconv.Itoa(g.r.IntN(100)) + "e" + strconv.Itoa(g.r.IntN(400))
	case 6:
		return "0x" + strconv.FormatInt(g.r.Int64N(1<<40), 16)
	case 7:
		return strconv.Itoa(g.r.IntN(100)) + "."
	}
	return strconv.Itoa(g.r.IntN(100000))
}

func (g *gen) inList(d Dialect) string {
	n := 1 + g.r.IntN(12)
	parts := make([]string, n)
	for i := range parts {
		if g.r.IntN(2) == 0 {
			parts[i] = g.num()
		} else {
			parts[i] = g.str(d)
		}
	}
	return strings.Join(parts, g.pick(",", ", ", " , "))
}

// list is a parenthesised list of literals of one kind, of any length.
func (g *gen) list(d Dialect) string {
	n := 1 + g.r.IntN(20)
	parts := make([]string, n)
	k := g.r.IntN(4)
	for i := range parts {
		switch k {
		case 0:
			parts[i] = strconv.Itoa(g.r.IntN(100000))
		case 1:
			parts[i] = g.str(d)
		case 2:
			parts[i] = g.num()
		default:
			parts[i] = strconv.Itoa(g.r.IntN(100)) + "." + strconv.Itoa(g.r.IntN(100))
		}
	}
	return strings.Join(parts, g.pick(",", ", ", " , ", ",\n"))
}

func (g *gen) path(d Dialect) string {
	return g.quote(g.pick("/tmp/out.csv", "/var/www/html/shell.php", "/etc/passwd", "s3://bucket/dump", "C:\\\\x", "/tmp/"+strconv.Itoa(g.r.IntN(1e6))), d, '\'')
}

func (g *gen) ident() string {
	return g.pick("bob", "app", "mallory", "u"+strconv.Itoa(g.r.IntN(100)), "reporting")
}

var mysqlTemplates = []string{
	"SELECT * FROM orders WHERE id = {n}",
	"SELECT o.id, o.total, c.name FROM orders o JOIN customers c ON c.id = o.customer_id WHERE o.state IN ({in}) AND o.created_at > {s} ORDER BY o.id LIMIT {n}",
	"SELECT * FROM users WHERE email = {s} AND password_hash = {s}",
	"INSERT INTO orders (id, customer_id, total, note) VALUES ({n}, {n}, {n}, {s})",
	"INSERT INTO t (a, b) VALUES ({n}, {s}), ({n}, {s})",
	"UPDATE accounts SET balance = balance - {n} WHERE id = {n}",
	"UPDATE t SET a = {s} WHERE 1=1",
	"UPDATE t SET a = {s} WHERE {n} = {n}",
	"UPDATE t SET a = {s}",
	"DELETE FROM sessions WHERE expires < {s}",
	"DELETE FROM t WHERE id = {n} OR {n} = {n}",
	"DELETE FROM t WHERE {n}",
	"DELETE FROM t WHERE (id = {n}) OR ({n})",
	"DELETE FROM t",
	"DELETE FROM t WHERE a = {s} LIMIT {n}",
	"SELECT * FROM t WHERE a = {s} OR {n} = {n}",
	"SELECT * FROM t WHERE a = {n} OR 1",
	"SELECT * FROM t WHERE a = {n} AND b = {s} OR c = {s}",
	"SELECT * FROM t WHERE name = {s} UNION SELECT NULL, NULL, NULL",
	"SELECT * FROM t WHERE name = {s} UNION ALL SELECT {n}, {s}",
	"SELECT * FROM t WHERE id = {n} AND SLEEP({n})",
	"SELECT BENCHMARK({n}, MD5({s}))",
	"SELECT * FROM t WHERE id = {n} AND extractvalue(1, concat(0x7e, (SELECT @@version)))",
	"SELECT * FROM t WHERE id = {n} AND updatexml(1, concat(0x7e, {s}), 1)",
	"SELECT CHAR({n}), CHAR({n}), CHAR({n})",
	"SELECT CHAR({n})+CHAR({n})+CHAR({n}) FROM t WHERE a = {s}",
	"SELECT * FROM t INTO OUTFILE {path}",
	"SELECT a FROM t WHERE b = {s} INTO DUMPFILE {path}",
	"SELECT LOAD_FILE({path})",
	"SELECT LOAD_FILE(0x2f6574632f706173737764)",
	"LOAD DATA INFILE {path} INTO TABLE t",
	"LOAD DATA LOCAL INFILE {path} INTO TABLE t FIELDS TERMINATED BY {s}",
	"GRANT ALL PRIVILEGES ON *.* TO {s}@{s} WITH GRANT OPTION",
	"GRANT SELECT ON shop.* TO {s}@{s}",
	"GRANT SUPER ON *.* TO {id}",
	"CREATE USER {s}@{s} IDENTIFIED BY {s}",
	"CREATE USER {id}",
	"ALTER USER {s} IDENTIFIED BY {s}",
	"SET PASSWORD FOR {s} = {s}",
	"SET GLOBAL general_log = {onoff}",
	"SET sql_log_bin = {n}",
	"SET @@global.local_infile = {n}",
	"SET GLOBAL server_audit_events = {s}",
	"SET NAMES utf8mb4",
	"SET autocommit = {n}",
	"SET GLOBAL tidb_audit_enabled = {onoff}",
	"SELECT * FROM information_schema.tables WHERE table_schema = {s}",
	"SELECT user, authentication_string FROM mysql.user WHERE user = {s}",
	"SELECT @@version, {n}",
	"SELECT version(), user(), {s}",
	"SELECT * FROM t WHERE a = {s} COLLATE {coll}",
	"SELECT * FROM t WHERE a LIKE {s} ESCAPE {s}",
	"SELECT CONVERT({s} USING {coll})",
	"SELECT * FROM t ORDER BY {n}",
	"SELECT a, COUNT(*) FROM t GROUP BY {n}, {n}",
	"SELECT * FROM t ORDER BY -{n}",
	"SELECT * FROM t ORDER BY a, {n} LIMIT {n}, {n}",
	"SELECT * FROM t ORDER BY ({n})",
	"SELECT * FROM t FORCE INDEX (idx) ORDER BY a, {n}",
	"SELECT * FROM t WHERE a = x{hexs} AND b = b{bits} AND c = {n}",
	"SELECT {n}; DROP TABLE t",
	"SELECT * FROM t WHERE a = {s};",
	"SELECT * FROM t WHERE a = {s} ; ",
	"INSERT INTO t VALUES ({s}",
	"INSERT INTO t VALUES ('abc",
	"SELECT * FROM t WHERE id = {n} AND `select` = {s}",
	"SELECT * FROM `my``table` WHERE a = {s}",
	"SELECT * FROM t WHERE a = _utf8mb4{s}",
	"SELECT * FROM t WHERE a = N{s}",
	"SELECT * FROM t WHERE a = {s} AND b = @v AND c = ? AND d = @{s}",
	"SELECT /*+ MAX_EXECUTION_TIME({n}) */ * FROM t",
	"SELECT * FROM t WHERE a = {s} /*!50000 UNION SELECT 1 */",
	"select*from/**/t/**/where/**/id={n}",
	"SELECT * FROM t WHERE id = {n} -- {s}",
	"SELECT * FROM t WHERE id = {n} # x",
	"/* app=web */ SELECT * FROM t WHERE id = {n}",
	"WITH x AS (SELECT * FROM t WHERE a = {n}) DELETE FROM u WHERE id IN (SELECT id FROM x)",
	"WITH x AS (SELECT * FROM t WHERE a = {n}) SELECT * FROM x WHERE b = {s}",
	"UPDATE t SET a = {n} WHERE id = {n} LIMIT {n}",
	"UPDATE t SET a = {n} WHERE id IN ({in})",
	"INSERT INTO t (a) VALUES ({s}) ON DUPLICATE KEY UPDATE a = {s}",
	"INSERT INTO t (a) SELECT a FROM u WHERE b = {s}",
	"SELECT * FROM t WHERE created_at BETWEEN {s} AND {s}",
	"SELECT CAST({s} AS CHAR({n}))",
	"SELECT CAST({s} AS CHAR CHARACTER SET {coll})",
	"SELECT * FROM t WHERE a = {s} or b = {s}",
	"SELECT * FROM t WHERE j->{s} = {s}",
	"select * from t where id = {n} for update",
	"REPLACE INTO t VALUES ({n}, {s})",
	"SELECT {s} AS {s}",
	"SELECT * FROM t t1, t2 WHERE t1.a = t2.b AND t1.c = {n}",
	"SELECT a/{n}, a-{n}, a - {n}, -{n}, +{n}, a*{n} FROM t",
	"SELECT * FROM t WHERE a = {n}{s}",
	"SELECT * FROM t WHERE a = {s}{s}",
	"SELECT * FROM t WHERE a IN ({in}) AND b NOT IN ({in})",
	"SELECT * FROM t WHERE a IN ({list}) AND b = {s}",
	"SELECT * FROM t WHERE a IN ({list}) OR b IN ({list}) ORDER BY {n}",
	"INSERT INTO t (a, b, c) VALUES ({list})",
	"INSERT INTO t VALUES ({list}), ({list})",
	"UPDATE t SET a = {s} WHERE id IN ({list})",
	"DELETE FROM t WHERE id IN ({list})",
	"SELECT ({list}), CONCAT({list}), f({list}) FROM t",
	"SELECT * FROM t WHERE (a, b) IN (({list}), ({list}))",
	"SELECT * FROM t LIMIT {n}, {n}",
	"SELECT {list} FROM t",
	"SELECT COUNT(*) FROM t WHERE a = {s} AND b > {n} AND c < {n} AND d <> {s} AND e != {n} AND f <=> {s}",
	"SELECT * FROM t WHERE a = '{raw}'",
	"SELECT * FROM t LIMIT {n} OFFSET {n}",
	"SELECT IF({n} = {n}, {s}, {s}) FROM t",
	"SELECT * FROM t WHERE NOT {n} AND a = {s}",
	"UPDATE t SET a = {s} WHERE b = {s} AND {s} LIKE {s}",
	"SELECT * FROM t WHERE a = {s} AND b IS NULL AND c IS NOT TRUE",
	"DELETE FROM t WHERE a = {n} AND ({n} = {n} OR b = {s})",
	"INSERT INTO t VALUES ({n}, {s}, NULL, {n}, x{hexs}, {n})",
	"SELECT * FROM t WHERE a = {s} AND b = {s} AND c = {s} AND d = {n} AND e = {n}",
	"SELECT sys_exec({s})",
	"SELECT * FROM t WHERE a = {s} AND audit_log_filter_set_user({s})",
	"SELECT * FROM t WHERE a = {s} AND current_user = {s}",
	"SELECT `a`.`b` FROM `db`.`t` AS `a` WHERE `a`.`c` = {s}",
	"SELECT * FROM t WHERE a = {s}\n  AND b = {n}\n\tORDER BY c",
	"  SELECT  *  FROM  t  WHERE  a={n}  ",
	"SELECT * FROM t WHERE a = 0X1F AND b = 0b101 AND c = 1e{n}",
	"SELECT * FROM t WHERE a = .{n} AND b = t.{n}",
	"SELECT * FROM t WHERE a = $1 AND b = ${n}",
}

var pgTemplates = []string{
	"SELECT * FROM orders WHERE id = {n}",
	"SELECT * FROM orders WHERE id = $1 AND state = $2",
	"SELECT * FROM t WHERE a = {s}::date AND b = {n}::int",
	"SELECT * FROM t WHERE a = E{s}",
	"SELECT * FROM t WHERE a = e{s} AND b = {s}",
	"SELECT $${raw}$$",
	"SELECT $tag${raw}$tag$, {n}",
	"SELECT $func$x$func$",
	"SELECT * FROM t WHERE a = ANY($1) AND created_at > now() - interval {s}",
	"UPDATE t SET a = {s} WHERE id = {n}",
	"UPDATE t SET a = {s}",
	"UPDATE t SET a = {s} WHERE {n} = {n}",
	"DELETE FROM t WHERE id = {n}",
	"DELETE FROM t WHERE id = {n}\tor b = {s}",
	"DELETE FROM t",
	"DELETE FROM t WHERE a = {s} LIMIT {n}",
	"COPY t FROM {path}",
	"COPY t TO {path}",
	"COPY t TO PROGRAM {s}",
	"SELECT pg_read_file({path})",
	"SELECT lo_export({n}, {path})",
	"SELECT * FROM pg_shadow WHERE usename = {s}",
	"SELECT usename, passwd FROM pg_catalog.pg_user WHERE a = {s}",
	"ALTER SYSTEM SET log_statement = {s}",
	"SET pgaudit.log = {s}",
	"ALTER ROLE {id} SUPERUSER",
	"ALTER ROLE {id} SET pgaudit.log = {s}",
	"GRANT pg_read_server_files TO {id}",
	"GRANT ALL ON ALL TABLES IN SCHEMA public TO {id}",
	"SELECT pg_sleep({n})",
	"SELECT current_setting({s})",
	"SELECT * FROM \"Users\" WHERE \"Name\" = {s}",
	"SELECT * FROM \"we\"\"ird\" WHERE a = {s}",
	"INSERT INTO t (a, b) VALUES ({n}, {s}) RETURNING id",
	"SELECT * FROM t WHERE a = {s} OR {n} = {n}",
	"SELECT * FROM t WHERE x = {n} LIMIT {n} OFFSET {n}",
	"CREATE USER {id} WITH PASSWORD {s}",
	"SELECT a/{n}, a-{n}, a - {n}, -{n} FROM t",
	"SELECT * FROM t WHERE a #> {s}",
	"SELECT * FROM t WHERE a = {s} -- x",
	"SELECT * FROM t WHERE a IN ({in})",
	"SELECT * FROM t WHERE a IN ({list}) AND b = ANY(ARRAY[{list}])",
	"INSERT INTO t VALUES ({list}) RETURNING id",
	"SELECT * FROM t WHERE a = {s} AND b = {s} AND c = {n}",
	"WITH x AS (SELECT {n}) UPDATE t SET a = {s} FROM x WHERE t.id = x.id",
	"SELECT * FROM t WHERE a = U&{s}",
	"SELECT * FROM t WHERE a = B{bits} AND b = X{hexs}",
	"SELECT * FROM t WHERE a = {s} AND `b` = {s}",
	"SELECT $1, {s}; SELECT {n}",
	"SELECT * FROM t WHERE a = '{raw}'",
	"SELECT version(), current_user, {s}",
	"SELECT * FROM t WHERE a = {s}\n  and b = {n}",
	"SELECT * FROM t WHERE a ~ {s} AND b !~* {s} AND c @> {s}",
}

var tdTemplates = []string{
	"insert into d1001 values ({s}, {n}, {n}, {n})",
	"insert into d{n} using meters tags ({s}, {n}) values (now, {n}, {n}, {n})",
	"select avg(current) from meters where ts > {s} interval(10s)",
	"select * from meters where location = {s} limit {n}",
	"create user {id} pass {s}",
	"grant all on *.* to {id}",
	"show dnodes",
	"select last_row(*) from d{n}",
	"select * from meters where voltage > {n} and location in ({in})",
	"select * from meters where groupid in ({list})",
	"insert into d1001 values ({list})",
	"delete from meters where ts < {s}",
	"select `ts`, current from `power`.`meters` where groupid = {n}",
	"select * from meters where a = \"{raw}\"",
	"select * from t where a = $1 and b = $x$y$x$",
}

func (g *gen) stmt() stmtCase {
	var d Dialect
	var tpl string
	switch g.r.IntN(10) {
	case 0, 1, 2:
		d, tpl = Postgres, g.pick(pgTemplates...)
	case 3:
		d, tpl = TDengine, g.pick(tdTemplates...)
	case 4:
		d, tpl = Generic, g.pick(mysqlTemplates...)
	default:
		d, tpl = MySQL, g.pick(mysqlTemplates...)
	}
	// Case and whitespace of the template (not of the literals).
	switch g.r.IntN(4) {
	case 0:
		tpl = strings.ToLower(tpl)
	case 1:
		tpl = strings.ToUpper(tpl)
	}
	if g.r.IntN(4) == 0 {
		tpl = strings.ReplaceAll(tpl, " ", g.pick("  ", "\n  ", "\t", " \n"))
	}
	var b strings.Builder
	for {
		i := strings.IndexByte(tpl, '{')
		if i < 0 {
			b.WriteString(tpl)
			break
		}
		j := strings.IndexByte(tpl[i:], '}')
		if j < 0 {
			b.WriteString(tpl)
			break
		}
		b.WriteString(tpl[:i])
		switch strings.ToLower(tpl[i+1 : i+j]) {
		case "n":
			b.WriteString(g.num())
		case "s":
			b.WriteString(g.str(d))
		case "in":
			b.WriteString(g.inList(d))
		case "list":
			b.WriteString(g.list(d))
		case "path":
			b.WriteString(g.path(d))
		case "id":
			b.WriteString(g.ident())
		case "onoff":
			b.WriteString(g.pick("0", "1", "ON", "OFF", "'off'", "'ON'"))
		case "coll":
			b.WriteString(g.pick("utf8mb4", "'utf8mb4_bin'", "'bogus'", "latin1", "binary"))
		case "hexs":
			b.WriteString("'" + g.pick("", "41", "4", "zz", "0a0b", "ABCD") + "'")
		case "bits":
			b.WriteString("'" + g.pick("", "0", "101", "2", "1111") + "'")
		case "raw":
			b.WriteString(g.rawStr())
		default:
			b.WriteString(tpl[i : i+j+1])
		}
		tpl = tpl[i+j+1:]
	}
	return stmtCase{b.String(), d}
}

// mutate replaces the content of every literal of sql with new content of
// the same kind; ok is false when sql has no literal (or is not cacheable).
func (g *gen) mutate(sql string, d Dialect) (string, bool) {
	var spans []litSpan
	lx := fpLexer{spans: &spans}
	if _, ok := lx.run(nil, sql, d); !ok || len(spans) == 0 {
		return "", false
	}
	var b strings.Builder
	prev := 0
	for _, sp := range spans {
		b.WriteString(sql[prev:sp.start])
		b.WriteString(g.literal(sp.kind, d, sql[sp.start-1]))
		prev = sp.end
	}
	b.WriteString(sql[prev:])
	return b.String(), true
}

// extendList appends a copy of the last literal of a parenthesised list
// ("(1, 2)" becomes "(1, 2, 2)"); ok is false when sql has no such list.
func (g *gen) extendList(sql string, d Dialect) (string, bool) {
	var spans []litSpan
	lx := fpLexer{spans: &spans}
	if _, ok := lx.run(nil, sql, d); !ok {
		return "", false
	}
	for k := len(spans) - 1; k >= 0; k-- {
		sp := spans[k]
		start, end := sp.start, sp.end
		switch sp.kind {
		case kindStr, kindDQStr:
			start, end = start-1, end+1
		case kindInt, kindDec, kindDecDot, kindHex:
		default:
			continue
		}
		j := end
		for j < len(sql) && isWS(sql[j]) {
			j++
		}
		if j < len(sql) && sql[j] == ')' && prevNonWS(sql, start) == ',' {
			return sql[:end] + ", " + sql[start:end] + sql[end:], true
		}
	}
	return "", false
}

// literal returns new literal text of a kind: the whole number, or the
// content between the quotes.
func (g *gen) literal(kind byte, d Dialect, open byte) string {
	switch kind {
	case kindInt:
		switch g.r.IntN(3) {
		case 0:
			return strconv.Itoa(1 + g.r.IntN(9))
		case 1:
			return strconv.FormatInt(g.r.Int64(), 10)
		}
		return strconv.Itoa(g.r.IntN(1e6))
	case kindDec:
		return strconv.Itoa(g.r.IntN(1000)) + "." + strconv.Itoa(g.r.IntN(1000))
	case kindDecDot:
		return strconv.Itoa(1+g.r.IntN(1000)) + "."
	case kindHex:
		return "0x" + strconv.FormatInt(g.r.Int64N(1<<40), 16)
	case kindXStr:
		return g.pick("", "41", "0a0b", "ABCDEF")
	case kindBStr:
		return g.pick("0", "1", "101", "111000")
	case kindDollar:
		return g.pick("", "abc", "x y", "日本")
	}
	s := g.rawStr()
	q := open
	if kind == kindEStr || d == Postgres {
		s = strings.ReplaceAll(s, "\\", "")
	}
	// Escape for the quote it goes in.
	qs := g.quote(s, d, q)
	return qs[1 : len(qs)-1]
}
