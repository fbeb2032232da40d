package docs

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/dbsec/dbsec/pkg/config"
)

func readme(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestTestPackagesMatchCI: the README's list of Debian packages the tests
// need is the list .ci/run installs, in the same order.
func TestTestPackagesMatchCI(t *testing.T) {
	ci, err := os.ReadFile("../.ci/run")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^pkgs=\(([^)]*)\)`).FindSubmatch(ci)
	if m == nil {
		t.Fatal(".ci/run has no pkgs=(…) line")
	}
	want := strings.Fields(string(m[1]))
	section := regexp.MustCompile(`(?s)<!-- test-packages[^>]*-->(.*?)<!-- /test-packages -->`).FindStringSubmatch(readme(t))
	if section == nil {
		t.Fatal("README.md has no <!-- test-packages --> section")
	}
	var got []string
	for _, row := range regexp.MustCompile("(?m)^\\| `([a-z0-9.+-]+)` \\|").FindAllStringSubmatch(section[1], -1) {
		got = append(got, row[1])
	}
	if !slices.Equal(got, want) {
		t.Errorf("README.md lists %v, .ci/run installs %v", got, want)
	}
}

// TestReadmeProductSnippets: the configuration snippets of the per-product
// guides, together, are a configuration the exporter accepts.
func TestReadmeProductSnippets(t *testing.T) {
	section := regexp.MustCompile(`(?s)\n## Five minutes per product\n(.*?)\n## `).FindStringSubmatch(readme(t))
	if section == nil {
		t.Fatal("README.md has no section \"Five minutes per product\"")
	}
	blocks := regexp.MustCompile("(?s)```toml\n(.*?)```").FindAllStringSubmatch(section[1], -1)
	if len(blocks) < 5 {
		t.Fatalf("%d TOML snippets in the guides, want one per product at least", len(blocks))
	}
	var conf strings.Builder
	conf.WriteString("[server]\nstate_dir = \"state\"\n\n")
	for _, b := range blocks {
		conf.WriteString(b[1])
		conf.WriteString("\n")
	}
	p := filepath.Join(t.TempDir(), "dbsec.toml")
	if err := os.WriteFile(p, []byte(conf.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(p)
	if err != nil {
		t.Fatalf("the guides' snippets do not load:\n%v\n---\n%s", err, conf.String())
	}
	if len(cfg.Sources) < 10 {
		t.Errorf("%d sources in the guides' snippets", len(cfg.Sources))
	}
}
