package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDockerPrefix reads the TiDB sample log twice, once as it is and once
// as `docker compose logs` prints it ("tidb-1  | " before every line), the
// second with docker_prefix = true: both count the same.
func TestDockerPrefix(t *testing.T) {
	b, err := os.ReadFile("../testdata/tidb/tidb-audit-plugin.log")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	plain := filepath.Join(dir, "plain.log")
	docker := filepath.Join(dir, "docker.log")
	lines := strings.SplitAfter(string(b), "\n")
	var pre strings.Builder
	for _, l := range lines {
		if l != "" {
			pre.WriteString("tidb-1  | " + l)
		}
	}
	if err := os.WriteFile(plain, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(docker, []byte(pre.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "dbsec.toml")
	conf := fmt.Sprintf(`[server]
state_dir = %q
[detect]
enabled = false
[[source]]
name = "plain"
format = "tidb-audit-plugin"
path = %q
[[source]]
name = "docker"
format = "tidb-audit-plugin"
path = %q
docker_prefix = true
`, dir, plain, docker)
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCapture(t, context.Background(), "--once", "--config.file", cfg)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	mfs := parseExposition(t, out)
	compared := 0
	for _, name := range []string{"dbsec_login_attempts_total", "dbsec_events_total", "dbsec_privilege_changes_total", "dbsec_parse_errors_total"} {
		for _, m := range mfs[name].GetMetric() {
			var labels []string
			src := ""
			for _, l := range m.GetLabel() {
				if l.GetName() == "source" {
					src = l.GetValue()
					continue
				}
				labels = append(labels, l.GetName(), l.GetValue())
			}
			if src != "plain" {
				continue
			}
			want := m.GetCounter().GetValue()
			got := value(mfs, name, append([]string{"source", "docker"}, labels...)...)
			if got != want {
				t.Errorf("%s%v: docker %v, plain %v", name, labels, got, want)
			}
			if want > 0 {
				compared++
			}
		}
	}
	if compared < 3 {
		t.Fatalf("only %d non-zero series compared:\n%s", compared, out)
	}
	if v := value(mfs, "dbsec_parse_errors_total", "source", "docker", "reason", "syntax"); v != value(mfs, "dbsec_parse_errors_total", "source", "plain", "reason", "syntax") {
		t.Errorf("docker source has %v syntax errors", v)
	}
}
