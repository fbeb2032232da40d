package drift

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"
)

// Kind names a file dialect and its reader.
type Kind string

// Supported kinds.
const (
	KindTiDB        Kind = "tidb"
	KindTiKV        Kind = "tikv"
	KindPD          Kind = "pd"
	KindTaosCfg     Kind = "taoscfg"
	KindTaosAdapter Kind = "taosadapter"
	KindTaosKeeper  Kind = "taoskeeper"
	KindDotenv      Kind = "dotenv"
	KindCompose     Kind = "compose"
)

// Kinds lists every supported kind.
func Kinds() []Kind {
	return []Kind{KindTiDB, KindTiKV, KindPD, KindTaosCfg, KindTaosAdapter, KindTaosKeeper, KindDotenv, KindCompose}
}

// caseInsensitive reports whether key names of k compare case-insensitively
// (taos.cfg by TDengine's loader, taosAdapter/taosKeeper by viper).
func (k Kind) caseInsensitive() bool {
	return k == KindTaosCfg || k == KindTaosAdapter || k == KindTaosKeeper
}

// ParseKind accepts a kind name or a product name (tdengine = taoscfg,
// redash = dotenv/compose by file name).
func ParseKind(s string) (Kind, error) {
	switch strings.ToLower(s) {
	case "tidb":
		return KindTiDB, nil
	case "tikv":
		return KindTiKV, nil
	case "pd":
		return KindPD, nil
	case "tdengine", "taoscfg", "taosd":
		return KindTaosCfg, nil
	case "taosadapter":
		return KindTaosAdapter, nil
	case "taoskeeper":
		return KindTaosKeeper, nil
	case "dotenv", "env":
		return KindDotenv, nil
	case "compose":
		return KindCompose, nil
	}
	return "", fmt.Errorf("unknown product or kind %q", s)
}

// DetectKind guesses the kind from a file name. It returns "" when the
// name is not recognised.
func DetectKind(path string) Kind {
	base := strings.ToLower(filepath.Base(path))
	switch {
	case base == "taos.cfg" || strings.HasSuffix(base, ".cfg") && strings.Contains(base, "taos"):
		return KindTaosCfg
	case strings.Contains(base, "taosadapter") && strings.HasSuffix(base, ".toml"):
		return KindTaosAdapter
	case strings.Contains(base, "taoskeeper") && strings.HasSuffix(base, ".toml"):
		return KindTaosKeeper
	case strings.Contains(base, "tikv") && strings.HasSuffix(base, ".toml"):
		return KindTiKV
	case (base == "pd.toml" || strings.HasPrefix(base, "pd-")) && strings.HasSuffix(base, ".toml"):
		return KindPD
	case strings.HasSuffix(base, ".toml") && (strings.Contains(base, "tidb") || base == "config.toml"):
		return KindTiDB
	case strings.HasSuffix(base, ".yaml") || strings.HasSuffix(base, ".yml"):
		if strings.Contains(base, "compose") {
			return KindCompose
		}
	case base == "env" || base == ".env" || strings.HasSuffix(base, ".env") || strings.HasPrefix(base, ".env."):
		return KindDotenv
	}
	return ""
}

// Entry is one key of a parsed configuration file.
type Entry struct {
	// Key is the canonical dotted key as written (original case).
	Key string
	// Value is a TOML-typed value (bool, int64, float64, string, []any,
	// time) for TOML kinds and a string for taos.cfg, env and compose.
	Value any
	// Line and Col locate the key in Source (1-based; 0 when unknown).
	Line, Col int
	// Source is the file the value came from (an env_file for compose).
	Source string
}

// Dup records a duplicated key in a taos.cfg or env file (last one wins).
type Dup struct {
	Key       string
	FirstLine int
	Line      int
}

// Doc is the normalised model of one configuration subject: a whole file,
// or one service of a compose file.
type Doc struct {
	Kind    Kind
	Path    string
	Subject string // compose service name; "" otherwise
	// Role is the compose subject class: "redash", "postgres" or "" (other).
	// Dotenv files have role "" and are checked against every Redash rule.
	Role string
	// SHA256 of the file bytes (hex).
	SHA256 string
	// Unresolved lists references (env_file) that could not be read.
	Unresolved []string
	Dups       []Dup
	// ParseErr is set when the file could not be parsed; no rule is then
	// evaluated except CONF-002.
	ParseErr error

	entries map[string]*Entry // folded key -> entry
}

func newDoc(kind Kind, path string) *Doc {
	return &Doc{Kind: kind, Path: path, entries: map[string]*Entry{}}
}

func (d *Doc) fold(k string) string {
	if d.Kind.caseInsensitive() {
		return strings.ToLower(k)
	}
	return k
}

// set stores e, replacing an earlier value of the same key, and returns
// the replaced entry.
func (d *Doc) set(e *Entry) *Entry {
	f := d.fold(e.Key)
	old := d.entries[f]
	d.entries[f] = e
	return old
}

// Get returns the entry for key (case-folded for case-insensitive kinds).
func (d *Doc) Get(key string) (*Entry, bool) {
	e, ok := d.entries[d.fold(key)]
	return e, ok
}

// Keys returns the canonical keys in sorted order.
func (d *Doc) Keys() []string {
	out := make([]string, 0, len(d.entries))
	for _, e := range d.entries {
		out = append(out, e.Key)
	}
	sort.Strings(out)
	return out
}

// Len returns the number of keys.
func (d *Doc) Len() int { return len(d.entries) }
