// Package jsonscan is the zero-allocation JSON object reader shared by the
// MySQL Enterprise and Percona audit parsers.
package jsonscan

import (
	"unicode/utf16"
	"unicode/utf8"

	"github.com/dbsec/dbsec/pkg/parse"
)

// Visitor receives the scalar members of a JSON object: parent is the key of
// the enclosing object (nil at the top level), str tells a string (decoded)
// from a literal (number, true, false, null).
type Visitor interface {
	Field(parent, key, val []byte, str bool)
}

// Scanner is a small zero-allocation JSON object reader: strings without
// escapes are views of the record, escaped ones are decoded into scratch,
// which is sized to the record first so that earlier views stay valid.
// Objects are descended to maxDepth; deeper objects and arrays are skipped.
type Scanner struct {
	scratch []byte
}

const maxDepth = 2

func (s *Scanner) Reset(n int) {
	if cap(s.scratch) < n {
		s.scratch = make([]byte, 0, n+n/4)
	}
	s.scratch = s.scratch[:0]
}

func SkipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n') {
		i++
	}
	return i
}

// object reads the object at b[i] and returns the index after it.
func (s *Scanner) Object(b []byte, i int, parent []byte, depth int, v Visitor) (int, error) {
	if i >= len(b) || b[i] != '{' {
		return 0, parse.Errorf(parse.ReasonEncoding, i, "expected '{'")
	}
	i = SkipWS(b, i+1)
	if i < len(b) && b[i] == '}' {
		return i + 1, nil
	}
	for {
		i = SkipWS(b, i)
		if i >= len(b) || b[i] != '"' {
			return 0, parse.Errorf(parse.ReasonEncoding, i, "expected object key")
		}
		key, j, err := s.str(b, i)
		if err != nil {
			return 0, err
		}
		i = SkipWS(b, j)
		if i >= len(b) || b[i] != ':' {
			return 0, parse.Errorf(parse.ReasonEncoding, i, "expected ':'")
		}
		i = SkipWS(b, i+1)
		if i >= len(b) {
			return 0, parse.Errorf(parse.ReasonEncoding, i, "expected a value")
		}
		switch c := b[i]; {
		case c == '"':
			val, j, err := s.str(b, i)
			if err != nil {
				return 0, err
			}
			v.Field(parent, key, val, true)
			i = j
		case c == '{' && depth < maxDepth:
			j, err := s.Object(b, i, key, depth+1, v)
			if err != nil {
				return 0, err
			}
			i = j
		case c == '{' || c == '[':
			j, err := skipNested(b, i)
			if err != nil {
				return 0, err
			}
			i = j
		default:
			j := i
			for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ']' && b[j] != ' ' && b[j] != '\t' && b[j] != '\r' && b[j] != '\n' {
				j++
			}
			if !literal(b[i:j]) {
				return 0, parse.Errorf(parse.ReasonEncoding, i, "bad JSON value %q", b[i:j])
			}
			v.Field(parent, key, b[i:j], false)
			i = j
		}
		i = SkipWS(b, i)
		if i < len(b) && b[i] == ',' {
			i++
			continue
		}
		if i < len(b) && b[i] == '}' {
			return i + 1, nil
		}
		return 0, parse.Errorf(parse.ReasonEncoding, i, "expected ',' or '}'")
	}
}

func literal(b []byte) bool {
	switch string(b) {
	case "true", "false", "null":
		return true
	}
	if len(b) == 0 {
		return false
	}
	for k, c := range b {
		if !(c >= '0' && c <= '9' || c == '-' && k == 0 || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-') {
			return false
		}
	}
	return true
}

// skipNested skips an object or array at b[i].
func skipNested(b []byte, i int) (int, error) {
	depth := 0
	for i < len(b) {
		switch b[i] {
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth == 0 {
				return i + 1, nil
			}
		case '"':
			i++
			for i < len(b) && b[i] != '"' {
				if b[i] == '\\' {
					i++
				}
				i++
			}
		}
		i++
	}
	return 0, parse.Errorf(parse.ReasonEncoding, i, "unterminated object or array")
}

// str reads the string at b[i] (the opening quote).
func (s *Scanner) str(b []byte, i int) ([]byte, int, error) {
	start := i + 1
	j := start
	for j < len(b) && b[j] != '"' && b[j] != '\\' {
		j++
	}
	if j < len(b) && b[j] == '"' {
		return b[start:j], j + 1, nil
	}
	from := len(s.scratch)
	out := append(s.scratch, b[start:j]...)
	for j < len(b) {
		c := b[j]
		switch {
		case c == '"':
			s.scratch = out
			return out[from:], j + 1, nil
		case c == '\\':
			if j+1 >= len(b) {
				return nil, 0, parse.Errorf(parse.ReasonEncoding, j, "unterminated escape")
			}
			j++
			switch b[j] {
			case '"', '\\', '/':
				out = append(out, b[j])
			case 'n':
				out = append(out, '\n')
			case 't':
				out = append(out, '\t')
			case 'r':
				out = append(out, '\r')
			case 'b':
				out = append(out, '\b')
			case 'f':
				out = append(out, '\f')
			case 'u':
				r, ok := hex4(b, j+1)
				if !ok {
					return nil, 0, parse.Errorf(parse.ReasonEncoding, j, "bad \\u escape")
				}
				j += 4
				if utf16.IsSurrogate(r) {
					if r2, ok := hex4(b, j+3); ok && j+2 < len(b) && b[j+1] == '\\' && b[j+2] == 'u' {
						r = utf16.DecodeRune(r, r2)
						j += 6
					} else {
						r = utf8.RuneError
					}
				}
				out = utf8.AppendRune(out, r)
			default:
				return nil, 0, parse.Errorf(parse.ReasonEncoding, j, "bad escape \\%c", b[j])
			}
			j++
		default:
			out = append(out, c)
			j++
		}
	}
	return nil, 0, parse.Errorf(parse.ReasonEncoding, j, "unterminated string")
}

func hex4(b []byte, i int) (rune, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}
