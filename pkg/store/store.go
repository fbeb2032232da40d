// Package store is the contract of the event store: the Appender that the
// pipeline, the detectors and the drift checker write to, the Querier that
// the JSON API reads from, and their filters, pages and result types.
//
// The interfaces speak only in filters, aggregations and pages, so that an
// engine can push every filter, grouping and limit down into its database
// instead of running them in Go over all rows. Engines live in their own
// packages (pkg/store/sqlite is the embedded one) and prove that they keep
// this contract by running the conformance suite in pkg/store/storetest.
//
// Stored events form a hash chain: each event carries
// sha256(prev_hash || canonical event), and Integrity verifies it.
// Statement, Raw and Reason are redacted before they reach a store.
//
// This package imports nothing heavier than pkg/event and pkg/finding; it
// must not import an engine, the pipeline, the parsers or the API.
package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/dbsec/dbsec/pkg/event"
	"github.com/dbsec/dbsec/pkg/finding"
)

// Appender is the write side of a store. Consume is pipeline.Sink: it
// queues the event and returns without waiting for the database.
type Appender interface {
	Consume(ev *event.Event)
	AddDetections(ctx context.Context, ds []Detection) error
	PutFindings(ctx context.Context, target string, at time.Time, fs []finding.Finding) error
	// AddDriftChanges records drift changes; a change already recorded
	// (same DriftChange.Identity) is not recorded again, so a checker that
	// reports the same difference on every run, or after a restart, adds
	// it once.
	AddDriftChanges(ctx context.Context, at time.Time, cs []DriftChange) error
	Close(ctx context.Context) error
}

// Waiter is an Appender that can wait for room instead of dropping. The
// exporter calls ConsumeWait for file and replay sources, so that a full
// queue slows the reader down (and its checkpoint stays behind the events
// not yet queued) rather than losing events; network sources, which cannot
// be slowed down, use Consume, which may drop after a short wait, counted
// in Stats.Dropped and logged.
type Waiter interface {
	// ConsumeWait queues ev like Consume, blocking while the queue is
	// full. It returns an error, and counts the event as dropped, only if
	// ctx is done or the store is closed before there is room.
	ConsumeWait(ctx context.Context, ev *event.Event) error
}

// Engine is a complete store: both sides.
type Engine interface {
	Appender
	Querier
}

// Querier is the read side of a store, the only thing pkg/api needs.
// Errors caused by the query (a bad cursor, an unknown field) are
// *ParamError values.
type Querier interface {
	Events(ctx context.Context, q EventQuery) (EventPage, error)
	Event(ctx context.Context, id string) (*event.Event, error)
	Series(ctx context.Context, q SeriesQuery) (SeriesResult, error)
	Top(ctx context.Context, q TopQuery) (TopResult, error)
	Values(ctx context.Context, q ValuesQuery) ([]string, error)
	Detections(ctx context.Context, q DetectionQuery) (DetectionPage, error)
	Findings(ctx context.Context, q FindingQuery) (FindingPage, error)
	DriftChanges(ctx context.Context, q DriftQuery) (DriftPage, error)
	Integrity(ctx context.Context, q IntegrityQuery) (IntegrityReport, error)
	Stats() Stats
}

// ErrNotFound is returned by Event for an unknown id.
var ErrNotFound = errors.New("not found")

// ParamError is a query error caused by one parameter; the API answers it
// with HTTP 400.
type ParamError struct {
	Param string
	Msg   string
}

func (e *ParamError) Error() string { return fmt.Sprintf("parameter %s: %s", e.Param, e.Msg) }

// Filter selects events. Empty slices do not filter; several values of one
// field are alternatives (OR), fields combine with AND. The time range is
// [From, To).
type Filter struct {
	From, To time.Time
	Source   []string
	System   []event.System
	Category []event.Category
	Outcome  []event.Outcome
	Action   []event.Action
	User     []string
	ClientIP []string
	Digest   []string
	Rule     []string
	// ConnectionID selects the events of one connection or session (log
	// context); it is not indexed, so bound it by time and source.
	ConnectionID []string
	// Q is a case-insensitive substring of the (redacted) statement or raw
	// record.
	Q string
	// Not excludes events that match any value of its value fields (its
	// From, To, Q and Not are ignored), e.g. Not.User = ["etl"].
	Not *Filter
}

// Empty reports whether f has no value fields set (times and Not aside).
func (f *Filter) Empty() bool {
	return f == nil || len(f.Source)+len(f.System)+len(f.Category)+len(f.Outcome)+len(f.Action)+len(f.User)+
		len(f.ClientIP)+len(f.Digest)+len(f.Rule)+len(f.ConnectionID) == 0
}

// Dimension names an event field that series, top and values group by.
type Dimension string

// Dimensions.
const (
	DimSource   Dimension = "source"
	DimSystem   Dimension = "system"
	DimCategory Dimension = "category"
	DimOutcome  Dimension = "outcome"
	DimAction   Dimension = "action"
	DimUser     Dimension = "user"
	DimClientIP Dimension = "client_ip"
	DimDigest   Dimension = "digest"
	DimRule     Dimension = "rule"
)

// Dimensions lists every Dimension.
func Dimensions() []Dimension {
	return []Dimension{DimSource, DimSystem, DimCategory, DimOutcome, DimAction, DimUser, DimClientIP, DimDigest, DimRule}
}

// ParseDimension validates a dimension name.
func ParseDimension(s string) (Dimension, bool) {
	for _, d := range Dimensions() {
		if string(d) == s {
			return d, true
		}
	}
	return "", false
}

// EventQuery is one page of events, newest first.
type EventQuery struct {
	Filter
	Limit  int
	Cursor string
}

// EventPage is a page of events. Next is empty on the last page.
type EventPage struct {
	Events []*event.Event `json:"events"`
	Next   string         `json:"next_cursor,omitempty"`
}

// SeriesQuery counts events per Step, grouped by By (empty: one series).
// Top, when > 0, keeps only the Top values with the highest totals.
type SeriesQuery struct {
	Filter
	Step time.Duration
	By   Dimension
	Top  int
}

// Point is one bucket of a series; Time is the bucket start. Buckets with
// no events are omitted.
type Point struct {
	Time  time.Time `json:"time"`
	Count int64     `json:"count"`
}

// Series is the counts of one value of the By dimension.
type Series struct {
	Value  string  `json:"value"`
	Total  int64   `json:"total"`
	Points []Point `json:"points"`
}

// SeriesResult is the answer to a SeriesQuery.
type SeriesResult struct {
	From   time.Time `json:"from"`
	To     time.Time `json:"to"`
	Step   float64   `json:"step_seconds"`
	By     Dimension `json:"by,omitempty"`
	Series []Series  `json:"series"`
}

// TopQuery ranks the values of By by event count.
type TopQuery struct {
	Filter
	By    Dimension
	Limit int
}

// TopItem is one ranked value.
type TopItem struct {
	Value string `json:"value"`
	Count int64  `json:"count"`
}

// TopResult is the answer to a TopQuery.
type TopResult struct {
	By    Dimension `json:"by"`
	Items []TopItem `json:"items"`
}

// ValuesQuery lists distinct values of Field among matching events.
type ValuesQuery struct {
	Filter
	Field Dimension
	Limit int
}

// Detection is one rule hit (the type is pkg/event's, so that the
// detection stage can attach hits to the event it fired on). Events that
// carry Hits store them with the event; producers of detections that are
// not tied to a stored event use AddDetections.
type Detection = event.Detection

// DetectionSeverities are the severities of detections.
func DetectionSeverities() []string { return []string{"info", "warning", "critical"} }

// DetectionQuery selects detections, newest first.
type DetectionQuery struct {
	From, To time.Time
	Rule     []string
	Severity []string
	Source   []string
	User     []string
	ClientIP []string
	Limit    int
	Cursor   string
}

// DetectionPage is a page of detections.
type DetectionPage struct {
	Detections []Detection `json:"detections"`
	Next       string      `json:"next_cursor,omitempty"`
}

// FindingQuery selects the current findings.
type FindingQuery struct {
	Target   []string
	Severity []finding.Severity
	Status   []finding.Status
	Rule     []string
	Limit    int
	Cursor   string
}

// FindingPage is a page of findings.
type FindingPage struct {
	Findings []finding.Finding `json:"findings"`
	Next     string            `json:"next_cursor,omitempty"`
}

// DriftChange is one difference between an approved configuration
// snapshot and the current file. It mirrors drift.DriftChange (same JSON)
// so that this package does not depend on pkg/drift; Time is when the
// change was recorded.
type DriftChange struct {
	Time    time.Time `json:"time"`
	Target  string    `json:"target"`
	Kind    string    `json:"kind"`
	Path    string    `json:"path"`
	Subject string    `json:"subject,omitempty"`
	Key     string    `json:"key"`
	Change  string    `json:"change"`
	Old     string    `json:"old,omitempty"`
	New     string    `json:"new,omitempty"`
	Secret  bool      `json:"secret"`
	OldHMAC string    `json:"old_hmac,omitempty"`
	NewHMAC string    `json:"new_hmac,omitempty"`
	Note    string    `json:"note,omitempty"`
}

// Identity identifies a change independently of when it was recorded: the
// target, the file, the subject and key, and the old and new values (or
// their HMACs).
func (c *DriftChange) Identity() string {
	return strings.Join([]string{c.Target, c.Path, c.Subject, c.Key, c.Change, c.Old, c.New, c.OldHMAC, c.NewHMAC}, "\x1f")
}

// DriftQuery selects drift changes, newest first.
type DriftQuery struct {
	From, To time.Time
	Target   []string
	Limit    int
	Cursor   string
}

// DriftPage is a page of drift changes.
type DriftPage struct {
	Changes []DriftChange `json:"changes"`
	Next    string        `json:"next_cursor,omitempty"`
}

// IntegrityQuery verifies the chain from sequence number Start to End
// (inclusive; 0 means the first or last stored event).
type IntegrityQuery struct {
	Start, End int64
}

// IntegrityBreak locates the first event whose hash does not verify.
type IntegrityBreak struct {
	Seq    int64  `json:"seq"`
	ID     string `json:"id,omitempty"`
	Reason string `json:"reason"`
}

// IntegrityReport is the result of a verification.
type IntegrityReport struct {
	OK         bool            `json:"ok"`
	Start      int64           `json:"start_seq"`
	End        int64           `json:"end_seq"`
	Checked    int64           `json:"checked"`
	FirstBreak *IntegrityBreak `json:"first_break,omitempty"`
	// Head is the hash of the last verified event (hex).
	Head string `json:"head,omitempty"`
	// Chains reports each chain on its own, for engines that keep one
	// per exporter (victorialogs); empty otherwise.
	Chains []ChainReport `json:"chains,omitempty"`
}

// ChainReport is the verification of one exporter's chain.
type ChainReport struct {
	Exporter string          `json:"exporter"`
	OK       bool            `json:"ok"`
	Start    int64           `json:"start_seq"`
	End      int64           `json:"end_seq"`
	Checked  int64           `json:"checked"`
	Break    *IntegrityBreak `json:"break,omitempty"`
	Head     string          `json:"head,omitempty"`
}

// Stats are the store's counters.
type Stats struct {
	Queued  int64 `json:"queued"`
	Stored  int64 `json:"stored"`
	Dropped int64 `json:"dropped"`
	// Skipped counts events the storage policy did not keep.
	Skipped   int64     `json:"skipped"`
	Events    int64     `json:"events"`
	Bytes     int64     `json:"bytes"`
	Oldest    time.Time `json:"oldest,omitzero"`
	Newest    time.Time `json:"newest,omitzero"`
	Errors    int64     `json:"write_errors"`
	LastError string    `json:"last_error,omitempty"`
}

// Policy says which events are stored. Security categories (login,
// logout, ddl, privilege_change, admin, access_denied, error) and events
// with detections are always stored; reads, writes and other statements
// only when AllStatements is set.
type Policy struct {
	AllStatements bool
}

// Keep reports whether the policy stores ev.
func (p Policy) Keep(ev *event.Event) bool {
	if p.AllStatements || len(ev.Detections) > 0 {
		return true
	}
	switch ev.Category {
	case event.CategoryRead, event.CategoryDMLWrite, event.CategoryOther:
		return false
	}
	return true
}
