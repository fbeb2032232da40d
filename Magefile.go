//go:build mage

// Build targets for dbsec. Run them with `go tool mage <target>`; mage is a
// tool in go.mod, so nothing needs a global install.
package main

import (
	"archive/zip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/build"
	"github.com/magefile/mage/mg"
	"github.com/magefile/mage/sh"

	"github.com/dbsec/dbsec/dashboards/stack"
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

// Test runs every Go test with the race detector (unit, golden, fuzz seeds,
// the end-to-end --once replay and the real-tool tests), then the plugin
// frontend's tests (FrontendTest).
func Test() error {
	args := []string{"test", "-race", "-count=1", "-timeout", "20m", "./..."}
	if testing := os.Getenv("DBSEC_TEST_FLAGS"); testing != "" {
		args = append(args, strings.Fields(testing)...)
	}
	if err := sh.RunV("go", args...); err != nil {
		return err
	}
	// The race detector makes sync.Pool drop its items, so allocation
	// tests skip under it; run them once more without it.
	if err := sh.RunV("go", "test", "-count=1", "-run", "Alloc", "./pkg/parse/...", "./pkg/redact/...", "./pkg/detect/", "./pkg/pipeline/"); err != nil {
		return err
	}
	return FrontendTest()
}

// frontendDir holds the Grafana plugin's frontend (its own package.json).
const frontendDir = "plugin/frontend"

// runIn runs a command in dir with extra environment, its output going to ours.
func runIn(dir string, env []string, name string, args ...string) error {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s (in %s): %w", name, strings.Join(args, " "), dir, err)
	}
	return nil
}

// npmInstallNeeded tells whether plugin/frontend/node_modules is missing or
// older than package-lock.json.
func npmInstallNeeded() bool {
	lock, err := os.Stat(filepath.Join(frontendDir, "package-lock.json"))
	if err != nil {
		return true
	}
	// npm ci writes node_modules/.package-lock.json last.
	installed, err := os.Stat(filepath.Join(frontendDir, "node_modules", ".package-lock.json"))
	if err != nil {
		return true
	}
	return lock.ModTime().After(installed.ModTime())
}

// Frontend installs the plugin frontend's npm packages when needed and
// builds it into plugin/dist (module.js, plugin.json, img, README, CHANGELOG).
func Frontend() error {
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("the plugin frontend needs %s (Node.js 20 or later): %w", tool, err)
		}
	}
	if npmInstallNeeded() {
		fmt.Println("installing the plugin frontend's npm packages (npm ci in " + frontendDir + "); this may take a minute or two")
		start := time.Now()
		// puppeteer-core never downloads a browser; the tests use Debian's chromium.
		env := []string{"PUPPETEER_SKIP_DOWNLOAD=1", "npm_config_audit=false", "npm_config_fund=false"}
		if err := runIn(frontendDir, env, "npm", "ci"); err != nil {
			return err
		}
		fmt.Printf("npm ci took %s\n", time.Since(start).Round(time.Second))
	}
	return runIn(frontendDir, nil, "node", "build.mjs")
}

// FrontendTest builds the plugin frontend and runs its tests (node's test
// runner): query logic, the query model against pkg/grafana/model, plugin.json,
// the AMD module.js, and the editors in headless Chromium.
func FrontendTest() error {
	mg.Deps(Frontend)
	return runIn(frontendDir, nil, "npm", "test")
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
// parse + classify + count throughput (lines/s and MB/s) on one core, then
// runs BenchPeers.
func Bench() error {
	env := map[string]string{"GOMAXPROCS": "1"}
	// BenchmarkRealistic (issue 16's inputs in one process, for profiles)
	// is left to BenchPeers' table and to -bench Realistic by hand.
	if err := sh.RunWithV(env, "go", "test", "-run", "^$", "-bench", "^Benchmark(Pipeline|ParseClassifyCount|PipelineDetect)$", "-benchmem", "-benchtime", "3x",
		"-cpu", "1", "-count", "1", "./pkg/bench/"); err != nil {
		return err
	}
	return BenchPeers()
}

// BenchPeers is issue 16's comparison: on a generated 1 M-line file per
// input (tidb-audit-plugin, mariadb-audit, postgres, nginx-redash), lines per
// CPU-second of `dbsec_exporter --once` with detections off and on, and of
// Debian's mtail with the programs in pkg/bench/mtail/ doing the same
// counting, medians of 3, printed as one table (mtail is skipped with a
// message naming its Debian package when it is absent).
// DBSEC_BENCH_LINES, DBSEC_BENCH_RUNS and DBSEC_BENCH_FORMATS change the run.
func BenchPeers() error {
	if _, err := exec.LookPath("mtail"); err != nil {
		fmt.Println("mtail not found: install the Debian package mtail for the mtail column (apt install mtail)")
	}
	env := map[string]string{"DBSEC_BENCH_PEERS": "1"}
	return sh.RunWithV(env, "go", "test", "-v", "-run", "^TestPeersThroughput$", "-count", "1", "-timeout", "90m", "./pkg/bench/")
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

// The Grafana plugin's layout: plugin.json and the backend's main package
// live in plugin/, and everything Grafana loads is assembled in
// plugin/dist/. The SDK's build targets assume src/ and pkg/; this hook
// points them at our layout.
const (
	pluginDir  = "plugin"
	pluginDist = "plugin/dist"
	pluginID   = "dbsec-audit-datasource"
)

func init() {
	_ = build.SetBeforeBuildCallback(func(cfg build.Config) (build.Config, error) {
		cfg.PluginJSONPath = pluginDir
		cfg.RootPackagePath = "./" + pluginDir
		cfg.OutputBinaryPath = pluginDist
		return cfg, nil
	})
}

// pluginVersion is the frontend package's version, else DBSEC_VERSION,
// else 0.1.0-dev.
func pluginVersion() string {
	var pkg struct {
		Version string `json:"version"`
	}
	if b, err := os.ReadFile(filepath.Join(pluginDir, "frontend", "package.json")); err == nil && json.Unmarshal(b, &pkg) == nil && pkg.Version != "" {
		return pkg.Version
	}
	if v := os.Getenv("DBSEC_VERSION"); v != "" {
		return v
	}
	return "0.1.0-dev"
}

// hasTarget reports whether this Magefile has a target (mage -l lists it).
func hasTarget(name string) bool {
	out, err := sh.Output("go", "tool", "mage", "-l")
	if err != nil {
		return false
	}
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) > 0 && strings.EqualFold(strings.TrimSuffix(f[0], "*"), name) {
			return true
		}
	}
	return false
}

// Plugin builds the Grafana data source plugin: the backend for
// linux/amd64, linux/arm64, darwin/amd64, darwin/arm64 and windows/amd64,
// the frontend (when the frontend target exists), the folder plugin/dist/
// that Grafana loads, and dist/dbsec-audit-datasource-<version>.zip.
func Plugin() error {
	if err := os.RemoveAll(pluginDist); err != nil {
		return err
	}
	b := build.Build{}
	for _, step := range []struct {
		name string
		fn   func() error
	}{
		{"linux/amd64", b.Linux}, {"linux/arm64", b.LinuxARM64}, {"darwin/amd64", b.Darwin},
		{"darwin/arm64", b.DarwinARM64}, {"windows/amd64", b.Windows},
	} {
		fmt.Println("building the plugin backend for", step.name)
		if err := step.fn(); err != nil {
			return fmt.Errorf("backend %s: %w", step.name, err)
		}
	}
	if hasTarget("frontend") {
		fmt.Println("building the plugin frontend (mage frontend)")
		if err := sh.RunV("go", "tool", "mage", "frontend"); err != nil {
			return fmt.Errorf("frontend: %w", err)
		}
	} else {
		fmt.Println("no frontend target in the Magefile yet: skipping the frontend build (module.js)")
	}
	version := pluginVersion()
	if err := assemblePlugin(version); err != nil {
		return err
	}
	zipPath := filepath.Join("dist", pluginID+"-"+version+".zip")
	if err := zipDir(pluginDist, zipPath, pluginID); err != nil {
		return err
	}
	fmt.Println("plugin folder", pluginDist, "and", zipPath)
	return nil
}

// assemblePlugin completes plugin/dist with what the frontend build did
// not write: plugin.json (version and date filled in), img/, README.md and
// CHANGELOG.md.
func assemblePlugin(version string) error {
	if _, err := os.Stat(filepath.Join(pluginDist, "plugin.json")); os.IsNotExist(err) {
		b, err := os.ReadFile(filepath.Join(pluginDir, "plugin.json"))
		if err != nil {
			return err
		}
		s := strings.ReplaceAll(string(b), "%VERSION%", version)
		s = strings.ReplaceAll(s, "%TODAY%", time.Now().UTC().Format("2006-01-02"))
		if !json.Valid([]byte(s)) {
			return fmt.Errorf("%s/plugin.json is not valid JSON", pluginDir)
		}
		if err := os.WriteFile(filepath.Join(pluginDist, "plugin.json"), []byte(s), 0o644); err != nil {
			return err
		}
	}
	for _, f := range []string{"img", "README.md", "CHANGELOG.md"} {
		src, dst := filepath.Join(pluginDir, f), filepath.Join(pluginDist, f)
		if _, err := os.Stat(dst); err == nil {
			continue
		}
		if _, err := os.Stat(src); err != nil {
			fmt.Println("note: no", src, "to copy")
			continue
		}
		if err := copyTree(src, dst); err != nil {
			return err
		}
	}
	if _, err := os.Stat(filepath.Join(pluginDist, "module.js")); err != nil {
		fmt.Println("warning: plugin/dist has no module.js; Grafana loads the backend (queries, alerting) but has no editors")
	}
	return nil
}

func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		out := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(out, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(out, b, 0o644)
	})
}

// zipDir writes dir into a zip under the folder name top, keeping the
// executables' mode bits.
func zipDir(dir, zipPath, top string) error {
	if err := os.MkdirAll(filepath.Dir(zipPath), 0o755); err != nil {
		return err
	}
	f, err := os.Create(zipPath)
	if err != nil {
		return err
	}
	zw := zip.NewWriter(f)
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		h, err := zip.FileInfoHeader(info)
		if err != nil {
			return err
		}
		h.Name = top + "/" + filepath.ToSlash(rel)
		h.Method = zip.Deflate
		w, err := zw.CreateHeader(h)
		if err != nil {
			return err
		}
		in, err := os.Open(p)
		if err != nil {
			return err
		}
		defer in.Close()
		_, err = io.Copy(w, in)
		return err
	})
	if cerr := zw.Close(); err == nil {
		err = cerr
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
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
