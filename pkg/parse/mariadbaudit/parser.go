// Package mariadbaudit parses the MariaDB server_audit plugin log (format
// name "mariadb-audit", docs/formats.md), as written to its own file
// or to syslog:
//
//	timestamp,serverhost,username,host,connectionid,queryid,operation,database,object,retcode
//	20261202 10:27:06,vm,analyst,localhost,6,7,QUERY,shop,'delete from t',1142
//
// The timestamp is "YYYYMMDD HH:MM:SS" in the server's local time zone
// (Options.Location). From MariaDB 12.0.1 the host is "host:port" for TCP
// clients ("host:unavailable" on Enterprise Server for sockets) and the
// connection records carry the TLS version in object; both layouts are read.
// Commas inside statements are not escaped, so the eight fixed fields are
// read from the left and retcode from the right; the statement between is
// wrapped in '…' with \' \\ \n \r \t escapes, decoded into a reused scratch
// buffer only when it has an escape.
//
// With server_audit_output_type=syslog the record is prefixed with a syslog
// header and loses its own timestamp:
//
//	<190>Sep 14 17:46:51 centos mysql-server_auditing: <syslog_info> centos,root,localhost,11,117,QUERY,…
//
// The prefix (optional <PRI>, an RFC 3164 or RFC 3339 time, an optional host,
// any ident ending in ':', and the optional server_audit_syslog_info text) is
// stripped and the time taken from the header (RFC 3164 has no year: it is
// taken from Options.Now, a year earlier when that would be more than a day
// in the future).
//
// Counting rules:
//
//   - CONNECT is a login (retcode 0 success, else failure); CHANGEUSER is a
//     login with action change_user; FAILED_CONNECT is a failed login.
//   - MariaDB follows every FAILED_CONNECT with "DISCONNECT …,0" for the same
//     connection id. That DISCONNECT is (false, nil): a failed login is one
//     event, not also a logout. The ids of pending failures are kept in a
//     fixed-size table (4096 in flight), so the state is bounded.
//   - PROXY_CONNECT follows the CONNECT of the same login and is (false, nil).
//   - QUERY is the statement: its verb gives the action; retcode 0 is success;
//     1044/1045/1142/1143/1227/1370/1410 (classify.DeniedErrno) is
//     access_denied; any other retcode keeps the verb's category with outcome
//     failure.
//   - TABLE events (CREATE, READ, WRITE, ALTER, RENAME, DROP) are written
//     before the QUERY record of the same statement (same connection and
//     query id) and repeat what it says, once per table touched (a GRANT
//     writes several mysql.* tables). They are never events of their own
//     ((false, nil)): their "database.table" names are collected and become
//     the Objects of the QUERY event that follows, so a statement counts
//     exactly once (the statistics tables mysql.table_stats, column_stats
//     and index_stats, touched behind every table, are left out). A consequence: with server_audit_events=TABLE alone (no
//     QUERY, QUERY_DDL, QUERY_DML or QUERY_DCL) no statement is counted;
//     configure QUERY events for dbsec.
//
// Statements and raw records go through redact.String: MariaDB masks the
// passwords of CREATE USER/GRANT/ALTER USER … IDENTIFIED BY, but not those of
// SET PASSWORD = PASSWORD('…').
package mariadbaudit

import (
	"bytes"
	"net/netip"
	"time"

	"github.com/dbsec/dbsec/pkg/classify"
	"github.com/dbsec/dbsec/pkg/event"
	"github.com/dbsec/dbsec/pkg/parse"
	"github.com/dbsec/dbsec/pkg/parse/internal/connset"
	"github.com/dbsec/dbsec/pkg/redact"
)

// Format is the parser unit "mariadb-audit".
var Format = parse.Format{
	Name:   "mariadb-audit",
	System: event.SystemMariaDB,
	Doc:    "MariaDB server_audit plugin log (file or syslog; 10.x and 12.x layouts)",
	New:    func(o parse.Options) parse.Parser { return New(o) },
}

// maxRecord bounds the size of a record (server_audit_query_log_limit is at
// most 2^31 but defaults to 1024; 1 MiB is generous).
const maxRecord = 1 << 20

// maxObjects bounds the tables collected from the TABLE events of one
// statement.
const maxObjects = 16

// Parser parses server_audit records. It is not safe for concurrent use.
type Parser struct {
	loc *time.Location
	now func() time.Time

	failed  connset.Set // connection ids whose FAILED_CONNECT awaits its DISCONNECT
	scratch []byte      // decoded statement

	// TABLE events of the statement in progress.
	tblConn, tblQuery []byte // copies
	tblBuf            []byte // "db.table" names, back to back
	tblEnds           [maxObjects]int
	tblN              int
}

// New returns a parser.
func New(o parse.Options) *Parser {
	o = o.Defaults()
	return &Parser{loc: o.Location, now: o.Now}
}

// Operation names.
var (
	opConnect      = []byte("CONNECT")
	opDisconnect   = []byte("DISCONNECT")
	opFailed       = []byte("FAILED_CONNECT")
	opChangeUser   = []byte("CHANGEUSER")
	opProxyConnect = []byte("PROXY_CONNECT")
	opQuery        = []byte("QUERY")
)

// Parse implements parse.Parser.
func (p *Parser) Parse(rec []byte, ev *event.Event) (bool, error) {
	if len(rec) > maxRecord {
		return false, parse.Errorf(parse.ReasonTooLong, maxRecord, "record longer than %d bytes", maxRecord)
	}
	if len(bytes.TrimSpace(rec)) == 0 {
		return false, nil
	}
	var (
		t    time.Time
		body []byte // the record from serverhost on
		base int    // offset of body in rec
		ok   bool
	)
	if t, ok = p.fileTime(rec); ok {
		if len(rec) < 18 || rec[17] != ',' {
			return false, parse.Errorf(parse.ReasonSyntax, 17, "expected ',' after the timestamp")
		}
		body, base = rec[18:], 18
	} else {
		if len(rec) > 8 && rec[8] == ' ' {
			if _, ok := parse.Digits(rec[:8]); ok {
				return false, parse.Errorf(parse.ReasonTimestamp, 0, "bad timestamp %q", rec[:min(17, len(rec))])
			}
		}
		var err error
		t, base, err = p.syslogPrefix(rec)
		if err != nil {
			return false, err
		}
		body = rec[base:]
		// A relay may keep the file record, timestamp included.
		if ft, ok := p.fileTime(body); ok && len(body) > 18 && body[17] == ',' {
			t = ft
			body, base = body[18:], base+18
		}
	}

	// Seven fixed fields from the left.
	var f [7][]byte
	i := 0
	for k := range f {
		j := bytes.IndexByte(body[i:], ',')
		if j < 0 {
			return false, parse.Errorf(parse.ReasonSyntax, base+len(body), "record has %d fields, want 10", k+2)
		}
		f[k] = body[i : i+j]
		i += j + 1
	}
	rest := body[i:]
	restBase := base + i
	// retcode from the right.
	j := bytes.LastIndexByte(rest, ',')
	if j < 0 {
		return false, parse.Errorf(parse.ReasonSyntax, base+len(body), "record has 9 fields, want 10")
	}
	object := rest[:j]
	retcode := bytes.TrimSpace(rest[j+1:])
	serverhost, user, host, connID, queryID, op, db := f[0], f[1], f[2], f[3], f[4], f[5], f[6]

	if _, ok := parse.Digits(connID); !ok {
		return false, parse.Errorf(parse.ReasonField, base, "bad connection id %q", connID)
	}
	if _, ok := parse.Digits(queryID); !ok {
		return false, parse.Errorf(parse.ReasonField, base, "bad query id %q", queryID)
	}

	ev.Time = t
	ev.System = event.SystemMariaDB
	ev.Format = Format.Name
	ev.Raw = parse.S(rec) // redacted below for QUERY, the only records with SQL
	ev.Server = parse.S(serverhost)
	ev.User = parse.S(user)
	ev.ConnectionID = parse.S(connID)
	ev.Database = parse.S(db)
	h, port := splitHost(host)
	ev.ClientIP = parse.S(h)
	ev.ClientPort = port

	switch {
	case isTableOp(op):
		if len(retcode) != 0 {
			if _, ok := parse.Digits(retcode); !ok {
				return false, parse.Errorf(parse.ReasonField, restBase+j+1, "bad retcode %q", retcode)
			}
		}
		p.addTable(connID, queryID, db, object, op)
		return false, nil
	}

	code, ok := parse.Int(retcode)
	if !ok {
		return false, parse.Errorf(parse.ReasonField, restBase+j+1, "bad retcode %q", retcode)
	}
	ev.StatusCode = parse.S(retcode)
	ev.Outcome = outcome(code)

	switch {
	case bytes.Equal(op, opConnect):
		ev.Action = event.ActionConnect
		ev.Category = event.CategoryLogin
		return true, nil
	case bytes.Equal(op, opChangeUser):
		ev.Action = event.ActionChangeUser
		ev.Category = event.CategoryLogin
		return true, nil
	case bytes.Equal(op, opFailed):
		ev.Action = event.ActionConnect
		ev.Category = event.CategoryLogin
		ev.Outcome = event.OutcomeFailure
		if id, ok := parse.Digits(connID); ok {
			p.failed.Add(uint64(id))
		}
		return true, nil
	case bytes.Equal(op, opDisconnect):
		if id, ok := parse.Digits(connID); ok && p.failed.Remove(uint64(id)) {
			return false, nil // the end of a failed login, already counted
		}
		ev.Action = event.ActionDisconnect
		ev.Category = event.CategoryLogout
		return true, nil
	case bytes.Equal(op, opProxyConnect):
		return false, nil // the CONNECT before it counted the login
	case bytes.Equal(op, opQuery):
	default:
		return false, parse.Errorf(parse.ReasonUnknownEvent, base, "unknown operation %q", op)
	}

	stmt, err := p.statement(object, restBase)
	if err != nil {
		return false, err
	}
	redactQuery(ev, stmt)
	ev.Action = classify.Statement(ev.Statement)
	ev.Category = classify.Category(ev.Action, code != 0 && classify.DeniedErrno(code))
	p.takeTables(connID, queryID, ev)
	return true, nil
}

// redactQuery sets the statement and redacts it and the raw record. The
// statement is usually a part of the record: when the record mentions no
// credential word, neither does the statement, and it is not scanned again.
func redactQuery(ev *event.Event, stmt []byte) {
	raw, rawClean := redact.Record(ev.Raw)
	ev.Statement = redact.StringIn(parse.S(stmt), ev.Raw, rawClean)
	ev.Raw = raw
}

func outcome(code int64) event.Outcome {
	if code == 0 {
		return event.OutcomeSuccess
	}
	return event.OutcomeFailure
}

func isTableOp(op []byte) bool {
	switch string(op) {
	case "CREATE", "READ", "WRITE", "ALTER", "RENAME", "DROP":
		return true
	}
	return false
}

// fileTime parses the "YYYYMMDD HH:MM:SS" prefix of a file record.
func (p *Parser) fileTime(b []byte) (time.Time, bool) {
	if len(b) < 17 || b[8] != ' ' || b[11] != ':' || b[14] != ':' {
		return time.Time{}, false
	}
	y, ok1 := num(b[0:4])
	mo, ok2 := num(b[4:6])
	d, ok3 := num(b[6:8])
	h, ok4 := num(b[9:11])
	mi, ok5 := num(b[12:14])
	s, ok6 := num(b[15:17])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60 {
		return time.Time{}, false
	}
	return time.Date(y, time.Month(mo), d, h, mi, s, 0, p.loc).UTC(), true
}

func num(b []byte) (int, bool) {
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, len(b) > 0
}

// syslogPrefix parses "[<PRI>]TIME [HOST] IDENT: [INFO ]" and returns the time
// and the offset of the server_audit fields (serverhost first).
func (p *Parser) syslogPrefix(rec []byte) (time.Time, int, error) {
	i := 0
	if len(rec) > 0 && rec[0] == '<' {
		j := bytes.IndexByte(rec, '>')
		if j < 2 || j > 4 {
			return time.Time{}, 0, parse.Errorf(parse.ReasonSyntax, 0, "bad syslog priority")
		}
		if _, ok := parse.Digits(rec[1:j]); !ok {
			return time.Time{}, 0, parse.Errorf(parse.ReasonSyntax, 1, "bad syslog priority")
		}
		i = j + 1
		// RFC 5424 version "1 ".
		if i+1 < len(rec) && rec[i] == '1' && rec[i+1] == ' ' {
			i += 2
		}
	}
	t, n, ok := p.syslogTime(rec[i:])
	if !ok {
		return time.Time{}, 0, parse.Errorf(parse.ReasonTimestamp, i, "no server_audit or syslog timestamp")
	}
	i += n
	// Up to two words: [host] ident:
	for w := 0; ; w++ {
		for i < len(rec) && rec[i] == ' ' {
			i++
		}
		j := i
		for j < len(rec) && rec[j] != ' ' {
			j++
		}
		if j > i && rec[j-1] == ':' {
			i = j
			break
		}
		if w == 1 || j == i {
			return time.Time{}, 0, parse.Errorf(parse.ReasonSyntax, i, "no syslog ident")
		}
		i = j
	}
	for i < len(rec) && rec[i] == ' ' {
		i++
	}
	// server_audit_syslog_info (if set) precedes serverhost with a space;
	// serverhost has none.
	c := bytes.IndexByte(rec[i:], ',')
	if c < 0 {
		return time.Time{}, 0, parse.Errorf(parse.ReasonSyntax, len(rec), "no server_audit record after the syslog prefix")
	}
	if _, ok := p.fileTime(rec[i:]); ok && c == 17 {
		return t, i, nil // a relayed file record: its own time wins
	}
	if s := bytes.LastIndexByte(rec[i:i+c], ' '); s >= 0 {
		i += s + 1
	}
	return t, i, nil
}

// syslogTime parses an RFC 3164 "Mmm dd hh:mm:ss" or an RFC 3339 time.
func (p *Parser) syslogTime(b []byte) (time.Time, int, bool) {
	if len(b) >= 19 && b[4] == '-' && (b[10] == 'T' || b[10] == ' ') {
		y, mo, d, h, mi, s, nsec, end, ok := parse.Clock(b)
		if !ok {
			return time.Time{}, 0, false
		}
		k := end
		for k < len(b) && b[k] != ' ' {
			k++
		}
		if k == end {
			return time.Date(y, time.Month(mo), d, h, mi, s, nsec, p.loc).UTC(), k, true
		}
		off, ok := parse.Offset(b[end:k])
		if !ok {
			return time.Time{}, 0, false
		}
		return parse.DateUTC(y, mo, d, h, mi, s, nsec, off), k, true
	}
	if len(b) < 15 || b[3] != ' ' || b[9] != ':' || b[12] != ':' {
		return time.Time{}, 0, false
	}
	mo := parse.Month(b[:3])
	day := b[4:6]
	if day[0] == ' ' {
		day = day[1:]
	}
	d, ok1 := num(day)
	h, ok2 := num(b[7:9])
	mi, ok3 := num(b[10:12])
	s, ok4 := num(b[13:15])
	if mo == 0 || !(ok1 && ok2 && ok3 && ok4) || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60 {
		return time.Time{}, 0, false
	}
	now := p.now().In(p.loc)
	t := time.Date(now.Year(), time.Month(mo), d, h, mi, s, 0, p.loc)
	if t.Sub(now) > 24*time.Hour {
		t = time.Date(now.Year()-1, time.Month(mo), d, h, mi, s, 0, p.loc)
	}
	return t.UTC(), 15, true
}

// splitHost splits "host:port" (MariaDB ≥ 12.0.1 over TCP). A host without a
// port, an IPv6 address without one (10.x) and "host:unavailable"
// (Enterprise, sockets) give port 0.
func splitHost(b []byte) ([]byte, uint16) {
	i := bytes.LastIndexByte(b, ':')
	if i < 0 {
		return b, 0
	}
	tail := b[i+1:]
	if string(tail) == "unavailable" {
		return b[:i], 0
	}
	n, ok := parse.Digits(tail)
	if !ok || n > 65535 {
		return b, 0
	}
	h := b[:i]
	if bytes.IndexByte(h, ':') >= 0 {
		// IPv6: "[::1]:port", or a bare address (10.x) whose last group
		// looks like a port.
		if len(h) > 2 && h[0] == '[' && h[len(h)-1] == ']' {
			return h[1 : len(h)-1], uint16(n)
		}
		if _, err := netip.ParseAddr(parse.S(b)); err == nil && len(tail) <= 4 {
			return b, 0
		}
	}
	return h, uint16(n)
}

// statement decodes the quoted statement of a QUERY record.
func (p *Parser) statement(obj []byte, col int) ([]byte, error) {
	if len(obj) == 0 || obj[0] != '\'' {
		return obj, nil // unquoted (not written by current versions): verbatim
	}
	in := obj[1:]
	esc := bytes.IndexByte(in, '\\')
	q := bytes.IndexByte(in, '\'')
	if esc < 0 || (q >= 0 && q < esc) {
		if q < 0 || q != len(in)-1 {
			return nil, parse.Errorf(parse.ReasonField, col+1+max(q, len(in)), "statement quote not closed at the end of the field")
		}
		return in[:q], nil
	}
	out := p.scratch[:0]
	for k := 0; k < len(in); k++ {
		// Copy the run up to the next quote or backslash at once.
		n := k
		for n < len(in) && in[n] != '\'' && in[n] != '\\' {
			n++
		}
		out = append(out, in[k:n]...)
		if k = n; k == len(in) {
			break
		}
		c := in[k]
		switch c {
		case '\'':
			if k != len(in)-1 {
				return nil, parse.Errorf(parse.ReasonField, col+1+k, "unescaped quote inside the statement")
			}
			p.scratch = out
			return out, nil
		case '\\':
			if k+1 >= len(in) {
				out = append(out, c)
				continue
			}
			k++
			switch in[k] {
			case 'n':
				out = append(out, '\n')
			case 'r':
				out = append(out, '\r')
			case 't':
				out = append(out, '\t')
			case '\'', '\\':
				out = append(out, in[k])
			default:
				out = append(out, '\\', in[k])
			}
		}
	}
	p.scratch = out
	return nil, parse.Errorf(parse.ReasonField, col+len(obj), "statement quote not closed")
}

// addTable records the table of a TABLE event for the QUERY record of the
// same connection and query id.
func (p *Parser) addTable(conn, query, db, obj, op []byte) {
	if !bytes.Equal(conn, p.tblConn) || !bytes.Equal(query, p.tblQuery) {
		p.tblConn = append(p.tblConn[:0], conn...)
		p.tblQuery = append(p.tblQuery[:0], query...)
		p.tblBuf = p.tblBuf[:0]
		p.tblN = 0
	}
	if string(op) == "RENAME" {
		// object is "old|newdb.new".
		if k := bytes.IndexByte(obj, '|'); k >= 0 {
			p.addName(db, obj[:k])
			p.addName(nil, obj[k+1:])
			return
		}
	}
	if string(db) == "mysql" && isStatsTable(obj) {
		return
	}
	p.addName(db, obj)
}

// isStatsTable reports the engine-independent statistics tables that
// MariaDB reads (and writes on DROP) behind every table it opens; they would
// only add noise to Objects.
func isStatsTable(obj []byte) bool {
	switch string(obj) {
	case "table_stats", "column_stats", "index_stats":
		return true
	}
	return false
}

// addName appends "db.obj" (or "obj") unless it is listed already.
func (p *Parser) addName(db, obj []byte) {
	if p.tblN == maxObjects || len(obj) == 0 {
		return
	}
	start := len(p.tblBuf)
	p.tblBuf = append(p.tblBuf, db...)
	if len(db) > 0 {
		p.tblBuf = append(p.tblBuf, '.')
	}
	p.tblBuf = append(p.tblBuf, obj...)
	name := p.tblBuf[start:]
	s := 0
	for k := 0; k < p.tblN; k++ {
		if bytes.Equal(p.tblBuf[s:p.tblEnds[k]], name) {
			p.tblBuf = p.tblBuf[:start] // already listed
			return
		}
		s = p.tblEnds[k]
	}
	p.tblEnds[p.tblN] = len(p.tblBuf)
	p.tblN++
}

// takeTables moves the tables collected for (conn, query) into ev.Objects.
func (p *Parser) takeTables(conn, query []byte, ev *event.Event) {
	if p.tblN == 0 {
		return
	}
	if bytes.Equal(conn, p.tblConn) && bytes.Equal(query, p.tblQuery) {
		s := 0
		for k := 0; k < p.tblN; k++ {
			ev.Objects = append(ev.Objects, parse.S(p.tblBuf[s:p.tblEnds[k]]))
			s = p.tblEnds[k]
		}
	}
	p.tblN = 0
	p.tblConn = p.tblConn[:0]
	p.tblQuery = p.tblQuery[:0]
}

var _ parse.Parser = (*Parser)(nil)
