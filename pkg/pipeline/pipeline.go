// Package pipeline wires one source: lines from an input.Input go through
// the format's assembler and parser, and each event is counted in the
// source's collector.Source, given an id, run through the detection stage
// and handed to the sinks (the event store and the SIEM export). It is the per-line path, so it reuses one
// event and does not allocate for well-formed records.
package pipeline

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"

	"github.com/dbsec/dbsec/pkg/collector"
	"github.com/dbsec/dbsec/pkg/event"
	"github.com/dbsec/dbsec/pkg/input"
	"github.com/dbsec/dbsec/pkg/parse"
	"github.com/dbsec/dbsec/pkg/redact"
)

// Sink receives every event of a source. The event is only valid during the
// call: a sink that keeps it must call ev.Clone. Calls for one source are
// sequential.
type Sink interface {
	Consume(ev *event.Event)
}

// Stage enriches an event before any sink sees it: the detector, whose
// contract (pkg/detect's Detector.Detect) is to append its hits to ev.Hits
// and the rule names to ev.Detections and return the hits. Calls for one
// source are sequential; a stage may be shared by several sources and is
// then responsible for its own locking.
type Stage interface {
	Detect(ev *event.Event) []event.Detection
}

// Preparer is a Stage whose pure per-event work (pkg/detect: the statement
// analysis) can run ahead of Detect, in parallel workers (Config.Workers).
type Preparer interface {
	Stage
	// NewPrep returns a per-event scratch, reused event after event.
	NewPrep() Prep
}

// Prep is the per-event scratch of a Preparer. Prepare does the pure part
// for ev: it may run concurrently with other Preps' Prepare and Detect,
// and must change nothing in ev that a Sink sees. Detect then does the
// rest, exactly as the Stage's Detect would; it is called for the events
// of a source in their order. (The type is a literal, so that pkg/detect
// can name the same type without importing this package.)
type Prep = interface {
	Prepare(ev *event.Event)
	Detect(ev *event.Event) []event.Detection
}

// Source is the pipeline of one configured source. It implements
// input.Handler.
type Source struct {
	name    string
	format  parse.Format
	parser  parse.Parser
	asm     parse.Assembler
	metrics *collector.Source
	stage   Stage
	sinks   []Sink
	idgen   *event.IDGen
	logger  *slog.Logger

	docker  bool
	ev      event.Event
	file    string
	host    string
	nErrors atomic.Uint64
	nEvents atomic.Uint64

	// par runs the stage's Prepare in workers (nil: every event goes
	// through in HandleLine, in the input's goroutine).
	par *parallel
}

// Config of one source pipeline.
type Config struct {
	Name    string
	Format  parse.Format
	Options parse.Options
	Metrics *collector.Source
	// Stage runs on every event before the sinks (nil: none). Because it
	// runs first, the sinks see the same complete event in any order.
	Stage Stage
	Sinks []Sink
	// IDGen gives every event an id before the sinks see it, so that the
	// store and the findings of the detectors cite the same id. Ids are
	// only made when there are sinks: the metrics alone need none.
	IDGen  *event.IDGen
	Logger *slog.Logger
	// StripDockerPrefix removes the "<service> | " that `docker compose
	// logs` writes before each line (docs/formats.md).
	StripDockerPrefix bool
	// Workers is how many goroutines run the stage's pure per-event work
	// (Preparer.Prepare) ahead of it. Above 1, with a Stage that is a
	// Preparer, HandleLine parses into batches of events that the workers
	// prepare while one goroutine runs the stage and the sinks in the
	// source's order, and Flush waits for them (see parallel.go). 0 or 1:
	// every event goes through the stage and the sinks before HandleLine
	// returns.
	Workers int
}

// New returns the pipeline of one source.
func New(cfg Config) *Source {
	s := &Source{
		name:    cfg.Name,
		format:  cfg.Format,
		parser:  cfg.Format.New(cfg.Options.Defaults()),
		metrics: cfg.Metrics,
		stage:   cfg.Stage,
		sinks:   cfg.Sinks,
		idgen:   cfg.IDGen,
		logger:  cfg.Logger,
		docker:  cfg.StripDockerPrefix,
	}
	if cfg.Format.NewAssembler != nil {
		s.asm = cfg.Format.NewAssembler()
	}
	if s.logger == nil {
		s.logger = slog.New(slog.DiscardHandler)
	}
	if pr, ok := cfg.Stage.(Preparer); ok && cfg.Workers > 1 {
		s.par = newParallel(s, pr, cfg.Workers)
	}
	return s
}

// HandleLine implements input.Handler.
func (s *Source) HandleLine(l input.Line) {
	s.metrics.Line(len(l.Text))
	pos := parse.Pos{Offset: l.Offset, Line: l.Num}
	if s.docker {
		l.Text = StripDockerPrefix(l.Text)
	}
	if s.asm != nil {
		rec, start, ok := s.asm.Add(l.Text, pos)
		// A completed record belongs to the file of its first line, which
		// is the file of the previous line when this line started a new one.
		if ok {
			s.record(rec, start)
		}
		s.file, s.host = l.File, l.Host
		return
	}
	s.file, s.host = l.File, l.Host
	s.record(l.Text, pos)
}

// Idle implements input.Handler: a pending multi-line record is complete,
// and every event is delivered before Idle returns (Flush).
func (s *Source) Idle() {
	if s.asm != nil {
		if rec, start, ok := s.asm.Flush(); ok {
			s.record(rec, start)
		}
	}
	s.Flush()
}

// Flush implements input.Flusher: it returns when every line and event
// handed to the source so far has been through the stage and the sinks.
// Without workers it has nothing to do.
func (s *Source) Flush() {
	if s.par != nil {
		s.par.flush()
	}
}

// Close stops the workers (after a Flush); Run calls it on its way out. The
// source may be used again after (the workers start again).
func (s *Source) Close() {
	if s.par != nil {
		s.par.close()
	}
}

func (s *Source) record(rec []byte, pos parse.Pos) {
	ev := &s.ev
	if s.par != nil {
		ev = s.par.next()
	}
	ev.Reset()
	ok, err := s.parser.Parse(rec, ev)
	if parse.IsSkip(err) {
		s.metrics.Skipped()
		return
	}
	if err != nil {
		reason := parse.ReasonOf(err)
		s.metrics.ParseError(reason)
		n := s.nErrors.Add(1)
		// Log the first errors and then every power of two, so that a
		// stream of garbage cannot flood the log.
		if n <= 10 || n&(n-1) == 0 {
			s.logger.Warn("cannot parse record", "source_name", s.name, "format", s.format.Name,
				"at", location(s.file, pos, err), "reason", reason.String(), "err", errExcerpt(err, rec), "errors_so_far", n)
		}
		return
	}
	if !ok {
		return
	}
	if !event.TimeInRange(ev.Time) {
		s.badTime(ev, location(s.file, pos, nil))
		return
	}
	ev.Origin = event.Origin{File: s.file, Offset: pos.Offset, Line: pos.Line}
	if s.host != "" && ev.Server == "" {
		ev.Server = s.host
	}
	if s.par != nil {
		s.par.commit()
		return
	}
	s.deliver(ev, nil)
}

// HandleEvent implements input.Handler: an event that arrived already
// parsed (the TDengine audit receiver) goes through the same counting,
// detection and sinks as a parsed line. Calls must not overlap with each
// other or with HandleLine.
func (s *Source) HandleEvent(ev *event.Event) {
	if !event.TimeInRange(ev.Time) {
		s.badTime(ev, "-")
		return
	}
	// An event that arrived whole is not batched: what is in flight is
	// delivered first, then this one, in this goroutine.
	s.Flush()
	s.deliver(ev, nil)
}

// badTime counts and logs (rate-limited) an event whose time a time.Time
// in nanoseconds cannot hold: stored, it would wrap around (9999 becomes
// 1816) and break the store's chain, its id and the export.
func (s *Source) badTime(ev *event.Event, at string) {
	s.metrics.ParseError(parse.ReasonTimestamp)
	n := s.nErrors.Add(1)
	if n <= 10 || n&(n-1) == 0 {
		s.logger.Warn("cannot parse record", "source_name", s.name, "format", s.format.Name, "at", at,
			"reason", parse.ReasonTimestamp.String(), "err", fmt.Sprintf("time %d-%02d-%02d is outside the supported range (%d to %d)",
				ev.Time.Year(), ev.Time.Month(), ev.Time.Day(), event.MinTime.Year(), event.MaxTime.Year()), "errors_so_far", n)
	}
}

// deliver counts ev, gives it its id and runs the stage and the sinks.
// stage is the event's Prep when the workers prepared it, nil for the
// source's own Stage.
func (s *Source) deliver(ev *event.Event, stage Stage) {
	ev.Source = s.name
	if stage == nil {
		stage = s.stage
	}
	if ev.Traffic {
		s.traffic(ev, stage)
		return
	}
	s.nEvents.Add(1)
	s.metrics.Count(ev)
	// The id is assigned once, here, so that the detections, the store and
	// the export cite the same id.
	if s.idgen != nil && (len(s.sinks) > 0 || s.stage != nil) && ev.ID == "" {
		ev.ID = s.idgen.Next(ev.Time)
	}
	if stage != nil {
		stage.Detect(ev)
	}
	for _, k := range s.sinks {
		k.Consume(ev)
	}
}

// maxErrExcerpt bounds the parse error message in the log: parsers quote a
// piece of the record (a field that is not a number, a bad timestamp).
const maxErrExcerpt = 120

// errExcerpt is the parse error as the log shows it: redacted, cut to
// maxErrExcerpt bytes, and without any record content when the record
// mentions a credential (a malformed CREATE USER may hold a password where
// the parser expected something else).
func errExcerpt(err error, rec []byte) string {
	if redact.MayHoldCredential(rec) {
		if pe, ok := err.(*parse.Error); ok {
			return pe.Reason.String() + " (message withheld: the record mentions a credential)"
		}
		return "message withheld: the record mentions a credential"
	}
	msg := redact.String(err.Error())
	if len(msg) > maxErrExcerpt {
		msg = strings.ToValidUTF8(msg[:maxErrExcerpt], "") + "…"
	}
	return msg
}

// location formats file:line:col for a parse error.
// traffic runs the detection stage on an ordinary request (ev.Traffic)
// and passes it to the sinks only when a rule fired on it: it is not
// counted in the security metrics.
func (s *Source) traffic(ev *event.Event, stage Stage) {
	if stage == nil {
		return
	}
	if s.idgen != nil && ev.ID == "" {
		ev.ID = s.idgen.Next(ev.Time)
	}
	if len(stage.Detect(ev)) == 0 {
		return
	}
	for _, k := range s.sinks {
		k.Consume(ev)
	}
}

func location(file string, pos parse.Pos, err error) string {
	col := 0
	if pe, ok := err.(*parse.Error); ok {
		col = pe.Col
	}
	if file == "" {
		file = "-"
	}
	switch {
	case pos.Line > 0 && col > 0:
		return fmt.Sprintf("%s:%d:%d", file, pos.Line, col)
	case pos.Line > 0:
		return fmt.Sprintf("%s:%d", file, pos.Line)
	default:
		return fmt.Sprintf("%s@%d", file, pos.Offset)
	}
}

// Events returns how many events the source produced.
func (s *Source) Events() uint64 { return s.nEvents.Load() }

// Errors returns how many records failed to parse.
func (s *Source) Errors() uint64 { return s.nErrors.Load() }

// Run runs in through the pipeline until ctx is done or, for a one-shot
// input, until it is drained. dbsec_source_up is 1 while it runs.
func (s *Source) Run(ctx context.Context, in input.Input) error {
	if r, ok := in.(input.StatsReporter); ok {
		s.metrics.SetInput(r)
	}
	s.metrics.SetUp(true)
	err := in.Run(ctx, s)
	s.Idle()
	s.Close()
	if err != nil {
		s.metrics.SetUp(false)
		return fmt.Errorf("source %s: %w", s.name, err)
	}
	return nil
}

var (
	_ input.Handler = (*Source)(nil)
	_ input.Flusher = (*Source)(nil)
)

// StripDockerPrefix returns line without the "<service> | " prefix of
// `docker compose logs` (the service name, padded with spaces, then "| ").
// A line whose text before the first " | " is not one word (a timestamp,
// for example) is returned as it is, so that a line without the prefix is
// never cut.
func StripDockerPrefix(line []byte) []byte {
	head := line[:min(len(line), 128)]
	i := bytes.Index(head, []byte(" |"))
	if i <= 0 {
		return line
	}
	name := bytes.TrimRight(head[:i], " ")
	if len(name) == 0 || bytes.IndexByte(name, ' ') >= 0 {
		return line
	}
	rest := line[i+2:]
	if len(rest) > 0 && rest[0] != ' ' {
		return line // "name |x": not the prefix
	}
	if len(rest) > 0 {
		rest = rest[1:]
	}
	return rest
}
