// Package gunicorn parses gunicorn's access log in its default format
// (format name "gunicorn", docs/formats.md):
//
//	%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s"
//
// with the Redash login semantics of package nginxredash (POST /login: 302
// success, 200 or 429 failure; 401/403 access_denied; api_key= use is a read;
// 5xx error; other requests (false, nil)). gunicorn does not escape quotes in
// the request line; the request ends at the quote followed by the status.
// %(b)s is "-" for an empty body. Values of api_key= are masked before
// anything is stored. Behind nginx (the Redash image) %(h)s is the proxy's
// address, not the client's: prefer the nginx-redash format there.
//
// gunicorn's own error-log lines, often on the same stream
// ("[2024-06-01 10:00:00 +0000] [7] [CRITICAL] WORKER TIMEOUT (pid:12)"),
// are accepted too: CRITICAL and ERROR are category error, other levels
// (false, nil).
package gunicorn

import (
	"bytes"

	"github.com/dbsec/dbsec/pkg/event"
	"github.com/dbsec/dbsec/pkg/parse"
	"github.com/dbsec/dbsec/pkg/parse/nginxredash"
)

// FormatName is the name of this format.
const FormatName = "gunicorn"

// Format is the parser unit "gunicorn".
var Format = parse.Format{
	Name:   FormatName,
	System: event.SystemRedash,
	Doc:    "gunicorn default access log in front of Redash (login semantics as nginx-redash) and its error-log lines",
	New:    func(parse.Options) parse.Parser { return New() },
}

// Parser parses gunicorn lines. It is not safe for concurrent use.
type Parser struct {
	http    *nginxredash.Parser
	scratch []byte
}

// New returns a parser.
func New() *Parser { return &Parser{http: nginxredash.New(FormatName)} }

// Parse implements parse.Parser.
func (p *Parser) Parse(rec []byte, ev *event.Event) (bool, error) {
	if len(rec) > nginxredash.MaxRecord {
		return false, parse.Errorf(parse.ReasonTooLong, nginxredash.MaxRecord, "line longer than %d bytes", nginxredash.MaxRecord)
	}
	if len(bytes.TrimSpace(rec)) == 0 {
		return false, nil
	}
	if rec[0] == '[' {
		return p.errorLine(rec, ev)
	}
	if nginxredash.HasAPIKey(rec) {
		p.scratch = nginxredash.RedactAPIKeys(p.scratch[:0], rec)
		rec = p.scratch
	}
	var l nginxredash.Line
	if err := nginxredash.Split(rec, &l); err != nil {
		return false, err
	}
	t, ok := nginxredash.ParseTime(l.Time)
	if !ok {
		return false, parse.Errorf(parse.ReasonTimestamp, 0, "bad time %q", l.Time)
	}
	status, _ := parse.Digits(l.Status)
	return p.http.Classify(rec, &l, t, status, ev), nil
}

// errorLine parses "[YYYY-MM-DD HH:MM:SS ±hhmm] [pid] [LEVEL] message".
func (p *Parser) errorLine(rec []byte, ev *event.Event) (bool, error) {
	e := bytes.IndexByte(rec, ']')
	if e < 0 {
		return false, parse.Errorf(parse.ReasonSyntax, 0, "unterminated [time]")
	}
	ts := rec[1:e]
	y, mo, d, h, mi, s, nsec, end, ok := parse.Clock(ts)
	if !ok || end+6 != len(ts) || ts[end] != ' ' {
		return false, parse.Errorf(parse.ReasonTimestamp, 1, "bad time %q", ts)
	}
	off, ok := parse.Offset(ts[end+1:])
	if !ok {
		return false, parse.Errorf(parse.ReasonTimestamp, end+2, "bad offset %q", ts[end+1:])
	}
	rest := rec[e+1:]
	var fields [2][]byte
	for i := range fields {
		if len(rest) < 3 || rest[0] != ' ' || rest[1] != '[' {
			return false, parse.Errorf(parse.ReasonSyntax, len(rec)-len(rest), "expected [pid] [LEVEL]")
		}
		k := bytes.IndexByte(rest[2:], ']')
		if k < 0 {
			return false, parse.Errorf(parse.ReasonSyntax, len(rec)-len(rest), "unterminated field")
		}
		fields[i] = rest[2 : 2+k]
		rest = rest[3+k:]
	}
	if _, ok := parse.Digits(fields[0]); !ok {
		return false, parse.Errorf(parse.ReasonField, 0, "bad pid %q", fields[0])
	}
	switch string(fields[1]) {
	case "CRITICAL", "ERROR":
	case "INFO", "WARNING", "DEBUG":
		return false, nil
	default:
		return false, parse.Errorf(parse.ReasonField, 0, "bad level %q", fields[1])
	}
	ev.Time = parse.DateUTC(y, mo, d, h, mi, s, nsec, off)
	ev.System = event.SystemRedash
	ev.Format = FormatName
	ev.Raw = parse.S(rec)
	ev.Category = event.CategoryError
	ev.Action = event.ActionOther
	ev.Outcome = event.OutcomeFailure
	ev.Reason = parse.S(bytes.TrimSpace(rest))
	return true, nil
}

var _ parse.Parser = (*Parser)(nil)
