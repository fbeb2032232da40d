package redact

import (
	"math/rand/v2"
	"strings"
	"testing"
)

func TestString(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		// MySQL / TiDB / MariaDB
		{`CREATE USER 'app'@'%' IDENTIFIED BY 'S3cr3t!'`, `CREATE USER 'app'@'%' IDENTIFIED BY '<redacted>'`},
		{`create user app identified by "p'w"`, `create user app identified by "<redacted>"`},
		{`ALTER USER 'a'@'%' IDENTIFIED WITH mysql_native_password BY 'pw1'`, `ALTER USER 'a'@'%' IDENTIFIED WITH mysql_native_password BY '<redacted>'`},
		{`CREATE USER a IDENTIFIED WITH 'caching_sha2_password' AS '$A$005$hash'`, `CREATE USER a IDENTIFIED WITH '<redacted>' AS '<redacted>'`},
		{`GRANT ALL ON *.* TO 'u'@'%' IDENTIFIED BY PASSWORD '*6BB4837EB74329105EE4568DDA7DC67ED2CA2AD9'`, `GRANT ALL ON *.* TO 'u'@'%' IDENTIFIED BY PASSWORD '<redacted>'`},
		{`SET PASSWORD FOR 'app'@'%' = 'newpw'`, `SET PASSWORD FOR 'app'@'%' = '<redacted>'`},
		{`SET PASSWORD = PASSWORD('old style')`, `SET PASSWORD = PASSWORD('<redacted>')`},
		{`set password for bob = 'it''s'`, `set password for bob = '<redacted>'`},
		// PostgreSQL
		{`CREATE ROLE alice WITH LOGIN PASSWORD 'hunter2'`, `CREATE ROLE alice WITH LOGIN PASSWORD '<redacted>'`},
		{`ALTER ROLE bob ENCRYPTED PASSWORD 'x'`, `ALTER ROLE bob ENCRYPTED PASSWORD '<redacted>'`},
		// TDengine
		{`create user u1 pass 'taosdata'`, `create user u1 pass '<redacted>'`},
		{`user:root, failed to auth since invalid pass, input:a1b2c3d4e5 from 10.0.0.1`, `user:root, failed to auth since invalid pass, input:<redacted> from 10.0.0.1`},
		// URLs
		{`GET /api/queries/7/results.csv?api_key=Zx9Qk2 HTTP/1.1`, `GET /api/queries/7/results.csv?api_key=<redacted> HTTP/1.1`},
		{`"GET /api/dashboards/1?x=1&api_key=abc&y=2 HTTP/1.1"`, `"GET /api/dashboards/1?x=1&api_key=<redacted>&y=2 HTTP/1.1"`},
		{`BACKUP DATABASE * TO 's3://bk/p?access-key=AKIAXX&secret-access-key=wJalr/K7'`, `BACKUP DATABASE * TO 's3://bk/p?access-key=<redacted>&secret-access-key=<redacted>'`},
		{`dsn postgres://app:pa55@db:5432/x`, `dsn postgres://app:<redacted>@db:5432/x`},
		// The password is the word "password" (found by a parser's golden).
		{`GRANT ALL ON db.* TO 'u'@'%' IDENTIFIED BY 'password'`, `GRANT ALL ON db.* TO 'u'@'%' IDENTIFIED BY '<redacted>'`},
		{`{"query": "GRANT ALL ON *.* TO 'root'@'%' IDENTIFIED BY 'password'", "status": 0}`, `{"query": "GRANT ALL ON *.* TO 'root'@'%' IDENTIFIED BY '<redacted>'", "status": 0}`},
		{`{"query":"CREATE ROLE a PASSWORD 'x'"}`, `{"query":"CREATE ROLE a PASSWORD '<redacted>'"}`},
		// Fail closed: a statement that names a credential word before a value
		// has every literal masked.
		{`SELECT 'password' AS label, pass FROM t`, `SELECT '<redacted>' AS label, pass FROM t`},
		{`CREATE TABLE t (id INT PRIMARY KEY, secret_key_id INT)`, `CREATE TABLE t (id INT PRIMARY KEY, secret_key_id INT)`},
		{`/q?x_token=keep&token=drop`, `/q?x_token=keep&token=<redacted>`},
		// Nothing to redact: returned as is.
		{`SELECT * FROM passengers WHERE keyword = 'x'`, `SELECT * FROM passengers WHERE keyword = 'x'`},
		{`select 1`, `select 1`},
		{``, ``},
		// Unterminated literal: masked to the end.
		{`CREATE USER a IDENTIFIED BY 'cut off`, `CREATE USER a IDENTIFIED BY '<redacted>`},
	} {
		if got := String(tc.in); got != tc.want {
			t.Errorf("String(%q)\n got %q\nwant %q", tc.in, got, tc.want)
		}
	}
}

func TestNoAllocWithoutSecret(t *testing.T) {
	s := "SELECT id, customer, total FROM orders WHERE total > 5 AND note <> 'x'"
	if n := testing.AllocsPerRun(100, func() { _ = String(s) }); n != 0 {
		t.Errorf("%v allocations for a statement without secrets", n)
	}
}

func BenchmarkString(b *testing.B) {
	for _, s := range []string{
		"SELECT id, customer, total FROM orders WHERE total > 5",
		`{"timestamp":"2024-01-01 00:00:00","class":"general","general_data":{"sql_command":"create_table","query":"CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(10))","status":0}}`,
		"CREATE USER 'app'@'%' IDENTIFIED BY 'S3cr3t!'",
	} {
		b.Run(s[:12], func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(s)))
			for b.Loop() {
				_ = String(s)
			}
		})
	}
}

func FuzzString(f *testing.F) {
	f.Add(`CREATE USER 'a' IDENTIFIED BY 'pw'`)
	f.Add(`x?api_key=1&token=2`)
	f.Add(`set password for x = password('y')`)
	f.Fuzz(func(t *testing.T, s string) {
		out := String(s)
		// Redaction never grows a secret: whatever was masked is gone, and
		// redacting again is stable.
		if again := String(out); again != out && !strings.Contains(out, Mask) {
			t.Fatalf("not idempotent: %q -> %q -> %q", s, out, again)
		}
	})
}

// mayContainRef is the straightforward version of mayContain, the reference of
// TestMayContainMatchesReference.
// It is a cheap single-pass pre-filter: every rule needs one of
// "pass", "pwd", "identified", "key", "token", "secret", "credential" or
// "://", case-insensitively.
func mayContainRef(s string) bool {
	for i := 0; i < len(s); i++ {
		switch s[i] | 0x20 {
		case 'p':
			if hasPrefixFold(s, i, "pass") || hasPrefixFold(s, i, "pwd") {
				return true
			}
		case 'i':
			if hasPrefixFold(s, i, "identified") {
				return true
			}
		case 'k':
			if hasPrefixFold(s, i, "key") {
				return true
			}
		case 't':
			if hasPrefixFold(s, i, "token") {
				return true
			}
		case 's':
			if hasPrefixFold(s, i, "secret") {
				return true
			}
		case 'c':
			if hasPrefixFold(s, i, "credential") {
				return true
			}
		case ':' | 0x20:
			if s[i] == ':' && strings.HasPrefix(s[i:], "://") {
				return true
			}
		}
	}
	return false
}

// TestMayContainMatchesReference compares the word-at-a-time pre-filter
// with the byte-by-byte one on generated strings built from the anchor words,
// their case variants and neighbours, and random bytes.
func TestMayContainMatchesReference(t *testing.T) {
	pieces := []string{"pass", "PASS", "Pwd", "pw", "identified", "IDENTIFIED", "iden", "key", "KEY", "ke", "token", "TOK",
		"secret", "SECRE", "credential", "cred", "://", ":/", ":", "/", "select ", "SELECT", "p", "a", "s", "\x00", "\xff", "é", " ", "'", "@"}
	rng := rand.New(rand.NewPCG(1, 2))
	n, hits := 0, 0
	for range 200000 {
		var b strings.Builder
		for range rng.IntN(8) {
			if rng.IntN(4) == 0 {
				b.WriteByte(byte(rng.IntN(256)))
			} else {
				b.WriteString(pieces[rng.IntN(len(pieces))])
			}
		}
		s := b.String()
		got, want := mayContain(s), mayContainRef(s)
		if got != want {
			t.Fatalf("mayContain(%q) = %v, reference %v", s, got, want)
		}
		n++
		if want {
			hits++
		}
	}
	if hits < n/10 || hits > n*9/10 {
		t.Fatalf("%d of %d strings match: the generator does not exercise both answers", hits, n)
	}
}

// FuzzMayContain compares the word-at-a-time pre-filter with the
// byte-by-byte one on any input.
func FuzzMayContain(f *testing.F) {
	for _, s := range []string{"", "SELECT id FROM t WHERE a = 'x'", "tok\x00en", "12345678token", "1234567identified", "xxxxxxsecretxxxx",
		"CREDENTIAL", "s3://b/k", "a:/b", "kkkkkkkkPaSs", "\x01\x00k\x01pwd"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := mayContain(s), mayContainRef(s); got != want {
			t.Fatalf("mayContain(%q) = %v, reference %v", s, got, want)
		}
	})
}

// TestStringIn checks that StringIn returns what String returns, for parts
// of clean and unclean texts and for copies.
func TestStringIn(t *testing.T) {
	texts := []string{
		"SELECT id, customer, total FROM orders WHERE total > 5",
		`20261202 10:31:59,vm,root,localhost,3,7,QUERY,,'CREATE USER \'eve\'@\'%\' IDENTIFIED BY \'S3cr3t!\'',0`,
		"x?api_key=1&token=2 then select 1",
		"", "p", "ALTER USER a PASSWORD 'x'",
	}
	for _, s := range texts {
		clean := Clean(s)
		if clean == mayContainRef(s) || (clean && String(s) != s) {
			t.Errorf("Clean(%q) = %v", s, clean)
		}
		for i := 0; i <= len(s); i++ {
			for j := i; j <= len(s); j++ {
				sub := s[i:j]
				if got, want := StringIn(sub, s, clean), String(sub); got != want {
					t.Fatalf("StringIn(%q, %q) = %q, String %q", sub, s, got, want)
				}
				cp := strings.Clone(sub)
				if got, want := StringIn(cp, s, true), String(cp); len(cp) > 0 && got != want {
					t.Fatalf("StringIn of a copy %q = %q, String %q", cp, got, want)
				}
			}
		}
	}
	if n := testing.AllocsPerRun(100, func() { _ = StringIn(texts[0][7:20], texts[0], true) }); n != 0 {
		t.Errorf("%v allocations", n)
	}
}

func BenchmarkCredential(b *testing.B) {
	for _, s := range []string{
		`2026-12-02 10:32:55.677 UTC,"postgres","postgres",3959,"127.0.0.1:41950",6b0ff3d7.f77,4,"CREATE ROLE",2026-12-02 10:32:55 UTC,3/6,725,LOG,00000,"AUDIT: SESSION,1,1,ROLE,CREATE ROLE,,,CREATE ROLE alice LOGIN PASSWORD <REDACTED>,<not logged>",,,,,,,,,"dbsec-test","client backend",,0`,
		`20261202 10:31:59,vm,root,localhost,3,7,QUERY,,'CREATE USER \'eve\'@\'%\' IDENTIFIED BY \'S3cr3t!\'',0`,
	} {
		b.Run(s[:12], func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(s)))
			for b.Loop() {
				_ = String(s)
			}
		})
	}
}

// refString is String as it was before the pre-filter told the rules apart
// (issue 16): every rule runs on a text the pre-filter lets through.
func refString(s string) string {
	if !mayContainRef(s) {
		return s
	}
	var spans []span
	spans = sqlSecrets(s, spans)
	spans = urlSecrets(s, spans)
	spans = tdengineSecrets(s, spans)
	spans = credSpans(s, spans)
	if len(spans) == 0 {
		return s
	}
	return apply(s, spans)
}

// wordsRef is words(s, 0) byte by byte.
func wordsRef(s string) uint8 {
	var w uint8
	for i := range len(s) {
		for _, x := range []struct {
			word string
			bit  uint8
		}{{"pass", wPass}, {"pwd", wPwd}, {"identified", wIdentified}, {"key", wKey}, {"token", wToken}, {"secret", wSecret}, {"credential", wCredential}} {
			if hasPrefixFold(s, i, x.word) {
				w |= x.bit
			}
		}
		if strings.HasPrefix(s[i:], "://") {
			w |= wURL
		}
	}
	return w
}

func checkStringRef(t *testing.T, s string) {
	t.Helper()
	if got, want := words(s, 0), wordsRef(s); got != want {
		t.Fatalf("words(%q) = %08b, reference %08b", s, got, want)
	}
	if got, want := String(s), refString(s); got != want {
		t.Fatalf("String(%q) = %q, reference %q", s, got, want)
	}
	if r, clean := Record(s); r != String(s) || clean != Clean(s) || clean != !mayContainRef(s) {
		t.Fatalf("Record(%q) = %q, %v", s, r, clean)
	}
}

// TestStringMatchesReference runs String and the reference over generated
// texts built from the words, the rules' keywords and quoting.
func TestStringMatchesReference(t *testing.T) {
	pieces := []string{"pass", "PASSWORD", "Pwd", "identified", "IDENTIFIED BY ", "key", "api_key=", "token=", "TOK", "secret",
		"secret_key=", "credential", "credentials-file=", "://", "s3://u:p@h/b", "https://x/?a=1", "'", "\"", "\\'", "=", " ", "(",
		"CREATE USER a ", "SET PASSWORD FOR b = ", "PRIMARY KEY", "INSERT INTO secrets VALUES ", "invalid pass, input:", "x", "1", ",", "\n"}
	rng := rand.New(rand.NewPCG(5, 6))
	for range 50000 {
		var b strings.Builder
		for range rng.IntN(10) {
			b.WriteString(pieces[rng.IntN(len(pieces))])
		}
		checkStringRef(t, b.String())
	}
}

func FuzzStringReference(f *testing.F) {
	f.Add(`CREATE USER 'a' IDENTIFIED BY 'pw'`)
	f.Add(`x?api_key=1&token=2 PRIMARY KEY s3://a:b@c`)
	f.Add(`INSERT INTO secrets VALUES (1, 'a,""b""')`)
	f.Fuzz(func(t *testing.T, s string) {
		checkStringRef(t, s)
	})
}
