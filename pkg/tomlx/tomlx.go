// Package tomlx decodes TOML files strictly and reports every problem as
// file:line:col: message with one error type. The exporter's
// configuration, the detection rules and the drift rule packs all load
// through it, so a problem in any of them reads the same way.
//
// Strict means: syntax errors carry the parser's position, every key that
// the target struct does not declare is an error at that key ("unknown key
// …"), and the caller's semantic checks (Doc.Errorf) are positioned at the
// key or value they are about.
package tomlx

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/BurntSushi/toml"
)

// Error is one problem in a file. Line and Col are 1-based; an Error with
// no line is about the file as a whole. Err, when set, is a sentinel the
// error wraps (for errors.Is).
type Error struct {
	File      string
	Line, Col int
	Msg       string
	Err       error
}

func (e *Error) Error() string {
	switch {
	case e.Line > 0 && e.Col > 0:
		return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Col, e.Msg)
	case e.Line > 0:
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

// Unwrap returns the sentinel.
func (e *Error) Unwrap() error { return e.Err }

// Errors is every problem found; Error prints one per line.
type Errors []*Error

func (es Errors) Error() string {
	s := make([]string, len(es))
	for i, e := range es {
		s[i] = e.Error()
	}
	return strings.Join(s, "\n")
}

// Unwrap returns the errors, for errors.Is and errors.As.
func (es Errors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// Sort orders the errors by file, line and column (stable).
func (es Errors) Sort() {
	slices.SortStableFunc(es, func(a, b *Error) int {
		switch {
		case a.File != b.File:
			return strings.Compare(a.File, b.File)
		case a.Line != b.Line:
			return a.Line - b.Line
		}
		return a.Col - b.Col
	})
}

// Doc is a decoded file: its metadata (which keys were defined), the
// positions of its keys, and the problems found so far.
type Doc struct {
	File string
	Meta toml.MetaData
	Pos  *Positions
	Errs Errors
	// Sentinel is wrapped by every error of the Doc.
	Sentinel error
}

// Decode decodes src strictly into v (a pointer to a struct with toml
// tags, or a map). A syntax or type error returns a nil Doc and the error;
// otherwise the Doc holds one "unknown key" error per key that v does not
// declare, and the caller adds its own checks with Errorf and returns
// Doc.Err().
func Decode(file string, src []byte, v any, sentinel error) (*Doc, error) {
	md, err := toml.Decode(string(src), v)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, Errors{{File: file, Line: pe.Position.Line, Col: max(pe.Position.Col, 1), Msg: pe.Message, Err: sentinel}}
		}
		// Type errors carry no position.
		return nil, Errors{{File: file, Line: 1, Col: 1, Msg: err.Error(), Err: sentinel}}
	}
	d := &Doc{File: file, Meta: md, Pos: Scan(string(src)), Sentinel: sentinel}
	for _, k := range md.Undecoded() {
		d.Errorf(k.String(), "unknown key %q", k.String())
	}
	return d, nil
}

// Errorf records a problem at the key path (dotted; see Positions).
func (d *Doc) Errorf(path, format string, a ...any) {
	l, c := d.Pos.Key(path)
	d.Errs = append(d.Errs, &Error{File: d.File, Line: l, Col: c, Msg: fmt.Sprintf(format, a...), Err: d.Sentinel})
}

// ValueErrorf records a problem at the value of the key path.
func (d *Doc) ValueErrorf(path, format string, a ...any) {
	l, c := d.Pos.Value(path)
	d.Errs = append(d.Errs, &Error{File: d.File, Line: l, Col: c, Msg: fmt.Sprintf(format, a...), Err: d.Sentinel})
}

// Err returns the problems in file order, or nil.
func (d *Doc) Err() error {
	if len(d.Errs) == 0 {
		return nil
	}
	d.Errs.Sort()
	return d.Errs
}
