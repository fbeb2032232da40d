package drift

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/dbsec/dbsec/pkg/finding"
)

// FileSpec is one configuration file of a target. Kind "" means detect
// from the file name.
type FileSpec struct {
	Path string
	Kind Kind
}

// Target is a named deployment (e.g. "tidb-prod-1") with its files and
// inventory facts.
type Target struct {
	Name  string
	Files []FileSpec
	// Versions maps kind to product version; the "" entry applies to
	// every kind without its own entry. An unknown version assumes every
	// version range matches and uses the newest defaults.
	Versions map[Kind]string
	// Edition is community (default) or enterprise.
	Edition string
	// Facts are inventory facts: tls_terminated_upstream, offline,
	// service_user...
	Facts map[string]string
}

// Config configures a Checker. Files are read by the Checker, not by the
// caller, so the exporter can re-run it on an interval.
type Config struct {
	Targets []Target
	// RuleFiles are extra rule packs (path -> content is read at
	// NewChecker time).
	RuleFiles []string
	NoBuiltin bool
	// OverridesFile and SnapshotFile are optional.
	OverridesFile string
	SnapshotFile  string
	// HMACKey keys secret digests (snapshot, redaction). Required when a
	// snapshot is used and secrets are present.
	HMACKey []byte
	Read    ReadOptions
	// Now is the scan clock; nil means time.Now.
	Now func() time.Time
}

// Checker evaluates rule packs against targets. It is safe for
// concurrent use; Run calls are serialised.
type Checker struct {
	cfg       Config
	rules     *RuleSet
	defs      *Defaults
	ov        *Overrides
	snap      *Snapshot
	red       *Redactor
	mu        sync.Mutex
	firstSeen map[string]time.Time
	last      *Result
}

// Result is the outcome of one Run.
type Result struct {
	GeneratedAt time.Time         `json:"generated_at"`
	Findings    []finding.Finding `json:"findings"`
	Drift       []DriftChange     `json:"drift,omitempty"`
	Profile     Profile           `json:"profile"`
	Files       []FileInfo        `json:"files"`
}

// FileInfo summarises one parsed subject.
type FileInfo struct {
	Target  string `json:"target"`
	Kind    Kind   `json:"kind"`
	Path    string `json:"path"`
	Subject string `json:"subject,omitempty"`
	SHA256  string `json:"sha256"`
	Keys    int    `json:"keys"`
	Parsed  bool   `json:"parsed"`
}

// Profile is the effective tailoring, echoed in every output.
type Profile struct {
	Packs             []string          `json:"packs"`
	RulesEnabled      int               `json:"rules_enabled"`
	Disabled          []string          `json:"disabled,omitempty"`
	SeverityOverrides []ProfileOverride `json:"severity_overrides,omitempty"`
	Waivers           []ProfileWaiver   `json:"waivers,omitempty"`
	Overrides         string            `json:"overrides_file,omitempty"`
	Snapshot          string            `json:"snapshot_file,omitempty"`
}

// ProfileOverride echoes a severity override.
type ProfileOverride struct {
	Rule     string           `json:"rule"`
	Severity finding.Severity `json:"severity"`
	Reason   string           `json:"reason"`
	Targets  []string         `json:"targets,omitempty"`
}

// ProfileWaiver echoes a waiver with its state: active, expired or stale.
type ProfileWaiver struct {
	ID      string    `json:"id"`
	Rule    string    `json:"rule"`
	Owner   string    `json:"owner"`
	Expires time.Time `json:"expires"`
	State   string    `json:"state"`
}

// NewChecker loads rules, defaults, overrides and snapshot. Errors in any
// of them are returned (positioned, wrapping ErrConfig) and must stop the
// run.
func NewChecker(cfg Config) (*Checker, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	defs, err := loadDefaults()
	if err != nil {
		return nil, err
	}
	files := map[string][]byte{}
	for _, f := range cfg.RuleFiles {
		b, err := ReadRegular(f)
		if err != nil {
			return nil, fmt.Errorf("read rule file: %w", err)
		}
		files[f] = b
	}
	rs, err := LoadRules(cfg.NoBuiltin, files)
	if err != nil {
		return nil, err
	}
	c := &Checker{cfg: cfg, rules: rs, defs: defs, red: NewRedactor(cfg.HMACKey, defs), firstSeen: map[string]time.Time{}}
	if cfg.OverridesFile != "" {
		b, err := ReadRegular(cfg.OverridesFile)
		if err != nil {
			return nil, fmt.Errorf("read overrides: %w", err)
		}
		if c.ov, err = LoadOverrides(cfg.OverridesFile, b, rs, cfg.Now().UTC()); err != nil {
			return nil, err
		}
	}
	if cfg.SnapshotFile != "" {
		b, err := ReadRegular(cfg.SnapshotFile)
		switch {
		case err == nil:
			if c.snap, err = LoadSnapshot(cfg.SnapshotFile, b); err != nil {
				return nil, err
			}
		case isNotExist(err):
			// no approved snapshot yet: no drift is reported
		default:
			return nil, fmt.Errorf("read snapshot: %w", err)
		}
	}
	return c, nil
}

// Rules returns the loaded rule set.
func (c *Checker) Rules() *RuleSet { return c.rules }

// Last returns the most recent Result, if any.
func (c *Checker) Last() (Result, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.last == nil {
		return Result{}, false
	}
	return *c.last, true
}

type scanned struct {
	target *Target
	docs   []*Doc
}

// Run reads every target file and evaluates the rules. I/O errors on a
// file become CONF-002 findings; the error return is reserved for a
// cancelled context.
func (c *Checker) Run(ctx context.Context) (Result, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.cfg.Now().UTC()
	res := Result{GeneratedAt: now}
	disabled := map[string]bool{}
	if c.ov != nil {
		for _, id := range c.ov.Profile.Disable {
			disabled[id] = true
		}
	}
	// Targets are read and evaluated by a bounded worker pool; results
	// are kept in target order so outputs stay deterministic.
	all := make([]scanned, len(c.cfg.Targets))
	perTarget := make([][]finding.Finding, len(c.cfg.Targets))
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range max(1, min(runtime.GOMAXPROCS(0), len(c.cfg.Targets))) {
		wg.Go(func() {
			for ti := range jobs {
				t := &c.cfg.Targets[ti]
				sc := scanned{target: t}
				for _, fs := range t.Files {
					kind := fs.Kind
					if kind == "" {
						kind = DetectKind(fs.Path)
					}
					docs, err := ReadFile(fs.Path, kind, c.cfg.Read)
					if err != nil {
						d := newDoc(kind, fs.Path)
						d.ParseErr = err
						docs = []*Doc{d}
					}
					sc.docs = append(sc.docs, docs...)
				}
				for _, d := range sc.docs {
					perTarget[ti] = append(perTarget[ti], c.evalDoc(t, d, disabled)...)
				}
				all[ti] = sc
			}
		})
	}
	var ctxErr error
	for ti := range c.cfg.Targets {
		if ctxErr = ctx.Err(); ctxErr != nil {
			break
		}
		jobs <- ti
	}
	close(jobs)
	wg.Wait()
	if ctxErr != nil {
		return Result{}, fmt.Errorf("check-config: %w", ctxErr)
	}
	for ti, sc := range all {
		for _, d := range sc.docs {
			res.Files = append(res.Files, FileInfo{Target: sc.target.Name, Kind: d.Kind, Path: d.Path, Subject: d.Subject, SHA256: d.SHA256, Keys: d.Len(), Parsed: d.ParseErr == nil})
		}
		res.Findings = append(res.Findings, perTarget[ti]...)
	}
	c.applyOverrides(&res, now)
	if c.snap != nil {
		res.Drift = c.snap.Diff(all, c.red, c.defs)
	}
	for i := range res.Findings {
		f := &res.Findings[i]
		k := f.Target + "|" + f.File + "|" + f.Subject + "|" + f.RuleID + "|" + string(f.Status)
		first, ok := c.firstSeen[k]
		if !ok {
			first = now
			c.firstSeen[k] = now
		}
		f.FirstSeen, f.LastSeen = first, now
	}
	sortFindings(res.Findings)
	res.Profile = c.profile(disabled)
	c.last = &res
	return res, nil
}

func sortFindings(fs []finding.Finding) {
	sort.SliceStable(fs, func(i, j int) bool {
		a, b := fs[i], fs[j]
		if a.Target != b.Target {
			return a.Target < b.Target
		}
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Subject != b.Subject {
			return a.Subject < b.Subject
		}
		return a.RuleID < b.RuleID
	})
}

func (c *Checker) profile(disabled map[string]bool) Profile {
	p := Profile{Packs: c.rules.Packs, Overrides: c.cfg.OverridesFile, Snapshot: c.cfg.SnapshotFile}
	for _, r := range c.rules.Rules {
		if !disabled[r.ID] {
			p.RulesEnabled++
		}
	}
	p.Disabled = sortedKeys(disabled)
	if c.ov != nil {
		for _, s := range c.ov.SeverityOverride {
			p.SeverityOverrides = append(p.SeverityOverrides, ProfileOverride{s.Rule, s.sev, s.Reason, s.Targets})
		}
		now := c.cfg.Now().UTC()
		for _, w := range c.ov.Waiver {
			st := "active"
			switch {
			case !w.Expires.IsZero() && now.After(w.Expires):
				st = "expired"
			case !w.used:
				st = "stale"
			}
			p.Waivers = append(p.Waivers, ProfileWaiver{w.ID, w.Rule, w.Owner, w.Expires, st})
		}
	}
	return p
}

func (c *Checker) base(r *Rule, t *Target, d *Doc) finding.Finding {
	return finding.Finding{
		RuleID: r.ID, Title: r.Title, Category: r.Category, Severity: r.sev, Target: t.Name, Kind: string(d.Kind),
		File: d.Path, Subject: d.Subject, Rationale: r.Rationale, Remediation: r.Remediation, References: r.References,
	}
}

var generic = map[string]*Rule{
	"CONF-001": {ID: "CONF-001", Title: "All referenced files (env_file, includes) must be resolvable", sev: finding.Info, Category: "config-hygiene",
		Rationale:   "Rules whose keys are all absent evaluate to unknown while a reference is unresolved; absent does not mean default there.",
		Remediation: "Make the referenced file readable to the checker (or pass --root for a copied host tree).", References: []string{"pkg/drift/README.md"}},
	"CONF-002": {ID: "CONF-002", Title: "The configuration file must parse", sev: finding.High, Category: "config-hygiene",
		Rationale:   "No rule can be evaluated on a file that does not parse, and the product itself may refuse to start.",
		Remediation: "Fix the syntax error at the reported position.", References: []string{"pkg/drift/README.md"}},
	"CONF-003": {ID: "CONF-003", Title: "No duplicated keys (the last occurrence wins)", sev: finding.Info, Category: "config-hygiene",
		Rationale:   "A duplicated key hides which value is in force; reviewers usually read the first one.",
		Remediation: "Delete all but one occurrence.", References: []string{"internal:pkg/drift/README.md#taoscfg"}},
	"WAIVER-EXPIRED": {ID: "WAIVER-EXPIRED", Title: "A waiver has passed its expiry date", Category: "config-hygiene",
		Rationale:   "Expired waivers resurface the underlying failure.",
		Remediation: "Fix the finding, or renew the waiver with a new reason and expiry.", References: []string{"pkg/drift/README.md"}},
	"WAIVER-STALE": {ID: "WAIVER-STALE", Title: "A waiver matched no failing finding", sev: finding.Info, Category: "config-hygiene",
		Rationale:   "Stale waivers hide renamed targets or rules that now pass.",
		Remediation: "Delete the waiver or fix its targets/files.", References: []string{"pkg/drift/README.md"}},
}

// evalDoc evaluates all applicable rules on one subject.
func (c *Checker) evalDoc(t *Target, d *Doc, disabled map[string]bool) []finding.Finding {
	var out []finding.Finding
	if d.ParseErr != nil {
		f := c.base(generic["CONF-002"], t, d)
		f.Status, f.Message = finding.Fail, d.ParseErr.Error()
		if pe, ok := d.ParseErr.(*PosError); ok {
			f.Line = pe.Line
		}
		return append(out, f)
	}
	if len(d.Unresolved) > 0 {
		f := c.base(generic["CONF-001"], t, d)
		f.Status, f.Message = finding.Fail, "unresolved: "+strings.Join(d.Unresolved, "; ")
		out = append(out, f)
	}
	for _, dup := range d.Dups {
		f := c.base(generic["CONF-003"], t, d)
		f.Status, f.Key, f.Line = finding.Fail, dup.Key, dup.Line
		f.Message = fmt.Sprintf("%s set on line %d and again on line %d; the last value is used", dup.Key, dup.FirstLine, dup.Line)
		out = append(out, f)
	}
	if d.Kind == KindCompose && d.Role == "" {
		return out // redis, nginx...: not a Redash subject
	}
	ver := t.Versions[d.Kind]
	if ver == "" {
		ver = t.Versions[""]
	}
	v, _ := ParseVersion(ver)
	edition := t.Edition
	if edition == "" {
		edition = "community"
	}
	for _, r := range c.rules.Rules {
		if disabled[r.ID] || !kindIn(r.kinds, d.Kind) {
			continue
		}
		if d.Kind == KindCompose {
			want := r.Subject
			if want == "" {
				want = "redash"
			}
			if want != d.Role {
				continue
			}
		}
		out = append(out, c.evalRule(r, t, d, v, ver, edition))
	}
	return out
}

func kindIn(ks []Kind, k Kind) bool {
	for _, x := range ks {
		if x == k {
			return true
		}
	}
	return false
}

func (c *Checker) params(r *Rule) map[string]any {
	p := map[string]any{}
	for k, v := range r.Params {
		p[k] = v
	}
	if c.ov != nil {
		for _, ps := range c.ov.Param {
			if ps.Rule == r.ID {
				p[ps.Name] = ps.Value
			}
		}
	}
	return p
}

func (c *Checker) evalRule(r *Rule, t *Target, d *Doc, v Version, vstr, edition string) finding.Finding {
	f := c.base(r, t, d)
	na := func(msg string) finding.Finding {
		f.Status, f.Message = finding.NotApplicable, msg
		return f
	}
	if len(r.Editions) > 0 && !contains(r.Editions, edition) {
		return na("edition " + edition + " not in " + strings.Join(r.Editions, ", "))
	}
	if !r.vr.contains(v) {
		return na(fmt.Sprintf("version %s outside %s", vstr, r.Versions))
	}
	for _, k := range r.RequiresSchemaKeys {
		if !c.defs.schemaHas(d.Kind, k, v) {
			return na(fmt.Sprintf("%s is not in the schema for %s %s", k, d.Kind, vstr))
		}
	}
	for k, want := range r.RequiresFacts {
		if t.Facts[k] != render(want) {
			return na(fmt.Sprintf("fact %s is not %s", k, render(want)))
		}
	}
	if r.Source == "host" && t.Facts["offline"] == "true" {
		f.Status, f.Message = finding.Unknown, "host check not run (offline)"
		return f
	}
	x := &evalEnv{doc: d, version: v, vstr: vstr, edition: edition, facts: t.Facts, params: c.params(r), defs: c.defs, red: c.red}
	if r.AppliesIf != nil {
		st, leaves := x.eval(r.AppliesIf)
		switch st {
		case rFail, rSkip:
			return na("precondition not met: " + pickMsg(leaves, st))
		case rUnknown:
			f.Status, f.Message = finding.Unknown, "precondition undecided: "+pickMsg(leaves, st)
			return f
		}
	}
	st, leaves := x.eval(r.Check)
	switch st {
	case rPass:
		f.Status = finding.Pass
	case rFail:
		f.Status = finding.Fail
	case rUnknown:
		f.Status = finding.Unknown
	case rSkip:
		f.Status = finding.NotApplicable
	}
	want := st
	for _, l := range leaves {
		if l.st == want {
			f.Key, f.Line, f.Observed, f.DefaultUsed = l.key, l.line, l.observed, l.defaultUsed
			break
		}
	}
	f.Message = pickMsg(leaves, st)
	if f.DefaultUsed && vstr == "" && f.Status != finding.Pass {
		f.Message += " (product version not given: newest defaults assumed)"
	}
	return f
}

func pickMsg(leaves []leafOut, st res) string {
	var msgs []string
	seen := map[string]bool{}
	for _, l := range leaves {
		if l.st == st && l.msg != "" && !seen[l.msg] {
			seen[l.msg] = true
			msgs = append(msgs, l.msg)
		}
	}
	if len(msgs) == 0 && len(leaves) > 0 {
		return leaves[0].msg
	}
	return strings.Join(msgs, "; ")
}

// applyOverrides attaches waivers and severity overrides, and adds
// WAIVER-EXPIRED / WAIVER-STALE findings.
func (c *Checker) applyOverrides(res *Result, now time.Time) {
	if c.ov == nil {
		return
	}
	var extra []finding.Finding
	for i := range res.Findings {
		f := &res.Findings[i]
		for _, s := range c.ov.SeverityOverride {
			if s.Rule == f.RuleID && globAny(s.Targets, f.Target) && s.sev != f.Severity {
				f.SeverityOverride = &finding.SeverityOverride{From: f.Severity, Reason: s.Reason}
				f.Severity = s.sev
			}
		}
		if f.Status != finding.Fail {
			continue
		}
		for _, w := range c.ov.Waiver {
			if w.Rule != f.RuleID || !globAny(w.Targets, f.Target) || !globAny(w.Files, f.File, filepath.Base(f.File)) {
				continue
			}
			factsOK := true
			for k, want := range w.RequireFacts {
				if c.targetFacts(f.Target)[k] != render(want) {
					factsOK = false
				}
			}
			if !factsOK {
				continue
			}
			w.used = true
			expired := !w.Expires.IsZero() && now.After(w.Expires)
			f.Waiver = &finding.Waiver{ID: w.ID, Reason: w.Reason, Owner: w.Owner, ApprovedBy: w.ApprovedBy, Ticket: w.Ticket, Expires: w.Expires, Expired: expired && c.ov.failOnExpired()}
			if expired {
				e := finding.Finding{RuleID: "WAIVER-EXPIRED", Title: generic["WAIVER-EXPIRED"].Title, Category: "config-hygiene", Severity: f.Severity,
					Status: finding.Fail, Target: f.Target, Kind: f.Kind, File: f.File, Subject: f.Subject, Key: f.Key,
					Message:   fmt.Sprintf("waiver %s for %s (owner %s) expired on %s", w.ID, f.RuleID, w.Owner, w.Expires.Format("2006-01-02")),
					Rationale: generic["WAIVER-EXPIRED"].Rationale, Remediation: generic["WAIVER-EXPIRED"].Remediation, References: []string{w.pos}}
				extra = append(extra, e)
			}
			break
		}
	}
	for _, w := range c.ov.Waiver {
		if !w.used {
			g := generic["WAIVER-STALE"]
			extra = append(extra, finding.Finding{RuleID: g.ID, Title: g.Title, Category: g.Category, Severity: finding.Info, Status: finding.Fail,
				Target: "*", File: c.ov.file, Message: fmt.Sprintf("waiver %s for %s matched no failing finding", w.ID, w.Rule),
				Rationale: g.Rationale, Remediation: g.Remediation, References: []string{w.pos}})
		}
	}
	res.Findings = append(res.Findings, extra...)
}

func (c *Checker) targetFacts(name string) map[string]string {
	for i := range c.cfg.Targets {
		if c.cfg.Targets[i].Name == name {
			return c.cfg.Targets[i].Facts
		}
	}
	return nil
}
