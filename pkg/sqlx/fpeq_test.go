package sqlx

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// checkSameAsReference requires fingerprint to agree with refFingerprint
// (fpref_test.go): the cacheable flag, and for a cacheable statement the
// key bytes and the literal spans.
func checkSameAsReference(t testing.TB, sql string, d Dialect) {
	var spans, rspans []litSpan
	lx := fpLexer{spans: &spans}
	key, ok := lx.run(nil, sql, d)
	rlx := refFpLexer{spans: &rspans}
	rkey, rok := rlx.run(nil, sql, d)
	if ok != rok {
		t.Fatalf("%s %q: cacheable %v, reference %v (key %q, reference %q)", d, sql, ok, rok, key, rkey)
	}
	if !ok {
		return
	}
	if !bytes.Equal(key, rkey) {
		t.Fatalf("%s %q:\n  key       %q\n  reference %q", d, sql, key, rkey)
	}
	if !slices.Equal(spans, rspans) {
		t.Fatalf("%s %q: spans %v, reference %v", d, sql, spans, rspans)
	}
	// The public entry point, with a prefix in dst.
	k2, ok2 := fingerprint([]byte("pre"), sql, d)
	if !ok2 || !bytes.Equal(k2[3:], key) {
		t.Fatalf("%s %q: with a prefix: %v %q", d, sql, ok2, k2)
	}
}

// fuzzCorpus reads the inputs of FuzzFingerprint and
// FuzzFingerprintReference: the seed corpus in testdata and the fuzzing
// cache ($GOCACHE/fuzz) when there is one.
func fuzzCorpus(t *testing.T) []stmtCase {
	dirs := []string{filepath.Join("testdata", "fuzz", "FuzzFingerprint"), filepath.Join("testdata", "fuzz", "FuzzFingerprintReference")}
	gc := os.Getenv("GOCACHE")
	if gc == "" {
		if uc, err := os.UserCacheDir(); err == nil {
			gc = filepath.Join(uc, "go-build")
		}
	}
	if gc != "" {
		for _, target := range []string{"FuzzFingerprint", "FuzzFingerprintReference"} {
			dirs = append(dirs, filepath.Join(gc, "fuzz", "github.com", "dbsec", "dbsec", "pkg", "sqlx", target))
		}
	}
	var out []stmtCase
	for _, dir := range dirs {
		files, _ := filepath.Glob(filepath.Join(dir, "*"))
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				continue
			}
			lines := strings.Split(string(b), "\n")
			if len(lines) < 3 || !strings.HasPrefix(lines[1], "string(") || !strings.HasPrefix(lines[2], "byte(") {
				continue
			}
			s, err1 := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(lines[1], "string("), ")"))
			c, err2 := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(lines[2], "byte("), ")"))
			r, size := utf8.DecodeRuneInString(c)
			if err1 != nil || err2 != nil || size != len(c) || r > 0xff {
				t.Errorf("%s: unreadable", f)
				continue
			}
			out = append(out, stmtCase{s, Dialect(byte(r) % 4)})
		}
	}
	return out
}

// perturb returns sql with a few bytes inserted, replaced or deleted,
// mostly bytes the lexer treats specially.
func perturb(r *rand.Rand, sql string) string {
	const special = " \t\n\r'\"`$#-/*;()=<>!|&,.+?@\\_0123456789xXbBeEoOrR\x00\x01\x7f\x80\xc3\xa9\xff"
	b := []byte(sql)
	for k := 1 + r.IntN(3); k > 0; k-- {
		c := special[r.IntN(len(special))]
		p := 0
		if len(b) > 0 {
			p = r.IntN(len(b) + 1)
		}
		switch r.IntN(3) {
		case 0:
			b = slices.Insert(b, p, c)
		case 1:
			if p < len(b) {
				b[p] = c
			}
		default:
			if p < len(b) {
				b = slices.Delete(b, p, p+1)
			}
		}
	}
	return string(b)
}

// TestFingerprintMatchesReference: the fast lexer and the reference agree
// on the differential corpus (generated, mutated, real statements), the
// fuzz corpus, and byte-level perturbations of all of them, in every
// dialect.
func TestFingerprintMatchesReference(t *testing.T) {
	n := diffN(t)
	g := newGen(11 + diffSeed(t))
	cases := realStatements(t)
	cases = append(cases, fuzzCorpus(t)...)
	for i := 0; i < n; i++ {
		cases = append(cases, g.stmt())
	}
	for _, c := range cases[:len(cases):len(cases)] {
		if v, ok := g.mutate(c.sql, c.d); ok {
			cases = append(cases, stmtCase{v, c.d})
			if w, ok := g.extendList(v, c.d); ok {
				cases = append(cases, stmtCase{w, c.d})
			}
		}
	}
	for _, s := range literalStream(600, MySQL) {
		cases = append(cases, stmtCase{s, MySQL})
	}
	for _, s := range literalStream(400, Postgres) {
		cases = append(cases, stmtCase{s, Postgres})
	}
	r := rand.New(rand.NewPCG(7, 11+diffSeed(t)))
	base := len(cases)
	for _, c := range cases[:base] {
		for k := 0; k < 3; k++ {
			cases = append(cases, stmtCase{perturb(r, c.sql), c.d})
		}
	}
	cacheable := 0
	for _, c := range cases {
		for d := Dialect(0); d < 4; d++ {
			checkSameAsReference(t, c.sql, d)
		}
		if _, ok := fingerprint(nil, c.sql, c.d); ok {
			cacheable++
		}
	}
	t.Logf("%d statements (%d perturbed) × 4 dialects, %d cacheable in their own dialect", len(cases), len(cases)-base, cacheable)
}

// FuzzFingerprintReference: the fast lexer agrees with the reference on
// any input.
func FuzzFingerprintReference(f *testing.F) {
	g := newGen(5)
	for i := 0; i < 200; i++ {
		c := g.stmt()
		f.Add(c.sql, uint8(c.d))
	}
	f.Fuzz(func(t *testing.T, sql string, dd uint8) {
		checkSameAsReference(t, sql, Dialect(dd%4))
	})
}

// TestWordIDTable: the keyword table holds every keyword (at most three a
// shape) and agrees with the reference switch on all ASCII words of its
// shapes.
func TestWordIDTable(t *testing.T) {
	for id, kw := range keywords {
		if kw != "" && (wordID(kw) != uint8(id) || wordID(strings.ToUpper(kw)) != uint8(id)) {
			t.Errorf("%q: %d", kw, wordID(kw))
		}
	}
	for l := range kwByShape {
		for f := range kwByShape[l] {
			if kwByShape[l][f][3] != 0 {
				t.Errorf("shape %d %c: more than three keywords", l, f)
			}
		}
	}
	for _, w := range []string{"", "o", "orx", "a_d", "_nd", "\xc1nd", "\xc1ND", "selec", "selectt", "wher", "by_", "@nd", "`nd", "sET", "Or"} {
		if wordID(w) != refWordID(w) {
			t.Errorf("%q: %d, reference %d", w, wordID(w), refWordID(w))
		}
	}
}
