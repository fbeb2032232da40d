// Package mariadberror parses the MariaDB (and MySQL) error log (format name
// "mariadb-error", docs/formats.md) and keeps only failed logins:
//
//	2026-12-02 10:27:06 4 [Warning] Access denied for user 'analyst'@'localhost' (using password: YES)
//
// MariaDB writes this warning once per failed attempt when log_warnings ≥ 2
// (the default from 10.2.4). The line gives a login event with outcome
// failure, action connect, status 1045, the user and host of the attempt,
// the connection id (the number after the time) and reason "using password:
// YES|NO". Every other line is (false, nil): notes, other warnings and
// errors, the "Version: …" banner, stack traces and continuation lines. A
// line that starts like a timestamp but is not a valid one is a *parse.Error.
//
// Timestamp layouts: "YYYY-MM-DD HH:MM:SS" (MariaDB ≥ 10.1.5, local time →
// Options.Location), "YYMMDD HH:MM:SS" and "YYMMDD  H:MM:SS" (older
// MariaDB/MySQL 5.5, local time), and "YYYY-MM-DDTHH:MM:SS.ffffffZ|±hh:mm"
// (MySQL ≥ 5.7, with the [MY-nnnnnn] [Server] tags of 8.0). A syslog or
// journald prefix ("Dec  2 10:27:06 host mariadbd[123]: …") is stripped.
//
// Counting: the error log and server_audit (package mariadbaudit) are two
// sources that both report a failed login, FAILED_CONNECT there and this
// warning here. They are not de-duplicated against each other: a deployment
// reads one or the other for login failures (the error log is the fallback
// where the audit plugin is not installed). Configuring both for one server
// counts each failed login twice.
package mariadberror

import (
	"bytes"
	"time"

	"github.com/dbsec/dbsec/pkg/event"
	"github.com/dbsec/dbsec/pkg/parse"
)

// Format is the parser unit "mariadb-error".
var Format = parse.Format{
	Name:   "mariadb-error",
	System: event.SystemMariaDB,
	Doc:    "MariaDB/MySQL error log: \"Access denied for user\" warnings as failed logins",
	New:    func(o parse.Options) parse.Parser { return New(o) },
}

// Parser parses error-log lines. It is stateless apart from its options.
type Parser struct {
	loc *time.Location
}

// New returns a parser.
func New(o parse.Options) *Parser {
	o = o.Defaults()
	return &Parser{loc: o.Location}
}

var (
	accessDenied  = []byte("Access denied for user '")
	usingPwd      = []byte("(using password: ")
	spaceUsingPwd = []byte(" (using password: ")
	code1045      = "1045"
)

// Parse implements parse.Parser.
func (p *Parser) Parse(rec []byte, ev *event.Event) (bool, error) {
	// Cheap filter first: almost every line of an error log is not a failed
	// login, and only the timestamp of those that are matters.
	k := bytes.Index(rec, accessDenied)
	line := rec
	if len(line) == 0 || line[0] < '0' || line[0] > '9' {
		// Free text, or a syslog/journald prefix in front of the line.
		i := bytes.Index(line, []byte(": "))
		if i < 0 || !syslogLike(line) {
			return false, nil
		}
		line = line[i+2:]
		for len(line) > 0 && line[0] == ' ' {
			line = line[1:]
		}
		if len(line) == 0 || line[0] < '0' || line[0] > '9' {
			return false, nil
		}
	}
	base := len(rec) - len(line)
	t, n, err := p.timestamp(line)
	if err != nil {
		if pe, ok := err.(*parse.Error); ok {
			pe.Col += base
		}
		return false, err
	}
	if k < 0 {
		return false, nil
	}
	rest := bytes.TrimLeft(line[n:], " ")
	// A collector's timestamp (kubectl --timestamps, docker logs -t) may
	// precede the server's own: the first, which has a zone, is kept.
	if len(rest) > 0 && rest[0] >= '0' && rest[0] <= '9' && len(rest) >= 19 && rest[4] == '-' {
		_, m, err := p.timestamp(rest)
		if err != nil {
			return false, err
		}
		rest = bytes.TrimLeft(rest[m:], " ")
	}
	// Optional thread/connection id, then the [Level] and MySQL 8 tags.
	j := 0
	for j < len(rest) && rest[j] >= '0' && rest[j] <= '9' {
		j++
	}
	connID := rest[:j]
	rest = bytes.TrimLeft(rest[j:], " ")
	if len(rest) == 0 || rest[0] != '[' {
		return false, parse.Errorf(parse.ReasonSyntax, len(rec)-len(rest), "expected [Level]")
	}
	// The message must be the access-denied text itself, after the tags.
	msgAt := len(rec) - len(rest)
	for msgAt < len(rec) && rec[msgAt] == '[' {
		e := bytes.IndexByte(rec[msgAt:], ']')
		if e < 0 {
			return false, parse.Errorf(parse.ReasonSyntax, msgAt, "unterminated [tag]")
		}
		msgAt += e + 1
		for msgAt < len(rec) && rec[msgAt] == ' ' {
			msgAt++
		}
	}
	if msgAt != k {
		return false, nil // "Access denied" quoted inside another message
	}
	u, h, reason, ok := userHost(rec[k+len(accessDenied)-1:])
	if !ok {
		if !bytes.Contains(rec[k:], usingPwd) {
			return false, nil // another "Access denied" message (1044 …)
		}
		return false, parse.Errorf(parse.ReasonField, k, "bad 'user'@'host' in Access denied message")
	}
	ev.Time = t
	ev.System = event.SystemMariaDB
	ev.Format = Format.Name
	ev.Raw = parse.S(rec)
	ev.Category = event.CategoryLogin
	ev.Action = event.ActionConnect
	ev.Outcome = event.OutcomeFailure
	ev.StatusCode = code1045
	ev.User = parse.S(u)
	ev.ClientIP = parse.S(h)
	ev.Reason = parse.S(reason)
	ev.ConnectionID = parse.S(connID)
	return true, nil
}

// userHost reads "'u'@'h' (using password: YES)". The server writes the
// user name verbatim (a quote in it is not escaped), so the separator "'@'"
// is searched for.
func userHost(b []byte) (user, host, reason []byte, ok bool) {
	if len(b) < 5 || b[0] != '\'' {
		return nil, nil, nil, false
	}
	b = b[1:]
	i := bytes.Index(b, []byte("'@'"))
	if i < 0 {
		return nil, nil, nil, false
	}
	user = b[:i]
	b = b[i+3:]
	j := bytes.IndexByte(b, '\'')
	if j < 0 {
		return nil, nil, nil, false
	}
	host = b[:j]
	b = b[j+1:]
	// Only "… (using password: YES|NO)" is a login; "… to database 'd'"
	// and the like are not what this format counts.
	if !bytes.HasPrefix(b, spaceUsingPwd) {
		return nil, nil, nil, false
	}
	rs := b[2:]
	e := bytes.IndexByte(rs, ')')
	if e < 0 {
		return nil, nil, nil, false
	}
	return user, host, rs[:e], true
}

// syslogLike reports whether b starts with a syslog or journald header.
func syslogLike(b []byte) bool {
	if len(b) > 0 && b[0] == '<' {
		return true
	}
	return len(b) >= 4 && b[3] == ' ' && parse.Month(b[:3]) > 0
}

// timestamp parses the time at the start of an error-log line and returns
// the index after it. Lines that start with a digit but do not hold one of
// the layouts are errors.
func (p *Parser) timestamp(b []byte) (time.Time, int, error) {
	if len(b) >= 19 && b[4] == '-' {
		c := b
		var tmp [40]byte
		if b[10] == ' ' && b[11] == ' ' {
			// MariaDB pads a one-digit hour with a space: "2024-04-16  9:55:34".
			n := copy(tmp[:], b)
			tmp[11] = '0'
			c = tmp[:n]
		}
		y, mo, d, h, mi, s, nsec, end, ok := parse.Clock(c)
		if !ok || (b[10] != ' ' && b[10] != 'T') {
			return time.Time{}, 0, parse.Errorf(parse.ReasonTimestamp, 0, "bad timestamp %q", b[:19])
		}
		// Zone: Z or ±hh:mm directly after (MySQL 5.7+).
		k := end
		for k < len(b) && b[k] != ' ' {
			k++
		}
		if k > end {
			off, ok := parse.Offset(b[end:k])
			if !ok {
				return time.Time{}, 0, parse.Errorf(parse.ReasonTimestamp, end, "bad zone %q", b[end:k])
			}
			return parse.DateUTC(y, mo, d, h, mi, s, nsec, off), k, nil
		}
		return time.Date(y, time.Month(mo), d, h, mi, s, nsec, p.loc).UTC(), end, nil
	}
	// YYMMDD HH:MM:SS or YYMMDD  H:MM:SS.
	if len(b) >= 15 && b[6] == ' ' {
		c := b[7:]
		if c[0] == ' ' {
			c = c[1:]
		}
		if len(c) >= 8 {
			hh := c[:2]
			mm, ss := c[3:5], c[6:8]
			ok0 := c[2] == ':' && c[5] == ':'
			if !ok0 && c[1] == ':' && len(c) >= 7 && c[4] == ':' {
				hh, mm, ss, ok0 = c[:1], c[2:4], c[5:7], true
			}
			y, ok1 := num(b[0:2])
			mo, ok2 := num(b[2:4])
			d, ok3 := num(b[4:6])
			h, ok4 := num(hh)
			mi, ok5 := num(mm)
			s, ok6 := num(ss)
			if ok0 && ok1 && ok2 && ok3 && ok4 && ok5 && ok6 && mo >= 1 && mo <= 12 && d >= 1 && d <= 31 && h <= 23 && mi <= 59 && s <= 60 {
				end := len(b) - len(c) + len(hh) + 6
				return time.Date(2000+y, time.Month(mo), d, h, mi, s, 0, p.loc).UTC(), end, nil
			}
		}
	}
	// A line that starts with a digit but is not a timestamp: only an error
	// when it could be an access-denied record.
	if bytes.Contains(b, accessDenied) {
		return time.Time{}, 0, parse.Errorf(parse.ReasonTimestamp, 0, "no timestamp")
	}
	return time.Time{}, 0, nil
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

var _ parse.Parser = (*Parser)(nil)
