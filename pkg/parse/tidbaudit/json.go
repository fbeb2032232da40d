package tidbaudit

import (
	"unicode/utf16"
	"unicode/utf8"

	"github.com/dbsec/dbsec/pkg/event"
	"github.com/dbsec/dbsec/pkg/parse"
)

// JSONParser parses the JSON format with a small hand-rolled scanner: string
// values without escapes are views of the line, escaped ones are decoded into
// a reused scratch buffer, and nested arrays/objects (TABLES, ROLES,
// CONN_ATTRS) are kept as their raw text. It does not allocate once the
// scratch buffer has grown. It is not safe for concurrent use.
type JSONParser struct {
	scratch []byte
}

// NewJSON returns a JSON-format parser.
func NewJSON() *JSONParser { return &JSONParser{} }

// Parse implements parse.Parser.
func (p *JSONParser) Parse(rec []byte, ev *event.Event) (bool, error) {
	p.scratch = p.scratch[:0]
	var r record
	i := skipWS(rec, 0)
	if i == len(rec) {
		return false, nil // blank line
	}
	if rec[i] != '{' {
		return false, parse.Errorf(parse.ReasonSyntax, i, "expected '{'")
	}
	i = skipWS(rec, i+1)
	if i < len(rec) && rec[i] == '}' {
		i++
	} else {
		for {
			i = skipWS(rec, i)
			if i >= len(rec) || rec[i] != '"' {
				return false, parse.Errorf(parse.ReasonEncoding, i, "expected object key")
			}
			key, j, err := p.str(rec, i)
			if err != nil {
				return false, err
			}
			i = skipWS(rec, j)
			if i >= len(rec) || rec[i] != ':' {
				return false, parse.Errorf(parse.ReasonEncoding, i, "expected ':'")
			}
			i = skipWS(rec, i+1)
			val, j, err := p.value(rec, i)
			if err != nil {
				return false, err
			}
			r.set(key, val)
			i = skipWS(rec, j)
			if i < len(rec) && rec[i] == ',' {
				i++
				continue
			}
			if i < len(rec) && rec[i] == '}' {
				i++
				break
			}
			return false, parse.Errorf(parse.ReasonEncoding, i, "expected ',' or '}'")
		}
	}
	if i = skipWS(rec, i); i != len(rec) {
		return false, parse.Errorf(parse.ReasonEncoding, i, "trailing data after the object")
	}
	return build(rec, &r, ev, FormatJSON.Name)
}

func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n') {
		i++
	}
	return i
}

// value returns a scalar's text (strings unquoted; null as nil) or the raw
// text of an array or object, and the index after it.
func (p *JSONParser) value(b []byte, i int) ([]byte, int, error) {
	if i >= len(b) {
		return nil, i, parse.Errorf(parse.ReasonEncoding, i, "missing value")
	}
	switch c := b[i]; {
	case c == '"':
		return p.str(b, i)
	case c == '[' || c == '{':
		j, err := skipNested(b, i)
		if err != nil {
			return nil, j, err
		}
		return b[i:j], j, nil
	default:
		j := i
		for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ']' && b[j] != ' ' && b[j] != '\t' {
			j++
		}
		lit := b[i:j]
		switch string(lit) {
		case "null":
			return nil, j, nil
		case "true", "false":
			return lit, j, nil
		}
		if !isNumber(lit) {
			return nil, j, parse.Errorf(parse.ReasonEncoding, i, "invalid JSON value")
		}
		return lit, j, nil
	}
}

func isNumber(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	digits := 0
	for k, c := range b {
		switch {
		case c >= '0' && c <= '9':
			digits++
		case c == '-' || c == '+':
			if k != 0 && b[k-1] != 'e' && b[k-1] != 'E' {
				return false
			}
		case c == '.' || c == 'e' || c == 'E':
		default:
			return false
		}
	}
	return digits > 0
}

// skipNested returns the index after the array or object starting at i.
func skipNested(b []byte, i int) (int, error) {
	depth := 0
	for j := i; j < len(b); j++ {
		switch b[j] {
		case '"':
			j++
			for j < len(b) && b[j] != '"' {
				if b[j] == '\\' {
					j++
				}
				j++
			}
			if j >= len(b) {
				return j, parse.Errorf(parse.ReasonEncoding, i, "unterminated string")
			}
		case '[', '{':
			depth++
			if depth > 64 {
				return j, parse.Errorf(parse.ReasonEncoding, j, "nesting too deep")
			}
		case ']', '}':
			depth--
			if depth == 0 {
				return j + 1, nil
			}
		}
	}
	return len(b), parse.Errorf(parse.ReasonEncoding, i, "unterminated array or object")
}

// str decodes the JSON string starting at the quote at i.
func (p *JSONParser) str(b []byte, i int) ([]byte, int, error) {
	j := i + 1
	for j < len(b) && b[j] != '"' && b[j] != '\\' {
		if b[j] < 0x20 {
			return nil, j, parse.Errorf(parse.ReasonEncoding, j, "control character in string")
		}
		j++
	}
	if j < len(b) && b[j] == '"' {
		return b[i+1 : j], j + 1, nil // no escapes: a view of the line
	}
	start := len(p.scratch)
	p.scratch = append(p.scratch, b[i+1:j]...)
	for j < len(b) {
		c := b[j]
		switch {
		case c == '"':
			return p.scratch[start:len(p.scratch):len(p.scratch)], j + 1, nil
		case c < 0x20:
			return nil, j, parse.Errorf(parse.ReasonEncoding, j, "control character in string")
		case c != '\\':
			p.scratch = append(p.scratch, c)
			j++
			continue
		}
		if j+1 >= len(b) {
			break
		}
		switch e := b[j+1]; e {
		case '"', '\\', '/':
			p.scratch = append(p.scratch, e)
		case 'b':
			p.scratch = append(p.scratch, '\b')
		case 'f':
			p.scratch = append(p.scratch, '\f')
		case 'n':
			p.scratch = append(p.scratch, '\n')
		case 'r':
			p.scratch = append(p.scratch, '\r')
		case 't':
			p.scratch = append(p.scratch, '\t')
		case 'u':
			r, ok := hex4(b, j+2)
			if !ok {
				return nil, j, parse.Errorf(parse.ReasonEncoding, j, "bad \\u escape")
			}
			j += 6
			if utf16.IsSurrogate(r) {
				if r2, ok := hex4(b, j+2); ok && j+1 < len(b) && b[j] == '\\' && b[j+1] == 'u' {
					if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
						p.scratch = utf8.AppendRune(p.scratch, d)
						j += 6
						continue
					}
				}
				r = utf8.RuneError
			}
			p.scratch = utf8.AppendRune(p.scratch, r)
			continue
		default:
			return nil, j, parse.Errorf(parse.ReasonEncoding, j, "bad escape")
		}
		j += 2
	}
	return nil, j, parse.Errorf(parse.ReasonEncoding, i, "unterminated string")
}

func hex4(b []byte, i int) (rune, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

var _ parse.Parser = (*JSONParser)(nil)
