//go:build mage

// Build targets for dbsec. Run them with `go tool mage <target>`; mage is a
// tool in go.mod, so nothing needs a global install.
package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/magefile/mage/mg"
	"github.com/magefile/mage/sh"
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
