// Package nginxredash parses the access log of the nginx reverse proxy in
// front of Redash (format name "nginx-redash", docs/formats.md): nginx's
// predefined "combined" format and the Docker image's "main" format, which
// appends "$http_x_forwarded_for". Fields after the combined (or main) ones
// are ignored, so custom formats that only append fields also parse.
//
// Redash writes no log line for a failed login (docs/formats.md), so the
// proxy log is where failed logins are counted:
//
//   - POST /login or POST /<segment>/login (organisation login, /ldap/login):
//     302/303 = login success, 200 (form re-rendered with "Wrong email or
//     password") = login failure, 429 (REDASH_THROTTLE_LOGIN_PATTERN) =
//     login failure with Reason "throttled"; 401/403 = login failure; a 5xx
//     answer is category error; other statuses give (false, nil);
//   - GET/POST /logout (or /<segment>/logout) answered 2xx/3xx = logout;
//   - any other request answered 401 or 403 = access_denied;
//   - any other request carrying "api_key=" in its URI = read (API-key data
//     access, e.g. /api/queries/<id>/results.csv?api_key=…), outcome by status;
//   - any other request answered 5xx = error;
//   - every other line (page views, assets, API calls, 404s, the 400s of
//     malformed request lines such as a TLS ClientHello on the plain-HTTP
//     port) is an event with Traffic set, category other, outcome success
//     below 400 and failure from 400: the detection stage sees every
//     request (scanners, injection in the URL, bursts of 404s), but the
//     metrics do not count it and it is stored only when a rule fired.
//
// Fields: ClientIP = $remote_addr (X-Forwarded-For is not trusted, it is set
// by the client), User = $remote_user when not "-", StatusCode = $status,
// Objects = [request path without the query string], Reason for throttled
// logins. String fields keep nginx's \xHH escapes (escape=default), except
// User, which is unescaped.
//
// Secrets: the value of every "api_key=" in the record (URI and Referer) is
// replaced by "***" before anything is stored in the event, Raw included.
package nginxredash

import (
	"bytes"
	"time"

	"github.com/dbsec/dbsec/pkg/event"
	"github.com/dbsec/dbsec/pkg/parse"
)

// FormatName is the name of this format.
const FormatName = "nginx-redash"

// Format is the parser unit "nginx-redash".
var Format = parse.Format{
	Name:   FormatName,
	System: event.SystemRedash,
	Doc:    "nginx combined/main access log in front of Redash: logins (POST /login 302 ok, 200/429 failed), logouts, 401/403, api_key use, 5xx; every other request reaches the detectors only",
	New:    func(parse.Options) parse.Parser { return New(FormatName) },
}

// MaxRecord is the longest line accepted.
const MaxRecord = 64 << 10

// Parser parses combined/main access-log lines. It is not safe for
// concurrent use. The gunicorn package reuses it with its own format name.
type Parser struct {
	format  string
	scratch []byte // redacted copy of the record
	user    []byte // unescaped $remote_user
}

// New returns a parser that stamps events with the given format name.
func New(format string) *Parser { return &Parser{format: format} }

// Line is one access-log line split into its fields (views of the record).
type Line struct {
	Addr, User, Time, Request, Status, Bytes, Referer, Agent, XFF []byte
	HasXFF                                                        bool
	// Method, Path (without query), Query and Proto are the parts of Request;
	// Method is nil when the request line is malformed.
	Method, Path, Query, Proto []byte
}

// Split splits a combined/main line. It does not allocate.
func Split(rec []byte, l *Line) error {
	*l = Line{}
	i := bytes.IndexByte(rec, ' ')
	if i <= 0 {
		return parse.Errorf(parse.ReasonSyntax, 0, "no remote address")
	}
	l.Addr = rec[:i]
	rest := rec[i+1:]
	// $remote_addr - $remote_user [
	if len(rest) < 2 || rest[0] != '-' || rest[1] != ' ' {
		// gunicorn's %(l)s is also "-"
		return parse.Errorf(parse.ReasonSyntax, i+1, "expected \"- \" after the address")
	}
	rest = rest[2:]
	b := bytes.Index(rest, []byte(" ["))
	if b < 0 {
		return parse.Errorf(parse.ReasonSyntax, len(rec)-len(rest), "no [time]")
	}
	l.User = rest[:b]
	rest = rest[b+2:]
	e := bytes.IndexByte(rest, ']')
	if e < 0 {
		return parse.Errorf(parse.ReasonSyntax, len(rec)-len(rest), "unterminated [time]")
	}
	l.Time = rest[:e]
	rest = rest[e+1:]
	if len(rest) < 2 || rest[0] != ' ' || rest[1] != '"' {
		return parse.Errorf(parse.ReasonSyntax, len(rec)-len(rest), "expected \"request\"")
	}
	rest = rest[2:]
	// The request ends at the quote followed by " <3 digits> ". nginx escapes
	// quotes inside it; gunicorn does not, hence the status look-ahead.
	end := -1
	for j := 0; j < len(rest); j++ {
		k := bytes.IndexByte(rest[j:], '"')
		if k < 0 {
			break
		}
		j += k
		if t := rest[j+1:]; len(t) >= 5 && t[0] == ' ' && isDigit(t[1]) && isDigit(t[2]) && isDigit(t[3]) && t[4] == ' ' {
			end = j
			break
		}
	}
	if end < 0 {
		return parse.Errorf(parse.ReasonSyntax, len(rec)-len(rest), "unterminated \"request\" or no status")
	}
	l.Request = rest[:end]
	rest = rest[end+2:]
	l.Status = rest[:3]
	rest = rest[4:]
	sp := bytes.IndexByte(rest, ' ')
	if sp < 0 {
		sp = len(rest)
	}
	l.Bytes = rest[:sp]
	if !validBytes(l.Bytes) {
		return parse.Errorf(parse.ReasonField, len(rec)-len(rest), "bad body size %q", l.Bytes)
	}
	rest = rest[sp:]
	if len(rest) == 0 { // common log format: no referer, no agent
		splitRequest(l)
		return nil
	}
	var ok bool
	if l.Referer, rest, ok = quoted(rest); !ok {
		return parse.Errorf(parse.ReasonSyntax, len(rec)-len(rest), "expected \"referer\"")
	}
	if l.Agent, rest, ok = quoted(rest); !ok {
		return parse.Errorf(parse.ReasonSyntax, len(rec)-len(rest), "expected \"user agent\"")
	}
	if len(rest) > 0 {
		if l.XFF, _, ok = quoted(rest); ok {
			l.HasXFF = true
		}
	}
	splitRequest(l)
	return nil
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// validBytes accepts digits, or "-" (gunicorn's %(b)s for an empty body).
func validBytes(b []byte) bool {
	if len(b) == 1 && b[0] == '-' {
		return true
	}
	_, ok := parse.Digits(b)
	return ok
}

// quoted reads ` "…"` (the quote closes at the first '"' followed by a space
// or the end of the line).
func quoted(b []byte) (v, rest []byte, ok bool) {
	if len(b) < 3 || b[0] != ' ' || b[1] != '"' {
		return nil, b, false
	}
	b = b[2:]
	for j := 0; j < len(b); j++ {
		k := bytes.IndexByte(b[j:], '"')
		if k < 0 {
			return nil, b, false
		}
		j += k
		if j+1 == len(b) || b[j+1] == ' ' {
			return b[:j], b[j+1:], true
		}
	}
	return nil, b, false
}

// splitRequest splits "METHOD URI PROTO"; anything else leaves Method nil.
func splitRequest(l *Line) {
	r := l.Request
	sp := bytes.IndexByte(r, ' ')
	if sp <= 0 {
		return
	}
	m := r[:sp]
	for _, c := range m {
		if c < 'A' || c > 'Z' {
			return
		}
	}
	uri := r[sp+1:]
	if k := bytes.LastIndexByte(uri, ' '); k >= 0 && bytes.HasPrefix(uri[k+1:], []byte("HTTP/")) {
		l.Proto = uri[k+1:]
		uri = uri[:k]
	}
	if len(uri) == 0 || (uri[0] != '/' && !bytes.Contains(uri, []byte("://"))) {
		return
	}
	l.Method = m
	if q := bytes.IndexByte(uri, '?'); q >= 0 {
		l.Path, l.Query = uri[:q], uri[q+1:]
	} else {
		l.Path = uri
	}
}

// ParseTime parses $time_local / %(t)s, "02/Jan/2006:15:04:05 -0700",
// without allocating.
func ParseTime(b []byte) (time.Time, bool) {
	if len(b) != 26 || b[2] != '/' || b[6] != '/' || b[11] != ':' || b[14] != ':' || b[17] != ':' || b[20] != ' ' {
		return time.Time{}, false
	}
	mo := parse.Month(b[3:6])
	d, ok1 := parse.Digits(b[0:2])
	y, ok2 := parse.Digits(b[7:11])
	h, ok3 := parse.Digits(b[12:14])
	mi, ok4 := parse.Digits(b[15:17])
	s, ok5 := parse.Digits(b[18:20])
	off, ok6 := parse.Offset(b[21:26])
	if mo == 0 || !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60 {
		return time.Time{}, false
	}
	return parse.DateUTC(int(y), mo, int(d), int(h), int(mi), int(s), 0, off), true
}

// RedactAPIKeys appends src to dst with the value of every "api_key=" (also
// "api_key%3D") replaced by "***". It is the local stand-in for pkg/redact
// until that package exists.
func RedactAPIKeys(dst, src []byte) []byte {
	for {
		i, n := keyIndex(src)
		if i < 0 {
			return append(dst, src...)
		}
		dst = append(dst, src[:i+n]...)
		src = src[i+n:]
		j := 0
		for j < len(src) && !keyEnd(src[j]) {
			j++
		}
		if j > 0 {
			dst = append(dst, "***"...)
		}
		src = src[j:]
	}
}

// HasAPIKey reports whether b contains an api_key parameter.
func HasAPIKey(b []byte) bool {
	i, _ := keyIndex(b)
	return i >= 0
}

func keyIndex(b []byte) (int, int) {
	best, n := -1, 0
	if i := bytes.Index(b, []byte("api_key=")); i >= 0 {
		best, n = i, 8
	}
	if i := bytes.Index(b, []byte("api_key%3D")); i >= 0 && (best < 0 || i < best) {
		best, n = i, 10
	}
	if i := bytes.Index(b, []byte("api_key%3d")); i >= 0 && (best < 0 || i < best) {
		best, n = i, 10
	}
	return best, n
}

func keyEnd(c byte) bool {
	switch c {
	case '&', ' ', '"', '#', ';', '\t', '\\', '%', '\'':
		return true
	}
	return c < 0x20
}

// Parse implements parse.Parser.
func (p *Parser) Parse(rec []byte, ev *event.Event) (bool, error) {
	if len(rec) > MaxRecord {
		return false, parse.Errorf(parse.ReasonTooLong, MaxRecord, "line longer than %d bytes", MaxRecord)
	}
	if len(bytes.TrimSpace(rec)) == 0 {
		return false, nil
	}
	if HasAPIKey(rec) {
		p.scratch = RedactAPIKeys(p.scratch[:0], rec)
		rec = p.scratch
	}
	var l Line
	if err := Split(rec, &l); err != nil {
		return false, err
	}
	t, ok := ParseTime(l.Time)
	if !ok {
		return false, parse.Errorf(parse.ReasonTimestamp, 0, "bad time %q", l.Time)
	}
	status, _ := parse.Digits(l.Status)
	return p.Classify(rec, &l, t, status, ev), nil
}

// Classify applies the Redash semantics of the package comment to a split
// line and fills ev. rec must already be redacted.
func (p *Parser) Classify(rec []byte, l *Line, t time.Time, status int64, ev *event.Event) bool {
	post := string(l.Method) == "POST"
	switch {
	case post && isRoute(l.Path, "login"):
		ev.Category = event.CategoryLogin
		ev.Action = event.ActionConnect
		switch {
		case status == 302 || status == 303:
			ev.Outcome = event.OutcomeSuccess
		case status == 200 || status == 401 || status == 403:
			ev.Outcome = event.OutcomeFailure
		case status == 429:
			ev.Outcome = event.OutcomeFailure
			ev.Reason = "throttled"
		case status >= 500:
			ev.Category = event.CategoryError
			ev.Outcome = event.OutcomeFailure
		default:
			traffic(ev, status)
		}
	case l.Method != nil && isRoute(l.Path, "logout") && status >= 200 && status < 400:
		ev.Category = event.CategoryLogout
		ev.Action = event.ActionDisconnect
		ev.Outcome = event.OutcomeSuccess
	case status == 401 || status == 403:
		ev.Category = event.CategoryAccessDenied
		ev.Action = event.ActionOther
		ev.Outcome = event.OutcomeFailure
	case l.Method != nil && HasAPIKey(l.Query):
		ev.Category = event.CategoryRead
		ev.Action = event.ActionSelect
		if status < 400 {
			ev.Outcome = event.OutcomeSuccess
		} else {
			ev.Outcome = event.OutcomeFailure
		}
	case status >= 500:
		ev.Category = event.CategoryError
		ev.Action = event.ActionOther
		ev.Outcome = event.OutcomeFailure
	default:
		traffic(ev, status)
	}
	ev.Time = t
	ev.System = event.SystemRedash
	ev.Format = p.format
	ev.Raw = parse.S(rec)
	ev.ClientIP = parse.S(l.Addr)
	ev.StatusCode = parse.S(l.Status)
	if len(l.User) > 0 && string(l.User) != "-" {
		ev.User = p.unescape(l.User)
	}
	if l.Path != nil {
		ev.Objects = append(ev.Objects, parse.S(l.Path))
	}
	return true
}

// traffic marks an ordinary request (see the package comment).
func traffic(ev *event.Event, status int64) {
	ev.Traffic = true
	ev.Category = event.CategoryOther
	ev.Action = event.ActionOther
	ev.Outcome = event.OutcomeSuccess
	if status >= 400 || status == 0 {
		ev.Outcome = event.OutcomeFailure
	}
}

// isRoute reports whether path is "/<name>" or "/<segment>/<name>".
func isRoute(path []byte, name string) bool {
	if len(path) < 2 || path[0] != '/' {
		return false
	}
	p := path[1:]
	if string(p) == name {
		return true
	}
	i := bytes.IndexByte(p, '/')
	return i > 0 && string(p[i+1:]) == name
}

// unescape decodes nginx's \xHH escapes into the parser's buffer.
func (p *Parser) unescape(b []byte) string {
	if bytes.IndexByte(b, '\\') < 0 {
		return parse.S(b)
	}
	p.user = p.user[:0]
	for i := 0; i < len(b); i++ {
		if b[i] == '\\' && i+3 < len(b) && b[i+1] == 'x' {
			if v, ok := hex2(b[i+2], b[i+3]); ok {
				p.user = append(p.user, v)
				i += 3
				continue
			}
		}
		p.user = append(p.user, b[i])
	}
	return parse.S(p.user)
}

func hex2(a, b byte) (byte, bool) {
	x, ok1 := hexv(a)
	y, ok2 := hexv(b)
	return x<<4 | y, ok1 && ok2
}

func hexv(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

var _ parse.Parser = (*Parser)(nil)
