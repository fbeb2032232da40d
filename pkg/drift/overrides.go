package drift

import (
	"fmt"
	"path"
	"path/filepath"
	"time"

	"github.com/dbsec/dbsec/pkg/finding"
)

// Overrides is a per-environment tailoring file (schema
// "dbsec.overrides/v1"): disabled rules, waivers, severity overrides,
// parameter refinements and local rules.
type Overrides struct {
	Schema  string `toml:"schema"`
	Profile struct {
		Extends       []string `toml:"extends"`
		Disable       []string `toml:"disable"`
		RequireExpiry *bool    `toml:"require_expiry"`
		MaxWaiverDays int      `toml:"max_waiver_days"`
		FailOnExpired *bool    `toml:"fail_on_expired"`
		InlineWaivers bool     `toml:"inline_waivers"`
	} `toml:"profile"`
	Waiver           []*WaiverSpec       `toml:"waiver"`
	SeverityOverride []*SeverityOverSpec `toml:"severity_override"`
	Param            []*ParamSpec        `toml:"param"`
	RuleLocal        []*Rule             `toml:"rule_local"`

	file string
}

// WaiverSpec is one [[waiver]] entry.
type WaiverSpec struct {
	ID           string         `toml:"id"`
	Rule         string         `toml:"rule"`
	Targets      []string       `toml:"targets"`
	Files        []string       `toml:"files"`
	Reason       string         `toml:"reason"`
	Owner        string         `toml:"owner"`
	ApprovedBy   string         `toml:"approved_by"`
	Ticket       string         `toml:"ticket"`
	Created      time.Time      `toml:"created"`
	Expires      time.Time      `toml:"expires"`
	Mode         string         `toml:"mode"`
	RequireFacts map[string]any `toml:"require_facts"`

	pos  string
	used bool
}

// SeverityOverSpec is one [[severity_override]] entry.
type SeverityOverSpec struct {
	Rule     string   `toml:"rule"`
	Severity string   `toml:"severity"`
	Reason   string   `toml:"reason"`
	Targets  []string `toml:"targets"`
	sev      finding.Severity
}

// ParamSpec is one [[param]] entry.
type ParamSpec struct {
	Rule  string `toml:"rule"`
	Name  string `toml:"name"`
	Value any    `toml:"value"`
}

// LoadOverrides parses and validates an overrides file against rs (local
// rules are added to rs). Every problem is reported with file:line:col;
// any error must stop the run. now is the scan clock for expiry checks.
func LoadOverrides(file string, b []byte, rs *RuleSet, now time.Time) (*Overrides, error) {
	var o Overrides
	pi, err := decodeStrict(file, b, &o)
	if err != nil {
		return nil, err
	}
	o.file = file
	var errs ErrorList
	at := func(table string, i int, key, format string, a ...any) {
		hi := -1
		if table != "" {
			hi = pi.nth(table, i, 0, -1)
		}
		l, c := pi.keyPos(hi, key)
		errs = append(errs, pi.errAt(l, c, format, a...))
	}
	if o.Schema != "dbsec.overrides/v1" && o.Schema != "confmon.overrides/v1" {
		at("", 0, "schema", "schema must be \"dbsec.overrides/v1\", got %q", o.Schema)
	}
	for i, r := range o.RuleLocal {
		errs = append(errs, validateRule(pi, "rule_local", i, r, "local:"+file)...)
	}
	if len(o.RuleLocal) > 0 && len(errs) == 0 {
		if err := rs.add(&Pack{ID: "local:" + filepath.Base(file), Rules: o.RuleLocal}, file); err != nil {
			errs = append(errs, err)
		}
	}
	known := func(id string) bool { _, ok := rs.Get(id); return ok }
	for _, id := range o.Profile.Disable {
		if !known(id) {
			hi := pi.nth("profile", 0, 0, -1)
			l, c := pi.keyPos(hi, "disable")
			errs = append(errs, pi.errAt(l, c, "profile.disable: unknown rule id %q", id))
		}
	}
	requireExpiry := o.Profile.RequireExpiry == nil || *o.Profile.RequireExpiry
	ids := map[string]bool{}
	for i, w := range o.Waiver {
		hi := pi.nth("waiver", i, 0, -1)
		if hi >= 0 {
			w.pos = fmt.Sprintf("%s:%d:%d", file, pi.headers[hi].line, pi.headers[hi].col)
		}
		if w.ID == "" {
			w.ID = fmt.Sprintf("%s#%d", w.Rule, i+1)
		}
		if ids[w.ID] {
			at("waiver", i, "id", "duplicate waiver id %q", w.ID)
		}
		ids[w.ID] = true
		if !known(w.Rule) {
			at("waiver", i, "rule", "waiver %s: unknown rule id %q", w.ID, w.Rule)
		}
		if w.Reason == "" {
			at("waiver", i, "rule", "waiver %s: reason is required", w.ID)
		}
		if w.Owner == "" {
			at("waiver", i, "rule", "waiver %s: owner is required", w.ID)
		}
		if w.Expires.IsZero() && requireExpiry {
			at("waiver", i, "rule", "waiver %s: expires is required", w.ID)
		}
		if o.Profile.MaxWaiverDays > 0 && !w.Expires.IsZero() {
			start := w.Created
			if start.IsZero() {
				start = now
			}
			if w.Expires.Sub(start) > time.Duration(o.Profile.MaxWaiverDays)*24*time.Hour {
				at("waiver", i, "expires", "waiver %s: expires more than max_waiver_days (%d) after created", w.ID, o.Profile.MaxWaiverDays)
			}
		}
		switch w.Mode {
		case "", "report", "mute":
		default:
			at("waiver", i, "mode", "waiver %s: mode must be report or mute, got %q", w.ID, w.Mode)
		}
		for _, g := range append(append([]string{}, w.Targets...), w.Files...) {
			if _, err := path.Match(g, ""); err != nil {
				at("waiver", i, "targets", "waiver %s: bad glob %q", w.ID, g)
			}
		}
	}
	for i, s := range o.SeverityOverride {
		if !known(s.Rule) {
			at("severity_override", i, "rule", "severity_override: unknown rule id %q", s.Rule)
		}
		sev, err := finding.ParseSeverity(s.Severity)
		if err != nil {
			at("severity_override", i, "severity", "severity_override %s: %v", s.Rule, err)
		}
		s.sev = sev
		if s.Reason == "" {
			at("severity_override", i, "rule", "severity_override %s: reason is required", s.Rule)
		}
	}
	for i, p := range o.Param {
		r, ok := rs.Get(p.Rule)
		if !ok {
			at("param", i, "rule", "param: unknown rule id %q", p.Rule)
			continue
		}
		if _, ok := r.Params[p.Name]; !ok {
			at("param", i, "name", "param: rule %s has no parameter %q", p.Rule, p.Name)
		}
	}
	return &o, errs.err()
}

func (o *Overrides) failOnExpired() bool {
	return o == nil || o.Profile.FailOnExpired == nil || *o.Profile.FailOnExpired
}

func globAny(globs []string, s ...string) bool {
	if len(globs) == 0 {
		return true
	}
	for _, g := range globs {
		for _, v := range s {
			if ok, _ := path.Match(g, v); ok {
				return true
			}
		}
	}
	return false
}
