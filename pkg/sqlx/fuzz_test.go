package sqlx

import (
	"bytes"
	"hash/fnv"
	"math/rand/v2"
	"strings"
	"testing"
)

// FuzzFingerprint: the lexer never panics, never outgrows its buffer and
// does not allocate; and a statement whose literals are changed (the same
// kinds, new contents) and keeps the cacheable key of the original has the
// original's analysis.
func FuzzFingerprint(f *testing.F) {
	g := newGen(3)
	for i := 0; i < 200; i++ {
		c := g.stmt()
		f.Add(c.sql, uint8(c.d))
	}
	for _, s := range []string{
		"SELECT * FROM t WHERE a = 'x' OR 1=1", "select $$a$$", "select e'\\''", "select x'4'", "select 1.5e3",
		"select * from t where a = '\\'' -- '", "select `a``b`", "select \"a\"\"b\"", "select 'a' 'b'",
	} {
		f.Add(s, uint8(MySQL))
		f.Add(s, uint8(Postgres))
	}
	f.Fuzz(func(t *testing.T, sql string, dd uint8) {
		d := Dialect(dd % 4)
		dst := make([]byte, 0, 2*len(sql)+2)
		key, ok := fingerprint(dst, sql, d)
		if len(key) > 0 && &key[0] != &dst[:1][0] {
			t.Fatalf("key outgrew its buffer: %d > %d", len(key), cap(dst))
		}
		if len(sql) <= 2048 {
			if n := testing.AllocsPerRun(1, func() { fingerprint(dst, sql, d) }); n != 0 {
				t.Fatalf("%v allocations", n)
			}
		}
		if !ok || !keySafe(key) {
			return
		}
		h := fnv.New64a()
		h.Write([]byte(sql))
		gm := &gen{r: rand.New(rand.NewPCG(h.Sum64(), uint64(dd)))}
		a := Analyze(sql, d)
		for k := 0; k < 3; k++ {
			v, ok := gm.mutate(sql, d)
			if !ok {
				return
			}
			if k == 2 {
				if w, ok := gm.extendList(v, d); ok {
					v = w
				}
			}
			k2, ok2 := Fingerprint(nil, v, d)
			if !ok2 || !bytes.Equal(k2, key) {
				continue
			}
			if diffs := diffAnalysis(a, Analyze(v, d)); diffs != nil {
				t.Fatalf("%s: one key, two analyses:\n  %q\n  %q\n  %s", d, sql, v, strings.Join(diffs, "\n  "))
			}
		}
	})
}
