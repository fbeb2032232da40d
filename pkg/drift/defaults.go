package drift

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
)

// Defaults holds product defaults per kind and version, the keys that
// have no effect (removed), the known-key schemas and the known-secrets
// catalogue. It is loaded from the embedded rules/defaults.toml and
// rules/secrets.toml.
type Defaults struct {
	Schema  string          `toml:"schema"`
	Default []*defaultEntry `toml:"default"`
	Removed []*removedEntry `toml:"removed"`
	Known   []*knownEntry   `toml:"known"`

	secrets map[string]map[string]string // catalog -> sha256 -> provenance
	byKey   map[string][]*defaultEntry   // kind|folded key -> entries in file order
}

type defaultEntry struct {
	Kind     StrList  `toml:"kind"`
	Key      string   `toml:"key"`
	Value    any      `toml:"value"`
	Versions string   `toml:"versions"`
	Editions []string `toml:"editions"`
	Ref      string   `toml:"ref"`
	vr       versionRange
}

type removedEntry struct {
	Kind     string   `toml:"kind"`
	Keys     []string `toml:"keys"`
	Versions string   `toml:"versions"`
	Note     string   `toml:"note"`
	Ref      string   `toml:"ref"`
	vr       versionRange
}

type knownEntry struct {
	Kind     string   `toml:"kind"`
	Versions string   `toml:"versions"`
	Keys     []string `toml:"keys"`
	Ref      string   `toml:"ref"`
	vr       versionRange
}

type secretsFile struct {
	Schema string `toml:"schema"`
	Secret []struct {
		Catalog    string `toml:"catalog"`
		SHA256     string `toml:"sha256"`
		Provenance string `toml:"provenance"`
	} `toml:"secret"`
}

func loadDefaults() (*Defaults, error) {
	b, err := builtinFS.ReadFile("rules/defaults.toml")
	if err != nil {
		return nil, fmt.Errorf("read builtin defaults: %w", err)
	}
	var d Defaults
	if _, err := decodeStrict("builtin:rules/defaults.toml", b, &d); err != nil {
		return nil, err
	}
	d.byKey = map[string][]*defaultEntry{}
	for _, e := range d.Default {
		if e.vr, err = parseVersionRange(e.Versions); err != nil {
			return nil, fmt.Errorf("defaults %s %s: %w", e.Kind, e.Key, err)
		}
		for _, k := range e.Kind {
			ik := k + "|" + foldKind(Kind(k), e.Key)
			d.byKey[ik] = append(d.byKey[ik], e)
		}
	}
	for _, e := range d.Removed {
		if e.vr, err = parseVersionRange(e.Versions); err != nil {
			return nil, fmt.Errorf("removed %s: %w", e.Kind, err)
		}
	}
	for _, e := range d.Known {
		if e.vr, err = parseVersionRange(e.Versions); err != nil {
			return nil, fmt.Errorf("known %s: %w", e.Kind, err)
		}
	}
	sb, err := builtinFS.ReadFile("rules/secrets.toml")
	if err != nil {
		return nil, fmt.Errorf("read builtin secrets catalog: %w", err)
	}
	var sf secretsFile
	if _, err := decodeStrict("builtin:rules/secrets.toml", sb, &sf); err != nil {
		return nil, err
	}
	d.secrets = map[string]map[string]string{}
	for _, s := range sf.Secret {
		if d.secrets[s.Catalog] == nil {
			d.secrets[s.Catalog] = map[string]string{}
		}
		d.secrets[s.Catalog][strings.ToLower(s.SHA256)] = s.Provenance
	}
	return &d, nil
}

// lookup returns the default for key of kind at version v (nil = newest:
// the last matching entry in file order wins).
func (d *Defaults) lookup(kind Kind, key string, v Version, edition string) (*defaultEntry, bool) {
	var found *defaultEntry
	for _, e := range d.byKey[string(kind)+"|"+foldKind(kind, key)] {
		if len(e.Editions) > 0 && !contains(e.Editions, edition) {
			continue
		}
		if v == nil || e.vr.contains(v) {
			found = e
		}
	}
	return found, found != nil
}

func (d *Defaults) removed(kind Kind, key string, v Version) (*removedEntry, bool) {
	for _, e := range d.Removed {
		if e.Kind != string(kind) || !e.vr.contains(v) {
			continue
		}
		for _, k := range e.Keys {
			if keyEq(kind, k, key) {
				return e, true
			}
		}
	}
	return nil, false
}

func (d *Defaults) known(kind Kind, v Version) (map[string]bool, bool) {
	var keys map[string]bool
	for _, e := range d.Known {
		if e.Kind != string(kind) || !e.vr.contains(v) {
			continue
		}
		if keys == nil {
			keys = map[string]bool{}
		}
		for _, k := range e.Keys {
			keys[foldKind(kind, k)] = true
		}
	}
	return keys, keys != nil
}

// schemaHas reports whether the defaults schema knows key for the version
// (used by requires_schema_keys).
func (d *Defaults) schemaHas(kind Kind, key string, v Version) bool {
	for _, e := range d.byKey[string(kind)+"|"+foldKind(kind, key)] {
		if v == nil || e.vr.contains(v) {
			return true
		}
	}
	return false
}

// knownSecret returns the provenance when value is in catalog.
func (d *Defaults) knownSecret(catalog, value string) (string, bool) {
	sum := sha256.Sum256([]byte(value))
	p, ok := d.secrets[catalog][hex.EncodeToString(sum[:])]
	return p, ok
}

func (d *Defaults) anyKnownSecret(value string) bool {
	sum := sha256.Sum256([]byte(value))
	h := hex.EncodeToString(sum[:])
	for _, c := range d.secrets {
		if _, ok := c[h]; ok {
			return true
		}
	}
	return false
}

func foldKind(k Kind, s string) string {
	if k.caseInsensitive() {
		return strings.ToLower(s)
	}
	return s
}

func keyEq(k Kind, a, b string) bool {
	if k.caseInsensitive() {
		return strings.EqualFold(a, b)
	}
	return a == b
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}
