package api

import (
	"time"

	"github.com/dbsec/dbsec/pkg/event"
	"github.com/dbsec/dbsec/pkg/finding"
	"github.com/dbsec/dbsec/pkg/store"
)

// The wire types of API version 1: what the handler writes and the typed
// client reads. They are the API's own, so that the store's Go types can
// change without changing the JSON; every field is documented in
// openapi.yaml. Closed sets travel as their names.

// Event is one stored event.
type Event struct {
	ID           string    `json:"id"`
	Time         time.Time `json:"time"`
	Source       string    `json:"source"`
	System       string    `json:"system"`
	Format       string    `json:"format,omitempty"`
	Category     string    `json:"category"`
	Action       string    `json:"action"`
	Outcome      string    `json:"outcome"`
	User         string    `json:"user,omitempty"`
	ClientIP     string    `json:"client_ip,omitempty"`
	ClientPort   uint16    `json:"client_port,omitempty"`
	Server       string    `json:"server,omitempty"`
	Database     string    `json:"database,omitempty"`
	Objects      []string  `json:"objects,omitempty"`
	Statement    string    `json:"statement,omitempty"`
	Digest       string    `json:"digest,omitempty"`
	Rows         *int64    `json:"rows,omitempty"`
	Duration     *float64  `json:"duration_seconds,omitempty"`
	StatusCode   string    `json:"status_code,omitempty"`
	Reason       string    `json:"reason,omitempty"`
	ConnectionID string    `json:"connection_id,omitempty"`
	Detections   []string  `json:"detections,omitempty"`
	Raw          string    `json:"raw,omitempty"`
	Origin       Origin    `json:"origin"`
}

// Origin says where an event was read.
type Origin struct {
	File   string `json:"file,omitempty"`
	Offset int64  `json:"offset"`
	Line   int64  `json:"line,omitempty"`
}

// EventPage is one page of events, newest first.
type EventPage struct {
	Events []Event `json:"events"`
	Next   string  `json:"next_cursor,omitempty"`
}

// Point is one bucket of a series (Time is its start).
type Point struct {
	Time  time.Time `json:"time"`
	Count int64     `json:"count"`
}

// Series is the counts of one value of the grouping dimension.
type Series struct {
	Value  string  `json:"value"`
	Total  int64   `json:"total"`
	Points []Point `json:"points"`
}

// SeriesResult is the answer of /series.
type SeriesResult struct {
	From   time.Time `json:"from"`
	To     time.Time `json:"to"`
	Step   float64   `json:"step_seconds"`
	By     string    `json:"by,omitempty"`
	Series []Series  `json:"series"`
}

// TopItem is one ranked value.
type TopItem struct {
	Value string `json:"value"`
	Count int64  `json:"count"`
}

// TopResult is the answer of /top.
type TopResult struct {
	By    string    `json:"by"`
	Items []TopItem `json:"items"`
}

// Values are the answer of /values/{field}.
type Values struct {
	Field  string   `json:"field"`
	Values []string `json:"values"`
}

// Detection is one detection: the rule (catalogue id and name), severity
// (info, warning or critical), message, the entity it is about and the
// ids of its evidence events, each of which /events/{id} resolves.
type Detection struct {
	ID       string    `json:"id"`
	Time     time.Time `json:"time"`
	RuleID   string    `json:"rule_id,omitempty"`
	Rule     string    `json:"rule"`
	Title    string    `json:"title,omitempty"`
	Severity string    `json:"severity"`
	Message  string    `json:"message"`
	Source   string    `json:"source,omitempty"`
	User     string    `json:"user,omitempty"`
	ClientIP string    `json:"client_ip,omitempty"`
	Entity   string    `json:"entity,omitempty"`
	EventID  string    `json:"event_id,omitempty"`
	Evidence []string  `json:"evidence_event_ids,omitempty"`
}

// DetectionPage is one page of detections, newest first.
type DetectionPage struct {
	Detections []Detection `json:"detections"`
	Next       string      `json:"next_cursor,omitempty"`
}

// Finding is one configuration finding (the drift checker's own JSON form,
// which the SARIF and JSON outputs of check-config share).
type Finding = finding.Finding

// FindingPage is one page of findings.
type FindingPage struct {
	Findings []Finding `json:"findings"`
	Next     string    `json:"next_cursor,omitempty"`
}

// DriftChange is one difference between the approved configuration
// snapshot and the file as it is now.
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

// DriftPage is one page of drift changes, newest first.
type DriftPage struct {
	Changes []DriftChange `json:"changes"`
	Next    string        `json:"next_cursor,omitempty"`
}

// IntegrityBreak locates the first event whose hash does not verify.
type IntegrityBreak struct {
	Seq    int64  `json:"seq"`
	ID     string `json:"id,omitempty"`
	Reason string `json:"reason"`
}

// IntegrityReport is the answer of /integrity.
type IntegrityReport struct {
	OK         bool            `json:"ok"`
	Start      int64           `json:"start_seq"`
	End        int64           `json:"end_seq"`
	Checked    int64           `json:"checked"`
	FirstBreak *IntegrityBreak `json:"first_break,omitempty"`
	Head       string          `json:"head,omitempty"`
	// Chains: each exporter's chain (VictoriaLogs engine only).
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

// StoreStats are the store's counters in /status.
type StoreStats struct {
	Queued    int64     `json:"queued"`
	Stored    int64     `json:"stored"`
	Dropped   int64     `json:"dropped"`
	Skipped   int64     `json:"skipped"`
	Events    int64     `json:"events"`
	Bytes     int64     `json:"bytes"`
	Oldest    time.Time `json:"oldest,omitzero"`
	Newest    time.Time `json:"newest,omitzero"`
	Errors    int64     `json:"write_errors"`
	LastError string    `json:"last_error,omitempty"`
}

// The conversions from the store's types.

func wireEvent(ev *event.Event) Event {
	w := Event{
		ID: ev.ID, Time: ev.Time, Source: ev.Source, System: ev.System.String(), Format: ev.Format,
		Category: ev.Category.String(), Action: ev.Action.String(), Outcome: ev.Outcome.String(),
		User: ev.User, ClientIP: ev.ClientIP, ClientPort: ev.ClientPort, Server: ev.Server, Database: ev.Database,
		Objects: ev.Objects, Statement: ev.Statement, Digest: ev.Digest, StatusCode: ev.StatusCode, Reason: ev.Reason,
		ConnectionID: ev.ConnectionID, Detections: ev.Detections, Raw: ev.Raw,
		Origin: Origin{File: ev.Origin.File, Offset: ev.Origin.Offset, Line: ev.Origin.Line},
	}
	if ev.HasRows {
		n := ev.Rows
		w.Rows = &n
	}
	if ev.HasDuration {
		d := ev.Duration
		w.Duration = &d
	}
	return w
}

func wireEventPage(p store.EventPage) EventPage {
	out := EventPage{Events: make([]Event, len(p.Events)), Next: p.Next}
	for i, ev := range p.Events {
		out.Events[i] = wireEvent(ev)
	}
	return out
}

func wireSeries(r store.SeriesResult) SeriesResult {
	out := SeriesResult{From: r.From, To: r.To, Step: r.Step, By: string(r.By), Series: make([]Series, len(r.Series))}
	for i, s := range r.Series {
		ps := make([]Point, len(s.Points))
		for j, p := range s.Points {
			ps[j] = Point{Time: p.Time, Count: p.Count}
		}
		out.Series[i] = Series{Value: s.Value, Total: s.Total, Points: ps}
	}
	return out
}

func wireTop(r store.TopResult) TopResult {
	out := TopResult{By: string(r.By), Items: make([]TopItem, len(r.Items))}
	for i, it := range r.Items {
		out.Items[i] = TopItem{Value: it.Value, Count: it.Count}
	}
	return out
}

func wireDetections(p store.DetectionPage) DetectionPage {
	out := DetectionPage{Detections: make([]Detection, len(p.Detections)), Next: p.Next}
	for i, d := range p.Detections {
		out.Detections[i] = Detection{ID: d.ID, Time: d.Time, RuleID: d.RuleID, Rule: d.Rule, Title: d.Title, Severity: d.Severity,
			Message: d.Message, Source: d.Source, User: d.User, ClientIP: d.ClientIP, Entity: d.Entity, EventID: d.EventID, Evidence: d.Evidence}
	}
	return out
}

func wireFindings(p store.FindingPage) FindingPage {
	return FindingPage{Findings: p.Findings, Next: p.Next}
}

func wireDrift(p store.DriftPage) DriftPage {
	out := DriftPage{Changes: make([]DriftChange, len(p.Changes)), Next: p.Next}
	for i, c := range p.Changes {
		out.Changes[i] = DriftChange{Time: c.Time, Target: c.Target, Kind: c.Kind, Path: c.Path, Subject: c.Subject, Key: c.Key,
			Change: c.Change, Old: c.Old, New: c.New, Secret: c.Secret, OldHMAC: c.OldHMAC, NewHMAC: c.NewHMAC, Note: c.Note}
	}
	return out
}

func wireIntegrity(r store.IntegrityReport) IntegrityReport {
	out := IntegrityReport{OK: r.OK, Start: r.Start, End: r.End, Checked: r.Checked, Head: r.Head}
	if r.FirstBreak != nil {
		out.FirstBreak = &IntegrityBreak{Seq: r.FirstBreak.Seq, ID: r.FirstBreak.ID, Reason: r.FirstBreak.Reason}
	}
	for _, c := range r.Chains {
		w := ChainReport{Exporter: c.Exporter, OK: c.OK, Start: c.Start, End: c.End, Checked: c.Checked, Head: c.Head}
		if c.Break != nil {
			w.Break = &IntegrityBreak{Seq: c.Break.Seq, ID: c.Break.ID, Reason: c.Break.Reason}
		}
		out.Chains = append(out.Chains, w)
	}
	return out
}

func wireStats(s store.Stats) StoreStats {
	return StoreStats{Queued: s.Queued, Stored: s.Stored, Dropped: s.Dropped, Skipped: s.Skipped, Events: s.Events, Bytes: s.Bytes,
		Oldest: s.Oldest, Newest: s.Newest, Errors: s.Errors, LastError: s.LastError}
}
