package drift

import (
	"bytes"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// Snapshot is an approved, normalised configuration per file (schema
// "dbsec.snapshot/v1"). Secret-class values are stored only as keyed
// HMAC tokens ("<redacted:hmac=…>"); never as cleartext or bare SHA-256.
type Snapshot struct {
	Schema     string      `toml:"schema"`
	ApprovedAt time.Time   `toml:"approved_at"`
	ApprovedBy string      `toml:"approved_by,omitempty"`
	Reason     string      `toml:"reason,omitempty"`
	Files      []*SnapFile `toml:"file"`
}

// SnapFile is the approved state of one subject.
type SnapFile struct {
	Target     string            `toml:"target"`
	Kind       string            `toml:"kind"`
	Subject    string            `toml:"subject,omitempty"`
	Path       string            `toml:"path"`
	FileSHA256 string            `toml:"file_sha256"`
	Mode       string            `toml:"mode,omitempty"`
	Values     map[string]string `toml:"values"`
	Secret     []string          `toml:"secret_keys,omitempty"`
	Ignore     []string          `toml:"ignore,omitempty"`
}

// DriftChange is one difference between the approved snapshot and now.
type DriftChange struct {
	Target  string `json:"target"`
	Kind    string `json:"kind"`
	Path    string `json:"path"`
	Subject string `json:"subject,omitempty"`
	Key     string `json:"key"`
	// Change is added, removed or changed.
	Change string `json:"change"`
	// Old and New are omitted for secrets (see OldHMAC/NewHMAC).
	Old     string `json:"old,omitempty"`
	New     string `json:"new,omitempty"`
	Secret  bool   `json:"secret"`
	OldHMAC string `json:"old_hmac,omitempty"`
	NewHMAC string `json:"new_hmac,omitempty"`
	Note    string `json:"note,omitempty"`
}

// LoadSnapshot parses a snapshot, rejecting unknown keys with positions.
func LoadSnapshot(file string, b []byte) (*Snapshot, error) {
	var s Snapshot
	if _, err := decodeStrict(file, b, &s); err != nil {
		return nil, err
	}
	if s.Schema != "dbsec.snapshot/v1" {
		return nil, &PosError{File: file, Line: 1, Col: 1, Msg: fmt.Sprintf("schema must be \"dbsec.snapshot/v1\", got %q", s.Schema), Err: ErrConfig}
	}
	return &s, nil
}

func snapID(target string, kind Kind, subject, path string) string {
	return target + "|" + string(kind) + "|" + subject + "|" + path
}

// BuildSnapshot records the current state. It fails when a secret-class
// value is present and the Redactor has no HMAC key.
func BuildSnapshot(c *Checker, approvedBy, reason string) (*Snapshot, error) {
	if len(c.cfg.HMACKey) == 0 {
		return nil, fmt.Errorf("snapshot needs an HMAC key (--hmac-key-file or --hmac-key-env): %w", ErrConfig)
	}
	s := &Snapshot{Schema: "dbsec.snapshot/v1", ApprovedAt: c.cfg.Now().UTC().Truncate(time.Second), ApprovedBy: approvedBy, Reason: reason}
	for ti := range c.cfg.Targets {
		t := &c.cfg.Targets[ti]
		for _, fs := range t.Files {
			kind := fs.Kind
			if kind == "" {
				kind = DetectKind(fs.Path)
			}
			docs, err := ReadFile(fs.Path, kind, c.cfg.Read)
			if err != nil {
				return nil, err
			}
			for _, d := range docs {
				if d.ParseErr != nil {
					return nil, fmt.Errorf("cannot approve an unparseable file: %w", d.ParseErr)
				}
				sf := &SnapFile{Target: t.Name, Kind: string(d.Kind), Subject: d.Subject, Path: d.Path, FileSHA256: d.SHA256, Values: map[string]string{}}
				if fi, err := os.Stat(d.Path); err == nil {
					sf.Mode = fmt.Sprintf("%04o", fi.Mode().Perm())
				}
				for _, k := range d.Keys() {
					e, _ := d.Get(k)
					sf.Values[k] = c.red.Value(k, e.Value)
					if c.red.IsSecret(k, e.Value) {
						sf.Secret = append(sf.Secret, k)
					}
				}
				s.Files = append(s.Files, sf)
			}
		}
	}
	return s, nil
}

// Encode writes the snapshot as TOML.
func (s *Snapshot) Encode() ([]byte, error) {
	var buf bytes.Buffer
	if err := toml.NewEncoder(&buf).Encode(s); err != nil {
		return nil, fmt.Errorf("encode snapshot: %w", err)
	}
	return buf.Bytes(), nil
}

// Diff compares current documents with the snapshot.
func (s *Snapshot) Diff(all []scanned, red *Redactor, defs *Defaults) []DriftChange {
	byID := map[string]*SnapFile{}
	for _, f := range s.Files {
		byID[snapID(f.Target, Kind(f.Kind), f.Subject, f.Path)] = f
	}
	var out []DriftChange
	seen := map[string]bool{}
	for _, sc := range all {
		for _, d := range sc.docs {
			if d.ParseErr != nil {
				continue
			}
			id := snapID(sc.target.Name, d.Kind, d.Subject, d.Path)
			sf := byID[id]
			if sf == nil {
				// rename/move: same target+kind+subject under another path
				for _, f := range s.Files {
					if f.Target == sc.target.Name && f.Kind == string(d.Kind) && f.Subject == d.Subject && !seen[snapID(f.Target, Kind(f.Kind), f.Subject, f.Path)] {
						if _, stillThere := findDoc(all, f); !stillThere {
							sf = f
							out = append(out, DriftChange{Target: f.Target, Kind: f.Kind, Path: d.Path, Subject: d.Subject, Key: "path", Change: "changed", Old: f.Path, New: d.Path})
							break
						}
					}
				}
			}
			if sf == nil {
				out = append(out, DriftChange{Target: sc.target.Name, Kind: string(d.Kind), Path: d.Path, Subject: d.Subject, Key: "(file)", Change: "added", Note: "no approved snapshot for this file"})
				continue
			}
			seen[snapID(sf.Target, Kind(sf.Kind), sf.Subject, sf.Path)] = true
			out = append(out, diffFile(sc.target.Name, d, sf, red, defs)...)
		}
	}
	for _, f := range s.Files {
		if !seen[snapID(f.Target, Kind(f.Kind), f.Subject, f.Path)] {
			if _, ok := findDoc(all, f); !ok {
				out = append(out, DriftChange{Target: f.Target, Kind: f.Kind, Path: f.Path, Subject: f.Subject, Key: "(file)", Change: "removed", Note: "file in the snapshot was not checked"})
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Target != b.Target {
			return a.Target < b.Target
		}
		if a.Path != b.Path {
			return a.Path < b.Path
		}
		if a.Subject != b.Subject {
			return a.Subject < b.Subject
		}
		return a.Key < b.Key
	})
	return out
}

func findDoc(all []scanned, f *SnapFile) (*Doc, bool) {
	for _, sc := range all {
		if sc.target.Name != f.Target {
			continue
		}
		for _, d := range sc.docs {
			if string(d.Kind) == f.Kind && d.Subject == f.Subject && d.Path == f.Path {
				return d, true
			}
		}
	}
	return nil, false
}

func hmacOf(token string) string {
	if strings.HasPrefix(token, "<redacted:hmac=") {
		return strings.TrimSuffix(strings.TrimPrefix(token, "<redacted:hmac="), ">")
	}
	return ""
}

func diffFile(target string, d *Doc, sf *SnapFile, red *Redactor, defs *Defaults) []DriftChange {
	var out []DriftChange
	secret := map[string]bool{}
	for _, k := range sf.Secret {
		secret[foldKind(d.Kind, k)] = true
	}
	old := map[string]string{}
	oldKey := map[string]string{}
	for k, v := range sf.Values {
		old[foldKind(d.Kind, k)] = v
		oldKey[foldKind(d.Kind, k)] = k
	}
	ignored := func(k string) bool {
		for _, g := range sf.Ignore {
			if keyEq(d.Kind, g, k) {
				return true
			}
		}
		return false
	}
	mk := func(key, change, o, n string, sec bool) DriftChange {
		c := DriftChange{Target: target, Kind: string(d.Kind), Path: d.Path, Subject: d.Subject, Key: key, Change: change, Secret: sec}
		if sec {
			c.OldHMAC, c.NewHMAC = hmacOf(o), hmacOf(n)
		} else {
			c.Old, c.New = o, n
		}
		return c
	}
	note := func(c *DriftChange, val string) {
		if _, ok := defs.removed(d.Kind, c.Key, nil); ok {
			c.Note = "removed in the product (no effect)"
			return
		}
		if def, ok := defs.lookup(d.Kind, c.Key, nil, ""); ok && render(def.Value) == val {
			c.Note = "equals the default: effective value unchanged"
		}
	}
	for _, k := range d.Keys() {
		if ignored(k) {
			continue
		}
		e, _ := d.Get(k)
		nv := red.Value(k, e.Value)
		sec := red.IsSecret(k, e.Value) || secret[foldKind(d.Kind, k)]
		ov, had := old[foldKind(d.Kind, k)]
		switch {
		case !had:
			c := mk(k, "added", "", nv, sec)
			if !sec {
				note(&c, nv)
			}
			out = append(out, c)
		case ov != nv:
			out = append(out, mk(k, "changed", ov, nv, sec))
		}
	}
	for fk, ov := range old {
		if _, ok := d.Get(fk); ok || ignored(oldKey[fk]) {
			continue
		}
		c := mk(oldKey[fk], "removed", ov, "", secret[fk])
		if !c.Secret {
			note(&c, ov)
		}
		out = append(out, c)
	}
	if fi, err := os.Stat(d.Path); err == nil && sf.Mode != "" {
		if m := fmt.Sprintf("%04o", fi.Mode().Perm()); m != sf.Mode {
			out = append(out, DriftChange{Target: target, Kind: string(d.Kind), Path: d.Path, Subject: d.Subject, Key: "(file_meta.mode)", Change: "changed", Old: sf.Mode, New: m})
		}
	}
	if len(out) == 0 && sf.FileSHA256 != d.SHA256 && d.Subject == "" {
		out = append(out, DriftChange{Target: target, Kind: string(d.Kind), Path: d.Path, Key: "(file_sha256)", Change: "sha256_only", Note: "formatting or comments changed; not counted as drift"})
	}
	return out
}

// CountsAsDrift reports whether c counts toward dbsec_config_drift_changes.
func (c DriftChange) CountsAsDrift() bool { return c.Change != "sha256_only" }
