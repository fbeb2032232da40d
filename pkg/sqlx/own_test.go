package sqlx

import (
	"reflect"
	"testing"
	"unsafe"
)

// TestCachedAnalysisOwnsItsMemory analyses statements whose text lives in
// a byte slice, overwrites the slice as a reused read buffer would be, and
// requires the cached analysis to be unchanged: the cache must not keep
// substrings of its callers' text.
func TestCachedAnalysisOwnsItsMemory(t *testing.T) {
	for _, tc := range []struct {
		sql string
		d   Dialect
	}{
		{"DELETE FROM shop.orders2 WHERE id = 7", MySQL},
		{"SELECT name FROM customers WHERE id = 42", MySQL},
		{"GRANT ALL ON *.* TO 'mallory'@'%'", MySQL},
		{"SET GLOBAL general_log = OFF", MySQL},
		{"SELECT * FROM t INTO OUTFILE '/tmp/dump.csv'", MySQL},
		{"SELECT * FROM accounts WHERE id = 3", Postgres},
		{"COPY accounts TO '/tmp/a.csv'", Postgres},
	} {
		want := Analyze(tc.sql, tc.d).owned()
		an := New(Options{})
		buf := []byte(tc.sql)
		text := unsafe.String(&buf[0], len(buf))
		first := an.Analyze(text, tc.d)
		if !reflect.DeepEqual(first, want) {
			t.Fatalf("%q: first analysis %+v, want %+v", tc.sql, first, want)
		}
		for i := range buf {
			buf[i] = 'X'
		}
		if got := an.Analyze(tc.sql, tc.d); !reflect.DeepEqual(got, want) {
			t.Fatalf("%q: cached analysis after its text's buffer was overwritten: %+v, want %+v", tc.sql, got, want)
		}
		if hits, _ := an.CacheStats(); hits != 1 {
			t.Fatalf("%q: %d cache hits, want 1", tc.sql, hits)
		}
	}
}
