package tidbslow

import (
	"bytes"

	"github.com/dbsec/dbsec/pkg/parse"
)

// Assembler groups slow-log lines into records: a record starts at a
// "# Time:" line and ends with the first SQL line (a line after the header
// block) that ends in ';', except a first SQL line "use <db>;", which TiDB
// writes before the statement. A "# Time:" line also ends a pending record that
// never saw its SQL. Lines outside any record are passed on one by one (the
// parser reports them) unless blank. A record longer than MaxRecord is cut
// at MaxRecord+1 bytes, and the rest of it is dropped.
type Assembler struct {
	cur, out []byte
	start    parse.Pos
	pending  bool
	inSQL    bool
}

// NewAssembler returns an assembler.
func NewAssembler() *Assembler { return &Assembler{} }

// Add implements parse.Assembler.
func (a *Assembler) Add(line []byte, pos parse.Pos) ([]byte, parse.Pos, bool) {
	if bytes.HasPrefix(line, timePrefix) {
		rec, start, ok := a.Flush()
		a.begin(line, pos)
		return rec, start, ok
	}
	if !a.pending {
		if len(bytes.TrimSpace(line)) == 0 {
			return nil, parse.Pos{}, false
		}
		a.out = append(a.out[:0], line...)
		return a.out, pos, true
	}
	a.appendLine(line)
	firstSQL := false
	if !a.inSQL && !bytes.HasPrefix(line, []byte("# ")) {
		a.inSQL, firstSQL = true, true
	}
	if a.inSQL && bytes.HasSuffix(bytes.TrimRight(line, " \t\r"), []byte(";")) {
		if firstSQL && isUse(line) {
			// TiDB writes "use <db>;" before the statement when a database
			// is selected; the statement follows.
			return nil, parse.Pos{}, false
		}
		return a.Flush()
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
	a.pending, a.inSQL = false, false
	return a.out, a.start, true
}

func (a *Assembler) begin(line []byte, pos parse.Pos) {
	a.cur = a.cur[:0]
	a.pending, a.inSQL = true, false
	a.start = pos
	a.appendBounded(line)
}

func (a *Assembler) appendLine(line []byte) {
	if len(a.cur) > MaxRecord {
		return
	}
	a.cur = append(a.cur, '\n')
	a.appendBounded(line)
}

// appendBounded appends line but keeps at most MaxRecord+1 bytes.
func (a *Assembler) appendBounded(line []byte) {
	if room := MaxRecord + 1 - len(a.cur); room < len(line) {
		if room > 0 {
			a.cur = append(a.cur, line[:room]...)
		}
		return
	}
	a.cur = append(a.cur, line...)
}

// isUse reports whether line is "use <db>;".
func isUse(line []byte) bool {
	l := bytes.TrimRight(line, " \t\r")
	return len(l) > 5 && hasPrefixFold(l, "use ") && bytes.IndexByte(l[4:len(l)-1], ' ') < 0
}

var _ parse.Assembler = (*Assembler)(nil)
