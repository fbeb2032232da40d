// Package perconaaudit parses the Percona Server audit_log plugin (format
// name "percona-audit", docs/formats.md) in all four of its
// audit_log_format layouts, recognised record by record:
//
//	JSON, one record per line:
//	{"audit_record":{"name":"Connect","record":"7_2024-09-03T01:53:14","timestamp":"2024-09-03T01:53:33Z",
//	 "connection_id":"993","status":1156,"user":"","priv_user":"","os_login":"","proxy_user":"",
//	 "host":"juju-da2225-8","ip":"10.207.85.214","db":""}}
//
//	CSV, one record per line: NAME, RECORD, TIMESTAMP, then for statements
//	COMMAND_CLASS, CONNECTION_ID, STATUS, SQLTEXT, USER, HOST, OS_USER, IP,
//	DB, and for connections CONNECTION_ID, STATUS, USER, PRIV_USER,
//	OS_LOGIN, PROXY_USER, HOST, IP, DB:
//	"Query","22567_2021-06-30T16:10:09","2021-06-30T16:19:00 UTC","select","2",0,"select 1","root[root] @ localhost []","localhost","","",""
//
//	OLD XML, a record of attributes over several lines (<AUDIT_RECORD … />),
//	and NEW XML, a record of elements (<AUDIT_RECORD> <NAME>…</NAME> …
//	</AUDIT_RECORD>), both inside <AUDIT>…</AUDIT>: the Assembler joins the
//	lines of one record; values are XML-unescaped.
//
// timestamp is UTC ("…Z" or "… UTC"). status is 0 for success, else the
// MySQL error number. Keys are matched in lower and upper case.
//
// Counting rules:
//
//   - Connect is a login: status ≠ 0 is a failed login (1045, but also
//     1156 for a client that broke the handshake). "Change user" is a login
//     with action change_user. Quit is a logout, except after a failed
//     Connect on the same connection id ((false, nil), bounded state).
//   - Query and Execute are statements: command_class (select, alter_table,
//     create_user, grant …) names the action, through the same table as
//     MySQL's sql_command (mysqlaudit.Action); the text is only classified
//     when the name is unknown or set_option. A privilege errno is
//     access_denied, another non-zero status keeps the verb's category with
//     outcome failure. Prepare is (false, nil): the Execute that follows is
//     counted. "Init DB" is action use.
//   - Audit, NoAudit and the other commands without SQL (Ping, Field List,
//     Close stmt …) are (false, nil).
//
// The user of statement records is "user[priv_user] @ host [ip]"; the user
// name before "[" is kept. Statements go through redact.String (the plugin
// does not mask passwords).
package perconaaudit

import (
	"bytes"
	"time"

	"github.com/dbsec/dbsec/pkg/classify"
	"github.com/dbsec/dbsec/pkg/event"
	"github.com/dbsec/dbsec/pkg/parse"
	"github.com/dbsec/dbsec/pkg/parse/internal/connset"
	"github.com/dbsec/dbsec/pkg/parse/internal/csvrec"
	"github.com/dbsec/dbsec/pkg/parse/internal/jsonscan"
	"github.com/dbsec/dbsec/pkg/parse/mysqlaudit"
	"github.com/dbsec/dbsec/pkg/redact"
)

// Format is the parser unit "percona-audit".
var Format = parse.Format{
	Name:         "percona-audit",
	System:       event.SystemMySQL,
	Doc:          "Percona Server audit_log plugin: JSON, CSV, OLD and NEW XML formats",
	New:          func(o parse.Options) parse.Parser { p := New(); p.loc = o.Defaults().Location; return p },
	NewAssembler: func() parse.Assembler { return NewAssembler() },
}

const maxRecord = 1 << 20

// Parser parses audit_log JSON records. It is not safe for concurrent use.
type Parser struct {
	sc  jsonscan.Scanner
	r   record
	bad connset.Set

	loc   *time.Location // of times written without a zone
	xbuf  []byte         // decoded XML values of the current record
	split csvrec.Splitter
	cols  [16][]byte // CSV fields
}

// New returns a parser whose zone-less times are UTC.
func New() *Parser { return &Parser{loc: time.UTC} }

type record struct {
	wrapped                                     bool
	name, timestamp, class, connID, status, sql []byte
	user, host, ip, db                          []byte
	haveStatus                                  bool
}

func (r *record) Field(parent, key, val []byte, str bool) {
	if !eqFold(parent, "audit_record") {
		return
	}
	r.wrapped = true
	switch {
	case eqFold(key, "name"):
		r.name = val
	case eqFold(key, "timestamp"):
		r.timestamp = val
	case eqFold(key, "command_class"):
		r.class = val
	case eqFold(key, "connection_id"):
		r.connID = val
	case eqFold(key, "status"):
		r.status, r.haveStatus = val, true
	case eqFold(key, "sqltext"):
		r.sql = val
	case eqFold(key, "user"):
		r.user = val
	case eqFold(key, "host"):
		r.host = val
	case eqFold(key, "ip"):
		r.ip = val
	case eqFold(key, "db"):
		r.db = val
	}
}

// eqFold compares b with the lower-case ASCII word w, ignoring case.
func eqFold(b []byte, w string) bool {
	if len(b) != len(w) {
		return false
	}
	for i := range len(b) {
		c := b[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != w[i] {
			return false
		}
	}
	return true
}

// Parse implements parse.Parser.
func (p *Parser) Parse(rec []byte, ev *event.Event) (bool, error) {
	if len(rec) > maxRecord {
		return false, parse.Errorf(parse.ReasonTooLong, maxRecord, "record longer than %d bytes", maxRecord)
	}
	b := bytes.TrimRight(rec, " \t\r\n")
	i := jsonscan.SkipWS(b, 0)
	if i == len(b) {
		return false, nil
	}
	p.r = record{}
	switch b[i] {
	case '<':
		// OLD or NEW XML (audit_log_format=OLD|NEW), one record assembled
		// from its lines; the file's <?xml …?>, <AUDIT> and </AUDIT> lines
		// carry nothing.
		ok, err := p.xml(b, i)
		if !ok || err != nil {
			return false, err
		}
	case '"':
		if err := p.csv(b); err != nil {
			return false, err
		}
	default:
		b = bytes.TrimSuffix(b, []byte(","))
		p.sc.Reset(len(b))
		j, err := p.sc.Object(b, i, nil, 0, &p.r)
		if err != nil {
			return false, err
		}
		if j = jsonscan.SkipWS(b, j); j != len(b) {
			return false, parse.Errorf(parse.ReasonEncoding, j, "trailing data after the object")
		}
		if !p.r.wrapped || p.r.name == nil {
			return false, parse.Errorf(parse.ReasonSyntax, i, "not an audit_record object")
		}
	}
	r := &p.r
	t, ok := parseTime(r.timestamp, p.loc)
	if !ok {
		return false, parse.Errorf(parse.ReasonTimestamp, 0, "bad timestamp %q", r.timestamp)
	}
	conn, connOK := parse.Digits(r.connID)
	if !connOK && len(r.connID) > 0 {
		return false, parse.Errorf(parse.ReasonField, 0, "bad connection_id %q", r.connID)
	}
	var code int64
	if r.haveStatus {
		if code, ok = parse.Int(r.status); !ok {
			return false, parse.Errorf(parse.ReasonField, 0, "bad status %q", r.status)
		}
	}

	ev.Time = t
	ev.System = event.SystemMySQL
	ev.Format = Format.Name
	ev.Raw = parse.S(rec) // redacted below for statements, the only records with SQL
	ev.ConnectionID = parse.S(r.connID)
	ev.User = parse.S(userName(r.user))
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

	switch {
	case eqFold(r.name, "connect"):
		ev.Action = event.ActionConnect
		if code != 0 && connOK {
			p.bad.Add(uint64(conn))
		}
	case eqFold(r.name, "change user"):
		ev.Action = event.ActionChangeUser
	case eqFold(r.name, "quit"):
		if connOK && p.bad.Remove(uint64(conn)) {
			return false, nil // the end of a failed login, already counted
		}
		ev.Action = event.ActionDisconnect
	case eqFold(r.name, "query"), eqFold(r.name, "execute"):
		sql := redact.String(parse.S(r.sql))
		ev.Statement = sql
		ev.Raw = redact.String(ev.Raw)
		ev.Action = mysqlaudit.Action(r.class, sql)
		ev.Category = classify.Category(ev.Action, code != 0 && classify.DeniedErrno(code))
		return true, nil
	case eqFold(r.name, "init db"):
		ev.Action = event.ActionUse
		ev.Category = classify.Category(ev.Action, code != 0 && classify.DeniedErrno(code))
		return true, nil
	default:
		return false, nil // Audit, NoAudit, Prepare, Ping, Field List …
	}
	ev.Category = ev.Action.Category()
	return true, nil
}

// userName keeps "u" of "u[priv] @ host [ip]".
func userName(u []byte) []byte {
	if k := bytes.IndexByte(u, '['); k >= 0 {
		return u[:k]
	}
	if k := bytes.Index(u, []byte(" @ ")); k >= 0 {
		return u[:k]
	}
	return u
}

// parseTime reads "2024-09-03T01:53:33Z", "2024-01-15T10:30:00 UTC" or a
// time with a numeric offset, which the audit_log plugin writes, and a time
// with no zone, which the 8.0 audit log filter writes in the server's local
// time (loc, the source's timezone).
func parseTime(b []byte, loc *time.Location) (time.Time, bool) {
	y, mo, d, h, mi, s, nsec, end, ok := parse.Clock(b)
	if !ok {
		return time.Time{}, false
	}
	rest := b[end:]
	off := 0
	switch {
	case len(rest) == 0:
		return time.Date(y, time.Month(mo), d, h, mi, s, nsec, loc).UTC(), true
	case string(rest) == " UTC", string(rest) == "UTC", string(rest) == "Z":
	default:
		if off, ok = parse.Offset(rest); !ok {
			return time.Time{}, false
		}
	}
	return parse.DateUTC(y, mo, d, h, mi, s, nsec, off), true
}

var _ parse.Parser = (*Parser)(nil)
