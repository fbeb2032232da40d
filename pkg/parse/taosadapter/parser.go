// Package taosadapter parses taosAdapter logs (format name "taosadapter",
// docs/formats.md), both layouts:
//
//	≥ 3.3.3: MM/DD HH:MM:SS.uuuuuu <pid> <MODEL> <LEVEL> [SID:0x…, ][QID:0x… ]<message>
//	≤ 3.3.2: MM/DD HH:MM:SS.uuuuuu <pid> TAOS_ADAPTER <level> "<message>" key=value…
//
// No year and no zone: see tdengine.YearLess. The 3-line banner written at
// the top of every new file ("=====…", "new log file…") gives (false, nil).
//
// Events:
//
//   - access line ("finish request, status_code:…, client_ip:…, method:…,
//     uri:…" or "| <status> | <latency> | <ip> | <method> | <uri> ")
//     answered 403 = access_denied (unless a whitelist/reject-sql line with
//     the same QID already counted the request); other access lines give (false, nil)
//     (one per request: counting them would flood; a 401 is the visible side
//     of the authentication failure below);
//   - "whitelist prohibits current IP access, ip:…" = access_denied;
//   - "reject sql, client_ip:…, port:…, user:…, app:…, reject_regex:…,
//     sql:…" = access_denied with the statement's verb;
//   - "[0x357] Authentication failure" on the request line (RST/WS "connect
//     server error, ip:…", with the client address) or on the connection
//     pool's line ("CNP … connect to taos failed: [0x357] …, user:…", with
//     the user; the only line when the pool itself fails to log in) — see
//     "Counting a login failure once" below; of the two lines of one
//     attempt (within 100 ms of each other, in either order) the first
//     counts;
//   - any other error/fatal/panic line = category error.
//
// # Counting a login failure once
//
// A wrong password through taosAdapter is logged by taosd too ("user:U,
// failed to login from IP since Authentication failure", package tdengine),
// which counts it as category login, outcome failure. So by default this
// format reports its own view of the failure as category error (action
// connect, outcome failure, StatusCode "0x357", Reason "Authentication
// failure") — visible, but not a second login failure. When taosd's log is
// not read, New(o, Config{CountLogins: true}) makes it a login failure
// instead.
package taosadapter

import (
	"bytes"
	"time"

	"github.com/dbsec/dbsec/pkg/classify"
	"github.com/dbsec/dbsec/pkg/event"
	"github.com/dbsec/dbsec/pkg/parse"
	"github.com/dbsec/dbsec/pkg/parse/tdengine"
)

// FormatName is the name of this format.
const FormatName = "taosadapter"

// Format is the parser unit "taosadapter" (default Config: login failures
// are counted by tdengine-taosd).
var Format = parse.Format{
	Name:   FormatName,
	System: event.SystemTDengine,
	Doc:    "taosAdapter log (≤3.3.2 and ≥3.3.3 layouts): 403s, whitelist/reject-sql denials, authentication failures, errors",
	New:    func(o parse.Options) parse.Parser { return New(o, Config{}) },
}

// Config tunes the parser.
type Config struct {
	// CountLogins reports authentication failures as category login
	// instead of error. Set it only when taosd's log is not also read.
	CountLogins bool
}

// MaxRecord is the longest line accepted.
const MaxRecord = 64 << 10

// Parser parses taosAdapter lines. It is not safe for concurrent use.
type Parser struct {
	opts parse.Options
	cfg  Config
	// QIDs of recent whitelist/reject-sql denials, so that the 403 access
	// line of the same request is not counted again.
	denied [8]qid
	next   int
	// lastAuth is when the last authentication failure was counted: the
	// request's line (RST/WS, with the client address) and the connection
	// pool's line (CNP, with the user) of one attempt come within
	// authPair of each other, in either order.
	lastAuth time.Time
}

// authPair is how close the request's and the pool's lines of one failed
// attempt are.
const authPair = 100 * time.Millisecond

type qid struct {
	n   int
	buf [24]byte
}

func (p *Parser) rememberDenied(q []byte) {
	if len(q) == 0 {
		return
	}
	d := &p.denied[p.next]
	p.next = (p.next + 1) % len(p.denied)
	d.n = copy(d.buf[:], q)
}

func (p *Parser) wasDenied(q []byte) bool {
	if len(q) == 0 {
		return false
	}
	for i := range p.denied {
		d := &p.denied[i]
		if d.n > 0 && string(d.buf[:d.n]) == string(q) {
			d.n = 0
			return true
		}
	}
	return false
}

// New returns a parser.
func New(o parse.Options, cfg Config) *Parser { return &Parser{opts: o.Defaults(), cfg: cfg} }

type line struct {
	t     time.Time
	model []byte
	level []byte
	msg   []byte // unquoted view for the old layout (escapes kept)
	kv    []byte // old layout: key=value… after the message
	old   bool
	qid   []byte
}

// Parse implements parse.Parser.
func (p *Parser) Parse(rec []byte, ev *event.Event) (bool, error) {
	if len(rec) > MaxRecord {
		return false, parse.Errorf(parse.ReasonTooLong, MaxRecord, "line longer than %d bytes", MaxRecord)
	}
	tr := bytes.TrimSpace(rec)
	if len(tr) == 0 || isBanner(tr) {
		return false, nil
	}
	var l line
	if err := p.split(rec, &l); err != nil {
		return false, err
	}
	fill := func() {
		ev.Time = l.t
		ev.System = event.SystemTDengine
		ev.Format = FormatName
		ev.Raw = parse.S(rec)
		if l.qid != nil {
			ev.ConnectionID = parse.S(l.qid)
		}
	}
	msg := l.msg

	// Access lines.
	if st, ip, method, uri, ok := access(msg, l.old); ok {
		if string(st) != "403" || p.wasDenied(l.qid) {
			return false, nil
		}
		fill()
		ev.Category = event.CategoryAccessDenied
		ev.Action = event.ActionOther
		ev.Outcome = event.OutcomeFailure
		ev.StatusCode = parse.S(st)
		ev.ClientIP = parse.S(ip)
		_ = method
		if len(uri) > 0 {
			ev.Objects = append(ev.Objects, parse.S(uri))
		}
		return true, nil
	}
	if i := bytes.Index(msg, []byte("whitelist prohibits current IP access")); i >= 0 {
		fill()
		ev.Category = event.CategoryAccessDenied
		ev.Action = event.ActionConnect
		ev.Outcome = event.OutcomeFailure
		ev.StatusCode = "403"
		ev.Reason = "whitelist prohibits current IP access"
		p.rememberDenied(l.qid)
		ev.ClientIP = parse.S(value(msg[i:], "ip:"))
		return true, nil
	}
	if bytes.HasPrefix(msg, []byte("reject sql, ")) {
		fill()
		ev.Category = event.CategoryAccessDenied
		ev.Outcome = event.OutcomeFailure
		ev.StatusCode = "403"
		ev.Reason = "reject sql"
		p.rememberDenied(l.qid)
		ev.ClientIP = parse.S(value(msg, "client_ip:"))
		if port, ok := parse.Digits(value(msg, "port:")); ok && port < 65536 {
			ev.ClientPort = uint16(port)
		}
		ev.User = parse.S(value(msg, "user:"))
		if i := bytes.Index(msg, []byte(", sql:")); i >= 0 {
			ev.Statement = parse.S(msg[i+6:])
		}
		ev.Action = classify.Statement(ev.Statement)
		return true, nil
	}
	if bytes.Contains(msg, []byte("Authentication failure")) {
		if !p.lastAuth.IsZero() && l.t.Sub(p.lastAuth).Abs() <= authPair {
			// The other line of an attempt already counted.
			p.lastAuth = time.Time{}
			return false, nil
		}
		p.lastAuth = l.t
		fill()
		ev.Action = event.ActionConnect
		ev.Outcome = event.OutcomeFailure
		ev.StatusCode = "0x357"
		ev.Reason = "Authentication failure"
		ev.Category = event.CategoryError
		if p.cfg.CountLogins {
			ev.Category = event.CategoryLogin
		}
		ev.ClientIP = parse.S(value(msg, "ip:"))
		if u := value(msg, "user:"); len(u) > 0 {
			ev.User = parse.S(u)
		}
		return true, nil
	}
	switch string(l.level) {
	case "error", "ERROR", "fatal", "FATAL", "panic", "PANIC":
		fill()
		ev.Category = event.CategoryError
		ev.Action = event.ActionOther
		ev.Outcome = event.OutcomeFailure
		ev.Reason = parse.S(msg)
		return true, nil
	}
	return false, nil
}

func isBanner(b []byte) bool {
	if bytes.HasPrefix(b, []byte("new log file")) {
		return true
	}
	for _, c := range b {
		if c != '=' {
			return false
		}
	}
	return true
}

func (p *Parser) split(rec []byte, l *line) error {
	t, i, ok := tdengine.ParseStamp(rec, p.opts)
	if !ok {
		return parse.Errorf(parse.ReasonTimestamp, 0, "no MM/DD HH:MM:SS.uuuuuu timestamp")
	}
	l.t = t
	rest := rec[i:]
	if len(rest) == 0 || rest[0] != ' ' {
		return parse.Errorf(parse.ReasonSyntax, i, "no pid")
	}
	pid, rest := word(rest[1:])
	if _, ok := parse.Digits(pid); !ok {
		return parse.Errorf(parse.ReasonSyntax, i+1, "bad pid %q", pid)
	}
	l.model, rest = word(rest)
	if len(l.model) == 0 {
		return parse.Errorf(parse.ReasonSyntax, len(rec)-len(rest), "no model")
	}
	l.level, rest = word(rest)
	if !isLevel(l.level) {
		return parse.Errorf(parse.ReasonSyntax, len(rec)-len(rest), "bad level %q", l.level)
	}
	if eqFold(l.model, "TAOS_ADAPTER") {
		l.old = true
		if len(rest) == 0 || rest[0] != '"' {
			return parse.Errorf(parse.ReasonSyntax, len(rec)-len(rest), "expected \"message\"")
		}
		end := -1
		for j := 1; j < len(rest); j++ {
			if rest[j] == '\\' {
				j++
				continue
			}
			if rest[j] == '"' {
				end = j
				break
			}
		}
		if end < 0 {
			return parse.Errorf(parse.ReasonEncoding, len(rec)-len(rest), "unterminated \"message\"")
		}
		l.msg = rest[1:end]
		l.kv = rest[end+1:]
		if q := kvValue(l.kv, "req_id="); q != nil {
			l.qid = q
		}
		return nil
	}
	// New layout: optional SID:…, and QID:… prefixes.
	if bytes.HasPrefix(rest, []byte("SID:")) {
		if k := bytes.Index(rest, []byte(", ")); k > 0 {
			rest = rest[k+2:]
		}
	}
	if bytes.HasPrefix(rest, []byte("QID:")) {
		var q []byte
		q, rest = word(rest)
		l.qid = bytes.TrimRight(q[4:], ",")
	}
	l.msg = rest
	return nil
}

func isLevel(b []byte) bool {
	switch string(b) {
	case "trace", "debug", "info", "warn", "warning", "error", "fatal", "panic",
		"TRACE", "DEBUG", "INFO", "WARN", "WARNING", "ERROR", "FATAL", "PANIC":
		return true
	}
	return false
}

func eqFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		c := b[i]
		if c >= 'a' && c <= 'z' {
			c -= 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}

func word(b []byte) (tok, rest []byte) {
	i := bytes.IndexByte(b, ' ')
	if i < 0 {
		return b, nil
	}
	tok, rest = b[:i], b[i+1:]
	for len(rest) > 0 && rest[0] == ' ' {
		rest = rest[1:]
	}
	return tok, rest
}

// value returns the text after key up to the next ',' or space.
func value(msg []byte, key string) []byte {
	i := bytes.Index(msg, []byte(key))
	for i > 0 && msg[i-1] != ' ' && msg[i-1] != ',' {
		j := bytes.Index(msg[i+1:], []byte(key))
		if j < 0 {
			return nil
		}
		i += 1 + j
	}
	if i < 0 {
		return nil
	}
	v := msg[i+len(key):]
	for k, c := range v {
		if c == ',' || c == ' ' {
			return v[:k]
		}
	}
	return v
}

func kvValue(kv []byte, key string) []byte {
	i := bytes.Index(kv, []byte(key))
	if i < 0 {
		return nil
	}
	v := kv[i+len(key):]
	if k := bytes.IndexByte(v, ' '); k >= 0 {
		v = v[:k]
	}
	return v
}

// access recognises the request line of either layout.
func access(msg []byte, old bool) (status, ip, method, uri []byte, ok bool) {
	if old {
		// "| 200 |  1.872017009s |   47.122.21.185 | POST | %2Frest%2Fsql "
		if len(msg) < 2 || msg[0] != '|' {
			return
		}
		var f [5][]byte
		rest := msg[1:]
		for n := range 5 {
			k := bytes.IndexByte(rest, '|')
			if k < 0 {
				if n != 4 {
					return
				}
				k = len(rest)
			}
			f[n] = bytes.TrimSpace(rest[:k])
			if k < len(rest) {
				rest = rest[k+1:]
			} else {
				rest = nil
			}
		}
		if _, okS := parse.Digits(f[0]); !okS {
			return
		}
		return f[0], f[2], f[3], f[4], true
	}
	if !bytes.HasPrefix(msg, []byte("finish request, status_code:")) {
		return
	}
	status = bytes.TrimSpace(value(msg, "status_code:"))
	if _, okS := parse.Digits(status); !okS {
		return nil, nil, nil, nil, false
	}
	return status, value(msg, "client_ip:"), value(msg, "method:"), value(msg, "uri:"), true
}

var _ parse.Parser = (*Parser)(nil)
