//go:build mage

// Build targets for dbsec. Run them with `go tool mage <target>`; mage is a
// tool in go.mod, so nothing needs a global install.
package main

import (
	"archive/zip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/build"
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
