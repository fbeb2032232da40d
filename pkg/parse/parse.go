// Package parse defines what a log format parser is: the Parser and Assembler
// interfaces, the Format descriptor that names a parser unit, the positioned
// *Error with its closed set of reasons, and small zero-copy helpers shared
// by the format packages under pkg/parse/.
//
// Parsers never import client_golang and never log: they return an event or
// an *Error, and the pipeline counts and reports.
package parse

import (
	"errors"
	"fmt"
	"time"
	"unsafe"

	"github.com/dbsec/dbsec/pkg/event"
)

// Parser turns one record into an event.
//
// Parse returns (true, nil) when ev now holds an event, (false, nil) when the
// record is well formed but carries nothing to count (for example an ordinary
// tidb.log line, or the second line of a failed login already counted),
// (false, *Skip) for a record of client-like activity it sets aside on
// purpose, and (false, err) with a *Error when the record is malformed.
//
// The string fields of ev may alias rec and the parser's scratch buffers, so
// ev is valid only until the next call (see event.Event). A Parser is not safe
// for concurrent use; the pipeline runs one per source.
type Parser interface {
	Parse(rec []byte, ev *event.Event) (bool, error)
}

// Pos is the position of a record in its file.
type Pos struct {
	Offset int64
	Line   int64
}

// Assembler groups the physical lines of multi-line formats into records.
//
// Add takes one line (without its newline) and its position. When the line
// completes a record, or starts a new one and so completes the previous, Add
// returns that record and the position of its first line. The returned slice
// is valid until the next call. Flush returns a pending record at EOF or after
// an idle timeout. An Assembler must bound the size of a pending record.
type Assembler interface {
	Add(line []byte, pos Pos) (rec []byte, start Pos, ok bool)
	Flush() (rec []byte, start Pos, ok bool)
}

// Options configure a parser instance.
type Options struct {
	// Location is the time zone of timestamps that carry none. Never nil
	// after Defaults.
	Location *time.Location
	// Now gives the reference time for timestamps without a year. It is only
	// consulted for such formats; it defaults to time.Now.
	Now func() time.Time
	// LinePrefix is a format-specific line layout, such as PostgreSQL's
	// log_line_prefix; "" means the format's default. Only formats with a
	// CheckOptions accept it.
	LinePrefix string
}

// Defaults fills in zero fields.
func (o Options) Defaults() Options {
	if o.Location == nil {
		o.Location = time.UTC
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// Format describes one parser unit, under one format name.
type Format struct {
	Name   string
	System event.System
	// Doc is a one-line description for the README and --help.
	Doc string
	// New returns a fresh parser.
	New func(Options) Parser
	// NewAssembler is set for multi-line formats.
	NewAssembler func() Assembler
	// CheckOptions validates format-specific options (LinePrefix) when the
	// configuration is loaded; nil means the format takes none.
	CheckOptions func(Options) error
}

// Reason is the closed set of parse-error reasons, the `reason` label of
// dbsec_parse_errors_total.
type Reason uint8

// Reasons.
const (
	ReasonSyntax       Reason = iota // the record does not follow the format's grammar
	ReasonTimestamp                  // the timestamp is missing or invalid
	ReasonField                      // a field has an invalid value (number, quoting)
	ReasonUnknownEvent               // an event class the format does not define
	ReasonTooLong                    // the record exceeds the size limit
	ReasonEncoding                   // invalid JSON/CSV/escapes
	NumReasons
)

var reasonNames = [NumReasons]string{"syntax", "timestamp", "field", "unknown_event", "too_long", "encoding"}

func (r Reason) String() string {
	if r < NumReasons {
		return reasonNames[r]
	}
	return "syntax"
}

// ReasonNames lists every reason, for pre-initialising metrics.
func ReasonNames() []string { return append([]string(nil), reasonNames[:]...) }

// Error is a malformed record. Col is the 1-based byte column where the
// problem was found (0 when unknown). The pipeline adds file:line.
type Error struct {
	Reason Reason
	Col    int
	Msg    string
	Err    error
}

func (e *Error) Error() string {
	s := e.Msg
	if e.Col > 0 {
		s = fmt.Sprintf("col %d: %s", e.Col, e.Msg)
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// Skip is returned by a parser for a well-formed record it sets aside on
// purpose and that a reader would otherwise miss (TiDB's slow-log records of
// its own internal statements): the pipeline counts it in
// dbsec_records_skipped_total, not as a parse error. Formats document what
// they skip (docs/formats.md).
type Skip struct{ Why string }

func (s *Skip) Error() string { return "skipped: " + s.Why }

// IsSkip reports whether err is a *Skip.
func IsSkip(err error) bool {
	_, ok := err.(*Skip)
	return ok
}

// NoCol is the col argument of Errorf when the problem has no position.
const NoCol = -1

// Errorf returns a *Error. col is 0-based (an index into the record) and is
// reported 1-based; NoCol means the error has no column.
func Errorf(reason Reason, col int, format string, args ...any) *Error {
	return &Error{Reason: reason, Col: col + 1, Msg: fmt.Sprintf(format, args...)}
}

// ReasonOf returns the reason of err, or ReasonSyntax if err is not a *Error.
func ReasonOf(err error) Reason {
	var pe *Error
	if errors.As(err, &pe) {
		return pe.Reason
	}
	return ReasonSyntax
}

// S returns a string that shares b's memory. It must not outlive b's
// contents; parsers use it to fill events without copying (see Parser).
func S(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(unsafe.SliceData(b), len(b))
}
