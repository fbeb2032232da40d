package drift

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/BurntSushi/toml"

	"github.com/dbsec/dbsec/pkg/tomlx"
)

// ErrParse is wrapped by every reader error caused by malformed input.
var ErrParse = errors.New("parse error")

// ErrNotFormat is wrapped by reader errors for content that is not the
// kind's format at all (binary data, or a taos.cfg line that is not a
// parameter), as opposed to a file of the right format with a syntax error.
// It wraps ErrParse. check-config refuses such files (exit 2); the
// exporter's periodic check reports them as CONF-002 like any parse error.
var ErrNotFormat = fmt.Errorf("%w: not the product's configuration format", ErrParse)

// PosError is an error at a position in a file. Its text is
// "file:line:col: msg" (the error type of every TOML file dbsec reads).
type PosError = tomlx.Error

// ReadOptions tune how references inside files are resolved.
type ReadOptions struct {
	// Root, when set, is prefixed to absolute env_file paths, so that a
	// copied host tree can be checked offline (e.g. Root/opt/redash/env).
	Root string
	// FS reads files; nil means the OS file system.
	ReadFile func(path string) ([]byte, error)
}

func (o ReadOptions) read(path string) ([]byte, error) {
	if o.ReadFile != nil {
		return o.ReadFile(path)
	}
	return ReadRegular(path)
}

// MaxFileBytes is the largest file the drift checks read: configuration
// files, rules, overrides and snapshots are far smaller.
const MaxFileBytes = 16 << 20

// CheckFile reports, without reading it, whether path can be read by the
// drift checks: a regular file (not a device, FIFO or directory, which
// could be endless) of at most MaxFileBytes. A missing file is not an
// error here.
func CheckFile(path string) error {
	fi, err := os.Stat(path)
	if isNotExist(err) {
		return nil
	}
	if err != nil {
		return err
	}
	return checkInfo(path, fi)
}

func checkInfo(path string, fi fs.FileInfo) error {
	if !fi.Mode().IsRegular() {
		return &PosError{File: path, Msg: fmt.Sprintf("not a regular file (%s): refusing to read it", fileKind(fi.Mode()))}
	}
	if fi.Size() > MaxFileBytes {
		return &PosError{File: path, Msg: fmt.Sprintf("file of %d bytes is larger than the %d-byte limit", fi.Size(), MaxFileBytes)}
	}
	return nil
}

func fileKind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a block device"
	case m&fs.ModeNamedPipe != 0:
		return "a FIFO"
	case m&fs.ModeSocket != 0:
		return "a socket"
	}
	return "mode " + m.Type().String()
}

// ReadRegular reads path if CheckFile accepts it, and never more than
// MaxFileBytes (a file that grows while read is refused).
func ReadRegular(path string) ([]byte, error) {
	// Stat before opening: opening a FIFO would wait for a writer.
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if err := checkInfo(path, fi); err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err = f.Stat()
	if err != nil {
		return nil, err
	}
	if err := checkInfo(path, fi); err != nil {
		return nil, err
	}
	b, err := io.ReadAll(io.LimitReader(f, MaxFileBytes+1))
	if err != nil {
		return nil, err
	}
	if len(b) > MaxFileBytes {
		return nil, &PosError{File: path, Msg: fmt.Sprintf("file grew past the %d-byte limit while read", MaxFileBytes)}
	}
	return b, nil
}

// ReadFile reads and parses path as kind. A compose file yields one Doc
// per service. Malformed content is reported in Doc.ParseErr (wrapping
// ErrParse), not as an error; the error return is for I/O problems.
func ReadFile(path string, kind Kind, opt ReadOptions) ([]*Doc, error) {
	b, err := opt.read(path)
	var pe *PosError
	if errors.As(err, &pe) {
		return nil, err // already "file: problem"
	}
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return Parse(path, kind, b, opt), nil
}

// Parse parses b (the content of path) as kind.
func Parse(path string, kind Kind, b []byte, opt ReadOptions) []*Doc {
	sum := sha256.Sum256(b)
	hexsum := hex.EncodeToString(sum[:])
	var docs []*Doc
	if err := checkText(path, kind, b); err != nil {
		d := newDoc(kind, path)
		d.ParseErr = err
		d.SHA256 = hexsum
		return []*Doc{d}
	}
	switch kind {
	case KindTaosCfg:
		docs = []*Doc{ParseTaosCfg(path, b)}
	case KindDotenv:
		docs = []*Doc{ParseEnv(path, b)}
	case KindCompose:
		docs = parseCompose(path, b, opt)
	default:
		docs = []*Doc{parseTOML(path, kind, b)}
	}
	for _, d := range docs {
		d.SHA256 = hexsum
	}
	return docs
}

// checkText refuses content that is not text: every supported format is
// UTF-8 text without NUL bytes. The error is positioned at the first bad
// byte.
func checkText(path string, kind Kind, b []byte) *PosError {
	line, col := 1, 1
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if r == 0 || (r == utf8.RuneError && size <= 1) {
			return &PosError{File: path, Line: line, Col: col, Err: ErrNotFormat,
				Msg: fmt.Sprintf("not a %s file: byte 0x%02x is not text", kind.FileName(), b[i])}
		}
		if r == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
		i += size
	}
	return nil
}

// taosNameRe is the shape of a taos.cfg parameter name.
var taosNameRe = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_.]*$`)

// ---- TOML (tidb, tikv, pd, taosadapter, taoskeeper) ----

// tidbMovedToInstance maps pre-[instance] TiDB keys to their instance.*
// names (subset of sectionMovedToInstance in pkg/config/config.go).
var tidbMovedToInstance = map[string]string{
	"log.enable-slow-log":           "instance.tidb_enable_slow_log",
	"log.slow-threshold":            "instance.tidb_slow_log_threshold",
	"log.record-plan-in-slow-log":   "instance.tidb_record_plan_in_slow_log",
	"performance.force-priority":    "instance.tidb_force_priority",
	"check-mb4-value-in-utf8":       "instance.tidb_check_mb4_value_in_utf8",
	"enable-collect-execution-info": "instance.tidb_enable_collect_execution_info",
	"plugin.load":                   "instance.plugin_load",
	"plugin.dir":                    "instance.plugin_dir",
	"max-server-connections":        "instance.max_connections",
	"run-ddl":                       "instance.tidb_enable_ddl",
}

func parseTOML(path string, kind Kind, b []byte) *Doc {
	d := newDoc(kind, path)
	var m map[string]any
	if _, err := toml.Decode(string(b), &m); err != nil {
		pe := &PosError{File: path, Msg: err.Error(), Err: ErrParse}
		var tpe toml.ParseError
		if errors.As(err, &tpe) {
			pe.Line, pe.Col, pe.Msg = tpe.Position.Line, tpe.Position.Col, tpe.Message
		}
		d.ParseErr = pe
		return d
	}
	lines := scanTOMLKeyLines(b)
	var walk func(prefix string, m map[string]any)
	walk = func(prefix string, m map[string]any) {
		for k, v := range m {
			key := k
			if strings.Contains(k, ".") {
				key = `"` + k + `"`
			}
			if prefix != "" {
				key = prefix + "." + key
			}
			if sub, ok := v.(map[string]any); ok {
				walk(key, sub)
				continue
			}
			p := lines[key]
			d.set(&Entry{Key: key, Value: v, Line: p[0], Col: p[1], Source: path})
		}
	}
	walk("", m)
	if kind == KindTiDB {
		for old, nw := range tidbMovedToInstance {
			if e, ok := d.Get(old); ok {
				if _, dup := d.Get(nw); !dup {
					d.set(&Entry{Key: nw, Value: e.Value, Line: e.Line, Col: e.Col, Source: path})
				}
			}
		}
	}
	return d
}

var (
	tomlHeaderRe = regexp.MustCompile(`^\s*\[\[?\s*([^\]]+?)\s*\]\]?`)
	tomlKeyRe    = regexp.MustCompile(`^(\s*)((?:[A-Za-z0-9_\-]+|"[^"]*"|'[^']*')(?:\s*\.\s*(?:[A-Za-z0-9_\-]+|"[^"]*"|'[^']*'))*)\s*=`)
)

// scanTOMLKeyLines maps dotted keys to [line, col]. It is a light scanner
// (BurntSushi/toml does not expose key positions): it tracks [table]
// headers and key = lines, and skips multi-line strings.
func scanTOMLKeyLines(b []byte) map[string][2]int {
	out := map[string][2]int{}
	table := ""
	inML := ""
	for i, line := range strings.Split(string(b), "\n") {
		if inML != "" {
			if strings.Contains(line, inML) {
				inML = ""
			}
			continue
		}
		if t := strings.TrimLeft(line, " \t"); t == "" || t[0] == '#' {
			continue
		}
		if m := tomlHeaderRe.FindStringSubmatch(line); m != nil && strings.HasPrefix(strings.TrimSpace(line), "[") {
			table = normKeyPath(m[1])
			if _, ok := out[table]; !ok {
				out[table] = [2]int{i + 1, strings.Index(line, "[") + 1}
			}
			continue
		}
		m := tomlKeyRe.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		key := normKeyPath(m[2])
		if table != "" {
			key = table + "." + key
		}
		if _, ok := out[key]; !ok {
			out[key] = [2]int{i + 1, len(m[1]) + 1}
		}
		rest := line[len(m[0]):]
		for _, q := range []string{`"""`, `'''`} {
			if strings.Count(rest, q) == 1 {
				inML = q
			}
		}
	}
	return out
}

// normKeyPath turns `a . "b.c"` into `a."b.c"` and `"plain"` into `plain`.
func normKeyPath(s string) string {
	var parts []string
	for _, p := range splitKeyPath(s) {
		p = strings.TrimSpace(p)
		if len(p) >= 2 && (p[0] == '"' || p[0] == '\'') {
			p = p[1 : len(p)-1]
		}
		if strings.Contains(p, ".") {
			p = `"` + p + `"`
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, ".")
}

func splitKeyPath(s string) []string {
	var out []string
	var cur strings.Builder
	var q byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case q != 0:
			if c == q {
				q = 0
			}
			cur.WriteByte(c)
		case c == '"' || c == '\'':
			q = c
			cur.WriteByte(c)
		case c == '.':
			out = append(out, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(c)
		}
	}
	return append(out, cur.String())
}

// ---- taos.cfg ----

// ParseTaosCfg parses a TDengine taos.cfg.
//
// Policy (documented in README.md): one "name value [v2 [v3]]" per line,
// separated by blanks or tabs; lines whose first non-blank byte is '#' are
// comments, and a token starting with '#' ends the line. Names compare
// case-insensitively. When a name repeats, the last occurrence wins and the
// repetition is recorded in Doc.Dups (reported as info finding CONF-003),
// except dataDir, which TDengine allows several times (multi-tier storage);
// its values are joined with "; ". A name without a value has value "".
func ParseTaosCfg(path string, b []byte) *Doc {
	d := newDoc(KindTaosCfg, path)
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		trimmed := strings.TrimLeft(line, " \t\r")
		if trimmed == "" || trimmed[0] == '#' {
			continue
		}
		fields := strings.Fields(trimmed)
		if len(fields) == 0 {
			continue // only other Unicode spaces (\v, \f, U+0085…)
		}
		name := fields[0]
		if !taosNameRe.MatchString(name) {
			col := len(line) - len(trimmed) + 1
			d.ParseErr = &PosError{File: path, Line: n, Col: col, Err: ErrNotFormat,
				Msg: fmt.Sprintf("not a taos.cfg line: %q is not a parameter name", truncate(name, 40))}
			return d
		}
		var vals []string
		for _, f := range fields[1:] {
			if strings.HasPrefix(f, "#") {
				break
			}
			vals = append(vals, f)
		}
		col := len(line) - len(trimmed) + 1
		e := &Entry{Key: name, Value: strings.Join(vals, " "), Line: n, Col: col, Source: path}
		if old, ok := d.Get(name); ok {
			if strings.EqualFold(name, "dataDir") {
				e.Value = old.Value.(string) + "; " + e.Value.(string)
				e.Line, e.Col = old.Line, old.Col
			} else {
				d.Dups = append(d.Dups, Dup{Key: name, FirstLine: old.Line, Line: n})
			}
		}
		d.set(e)
	}
	if err := sc.Err(); err != nil {
		d.ParseErr = &PosError{File: path, Line: n + 1, Msg: err.Error(), Err: ErrParse}
	}
	return d
}

// ---- env files ----

var envKeyRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.\-]*$`)

// ParseEnv parses a dotenv / Redash env file: KEY=VALUE lines, optional
// "export " prefix, '#' comment lines, matching single or double quotes
// stripped, " #" comments after unquoted values removed, no variable
// interpolation. Keys are case-sensitive; a repeated key: last one wins
// (recorded in Doc.Dups). Lines without '=' or with an invalid name are
// ignored.
func ParseEnv(path string, b []byte) *Doc {
	d := newDoc(KindDotenv, path)
	for i, line := range strings.Split(string(b), "\n") {
		line = strings.TrimRight(line, "\r")
		t := strings.TrimLeft(line, " \t")
		if t == "" || t[0] == '#' {
			continue
		}
		col := len(line) - len(t) + 1
		if rest, ok := strings.CutPrefix(t, "export "); ok {
			col += len(t) - len(strings.TrimLeft(rest, " \t"))
			t = strings.TrimLeft(rest, " \t")
		}
		k, v, ok := strings.Cut(t, "=")
		if !ok {
			continue
		}
		k = strings.TrimSpace(k)
		if !envKeyRe.MatchString(k) {
			continue
		}
		e := &Entry{Key: k, Value: unquoteEnv(strings.TrimSpace(v)), Line: i + 1, Col: col, Source: path}
		if old := d.set(e); old != nil {
			d.Dups = append(d.Dups, Dup{Key: k, FirstLine: old.Line, Line: i + 1})
		}
	}
	return d
}

func unquoteEnv(v string) string {
	if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') {
		if j := strings.IndexByte(v[1:], v[0]); j >= 0 {
			return v[1 : j+1]
		}
		return v
	}
	if j := strings.Index(v, " #"); j >= 0 {
		v = strings.TrimSpace(v[:j])
	}
	return v
}

// resolveRef resolves a path referenced from file `from`.
func resolveRef(from, ref string, opt ReadOptions) string {
	if filepath.IsAbs(ref) {
		if opt.Root != "" {
			return filepath.Join(opt.Root, ref)
		}
		return ref
	}
	return filepath.Join(filepath.Dir(from), ref)
}

func isNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// FileName names the file dialect of k for messages ("taos.cfg",
// "tidb TOML", …).
func (k Kind) FileName() string {
	switch k {
	case KindTaosCfg:
		return "taos.cfg"
	case KindDotenv:
		return "env"
	case KindCompose:
		return "docker-compose"
	case "":
		return "configuration"
	}
	return string(k) + " TOML"
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
