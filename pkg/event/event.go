// Package event owns the normalized audit event that every parser produces and
// every sink (metrics, store, API, export) consumes. It imports only the
// standard library.
//
// The closed sets (System, Category, Action, Outcome, Class) are small integer
// types so that the per-line path can count them in fixed arrays without
// allocating. Their String forms are the names used in metric labels and in
// the JSON API.
package event

import (
	"math"
	"strings"
	"time"
)

// Event is one normalized audit record.
//
// Ownership: a parser fills an Event whose string fields may alias the input
// line buffer (zero-copy). Such an Event is valid only until the next call to
// the parser. A sink that keeps an Event beyond that (the store, a channel)
// must call Clone first.
type Event struct {
	ID     string    `json:"id,omitempty"`
	Time   time.Time `json:"time"`
	Source string    `json:"source"`
	System System    `json:"system"`
	Format string    `json:"format"`

	Category Category `json:"category"`
	Action   Action   `json:"action"`
	Outcome  Outcome  `json:"outcome"`

	User       string   `json:"user,omitempty"`
	ClientIP   string   `json:"client_ip,omitempty"`
	ClientPort uint16   `json:"client_port,omitempty"`
	Server     string   `json:"server,omitempty"`
	Database   string   `json:"database,omitempty"`
	Objects    []string `json:"objects,omitempty"`

	Statement string `json:"statement,omitempty"`
	Digest    string `json:"digest,omitempty"`

	// Rows is the number of rows returned (reads) or affected (writes);
	// valid only when HasRows is set.
	Rows    int64 `json:"rows,omitempty"`
	HasRows bool  `json:"-"`
	// Duration is in seconds; valid only when HasDuration is set.
	Duration    float64 `json:"duration_seconds,omitempty"`
	HasDuration bool    `json:"-"`

	StatusCode   string `json:"status_code,omitempty"`
	Reason       string `json:"reason,omitempty"`
	ConnectionID string `json:"connection_id,omitempty"`

	// Detections are the names of the rules that fired on this event (the
	// rule filter of the API); Hits are those detections whole. Both are
	// filled by the detection stage before any sink sees the event.
	Detections []string    `json:"detections,omitempty"`
	Hits       []Detection `json:"-"`
	// Traffic marks a record that is not a security event (an ordinary
	// request in a proxy log) and that a parser passes on only so that the
	// detection stage sees every request: the metrics do not count it and
	// the sinks receive it only when a detection fired on it.
	Traffic bool   `json:"traffic,omitempty"`
	Raw     string `json:"raw,omitempty"`
	Origin  Origin `json:"origin"`
}

// Origin says where a record came from.
type Origin struct {
	File   string `json:"file,omitempty"`
	Offset int64  `json:"offset"`
	Line   int64  `json:"line,omitempty"`
}

// Reset clears e for reuse while keeping the capacity of its slices.
func (e *Event) Reset() {
	objs := e.Objects[:0]
	dets := e.Detections[:0]
	hits := e.Hits[:0]
	*e = Event{}
	e.Objects = objs
	e.Detections = dets
	e.Hits = hits
}

// Clone returns a deep copy that owns all of its memory, so that it stays
// valid after the parser's input buffer is reused.
func (e *Event) Clone() *Event {
	c := *e
	c.ID = strings.Clone(e.ID)
	c.Source = strings.Clone(e.Source)
	c.Format = strings.Clone(e.Format)
	c.User = strings.Clone(e.User)
	c.ClientIP = strings.Clone(e.ClientIP)
	c.Server = strings.Clone(e.Server)
	c.Database = strings.Clone(e.Database)
	c.Statement = strings.Clone(e.Statement)
	c.Digest = strings.Clone(e.Digest)
	c.StatusCode = strings.Clone(e.StatusCode)
	c.Reason = strings.Clone(e.Reason)
	c.ConnectionID = strings.Clone(e.ConnectionID)
	c.Raw = strings.Clone(e.Raw)
	c.Origin.File = strings.Clone(e.Origin.File)
	if e.Objects != nil {
		c.Objects = make([]string, len(e.Objects))
		for i, o := range e.Objects {
			c.Objects[i] = strings.Clone(o)
		}
	}
	if e.Detections != nil {
		c.Detections = make([]string, len(e.Detections))
		copy(c.Detections, e.Detections)
	}
	if e.Hits != nil {
		c.Hits = make([]Detection, len(e.Hits))
		for i := range e.Hits {
			c.Hits[i] = e.Hits[i].Clone()
		}
	}
	return &c
}

// Detection is one hit of a detection rule: which rule, how severe, what
// it says, the entity it is about (an account, a client address) and the
// ids of the events that are its evidence (the event it fired on last).
type Detection struct {
	// ID is assigned by the store.
	ID   string    `json:"id,omitempty"`
	Time time.Time `json:"time"`
	// RuleID is the catalogue id (D05), Rule the rule's name
	// (brute_force_success), Title its one-line description.
	RuleID string `json:"rule_id,omitempty"`
	Rule   string `json:"rule"`
	Title  string `json:"title,omitempty"`
	// Severity is info, warning or critical: the scale of the
	// dbsec_detections_total metric and of the alert rules.
	Severity string `json:"severity"`
	Message  string `json:"message"`
	Source   string `json:"source,omitempty"`
	User     string `json:"user,omitempty"`
	ClientIP string `json:"client_ip,omitempty"`
	// Entity is what the detection is about, e.g. "user app@10.0.0.5".
	Entity string `json:"entity,omitempty"`
	// EventID is the event the rule fired on; Evidence every event id that
	// supports it, EventID included.
	EventID  string   `json:"event_id,omitempty"`
	Evidence []string `json:"evidence_event_ids,omitempty"`
}

// Clone returns a deep copy of d.
func (d Detection) Clone() Detection {
	c := d
	for _, p := range []*string{&c.ID, &c.RuleID, &c.Rule, &c.Title, &c.Severity, &c.Message, &c.Source, &c.User, &c.ClientIP, &c.Entity, &c.EventID} {
		*p = strings.Clone(*p)
	}
	if d.Evidence != nil {
		c.Evidence = make([]string, len(d.Evidence))
		for i, s := range d.Evidence {
			c.Evidence[i] = strings.Clone(s)
		}
	}
	return c
}

// The times an event can carry: those whose nanoseconds since 1970 fit an
// int64 (1677-09-21 to 2262-04-11), the resolution the store's hash chain,
// the export and the event ids use. A time outside wraps around when
// converted to nanoseconds (9999 becomes 1816).
var (
	MinTime = time.Unix(0, math.MinInt64).UTC()
	MaxTime = time.Unix(0, math.MaxInt64).UTC()
)

// TimeInRange reports whether t is between MinTime and MaxTime.
func TimeInRange(t time.Time) bool {
	return !t.Before(MinTime) && !t.After(MaxTime)
}
