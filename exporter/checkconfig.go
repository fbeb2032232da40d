package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/common/version"

	"github.com/dbsec/dbsec/pkg/drift"
	"github.com/dbsec/dbsec/pkg/finding"
)

// checkConfig is `dbsec_exporter check-config [flags] FILE…`: it checks
// database configuration files against the baseline rule packs and
// returns the exit code (drift.Exit*). Its flags follow the exporter's
// convention: kingpin, dotted names, --version is dbsec's own version.
func checkConfig(args []string, stdout, stderr io.Writer) int {
	app := kingpin.New(exporterName+" check-config", "Checks database configuration files against secure-baseline rule packs.\n\n"+
		"Exit codes: 0 pass, 1 failing findings, 2 bad usage or input (a file that is not its product's format included), "+
		"3 drift with --fail-on-drift, 4 output error.")
	app.UsageWriter(stderr)
	app.ErrorWriter(stderr)
	var (
		files       = app.Arg("file", "Configuration files of target \"default\".").Strings()
		targets     = app.Flag("target", "NAME=PATH: add a file to target NAME (repeatable).").PlaceHolder("NAME=PATH").Strings()
		product     = app.Flag("product", "Product of the files: tidb, tikv, pd, tdengine (taos.cfg), taosadapter, taoskeeper, redash. Default: detected from the file name.").String()
		versions    = app.Flag("product.version", "Product version, VERSION or KIND=VERSION (repeatable); selects defaults and rules. Default: the newest known.").PlaceHolder("VERSION").Strings()
		edition     = app.Flag("product.edition", "TDengine edition: community or enterprise.").Default("community").Enum("community", "enterprise")
		facts       = app.Flag("fact", "Inventory fact KEY=VALUE, e.g. tls_terminated_upstream=true, offline=true (repeatable).").PlaceHolder("KEY=VALUE").Strings()
		rules       = app.Flag("rules.file", "Extra rule pack (repeatable).").Strings()
		builtin     = app.Flag("rules.builtin", "Load the built-in rule packs (--no-rules.builtin skips them).").Default("true").Bool()
		overrides   = app.Flag("overrides.file", "Overrides: tailoring, waivers, severity overrides.").String()
		snapshot    = app.Flag("snapshot.file", "Approved snapshot to compare against (or to write with --snapshot.approve).").String()
		approve     = app.Flag("snapshot.approve", "Write the current state to --snapshot.file instead of comparing.").Bool()
		approvedBy  = app.Flag("snapshot.approved-by", "Who approves (with --snapshot.approve).").String()
		reason      = app.Flag("snapshot.reason", "Why (with --snapshot.approve).").String()
		keyFile     = app.Flag("hmac-key.file", "File holding the HMAC key for secrets (needed with a snapshot).").String()
		keyEnv      = app.Flag("hmac-key.env", "Environment variable holding the HMAC key.").PlaceHolder("VAR").String()
		root        = app.Flag("root", "Prefix for absolute env_file paths (an offline copy of a host).").PlaceHolder("DIR").String()
		format      = app.Flag("output.format", "Output format: "+strings.Join(drift.Formats, ", ")+".").Default("text").Enum(drift.Formats...)
		failOn      = app.Flag("fail-on", "Lowest severity that fails the run: info, low, medium, high, critical.").Default("low").String()
		failOnDrift = app.Flag("fail-on-drift", "Exit 3 when the snapshot differs.").Bool()
	)
	app.Version(version.Print(exporterName))
	app.HelpFlag.Short('h')
	exit := -1
	app.Terminate(func(code int) { exit = code })
	if _, err := app.Parse(args); err != nil {
		fmt.Fprintf(stderr, "check-config: %v (try --help)\n", err)
		return drift.ExitConfig
	}
	if exit >= 0 { // --help or --version
		return exit
	}
	usage := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "check-config: "+format+"\n", a...)
		return drift.ExitConfig
	}
	threshold, err := finding.ParseSeverity(*failOn)
	if err != nil {
		return usage("--fail-on: %v", err)
	}
	var kind drift.Kind
	if *product != "" && *product != "redash" {
		if kind, err = drift.ParseKind(*product); err != nil {
			return usage("--product: %v", err)
		}
	}
	readOpts := drift.ReadOptions{Root: *root}
	tmap := map[string]*drift.Target{}
	var order []string
	add := func(name, path string) error {
		t := tmap[name]
		if t == nil {
			t = &drift.Target{Name: name, Versions: map[drift.Kind]string{}, Facts: map[string]string{}, Edition: *edition}
			tmap[name] = t
			order = append(order, name)
		}
		k := kind
		if k == "" {
			k = drift.DetectKind(path)
		}
		if *product == "redash" && k != drift.KindCompose {
			k = drift.KindDotenv
		}
		if k == "" {
			return fmt.Errorf("cannot detect the product of %s; pass --product", path)
		}
		if err := refuseForeign(path, k, readOpts); err != nil {
			return err
		}
		t.Files = append(t.Files, drift.FileSpec{Path: path, Kind: k})
		return nil
	}
	for _, tv := range *targets {
		name, p, ok := strings.Cut(tv, "=")
		if !ok || name == "" || p == "" {
			return usage("--target wants NAME=PATH, got %q", tv)
		}
		if err := add(name, p); err != nil {
			return usage("%v", err)
		}
	}
	for _, p := range *files {
		if err := add("default", p); err != nil {
			return usage("%v", err)
		}
	}
	if len(order) == 0 {
		app.Usage(nil)
		return drift.ExitConfig
	}
	cfg := drift.Config{RuleFiles: *rules, NoBuiltin: !*builtin, OverridesFile: *overrides, Read: readOpts}
	if !*approve {
		cfg.SnapshotFile = *snapshot
	}
	for _, n := range order {
		t := tmap[n]
		for _, v := range *versions {
			k, ver, ok := strings.Cut(v, "=")
			if !ok {
				k, ver = "", v
			} else if kk, err := drift.ParseKind(k); err == nil {
				k = string(kk)
			} else {
				return usage("--product.version: %v", err)
			}
			if _, err := drift.ParseVersion(ver); err != nil {
				return usage("--product.version: %v", err)
			}
			t.Versions[drift.Kind(k)] = ver
		}
		for _, f := range *facts {
			k, v, ok := strings.Cut(f, "=")
			if !ok {
				return usage("--fact wants KEY=VALUE, got %q", f)
			}
			t.Facts[k] = v
		}
		cfg.Targets = append(cfg.Targets, *t)
	}
	switch {
	case *keyFile != "":
		b, err := os.ReadFile(*keyFile)
		if err != nil {
			return usage("--hmac-key.file: %v", err)
		}
		cfg.HMACKey = []byte(strings.TrimSpace(string(b)))
	case *keyEnv != "":
		cfg.HMACKey = []byte(os.Getenv(*keyEnv))
		if len(cfg.HMACKey) == 0 {
			return usage("--hmac-key.env: %s is empty", *keyEnv)
		}
	}
	if (*snapshot != "" || *approve) && len(cfg.HMACKey) == 0 {
		return usage("--snapshot.file and --snapshot.approve need --hmac-key.file or --hmac-key.env")
	}
	if *approve && *snapshot == "" {
		return usage("--snapshot.approve needs --snapshot.file")
	}
	c, err := drift.NewChecker(cfg)
	if err != nil {
		return usage("%v", err)
	}
	if *approve {
		s, err := drift.BuildSnapshot(c, *approvedBy, *reason)
		if err != nil {
			return usage("%v", err)
		}
		b, err := s.Encode()
		if err == nil {
			err = os.WriteFile(*snapshot, b, 0o600)
		}
		if err != nil {
			fmt.Fprintf(stderr, "check-config: write snapshot: %v\n", err)
			return drift.ExitIO
		}
		fmt.Fprintf(stdout, "approved snapshot written to %s (%d file(s))\n", *snapshot, len(s.Files))
		return drift.ExitOK
	}
	res, err := c.Run(context.Background())
	if err != nil {
		return usage("%v", err)
	}
	if err := drift.Write(stdout, *format, res); err != nil {
		fmt.Fprintf(stderr, "check-config: %v\n", err)
		return drift.ExitIO
	}
	return drift.ExitCode(res, threshold, *failOnDrift)
}

// refuseForeign returns an error when path is readable but is not a file
// of kind's format at all (random bytes named taos.cfg, say), so that the
// command does not report rules as passing on it. A file of the right
// format with a syntax error is not refused: it becomes a CONF-002 finding.
// Unreadable files are left to the checker, which reports them as findings.
func refuseForeign(path string, kind drift.Kind, opt drift.ReadOptions) error {
	// Through the drift checks' reader: a device, FIFO or huge file is
	// refused with its name instead of being read without end.
	b, err := drift.ReadRegular(path)
	var pe *drift.PosError
	if errors.As(err, &pe) {
		return err
	}
	if err != nil {
		return nil
	}
	for _, d := range drift.Parse(path, kind, b, opt) {
		if errors.Is(d.ParseErr, drift.ErrNotFormat) {
			return d.ParseErr
		}
	}
	return nil
}
