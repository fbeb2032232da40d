// Package export owns the SIEM export: normalized events as JSON lines,
// with OCSF-aligned class and field names (Authentication 3002, Account
// Change 3001, User Access Management 3005, Datastore Activity 6005), to a
// size-rotated file or to any io.Writer such as stdout, for Vector, Fluent
// Bit or Filebeat to ship.
//
// Statement, raw record and reason are redacted (pkg/redact) before they
// are written. The Exporter implements pipeline.Sink.
package export

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dbsec/dbsec/pkg/event"
	"github.com/dbsec/dbsec/pkg/redact"
)

// OCSF identifiers used by the mapping.
const (
	OCSFVersion = "1.3.0"

	CategoryIAM         = 3
	CategoryApplication = 6

	ClassAccountChange        = 3001
	ClassAuthentication       = 3002
	ClassUserAccessManagement = 3005
	ClassDatastoreActivity    = 6005
)

// Record is one exported line.
type Record struct {
	ClassUID     int    `json:"class_uid"`
	ClassName    string `json:"class_name"`
	CategoryUID  int    `json:"category_uid"`
	CategoryName string `json:"category_name"`
	ActivityID   int    `json:"activity_id"`
	ActivityName string `json:"activity_name,omitempty"`
	TypeUID      int    `json:"type_uid"`
	StatusID     int    `json:"status_id"`
	Status       string `json:"status"`
	StatusCode   string `json:"status_code,omitempty"`
	StatusDetail string `json:"status_detail,omitempty"`
	SeverityID   int    `json:"severity_id"`
	Severity     string `json:"severity"`
	// Time is Unix milliseconds (OCSF timestamp_t); TimeDT is RFC 3339.
	Time     int64     `json:"time"`
	TimeDT   string    `json:"time_dt"`
	Duration *int64    `json:"duration,omitempty"`
	Message  string    `json:"message,omitempty"`
	Metadata Metadata  `json:"metadata"`
	Actor    *Actor    `json:"actor,omitempty"`
	Src      *Endpoint `json:"src_endpoint,omitempty"`
	Dst      *Endpoint `json:"dst_endpoint,omitempty"`
	Database *Named    `json:"database,omitempty"`
	Tables   []Named   `json:"tables,omitempty"`
	Query    *Query    `json:"query_info,omitempty"`
	RawData  string    `json:"raw_data,omitempty"`
	Unmapped Unmapped  `json:"unmapped"`
}

// Metadata is OCSF metadata.
type Metadata struct {
	Version  string  `json:"version"`
	UID      string  `json:"uid,omitempty"`
	LogName  string  `json:"log_name,omitempty"`
	LogFmt   string  `json:"log_format,omitempty"`
	Product  Product `json:"product"`
	Original string  `json:"original_file,omitempty"`
}

// Product names dbsec.
type Product struct {
	Name       string `json:"name"`
	VendorName string `json:"vendor_name"`
}

// Actor is the OCSF actor.
type Actor struct {
	User    Named  `json:"user"`
	Session *Named `json:"session,omitempty"`
}

// Named is an OCSF object with a name (user, database, table, session uid).
type Named struct {
	Name string `json:"name,omitempty"`
	UID  string `json:"uid,omitempty"`
}

// Endpoint is an OCSF network endpoint.
type Endpoint struct {
	IP       string `json:"ip,omitempty"`
	Port     int    `json:"port,omitempty"`
	Hostname string `json:"hostname,omitempty"`
}

// Query is OCSF query_info.
type Query struct {
	QueryString string `json:"query_string,omitempty"`
	UID         string `json:"uid,omitempty"`
}

// Unmapped holds dbsec fields without an OCSF home.
type Unmapped struct {
	System     string   `json:"system"`
	Category   string   `json:"category"`
	Action     string   `json:"action"`
	Outcome    string   `json:"outcome"`
	Digest     string   `json:"digest,omitempty"`
	Rows       *int64   `json:"rows,omitempty"`
	Detections []string `json:"detections,omitempty"`
	// Findings are the detections whole, as the store keeps them.
	Findings []Finding `json:"findings,omitempty"`
	Offset   int64     `json:"offset,omitempty"`
}

// Finding is one detection on the event.
type Finding struct {
	RuleID   string   `json:"rule_id,omitempty"`
	Rule     string   `json:"rule"`
	Severity string   `json:"severity"`
	Message  string   `json:"message"`
	Entity   string   `json:"entity,omitempty"`
	Evidence []string `json:"evidence_event_ids,omitempty"`
}

// activity maps an event to OCSF class, activity id and name.
func activity(ev *event.Event) (class, cat, act int, name string) {
	switch ev.Action.Category() {
	case event.CategoryLogin:
		return ClassAuthentication, CategoryIAM, 1, "Logon"
	case event.CategoryLogout:
		return ClassAuthentication, CategoryIAM, 2, "Logoff"
	}
	switch ev.Action {
	case event.ActionCreateUser, event.ActionCreateRole:
		return ClassAccountChange, CategoryIAM, 1, "Create"
	case event.ActionSetPassword:
		return ClassAccountChange, CategoryIAM, 3, "Password Change"
	case event.ActionDropUser, event.ActionDropRole:
		return ClassAccountChange, CategoryIAM, 6, "Delete"
	case event.ActionAlterUser, event.ActionRenameUser:
		return ClassAccountChange, CategoryIAM, 99, "Other"
	case event.ActionGrant, event.ActionSetRole:
		return ClassUserAccessManagement, CategoryIAM, 1, "Assign Privileges"
	case event.ActionRevoke:
		return ClassUserAccessManagement, CategoryIAM, 2, "Revoke Privileges"
	case event.ActionSelect, event.ActionShow, event.ActionExplain:
		return ClassDatastoreActivity, CategoryApplication, 1, "Read"
	case event.ActionUpdate, event.ActionAlterTable, event.ActionAlterDatabase, event.ActionAlterView, event.ActionAlterOther, event.ActionRenameTable:
		return ClassDatastoreActivity, CategoryApplication, 2, "Update"
	case event.ActionInsert, event.ActionReplace, event.ActionLoadData:
		return ClassDatastoreActivity, CategoryApplication, 5, "Write"
	case event.ActionCreateTable, event.ActionCreateDatabase, event.ActionCreateIndex, event.ActionCreateView, event.ActionCreateOther:
		return ClassDatastoreActivity, CategoryApplication, 6, "Create"
	case event.ActionDelete, event.ActionDropTable, event.ActionTruncateTable, event.ActionDropDatabase, event.ActionDropIndex, event.ActionDropView, event.ActionDropOther:
		return ClassDatastoreActivity, CategoryApplication, 7, "Delete"
	}
	if ev.Category == event.CategoryLogin || ev.Category == event.CategoryAccessDenied && ev.Action == event.ActionNone {
		return ClassAuthentication, CategoryIAM, 1, "Logon"
	}
	return ClassDatastoreActivity, CategoryApplication, 99, "Other"
}

var classNames = map[int]string{ClassAccountChange: "Account Change", ClassAuthentication: "Authentication",
	ClassUserAccessManagement: "User Access Management", ClassDatastoreActivity: "Datastore Activity"}

var categoryNames = map[int]string{CategoryIAM: "Identity & Access Management", CategoryApplication: "Application Activity"}

// Convert maps an event to its OCSF-aligned record, redacting every text
// field (pkg/redact.Event).
func Convert(orig *event.Event) Record {
	// Every text field is redacted (a shallow copy: the redaction replaces
	// the event's slices instead of writing to them).
	e := *orig
	redact.Event(&e)
	ev := &e
	class, cat, act, aname := activity(ev)
	r := Record{
		ClassUID: class, ClassName: classNames[class], CategoryUID: cat, CategoryName: categoryNames[cat],
		ActivityID: act, ActivityName: aname, TypeUID: class*100 + act,
		StatusCode: ev.StatusCode, StatusDetail: redact.String(ev.Reason),
		SeverityID: 1, Severity: "Informational",
		Time: ev.Time.UnixMilli(), TimeDT: ev.Time.UTC().Format(time.RFC3339Nano),
		Metadata: Metadata{Version: OCSFVersion, UID: ev.ID, LogName: ev.Source, LogFmt: ev.Format,
			Product: Product{Name: "dbsec", VendorName: "dbsec"}, Original: ev.Origin.File},
		RawData: redact.String(ev.Raw),
		Unmapped: Unmapped{System: ev.System.String(), Category: ev.Category.String(), Action: ev.Action.String(),
			Outcome: ev.Outcome.String(), Digest: ev.Digest, Detections: ev.Detections, Offset: ev.Origin.Offset},
	}
	switch ev.Outcome {
	case event.OutcomeSuccess:
		r.StatusID, r.Status = 1, "Success"
	case event.OutcomeFailure:
		r.StatusID, r.Status = 2, "Failure"
	default:
		r.StatusID, r.Status = 0, "Unknown"
	}
	if ev.Category == event.CategoryAccessDenied && ev.Outcome != event.OutcomeFailure {
		r.StatusID, r.Status = 2, "Failure"
	}
	if len(ev.Detections) > 0 {
		r.SeverityID, r.Severity = 3, "Medium"
	}
	for i := range ev.Hits {
		h := &ev.Hits[i]
		r.Unmapped.Findings = append(r.Unmapped.Findings, Finding{RuleID: h.RuleID, Rule: h.Rule, Severity: h.Severity,
			Message: redact.String(h.Message), Entity: redact.String(h.Entity), Evidence: h.Evidence})
		// OCSF severity: the highest of the hits (info 1, warning 3, critical 5).
		switch {
		case h.Severity == "critical":
			r.SeverityID, r.Severity = 5, "Critical"
		case h.Severity == "warning" && r.SeverityID < 3:
			r.SeverityID, r.Severity = 3, "Medium"
		}
	}
	if ev.HasDuration {
		ms := int64(ev.Duration * 1000)
		r.Duration = &ms
	}
	if ev.HasRows {
		n := ev.Rows
		r.Unmapped.Rows = &n
	}
	if ev.User != "" || ev.ConnectionID != "" {
		r.Actor = &Actor{User: Named{Name: ev.User}}
		if ev.ConnectionID != "" {
			r.Actor.Session = &Named{UID: ev.ConnectionID}
		}
	}
	if ev.ClientIP != "" {
		r.Src = &Endpoint{IP: ev.ClientIP, Port: int(ev.ClientPort)}
	}
	if ev.Server != "" {
		r.Dst = &Endpoint{Hostname: ev.Server}
	}
	if ev.Database != "" {
		r.Database = &Named{Name: ev.Database}
	}
	for _, o := range ev.Objects {
		r.Tables = append(r.Tables, Named{Name: o})
	}
	if ev.Statement != "" {
		r.Query = &Query{QueryString: redact.String(ev.Statement), UID: ev.Digest}
	}
	r.Message = ev.Category.String() + " " + ev.Action.String() + " " + ev.Outcome.String()
	return r
}

// Options configure an Exporter.
type Options struct {
	// Path of the output file; empty writes to W.
	Path string
	// W is the writer when Path is empty (e.g. os.Stdout).
	W io.Writer
	// MaxBytes rotates the file when it would grow past this (100 MiB).
	MaxBytes int64
	// MaxFiles is how many rotated files (path.1 … path.N) are kept (5).
	MaxFiles int
	// Keep selects the exported events (nil: all).
	Keep func(*event.Event) bool
}

// Exporter writes JSON lines. It is safe for concurrent use.
type Exporter struct {
	opts    Options
	mu      sync.Mutex
	f       *os.File
	bw      *bufio.Writer
	size    int64
	written atomic.Int64
	errs    atomic.Int64
	flushed time.Time
	stop    chan struct{}
	stopped chan struct{}
}

// New opens the output.
func New(opts Options) (*Exporter, error) {
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = 100 << 20
	}
	if opts.MaxFiles <= 0 {
		opts.MaxFiles = 5
	}
	x := &Exporter{opts: opts, stop: make(chan struct{}), stopped: make(chan struct{})}
	if opts.Path == "" {
		if opts.W == nil {
			return nil, errors.New("export: neither a path nor a writer")
		}
		x.bw = bufio.NewWriterSize(opts.W, 64<<10)
	} else if err := x.open(); err != nil {
		return nil, err
	}
	go x.flusher()
	return x, nil
}

// flusher writes buffered lines within a second even when no further
// event arrives, so that a shipper tailing the file sees the last ones.
func (x *Exporter) flusher() {
	defer close(x.stopped)
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-x.stop:
			return
		case <-t.C:
			x.mu.Lock()
			if x.bw != nil && x.bw.Buffered() > 0 {
				if err := x.bw.Flush(); err != nil {
					x.errs.Add(1)
				}
				x.flushed = time.Now()
			}
			x.mu.Unlock()
		}
	}
}

func (x *Exporter) open() error {
	f, err := os.OpenFile(x.opts.Path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("export: %w", err)
	}
	x.f, x.size = f, fi.Size()
	x.bw = bufio.NewWriterSize(f, 64<<10)
	return nil
}

func (x *Exporter) rotate() error {
	if err := x.bw.Flush(); err != nil {
		return err
	}
	if err := x.f.Close(); err != nil {
		return err
	}
	for i := x.opts.MaxFiles - 1; i >= 1; i-- {
		_ = os.Rename(x.opts.Path+"."+strconv.Itoa(i), x.opts.Path+"."+strconv.Itoa(i+1))
	}
	if err := os.Rename(x.opts.Path, x.opts.Path+".1"); err != nil {
		return err
	}
	return x.open()
}

// Consume implements pipeline.Sink.
func (x *Exporter) Consume(ev *event.Event) {
	if x.opts.Keep != nil && !x.opts.Keep(ev) {
		return
	}
	rec := Convert(ev)
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	// Keep "<redacted>" and "&" readable for people grepping the file.
	enc.SetEscapeHTML(false)
	if err := enc.Encode(&rec); err != nil {
		x.errs.Add(1)
		return
	}
	b := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.bw == nil { // closed
		x.errs.Add(1)
		return
	}
	if x.f != nil && x.size > 0 && x.size+int64(len(b))+1 > x.opts.MaxBytes {
		if err := x.rotate(); err != nil {
			x.errs.Add(1)
			return
		}
	}
	if _, err := x.bw.Write(append(b, '\n')); err != nil {
		x.errs.Add(1)
		return
	}
	x.size += int64(len(b)) + 1
	x.written.Add(1)
	// Shippers tail the file: do not keep lines buffered for long.
	if now := time.Now(); now.Sub(x.flushed) >= time.Second {
		x.flushed = now
		if err := x.bw.Flush(); err != nil {
			x.errs.Add(1)
		}
	}
}

// Flush writes buffered lines.
func (x *Exporter) Flush() error {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.bw == nil {
		return nil
	}
	return x.bw.Flush()
}

// Written and Errors count exported lines and failures.
func (x *Exporter) Written() int64 { return x.written.Load() }

// Errors counts events that could not be written.
func (x *Exporter) Errors() int64 { return x.errs.Load() }

// Close flushes and closes the file. Events consumed after Close are
// counted as errors.
func (x *Exporter) Close() error {
	x.mu.Lock()
	if x.bw == nil {
		x.mu.Unlock()
		return nil
	}
	close(x.stop)
	err := x.bw.Flush()
	x.bw = nil
	if x.f != nil {
		err = errors.Join(err, x.f.Close())
		x.f = nil
	}
	x.mu.Unlock()
	<-x.stopped
	return err
}

var (
	writtenDesc   = prometheus.NewDesc("dbsec_export_events_total", "Events written to the SIEM export since start.", nil, nil)
	exportErrDesc = prometheus.NewDesc("dbsec_export_errors_total", "Events that could not be written to the SIEM export since start.", nil, nil)
)

// MetricNames are the names of the export's metrics.
var MetricNames = []string{"dbsec_export_events_total", "dbsec_export_errors_total"}

// Describe implements prometheus.Collector.
func (x *Exporter) Describe(ch chan<- *prometheus.Desc) {
	ch <- writtenDesc
	ch <- exportErrDesc
}

// Collect implements prometheus.Collector.
func (x *Exporter) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(writtenDesc, prometheus.CounterValue, float64(x.Written()))
	ch <- prometheus.MustNewConstMetric(exportErrDesc, prometheus.CounterValue, float64(x.Errors()))
}
