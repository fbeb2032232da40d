package parsetest

import (
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/dbsec/dbsec/pkg/parse"
)

// SameEvents checks that two files holding the same records in two layouts
// of one format (line n of one is line n of the other, e.g. a log's text
// and JSON forms) give the same events, Raw aside. A line that is blank in
// other (a record that has no form there) and lines past the end of base
// are not compared.
func SameEvents(t *testing.T, f parse.Format, base, other string) {
	t.Helper()
	a, err := os.ReadFile(base)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(other)
	if err != nil {
		t.Fatal(err)
	}
	ra, rb := Run(f, Options(), a), Run(f, Options(), b)
	byLine := map[int64]Record{}
	for _, r := range ra {
		byLine[r.Line] = r
	}
	compared := 0
	for _, r := range rb {
		want, ok := byLine[r.Line]
		if !ok {
			continue // a line of other only (its golden checks it)
		}
		if r.Event == nil || want.Event == nil {
			if r.Event != nil || r.Error != "" && want.Error == "" {
				t.Errorf("%s:%d: %+v, but %s:%d gives %+v", other, r.Line, r, base, r.Line, want)
			}
			continue
		}
		x, y := *want.Event, *r.Event
		x.Raw, y.Raw = "", ""
		if d := cmp.Diff(x, y); d != "" {
			t.Errorf("%s:%d differs from %s:%d (-%s +%s):\n%s", other, r.Line, base, r.Line, base, other, d)
		}
		compared++
	}
	events := 0
	for _, r := range ra {
		if r.Event != nil {
			events++
		}
	}
	if compared == 0 || compared < events-2 {
		t.Errorf("%s: only %d of the %d events of %s compared", other, compared, events, base)
	}
}
