// Package csvrec joins the physical lines of CSV records whose quoted
// fields may hold newlines (PostgreSQL csvlog, taosAdapter's SQL audit
// file) into one record each.
package csvrec

import (
	"bytes"

	"github.com/dbsec/dbsec/pkg/parse"
)

// Assembler joins the physical lines of a CSV record: a record is complete
// when its double quotes balance (an even count; "" counts twice, so the
// parity is exactly "inside a quoted field"), and is then returned at once.
// A record whose quotes never balance is ended by a line for which Start
// reports true (a line that begins like a new record of the format; quoted
// fields practically never hold a newline followed by such text) or when it
// exceeds Max (it is cut at Max+1 bytes), so that one torn line (a crash, a
// copytruncate rotation) does not swallow the file. After a torn record the
// line that ended it is held until the next line or Flush, because Add
// returns one record at a time. Blank lines outside a record are dropped.
type Assembler struct {
	start func(line []byte) bool
	max   int

	cur, out []byte
	pos      parse.Pos
	pending  bool // cur holds a record
	complete bool // … whose quotes balance (held after a torn record)
	odd      bool // cur has an odd number of '"'
}

// New returns an assembler. start reports whether a line begins a new
// record; max bounds the size of one record.
func New(start func(line []byte) bool, max int) *Assembler {
	return &Assembler{start: start, max: max}
}

// Add implements parse.Assembler.
func (a *Assembler) Add(line []byte, pos parse.Pos) ([]byte, parse.Pos, bool) {
	switch {
	case a.pending && a.complete:
		rec, start, ok := a.Flush()
		if len(bytes.TrimSpace(line)) > 0 {
			a.begin(line, pos)
			a.complete = !a.odd
		}
		return rec, start, ok
	case a.pending:
		if a.start(line) {
			rec, start, ok := a.Flush()
			a.begin(line, pos)
			a.complete = !a.odd
			return rec, start, ok
		}
		if len(a.cur) <= a.max {
			a.cur = append(a.cur, '\n')
			a.appendBounded(line)
		}
		if bytes.Count(line, []byte{'"'})%2 == 1 {
			a.odd = !a.odd
		}
		if !a.odd || len(a.cur) > a.max {
			return a.Flush()
		}
		return nil, parse.Pos{}, false
	}
	if len(bytes.TrimSpace(line)) == 0 {
		return nil, parse.Pos{}, false
	}
	a.begin(line, pos)
	if !a.odd {
		return a.Flush()
	}
	return nil, parse.Pos{}, false
}

func (a *Assembler) begin(line []byte, pos parse.Pos) {
	a.cur = a.cur[:0]
	a.appendBounded(line)
	a.pos = pos
	a.pending, a.complete = true, false
	a.odd = bytes.Count(line, []byte{'"'})%2 == 1
}

// Flush implements parse.Assembler.
func (a *Assembler) Flush() ([]byte, parse.Pos, bool) {
	if !a.pending {
		return nil, parse.Pos{}, false
	}
	a.cur, a.out = a.out, a.cur
	a.cur = a.cur[:0]
	a.pending, a.complete, a.odd = false, false, false
	return a.out, a.pos, true
}

func (a *Assembler) appendBounded(line []byte) {
	if room := a.max + 1 - len(a.cur); room < len(line) {
		if room > 0 {
			a.cur = append(a.cur, line[:room]...)
		}
		return
	}
	a.cur = append(a.cur, line...)
}

var _ parse.Assembler = (*Assembler)(nil)
