// Package tidbslow parses TiDB's slow query log (format name "tidb-slow",
// docs/formats.md). A record is several physical lines: header lines
// "# Key: value [Key: value …]" starting with "# Time: <RFC 3339 with
// offset>", then an optional "use <db>;" line and the SQL text, which ends
// with ';' and may span lines and contain '#':
//
//	# Time: 2019-08-14T09:26:59.487776265+08:00
//	# User@Host: root[root] @ localhost [127.0.0.1]
//	# Conn_ID: 3086
//	# Query_time: 1.527627037
//	# DB: test
//	# Is_internal: false
//	# Digest: 50a2e32d…
//	# Succ: true
//	use test;
//	insert into t select * from t;
//
// NewAssembler groups the lines into records; the Parser reads one record.
// Records of TiDB's own internal SQL (Is_internal: true: statistics,
// GC, DDL jobs) give a *parse.Skip: they are not client activity, and the
// pipeline counts them in dbsec_records_skipped_total. A failed statement (Succ: false) keeps the
// category of its verb with outcome failure (the slow log gives no error
// code, so a denial cannot be told apart).
package tidbslow

import (
	"bytes"
	"strconv"
	"time"

	"github.com/dbsec/dbsec/pkg/classify"
	"github.com/dbsec/dbsec/pkg/event"
	"github.com/dbsec/dbsec/pkg/parse"
)

// Format is the parser unit "tidb-slow".
var Format = parse.Format{
	Name:         "tidb-slow",
	System:       event.SystemTiDB,
	Doc:          "TiDB slow query log (multi-line records)",
	New:          func(parse.Options) parse.Parser { return New() },
	NewAssembler: func() parse.Assembler { return NewAssembler() },
}

// MaxRecord bounds the size of one record (headers and SQL). The assembler
// keeps at most MaxRecord+1 bytes of a longer record, and the parser reports
// such a record as parse.ReasonTooLong.
const MaxRecord = 1 << 20

var timePrefix = []byte("# Time:")

// Parser parses one assembled slow-log record. It is stateless apart from
// the Parser value itself and does not allocate.
type Parser struct{}

// New returns a parser.
func New() *Parser { return &Parser{} }

// errInternal is the Skip of internal records (one value: no allocation).
var errInternal = &parse.Skip{Why: "TiDB internal statement (Is_internal: true)"}

// Parse implements parse.Parser.
func (p *Parser) Parse(rec []byte, ev *event.Event) (bool, error) {
	if len(rec) > MaxRecord {
		return false, parse.Errorf(parse.ReasonTooLong, 0, "record longer than %d bytes", MaxRecord)
	}
	if !bytes.HasPrefix(rec, timePrefix) {
		return false, parse.Errorf(parse.ReasonSyntax, 0, "record does not start with %q", timePrefix)
	}
	var (
		haveTime, internal bool
		succ               = -1
		sqlStart           = -1
		dbHeader           []byte
	)
	off := 0
	for off < len(rec) {
		end := bytes.IndexByte(rec[off:], '\n')
		if end < 0 {
			end = len(rec)
		} else {
			end += off
		}
		line := rec[off:end]
		if !bytes.HasPrefix(line, []byte("# ")) {
			sqlStart = off
			break
		}
		if err := header(line, off, ev, &haveTime, &internal, &succ, &dbHeader); err != nil {
			return false, err
		}
		off = end + 1
	}
	if !haveTime {
		return false, parse.Errorf(parse.ReasonTimestamp, 0, "bad # Time header")
	}
	if sqlStart < 0 {
		return false, parse.Errorf(parse.ReasonSyntax, len(rec)-1, "record has no SQL statement")
	}
	if internal {
		return false, errInternal
	}
	sql := rec[sqlStart:]
	// "use <db>;" before the statement names the current database.
	if nl := bytes.IndexByte(sql, '\n'); nl >= 0 {
		first := bytes.TrimRight(sql[:nl], " \r")
		if len(first) > 5 && hasPrefixFold(first, "use ") && first[len(first)-1] == ';' {
			if len(dbHeader) == 0 {
				ev.Database = parse.S(bytes.Trim(first[4:len(first)-1], " `"))
			}
			sql = sql[nl+1:]
		}
	}
	ev.System = event.SystemTiDB
	ev.Format = Format.Name
	ev.Raw = parse.S(rec)
	ev.Statement = parse.S(sql)
	ev.Action = classify.Statement(ev.Statement)
	ev.Category = ev.Action.Category()
	switch succ {
	case 1:
		ev.Outcome = event.OutcomeSuccess
	case 0:
		ev.Outcome = event.OutcomeFailure
	default:
		ev.Outcome = event.OutcomeUnknown
	}
	return true, nil
}

// header reads one "# Key: value [Key: value …]" line into ev.
func header(line []byte, off int, ev *event.Event, haveTime, internal *bool, succ *int, db *[]byte) error {
	body := line[2:]
	colon := bytes.IndexByte(body, ':')
	if colon < 0 {
		return nil // a header line without a key: ignore
	}
	// Keys whose value is the rest of the line.
	switch string(body[:colon]) {
	case "Time":
		t, ok := parseTime(bytes.TrimSpace(body[colon+1:]))
		if !ok {
			return parse.Errorf(parse.ReasonTimestamp, off+7, "bad time %q", bytes.TrimSpace(body[colon+1:]))
		}
		ev.Time, *haveTime = t, true
		return nil
	case "User@Host":
		// root[root] @ localhost [127.0.0.1]
		v := bytes.TrimSpace(body[colon+1:])
		if i := bytes.IndexByte(v, '['); i >= 0 {
			ev.User = parse.S(v[:i])
		} else if i := bytes.Index(v, []byte(" @ ")); i >= 0 {
			ev.User = parse.S(v[:i])
		}
		if i := bytes.LastIndexByte(v, '['); i >= 0 && bytes.HasSuffix(v, []byte("]")) && bytes.Contains(v[:i], []byte(" @ ")) {
			ev.ClientIP = parse.S(v[i+1 : len(v)-1])
		}
		if ev.ClientIP == "" {
			if i := bytes.Index(v, []byte(" @ ")); i >= 0 {
				h := v[i+3:]
				if j := bytes.IndexByte(h, ' '); j >= 0 {
					h = h[:j]
				}
				ev.ClientIP = parse.S(h)
			}
		}
		return nil
	case "User":
		// Old TiDB: "# User: root@127.0.0.1".
		v := bytes.TrimSpace(body[colon+1:])
		if i := bytes.LastIndexByte(v, '@'); i >= 0 {
			ev.User = parse.S(v[:i])
			ev.ClientIP = parse.S(v[i+1:])
		} else {
			ev.User = parse.S(v)
		}
		return nil
	case "Prev_stmt", "Plan", "Binary_plan", "Plan_digest", "Stats", "Backoff_types", "Warnings", "Resource_group":
		return nil
	}
	// Space-separated "Key: value" pairs.
	rest := body
	for len(rest) > 0 {
		c := bytes.IndexByte(rest, ':')
		if c < 0 {
			break
		}
		key := rest[:c]
		rest = bytes.TrimLeft(rest[c+1:], " ")
		v := rest
		if sp := bytes.IndexByte(rest, ' '); sp >= 0 {
			v, rest = rest[:sp], bytes.TrimLeft(rest[sp+1:], " ")
		} else {
			rest = nil
		}
		switch string(key) {
		case "Conn_ID":
			ev.ConnectionID = parse.S(v)
		case "DB":
			ev.Database = parse.S(v)
			*db = v
		case "Query_time":
			d, ok := parseDecimal(v)
			if !ok {
				return parse.Errorf(parse.ReasonField, off, "bad Query_time %q", v)
			}
			ev.Duration, ev.HasDuration = d, true
		case "Succ":
			switch string(v) {
			case "true":
				*succ = 1
			case "false":
				*succ = 0
			default:
				return parse.Errorf(parse.ReasonField, off, "bad Succ %q", v)
			}
		case "Result_rows":
			n, ok := parse.Digits(v)
			if !ok {
				return parse.Errorf(parse.ReasonField, off, "bad Result_rows %q", v)
			}
			ev.Rows, ev.HasRows = n, true
		case "Digest":
			ev.Digest = parse.S(v)
		case "Is_internal":
			*internal = string(v) == "true"
		}
	}
	return nil
}

// parseTime parses RFC 3339 with a numeric offset or Z, without allocating.
func parseTime(b []byte) (t time.Time, ok bool) {
	y, mo, d, h, mi, s, ns, end, ok := parse.Clock(b)
	if !ok {
		return t, false
	}
	off, ok := parse.Offset(b[end:])
	if !ok {
		return t, false
	}
	return parse.DateUTC(y, mo, d, h, mi, s, ns, off), true
}

// parseDecimal parses a non-negative decimal like "1.527627037" (strconv
// does not allocate for a string view).
func parseDecimal(b []byte) (float64, bool) {
	if len(b) == 0 || b[0] < '0' || b[0] > '9' {
		return 0, false
	}
	for _, c := range b {
		if (c < '0' || c > '9') && c != '.' {
			return 0, false
		}
	}
	v, err := strconv.ParseFloat(parse.S(b), 64)
	return v, err == nil
}

func hasPrefixFold(b []byte, p string) bool {
	if len(b) < len(p) {
		return false
	}
	for i := 0; i < len(p); i++ {
		if b[i]|0x20 != p[i]|0x20 {
			return false
		}
	}
	return true
}

var _ parse.Parser = (*Parser)(nil)
