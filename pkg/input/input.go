// Package input defines what every input hands to the pipeline: physical
// lines with their origin (the file follower in pkg/tail, replay, the
// syslog listener), or events that arrived already structured (the TDengine
// audit receiver in pkg/input/taosaudit). It knows no formats and imports
// only pkg/event.
package input

import (
	"context"

	"github.com/dbsec/dbsec/pkg/event"
)

// Line is one physical line without its trailing newline (and without a
// trailing '\r').
//
// Text is valid only until the Handler returns: an input reuses its buffer.
type Line struct {
	Text []byte
	// File is the path the line was read from ("" for network inputs).
	File string
	// Offset is the byte offset of the first byte of the line in File.
	Offset int64
	// Num is the 1-based line number in File, or 0 when it is unknown (for
	// example after resuming from a checkpoint in the middle of a file).
	Num int64
	// Host is the sending host for network inputs (syslog), else "".
	Host string
}

// Handler receives lines (or events) from an input. Calls are made from a
// single goroutine per input, never concurrently.
type Handler interface {
	// HandleLine processes one line. It must not keep l.Text.
	HandleLine(l Line)
	// HandleEvent processes an event that the input received already
	// parsed; it goes through the same counting, detection and sinks as a
	// parsed line. It must not keep ev (Clone it).
	HandleEvent(ev *event.Event)
	// Idle is called when the input has read everything available and has
	// seen no new data for a short while. Multi-line assemblers flush a
	// pending record here.
	Idle()
}

// Flusher is implemented by a Handler that may still be working on lines
// after HandleLine returned (pkg/pipeline with workers). Flush returns once
// every line and event handed to it so far has been processed to its end
// (its event given to the sinks). An input calls it (through Flush) after
// each burst of lines it read, before it records how far it got (a
// checkpoint) and before it waits for more: a checkpoint then never runs
// ahead of the sinks, and no line waits in a batch for the next one.
type Flusher interface {
	Flush()
}

// Flush calls h.Flush when h is a Flusher.
func Flush(h Handler) {
	if f, ok := h.(Flusher); ok {
		f.Flush()
	}
}

// Input is a source of lines.
type Input interface {
	// Run delivers lines to h until ctx is done, or, for one-shot inputs,
	// until every file has been read to EOF. It returns nil on a clean stop.
	Run(ctx context.Context, h Handler) error
}

// Stats are the per-input self-metrics, read at scrape time.
type Stats struct {
	Lines       uint64 // lines delivered
	Bytes       uint64 // bytes delivered, newlines included
	LagBytes    int64  // bytes written to watched files but not yet read
	Rotations   uint64 // rotations followed (rename, create, symlink swap)
	Truncations uint64 // truncations detected (copytruncate)
	Errors      uint64 // read or watch errors
	Files       int    // files currently open
	// FileInput says Matched and LongLines are meaningful (the input
	// follows or replays files).
	FileInput bool
	// Matched is how many files the configured paths and globs matched at
	// the last scan.
	Matched int
	// LongLines counts lines longer than the limit, cut to it.
	LongLines uint64
}

// StatsReporter is implemented by inputs that export Stats.
type StatsReporter interface {
	Stats() Stats
}

// LinesOnly is embedded by handlers that take lines only (tests, tools):
// its HandleEvent drops the event.
type LinesOnly struct{}

// HandleEvent implements Handler by dropping ev.
func (LinesOnly) HandleEvent(*event.Event) {}
