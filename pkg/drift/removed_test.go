package drift

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestTiDBRemovedConfig: TIDB-010 flags the keys of TiDB's removedConfig
// set (pkg/config/config.go) present in a file, by version: the entries
// scoped to 6.1.0 and later everywhere from 6.1.0, the rest of the set from
// 8.5.0; a file with none of them passes.
func TestTiDBRemovedConfig(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "tidb.toml")
	body := `mem-quota-query = 1073741824
run-ddl = true
enable-global-index = true

[stmt-summary]
enable = true

[plugin]
dir = "/opt/tidb/plugin"
`
	if err := os.WriteFile(conf, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		version, want string
	}{
		{"8.5.0", "enable-global-index, mem-quota-query, plugin.dir, run-ddl, stmt-summary.enable"},
		{"7.5.1", "mem-quota-query"},
		{"6.0.0", ""},
	} {
		tgt := offline("tidb", conf)
		tgt.Versions = map[Kind]string{KindTiDB: c.version}
		res := run(t, Config{Targets: []Target{tgt}})
		got := "missing"
		for _, f := range res.Findings {
			if f.RuleID == "TIDB-010" {
				got = string(f.Status) + " " + f.Observed
			}
		}
		want := "pass "
		if c.want != "" {
			want = "fail " + c.want
		}
		if strings.TrimSpace(got) != strings.TrimSpace(want) {
			t.Errorf("TiDB %s: TIDB-010 = %q, want %q", c.version, got, want)
		}
	}
}
