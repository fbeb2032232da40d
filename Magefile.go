//go:build mage

// Build targets for dbsec. Run them with `go tool mage <target>`; mage is a
// tool in go.mod, so nothing needs a global install.
package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
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

	"github.com/dbsec/dbsec/internal/demo"
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
		"-X", pkgVersion + ".BuildDate=" + time.Now().UTC().Format("20060102-15:04:05"),
	}, " ")
}

// Build compiles the exporter into bin/dbsec_exporter.
func Build() error {
	fmt.Printf("building %s: on a cold Go build cache this compiles about 400 packages and may take\n"+
		"several minutes (5–7 on 2 cores); `go build -v` lists each package as it compiles. Later builds take seconds.\n", binary)
	return sh.RunV("go", "build", "-v", "-trimpath", "-ldflags", ldflags(), "-o", binary, "./exporter")
}

// Demo runs the exporter on the bundled samples of the five products
// (testdata/demo.toml over copies whose times are shifted to the last
// hour), posts the TDengine audit records to its receiver, prints what it
// found, and serves http://127.0.0.1:9947/ until Ctrl-C or SIGTERM, which
// stop the exporter too.
func Demo(ctx context.Context) error {
	mg.Deps(Build)
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx = untilOrphaned(ctx)
	// Start from scratch each time so that the samples are counted again.
	mirror := filepath.Join("data", "demo", "run")
	p, err := demo.Prepare(".", mirror, time.Now())
	if err != nil {
		return err
	}
	fmt.Printf("\ndbsec demo: %d sample logs copied to %s with their %d timestamps moved by %s (the newest is a minute old)\n",
		p.Files, mirror, p.Stamps, p.Shift.Round(time.Hour))
	logPath := filepath.Join("data", "demo", "exporter.log")
	logf, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(binary, "--config.file", p.Config, "--web.listen-address", demoAddr)
	cmd.Stdout, cmd.Stderr = logf, logf
	stopWithParent(cmd) // the exporter goes when this process goes, however it is killed
	if err := cmd.Start(); err != nil {
		return err
	}
	fmt.Printf("started %s (pid %d) on %s; its log is %s\n", binary, cmd.Process.Pid, demoAddr, logPath)
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stopExporter := func() error {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-exited:
			var ee *exec.ExitError
			if err != nil && !(errors.As(err, &ee) && ee.ExitCode() <= 0) {
				return fmt.Errorf("exporter: %w (see %s)", err, logPath)
			}
			return nil
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
			return fmt.Errorf("the exporter did not stop within 15s of SIGTERM; killed it")
		}
	}

	base := "http://" + demoAddr
	client := &http.Client{Timeout: 10 * time.Second}
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := demo.WaitReady(wctx, client, base); err != nil {
		_ = stopExporter()
		return err
	}
	if u, err := demo.AuditURL(p.Config); err == nil && u != "" {
		n, err := demo.PushAudit(wctx, client, u, filepath.Join(mirror, demo.AuditRecords))
		if err != nil {
			_ = stopExporter()
			return fmt.Errorf("TDengine audit push: %w", err)
		}
		fmt.Printf("posted %d TDengine audit records to %s/audit-batch, as taosd does\n", n, u)
	}
	fmt.Print("waiting for the exporter to store what it read")
	if _, err := demo.Settle(wctx, client, base, func() { fmt.Print(".") }); err != nil {
		_ = stopExporter()
		return err
	}
	fmt.Println()
	sum, err := demo.Report(wctx, client, base)
	if err != nil {
		_ = stopExporter()
		return err
	}
	sum.Print(os.Stdout, base)
	fmt.Printf("\nOpen %s/ for the overview, %s/metrics for Prometheus, %s/api/v1/openapi.yaml for the API.\n", base, base, base)
	fmt.Println("Ctrl-C (or SIGTERM to this process) stops the demo and the exporter.")
	select {
	case <-ctx.Done():
		fmt.Println("\nstopping the exporter …")
		return stopExporter()
	case err := <-exited:
		return fmt.Errorf("the exporter stopped by itself: %v (see %s)", err, logPath)
	}
}

// untilOrphaned returns a context that ends when this process's parent
// goes away. SIGTERM to `go tool mage demo` ends the go command and mage
// but not this compiled target, which the kernel then hands to another
// parent: that is the signal to stop the exporter and exit.
func untilOrphaned(ctx context.Context) context.Context {
	ctx, cancel := context.WithCancel(ctx)
	parent := os.Getppid()
	go func() {
		defer cancel()
		for os.Getppid() == parent {
			select {
			case <-ctx.Done():
				return
			case <-time.After(200 * time.Millisecond):
			}
		}
		fmt.Println("\nthe demo's parent process is gone")
	}()
	return ctx
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

// TestShort is the inner loop: every test with the race detector and
// -short, which skips the slow tests that start real servers and tools
// (mariadbd, postgres, nginx, rsyslogd, promtool rule tests, Prometheus end
// to end), the exporter binary's process tests and CPU measurements, and
// the event store's and the API's scale tests (slowSkip), which take minutes
// under the race detector.
func TestShort() error {
	args := []string{"test", "-race", "-short", "-count=1", "-timeout", "10m", "-skip", slowSkip, "./..."}
	if testing := os.Getenv("DBSEC_TEST_FLAGS"); testing != "" {
		args = append(args, strings.Fields(testing)...)
	}
	return sh.RunV("go", args...)
}

// slowSkip names the scale tests of the event store and the API that
// testShort leaves out (each runs for 30 s to 2 min under -race on two
// cores); go tool mage test runs them.
const slowSkip = "^(TestIntegrity|TestRetention|TestAggregationsMatchBruteForce|TestInjectionThroughEveryFilter)$"

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
