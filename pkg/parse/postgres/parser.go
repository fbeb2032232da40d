// Package postgres parses the PostgreSQL server log written to stderr or to
// a file by the logging collector (format name "postgres", docs/formats.md),
// including pgaudit entries. Every line starts with the server's
// log_line_prefix, which the parser must know: NewWithPrefix compiles it,
// and Format.New assumes DefaultPrefix, "%m [%p] %q%u@%d " (the default of
// Debian/Ubuntu clusters created by postgresql-common). The prefix escapes
// give the event fields: %m/%t/%n the time, %u the user, %d the database,
// %h or %r the client address (and %r the port), %p the connection id (the
// backend pid), %e the SQLSTATE. A prefix without a time escape gives events
// the time Options.Now() returns. "[local]" (unix socket) clients have an
// empty ClientIP; "[unknown]" users and databases (before authentication)
// are empty.
//
// A report is one or more physical lines: the primary line "<prefix>TAG:  msg",
// continuation lines starting with a TAB for embedded newlines, and
// secondary lines "<prefix>DETAIL:  …", "HINT:", "CONTEXT:", "QUERY:",
// "LOCATION:" and "STATEMENT:", each with its own TAB continuations.
// NewAssembler joins all of them into one record, so that a failed login
// (FATAL + DETAIL) counts once and a denied statement (ERROR +
// STATEMENT) carries its statement. The assembler does not need the prefix:
// a secondary line is one whose first ":  " follows one of those tags.
//
// The semantics (pgaudit classes, logins, logouts, denials, errors) are
// those of Classifier. Server messages must be in English (lc_messages = C
// or en_*), as for any PostgreSQL log parser.
package postgres

import (
	"bytes"
	"time"

	"github.com/dbsec/dbsec/pkg/event"
	"github.com/dbsec/dbsec/pkg/parse"
	"github.com/dbsec/dbsec/pkg/redact"
)

// Format is the parser unit "postgres". Its New assumes DefaultPrefix; use
// NewWithPrefix for a server with another log_line_prefix.
var Format = parse.Format{
	Name:   "postgres",
	System: event.SystemPostgres,
	Doc:    "PostgreSQL stderr/file log with pgaudit (log_line_prefix " + DefaultPrefix + " unless configured)",
	New: func(o parse.Options) parse.Parser {
		prefix := o.LinePrefix
		if prefix == "" {
			prefix = DefaultPrefix
		}
		p, err := NewWithPrefix(prefix, o)
		if err != nil {
			// The configuration validated the prefix with CheckOptions,
			// and DefaultPrefix is a constant that compiles.
			panic(err)
		}
		return p
	},
	NewAssembler: func() parse.Assembler { return NewAssembler() },
	CheckOptions: func(o parse.Options) error {
		if o.LinePrefix == "" {
			return nil
		}
		_, err := CompilePrefix(o.LinePrefix)
		return err
	},
}

// MaxRecord bounds the size of one report (all its lines). The assembler
// keeps at most MaxRecord+1 bytes of a longer report, and the parser reports
// it as parse.ReasonTooLong.
const MaxRecord = 1 << 20

// Parser parses one assembled report. It is not safe for concurrent use.
type Parser struct {
	pfx                *Prefix
	opts               parse.Options
	cap                captures
	cap2               captures
	cls                Classifier
	text, detail, stmt []byte
}

// NewWithPrefix returns a parser for a server whose log_line_prefix is
// prefix (the value of the setting, without quotes). It fails when the
// prefix cannot be compiled (see CompilePrefix).
func NewWithPrefix(prefix string, opts parse.Options) (*Parser, error) {
	p, err := CompilePrefix(prefix)
	if err != nil {
		return nil, err
	}
	return &Parser{pfx: p, opts: opts.Defaults()}, nil
}

// Parse implements parse.Parser.
func (p *Parser) Parse(rec []byte, ev *event.Event) (bool, error) {
	if len(rec) > MaxRecord {
		return false, parse.Errorf(parse.ReasonTooLong, MaxRecord, "report longer than %d bytes", MaxRecord)
	}
	line, rest := cut(rec)
	if len(bytes.TrimSpace(line)) == 0 && len(rest) == 0 {
		return false, nil
	}
	p.cap = captures{}
	end, ok := p.pfx.match(line, &p.cap)
	if !ok {
		return false, parse.Errorf(parse.ReasonSyntax, 0, "line does not start with log_line_prefix %q and a severity", p.pfx.src)
	}
	sv, n := severityAt(line[end:])
	if sv.secondary() {
		// A DETAIL/STATEMENT/… line without its primary line (no assembler,
		// or the primary line was in a rotated file): part of a report
		// already counted.
		return false, nil
	}
	var m Message
	m.Severity = line[end : end+n-3]
	text, detail, stmt := line[end+n:], []byte(nil), []byte(nil)
	target, buf, multi := &text, &p.text, false
	for len(rest) > 0 {
		line, rest = cut(rest)
		if len(line) > 0 && line[0] == '\t' {
			if target == nil {
				continue
			}
			if !multi {
				*buf = append((*buf)[:0], *target...)
				multi = true
			}
			*buf = append(*buf, '\n')
			*buf = append(*buf, line[1:]...)
			*target = *buf
			continue
		}
		e2, ok := p.pfx.match(line, &p.cap2)
		if !ok {
			target = nil // not a line of this report; ignored
			continue
		}
		s2, n2 := severityAt(line[e2:])
		multi = false
		switch s2 {
		case sevDetail:
			target, buf = &detail, &p.detail
		case sevStatement:
			target, buf = &stmt, &p.stmt
		default:
			target = nil
			continue
		}
		*target = line[e2+n2:]
	}
	m.Text, m.Detail, m.Statement = text, detail, stmt
	m.Code = p.cap[kCode]
	m.PID = p.cap[kPID]

	t, err := p.time()
	if err != nil {
		return false, err
	}
	ev.Time = t
	ev.System = event.SystemPostgres
	ev.Format = Format.Name
	ev.Raw, m.RawClean = redact.Record(parse.S(rec))
	ev.User = known(p.cap[kUser])
	ev.Database = known(p.cap[kDB])
	ev.ConnectionID = parse.S(p.cap[kPID])
	host := p.cap[kHost]
	if r := p.cap[kRemote]; r != nil {
		h, port := splitRemote(r)
		if host == nil {
			host = h
		}
		ev.ClientPort = port
	}
	if string(host) != "[local]" {
		ev.ClientIP = parse.S(host)
	}
	return p.cls.Classify(&m, ev)
}

func (p *Parser) time() (time.Time, error) {
	for _, k := range [3]kind{kTimeMS, kEpoch, kTime} {
		v := p.cap[k]
		if !p.pfx.has[k] || v == nil {
			continue
		}
		var t time.Time
		var ok bool
		if k == kEpoch {
			t, ok = parseEpoch(v)
		} else {
			t, ok = ParseTime(v, p.opts.Location)
		}
		if !ok {
			return time.Time{}, parse.Errorf(parse.ReasonTimestamp, 0, "bad time %q", v)
		}
		return t, nil
	}
	return p.opts.Now().UTC(), nil
}

// splitRemote splits %r, "host(port)" or "[local]".
func splitRemote(r []byte) ([]byte, uint16) {
	if len(r) > 2 && r[len(r)-1] == ')' {
		if i := bytes.LastIndexByte(r, '('); i > 0 {
			if n, ok := parse.Digits(r[i+1 : len(r)-1]); ok && n <= 65535 {
				return r[:i], uint16(n)
			}
		}
	}
	return r, 0
}

func known(b []byte) string {
	if string(b) == "[unknown]" {
		return ""
	}
	return parse.S(b)
}

func cut(b []byte) (line, rest []byte) {
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		return b[:i], b[i+1:]
	}
	return b, nil
}

var _ parse.Parser = (*Parser)(nil)
