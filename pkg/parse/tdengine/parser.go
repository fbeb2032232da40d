// Package tdengine parses taosd/taosc logs (format name "tdengine-taosd",
// docs/formats.md). Three header layouts are accepted:
//
//	3.x:  MM/DD HH:MM:SS.uuuuuu <thread %08d> <E|C> <MODULE> [<LEVEL>] <message>
//	2.6:  MM/DD HH:MM:SS.uuuuuu <thread %08d> <MODULE> [<LEVEL>] <message>
//	2.0:  MM/DD HH:MM:SS.uuuuuu 0x<pthread hex> <MODULE> [<LEVEL>] <message>
//
// The time has no year and no zone: the zone is Options.Location, the year
// that of Options.Now(), minus one when the result would be more than a day
// in the future (a December line read in January).
//
// Events:
//
//   - "user:U, failed to login from IP since …" (mnode, every variant: bad
//     password, unknown user, no privilege, bad db) = login failure with
//     User and ClientIP. 3.0's "since invalid pass, input:<digest>" logs
//     the supplied password digest: it is masked in Raw and cut from Reason.
//   - "msg:0x…, failed to process since Authentication failure, … type:connect"
//     = login failure without user, unless the same thread logged a
//     "failed to login from" within the last 2 s (the same attempt: counted
//     once).
//   - 2.x "user:U, failed to auth user, reason:<auth error>" = login failure
//   - 2.x "user:U login from IP, result:<auth error>" = login failure, and
//     "… result:success" = login success (the mnode's connect handler)
//     ("System not ready" and other non-credential reasons are ignored).
//   - mnode "user:U, start to create|alter|drop" = create/alter/drop user
//     (privilege_change; GRANT/REVOKE are alter user in 3.x), "db:A.D, start
//     to create|alter|drop" = DDL on database D, "stb:A.D.T, start to
//     create|alter|drop" = DDL on table. They are logged before the change
//     is applied: outcome unknown, Objects = the target name;
//     "dnode|mnode|qnode|snode:<ep>, start to create|alter|drop" = admin
//     (config_change).
//   - any other ERROR or FATAL line = category error (access_denied when the
//     text says "Permission denied" or "Insufficient privilege").
//
// Every other well-formed line gives (false, nil). Login failures are
// counted here; the taosadapter format reports the same failure as category
// error so that reading both logs does not count it twice (see package
// taosadapter).
package tdengine

import (
	"bytes"
	"time"

	"github.com/dbsec/dbsec/pkg/event"
	"github.com/dbsec/dbsec/pkg/parse"
)

// FormatName is the name of this format.
const FormatName = "tdengine-taosd"

// Format is the parser unit "tdengine-taosd".
var Format = parse.Format{
	Name:   FormatName,
	System: event.SystemTDengine,
	Doc:    "TDengine taosd/taosc log (2.x and 3.x): failed logins, user/db/stable changes, errors",
	New:    func(o parse.Options) parse.Parser { return New(o) },
}

// MaxRecord is the longest line accepted.
const MaxRecord = 64 << 10

// Parser parses taosd lines. It is not safe for concurrent use.
type Parser struct {
	opts    parse.Options
	scratch []byte
	recent  [8]attempt // recent "failed to login" lines, by thread
	next    int
}

type attempt struct {
	thread []byte
	tbuf   [24]byte
	t      time.Time
	used   bool
}

// New returns a parser.
func New(o parse.Options) *Parser { return &Parser{opts: o.Defaults()} }

// Header is the parsed line prefix.
type Header struct {
	Time    time.Time
	Thread  []byte
	Edition byte // 'E', 'C' or 0 (2.x)
	Module  []byte
	Level   []byte // nil when the line has none
	Message []byte
}

// ParseStamp parses "MM/DD HH:MM:SS.uuuuuu" (at least to the seconds) with
// the year inferred from o.Now() in o.Location. It returns the index past the
// stamp.
func ParseStamp(b []byte, o parse.Options) (time.Time, int, bool) {
	if len(b) < 14 || b[2] != '/' || b[5] != ' ' || b[8] != ':' || b[11] != ':' {
		return time.Time{}, 0, false
	}
	mo, ok1 := digits2(b[0], b[1])
	d, ok2 := digits2(b[3], b[4])
	h, ok3 := digits2(b[6], b[7])
	mi, ok4 := digits2(b[9], b[10])
	s, ok5 := digits2(b[12], b[13])
	if !(ok1 && ok2 && ok3 && ok4 && ok5) || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60 {
		return time.Time{}, 0, false
	}
	end := 14
	nsec := 0
	if end < len(b) && b[end] == '.' {
		end++
		scale := 100000000
		start := end
		for end < len(b) && b[end] >= '0' && b[end] <= '9' {
			if scale > 0 {
				nsec += int(b[end]-'0') * scale
				scale /= 10
			}
			end++
		}
		if end == start {
			return time.Time{}, 0, false
		}
	}
	return YearLess(mo, d, h, mi, s, nsec, o), end, true
}

// YearLess builds the time of a year-less local timestamp (see the package
// comment). o must have been through Defaults.
func YearLess(mo, d, h, mi, s, nsec int, o parse.Options) time.Time {
	now := o.Now().In(o.Location)
	y := now.Year()
	limit := now.Add(24 * time.Hour)
	for range 8 {
		t := time.Date(y, time.Month(mo), d, h, mi, s, nsec, o.Location)
		if t.Month() != time.Month(mo) { // Feb 29 outside a leap year, Apr 31…
			y--
			continue
		}
		if t.After(limit) {
			y--
			continue
		}
		return t.UTC()
	}
	return time.Date(now.Year(), time.Month(mo), d, h, mi, s, nsec, o.Location).UTC()
}

func digits2(a, b byte) (int, bool) {
	if a < '0' || a > '9' || b < '0' || b > '9' {
		return 0, false
	}
	return int(a-'0')*10 + int(b-'0'), true
}

// ParseHeader splits a taosd line.
func ParseHeader(rec []byte, o parse.Options, h *Header) error {
	t, i, ok := ParseStamp(rec, o)
	if !ok {
		return parse.Errorf(parse.ReasonTimestamp, 0, "no MM/DD HH:MM:SS.uuuuuu timestamp")
	}
	h.Time = t
	rest := rec[i:]
	if len(rest) < 2 || rest[0] != ' ' {
		return parse.Errorf(parse.ReasonSyntax, i, "no thread id")
	}
	rest = rest[1:]
	tok, rest := word(rest)
	if !isThread(tok) {
		return parse.Errorf(parse.ReasonSyntax, i+1, "bad thread id %q", tok)
	}
	h.Thread = tok
	tok, after := word(rest)
	h.Edition = 0
	if len(tok) == 1 && (tok[0] == 'E' || tok[0] == 'C') {
		h.Edition = tok[0]
		tok, after = word(after)
	}
	if !isModule(tok) {
		return parse.Errorf(parse.ReasonSyntax, len(rec)-len(rest), "bad module %q", tok)
	}
	h.Module = tok
	h.Level = nil
	if lv, a2 := word(after); isLevel(lv) {
		h.Level, after = lv, a2
	}
	h.Message = after
	return nil
}

// word returns the next space-delimited token and the rest after the
// separating space(s).
func word(b []byte) (tok, rest []byte) {
	i := bytes.IndexByte(b, ' ')
	if i < 0 {
		return b, nil
	}
	tok = b[:i]
	rest = b[i+1:]
	for len(rest) > 0 && rest[0] == ' ' {
		rest = rest[1:]
	}
	return tok, rest
}

func isThread(b []byte) bool {
	if len(b) > 2 && b[0] == '0' && b[1] == 'x' {
		for _, c := range b[2:] {
			if !isHex(c) {
				return false
			}
		}
		return true
	}
	_, ok := parse.Digits(b)
	return ok
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

func isModule(b []byte) bool {
	if len(b) == 0 || len(b) > 16 {
		return false
	}
	for _, c := range b {
		if !((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_') {
			return false
		}
	}
	return true
}

func isLevel(b []byte) bool {
	switch string(b) {
	case "ERROR", "WARN", "INFO", "DEBUG", "TRACE", "FATAL":
		return true
	}
	return false
}

var (
	failedLogin = []byte(", failed to login from ")
	invalidPass = []byte("invalid pass, input:")
	authFailure = []byte("Authentication failure")
)

// Parse implements parse.Parser.
func (p *Parser) Parse(rec []byte, ev *event.Event) (bool, error) {
	if len(rec) > MaxRecord {
		return false, parse.Errorf(parse.ReasonTooLong, MaxRecord, "line longer than %d bytes", MaxRecord)
	}
	if len(bytes.TrimSpace(rec)) == 0 {
		return false, nil
	}
	if i := bytes.Index(rec, invalidPass); i >= 0 {
		rec = p.maskInput(rec, i+len(invalidPass))
	}
	var h Header
	if err := ParseHeader(rec, p.opts, &h); err != nil {
		return false, err
	}
	msg := h.Message
	fill := func() {
		ev.Time = h.Time
		ev.System = event.SystemTDengine
		ev.Format = FormatName
		ev.Raw = parse.S(rec)
	}

	// user:U, failed to login from IP since REASON
	if bytes.HasPrefix(msg, []byte("user:")) {
		if i := bytes.Index(msg, failedLogin); i > 5 {
			fill()
			ev.Category = event.CategoryLogin
			ev.Action = event.ActionConnect
			ev.Outcome = event.OutcomeFailure
			ev.User = parse.S(msg[5:i])
			rest := msg[i+len(failedLogin):]
			ip, _ := word(rest)
			ev.ClientIP = parse.S(ip)
			if j := bytes.Index(rest, []byte("since ")); j >= 0 {
				ev.Reason = parse.S(cutReason(rest[j+6:]))
			}
			if bytes.Contains(rest, authFailure) || bytes.Contains(rest, []byte("invalid pass")) {
				ev.StatusCode = "0x0357"
			}
			p.remember(h.Thread, h.Time)
			return true, nil
		}
		// 2.x: user:U, failed to auth user, reason:R
		if i := bytes.Index(msg, []byte(", failed to auth user, reason:")); i > 5 {
			reason := msg[i+len(", failed to auth user, reason:"):]
			if !authReason(reason) {
				return false, nil
			}
			fill()
			ev.Category = event.CategoryLogin
			ev.Action = event.ActionConnect
			ev.Outcome = event.OutcomeFailure
			ev.User = parse.S(msg[5:i])
			ev.Reason = parse.S(cutReason(reason))
			p.remember(h.Thread, h.Time)
			return true, nil
		}
		// 2.x mnode: user:U login from IP, result:R (error level on failure,
		// info on success).
		if i := bytes.Index(msg, []byte(" login from ")); i > 5 {
			rest := msg[i+len(" login from "):]
			j := bytes.Index(rest, []byte(", result:"))
			if j < 0 {
				return false, nil
			}
			result := rest[j+len(", result:"):]
			switch {
			case bytes.EqualFold(bytes.TrimSpace(result), []byte("success")):
				fill()
				ev.Outcome = event.OutcomeSuccess
			case authReason(result):
				fill()
				ev.Outcome = event.OutcomeFailure
				ev.Reason = parse.S(cutReason(result))
				ev.StatusCode = "0x0357"
				p.remember(h.Thread, h.Time)
			default:
				return false, nil // not about credentials (database, system state)
			}
			ev.Category = event.CategoryLogin
			ev.Action = event.ActionConnect
			ev.User = parse.S(msg[5:i])
			ev.ClientIP = parse.S(rest[:j])
			return true, nil
		}
	}
	// msg:0x…, failed to process since Authentication failure, app:… type:connect
	if bytes.Contains(msg, []byte("failed to process since Authentication failure")) && bytes.Contains(msg, []byte("type:connect")) {
		if p.consume(h.Thread, h.Time) {
			return false, nil
		}
		fill()
		ev.Category = event.CategoryLogin
		ev.Action = event.ActionConnect
		ev.Outcome = event.OutcomeFailure
		ev.StatusCode = "0x0357"
		ev.Reason = "Authentication failure"
		return true, nil
	}
	// user:/db:/stb:<name>, start to create|alter|drop
	if a, name, ok := startTo(msg); ok {
		fill()
		ev.Action = a
		ev.Category = a.Category()
		ev.Outcome = event.OutcomeUnknown
		switch a {
		case event.ActionCreateDatabase, event.ActionAlterDatabase, event.ActionDropDatabase:
			name = afterAcct(name)
			ev.Database = parse.S(name)
		case event.ActionCreateTable, event.ActionAlterTable, event.ActionDropTable:
			db := afterAcct(name)
			if k := bytes.IndexByte(db, '.'); k > 0 {
				ev.Database = parse.S(db[:k])
				name = db[k+1:]
			}
		}
		ev.Objects = append(ev.Objects, parse.S(name))
		return true, nil
	}
	if lv := string(h.Level); lv == "ERROR" || lv == "FATAL" {
		fill()
		ev.Action = event.ActionOther
		ev.Outcome = event.OutcomeFailure
		ev.Category = event.CategoryError
		if bytes.Contains(msg, []byte("Permission denied")) || bytes.Contains(msg, []byte("Insufficient privilege")) {
			ev.Category = event.CategoryAccessDenied
		}
		if j := bytes.Index(msg, []byte("since ")); j >= 0 {
			ev.Reason = parse.S(cutReason(msg[j+6:]))
		} else {
			ev.Reason = parse.S(msg)
		}
		return true, nil
	}
	return false, nil
}

// authReason reports whether a 2.x auth failure reason is about credentials.
func authReason(r []byte) bool {
	for _, s := range [...]string{"Authentication failure", "Invalid user", "Invalid password", "User not exist", "auth failure"} {
		if bytes.Contains(r, []byte(s)) {
			return true
		}
	}
	return false
}

// cutReason ends a "since …" reason before the trailing context fields.
func cutReason(r []byte) []byte {
	for _, sep := range [...]string{", input:", ", line:", ", QID:", ", gtid:", ", db:", ", app:"} {
		if i := bytes.Index(r, []byte(sep)); i >= 0 {
			r = r[:i]
		}
	}
	if bytes.HasPrefix(r, []byte("invalid pass, input:")) {
		r = r[:len("invalid pass")]
	}
	return bytes.TrimRight(r, " ")
}

// maskInput replaces the value after "invalid pass, input:" (at i) by "***"
// in the parser's scratch buffer.
func (p *Parser) maskInput(rec []byte, i int) []byte {
	j := i
	for j < len(rec) && rec[j] != ',' && rec[j] != ' ' {
		j++
	}
	p.scratch = append(p.scratch[:0], rec[:i]...)
	if j > i {
		p.scratch = append(p.scratch, "***"...)
	}
	p.scratch = append(p.scratch, rec[j:]...)
	return p.scratch
}

// startTo recognises "<kind>:<name>, start to <verb>".
func startTo(msg []byte) (event.Action, []byte, bool) {
	c := bytes.IndexByte(msg, ':')
	if c < 2 || c > 5 {
		return 0, nil, false
	}
	i := bytes.Index(msg, []byte(", start to "))
	if i <= c+1 {
		return 0, nil, false
	}
	name := msg[c+1 : i]
	verb, _ := word(msg[i+len(", start to "):])
	verb = bytes.TrimRight(verb, ",")
	kind := string(msg[:c])
	var acts [3]event.Action
	switch kind {
	case "user":
		acts = [3]event.Action{event.ActionCreateUser, event.ActionAlterUser, event.ActionDropUser}
	case "db":
		acts = [3]event.Action{event.ActionCreateDatabase, event.ActionAlterDatabase, event.ActionDropDatabase}
	case "stb":
		acts = [3]event.Action{event.ActionCreateTable, event.ActionAlterTable, event.ActionDropTable}
	case "dnode", "mnode", "qnode", "snode":
		acts = [3]event.Action{event.ActionConfigChange, event.ActionConfigChange, event.ActionConfigChange}
	default:
		return 0, nil, false
	}
	switch string(verb) {
	case "create":
		return acts[0], name, true
	case "alter":
		return acts[1], name, true
	case "drop":
		return acts[2], name, true
	}
	return 0, nil, false
}

// afterAcct strips the "<acctId>." prefix of mnode db names ("1.test").
func afterAcct(b []byte) []byte {
	if k := bytes.IndexByte(b, '.'); k > 0 {
		if _, ok := parse.Digits(b[:k]); ok {
			return b[k+1:]
		}
	}
	return b
}

const pairWindow = 2 * time.Second

func (p *Parser) remember(thread []byte, t time.Time) {
	a := &p.recent[p.next]
	p.next = (p.next + 1) % len(p.recent)
	n := copy(a.tbuf[:], thread)
	a.thread = a.tbuf[:n]
	a.t = t
	a.used = true
}

func (p *Parser) consume(thread []byte, t time.Time) bool {
	for i := range p.recent {
		a := &p.recent[i]
		if !a.used || !bytes.Equal(a.thread, thread) {
			continue
		}
		if d := t.Sub(a.t); d >= -pairWindow && d <= pairWindow {
			a.used = false
			return true
		}
	}
	return false
}

var _ parse.Parser = (*Parser)(nil)
