// Package postgrescsv parses PostgreSQL's csvlog (format name
// "postgres-csv", docs/formats.md), with pgaudit entries in its message
// column. Columns (PG 14–17, 26): log_time, user_name, database_name,
// process_id, connection_from, session_id, session_line_num, command_tag,
// session_start_time, virtual_transaction_id, transaction_id,
// error_severity, sql_state_code, message, detail, hint, internal_query,
// internal_query_pos, context, query, query_pos, location,
// application_name, backend_type, leader_pid, query_id. PostgreSQL 9.0–12
// write the first 23 columns and 13 the first 24; all are accepted.
//
// A record spans several physical lines when a quoted field holds a newline;
// NewAssembler joins them. The fields are read with the quoting rules of
// encoding/csv (RFC 4180: "" inside a quoted field is one quote) by a
// zero-allocation reader. The semantics are those of postgres.Classifier,
// with the SQLSTATE, detail and query columns in place of the stderr log's
// %e, DETAIL and STATEMENT lines; log_time is read by postgres.ParseTime
// (zone abbreviations are resolved with Options.Location).
package postgrescsv

import (
	"bytes"

	"github.com/dbsec/dbsec/pkg/event"
	"github.com/dbsec/dbsec/pkg/parse"
	"github.com/dbsec/dbsec/pkg/parse/internal/csvrec"
	"github.com/dbsec/dbsec/pkg/parse/postgres"
	"github.com/dbsec/dbsec/pkg/redact"
)

// Format is the parser unit "postgres-csv".
var Format = parse.Format{
	Name:         "postgres-csv",
	System:       event.SystemPostgres,
	Doc:          "PostgreSQL csvlog (9.x–17) with pgaudit entries",
	New:          func(o parse.Options) parse.Parser { return New(o) },
	NewAssembler: func() parse.Assembler { return NewAssembler() },
}

// MaxRecord bounds the size of one record.
const MaxRecord = postgres.MaxRecord

// Column indexes.
const (
	colTime = iota
	colUser
	colDB
	colPID
	colFrom
	colSession
	colLineNum
	colTag
	colStart
	colVXID
	colXID
	colSeverity
	colCode
	colMessage
	colDetail
	colHint
	colInternalQuery
	colInternalQueryPos
	colContext
	colQuery
	colQueryPos
	colLocation
	colApp
	colBackend
	colLeader
	colQueryID
	maxCols
	minCols = colApp + 1
)

// Parser parses one csvlog record. It is not safe for concurrent use.
type Parser struct {
	opts  parse.Options
	cls   postgres.Classifier
	split csvrec.Splitter
	f     [maxCols][]byte
}

// New returns a parser.
func New(opts parse.Options) *Parser { return &Parser{opts: opts.Defaults()} }

// Parse implements parse.Parser.
func (p *Parser) Parse(rec []byte, ev *event.Event) (bool, error) {
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
	if n < minCols {
		return false, parse.Errorf(parse.ReasonSyntax, 0, "%d columns, want 23 to 26", n)
	}
	f := &p.f
	t, ok := postgres.ParseTime(f[colTime], p.opts.Location)
	if !ok {
		return false, parse.Errorf(parse.ReasonTimestamp, 0, "bad log_time %q", f[colTime])
	}
	ev.Time = t
	ev.System = event.SystemPostgres
	ev.Format = Format.Name
	ev.Raw = redact.String(parse.S(rec))
	ev.User = parse.S(f[colUser])
	ev.Database = parse.S(f[colDB])
	ev.ConnectionID = parse.S(f[colPID])
	if from := f[colFrom]; len(from) > 0 && string(from) != "[local]" {
		host, port := splitFrom(from)
		ev.ClientIP = parse.S(host)
		ev.ClientPort = port
	}
	m := postgres.Message{
		Severity:  f[colSeverity],
		Code:      f[colCode],
		Text:      f[colMessage],
		Detail:    f[colDetail],
		Statement: f[colQuery],
		PID:       f[colPID],
	}
	return p.cls.Classify(&m, ev)
}

// fields splits rec into p.f and returns the number of fields.
func (p *Parser) fields(rec []byte) (int, error) { return p.split.Split(rec, p.f[:], nil) }

// splitFrom splits connection_from, "host:port" (the host may be an IPv6
// address, so the last colon separates the port).
func splitFrom(b []byte) ([]byte, uint16) {
	i := bytes.LastIndexByte(b, ':')
	if i <= 0 {
		return b, 0
	}
	n, ok := parse.Digits(b[i+1:])
	if !ok || n > 65535 {
		return b, 0
	}
	h := b[:i]
	if len(h) > 2 && h[0] == '[' && h[len(h)-1] == ']' {
		h = h[1 : len(h)-1]
	}
	return h, uint16(n)
}

var _ parse.Parser = (*Parser)(nil)
