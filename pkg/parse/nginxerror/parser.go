// Package nginxerror parses the error log of the nginx reverse proxy in
// front of Redash (format name "nginx-error", docs/formats.md):
//
//	2026/12/06 07:30:01 [error] 4711#4711: *12 connect() failed (111: Connection refused) while connecting to upstream, client: 10.0.0.5, server: redash, request: "GET /api/session HTTP/1.1", upstream: "http://127.0.0.1:5000/api/session", host: "redash.example.com"
//	2026/12/06 07:30:02 [error] 4711#4711: *13 limiting requests, excess: 0.980 by zone "login", client: 10.0.0.5, server: redash, request: "POST /login HTTP/1.1", host: "redash.example.com"
//
// The time has no zone: it is local time of the proxy (Options.Location).
// After "[level] pid#tid: " comes an optional "*connection " and the
// message, whose context nginx appends as ", client: …, server: …,
// request: "…", upstream: "…", host: "…"".
//
// Events:
//   - "limiting requests" / "limiting connections" at level error (the
//     limit_req / limit_conn rejections; "delaying request" is a warn and is
//     not an event) = access_denied, outcome failure, Reason "limit_req" or
//     "limit_conn", StatusCode the zone;
//   - the upstream failures (connect() failed, upstream timed out, no live
//     upstreams, upstream prematurely closed, upstream sent invalid …,
//     recv()/send() failed while … upstream) = error, Reason the message;
//   - any other line at crit, alert or emerg = error;
//   - other error lines give (false, nil) when the access log already shows
//     the request's answer: a missing file (open() … failed (2: …), a 404)
//     or a forbidden directory index (a 403); the rest are errors;
//   - warn, notice, info and debug lines give (false, nil).
//
// Fields: ClientIP = client, Objects = [request path], ConnectionID = the
// "*N" connection number, Server = server. Values of api_key= in the
// request are masked.
package nginxerror

import (
	"bytes"
	"time"

	"github.com/dbsec/dbsec/pkg/event"
	"github.com/dbsec/dbsec/pkg/parse"
	"github.com/dbsec/dbsec/pkg/parse/nginxredash"
)

// FormatName is the name of this format.
const FormatName = "nginx-error"

// Format is the parser unit "nginx-error".
var Format = parse.Format{
	Name:   FormatName,
	System: event.SystemRedash,
	Doc:    "nginx error log in front of Redash: limit_req/limit_conn rejections, upstream failures, critical errors",
	New:    func(o parse.Options) parse.Parser { return New(o) },
}

// MaxRecord is the longest line accepted.
const MaxRecord = 64 << 10

// Parser parses error-log lines. It is not safe for concurrent use.
type Parser struct {
	opts    parse.Options
	scratch []byte
}

// New returns a parser.
func New(o parse.Options) *Parser { return &Parser{opts: o.Defaults()} }

var levels = [...]string{"debug", "info", "notice", "warn", "error", "crit", "alert", "emerg"}

// Parse implements parse.Parser.
func (p *Parser) Parse(rec []byte, ev *event.Event) (bool, error) {
	if len(rec) > MaxRecord {
		return false, parse.Errorf(parse.ReasonTooLong, MaxRecord, "line longer than %d bytes", MaxRecord)
	}
	if len(bytes.TrimSpace(rec)) == 0 {
		return false, nil
	}
	// "YYYY/MM/DD HH:MM:SS [level] "
	if len(rec) < 22 || rec[4] != '/' || rec[7] != '/' || rec[10] != ' ' {
		return false, parse.Errorf(parse.ReasonTimestamp, 0, "no nginx error-log time (YYYY/MM/DD HH:MM:SS)")
	}
	y, mo, d, h, mi, s, nsec, end, ok := parse.Clock(rec[:19])
	if !ok || end != 19 {
		return false, parse.Errorf(parse.ReasonTimestamp, 0, "bad time %q", rec[:19])
	}
	if rec[19] != ' ' || rec[20] != '[' {
		return false, parse.Errorf(parse.ReasonSyntax, 19, "expected \" [level]\" after the time")
	}
	k := bytes.IndexByte(rec[21:], ']')
	if k < 0 {
		return false, parse.Errorf(parse.ReasonSyntax, 20, "unterminated [level]")
	}
	level := rec[21 : 21+k]
	lv := -1
	for i, l := range levels {
		if string(level) == l {
			lv = i
		}
	}
	if lv < 0 {
		return false, parse.Errorf(parse.ReasonField, 21, "unknown level %q", level)
	}
	rest := rec[21+k+1:]
	// " pid#tid: "
	if len(rest) < 2 || rest[0] != ' ' {
		return false, parse.Errorf(parse.ReasonSyntax, len(rec)-len(rest), "expected pid#tid")
	}
	c := bytes.Index(rest, []byte(": "))
	hash := bytes.IndexByte(rest, '#')
	if c < 0 || hash < 1 || hash > c {
		return false, parse.Errorf(parse.ReasonSyntax, len(rec)-len(rest), "expected pid#tid:")
	}
	if _, ok := parse.Digits(rest[1:hash]); !ok {
		return false, parse.Errorf(parse.ReasonField, len(rec)-len(rest)+1, "bad pid %q", rest[1:hash])
	}
	msg := rest[c+2:]
	var conn []byte
	if len(msg) > 1 && msg[0] == '*' {
		sp := bytes.IndexByte(msg, ' ')
		if sp > 1 {
			if _, ok := parse.Digits(msg[1:sp]); ok {
				conn, msg = msg[1:sp], msg[sp+1:]
			}
		}
	}
	if lv < 4 { // warn and below
		return false, nil
	}
	text := msg
	if i := bytes.Index(msg, []byte(", client: ")); i >= 0 {
		text = msg[:i]
	}

	var cat event.Category
	var reason, status []byte
	limit := ""
	switch {
	case bytes.HasPrefix(text, []byte("limiting requests")) || bytes.HasPrefix(text, []byte("limiting connections")):
		cat = event.CategoryAccessDenied
		limit = "limit_req"
		if bytes.HasPrefix(text, []byte("limiting connections")) {
			limit = "limit_conn"
		}
		if i := bytes.Index(text, []byte(`by zone "`)); i >= 0 {
			z := text[i+9:]
			if j := bytes.IndexByte(z, '"'); j >= 0 {
				status = z[:j]
			}
		}
	case upstream(text):
		cat, reason = event.CategoryError, text
	case lv == 4 && (bytes.HasPrefix(text, []byte("open() ")) && bytes.Contains(text, []byte("(2: No such file or directory)")) ||
		bytes.HasPrefix(text, []byte("directory index of "))):
		return false, nil // the access log's 404 / 403
	default:
		cat, reason = event.CategoryError, text
	}

	if nginxredash.HasAPIKey(rec) {
		p.scratch = nginxredash.RedactAPIKeys(p.scratch[:0], rec)
		off := len(rec) - len(msg)
		rec = p.scratch
		msg = rec[off:]
		if cat == event.CategoryError {
			if i := bytes.Index(msg, []byte(", client: ")); i >= 0 {
				reason = msg[:i]
			} else {
				reason = msg
			}
		}
	}
	ev.Time = time.Date(y, time.Month(mo), d, h, mi, s, nsec, p.opts.Location).UTC()
	ev.System = event.SystemRedash
	ev.Format = FormatName
	ev.Raw = parse.S(rec)
	ev.Category = cat
	ev.Action = event.ActionOther
	ev.Outcome = event.OutcomeFailure
	ev.Reason = parse.S(reason)
	if limit != "" {
		ev.Reason = limit
	}
	ev.StatusCode = parse.S(status)
	ev.ConnectionID = parse.S(conn)
	ev.ClientIP = parse.S(field(msg, ", client: "))
	ev.Server = parse.S(field(msg, ", server: "))
	if r := field(msg, ", request: "); len(r) > 0 {
		// METHOD SP URI SP PROTO: the path without the query.
		if i := bytes.IndexByte(r, ' '); i > 0 {
			u := r[i+1:]
			if j := bytes.IndexByte(u, ' '); j >= 0 {
				u = u[:j]
			}
			if j := bytes.IndexByte(u, '?'); j >= 0 {
				u = u[:j]
			}
			if len(u) > 0 {
				ev.Objects = append(ev.Objects, parse.S(u))
			}
		}
	}
	return true, nil
}

// upstream reports whether the message is a failure to reach or read the
// upstream (Redash).
func upstream(m []byte) bool {
	for _, s := range [...]string{"connect() failed", "upstream timed out", "no live upstreams", "upstream prematurely closed",
		"upstream sent invalid", "upstream sent too big"} {
		if bytes.HasPrefix(m, []byte(s)) {
			return true
		}
	}
	return bytes.Contains(m, []byte("upstream")) && (bytes.HasPrefix(m, []byte("recv() failed")) || bytes.HasPrefix(m, []byte("send() failed")) ||
		bytes.HasPrefix(m, []byte("readv() failed")) || bytes.HasPrefix(m, []byte("writev() failed")))
}

// field returns the value of ", key: value" in the context nginx appends:
// quoted values up to the closing quote, others up to the next ", ".
func field(m []byte, key string) []byte {
	i := bytes.Index(m, []byte(key))
	if i < 0 {
		return nil
	}
	v := m[i+len(key):]
	if len(v) > 0 && v[0] == '"' {
		if j := bytes.IndexByte(v[1:], '"'); j >= 0 {
			return v[1 : 1+j]
		}
		return v[1:]
	}
	if j := bytes.Index(v, []byte(", ")); j >= 0 {
		return v[:j]
	}
	return v
}

var _ parse.Parser = (*Parser)(nil)
