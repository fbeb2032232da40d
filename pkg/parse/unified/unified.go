// Package unified tokenizes PingCAP's "unified log format" (tikv/rfcs
// text/0018), used by tidb.log, the TiDB general log and both TiDB audit-log
// text formats:
//
//	[<time>] [<LEVEL>] [<caller>] [<message>] [key=value] [key=value] …
//
// A key, value or message that contains a byte <= 0x20 or one of \ " [ ] =
// is wrapped in double quotes with Go escapes, so every record is one
// physical line. The leading time is written verbatim (it contains spaces).
//
// The Tokenizer does not allocate: unquoted fields are sub-slices of the
// line, and quoted fields that contain escapes are decoded into a scratch
// buffer that is reused for the next line.
package unified

import (
	"bytes"
	"errors"
	"strconv"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/dbsec/dbsec/pkg/parse"
)

// Field is one bracketed entry. Positional entries (time, level, caller,
// message) have a nil Key.
type Field struct {
	Key   []byte
	Value []byte
	// Col is the 0-based offset of the opening '[' in the line.
	Col int
}

// Tokenizer walks the fields of one line.
type Tokenizer struct {
	line    []byte
	pos     int
	scratch []byte
}

// Reset starts tokenizing line. Fields returned for the previous line become
// invalid.
func (t *Tokenizer) Reset(line []byte) {
	t.line = line
	t.pos = 0
	t.scratch = t.scratch[:0]
}

// Rest returns the unconsumed part of the line.
func (t *Tokenizer) Rest() []byte { return t.line[t.pos:] }

// Next returns the next field. It returns ok=false at the end of the line, or
// a *parse.Error when the line is malformed.
func (t *Tokenizer) Next() (f Field, ok bool, err error) {
	line := t.line
	i := t.pos
	for i < len(line) && (line[i] == ' ' || line[i] == '\t') {
		i++
	}
	if i >= len(line) {
		t.pos = i
		return Field{}, false, nil
	}
	if line[i] != '[' {
		t.pos = len(line)
		return Field{}, false, parse.Errorf(parse.ReasonSyntax, i, "expected '[' but found %q", line[i])
	}
	f.Col = i
	i++
	// First token: a key or a positional value, quoted or not.
	tok, end, quoted, err := t.token(i, true)
	if err != nil {
		t.pos = len(line)
		return Field{}, false, err
	}
	i = end
	if i < len(line) && line[i] == '=' {
		f.Key = tok
		val, end, _, err := t.token(i+1, false)
		if err != nil {
			t.pos = len(line)
			return Field{}, false, err
		}
		f.Value = val
		i = end
	} else {
		f.Value = tok
		_ = quoted
	}
	if i >= len(line) || line[i] != ']' {
		t.pos = len(line)
		return Field{}, false, parse.Errorf(parse.ReasonSyntax, i, "unterminated field starting at column %d", f.Col+1)
	}
	t.pos = i + 1
	return f, true, nil
}

// token reads a possibly quoted token starting at i. An unquoted key stops at
// '=' or ']'; an unquoted value stops at ']' only (the leading time, and
// legacy values, may contain spaces). It returns the index just past the
// token.
func (t *Tokenizer) token(i int, isKey bool) (tok []byte, end int, quoted bool, err error) {
	line := t.line
	if i < len(line) && line[i] == '"' {
		start := i + 1
		escaped := false
		j := start
		for {
			k := bytes.IndexByte(line[j:], '"')
			if k < 0 {
				return nil, 0, true, parse.Errorf(parse.ReasonField, i, "unterminated quoted string")
			}
			j += k
			// The quote is escaped when an odd number of backslashes
			// precede it.
			n := 0
			for b := j - 1; b >= start && line[b] == '\\'; b-- {
				n++
			}
			if !escaped && bytes.IndexByte(line[start:j], '\\') >= 0 {
				escaped = true
			}
			if n%2 == 0 {
				break
			}
			j++
		}
		raw := line[start:j]
		if !escaped {
			return raw, j + 1, true, nil
		}
		dec, err := t.unquote(raw)
		if err != nil {
			return nil, 0, true, &parse.Error{Reason: parse.ReasonField, Col: i + 1, Msg: "bad escape in quoted string", Err: err}
		}
		return dec, j + 1, true, nil
	}
	rest := line[i:]
	stop := bytes.IndexByte(rest, ']')
	if stop < 0 {
		stop = len(rest)
	}
	if isKey {
		if e := bytes.IndexByte(rest[:stop], '='); e >= 0 {
			stop = e
		}
	}
	return rest[:stop], i + stop, false, nil
}

var errBadEscape = errors.New("invalid escape sequence")

// unquote decodes Go escapes of raw (the text between the quotes) into the
// scratch buffer.
func (t *Tokenizer) unquote(raw []byte) ([]byte, error) {
	start := len(t.scratch)
	s := unsafe.String(unsafe.SliceData(raw), len(raw))
	for len(s) > 0 {
		if s[0] != '\\' {
			// Copy the run up to the next backslash.
			k := 0
			for k < len(s) && s[k] != '\\' {
				k++
			}
			t.scratch = append(t.scratch, s[:k]...)
			s = s[k:]
			continue
		}
		r, multibyte, tail, err := strconv.UnquoteChar(s, '"')
		if err != nil {
			return nil, errBadEscape
		}
		if !multibyte {
			// \xHH, octal and single-character escapes are one byte.
			t.scratch = append(t.scratch, byte(r))
		} else {
			t.scratch = utf8.AppendRune(t.scratch, r)
		}
		s = tail
	}
	return t.scratch[start:len(t.scratch):len(t.scratch)], nil
}

// ParseTime parses the unified-log timestamp "2006/01/02 15:04:05.000 -07:00"
// (fraction optional) without allocating. The result is in UTC.
func ParseTime(b []byte) (time.Time, bool) {
	y, mo, d, h, mi, s, ns, end, ok := parse.Clock(b)
	if !ok || end >= len(b) || b[end] != ' ' {
		return time.Time{}, false
	}
	off, ok := parse.Offset(b[end+1:])
	if !ok {
		return time.Time{}, false
	}
	return parse.DateUTC(y, mo, d, h, mi, s, ns, off), true
}
