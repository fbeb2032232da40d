//go:build mage

// Build targets for dbsec. Run them with `go tool mage <target>`; mage is a
// tool in go.mod, so nothing needs a global install.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/magefile/mage/mg"
	"github.com/magefile/mage/sh"

	"github.com/dbsec/dbsec/dashboards/stack"
)

// Default target.
var Default = Build

const (
	pkgVersion = "github.com/prometheus/common/version"
	binary     = "bin/dbsec_exporter"
	demoAddr   = "127.0.0.1:9947"
)

func ldflags() string {
	rev, _ := sh.Output("git", "rev-parse", "--short", "HEAD")
	branch, _ := sh.Output("git", "rev-parse", "--abbrev-ref", "HEAD")
	ver := os.Getenv("DBSEC_VERSION")
	if ver == "" {
		ver = "0.1.0-dev"
	}
	return strings.Join([]string{
		"-X", pkgVersion + ".Version=" + ver,
		"-X", pkgVersion + ".Revision=" + rev,
		"-X", pkgVersion + ".Branch=" + branch,
		"-X", pkgVersion + ".BuildUser=mage",
	}, " ")
}

// Build compiles the exporter into bin/dbsec_exporter.
func Build() error {
	fmt.Println("building", binary)
	return sh.RunV("go", "build", "-trimpath", "-ldflags", ldflags(), "-o", binary, "./exporter")
}

// Demo runs the exporter on the bundled sample TiDB logs, on localhost.
func Demo() error {
	mg.Deps(Build)
	// Start from scratch each time so that the samples are counted again.
	if err := os.RemoveAll(filepath.Join("data", "demo")); err != nil {
		return err
	}
	fmt.Printf("\ndbsec demo: open http://%s/ (metrics at http://%s/metrics). Ctrl-C stops it.\n\n", demoAddr, demoAddr)
	cmd := exec.Command(binary, "--config.file", "testdata/demo.toml", "--web.listen-address", demoAddr)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.ExitCode() == -1 { // stopped by a signal (Ctrl-C)
		return nil
	}
	return err
}

// Test runs every test with the race detector: unit, golden, fuzz seeds,
// the end-to-end --once replay and the real-tool tests.
func Test() error {
	args := []string{"test", "-race", "-count=1", "-timeout", "20m", "./..."}
	if testing := os.Getenv("DBSEC_TEST_FLAGS"); testing != "" {
		args = append(args, strings.Fields(testing)...)
	}
	return sh.RunV("go", args...)
}

// Bench generates a corpus of at least 1 M lines per TiDB format and prints
// parse + classify + count throughput (lines/s and MB/s) on one core.
func Bench() error {
	env := map[string]string{"GOMAXPROCS": "1"}
	return sh.RunWithV(env, "go", "test", "-run", "^$", "-bench", ".", "-benchmem", "-benchtime", "3x",
		"-cpu", "1", "-count", "1", "./pkg/bench/")
}

// Fuzz runs every parser's fuzz target briefly (FUZZTIME, default 20s each).
func Fuzz() error {
	t := os.Getenv("FUZZTIME")
	if t == "" {
		t = "20s"
	}
	out, err := sh.Output("go", "list", "./pkg/...")
	if err != nil {
		return err
	}
	for _, p := range strings.Fields(out) {
		files, _ := filepath.Glob(filepath.Join(strings.TrimPrefix(p, "github.com/dbsec/dbsec/"), "*_test.go"))
		has := false
		for _, f := range files {
			b, _ := os.ReadFile(f)
			if strings.Contains(string(b), "func FuzzParse(") {
				has = true
			}
		}
		if !has {
			continue
		}
		if err := sh.RunV("go", "test", "-run", "^$", "-fuzz", "^FuzzParse$", "-fuzztime", t, p); err != nil {
			return err
		}
	}
	return nil
}

// Lint runs go vet, gofmt and staticcheck (from the module proxy).
func Lint() error {
	if err := sh.RunV("go", "vet", "./..."); err != nil {
		return err
	}
	out, err := sh.Output("gofmt", "-l", ".")
	if err != nil {
		return err
	}
	if out != "" {
		return fmt.Errorf("gofmt would change:\n%s", out)
	}
	return sh.RunV("go", "run", "honnef.co/go/tools/cmd/staticcheck@v0.7.0", "./...")
}

// Clean removes build output and demo state.
func Clean() error {
	for _, p := range []string{"bin", filepath.Join("data", "demo")} {
		if err := os.RemoveAll(p); err != nil {
			return err
		}
	}
	_ = runtime.GOOS
	return nil
}

// Dashboards regenerates the Grafana dashboards (dashboards/*.json) and
// dashboards/includes.json from the generator in dashboards/gen.
func Dashboards() error {
	return sh.RunV("go", "run", "./dashboards/gen", "-dir", "dashboards")
}

// Stack runs the local monitoring stack on 127.0.0.1: the exporter on
// testdata/demo.toml's samples (DBSEC_STACK_CONFIG names another
// configuration), a real Prometheus scraping it with the alert rules of
// alerting/rules, and a real Alertmanager routing with
// alerting/alertmanager.yml (its notifications are printed), with their data
// in a temporary directory. It prints the URLs and how to point a Grafana at
// them. Ctrl-C or SIGTERM stops everything.
func Stack(ctx context.Context) error {
	mg.Deps(Build)
	cfg := os.Getenv("DBSEC_STACK_CONFIG")
	if cfg == "" {
		cfg = filepath.Join("testdata", "demo.toml")
	}
	exe, err := filepath.Abs(binary)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "dbsec-stack-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	stack.StopWithParent()
	fmt.Println("starting the exporter, Alertmanager and Prometheus in", dir)
	s, err := stack.Start(ctx, stack.Options{Root: ".", Configs: []string{cfg}, Exporter: exe, Dir: dir, Alerts: os.Stdout})
	if err != nil {
		return err
	}
	defer func() {
		fmt.Println("stopping the stack")
		s.Stop()
	}()
	if err := s.WaitSamplesScraped(ctx); err != nil {
		return err
	}
	prov, err := s.WriteGrafanaProvisioning(".")
	if err != nil {
		return err
	}
	wd, _ := os.Getwd()
	e := s.Exporters[0]
	fmt.Printf(`
dbsec stack on %s, samples loaded:
  exporter      %s/metrics  (events: %s/api/v1/events, status: %s/api/v1/status)
  prometheus    %s  (alerts: %s/alerts)
  alertmanager  %s
  logs          %s/*.log

Point a Grafana (11 to 13) at it, with the provisioning written for this stack:
  GF_PATHS_PROVISIONING=%s \
  GF_PLUGINS_ALLOW_LOADING_UNSIGNED_PLUGINS=dbsec-audit-datasource \
  grafana-server …
or with your own provisioning directory: copy dashboards/provisioning/*.yaml and
alerting/grafana/dbsec.yaml into it and set
  DBSEC_PROMETHEUS_URL=%s DBSEC_EXPORTER_URL=%s \
  DBSEC_ALERTMANAGER_URL=%s DBSEC_DASHBOARDS_DIR=%s/dashboards
The panels of the dbsec data source need the plugin in Grafana's plugins directory
(see docs/dashboards.md). The dashboards are in the folder "dbsec"; start at
"dbsec / Security overview".
`, cfg, e.URL, e.URL, e.URL, s.PrometheusURL, s.PrometheusURL, s.AlertmanagerURL, dir, prov,
		s.PrometheusURL, e.URL, s.AlertmanagerURL, wd)
	if oldest, newest, err := s.StoreRange(ctx); err == nil && !oldest.IsZero() {
		fmt.Printf(`The sample events carry their own timestamps, %s to %s: the events explorer shows them at
  /d/dbsec-events/dbsec-events-explorer?from=%d&to=%d
`, oldest.UTC().Format(time.RFC3339), newest.UTC().Format(time.RFC3339), oldest.Add(-time.Minute).UnixMilli(), newest.Add(time.Minute).UnixMilli())
	}
	fmt.Println("\nAlerts that Alertmanager delivers are printed below. Ctrl-C stops everything.")
	select {
	case <-ctx.Done():
		return nil
	case <-s.Done():
		// A signal to the whole process group reaches the children too.
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Second):
			return s.Exited()
		}
	}
}
