package victorialogs

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dbsec/dbsec/pkg/store"
)

// TestLogsQLQuoting: every filter value is one string literal that reads
// back as the value, whatever it holds; the structure around the values
// does not depend on them.
func TestLogsQLQuoting(t *testing.T) {
	hostile := []string{`x" or user:* | delete`, `\`, `"`, "a\nb", "`", `'`, `*`, `(?i).*`, "é\x00\xff", `) or (`, `| stats count()`}
	for _, v := range hostile {
		f := store.Filter{Source: []string{v}, User: []string{v}, Rule: []string{v}, Q: v, Not: &store.Filter{Source: []string{v}}}
		q := eventFilter(&f).String()
		// Replace each literal by a placeholder: what remains is the
		// structure, the same for every value.
		shape := q
		for _, l := range []string{lit(v), lit(ruleRE(v)), lit("(?i)" + regexp.QuoteMeta(v))} {
			shape = strings.ReplaceAll(shape, l, "V")
		}
		want := `{source in(V)} kind:=event user:in(V) (detections:~V) (statement:~V or raw:~V) !source:in(V)`
		if shape != want {
			t.Errorf("value %q: query %s\nshape %s\nwant  %s", v, q, shape, want)
		}
		// The literal reads back as the value (VictoriaLogs unquotes
		// double-quoted tokens with strconv.Unquote).
		if u, err := strconv.Unquote(lit(v)); err != nil || u != v {
			t.Errorf("value %q: literal %s reads back as %q (%v)", v, lit(v), u, err)
		}
	}
	// Cursor and time bounds are numbers and fixed-width timestamps.
	if got := after("tb", pageCursor{1772323200123456789, 42, -1}); got != `_time:<=2026-03-01T00:00:00.123456789Z (_time:<2026-03-01T00:00:00.123456789Z or tb:<42)` {
		t.Errorf("after: %s", got)
	}
	if got := after("tb", pageCursor{1772323200123456789, 42, 7}); got != `_time:<=2026-03-01T00:00:00.123456789Z (_time:<2026-03-01T00:00:00.123456789Z or tb:<42 or (tb:=42 (xk:<7 or !xk:*)))` {
		t.Errorf("after: %s", got)
	}
	for _, c := range []pageCursor{{1, 2, -1}, {-5, 1 << 60, 0}, {3, 4, 1<<48 - 1}} {
		if got, err := decodePageCursor("e", c.encode("e")); err != nil || got != c {
			t.Errorf("cursor %+v reads back as %+v %v", c, got, err)
		}
	}
	if _, err := decodePageCursor("e", pageCursor{1, 2, 3}.encode("d")); err == nil {
		t.Error("a cursor of another kind is accepted")
	}
	if got := timeRange(time.Unix(1772323200, 0), time.Unix(1772323260, 0)); got != `_time:[2026-03-01T00:00:00.000000000Z, 2026-03-01T00:01:00.000000000Z)` {
		t.Errorf("time range: %s", got)
	}
}
