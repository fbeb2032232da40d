package detect

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// scannerRef is the scanner-mark check as one strings.Contains per mark.
func scannerRef(low string) bool {
	for _, m := range scannerMarks {
		if strings.Contains(low, m) {
			return true
		}
	}
	return false
}

// sqliInRef is sqliIn without the one-pass keyword search and the extra gates: the keyword and the regexp
// alone, as the rule was first written. The gates may only skip regexps
// that cannot match.
func sqliInRef(low string) bool {
	for _, p := range uriSQLi {
		if strings.Contains(low, p.kw) && (p.re == nil || p.re.MatchString(low)) {
			return true
		}
	}
	return false
}

var sqliSeeds = []string{
	`get /api/queries/12?order=name&origin=x http/1.1 "-" "mozilla/5.0 (x11; linux x86_64) like gecko"`,
	`get /login?next=/ or 1=1 http/1.1`,
	`get /api/x?q=' or 'a'='a http/1.1`,
	`get /api/x?q='	and	"b" like "b" http/1.1`,
	`get /api/x?q=1 and 2=2 http/1.1`,
	`get /api/x?q=1 and2=2 or` + "\f" + `3=3`,
	`get /api/x?q=1;select 1`,
	`get /redash.example.org/orders and more`,
	`get /?id=1 union/**/select null`,
	"get /?a=\"or\r1=1",
}

func TestSQLiGateSameAsRegexp(t *testing.T) {
	words := []string{"sqlmap/", "nikto/", "(nikto", "zmeu", "zm", "sq", "@@version", "information_schema", "xp_", "sleep(1", "or", "and", "'", "\"", " ", "\t", "\n", "\f", "\r", "\v", "=", "like", "1", "2", "a", "b", "order", "origin", ";", "select", "union", "/**/", "x"}
	r := rand.New(rand.NewPCG(16, 37))
	n, matched := 0, 0
	check := func(s string) {
		n++
		got, want := sqliIn(s), sqliInRef(s)
		if got != want {
			t.Fatalf("sqliIn(%q) = %v, the keyword and regexp alone say %v", s, got, want)
		}
		if got, want := scanners.set(s, true) != 0, scannerRef(s); got != want {
			t.Fatalf("scanner marks in %q: %v, strings.Contains says %v", s, got, want)
		}
		if got, want := sqliKeywords.set(s, false), keywordSet(s); got != want {
			t.Fatalf("keywords in %q: %b, strings.Contains says %b", s, got, want)
		}
		if want {
			matched++
		}
	}
	for _, s := range sqliSeeds {
		check(s)
	}
	for range 200_000 {
		var b strings.Builder
		for range 1 + r.IntN(10) {
			b.WriteString(words[r.IntN(len(words))])
		}
		check(b.String())
	}
	if matched < 100 || matched == n {
		t.Fatalf("%d of %d generated requests matched: the corpus does not exercise both answers", matched, n)
	}
	t.Logf("%d requests, %d injection shapes, gate and regexp agree", n, matched)
}

func FuzzSQLiGate(f *testing.F) {
	for _, s := range sqliSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		low := strings.ToLower(s)
		if got, want := sqliIn(low), sqliInRef(low); got != want {
			t.Fatalf("sqliIn(%q) = %v, the keyword and regexp alone say %v", low, got, want)
		}
		if got, want := scanners.set(low, true) != 0, scannerRef(low); got != want {
			t.Fatalf("scanner marks in %q: %v, strings.Contains says %v", low, got, want)
		}
		if got, want := sqliKeywords.set(low, false), keywordSet(low); got != want {
			t.Fatalf("keywords in %q: %b, strings.Contains says %b", low, got, want)
		}
	})
}

func keywordSet(s string) uint64 {
	var b uint64
	for i, p := range uriSQLi {
		if strings.Contains(s, p.kw) {
			b |= 1 << i
		}
	}
	return b
}
