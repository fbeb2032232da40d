package detect

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestCatalog(t *testing.T) {
	c := Catalog()
	if len(c) != 37 || int(numRules) != 37 {
		t.Fatalf("catalog has %d rules, want 37", len(c))
	}
	seen := map[string]bool{}
	for i, r := range c {
		if want := "D" + twoDigits(i+1); r.ID != want {
			t.Errorf("rule %d has id %s, want %s", i, r.ID, want)
		}
		if seen[r.Name] || r.Name == "" || r.Summary == "" || r.MITRE == "" || r.Category == "" {
			t.Errorf("%s: duplicate or incomplete entry %+v", r.ID, r)
		}
		seen[r.Name] = true
		if !contains(r.Severities, r.Severity) {
			t.Errorf("%s: default severity %s not in %v", r.ID, r.Severity, r.Severities)
		}
	}
	// Every built-in section names a catalog rule and every rule has one.
	def := DefaultRules()
	for _, r := range c {
		if def.Rule(r.Name) == nil || def.Rule(r.ID) != def.Rule(r.Name) {
			t.Errorf("%s: not configured by the built-in rules", r.ID)
		}
	}
}

func twoDigits(n int) string { return string(rune('0'+n/10)) + string(rune('0'+n%10)) }

func TestParseRulesOverride(t *testing.T) {
	r, err := ParseRules("site.toml", []byte(`
[settings]
timezone = "Europe/Berlin"
privileged_users = ["dba_*"]

[rules.D01]
threshold = 20

[rules.audit_disabled]
enabled = false
`))
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Rule("brute_force_user"); got.Threshold != 20 || got.Window.D() != 5*time.Minute {
		t.Errorf("D01 = %+v, want threshold 20 and the default window", got)
	}
	if r.Rule("D14").On() {
		t.Error("D14 still enabled")
	}
	if r.Settings.loc.String() != "Europe/Berlin" || len(r.Settings.PrivilegedUsers) != 1 {
		t.Errorf("settings %+v", r.Settings)
	}
	if len(r.Settings.AllowedNetworks) == 0 {
		t.Error("default allowed_networks lost by the override")
	}
	if r.Rule("D02").ThresholdLong != 20 {
		t.Error("untouched rule lost its defaults")
	}
}

func TestParseRulesErrors(t *testing.T) {
	for _, tc := range []struct{ name, text, want string }{
		{"unknown key", "[rules.D01]\nthreshold = 3\ntreshold = 4\n", "x.toml:3:1: unknown key \"rules.D01.treshold\""},
		{"unknown setting", "[settings]\n  timezon = \"UTC\"\n", "x.toml:2:3: unknown key \"settings.timezon\""},
		{"unknown rule", "\n[rules.D99]\n", "x.toml:2:1: unknown rule \"D99\""},
		{"param of another rule", "[rules.audit_disabled]\nrows = 5\n", "x.toml:2:1: rule D14 (audit_disabled) has no parameter \"rows\""},
		{"bad cidr", "[settings]\nallowed_networks = [\"10.0.0.0/33\"]\n", "x.toml:2:1: bad CIDR \"10.0.0.0/33\""},
		{"bad severity", "[rules.D01]\nseverity = \"high\"\n", "x.toml:2:1: severity \"high\""},
		{"bad tz", "[settings]\ntimezone = \"Mars/Olympus\"\n", "x.toml:2:1: unknown time zone"},
		{"syntax", "[rules.D01\n", "to end table name"},
		{"bad duration", "[rules.D01]\nwindow = \"5 minutes\"\n", "bad duration"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseRules("x.toml", []byte(tc.text))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
			var pe *PosError
			if !errors.Is(err, ErrRules) || !errors.As(err, &pe) {
				t.Errorf("error does not unwrap to ErrRules/*PosError: %v", err)
			}
		})
	}
	// All problems at once.
	_, err := ParseRules("x.toml", []byte("[rules.D01]\na = 1\nb = 2\n"))
	var l ErrorList
	if !errors.As(err, &l) || len(l) != 2 {
		t.Errorf("want 2 errors, got %v", err)
	}
}

func TestLoadRules(t *testing.T) {
	p := filepath.Join(t.TempDir(), "rules.toml")
	if err := os.WriteFile(p, []byte("[rules.brute_force_user]\nthreshold = 3\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r, err := LoadRules(p)
	if err != nil || r.Rule("D01").Threshold != 3 {
		t.Fatalf("LoadRules = %v, %v", r.Rule("D01"), err)
	}
	if _, err := LoadRules(p + ".missing"); err == nil {
		t.Error("missing file accepted")
	}
}
