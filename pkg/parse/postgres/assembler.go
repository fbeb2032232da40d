package postgres

import (
	"bytes"

	"github.com/dbsec/dbsec/pkg/parse"
)

// Assembler joins the physical lines of one report: a primary line, its TAB
// continuation lines, and the secondary lines (DETAIL, HINT, CONTEXT, QUERY,
// LOCATION, STATEMENT) that PostgreSQL writes right after it, with their own
// continuations. The next primary line (or Flush) completes the report. A
// blank line completes the pending report and is dropped. A report longer
// than MaxRecord is cut at MaxRecord+1 bytes.
type Assembler struct {
	cur, out []byte
	start    parse.Pos
	pending  bool
}

// NewAssembler returns an assembler; it does not need the log_line_prefix.
func NewAssembler() *Assembler { return &Assembler{} }

// Add implements parse.Assembler.
func (a *Assembler) Add(line []byte, pos parse.Pos) ([]byte, parse.Pos, bool) {
	if a.pending && len(line) > 0 && (line[0] == '\t' || isSecondary(line)) {
		if len(a.cur) <= MaxRecord {
			a.cur = append(a.cur, '\n')
			a.appendBounded(line)
		}
		return nil, parse.Pos{}, false
	}
	rec, start, ok := a.Flush()
	if len(bytes.TrimSpace(line)) > 0 {
		a.pending = true
		a.start = pos
		a.cur = a.cur[:0]
		a.appendBounded(line)
	}
	return rec, start, ok
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

func (a *Assembler) appendBounded(line []byte) {
	if room := MaxRecord + 1 - len(a.cur); room < len(line) {
		if room > 0 {
			a.cur = append(a.cur, line[:room]...)
		}
		return
	}
	a.cur = append(a.cur, line...)
}

// isSecondary reports whether the first severity-like tag of line is a
// secondary one (DETAIL, HINT, …).
func isSecondary(line []byte) bool {
	j := bytes.Index(line, []byte(":  "))
	if j <= 0 {
		return false
	}
	w := j
	for w > 0 && line[w-1] >= 'A' && line[w-1] <= 'Z' {
		w--
	}
	if w > 0 {
		if c := line[w-1]; c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' {
			return false
		}
	}
	return severityName(line[w:j]).secondary()
}

var _ parse.Assembler = (*Assembler)(nil)
