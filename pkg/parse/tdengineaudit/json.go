package tdengineaudit

import (
	"unicode/utf16"
	"unicode/utf8"

	"github.com/dbsec/dbsec/pkg/parse"
)

// A small JSON scanner (the tidbaudit model): string values without escapes
// are views of the input, escaped ones are decoded into the parser's scratch
// buffer, nested values are skipped and kept as their raw text. It does not
// allocate once the scratch buffer has grown.

// record holds the fields of one audit record, as views.
type record struct {
	timestamp, clusterID, user, operation, db, resource, clientAdd, details []byte
	affectedRows, duration                                                  []byte
	tsIsNum                                                                 bool
	hasTS                                                                   bool
	// records is the raw text of a "records" array (a batch body).
	records    []byte
	hasRecords bool
}

func (r *record) set(key, val []byte, isStr bool) {
	switch string(key) {
	case "timestamp":
		r.timestamp, r.tsIsNum, r.hasTS = val, !isStr, val != nil
	case "cluster_id":
		r.clusterID = val
	case "user":
		r.user = val
	case "operation":
		r.operation = val
	case "db":
		r.db = val
	case "resource":
		r.resource = val
	case "client_add":
		r.clientAdd = val
	case "details":
		r.details = val
	case "affected_rows":
		r.affectedRows = val
	case "duration":
		r.duration = val
	case "records":
		r.records, r.hasRecords = val, true
	}
}

// object scans the JSON object starting at b[i] (which must be '{') into r
// and returns the index after it.
func (p *Parser) object(b []byte, i int, r *record) (int, error) {
	if i >= len(b) || b[i] != '{' {
		return i, parse.Errorf(parse.ReasonSyntax, i, "expected '{'")
	}
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == '}' {
		return i + 1, nil
	}
	for {
		i = skipWS(b, i)
		if i >= len(b) || b[i] != '"' {
			return i, parse.Errorf(parse.ReasonEncoding, i, "expected object key")
		}
		key, j, err := p.str(b, i)
		if err != nil {
			return j, err
		}
		i = skipWS(b, j)
		if i >= len(b) || b[i] != ':' {
			return i, parse.Errorf(parse.ReasonEncoding, i, "expected ':'")
		}
		i = skipWS(b, i+1)
		isStr := i < len(b) && b[i] == '"'
		val, j, err := p.value(b, i)
		if err != nil {
			return j, err
		}
		r.set(key, val, isStr)
		i = skipWS(b, j)
		if i < len(b) && b[i] == ',' {
			i++
			continue
		}
		if i < len(b) && b[i] == '}' {
			return i + 1, nil
		}
		return i, parse.Errorf(parse.ReasonEncoding, i, "expected ',' or '}'")
	}
}

func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n') {
		i++
	}
	return i
}

// value returns a scalar's text (strings unquoted; null as nil) or the raw
// text of an array or object, and the index after it.
func (p *Parser) value(b []byte, i int) ([]byte, int, error) {
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
		for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ']' && b[j] != ' ' && b[j] != '\t' && b[j] != '\r' && b[j] != '\n' {
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
func (p *Parser) str(b []byte, i int) ([]byte, int, error) {
	j := i + 1
	for j < len(b) && b[j] != '"' && b[j] != '\\' {
		if b[j] < 0x20 {
			return nil, j, parse.Errorf(parse.ReasonEncoding, j, "control character in string")
		}
		j++
	}
	if j < len(b) && b[j] == '"' {
		return b[i+1 : j], j + 1, nil // no escapes: a view of the input
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
			r, n, ok := hex4(b, j+2)
			if !ok {
				return nil, j, parse.Errorf(parse.ReasonEncoding, j, "invalid \\u escape")
			}
			j += n
			if utf16.IsSurrogate(r) {
				if r2, n2, ok := lowSurrogate(b, j+2); ok {
					r = utf16.DecodeRune(r, r2)
					j += n2
				} else {
					r = utf8.RuneError
				}
			}
			p.scratch = utf8.AppendRune(p.scratch, r)
		default:
			return nil, j, parse.Errorf(parse.ReasonEncoding, j, "invalid escape \\%c", e)
		}
		j += 2
	}
	return nil, j, parse.Errorf(parse.ReasonEncoding, i, "unterminated string")
}

// hex4 reads the 4 hex digits at b[i:], returning the rune and 4.
func hex4(b []byte, i int) (rune, int, bool) {
	if i+4 > len(b) {
		return 0, 0, false
	}
	var r rune
	for _, c := range b[i : i+4] {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			r |= rune(c - 'A' + 10)
		default:
			return 0, 0, false
		}
	}
	return r, 4, true
}

// lowSurrogate reads "\uXXXX" at b[i:] when it is a low surrogate; it returns
// the number of bytes consumed (6).
func lowSurrogate(b []byte, i int) (rune, int, bool) {
	if i+6 > len(b) || b[i] != '\\' || b[i+1] != 'u' {
		return 0, 0, false
	}
	r, _, ok := hex4(b, i+2)
	if !ok || r < 0xDC00 || r > 0xDFFF {
		return 0, 0, false
	}
	return r, 6, true
}
