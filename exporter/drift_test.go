package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/dbsec/dbsec/pkg/config"
	"github.com/dbsec/dbsec/pkg/drift"
)

// TestDriftProductTarget: a TiDB configuration under a name that does not
// say its product is checked once the target names it (TiDB's shipped
// example fails TIDB-004 and TIDB-006), and a target whose file cannot be
// read shows in dbsec_config_target_errors instead of looking clean.
func TestDriftProductTarget(t *testing.T) {
	dir := t.TempDir()
	example, err := os.ReadFile("../pkg/drift/testdata/examples/tidb/config.toml")
	if err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "server.conf")
	if err := os.WriteFile(conf, example, 0o644); err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "dbsec.toml")
	body := `
[[drift.target]]
name = "renamed"
files = ["server.conf"]
product = "tidb"
version = "8.5.0"

[[drift.target]]
name = "gone"
files = ["missing/tidb.toml"]
`
	if err := os.WriteFile(cfgPath, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	c, err := driftChecker(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(drift.NewCollector(c))
	list, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	mfs := map[string]*dto.MetricFamily{}
	for _, mf := range list {
		mfs[mf.GetName()] = mf
	}
	for _, rule := range []string{"TIDB-004", "TIDB-006"} {
		if v := value(mfs, "dbsec_config_findings", "target", "renamed", "rule", rule); v != 1 {
			t.Errorf("dbsec_config_findings{target=renamed,rule=%s} = %v, want 1", rule, v)
		}
	}
	if v := value(mfs, "dbsec_config_target_errors", "target", "renamed"); v != 0 {
		t.Errorf("errors of renamed = %v, want 0", v)
	}
	if v := value(mfs, "dbsec_config_target_errors", "target", "gone"); v != 1 {
		t.Errorf("errors of gone = %v, want 1", v)
	}
}
