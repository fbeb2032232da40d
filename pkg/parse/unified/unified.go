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
	"encoding/binary"
	"errors"
	"math/bits"
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
	// f is the field of the last successful Scan, err its error.
	f   Field
	err error
}

// Reset starts tokenizing line. Fields returned for the previous line become
// invalid.
func (t *Tokenizer) Reset(line []byte) {
	t.line = line
	t.pos = 0
	t.scratch = t.scratch[:0]
	t.f = Field{}
	t.err = nil
}

// Rest returns the unconsumed part of the line.
func (t *Tokenizer) Rest() []byte { return t.line[t.pos:] }

// Next returns the next field. It returns ok=false at the end of the line, or
// a *parse.Error when the line is malformed.
func (t *Tokenizer) Next() (f Field, ok bool, err error) {
	if !t.Scan() {
		err := t.err
		t.err = nil // as before Scan: the calls after an error return ok=false, nil
		return Field{}, false, err
	}
	return t.f, true, nil
}

// Scan advances to the next field, which Field then returns. It returns
// false at the end of the line or when the line is malformed; Err tells them
// apart. Scan is Next without copying the field out, for the per-line loops
// of the parsers.
func (t *Tokenizer) Scan() bool {
	line := t.line
	i := t.pos
	for i < len(line) && (line[i] == ' ' || line[i] == '\t') {
		i++
	}
	if i >= len(line) {
		t.pos = i
		return false
	}
	if line[i] != '[' {
		return t.fail(parse.Errorf(parse.ReasonSyntax, i, "expected '[' but found %q", line[i]))
	}
	f := &t.f
	f.Col = i
	i++
	// First token: a key or a positional value, quoted or not. An unquoted
	// key stops at '=' or ']'.
	var tok []byte
	if i < len(line) && line[i] == '"' {
		var err error
		if tok, i, err = t.quoted(i); err != nil {
			return t.fail(err)
		}
	} else {
		// indexEither(line[i:], '=', ']'), written out (a call per field
		// costs 8 % of the TiDB plugin format).
		j := i
		for {
			if j+8 > len(line) {
				for j < len(line) && line[j] != '=' && line[j] != ']' {
					j++
				}
				break
			}
			w := binary.LittleEndian.Uint64(line[j:])
			a, c := w^(lsb*'='), w^(lsb*']')
			if m := ((a-lsb)&^a | (c-lsb)&^c) & msb; m != 0 {
				j += bits.TrailingZeros64(m) >> 3
				break
			}
			j += 8
		}
		tok = line[i:j]
		i = j
	}
	if i < len(line) && line[i] == '=' {
		f.Key = tok
		i++
		// The value: quoted, or up to the next ']' (the leading time, and
		// legacy values, may contain spaces).
		if i < len(line) && line[i] == '"' {
			var err error
			if f.Value, i, err = t.quoted(i); err != nil {
				return t.fail(err)
			}
		} else {
			// The first ']', eight bytes at a time as in indexEither.
			j := i
			for {
				if j+8 > len(line) {
					for j < len(line) && line[j] != ']' {
						j++
					}
					break
				}
				a := binary.LittleEndian.Uint64(line[j:]) ^ (lsb * ']')
				if m := (a - lsb) &^ a & msb; m != 0 {
					j += bits.TrailingZeros64(m) >> 3
					break
				}
				j += 8
			}
			f.Value = line[i:j]
			i = j
		}
	} else {
		f.Key, f.Value = nil, tok
	}
	if i >= len(line) || line[i] != ']' {
		return t.fail(parse.Errorf(parse.ReasonSyntax, i, "unterminated field starting at column %d", f.Col+1))
	}
	t.pos = i + 1
	return true
}

// Field returns the field of the last Scan that returned true. It is valid
// until the next Scan or Reset.
func (t *Tokenizer) Field() *Field { return &t.f }

// Err returns the error that ended the Scan loop, or nil at the end of the
// line.
func (t *Tokenizer) Err() error { return t.err }

func (t *Tokenizer) fail(err error) bool {
	t.pos = len(t.line)
	t.f = Field{}
	t.err = err
	return false
}

// quoted reads the quoted token whose opening quote is at i and returns it
// (decoded when it has escapes) and the index just past the closing quote.
// A quote preceded by an odd number of backslashes is escaped.
func (t *Tokenizer) quoted(i int) (tok []byte, end int, err error) {
	line := t.line
	start := i + 1
	j := start
	escaped := false
	for {
		k := indexEither(line[j:], '"', '\\')
		j += k
		if j >= len(line) {
			return nil, 0, parse.Errorf(parse.ReasonField, i, "unterminated quoted string")
		}
		if line[j] == '"' {
			break
		}
		// A backslash escapes the byte after it.
		escaped = true
		j += 2
		if j > len(line) {
			return nil, 0, parse.Errorf(parse.ReasonField, i, "unterminated quoted string")
		}
	}
	raw := line[start:j]
	if !escaped {
		return raw, j + 1, nil
	}
	dec, err := t.unquote(raw)
	if err != nil {
		return nil, 0, &parse.Error{Reason: parse.ReasonField, Col: i + 1, Msg: "bad escape in quoted string", Err: err}
	}
	return dec, j + 1, nil
}

const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// indexEither returns the index of the first byte of b that is x or y, or
// len(b). It reads eight bytes at a time: the fields of a unified-log line
// are short, where bytes.IndexByte's setup costs more than the scan.
func indexEither(b []byte, x, y byte) int {
	vx, vy := lsb*uint64(x), lsb*uint64(y)
	i := 0
	for ; i+8 <= len(b); i += 8 {
		w := binary.LittleEndian.Uint64(b[i:])
		a, c := w^vx, w^vy
		// The lowest set bit of (v-lsb)&^v&msb marks the first zero byte
		// of v exactly (borrows only disturb the bytes above it).
		if m := ((a-lsb)&^a | (c-lsb)&^c) & msb; m != 0 {
			return i + bits.TrailingZeros64(m)>>3
		}
	}
	for ; i < len(b); i++ {
		if b[i] == x || b[i] == y {
			return i
		}
	}
	return len(b)
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
