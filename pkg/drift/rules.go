package drift

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"sort"
	"strings"

	"github.com/dbsec/dbsec/pkg/finding"

	"github.com/dbsec/dbsec/pkg/tomlx"
)

//go:embed rules/*.toml
var builtinFS embed.FS

// ErrConfig is wrapped by every error in a rule, defaults, overrides or
// snapshot file. Such errors stop the run (exit code 2 in Main).
var ErrConfig = errors.New("configuration error")

// ErrorList collects several positioned errors; Error prints one per line.
type ErrorList []error

func (l ErrorList) Error() string {
	s := make([]string, len(l))
	for i, e := range l {
		s[i] = e.Error()
	}
	return strings.Join(s, "\n")
}

// Unwrap lets errors.Is/As see every element.
func (l ErrorList) Unwrap() []error { return l }

func (l ErrorList) err() error {
	if len(l) == 0 {
		return nil
	}
	return l
}

// StrList decodes a TOML string or array of strings.
type StrList []string

// UnmarshalTOML implements toml.Unmarshaler.
func (s *StrList) UnmarshalTOML(v any) error {
	switch x := v.(type) {
	case string:
		*s = StrList{x}
	case []any:
		out := make(StrList, 0, len(x))
		for _, e := range x {
			str, ok := e.(string)
			if !ok {
				return fmt.Errorf("want a string or a list of strings, got %T element", e)
			}
			out = append(out, str)
		}
		*s = out
	default:
		return fmt.Errorf("want a string or a list of strings, got %T", v)
	}
	return nil
}

// Cond is a rule condition: a leaf (key/key_glob/file + op) or a
// combinator (all/any/not). See README.md for the operator list.
type Cond struct {
	Key         string   `toml:"key"`
	KeyGlob     string   `toml:"key_glob"`
	FileFromKey StrList  `toml:"file_from_key"`
	File        string   `toml:"file"`
	Op          string   `toml:"op"`
	Value       any      `toml:"value"`
	ValueParam  string   `toml:"value_param"`
	ValueKey    string   `toml:"value_key"`
	Catalog     string   `toml:"catalog"`
	Type        string   `toml:"type"`
	Absent      string   `toml:"absent"`
	Exclude     []string `toml:"exclude"`
	// Match is "all" (default) or "any" for key_glob leaves.
	Match string `toml:"match"`
	// Fact makes the leaf test an inventory fact instead of a key.
	Fact string  `toml:"fact"`
	All  []*Cond `toml:"all"`
	Any  []*Cond `toml:"any"`
	Not  *Cond   `toml:"not"`

	re *regexp.Regexp
}

// Rule is one check of a rule pack.
type Rule struct {
	ID                 string         `toml:"id"`
	Title              string         `toml:"title"`
	Kind               StrList        `toml:"kind"`
	Subject            string         `toml:"subject"`
	Severity           string         `toml:"severity"`
	Category           string         `toml:"category"`
	Versions           string         `toml:"versions"`
	Editions           []string       `toml:"editions"`
	Source             string         `toml:"source"`
	Rationale          string         `toml:"rationale"`
	Remediation        string         `toml:"remediation"`
	References         []string       `toml:"references"`
	Params             map[string]any `toml:"params"`
	AppliesIf          *Cond          `toml:"applies_if"`
	RequiresSchemaKeys []string       `toml:"requires_schema_keys"`
	RequiresFacts      map[string]any `toml:"requires_facts"`
	Check              *Cond          `toml:"check"`

	sev   finding.Severity
	kinds []Kind
	vr    versionRange
	pack  string
	pos   string // file:line:col of [[rule]]
}

// Pack is a rule pack file.
type Pack struct {
	Schema   string  `toml:"schema"`
	ID       string  `toml:"id"`
	Title    string  `toml:"title"`
	Revision string  `toml:"revision"`
	Kind     StrList `toml:"kind"`
	Subject  string  `toml:"subject"`
	Rules    []*Rule `toml:"rule"`
}

var (
	ruleIDRe   = regexp.MustCompile(`^[A-Z][A-Z0-9]*(-[A-Z0-9]+)+$`)
	validOps   = map[string]bool{}
	absentVals = map[string]bool{"": true, "default": true, "pass": true, "fail": true, "unknown": true, "skip": true}
	validTypes = map[string]bool{"": true, "bool": true, "bool01": true, "redash_bool": true, "int": true, "float": true, "string": true, "list": true, "url": true, "duration": true}
	validCats  = map[string]bool{"": true, "authentication": true, "transport-encryption": true, "network-exposure": true, "secrets": true, "logging": true, "data-egress": true, "hardening": true, "availability": true, "file-permissions": true, "config-hygiene": true}
)

func init() {
	for _, op := range []string{"equals", "not_equals", "one_of", "not_one_of", "regex", "not_regex", "min", "max", "range",
		"present", "absent", "non_empty", "empty", "contains", "not_contains", "length_min", "equals_key", "not_equals_key",
		"url_scheme_in", "host_is_loopback", "not_known_secret", "not_placeholder", "file_mode_max", "file_owner_in",
		"file_group_in", "not_symlink", "removed_keys", "known_keys"} {
		validOps[op] = true
	}
}

// posIndex locates TOML headers and keys in a file for semantic errors,
// which BurntSushi/toml does not position.
type posIndex struct {
	file    string
	lines   []string
	headers []hdr
}

type hdr struct {
	path string
	line int // 1-based
	col  int
}

func newPosIndex(file string, b []byte) *posIndex {
	pi := &posIndex{file: file, lines: strings.Split(string(b), "\n")}
	for i, l := range pi.lines {
		t := strings.TrimSpace(l)
		if !strings.HasPrefix(t, "[") {
			continue
		}
		if m := tomlHeaderRe.FindStringSubmatch(l); m != nil {
			pi.headers = append(pi.headers, hdr{normKeyPath(m[1]), i + 1, strings.Index(l, "[") + 1})
		}
	}
	return pi
}

// nth returns the index into headers of the n-th (0-based) header with
// path p at or after header index from, staying before stop (-1 = end).
func (pi *posIndex) nth(p string, n, from, stop int) int {
	if stop < 0 {
		stop = len(pi.headers)
	}
	for i := from; i < stop && i < len(pi.headers); i++ {
		if pi.headers[i].path == p {
			if n == 0 {
				return i
			}
			n--
		}
	}
	return -1
}

// keyPos finds key within the body of header hi (hi = -1: top level).
func (pi *posIndex) keyPos(hi int, key string) (int, int) {
	start, end := 0, len(pi.lines)
	if hi >= 0 {
		start = pi.headers[hi].line // line after header (0-based index)
	}
	if hi+1 < len(pi.headers) {
		end = pi.headers[hi+1].line - 1
	}
	for i := start; i < end && i < len(pi.lines); i++ {
		if m := tomlKeyRe.FindStringSubmatch(pi.lines[i]); m != nil && normKeyPath(m[2]) == key {
			return i + 1, len(m[1]) + 1
		}
	}
	if hi >= 0 {
		return pi.headers[hi].line, pi.headers[hi].col
	}
	return 1, 1
}

func (pi *posIndex) errAt(line, col int, format string, a ...any) error {
	return &PosError{File: pi.file, Line: line, Col: col, Msg: fmt.Sprintf(format, a...), Err: ErrConfig}
}

// decodeStrict decodes b into v, rejecting unknown keys with positions.
func decodeStrict(file string, b []byte, v any) (*posIndex, error) {
	doc, err := tomlx.Decode(file, b, v, ErrConfig)
	if err != nil {
		return nil, err
	}
	return newPosIndex(file, b), doc.Err()
}

// LoadPack parses and validates a rule pack. Errors are positioned
// (file:line:col) and wrap ErrConfig.
func LoadPack(file string, b []byte) (*Pack, error) {
	var p Pack
	pi, err := decodeStrict(file, b, &p)
	if err != nil {
		return nil, err
	}
	var errs ErrorList
	if p.Schema != "dbsec.baseline/v1" && p.Schema != "confmon.baseline/v1" {
		l, c := pi.keyPos(-1, "schema")
		errs = append(errs, pi.errAt(l, c, "schema must be \"dbsec.baseline/v1\", got %q", p.Schema))
	}
	for i, r := range p.Rules {
		if len(r.Kind) == 0 {
			r.Kind = p.Kind
		}
		if r.Subject == "" {
			r.Subject = p.Subject
		}
		errs = append(errs, validateRule(pi, "rule", i, r, p.ID)...)
	}
	return &p, errs.err()
}

func validateRule(pi *posIndex, table string, i int, r *Rule, pack string) []error {
	var errs []error
	hi := pi.nth(table, i, 0, -1)
	next := pi.nth(table, i+1, 0, -1)
	at := func(key string) (int, int) { return pi.keyPos(hi, key) }
	bad := func(key, format string, a ...any) {
		l, c := at(key)
		errs = append(errs, pi.errAt(l, c, format, a...))
	}
	if hi >= 0 {
		r.pos = fmt.Sprintf("%s:%d:%d", pi.file, pi.headers[hi].line, pi.headers[hi].col)
	}
	r.pack = pack
	if !ruleIDRe.MatchString(r.ID) {
		bad("id", "rule id %q must look like PRODUCT-NNN", r.ID)
	}
	for _, f := range []struct{ name, v string }{{"title", r.Title}, {"rationale", r.Rationale}, {"remediation", r.Remediation}} {
		if strings.TrimSpace(f.v) == "" {
			bad("id", "rule %s: %s is required", r.ID, f.name)
		}
	}
	if len(r.References) == 0 {
		bad("id", "rule %s: references is required", r.ID)
	}
	sev, err := finding.ParseSeverity(r.Severity)
	if err != nil {
		bad("severity", "rule %s: %v", r.ID, err)
	}
	r.sev = sev
	if !validCats[r.Category] {
		bad("category", "rule %s: unknown category %q", r.ID, r.Category)
	}
	switch r.Source {
	case "", "file", "host":
	default:
		bad("source", "rule %s: source must be file or host, got %q", r.ID, r.Source)
	}
	r.kinds = nil
	if len(r.Kind) == 0 {
		bad("id", "rule %s: kind is required (in the rule or the pack)", r.ID)
	}
	for _, k := range r.Kind {
		kk, err := ParseKind(k)
		if err != nil || string(kk) != k {
			bad("kind", "rule %s: unknown kind %q", r.ID, k)
			continue
		}
		r.kinds = append(r.kinds, kk)
	}
	switch r.Subject {
	case "", "redash", "postgres":
	default:
		bad("subject", "rule %s: subject must be redash or postgres, got %q", r.ID, r.Subject)
	}
	vr, err := parseVersionRange(r.Versions)
	if err != nil {
		bad("versions", "rule %s: %v", r.ID, err)
	}
	r.vr = vr
	for _, e := range r.Editions {
		if e != "community" && e != "enterprise" {
			bad("editions", "rule %s: edition must be community or enterprise, got %q", r.ID, e)
		}
	}
	if r.Check == nil {
		bad("id", "rule %s: check is required", r.ID)
	}
	// Conditions: walk in pre-order and map each to the n-th header of its
	// table path inside this rule, so that errors point at the right line.
	counts := map[string]int{}
	var walk func(c *Cond, path string)
	walk = func(c *Cond, path string) {
		if c == nil {
			return
		}
		n := counts[path]
		counts[path]++
		ch := pi.nth(path, n, max(hi, 0), next)
		if ch < 0 {
			ch = hi
		}
		cbad := func(key, format string, a ...any) {
			l, col := pi.keyPos(ch, key)
			errs = append(errs, pi.errAt(l, col, "rule %s: "+format, append([]any{r.ID}, a...)...))
		}
		validateCond(c, r, cbad)
		for _, s := range c.All {
			walk(s, path+".all")
		}
		for _, s := range c.Any {
			walk(s, path+".any")
		}
		walk(c.Not, path+".not")
	}
	walk(r.AppliesIf, table+".applies_if")
	walk(r.Check, table+".check")
	return errs
}

func validateCond(c *Cond, r *Rule, bad func(key, format string, a ...any)) {
	isComb := len(c.All) > 0 || len(c.Any) > 0 || c.Not != nil
	isLeaf := c.Op != "" || c.Key != "" || c.KeyGlob != "" || len(c.FileFromKey) > 0 || c.File != "" || c.Fact != ""
	switch {
	case isComb && isLeaf:
		bad("op", "a condition is either a leaf (key + op) or a combinator (all/any/not), not both")
		return
	case isComb:
		return
	case !isLeaf:
		bad("op", "empty condition")
		return
	}
	if !validOps[c.Op] {
		bad("op", "unknown op %q", c.Op)
		return
	}
	if !absentVals[c.Absent] {
		bad("absent", "absent must be default, pass, fail, unknown or skip, got %q", c.Absent)
	}
	if !validTypes[c.Type] {
		bad("type", "unknown type %q", c.Type)
	}
	needsKey := c.Op != "removed_keys" && c.Op != "known_keys"
	host := strings.HasPrefix(c.Op, "file_") || c.Op == "not_symlink"
	nsel := 0
	if c.Match != "" && c.Match != "all" && c.Match != "any" {
		bad("match", "match must be all or any, got %q", c.Match)
	}
	for _, s := range []bool{c.Key != "", c.KeyGlob != "", len(c.FileFromKey) > 0, c.File != "", c.Fact != ""} {
		if s {
			nsel++
		}
	}
	switch {
	case needsKey && nsel != 1:
		bad("op", "exactly one of key, key_glob, file_from_key, file, fact is required")
	case host && c.Key == "" && c.KeyGlob == "" && c.File == "" && len(c.FileFromKey) == 0:
	case host && (c.Key != "" || c.KeyGlob != ""):
		bad("op", "op %s needs file or file_from_key", c.Op)
	case !host && (c.File != "" || len(c.FileFromKey) > 0):
		bad("op", "file/file_from_key only go with file_* ops")
	}
	if c.File != "" && c.File != "self" {
		bad("file", "file must be \"self\"")
	}
	if host && r.Source != "host" {
		bad("op", "op %s requires source = \"host\" on the rule", c.Op)
	}
	needValue := map[string]bool{"equals": true, "not_equals": true, "one_of": true, "not_one_of": true, "regex": true, "not_regex": true,
		"min": true, "max": true, "range": true, "contains": true, "not_contains": true, "length_min": true, "url_scheme_in": true,
		"file_mode_max": true, "file_owner_in": true, "file_group_in": true}
	if needValue[c.Op] && c.Value == nil && c.ValueParam == "" {
		bad("op", "op %s needs value or value_param", c.Op)
	}
	if c.ValueParam != "" {
		if _, ok := r.Params[c.ValueParam]; !ok {
			bad("value_param", "value_param %q is not in [rule.params]", c.ValueParam)
		}
	}
	if (c.Op == "equals_key" || c.Op == "not_equals_key") && c.ValueKey == "" {
		bad("op", "op %s needs value_key", c.Op)
	}
	if c.Op == "not_known_secret" && c.Catalog == "" {
		bad("op", "op not_known_secret needs catalog")
	}
	switch c.Op {
	case "one_of", "not_one_of", "url_scheme_in", "range":
		if _, ok := c.Value.([]any); !ok && c.Value != nil {
			bad("value", "op %s needs a list value", c.Op)
		}
	case "regex", "not_regex":
		s, _ := c.Value.(string)
		re, err := regexp.Compile(s)
		if err != nil {
			bad("value", "bad regex: %v", err)
		}
		c.re = re
	case "file_mode_max":
		if s, ok := c.Value.(string); !ok || !octalRe.MatchString(s) {
			bad("value", "file_mode_max needs an octal string like \"0600\"")
		}
	}
}

var octalRe = regexp.MustCompile(`^0?[0-7]{3,4}$`)

// RuleSet is the set of loaded rules keyed by id.
type RuleSet struct {
	Rules []*Rule
	byID  map[string]*Rule
	Packs []string
}

// Get returns a rule by id.
func (rs *RuleSet) Get(id string) (*Rule, bool) { r, ok := rs.byID[id]; return r, ok }

func (rs *RuleSet) add(p *Pack, file string) error {
	var errs ErrorList
	for _, r := range p.Rules {
		if old, dup := rs.byID[r.ID]; dup {
			errs = append(errs, fmt.Errorf("%s: duplicate rule id %s (first defined at %s): %w", r.pos, r.ID, old.pos, ErrConfig))
			continue
		}
		rs.byID[r.ID] = r
		rs.Rules = append(rs.Rules, r)
	}
	rs.Packs = append(rs.Packs, p.ID)
	sort.Slice(rs.Rules, func(i, j int) bool { return rs.Rules[i].ID < rs.Rules[j].ID })
	return errs.err()
}

// LoadRules loads the built-in packs (unless noBuiltin) and the extra rule
// files. All errors of all files are returned together.
func LoadRules(noBuiltin bool, files map[string][]byte) (*RuleSet, error) {
	rs := &RuleSet{byID: map[string]*Rule{}}
	var errs ErrorList
	if !noBuiltin {
		names, _ := fs.Glob(builtinFS, "rules/pack-*.toml")
		for _, n := range names {
			b, _ := builtinFS.ReadFile(n)
			p, err := LoadPack("builtin:"+n, b)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			if err := rs.add(p, n); err != nil {
				errs = append(errs, err)
			}
		}
	}
	for _, n := range sortedKeys(files) {
		p, err := LoadPack(n, files[n])
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if err := rs.add(p, n); err != nil {
			errs = append(errs, err)
		}
	}
	return rs, errs.err()
}
