// Package tidblog parses the security-relevant lines of tidb.log (format name
// "tidb-log", docs/formats.md) and ignores everything else:
//
//   - failed logins: the WARN pair "open new session or authentication
//     failure" and "Server.onConn handshake" with the same conn, counted once;
//   - statement-level failures, "command dispatched failed": a privilege
//     error ([planner:1142], 1143, 1227, 1044, 8121 …) is access_denied, any
//     other error is category error;
//   - "CRUCIAL OPERATION" (DDL, user and privilege changes, BRIE, bindings),
//     always logged by TiDB before the statement runs, so the outcome is
//     unknown;
//   - "connection event" (login_success, logout; opt-in in the newest TiDB).
//
// Every other well-formed unified-log line gives (false, nil). A line that is
// not in the unified log format is a *parse.Error.
package tidblog

import (
	"bytes"
	"net/netip"

	"github.com/dbsec/dbsec/pkg/classify"
	"github.com/dbsec/dbsec/pkg/event"
	"github.com/dbsec/dbsec/pkg/parse"
	"github.com/dbsec/dbsec/pkg/parse/internal/connset"
	"github.com/dbsec/dbsec/pkg/parse/unified"
)

// Format is the parser unit "tidb-log".
var Format = parse.Format{
	Name:   "tidb-log",
	System: event.SystemTiDB,
	Doc:    "tidb.log security lines (text or log.format = json): failed logins, denied statements, CRUCIAL OPERATION, connection events",
	New:    func(parse.Options) parse.Parser { return New() },
}

// Parser parses tidb.log lines. It is not safe for concurrent use.
type Parser struct {
	tok  unified.Tokenizer
	json unified.JSON
	seen connset.Set
}

// New returns a parser.
func New() *Parser { return &Parser{} }

type message uint8

const (
	msgNone message = iota
	msgAuthFailure
	msgHandshake
	msgDispatchFailed
	msgCrucial
	msgConnEvent
)

func classifyMessage(m []byte) message {
	switch string(m) {
	case "open new session or authentication failure":
		return msgAuthFailure
	case "Server.onConn handshake":
		return msgHandshake
	case "command dispatched failed":
		return msgDispatchFailed
	case "CRUCIAL OPERATION":
		return msgCrucial
	case "connection event":
		return msgConnEvent
	}
	return msgNone
}

// Parse implements parse.Parser. A line of log.format = "json" is read as
// its text form (unified.JSON); the event keeps the JSON line as Raw.
func (p *Parser) Parse(rec []byte, ev *event.Event) (bool, error) {
	if unified.IsJSON(rec) {
		text, err := p.json.Text(rec)
		if err != nil {
			return false, err
		}
		ok, err := p.parseText(text, ev)
		if ok {
			ev.Raw = parse.S(rec)
		}
		return ok, err
	}
	return p.parseText(rec, ev)
}

func (p *Parser) parseText(rec []byte, ev *event.Event) (bool, error) {
	if len(bytes.TrimSpace(rec)) == 0 {
		return false, nil
	}
	p.tok.Reset(rec)
	// Positional fields: time, level, caller (optional), message (optional).
	var (
		ts  []byte
		msg message
		n   int
		kv  unified.Field
		hkv bool
	)
	for {
		f, ok, err := p.tok.Next()
		if err != nil {
			return false, err
		}
		if !ok {
			break
		}
		if f.Key != nil {
			kv, hkv = f, true
			break
		}
		switch n {
		case 0:
			ts = f.Value
		case 1:
		default:
			// The caller is omitted with DisableCaller, so the message is
			// whichever later positional field matches.
			if m := classifyMessage(f.Value); m != msgNone {
				msg = m
			}
		}
		n++
	}
	if n == 0 {
		return false, parse.Errorf(parse.ReasonSyntax, 0, "not a unified-log line")
	}
	t, ok := unified.ParseTime(ts)
	if !ok {
		return false, parse.Errorf(parse.ReasonTimestamp, 1, "bad time %q", ts)
	}
	if n < 2 {
		return false, parse.Errorf(parse.ReasonSyntax, 0, "no level")
	}
	if msg == msgNone {
		return false, nil
	}

	// Key/value fields of the lines we keep.
	var conn, errText, sql, secure, connInfo, user, addr, curDB, evName, command []byte
	haveSQL := false
	for {
		if hkv {
			v := kv.Value
			switch string(kv.Key) {
			case "conn":
				conn = v
			case "error", "err":
				errText = v
			case "sql":
				sql, haveSQL = v, true
			case "secure text":
				secure, haveSQL = v, true
			case "connInfo":
				connInfo = v
			case "user":
				user = v
			case "remote addr", "remoteAddr":
				addr = v
			case "cur_db":
				curDB = v
			case "event":
				evName = v
			case "command":
				command = v
			}
		}
		f, ok, err := p.tok.Next()
		if err != nil {
			return false, err
		}
		if !ok {
			break
		}
		kv, hkv = f, f.Key != nil
	}

	ev.Time = t
	ev.System = event.SystemTiDB
	ev.Format = Format.Name
	ev.Raw = parse.S(rec)
	ev.ConnectionID = parse.S(conn)

	switch msg {
	case msgAuthFailure, msgHandshake:
		_, codeText, ok := errno(errText)
		if msg == msgHandshake && !ok {
			// Handshake errors without a TiDB error code are network or
			// protocol problems (TLS, EOF, timeouts), not login attempts.
			return false, nil
		}
		if id, ok := parse.Digits(conn); ok && p.seen.SeenOrAdd(uint64(id)) {
			return false, nil // the other line of the same attempt
		}
		ev.Category = event.CategoryLogin
		ev.Action = event.ActionConnect
		ev.Outcome = event.OutcomeFailure
		ev.StatusCode = parse.S(codeText)
		ev.Reason = parse.S(firstLine(errText))
		if u, h, ok := accessDenied(errText); ok {
			ev.User = parse.S(u)
			ev.ClientIP = parse.S(h)
		}
		if ip, port, ok := hostPort(addr); ok {
			ev.ClientIP = parse.S(ip)
			ev.ClientPort = port
		}
		return true, nil

	case msgDispatchFailed:
		ev.Statement = parse.S(sql)
		ev.Action = classify.Statement(ev.Statement)
		if len(sql) == 0 && string(command) == "Init DB" {
			ev.Action = event.ActionUse // COM_INIT_DB carries no SQL text
		}
		ev.Outcome = event.OutcomeFailure
		code, codeText, ok := errno(errText)
		denied := ok && classify.DeniedErrno(code)
		if !ok && bytes.Contains(errText, []byte("denied")) {
			denied = true
		}
		if denied {
			ev.Category = event.CategoryAccessDenied
		} else {
			ev.Category = event.CategoryError
		}
		ev.StatusCode = parse.S(codeText)
		ev.Reason = parse.S(firstLine(errText))
		if u, ip, port, ok := parseConnInfo(connInfo); ok {
			ev.User = parse.S(u)
			ev.ClientIP = parse.S(ip)
			ev.ClientPort = port
		}
		return true, nil

	case msgCrucial:
		if !haveSQL {
			return false, parse.Errorf(parse.ReasonField, 0, "CRUCIAL OPERATION without sql or secure text")
		}
		stmt := sql
		if secure != nil {
			stmt = secure
		}
		ev.Statement = parse.S(stmt)
		ev.Action = classify.Statement(ev.Statement)
		ev.Category = ev.Action.Category()
		ev.Outcome = event.OutcomeUnknown
		ev.Database = parse.S(curDB)
		p.userHost(ev, user)
		return true, nil

	case msgConnEvent:
		switch string(evName) {
		case "login_success":
			ev.Action = event.ActionConnect
		case "logout":
			ev.Action = event.ActionDisconnect
		default:
			return false, parse.Errorf(parse.ReasonUnknownEvent, 0, "unknown connection event %q", evName)
		}
		ev.Category = ev.Action.Category()
		ev.Outcome = event.OutcomeSuccess
		p.userHost(ev, user)
		if ip, port, ok := hostPort(addr); ok {
			ev.ClientIP = parse.S(ip)
			ev.ClientPort = port
		}
		return true, nil
	}
	return false, nil
}

// userHost fills User (and ClientIP when the host part is an address, not a
// pattern such as '%') from "user@host".
func (p *Parser) userHost(ev *event.Event, uh []byte) {
	i := bytes.LastIndexByte(uh, '@')
	if i < 0 {
		ev.User = parse.S(uh)
		return
	}
	ev.User = parse.S(uh[:i])
	if h := uh[i+1:]; isIP(h) {
		ev.ClientIP = parse.S(h)
	}
}

func isIP(b []byte) bool {
	// An account host such as % or a name is not an address; checking
	// first spares ParseAddr's error (an allocation) on every such line.
	if len(b) == 0 || !(b[0] >= '0' && b[0] <= '9' || b[0] == ':' || (b[0]|0x20) >= 'a' && (b[0]|0x20) <= 'f') {
		return false
	}
	_, err := netip.ParseAddr(parse.S(b))
	return err == nil
}

// errno reads the "[component:NNNN]" prefix of a TiDB error text.
func errno(e []byte) (code int64, text []byte, ok bool) {
	if len(e) < 4 || e[0] != '[' {
		return 0, nil, false
	}
	end := bytes.IndexByte(e, ']')
	if end < 0 {
		return 0, nil, false
	}
	colon := bytes.LastIndexByte(e[:end], ':')
	if colon < 0 {
		return 0, nil, false
	}
	text = e[colon+1 : end]
	code, ok = parse.Digits(text)
	if !ok {
		return 0, nil, false
	}
	return code, text, true
}

// accessDenied extracts u and h from "… Access denied for user 'u'@'h' …".
func accessDenied(e []byte) (user, host []byte, ok bool) {
	const pfx = "Access denied for user '"
	i := bytes.Index(e, []byte(pfx))
	if i < 0 {
		return nil, nil, false
	}
	rest := e[i+len(pfx):]
	j := bytes.Index(rest, []byte("'@'"))
	if j < 0 {
		return nil, nil, false
	}
	user = rest[:j]
	rest = rest[j+3:]
	k := bytes.IndexByte(rest, '\'')
	if k < 0 {
		return nil, nil, false
	}
	return user, rest[:k], true
}

// hostPort splits "ip:port" (IPv6 as "[ip]:port").
func hostPort(b []byte) (host []byte, port uint16, ok bool) {
	i := bytes.LastIndexByte(b, ':')
	if i <= 0 {
		return nil, 0, false
	}
	host = b[:i]
	n, ok := parse.Digits(b[i+1:])
	if !ok || n > 65535 {
		return nil, 0, false
	}
	if len(host) > 2 && host[0] == '[' && host[len(host)-1] == ']' {
		host = host[1 : len(host)-1]
	}
	return host, uint16(n), true
}

// parseConnInfo reads user and client address from connInfo, e.g.
// "id:7, addr:127.0.0.1:43446 status:10, collation:utf8mb4_0900_ai_ci, user:root".
func parseConnInfo(b []byte) (user, ip []byte, port uint16, ok bool) {
	if i := bytes.Index(b, []byte("addr:")); i >= 0 && (i == 0 || b[i-1] == ' ') {
		a := b[i+5:]
		if j := bytes.IndexAny(a, " ,"); j >= 0 {
			a = a[:j]
		}
		ip, port, _ = hostPort(a)
	}
	if i := bytes.LastIndex(b, []byte("user:")); i >= 0 && (i == 0 || b[i-1] == ' ') {
		u := b[i+5:]
		if j := bytes.IndexByte(u, ','); j >= 0 {
			u = u[:j]
		}
		user = u
	}
	return user, ip, port, user != nil || ip != nil
}

func firstLine(b []byte) []byte {
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		return b[:i]
	}
	return b
}

var _ parse.Parser = (*Parser)(nil)
