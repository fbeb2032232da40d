package postgrescsv

import (
	"bytes"

	"github.com/dbsec/dbsec/pkg/parse"
	"github.com/dbsec/dbsec/pkg/parse/postgres"
)

// Assembler joins the physical lines of a csvlog record: a record is
// complete when its double quotes balance (an even count; "" counts twice, so
// the parity is exactly "inside a quoted field"), and is then returned at
// once. A record whose quotes never balance is ended by a line that starts
// like a new csvlog record ("YYYY-MM-DD HH:MM:SS[.mmm] ZONE,"; PostgreSQL's
// quoted fields practically never hold a newline followed by such text) or
// when it exceeds MaxRecord (it is cut at MaxRecord+1 bytes), so that one
// torn line (a crash, a copytruncate rotation) does not swallow the file.
// After a torn record the line that ended it is held until the next line or
// Flush, because Add returns one record at a time. Blank lines outside a
// record are dropped.
type Assembler struct {
	cur, out []byte
	start    parse.Pos
	pending  bool // cur holds a record
	complete bool // … whose quotes balance (held after a torn record)
	odd      bool // cur has an odd number of '"'
}

// NewAssembler returns an assembler.
func NewAssembler() *Assembler { return &Assembler{} }

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
		if looksLikeRecordStart(line) {
			rec, start, ok := a.Flush()
			a.begin(line, pos)
			a.complete = !a.odd
			return rec, start, ok
		}
		if len(a.cur) <= MaxRecord {
			a.cur = append(a.cur, '\n')
			a.appendBounded(line)
		}
		if bytes.Count(line, []byte{'"'})%2 == 1 {
			a.odd = !a.odd
		}
		if !a.odd || len(a.cur) > MaxRecord {
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
	a.start = pos
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
	return a.out, a.start, true
}

func (a *Assembler) appendBounded(line []byte) {
	if room := MaxRecord + 1 - len(a.cur); room < len(line) {
		if room > 0 {
			a.cur = append(a.cur, line[:room]...)
		}
		return
	}
	a.cur = append(a.cur, line...)
}

// looksLikeRecordStart reports whether line starts with a csvlog log_time
// followed by a comma.
func looksLikeRecordStart(line []byte) bool {
	i := bytes.IndexByte(line, ',')
	if i < 19 || i > 40 {
		return false
	}
	_, ok := postgres.ParseTime(line[:i], nil)
	return ok
}

var _ parse.Assembler = (*Assembler)(nil)
