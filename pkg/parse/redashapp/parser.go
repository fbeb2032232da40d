// Package redashapp parses the Redash application log (format name
// "redash-app", docs/formats.md): REDASH_LOG_FORMAT's default
// "[%(asctime)s][PID:%(process)d][%(levelname)s][%(name)s] %(message)s",
// asctime "YYYY-MM-DD HH:MM:SS,mmm" without zone (Options.Location), with
// Python tracebacks continuing a record on the following lines (the
// Assembler joins them), and gunicorn's error-log lines interleaved on the
// same stream.
//
// Two more layouts are read: Flask's default handler, "[asctime] LEVEL in
// module: message" (an app whose logging is not configured writes "ERROR in
// app: Exception on <path> [<METHOD>]"), and Celery's default worker layout
// of Redash before 2017, "[asctime: LEVEL/process] message". A record in
// any other layout is a parse error, so that a gap shows.
//
// Events:
//   - level ERROR or CRITICAL (Flask "Exception on <path> [<METHOD>]" with
//     its traceback, worker failures, gunicorn WORKER TIMEOUT) = error;
//     Reason = the first line of the message;
//   - the worker's "job=execute_query state=executing_query … username=U"
//     (or "task=execute_query …" before Redash 9) = read / select with User
//     U, Database = ds_id, Objects = [query_id], ConnectionID = the job or
//     task id (one per execution: the other states give (false, nil)).
//
// Everything else gives (false, nil). Values of api_key= are masked.
package redashapp

import (
	"bytes"
	"time"

	"github.com/dbsec/dbsec/pkg/event"
	"github.com/dbsec/dbsec/pkg/parse"
	"github.com/dbsec/dbsec/pkg/parse/gunicorn"
	"github.com/dbsec/dbsec/pkg/parse/nginxredash"
)

// FormatName is the name of this format.
const FormatName = "redash-app"

// Format is the parser unit "redash-app".
var Format = parse.Format{
	Name:         FormatName,
	System:       event.SystemRedash,
	Doc:          "Redash application log (REDASH_LOG_FORMAT, Flask default, Celery-era worker): errors and tracebacks, worker execute_query with username",
	New:          func(o parse.Options) parse.Parser { return New(o) },
	NewAssembler: func() parse.Assembler { return NewAssembler() },
}

// MaxRecord bounds an assembled record (a traceback).
const MaxRecord = 256 << 10

// Parser parses assembled records. It is not safe for concurrent use.
type Parser struct {
	opts    parse.Options
	guni    *gunicorn.Parser
	scratch []byte
}

// New returns a parser.
func New(o parse.Options) *Parser { return &Parser{opts: o.Defaults(), guni: gunicorn.New()} }

// isStart reports whether line begins a record: "[YYYY-MM-DD ".
func isStart(line []byte) bool {
	return len(line) > 12 && line[0] == '[' && line[5] == '-' && line[8] == '-' && line[11] == ' ' &&
		line[1] >= '0' && line[1] <= '9'
}

// Parse implements parse.Parser.
func (p *Parser) Parse(rec []byte, ev *event.Event) (bool, error) {
	if len(rec) > MaxRecord+1 {
		return false, parse.Errorf(parse.ReasonTooLong, MaxRecord, "record longer than %d bytes", MaxRecord)
	}
	if len(bytes.TrimSpace(rec)) == 0 {
		return false, nil
	}
	if !isStart(rec) {
		return false, parse.Errorf(parse.ReasonSyntax, 0, "not a Redash log record")
	}
	if nginxredash.HasAPIKey(rec) {
		p.scratch = nginxredash.RedactAPIKeys(p.scratch[:0], rec)
		rec = p.scratch
	}
	e := bytes.IndexByte(rec, ']')
	if e < 0 {
		return false, parse.Errorf(parse.ReasonSyntax, 0, "unterminated [time]")
	}
	if len(rec) > e+2 && rec[e+1] == ' ' && rec[e+2] == '[' {
		ok, err := p.guni.Parse(firstLine(rec), ev) // gunicorn error-log line
		if ok {
			ev.Format = FormatName
			ev.Raw = parse.S(rec)
		}
		return ok, err
	}
	ts := rec[1:e]
	var level, msg []byte
	switch {
	case bytes.Contains(ts, []byte(": ")):
		// Celery's default worker layout (Redash before 2017):
		// "[asctime: LEVEL/process] message".
		i := bytes.Index(ts, []byte(": "))
		lp := ts[i+2:]
		j := bytes.IndexByte(lp, '/')
		if j < 0 {
			return false, parse.Errorf(parse.ReasonSyntax, 1+i+2, "celery layout without LEVEL/process")
		}
		level, ts = lp[:j], ts[:i]
		msg = bytes.TrimPrefix(rec[e+1:], []byte(" "))
	case len(rec) > e+2 && rec[e+1] == '[':
		// REDASH_LOG_FORMAT: "[asctime][PID:n][LEVEL][name] message".
		var f [3][]byte // PID:n, LEVEL, name
		rest := rec[e+1:]
		for i := range f {
			if len(rest) < 2 || rest[0] != '[' {
				return false, parse.Errorf(parse.ReasonSyntax, len(rec)-len(rest), "expected [field]")
			}
			k := bytes.IndexByte(rest, ']')
			if k < 0 {
				return false, parse.Errorf(parse.ReasonSyntax, len(rec)-len(rest), "unterminated [field]")
			}
			f[i] = rest[1:k]
			rest = rest[k+1:]
		}
		if !bytes.HasPrefix(f[0], []byte("PID:")) {
			return false, parse.Errorf(parse.ReasonField, 0, "bad PID field %q", f[0])
		}
		level, msg = f[1], bytes.TrimPrefix(rest, []byte(" "))
	case len(rec) > e+2 && rec[e+1] == ' ':
		// Flask's default handler: "[asctime] LEVEL in module: message".
		rest := rec[e+2:]
		i := bytes.Index(rest, []byte(" in "))
		j := bytes.Index(rest, []byte(": "))
		if i <= 0 || j < i {
			return false, parse.Errorf(parse.ReasonSyntax, e+2, "unknown Redash log layout: want [PID:n][LEVEL][name], \"LEVEL in module:\" or celery's [time: LEVEL/process]")
		}
		level, msg = rest[:i], rest[j+2:]
	default:
		return false, parse.Errorf(parse.ReasonSyntax, e+1, "unknown Redash log layout: want [PID:n][LEVEL][name], \"LEVEL in module:\" or celery's [time: LEVEL/process]")
	}
	y, mo, d, h, mi, s, nsec, end, ok := parse.Clock(ts)
	if !ok || end != len(ts) {
		return false, parse.Errorf(parse.ReasonTimestamp, 1, "bad asctime %q", ts)
	}
	// Local time in Options.Location.
	t := p.local(y, mo, d, h, mi, s, nsec)
	fill := func() {
		ev.Time = t
		ev.System = event.SystemRedash
		ev.Format = FormatName
		ev.Raw = parse.S(rec)
	}
	switch string(level) {
	case "ERROR", "CRITICAL":
		fill()
		ev.Category = event.CategoryError
		ev.Action = event.ActionOther
		ev.Outcome = event.OutcomeFailure
		ev.Reason = parse.S(firstLine(msg))
		return true, nil
	}
	// The worker's execution log: "job=execute_query" (RQ, Redash 9+) or
	// "task=execute_query" (Celery, before).
	for _, key := range [2]string{"job", "task"} {
		i := bytes.Index(msg, []byte(key+"=execute_query"))
		if i < 0 || (i > 0 && msg[i-1] != ' ') {
			continue
		}
		m := firstLine(msg)
		if string(kv(m, "state")) != "executing_query" {
			return false, nil
		}
		fill()
		ev.Category = event.CategoryRead
		ev.Action = event.ActionSelect
		ev.Outcome = event.OutcomeUnknown
		if u := kv(m, "username"); string(u) != "unknown" {
			ev.User = parse.S(u)
		}
		ev.Database = parse.S(kv(m, "ds_id"))
		if q := kv(m, "query_id"); len(q) > 0 && string(q) != "unknown" && string(q) != "adhoc" {
			ev.Objects = append(ev.Objects, parse.S(q))
		}
		ev.ConnectionID = parse.S(kv(m, key+"_id"))
		return true, nil
	}
	return false, nil
}

func (p *Parser) local(y, mo, d, h, mi, s, nsec int) time.Time {
	return time.Date(y, time.Month(mo), d, h, mi, s, nsec, p.opts.Location).UTC()
}

// kv returns the value of " key=" (or a leading "key=") up to a space.
func kv(m []byte, key string) []byte {
	for off := 0; off < len(m); {
		i := bytes.Index(m[off:], []byte(key+"="))
		if i < 0 {
			return nil
		}
		i += off
		if i == 0 || m[i-1] == ' ' {
			v := m[i+len(key)+1:]
			if k := bytes.IndexByte(v, ' '); k >= 0 {
				v = v[:k]
			}
			return v
		}
		off = i + 1
	}
	return nil
}

func firstLine(b []byte) []byte {
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		return b[:i]
	}
	return b
}

var _ parse.Parser = (*Parser)(nil)
