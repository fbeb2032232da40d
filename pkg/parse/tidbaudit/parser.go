// Package tidbaudit parses the records of TiDB's audit-log extension
// (pkg/extension/enterprise/audit), docs/formats.md, in both of its file
// formats: "tidb-audit" (TEXT, the unified log format of §0) and
// "tidb-audit-json" (one JSON object per line, same keys, time key TIME).
//
//	[<time>] [INFO] [ID=<uuid>-<seq>] [EVENT="[<CLASS>,<SUBCLASS>,…]"] [USER=<u>]
//	[ROLES="[…]"] [CONNECTION_ID=<n>] [SESSION_ALIAS=<s>] [TABLES="[`db`.`t`,…]"]
//	[STATUS_CODE=0|1] [REASON=<err>]? <class-specific fields>
//
// STATUS_CODE 1 is success and 0 failure: the opposite of the legacy audit
// plugin (package tidbauditplugin). CONNECTION records are logins, logouts
// and user changes; QUERY records are classified from SQL_TEXT, and a failed
// one whose REASON is a privilege error is access_denied; AUDIT records (the
// audit configuration itself, a tampering signal) are admin/audit_config. A
// failed statement that was not denied keeps the category of its verb with
// outcome failure, as in tidbauditplugin.
package tidbaudit

import (
	"bytes"
	"time"

	"github.com/dbsec/dbsec/pkg/classify"
	"github.com/dbsec/dbsec/pkg/event"
	"github.com/dbsec/dbsec/pkg/parse"
	"github.com/dbsec/dbsec/pkg/parse/unified"
)

// Format is the parser unit "tidb-audit" (TEXT format).
var Format = parse.Format{
	Name:   "tidb-audit",
	System: event.SystemTiDB,
	Doc:    "TiDB audit-log extension, TEXT format (STATUS_CODE 1 = success)",
	New:    func(parse.Options) parse.Parser { return New() },
}

// FormatJSON is the parser unit "tidb-audit-json" (tidb_audit_log_format=JSON).
var FormatJSON = parse.Format{
	Name:   "tidb-audit-json",
	System: event.SystemTiDB,
	Doc:    "TiDB audit-log extension, JSON format (one object per line, STATUS_CODE 1 = success)",
	New:    func(parse.Options) parse.Parser { return NewJSON() },
}

// record holds the raw fields of one audit record, as views of the line or
// of the decoder's scratch buffer.
type record struct {
	time, event, user, conn, db, tables, sql, rows []byte
	clientIP, clientPort, hostIP, reason, status   []byte
	hasStatus                                      bool
}

func (r *record) set(key, v []byte) {
	switch string(key) {
	case "TIME":
		r.time = v
	case "EVENT":
		r.event = v
	case "USER":
		r.user = v
	case "CONNECTION_ID":
		r.conn = v
	case "CURRENT_DB":
		r.db = v
	case "TABLES":
		r.tables = v
	case "SQL_TEXT":
		r.sql = v
	case "AFFECTED_ROWS":
		r.rows = v
	case "CLIENT_IP":
		r.clientIP = v
	case "CLIENT_PORT":
		r.clientPort = v
	case "HOST_IP":
		r.hostIP = v
	case "REASON":
		r.reason = v
	case "STATUS_CODE":
		r.status, r.hasStatus = v, true
	}
}

// Parser parses the TEXT format. It is not safe for concurrent use.
type Parser struct {
	tok unified.Tokenizer
}

// New returns a TEXT-format parser.
func New() *Parser { return &Parser{} }

// Parse implements parse.Parser.
func (p *Parser) Parse(rec []byte, ev *event.Event) (bool, error) {
	p.tok.Reset(rec)
	var r record
	n := 0
	for p.tok.Scan() {
		f := p.tok.Field()
		if f.Key == nil {
			if n == 0 {
				r.time = f.Value
			}
			n++
			continue
		}
		if string(f.Key) == "TIME" {
			continue // only the JSON format names the time
		}
		r.set(f.Key, f.Value)
	}
	if err := p.tok.Err(); err != nil {
		return false, err
	}
	if n == 0 {
		if len(bytes.TrimSpace(rec)) == 0 {
			return false, nil
		}
		return false, parse.Errorf(parse.ReasonSyntax, 0, "not a unified-log line")
	}
	return build(rec, &r, ev, Format.Name)
}

// build turns a record into an event; it is shared by both formats.
func build(rec []byte, r *record, ev *event.Event, format string) (bool, error) {
	t, ok := parseTime(r.time)
	if !ok {
		return false, parse.Errorf(parse.ReasonTimestamp, 0, "bad time %q", r.time)
	}
	if r.event == nil {
		return false, parse.Errorf(parse.ReasonSyntax, 0, "no EVENT field")
	}
	ev.Time = t
	ev.System = event.SystemTiDB
	ev.Format = format
	ev.Raw = parse.S(rec)

	ev.Outcome = event.OutcomeUnknown
	if r.hasStatus {
		switch string(r.status) {
		case "1":
			ev.Outcome = event.OutcomeSuccess
		case "0":
			ev.Outcome = event.OutcomeFailure
		default:
			return false, parse.Errorf(parse.ReasonField, 0, "bad STATUS_CODE %q", r.status)
		}
		ev.StatusCode = parse.S(r.status)
	}
	ev.User = parse.S(r.user)
	ev.ConnectionID = parse.S(r.conn)
	ev.Database = parse.S(r.db)
	ev.Statement = parse.S(r.sql)
	ev.ClientIP = parse.S(r.clientIP)
	ev.Server = parse.S(r.hostIP)
	ev.Reason = parse.S(r.reason)
	if len(r.clientPort) > 0 {
		n, ok := parse.Digits(r.clientPort)
		if !ok || n > 65535 {
			return false, parse.Errorf(parse.ReasonField, 0, "bad CLIENT_PORT %q", r.clientPort)
		}
		ev.ClientPort = uint16(n)
	}
	if len(r.rows) > 0 {
		n, ok := parse.Digits(r.rows)
		if !ok {
			return false, parse.Errorf(parse.ReasonField, 0, "bad AFFECTED_ROWS %q", r.rows)
		}
		ev.Rows, ev.HasRows = n, true
	}
	for rest := r.tables; ; {
		item, tail, ok := nextListItem(rest)
		if !ok {
			break
		}
		ev.Objects = append(ev.Objects, parse.S(item))
		rest = tail
	}

	class, rest, _ := nextListItem(r.event)
	sub, _, _ := nextListItem(rest)
	denied := ev.Outcome == event.OutcomeFailure && isDenied(r.reason)
	switch string(class) {
	case "CONNECTION":
		switch string(sub) {
		case "CONNECT":
			ev.Action = event.ActionConnect
		case "DISCONNECT":
			ev.Action = event.ActionDisconnect
		case "CHANGE_USER":
			ev.Action = event.ActionChangeUser
		default:
			return false, parse.Errorf(parse.ReasonUnknownEvent, 0, "unknown CONNECTION event %q", r.event)
		}
		// A rejected login stays a login (outcome failure), whatever REASON.
		ev.Category = ev.Action.Category()
	case "QUERY", "DATA_OPERATION":
		ev.Action = classify.Statement(ev.Statement)
		if ev.Action == event.ActionOther {
			ev.Action = fromClasses(rest)
		}
		ev.Category = classify.Category(ev.Action, denied)
	case "AUDIT", "AUDIT_ENABLE", "AUDIT_DISABLE", "AUDIT_SET_SYS_VAR", "AUDIT_FUNC_CALL":
		ev.Action = event.ActionAuditConfig
		ev.Category = classify.Category(ev.Action, denied)
	case "SECURITY":
		// Server-side security actions (e.g. runaway-query kills).
		ev.Action = event.ActionKill
		ev.Category = event.CategoryAdmin
	default:
		return false, parse.Errorf(parse.ReasonUnknownEvent, 0, "unknown event class %q", r.event)
	}
	return true, nil
}

// fromClasses maps the subclasses of a QUERY record to an action when the
// SQL text does not tell (empty, or redacted beyond recognition).
func fromClasses(list []byte) event.Action {
	for {
		item, tail, ok := nextListItem(list)
		if !ok {
			return event.ActionOther
		}
		switch string(item) {
		case "SELECT":
			return event.ActionSelect
		case "INSERT":
			return event.ActionInsert
		case "REPLACE":
			return event.ActionReplace
		case "UPDATE":
			return event.ActionUpdate
		case "DELETE":
			return event.ActionDelete
		case "LOAD_DATA":
			return event.ActionLoadData
		case "TRANSACTION":
			return event.ActionTransaction
		case "QUERY_DDL":
			return event.ActionAlterOther
		}
		list = tail
	}
}

// isDenied reports whether REASON is a privilege error: it names a
// privilege errno ("[planner:1142]…", "[privilege:1045]…") or says "denied".
func isDenied(reason []byte) bool {
	if len(reason) > 2 && reason[0] == '[' {
		if end := bytes.IndexByte(reason, ']'); end > 0 {
			if c := bytes.LastIndexByte(reason[:end], ':'); c > 0 {
				if code, ok := parse.Digits(reason[c+1 : end]); ok && classify.DeniedErrno(code) {
					return true
				}
			}
		}
	}
	return bytes.Contains(reason, []byte("denied"))
}

// parseTime accepts the unified-log time "2006/01/02 15:04:05.000 -07:00" and
// RFC 3339 ("2006-01-02T15:04:05.000+08:00"), without allocating.
func parseTime(b []byte) (t time.Time, ok bool) {
	y, mo, d, h, mi, s, ns, end, ok := parse.Clock(b)
	if !ok {
		return t, false
	}
	if end < len(b) && b[end] == ' ' {
		end++
	}
	off, ok := parse.Offset(b[end:])
	if !ok {
		return t, false
	}
	return parse.DateUTC(y, mo, d, h, mi, s, ns, off), true
}

// nextListItem returns the first item of a list written "[a,b]" (TEXT) or
// ["a","b"] (JSON), without surrounding quotes or blanks, and the rest.
func nextListItem(b []byte) (item, rest []byte, ok bool) {
	if len(b) > 0 && b[0] == '[' {
		b = b[1:]
		if len(b) > 0 && b[len(b)-1] == ']' {
			b = b[:len(b)-1]
		}
	}
	for len(b) > 0 && (b[0] == ',' || b[0] == ' ') {
		b = b[1:]
	}
	if len(b) == 0 {
		return nil, nil, false
	}
	i := bytes.IndexByte(b, ',')
	if i < 0 {
		item, rest = b, nil
	} else {
		item, rest = b[:i], b[i+1:]
	}
	item = bytes.TrimSpace(item)
	if len(item) >= 2 && item[0] == '"' && item[len(item)-1] == '"' {
		item = item[1 : len(item)-1]
	}
	return item, rest, true
}

var _ parse.Parser = (*Parser)(nil)
