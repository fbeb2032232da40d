package redashapp

import "github.com/dbsec/dbsec/pkg/parse"

// Assembler joins a record's continuation lines (traceback frames, multi-line
// messages): a record starts at a line beginning "[YYYY-MM-DD " and takes
// every following line that does not. Lines before the first record are
// passed on one by one (the parser reports them). A record is cut at
// MaxRecord+1 bytes.
type Assembler struct {
	cur, out []byte
	start    parse.Pos
	pending  bool
}

// NewAssembler returns an assembler.
func NewAssembler() *Assembler { return &Assembler{} }

// Add implements parse.Assembler.
func (a *Assembler) Add(line []byte, pos parse.Pos) ([]byte, parse.Pos, bool) {
	if isStart(line) {
		rec, start, ok := a.Flush()
		a.cur = appendBounded(a.cur[:0], line)
		a.start, a.pending = pos, true
		return rec, start, ok
	}
	if !a.pending {
		if len(line) == 0 {
			return nil, parse.Pos{}, false
		}
		a.out = append(a.out[:0], line...)
		return a.out, pos, true
	}
	if len(a.cur) <= MaxRecord {
		a.cur = appendBounded(append(a.cur, '\n'), line)
	}
	return nil, parse.Pos{}, false
}

// Flush implements parse.Assembler.
func (a *Assembler) Flush() ([]byte, parse.Pos, bool) {
	if !a.pending {
		return nil, parse.Pos{}, false
	}
	a.cur, a.out = a.out, a.cur
	a.cur = a.cur[:0]
	a.pending = false
	return a.out, a.start, true
}

func appendBounded(dst, line []byte) []byte {
	if room := MaxRecord + 1 - len(dst); room < len(line) {
		if room > 0 {
			dst = append(dst, line[:room]...)
		}
		return dst
	}
	return append(dst, line...)
}

var _ parse.Assembler = (*Assembler)(nil)
