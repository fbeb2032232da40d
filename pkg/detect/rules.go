package detect

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/dbsec/dbsec/pkg/tomlx"
)

//go:embed rules/*.toml
var builtinFS embed.FS

// ErrRules is wrapped by every rule-file error.
var ErrRules = errors.New("invalid detection rules")

// PosError is one problem in a rule file, at file:line:col; it wraps
// ErrRules.
type PosError = tomlx.Error

// ErrorList is every problem of a rule file; Error prints one per line.
type ErrorList = tomlx.Errors

// Duration is a time.Duration written as "90s", "5m", "7d".
type Duration time.Duration

// UnmarshalText implements encoding.TextUnmarshaler; "d" (24h) is accepted.
func (d *Duration) UnmarshalText(b []byte) error {
	s := string(b)
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.ParseFloat(n, 64)
		if err != nil || days < 0 {
			return fmt.Errorf("bad duration %q", s)
		}
		*d = Duration(days * float64(24*time.Hour))
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil || v < 0 {
		return fmt.Errorf("bad duration %q", s)
	}
	*d = Duration(v)
	return nil
}

// MarshalText implements encoding.TextMarshaler.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// Allow is an allowlist; a matching event does not fire the rule.
type Allow struct {
	Users   []string `toml:"users"`   // exact names or globs (svc_*)
	CIDRs   []string `toml:"cidrs"`   // client networks
	Digests []string `toml:"digests"` // statement digests
	Names   []string `toml:"names"`   // object name globs (db.tbl, _*_gho)

	nets []netip.Prefix
}

// RuleConfig is one [rules.<name>] table. Which keys a rule reads is listed
// in RuleInfo.Params; enabled, severity and allow are common to all.
type RuleConfig struct {
	Enabled  *bool  `toml:"enabled"`
	Severity string `toml:"severity"`
	Allow    Allow  `toml:"allow"`

	Threshold      int      `toml:"threshold"`
	Window         Duration `toml:"window"`
	ThresholdLong  int      `toml:"threshold_long"`
	WindowLong     Duration `toml:"window_long"`
	Suppress       Duration `toml:"suppress"`
	MaxPerEntity   int      `toml:"max_per_entity"`
	MinTotal       int      `toml:"min_total"`
	History        Duration `toml:"history"`
	Learning       Duration `toml:"learning"`
	DormantHistory Duration `toml:"dormant_history"`
	Rows           int64    `toml:"rows"`
	Floor          float64  `toml:"floor"`
	Z              float64  `toml:"z"`
	MinWindows     int      `toml:"min_windows"`
	Paths          []string `toml:"paths"`
	Names          []string `toml:"names"`
	GCFloor        Duration `toml:"gc_floor"`
	Codes          []string `toml:"codes"`
	SuccessAfter   int      `toml:"success_after"`
}

// On reports whether the rule is enabled (default true).
func (r *RuleConfig) On() bool { return r.Enabled == nil || *r.Enabled }

// Settings are shared by all rules ([settings]).
type Settings struct {
	// TimeZone of the business calendar (IANA name).
	TimeZone string `toml:"timezone"`
	// BusinessHours "08:00-19:00" in TimeZone; BusinessDays mon…sun.
	BusinessHours string   `toml:"business_hours"`
	BusinessDays  []string `toml:"business_days"`
	// Holidays are YYYY-MM-DD dates that are off-hours all day.
	Holidays []string `toml:"holidays"`
	// PrivilegedUsers and ServiceUsers are names or globs.
	PrivilegedUsers []string `toml:"privileged_users"`
	ServiceUsers    []string `toml:"service_users"`
	// AllowedNetworks are the expected client networks (D07, D09).
	AllowedNetworks []string `toml:"allowed_networks"`
	// PoolerNetworks are proxies/poolers that share one IP for many users;
	// per-IP rules count per (IP, user) behind them (D02, D03).
	PoolerNetworks []string `toml:"pooler_networks"`
	// SensitiveTables are table globs (schema.table) for D29.
	SensitiveTables []string `toml:"sensitive_tables"`
	// BackupUsers may export to external storage (D25).
	BackupUsers []string `toml:"backup_users"`
	// MaxEntities is the hard cap of exactly-tracked entities per
	// detector; beyond it a count-min sketch decides admission.
	MaxEntities int `toml:"max_entities"`
	// NoveltyCapacity sizes each first-seen Bloom filter generation.
	NoveltyCapacity int `toml:"novelty_capacity"`
	// TopK is the number of entities per dimension exported as gauges
	// (0 = off, at most 100); TopKHashIPs exports client IPs hashed.
	TopK        int  `toml:"top_k"`
	TopKHashIPs bool `toml:"top_k_hash_ips"`
	// Allow applies to every rule.
	Allow Allow `toml:"allow"`

	loc                *time.Location
	startMin, endMin   int
	days               [7]bool
	holidays           map[string]bool
	allowedNets, pools []netip.Prefix
}

// Rules is a complete rule set: the built-in defaults with the user's
// overrides applied.
type Rules struct {
	Settings Settings               `toml:"settings"`
	Rules    map[string]*RuleConfig `toml:"rules"`

	byIndex [numRules]*RuleConfig
}

// Rule returns the configuration of a rule by id (D01) or name.
func (r *Rules) Rule(key string) *RuleConfig {
	if i, ok := ruleByKey[key]; ok {
		return r.byIndex[i]
	}
	return nil
}

// DefaultRules returns the built-in rules (pkg/detect/rules/*.toml).
func DefaultRules() Rules {
	r, err := parseBuiltin()
	if err != nil {
		panic("detect: built-in rules: " + err.Error())
	}
	return r
}

func parseBuiltin() (Rules, error) {
	var r Rules
	names, err := fs.Glob(builtinFS, "rules/*.toml")
	if err != nil {
		return r, err
	}
	slices.Sort(names)
	for _, n := range names {
		b, err := builtinFS.ReadFile(n)
		if err != nil {
			return r, err
		}
		if err := r.merge(path.Join("builtin", n), b); err != nil {
			return r, err
		}
	}
	return r, r.finish("builtin")
}

// LoadRules reads a rule file and applies it over the built-in defaults.
func LoadRules(file string) (Rules, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return Rules{}, fmt.Errorf("read detection rules: %w", err)
	}
	return ParseRules(file, b)
}

// ParseRules applies the TOML data over the built-in defaults; name is used
// in error positions.
func ParseRules(name string, data []byte) (Rules, error) {
	r, err := parseBuiltin()
	if err != nil {
		return r, err
	}
	if err := r.merge(name, data); err != nil {
		return Rules{}, err
	}
	if err := r.finish(name); err != nil {
		return Rules{}, err
	}
	return r, nil
}

// merge decodes one file and copies every key it defines over r.
func (r *Rules) merge(name string, data []byte) error {
	var over Rules
	doc, err := tomlx.Decode(name, data, &over, ErrRules)
	if err != nil {
		return err
	}
	md := doc.Meta
	at := func(key []string, format string, a ...any) { doc.Errorf(strings.Join(key, "."), format, a...) }
	copyDefined(&r.Settings, &over.Settings, md, []string{"settings"})
	if r.Rules == nil {
		r.Rules = map[string]*RuleConfig{}
	}
	for key, rc := range over.Rules {
		i, ok := ruleByKey[key]
		if !ok {
			at([]string{"rules", key}, "unknown rule %q (want an id D01…D37 or a name from detect.Catalog)", key)
			continue
		}
		info := &catalog[i]
		dst := r.Rules[info.Name]
		if dst == nil {
			dst = &RuleConfig{}
			r.Rules[info.Name] = dst
		}
		prefix := []string{"rules", key}
		for _, f := range fieldsOf(reflect.TypeOf(*rc)) {
			if !md.IsDefined(append(prefix, f)...) {
				continue
			}
			switch f {
			case "enabled", "severity", "allow":
			default:
				if !slices.Contains(info.Params, f) {
					at(append(prefix, f), "rule %s (%s) has no parameter %q (it takes %s)", info.ID, info.Name, f, strings.Join(info.Params, ", "))
				}
			}
		}
		copyDefined(dst, rc, md, prefix)
		if rc.Severity != "" && !slices.Contains(info.Severities, rc.Severity) && rc.Severity != SevInfo && rc.Severity != SevWarning && rc.Severity != SevCritical {
			at(append(prefix, "severity"), "severity %q: want info, warning or critical", rc.Severity)
		}
		if rc.Threshold < 0 || rc.MinTotal < 0 || rc.MaxPerEntity < 0 || rc.Rows < 0 {
			at(prefix, "negative threshold")
		}
		for _, c := range rc.Allow.CIDRs {
			if _, err := parseNet(c); err != nil {
				at(append(prefix, "allow", "cidrs"), "%v", err)
			}
		}
	}
	s := &over.Settings
	check := func(key string, list []string) {
		for _, c := range list {
			if _, err := parseNet(c); err != nil {
				at([]string{"settings", key}, "%v", err)
			}
		}
	}
	check("allowed_networks", s.AllowedNetworks)
	check("pooler_networks", s.PoolerNetworks)
	for _, c := range s.Allow.CIDRs {
		if _, err := parseNet(c); err != nil {
			at([]string{"settings", "allow", "cidrs"}, "%v", err)
		}
	}
	if s.TimeZone != "" {
		if _, err := time.LoadLocation(s.TimeZone); err != nil {
			at([]string{"settings", "timezone"}, "unknown time zone %q", s.TimeZone)
		}
	}
	if s.BusinessHours != "" {
		if _, _, err := parseHours(s.BusinessHours); err != nil {
			at([]string{"settings", "business_hours"}, "%v", err)
		}
	}
	for _, d := range s.BusinessDays {
		if dayIndex(d) < 0 {
			at([]string{"settings", "business_days"}, "unknown day %q (want mon … sun)", d)
		}
	}
	for _, h := range s.Holidays {
		if _, err := time.Parse(time.DateOnly, h); err != nil {
			at([]string{"settings", "holidays"}, "bad date %q (want YYYY-MM-DD)", h)
		}
	}
	if s.TopK < 0 || s.TopK > 100 {
		at([]string{"settings", "top_k"}, "top_k %d out of range 0…100", s.TopK)
	}
	if s.MaxEntities < 0 {
		at([]string{"settings", "max_entities"}, "negative max_entities")
	}
	return doc.Err()
}

// finish resolves derived fields after all files are merged.
func (r *Rules) finish(name string) error {
	s := &r.Settings
	var err error
	tz := s.TimeZone
	if tz == "" {
		tz = "UTC"
	}
	if s.loc, err = time.LoadLocation(tz); err != nil {
		return ErrorList{{File: name, Line: 1, Col: 1, Msg: fmt.Sprintf("time zone %q: %v", tz, err), Err: ErrRules}}
	}
	s.startMin, s.endMin = 0, 24*60
	if s.BusinessHours != "" {
		s.startMin, s.endMin, _ = parseHours(s.BusinessHours)
	}
	s.days = [7]bool{}
	for _, d := range s.BusinessDays {
		if i := dayIndex(d); i >= 0 {
			s.days[i] = true
		}
	}
	s.holidays = map[string]bool{}
	for _, h := range s.Holidays {
		s.holidays[h] = true
	}
	s.allowedNets = mustNets(s.AllowedNetworks)
	s.pools = mustNets(s.PoolerNetworks)
	s.Allow.nets = mustNets(s.Allow.CIDRs)
	if s.MaxEntities == 0 {
		s.MaxEntities = 10000
	}
	if s.NoveltyCapacity == 0 {
		s.NoveltyCapacity = 200000
	}
	for i := range catalog {
		rc := r.Rules[catalog[i].Name]
		if rc == nil {
			rc = &RuleConfig{}
			r.Rules[catalog[i].Name] = rc
		}
		if rc.Severity == "" {
			rc.Severity = catalog[i].Severity
		}
		rc.Allow.nets = mustNets(rc.Allow.CIDRs)
		r.byIndex[i] = rc
	}
	return nil
}

// fieldsOf returns the toml keys of a struct type.
func fieldsOf(t reflect.Type) []string {
	var out []string
	for i := range t.NumField() {
		if tag := t.Field(i).Tag.Get("toml"); tag != "" {
			out = append(out, tag)
		}
	}
	return out
}

// copyDefined copies every field of src whose key (prefix + toml tag) the
// file defines into dst. Nested tables (allow) are copied key by key.
func copyDefined(dst, src any, md toml.MetaData, prefix []string) {
	dv, sv := reflect.ValueOf(dst).Elem(), reflect.ValueOf(src).Elem()
	t := dv.Type()
	for i := range t.NumField() {
		tag := t.Field(i).Tag.Get("toml")
		if tag == "" {
			continue
		}
		key := append(slices.Clone(prefix), tag)
		if !md.IsDefined(key...) {
			continue
		}
		if t.Field(i).Type.Kind() == reflect.Struct && t.Field(i).Type != reflect.TypeOf(Duration(0)) {
			copyDefined(dv.Field(i).Addr().Interface(), sv.Field(i).Addr().Interface(), md, key)
			continue
		}
		dv.Field(i).Set(sv.Field(i))
	}
}

func parseNet(s string) (netip.Prefix, error) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), nil
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	return netip.Prefix{}, fmt.Errorf("bad CIDR %q", s)
}

func mustNets(list []string) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range list {
		if p, err := parseNet(s); err == nil {
			out = append(out, p)
		}
	}
	return out
}

func parseHours(s string) (start, end int, err error) {
	a, b, ok := strings.Cut(s, "-")
	if !ok {
		return 0, 0, fmt.Errorf("business_hours %q: want HH:MM-HH:MM", s)
	}
	ta, err1 := time.Parse("15:04", strings.TrimSpace(a))
	tb, err2 := time.Parse("15:04", strings.TrimSpace(b))
	if err1 != nil || err2 != nil {
		return 0, 0, fmt.Errorf("business_hours %q: want HH:MM-HH:MM", s)
	}
	return ta.Hour()*60 + ta.Minute(), tb.Hour()*60 + tb.Minute(), nil
}

var dayNames = [7]string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

func dayIndex(s string) int {
	return slices.Index(dayNames[:], strings.ToLower(s))
}
