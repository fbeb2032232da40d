package store_test

import (
	"os/exec"
	"strings"
	"testing"
)

// deps lists the packages that pkg imports, directly or not.
func deps(t *testing.T, pkg string) []string {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", pkg).Output()
	if err != nil {
		t.Fatalf("go list -deps %s: %v", pkg, err)
	}
	return strings.Fields(string(out))
}

// TestSeams guards the boundaries between the packages: the contract and
// the API stay free of engines, the pipeline and the parsers, and the
// exporter stays free of the Grafana SDK. A failure names the import that
// broke the seam; `go list -deps` shows the path.
func TestSeams(t *testing.T) {
	const mod = "github.com/dbsec/dbsec/"
	for _, c := range []struct {
		pkg       string
		forbidden []string
	}{
		{mod + "pkg/store", []string{mod + "pkg/store/", mod + "pkg/pipeline", mod + "pkg/parse", mod + "pkg/api", "modernc.org/", "github.com/prometheus/"}},
		{mod + "pkg/api", []string{mod + "pkg/store/sqlite", mod + "pkg/store/victorialogs", mod + "pkg/pipeline", mod + "pkg/parse", mod + "pkg/detect", "modernc.org/sqlite", "github.com/klauspost/compress"}},
		{mod + "pkg/grafana/model", []string{mod + "pkg/", "github.com/grafana/"}},
		{mod + "exporter", []string{"github.com/grafana/"}},
	} {
		ds := deps(t, c.pkg)
		if len(ds) == 0 || ds[len(ds)-1] != c.pkg {
			t.Fatalf("go list -deps %s does not end with the package itself: %v", c.pkg, ds)
		}
		for _, d := range ds {
			for _, f := range c.forbidden {
				if (d == strings.TrimSuffix(f, "/") || strings.HasPrefix(d, f)) && d != c.pkg {
					t.Errorf("%s depends on %s", c.pkg, d)
				}
			}
		}
	}
}
