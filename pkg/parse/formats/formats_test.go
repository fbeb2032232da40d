package formats

import (
	"regexp"
	"testing"

	"github.com/dbsec/dbsec/pkg/event"
	"github.com/dbsec/dbsec/pkg/parse"
)

func TestTable(t *testing.T) {
	name := regexp.MustCompile(`^[a-z][a-z0-9]*(-[a-z0-9]+)*$`)
	seen := map[string]bool{}
	for _, f := range All() {
		switch {
		case !name.MatchString(f.Name):
			t.Errorf("format name %q is not lower-case-with-dashes", f.Name)
		case seen[f.Name]:
			t.Errorf("format %q registered twice", f.Name)
		case f.New == nil || f.Doc == "":
			t.Errorf("format %q has no constructor or no doc", f.Name)
		case f.System == event.SystemUnknown || f.System >= event.NumSystems:
			t.Errorf("format %q has no system", f.Name)
		}
		seen[f.Name] = true
		if g, ok := Lookup(f.Name); !ok || g.Name != f.Name {
			t.Errorf("Lookup(%q) failed", f.Name)
		}
		// A parser must cope with an empty record.
		var ev event.Event
		if _, err := f.New(parse.Options{}.Defaults()).Parse(nil, &ev); err != nil && err.Error() == "" {
			t.Errorf("%s: empty error message", f.Name)
		}
	}
	if _, ok := Lookup("nope"); ok {
		t.Error("Lookup of an unknown name succeeded")
	}
}
