// Package taosadaptersql parses the SQL audit file of taosAdapter (format
// name "taosadapter-sql", docs/formats.md): the CSV that taosAdapter writes
// to <log.path>/taosadapterSql_<instanceId>_YYYYMMDD.csv while a
// POST /record_sql mission runs (or from start-up with
// log.enableSqlToCsvLogging). One row per SQL request, written by
// encoding/csv (RFC 4180 quoting, '\n' line ends, no header row) when the
// request's resources are freed (taosdata/taosadapter
// monitor/recordsql/mission.go, record.go):
//
//	ts, sql, ip, user, conn_type, qid, receive_time, free_time,
//	query_duration, fetch_duration, get_conn_duration, total_duration,
//	source_port, app_name
//
// ts, receive_time and free_time are laid out "2006-01-02 15:04:05.000000"
// in taosAdapter's local zone, without the zone: they are read in
// Options.Location. ts is when the row was written; free_time is Go's zero
// time "0001-01-01 00:00:00.000000" when the request never freed its result.
// conn_type is "http" or "ws", qid "0x<hex>", the durations are integer
// microseconds (total = free_time − receive_time, or now − receive_time).
// Versions before source_port and app_name were added write the first 12
// columns; both layouts are accepted, and columns after the 14th are ignored.
// The row is written only for a non-empty sql. A header row "ts,sql,…" (not
// written by taosAdapter, but added by people who concatenate or export
// such files) gives (false, nil).
//
// A row spans several physical lines when sql holds a newline; NewAssembler
// joins them.
//
// Mapping: Time = ts (receive_time when ts is not a valid time),
// Statement = sql with passwords masked (pkg/redact; Raw is masked too),
// Action and Category from classify.Statement (DDL, CREATE/ALTER USER …
// PASS, GRANT/REVOKE, INSERT/DELETE, SELECT, SHOW …), Outcome unknown (the
// file records requests, not their result), ClientIP = ip,
// ClientPort = source_port, User = user, ConnectionID = qid (as the
// taosadapter log format does), Duration = total_duration. The event has no
// field for conn_type, app_name, receive_time, free_time or the partial
// durations: they stay in Raw, and the last record's conn_type and
// app_name are available from Parser.ConnType and Parser.App.
package taosadaptersql

import (
	"bytes"
	"time"

	"github.com/dbsec/dbsec/pkg/classify"
	"github.com/dbsec/dbsec/pkg/event"
	"github.com/dbsec/dbsec/pkg/parse"
	"github.com/dbsec/dbsec/pkg/parse/internal/csvrec"
	"github.com/dbsec/dbsec/pkg/redact"
)

// FormatName is the name of this format.
const FormatName = "taosadapter-sql"

// Format is the parser unit "taosadapter-sql".
var Format = parse.Format{
	Name:         FormatName,
	System:       event.SystemTDengine,
	Doc:          "taosAdapter SQL audit CSV (POST /record_sql, taosadapterSql_<id>_YYYYMMDD.csv): every REST/WebSocket statement with user, client and duration",
	New:          func(o parse.Options) parse.Parser { return New(o) },
	NewAssembler: func() parse.Assembler { return NewAssembler() },
}

// MaxRecord bounds the size of one record (TDengine's SQL length limit is
// 1 MB by default; a longer record is reported as too_long).
const MaxRecord = 1 << 20

// Column indexes (taosAdapter's TSIndex … AppNameIndex).
const (
	colTS = iota
	colSQL
	colIP
	colUser
	colConnType
	colQID
	colReceive
	colFree
	colQueryDur
	colFetchDur
	colGetConnDur
	colTotalDur
	colPort
	colApp
	numCols
	oldCols = colPort // the layout before source_port and app_name
	maxCols = 24      // columns beyond numCols (a newer taosAdapter) are ignored
)

// timeLayoutLen is len("2006-01-02 15:04:05.000000").
const timeLayoutLen = 26

// Parser parses one record. It is not safe for concurrent use.
type Parser struct {
	opts          parse.Options
	split         csvrec.Splitter
	raw           []byte // Raw rebuilt with a redacted sql
	f             [maxCols][]byte
	off           [maxCols]int // start of each field in the record
	connType, app string
}

// New returns a parser.
func New(opts parse.Options) *Parser { return &Parser{opts: opts.Defaults()} }

// ConnType returns the conn_type ("http" or "ws") of the last event; like
// the event, it is valid until the next call to Parse.
func (p *Parser) ConnType() string { return p.connType }

// App returns the app_name of the last event ("" when the record has none);
// valid until the next call to Parse.
func (p *Parser) App() string { return p.app }

// Parse implements parse.Parser.
func (p *Parser) Parse(rec []byte, ev *event.Event) (bool, error) {
	p.connType, p.app = "", ""
	if len(rec) > MaxRecord {
		return false, parse.Errorf(parse.ReasonTooLong, MaxRecord, "record longer than %d bytes", MaxRecord)
	}
	if len(bytes.TrimSpace(rec)) == 0 {
		return false, nil
	}
	n, err := p.fields(rec)
	if err != nil {
		return false, err
	}
	f := &p.f
	if n >= 2 && string(f[colTS]) == "ts" && string(f[colSQL]) == "sql" {
		return false, nil // header row
	}
	if n < oldCols || n == oldCols+1 {
		return false, parse.Errorf(parse.ReasonSyntax, len(rec), "%d columns, want %d (%d before taosAdapter added source_port and app_name)", n, numCols, oldCols)
	}

	t, ok := p.time(f[colTS])
	if !ok {
		if t, ok = p.time(f[colReceive]); !ok {
			return false, parse.Errorf(parse.ReasonTimestamp, p.off[colTS], "bad ts %q (and receive_time %q)", f[colTS], f[colReceive])
		}
	}
	if len(f[colSQL]) == 0 {
		return false, parse.Errorf(parse.ReasonField, p.off[colSQL], "empty sql")
	}
	ct := f[colConnType]
	if string(ct) != "http" && string(ct) != "ws" {
		if _, ok := parse.Digits(ct); !ok { // ConnType.String of an unknown type is its number
			return false, parse.Errorf(parse.ReasonField, p.off[colConnType], "bad conn_type %q, want http or ws", ct)
		}
	}
	if q := f[colQID]; len(q) < 3 || q[0] != '0' || q[1] != 'x' || !isHex(q[2:]) {
		return false, parse.Errorf(parse.ReasonField, p.off[colQID], "bad qid %q, want 0x<hex>", q)
	}
	var total int64
	for c := colQueryDur; c <= colTotalDur; c++ {
		d, ok := parse.Int(f[c])
		if !ok {
			return false, parse.Errorf(parse.ReasonField, p.off[c], "bad %s %q, want microseconds", colNames[c-colQueryDur], f[c])
		}
		total = d
	}
	var port uint16
	if n > colPort && len(f[colPort]) > 0 {
		v, ok := parse.Digits(f[colPort])
		if !ok || v > 65535 {
			return false, parse.Errorf(parse.ReasonField, p.off[colPort], "bad source_port %q", f[colPort])
		}
		port = uint16(v)
	}

	sql := parse.S(f[colSQL])
	stmt := redact.String(sql)
	ev.Time = t
	ev.System = event.SystemTDengine
	ev.Format = FormatName
	ev.Statement = stmt
	ev.Raw = p.redactRaw(rec, stmt, sql)
	ev.Action = classify.Statement(stmt)
	ev.Category = classify.Category(ev.Action, false)
	ev.Outcome = event.OutcomeUnknown
	ev.User = parse.S(f[colUser])
	ev.ClientIP = parse.S(f[colIP])
	ev.ClientPort = port
	ev.ConnectionID = parse.S(f[colQID])
	if total >= 0 {
		ev.Duration, ev.HasDuration = float64(total)/1e6, true
	}
	p.connType = parse.S(ct)
	if n > colApp {
		p.app = parse.S(f[colApp])
	}
	return true, nil
}

var colNames = [...]string{"query_duration", "fetch_duration", "get_conn_duration", "total_duration"}

// redactRaw returns the record with its secrets masked. When the sql field
// held one, the record is rebuilt around the redacted statement, re-quoted,
// so that CSV quoting ("" for ") cannot hide a password from pkg/redact.
func (p *Parser) redactRaw(rec []byte, stmt, sql string) string {
	if len(stmt) == len(sql) && (len(sql) == 0 || unsafeSame(stmt, sql)) {
		return redact.String(parse.S(rec))
	}
	// The sql field runs from its start to the comma before the next field
	// (Parse has checked that there is one).
	sqlStart, sqlEnd := p.off[colSQL], p.off[colSQL+1]-1
	b := append(p.raw[:0], rec[:sqlStart]...)
	b = append(b, '"')
	for i := 0; i < len(stmt); i++ {
		if stmt[i] == '"' {
			b = append(b, '"')
		}
		b = append(b, stmt[i])
	}
	b = append(b, '"')
	b = append(b, rec[sqlEnd:]...)
	p.raw = b
	return redact.String(parse.S(b))
}

// unsafeSame reports whether a and b (of equal, non-zero length) share
// memory: redact.String returns its argument itself when nothing is masked.
func unsafeSame(a, b string) bool {
	return len(a) > 0 && len(a) == len(b) && &[]byte(a)[0] == &[]byte(b)[0] && a == b
}

// time reads "2006-01-02 15:04:05.000000" (any number of fraction digits) in
// the configured location.
func (p *Parser) time(b []byte) (time.Time, bool) { return parseTime(b, p.opts.Location) }

func parseTime(b []byte, loc *time.Location) (time.Time, bool) {
	if len(b) < 19 || b[4] != '-' || b[7] != '-' || b[10] != ' ' {
		return time.Time{}, false
	}
	y, mo, d, h, mi, s, ns, end, ok := parse.Clock(b)
	if !ok || end != len(b) || y < 1970 {
		return time.Time{}, false
	}
	return time.Date(y, time.Month(mo), d, h, mi, s, ns, loc).UTC(), true
}

func isHex(b []byte) bool {
	if len(b) == 0 || len(b) > 16 {
		return false
	}
	for _, c := range b {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// fields splits rec into p.f and p.off (csvrec.Splitter: the quoting
// rules of encoding/csv) and returns the number of fields.
func (p *Parser) fields(rec []byte) (int, error) { return p.split.Split(rec, p.f[:], p.off[:]) }

var _ parse.Parser = (*Parser)(nil)
