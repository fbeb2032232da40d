// Package mysqlaudit parses the MySQL Enterprise Audit log in JSON format
// (format name "mysql-enterprise-audit", docs/formats.md).
//
// The file is documented as one JSON array, but each element is written on
// a line of its own ending in ",": a trailing comma (and a leading "[" on the
// first line) is stripped, and lone "[" or "]" lines are (false, nil).
//
//	{ "timestamp": "2020-10-19 19:31:25", "id": 0, "class": "connection", "event": "connect",
//	  "connection_id": 16, "account": { "user": "u", "host": "h" }, "login": { "user": "u", "os": "",
//	  "ip": "192.168.2.5", "proxy": "" }, "connection_data": { "connection_type": "ssl", "status": 0, "db": "" } },
//
// timestamp is UTC. status is 0 for success, else the MySQL error number.
//
// Counting rules:
//
//   - connection/connect is a login (status ≠ 0, e.g. 1045, is a failed
//     login), change_user a login with action change_user, disconnect a
//     logout. A disconnect that follows a failed connect on the same
//     connection id is (false, nil), as for MariaDB (bounded state).
//   - general/status is the statement: general_data.sql_command names the
//     action (create_table, grant, create_user … see Action); the query text
//     is only classified when the name is unknown or set_option. A privilege
//     errno (classify.DeniedErrno) is access_denied, another non-zero status
//     keeps the verb's category with outcome failure. Commands without SQL
//     (sql_command "error") are (false, nil), except "Init DB" (action use).
//   - table_access records (read/insert/update/delete) precede the general
//     record of the same statement and repeat it once per table: they are
//     not counted ((false, nil)); their db.table names become the Objects of
//     the next general record of the same connection. A log with no general
//     record (a filter that logs only table access) is counted from them
//     instead: the first table_access record of a statement is the event
//     (action from its sql_command, the statement, its db.table), the others
//     of the same statement are (false, nil); once a general record appears,
//     the general records count (the one of a statement already counted
//     from its table_access record is (false, nil)).
//   - audit (startup, shutdown, noaudit), command, query, message,
//     stored_program, authentication, global_variable and parse records are
//     (false, nil); other classes are unknown_event errors.
//
// Passwords are rendered "<secret>" by the server; statements also go
// through redact.String.
package mysqlaudit

import (
	"bytes"
	"time"

	"github.com/dbsec/dbsec/pkg/classify"
	"github.com/dbsec/dbsec/pkg/event"
	"github.com/dbsec/dbsec/pkg/parse"
	"github.com/dbsec/dbsec/pkg/parse/internal/connset"
	"github.com/dbsec/dbsec/pkg/parse/internal/jsonscan"
	"github.com/dbsec/dbsec/pkg/redact"
)

// Format is the parser unit "mysql-enterprise-audit".
var Format = parse.Format{
	Name:   "mysql-enterprise-audit",
	System: event.SystemMySQL,
	Doc:    "MySQL Enterprise Audit JSON (one array element per line; general records, or table_access records alone)",
	New:    func(parse.Options) parse.Parser { return New() },
}

const (
	maxRecord  = 1 << 20
	maxObjects = 16
)

// Parser parses audit records. It is not safe for concurrent use.
type Parser struct {
	sc  jsonscan.Scanner
	r   record
	bad connset.Set

	// table_access names waiting for their general record.
	tblConn int64
	tblBuf  []byte
	tblEnds [maxObjects]int
	tblN    int

	// A log without general records (a filter that logs only table
	// access) is counted from its table_access records: seenGeneral is
	// false until a general record appears, and taConn/taHash name the
	// statement last counted that way.
	seenGeneral bool
	taConn      int64
	taHash      uint64
}

// New returns a parser.
func New() *Parser { return &Parser{tblConn: -1, taConn: -1} }

type record struct {
	timestamp, class, event, connID                  []byte
	user, host, loginUser, ip                        []byte
	status, db, command, sqlCommand, query           []byte
	haveStatus                                       bool
	taDB, taTable, taQuery, taCommand, connType, osU []byte
}

func (r *record) Field(parent, key, val []byte, str bool) {
	switch string(parent) {
	case "":
		switch string(key) {
		case "timestamp":
			r.timestamp = val
		case "class":
			r.class = val
		case "event":
			r.event = val
		case "connection_id":
			r.connID = val
		}
	case "account":
		switch string(key) {
		case "user":
			r.user = val
		case "host":
			r.host = val
		}
	case "login":
		switch string(key) {
		case "user":
			r.loginUser = val
		case "ip":
			r.ip = val
		case "os":
			r.osU = val
		}
	case "connection_data", "general_data":
		switch string(key) {
		case "status":
			r.status, r.haveStatus = val, true
		case "db":
			r.db = val
		case "command":
			r.command = val
		case "sql_command":
			r.sqlCommand = val
		case "query":
			r.query = val
		case "connection_type":
			r.connType = val
		}
	case "table_access_data":
		switch string(key) {
		case "db":
			r.taDB = val
		case "table":
			r.taTable = val
		case "query":
			r.taQuery = val
		case "sql_command":
			r.taCommand = val
		}
	}
}

// Parse implements parse.Parser.
func (p *Parser) Parse(rec []byte, ev *event.Event) (bool, error) {
	if len(rec) > maxRecord {
		return false, parse.Errorf(parse.ReasonTooLong, maxRecord, "record longer than %d bytes", maxRecord)
	}
	b := bytes.TrimRight(rec, " \t\r\n")
	b = bytes.TrimSuffix(b, []byte(","))
	i := jsonscan.SkipWS(b, 0)
	if i < len(b) && b[i] == '[' {
		i = jsonscan.SkipWS(b, i+1) // "[" alone, or "[ {…},"
	}
	if i == len(b) || (b[i] == ']' && jsonscan.SkipWS(b, i+1) == len(b)) {
		return false, nil
	}
	p.sc.Reset(len(b))
	p.r = record{}
	j, err := p.sc.Object(b, i, nil, 0, &p.r)
	if err != nil {
		return false, err
	}
	if j = jsonscan.SkipWS(b, j); j != len(b) && !(b[j] == ']' && jsonscan.SkipWS(b, j+1) == len(b)) {
		return false, parse.Errorf(parse.ReasonEncoding, j, "trailing data after the object")
	}
	r := &p.r
	if r.class == nil {
		return false, parse.Errorf(parse.ReasonField, 0, "no class")
	}
	y, mo, d, h, mi, s, nsec, _, ok := parse.Clock(r.timestamp)
	if !ok {
		return false, parse.Errorf(parse.ReasonTimestamp, 0, "bad timestamp %q", r.timestamp)
	}
	conn, ok := parse.Digits(r.connID)
	if !ok && r.connID != nil {
		return false, parse.Errorf(parse.ReasonField, 0, "bad connection_id %q", r.connID)
	}
	var code int64
	if r.haveStatus {
		if code, ok = parse.Int(r.status); !ok {
			return false, parse.Errorf(parse.ReasonField, 0, "bad status %q", r.status)
		}
	}

	switch string(r.class) {
	case "connection", "general":
	case "table_access":
		p.addTable(conn, r.taDB, r.taTable)
		if p.seenGeneral {
			return false, nil
		}
		h := hash(r.taQuery)
		if conn == p.taConn && h == p.taHash {
			return false, nil // another table of the statement counted
		}
		p.taConn, p.taHash = conn, h
	case "audit", "command", "query", "message", "stored_program", "authentication", "global_variable", "parse":
		return false, nil
	default:
		return false, parse.Errorf(parse.ReasonUnknownEvent, 0, "unknown class %q", r.class)
	}

	ev.Time = time.Date(y, time.Month(mo), d, h, mi, s, nsec, time.UTC)
	ev.System = event.SystemMySQL
	ev.Format = Format.Name
	ev.Raw = parse.S(rec) // redacted below for general records, the only ones with SQL
	ev.ConnectionID = parse.S(r.connID)
	ev.User = parse.S(r.user)
	if len(r.user) == 0 {
		ev.User = parse.S(r.loginUser)
	}
	ev.ClientIP = parse.S(r.ip)
	if len(r.ip) == 0 {
		ev.ClientIP = parse.S(r.host)
	}
	ev.Database = parse.S(r.db)
	if r.haveStatus {
		ev.StatusCode = parse.S(r.status)
	}
	ev.Outcome = event.OutcomeSuccess
	if code != 0 {
		ev.Outcome = event.OutcomeFailure
	}

	if string(r.class) == "connection" {
		switch string(r.event) {
		case "connect":
			ev.Action = event.ActionConnect
			if code != 0 {
				p.bad.Add(uint64(conn))
			}
		case "change_user":
			ev.Action = event.ActionChangeUser
		case "disconnect":
			if p.bad.Remove(uint64(conn)) {
				return false, nil // the end of a failed login, already counted
			}
			ev.Action = event.ActionDisconnect
		default:
			return false, parse.Errorf(parse.ReasonUnknownEvent, 0, "unknown connection event %q", r.event)
		}
		ev.Category = ev.Action.Category()
		return true, nil
	}

	if string(r.class) == "table_access" {
		// Only table access is logged (so far): the statement ran, on
		// the first table of its records.
		sql := redact.String(parse.S(r.taQuery))
		ev.Action = Action(r.taCommand, sql)
		ev.Statement = sql
		ev.Raw = redact.String(ev.Raw)
		ev.Database = parse.S(r.taDB)
		ev.Category = ev.Action.Category()
		if len(r.taTable) > 0 {
			if len(r.taDB) > 0 {
				ev.Objects = append(ev.Objects, parse.S(r.taDB)+"."+parse.S(r.taTable))
			} else {
				ev.Objects = append(ev.Objects, parse.S(r.taTable))
			}
		}
		return true, nil
	}

	// general
	p.seenGeneral = true
	if conn == p.taConn && hash(r.query) == p.taHash {
		// The statement was counted from its table_access record before
		// the first general record showed that the log has them.
		p.taConn = -1
		p.takeTables(conn, ev)
		ev.Objects = ev.Objects[:0]
		return false, nil
	}
	sql := redact.String(parse.S(r.query))
	if len(r.query) == 0 || string(r.sqlCommand) == "error" {
		if string(r.command) != "Init DB" {
			return false, nil
		}
		ev.Action = event.ActionUse
	} else {
		ev.Action = Action(r.sqlCommand, sql)
	}
	ev.Statement = sql
	ev.Raw = redact.String(ev.Raw)
	ev.Category = classify.Category(ev.Action, code != 0 && classify.DeniedErrno(code))
	p.takeTables(conn, ev)
	return true, nil
}

// hash is FNV-1a of b.
func hash(b []byte) uint64 {
	h := uint64(14695981039346656037)
	for _, c := range b {
		h ^= uint64(c)
		h *= 1099511628211
	}
	return h
}

func (p *Parser) addTable(conn int64, db, table []byte) {
	if conn != p.tblConn {
		p.tblConn, p.tblBuf, p.tblN = conn, p.tblBuf[:0], 0
	}
	if p.tblN == maxObjects || len(table) == 0 {
		return
	}
	start := len(p.tblBuf)
	if len(db) > 0 {
		p.tblBuf = append(append(p.tblBuf, db...), '.')
	}
	p.tblBuf = append(p.tblBuf, table...)
	s := 0
	for k := 0; k < p.tblN; k++ {
		if bytes.Equal(p.tblBuf[s:p.tblEnds[k]], p.tblBuf[start:]) {
			p.tblBuf = p.tblBuf[:start]
			return
		}
		s = p.tblEnds[k]
	}
	p.tblEnds[p.tblN] = len(p.tblBuf)
	p.tblN++
}

func (p *Parser) takeTables(conn int64, ev *event.Event) {
	if p.tblN > 0 && conn == p.tblConn {
		s := 0
		for k := 0; k < p.tblN; k++ {
			ev.Objects = append(ev.Objects, parse.S(p.tblBuf[s:p.tblEnds[k]]))
			s = p.tblEnds[k]
		}
	}
	p.tblN, p.tblConn = 0, -1
}

var _ parse.Parser = (*Parser)(nil)
