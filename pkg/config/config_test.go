package config

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestGood(t *testing.T) {
	cfg, err := Load("testdata/good.toml")
	if err != nil {
		t.Fatal(err)
	}
	dir, _ := filepath.Abs("testdata")
	if got, want := cfg.Server.StateDir, "testdata/state"; got != want {
		t.Errorf("state_dir = %q, want %q", got, want)
	}
	if cfg.Store.Retention != 14*24*time.Hour || cfg.Store.MaxSize != 1<<30 || cfg.Store.Path != "testdata/events.db" {
		t.Errorf("store = %+v", cfg.Store)
	}
	if !cfg.Detect.Enabled || cfg.Detect.Rules != "testdata/detect-rules.toml" || cfg.Detect.StateFile != "testdata/state/detect-state.json" {
		t.Errorf("detect = %+v", cfg.Detect)
	}
	if len(cfg.Sources) != 2 {
		t.Fatalf("got %d sources, want 2", len(cfg.Sources))
	}
	s := cfg.Sources[0]
	if s.Name != "tidb-1-audit" || s.Format.Name != "tidb-audit-plugin" || s.StartAt != StartBeginning ||
		s.Location.String() != "Asia/Shanghai" || s.Labels["cluster"] != "prod" || s.Path != "testdata/logs/tidb-audit*.log" {
		t.Errorf("source 0 = %+v (dir %s)", s, dir)
	}
	s = cfg.Sources[1]
	if s.StartAt != StartEnd || s.Timezone != "Local" || s.Path != "/var/log/tidb/tidb-audit.log" {
		t.Errorf("source 1 defaults = %+v", s)
	}
}

// TestBad checks that every problem of a file is reported at once, each with
// file:line:col, against the reviewed expectation in bad.toml.err.
func TestBad(t *testing.T) {
	_, err := Load("testdata/bad.toml")
	if err == nil {
		t.Fatal("bad.toml loaded without error")
	}
	want, rerr := os.ReadFile("testdata/bad.toml.err")
	if rerr != nil {
		t.Fatal(rerr)
	}
	// The list of known formats grows with every parser; compare without it.
	known := regexp.MustCompile(`\(known: [^)]*\)`)
	got := known.ReplaceAllString(err.Error()+"\n", "(known: …)")
	if w := known.ReplaceAllString(string(want), "(known: …)"); got != w {
		t.Errorf("errors differ:\n--- want\n%s--- got\n%s", w, got)
	}
	es, ok := err.(Errors)
	if !ok || len(es) < 10 {
		t.Errorf("want an Errors with every problem, got %T with %d", err, len(es))
	}
}

func TestSyntaxError(t *testing.T) {
	_, err := Load("testdata/syntax.toml")
	if err == nil || !strings.HasPrefix(err.Error(), "testdata/syntax.toml:4:") {
		t.Errorf("got %v, want a positioned syntax error on line 4", err)
	}
}

func TestMissingFile(t *testing.T) {
	if _, err := Load("testdata/nope.toml"); err == nil || !os.IsNotExist(unwrapAll(err)) {
		t.Errorf("got %v", err)
	}
}

func unwrapAll(err error) error {
	for {
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return err
		}
		err = u.Unwrap()
	}
}
