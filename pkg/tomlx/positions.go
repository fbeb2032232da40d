package tomlx

import (
	"strconv"
	"strings"
)

// pos is a 1-based line and column.
type pos struct{ line, col int }

// Positions maps key paths to where they are written in a TOML file:
// "store.retention", "source.2.format" (array tables are indexed from 0,
// and the first occurrence is also found without its index:
// "source.format"), and tables themselves ("source.2", "store").
// BurntSushi/toml keeps key positions private, so this small scanner
// recovers them for semantic errors. It understands comments, quoted and
// dotted keys, [table] and [[array]] headers, and skips multi-line strings
// and arrays.
type Positions struct {
	keys   map[string]pos
	arrays map[string]int // count of [[name]] headers seen
}

// Scan reads the positions of every key and table of a TOML text.
func Scan(src string) *Positions {
	p := &Positions{keys: map[string]pos{}, arrays: map[string]int{}}
	table := ""
	lines := strings.Split(src, "\n")
	inML := "" // closing delimiter of a multi-line string
	depth := 0 // open '[' of a multi-line array value
	for i, raw := range lines {
		ln := i + 1
		if inML != "" {
			if strings.Contains(raw, inML) {
				inML = ""
			}
			continue
		}
		if depth > 0 {
			depth += bracketDelta(raw)
			continue
		}
		trimmed := strings.TrimLeft(raw, " \t")
		col := len(raw) - len(trimmed) + 1
		if trimmed == "" || trimmed[0] == '#' {
			continue
		}
		if strings.HasPrefix(trimmed, "[[") {
			name := normKey(strings.TrimSpace(cut(trimmed[2:], "]]")))
			idx := p.arrays[name]
			p.arrays[name] = idx + 1
			table = name + "." + strconv.Itoa(idx)
			p.keys[table] = pos{ln, col}
			continue
		}
		if trimmed[0] == '[' {
			table = normKey(strings.TrimSpace(cut(trimmed[1:], "]")))
			p.keys[table] = pos{ln, col}
			continue
		}
		eq := keyEnd(trimmed)
		if eq < 0 {
			continue
		}
		key := normKey(strings.TrimSpace(trimmed[:eq]))
		full := key
		if table != "" {
			full = table + "." + key
		}
		p.keys[full] = pos{ln, col}
		// Record where the value starts, for value errors.
		val := strings.TrimLeft(trimmed[eq+1:], " \t")
		vcol := col + (len(trimmed) - len(val))
		p.keys[full+"="] = pos{ln, vcol}
		if plain := unindexed(full); plain != full {
			if _, ok := p.keys[plain]; !ok {
				p.keys[plain] = pos{ln, col}
				p.keys[plain+"="] = pos{ln, vcol}
			}
		}
		switch {
		case strings.HasPrefix(val, `"""`):
			if !strings.Contains(val[3:], `"""`) {
				inML = `"""`
			}
		case strings.HasPrefix(val, `'''`):
			if !strings.Contains(val[3:], `'''`) {
				inML = `'''`
			}
		case strings.HasPrefix(val, "["):
			depth = bracketDelta(val)
		}
	}
	return p
}

// cut returns s up to sep.
func cut(s, sep string) string {
	if i := strings.Index(s, sep); i >= 0 {
		return s[:i]
	}
	return s
}

// keyEnd returns the index of the '=' that ends the key of a key/value line.
func keyEnd(s string) int {
	q := byte(0)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case q != 0:
			if c == '\\' && q == '"' {
				i++
			} else if c == q {
				q = 0
			}
		case c == '"' || c == '\'':
			q = c
		case c == '=':
			return i
		case c == '#':
			return -1
		}
	}
	return -1
}

// normKey turns `a . "b c"` into `a.b c`.
func normKey(k string) string {
	parts := []string{}
	var b strings.Builder
	q := byte(0)
	for i := 0; i < len(k); i++ {
		c := k[i]
		switch {
		case q != 0:
			if c == q {
				q = 0
			} else {
				b.WriteByte(c)
			}
		case c == '"' || c == '\'':
			q = c
		case c == '.':
			parts = append(parts, strings.TrimSpace(b.String()))
			b.Reset()
		case c == ' ' || c == '\t':
		default:
			b.WriteByte(c)
		}
	}
	parts = append(parts, strings.TrimSpace(b.String()))
	return strings.Join(parts, ".")
}

func bracketDelta(s string) int {
	d := 0
	q := byte(0)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case q != 0:
			if c == '\\' && q == '"' {
				i++
			} else if c == q {
				q = 0
			}
		case c == '"' || c == '\'':
			q = c
		case c == '#':
			return d
		case c == '[':
			d++
		case c == ']':
			d--
		}
	}
	return d
}

// unindexed drops the array indices of a key path: "source.2.format" is
// "source.format".
func unindexed(path string) string {
	parts := strings.Split(path, ".")
	out := parts[:0]
	for _, s := range parts {
		if _, err := strconv.Atoi(s); err == nil {
			continue
		}
		out = append(out, s)
	}
	return strings.Join(out, ".")
}

// Key returns the line and column of a key path (dotted, array tables
// indexed from 0 or not), falling back to its table and then to 1:1.
func (p *Positions) Key(path string) (line, col int) {
	ps := p.of(path, false)
	return ps.line, ps.col
}

// Value returns the line and column where the value of a key path starts,
// falling back like Key.
func (p *Positions) Value(path string) (line, col int) {
	ps := p.of(path, true)
	return ps.line, ps.col
}

// of returns the position of a key path, falling back to its table and then
// to line 1.
func (p *Positions) of(path string, value bool) pos {
	if value {
		if ps, ok := p.keys[path+"="]; ok {
			return ps
		}
	}
	for path != "" {
		if ps, ok := p.keys[path]; ok {
			return ps
		}
		i := strings.LastIndexByte(path, '.')
		if i < 0 {
			break
		}
		path = path[:i]
	}
	return pos{1, 1}
}
