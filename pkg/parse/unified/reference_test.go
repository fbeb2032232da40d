package unified

// The tokenizer as it was before the word-at-a-time scan (session of issue
// 16), kept as the reference of the differential fuzz test.

import (
	"testing"

	"bytes"
	"errors"
	"strconv"
	"unicode/utf8"
	"unsafe"

	"github.com/dbsec/dbsec/pkg/parse"
)

// refTokenizer walks the fields of one line.
type refTokenizer struct {
	line    []byte
	pos     int
	scratch []byte
}

// Reset starts tokenizing line. Fields returned for the previous line become
// invalid.
func (t *refTokenizer) Reset(line []byte) {
	t.line = line
	t.pos = 0
	t.scratch = t.scratch[:0]
}

// Rest returns the unconsumed part of the line.
func (t *refTokenizer) Rest() []byte { return t.line[t.pos:] }

// Next returns the next field. It returns ok=false at the end of the line, or
// a *parse.Error when the line is malformed.
func (t *refTokenizer) Next() (f Field, ok bool, err error) {
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
func (t *refTokenizer) token(i int, isKey bool) (tok []byte, end int, quoted bool, err error) {
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

var errRefBadEscape = errors.New("invalid escape sequence")

// unquote decodes Go escapes of raw (the text between the quotes) into the
// scratch buffer.
func (t *refTokenizer) unquote(raw []byte) ([]byte, error) {
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
			return nil, errRefBadEscape
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

// FuzzTokenizerReference requires the tokenizer to return exactly what the
// reference returns: the same fields, the same errors at the same columns.
func FuzzTokenizerReference(f *testing.F) {
	for _, s := range referenceSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		compareReference(t, b)
		compareScan(t, b)
	})
}

var referenceSeeds = []string{
	`[2025/09/06 17:03:53.720 +08:00] [INFO] [logger.go:77] ["open new session"] [SQL_TEXT="select \"[=]\" \n\tx\\y"] [empty=] ["remote addr"=127.0.0.1:64670] [a=b=c] [u=\x41]`,
	`[2025/09/06 17:03:53.720 +08:00] [INFO] [k="v \"q\""] [x=]`,
	`["a b"="c]d"]`,
	`[a="unterminated]`, `[a=b`, `[a] x`, `[a="\q"]`, `[a="\"]`, `[a="\\"]`, `[a="x\`, `[a="x\\`, `["k\"=v"=1]`,
	`[a=""] [b="\u00e9\x41\101"]	[c=d]  `, `[`, `[]`, `[=]`, `[""=""]`, `["]`, `[a="0123456789abcdef\"0123456789abcdef"]`,
	`[2026/11/30 09:00:00.001 +08:00] [INFO] [logger.go:77] [ID=1] [TIMESTAMP=2026/11/30 09:00:00.001 +08:00] [EVENT_CLASS=GENERAL] [EVENT_SUBCLASS=] [STATUS_CODE=0] [COST_TIME=2246.132] [HOST=10.0.1.5] [CLIENT_IP=10.0.9.20] [USER=app] [DATABASES="[shop]"] [TABLES="[shop.orders]"] [SQL_TEXT="SELECT id, customer, total FROM orders WHERE id = 42"] [ROWS=18] [CONNECTION_ID=1008] [CLIENT_PORT=52000] [PID=3141] [COMMAND=Query] [SQL_STATEMENTS=Select]`,
}

func compareReference(t *testing.T, b []byte) {
	t.Helper()
	var tok Tokenizer
	var ref refTokenizer
	tok.Reset(b)
	ref.Reset(b)
	done := false
	for n := 0; n <= len(b)+1; n++ {
		f, ok, err := tok.Next()
		rf, rok, rerr := ref.Next()
		if ok != rok || (err == nil) != (rerr == nil) || (err != nil && err.Error() != rerr.Error()) {
			t.Fatalf("%q field %d: got ok=%v err=%v, reference ok=%v err=%v", b, n, ok, err, rok, rerr)
		}
		if (f.Key == nil) != (rf.Key == nil) || string(f.Key) != string(rf.Key) || string(f.Value) != string(rf.Value) || f.Col != rf.Col {
			t.Fatalf("%q field %d: got %+v, reference %+v", b, n, f, rf)
		}
		if string(tok.Rest()) != string(ref.Rest()) {
			t.Fatalf("%q field %d: rest %q, reference %q", b, n, tok.Rest(), ref.Rest())
		}
		if !ok {
			if done {
				return
			}
			done = true // once more: the call after the end or an error
		}
	}
}

// compareScan requires Scan, Field and Err to walk the fields the reference
// returns.
func compareScan(t *testing.T, b []byte) {
	t.Helper()
	var tok Tokenizer
	var ref refTokenizer
	tok.Reset(b)
	ref.Reset(b)
	for n := 0; ; n++ {
		ok := tok.Scan()
		rf, rok, rerr := ref.Next()
		if ok != rok {
			t.Fatalf("%q field %d: Scan %v, reference %v", b, n, ok, rok)
		}
		if !ok {
			err := tok.Err()
			if (err == nil) != (rerr == nil) || (err != nil && err.Error() != rerr.Error()) {
				t.Fatalf("%q field %d: Err %v, reference %v", b, n, err, rerr)
			}
			if tok.Scan() {
				t.Fatalf("%q: Scan after the end returned true", b)
			}
			return
		}
		f := tok.Field()
		if (f.Key == nil) != (rf.Key == nil) || string(f.Key) != string(rf.Key) || string(f.Value) != string(rf.Value) || f.Col != rf.Col {
			t.Fatalf("%q field %d: got %+v, reference %+v", b, n, *f, rf)
		}
	}
}

// TestTokenizerReference runs the seeds and every prefix and one-byte
// mutation of them against the reference, so the comparison covers the
// word-at-a-time scan's chunk boundaries in the normal test run.
func TestTokenizerReference(t *testing.T) {
	special := []byte{'"', '\\', '[', ']', '=', ' ', 0, 0x80}
	for _, s := range referenceSeeds {
		b := []byte(s)
		for i := 0; i <= len(b); i++ {
			compareReference(t, b[:i])
			compareReference(t, b[i:])
			compareScan(t, b[:i])
		}
		for i := range b {
			for _, c := range special {
				m := append([]byte(nil), b...)
				m[i] = c
				compareReference(t, m)
				compareScan(t, m)
			}
		}
	}
}
