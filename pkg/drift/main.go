package drift

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/dbsec/dbsec/pkg/finding"
)

// Exit codes of Main (documented in README.md).
const (
	ExitOK      = 0 // no failing finding at or above --fail-on (and no drift with --fail-on-drift)
	ExitFailing = 1 // failing (unwaived or expired-waiver) findings at or above --fail-on
	ExitConfig  = 2 // usage error, or an error in a rule/overrides/snapshot file or HMAC key
	ExitDrift   = 3 // --fail-on-drift and the snapshot differs (and nothing at exit 1)
	ExitIO      = 4 // output could not be written
)

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(s string) error { *m = append(*m, s); return nil }

// Main implements `check-config [flags] <files…>` and returns the exit code.
func Main(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("check-config", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var targets, versions, facts, rules multiFlag
	fs.Var(&targets, "target", "NAME=path: add a file to target NAME (repeatable); bare files go to target \"default\"")
	product := fs.String("product", "", "tidb|tikv|pd|tdengine|taosadapter|taoskeeper|redash (default: detect by file name)")
	fs.Var(&versions, "version", "product version, VERSION or KIND=VERSION (repeatable)")
	edition := fs.String("edition", "community", "community|enterprise (TDengine)")
	fs.Var(&facts, "fact", "inventory fact KEY=VALUE, e.g. tls_terminated_upstream=true, offline=true (repeatable)")
	fs.Var(&rules, "rules", "extra rule pack file (repeatable)")
	noBuiltin := fs.Bool("no-builtin", false, "do not load the built-in rule packs")
	overrides := fs.String("overrides", "", "overrides file (tailoring, waivers, severity overrides)")
	snapshot := fs.String("snapshot", "", "approved snapshot file to compare against")
	approve := fs.Bool("approve", false, "write the current state to --snapshot instead of comparing")
	approvedBy := fs.String("approved-by", "", "who approves (with --approve)")
	reason := fs.String("reason", "", "why (with --approve)")
	keyFile := fs.String("hmac-key-file", "", "file holding the HMAC key for secrets")
	keyEnv := fs.String("hmac-key-env", "", "environment variable holding the HMAC key")
	root := fs.String("root", "", "prefix for absolute env_file paths (offline copy of a host)")
	format := fs.String("format", "text", "text|json|sarif|junit")
	failOn := fs.String("fail-on", "low", "lowest severity that makes the run fail (info|low|medium|high|critical)")
	failOnDrift := fs.Bool("fail-on-drift", false, "exit 3 when the snapshot differs")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: check-config [flags] <files…>\n\nexit codes: 0 ok, 1 failing findings, 2 usage/config error, 3 drift (--fail-on-drift), 4 output error\n\nflags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return ExitOK
		}
		return ExitConfig
	}
	usage := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "check-config: "+format+"\n", a...)
		return ExitConfig
	}
	threshold, err := finding.ParseSeverity(*failOn)
	if err != nil {
		return usage("--fail-on: %v", err)
	}
	if !contains(Formats, *format) {
		return usage("--format must be one of %s", strings.Join(Formats, ", "))
	}
	var kind Kind
	if *product != "" && *product != "redash" {
		if kind, err = ParseKind(*product); err != nil {
			return usage("--product: %v", err)
		}
	}
	tmap := map[string]*Target{}
	var order []string
	add := func(name, path string) error {
		t := tmap[name]
		if t == nil {
			t = &Target{Name: name, Versions: map[Kind]string{}, Facts: map[string]string{}, Edition: *edition}
			tmap[name] = t
			order = append(order, name)
		}
		k := kind
		if k == "" {
			k = DetectKind(path)
		}
		if *product == "redash" && k != KindCompose {
			k = KindDotenv
		}
		if k == "" {
			return fmt.Errorf("cannot detect the product of %s; pass --product", path)
		}
		t.Files = append(t.Files, FileSpec{Path: path, Kind: k})
		return nil
	}
	for _, tv := range targets {
		name, p, ok := strings.Cut(tv, "=")
		if !ok || name == "" || p == "" {
			return usage("--target wants NAME=path, got %q", tv)
		}
		if err := add(name, p); err != nil {
			return usage("%v", err)
		}
	}
	for _, p := range fs.Args() {
		if err := add("default", p); err != nil {
			return usage("%v", err)
		}
	}
	if len(order) == 0 {
		fs.Usage()
		return ExitConfig
	}
	cfg := Config{RuleFiles: rules, NoBuiltin: *noBuiltin, OverridesFile: *overrides, Read: ReadOptions{Root: *root}}
	if !*approve {
		cfg.SnapshotFile = *snapshot
	}
	for _, n := range order {
		t := tmap[n]
		for _, v := range versions {
			k, ver, ok := strings.Cut(v, "=")
			if !ok {
				k, ver = "", v
			} else if kk, err := ParseKind(k); err == nil {
				k = string(kk)
			} else {
				return usage("--version: %v", err)
			}
			if _, err := ParseVersion(ver); err != nil {
				return usage("--version: %v", err)
			}
			t.Versions[Kind(k)] = ver
		}
		for _, f := range facts {
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
			return usage("--hmac-key-file: %v", err)
		}
		cfg.HMACKey = []byte(strings.TrimSpace(string(b)))
	case *keyEnv != "":
		cfg.HMACKey = []byte(os.Getenv(*keyEnv))
		if len(cfg.HMACKey) == 0 {
			return usage("--hmac-key-env: %s is empty", *keyEnv)
		}
	}
	if (*snapshot != "" || *approve) && len(cfg.HMACKey) == 0 {
		return usage("--snapshot/--approve need --hmac-key-file or --hmac-key-env")
	}
	if *approve && *snapshot == "" {
		return usage("--approve needs --snapshot")
	}
	c, err := NewChecker(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "check-config: %v\n", err)
		return ExitConfig
	}
	if *approve {
		s, err := BuildSnapshot(c, *approvedBy, *reason)
		if err != nil {
			fmt.Fprintf(stderr, "check-config: %v\n", err)
			return ExitConfig
		}
		b, err := s.Encode()
		if err == nil {
			err = os.WriteFile(*snapshot, b, 0o600)
		}
		if err != nil {
			fmt.Fprintf(stderr, "check-config: write snapshot: %v\n", err)
			return ExitIO
		}
		fmt.Fprintf(stdout, "approved snapshot written to %s (%d file(s))\n", *snapshot, len(s.Files))
		return ExitOK
	}
	res, err := c.Run(context.Background())
	if err != nil {
		fmt.Fprintf(stderr, "check-config: %v\n", err)
		return ExitConfig
	}
	if err := Write(stdout, *format, res); err != nil {
		fmt.Fprintf(stderr, "check-config: %v\n", err)
		return ExitIO
	}
	return ExitCode(res, threshold, *failOnDrift)
}

// ExitCode maps a result to Main's exit code.
func ExitCode(res Result, threshold finding.Severity, failOnDrift bool) int {
	for i := range res.Findings {
		f := &res.Findings[i]
		if f.Failing() && f.Severity >= threshold {
			return ExitFailing
		}
	}
	if failOnDrift && driftCount(res.Drift) > 0 {
		return ExitDrift
	}
	return ExitOK
}
