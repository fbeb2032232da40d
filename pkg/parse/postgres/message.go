package postgres

import (
	"bytes"

	"github.com/dbsec/dbsec/pkg/classify"
	"github.com/dbsec/dbsec/pkg/event"
	"github.com/dbsec/dbsec/pkg/parse"
	"github.com/dbsec/dbsec/pkg/redact"
)

// Message is one server log report reduced to what the security semantics
// need. Both the stderr parser and the csvlog parser (package postgrescsv)
// fill one and hand it to a Classifier. All fields are views.
type Message struct {
	Severity  []byte // "LOG", "ERROR", "FATAL", … (not a secondary tag)
	Code      []byte // SQLSTATE, when the log has it (%e, csvlog)
	Text      []byte // primary message, embedded newlines restored
	Detail    []byte // DETAIL
	Statement []byte // STATEMENT (stderr) or the query column (csvlog)
	PID       []byte // process id, for pgaudit de-duplication
	// RawClean says that the event's Raw, set by the caller, mentions no
	// credential word (redact.Clean): a statement that is a part of it is
	// then not scanned again.
	RawClean bool
}

// Classifier applies the PostgreSQL/pgaudit semantics of docs/formats.md to a
// Message. It keeps a small table per backend to count a pgaudit statement
// logged as several entries once, and scratch buffers for unquoting. It is
// not safe for concurrent use; the zero value is ready.
type Classifier struct {
	stmt  []byte
	audit auditSet
}

// Classify fills ev's Category, Action, Outcome, Statement, Objects,
// StatusCode, Reason and Rows from m; ev's Time, User, Database, ClientIP,
// ClientPort and ConnectionID are expected to be set by the caller from the
// log's own fields and are overridden only by what the message states
// itself (connection authorized, disconnection, failed login). It returns
// (false, nil) for a report that is not a security event.
//
// Rules:
//   - "AUDIT: " (pgaudit, any severity): CLASS gives the category, COMMAND
//     the action; a second entry for the same (pid, statement id,
//     sub-statement id), as written by object auditing or
//     pgaudit.log_relation, is not counted again. pgaudit writes an entry
//     once the statement has passed its permission checks, so the outcome is
//     success; a later run-time error is a separate ERROR report.
//   - "connection authorized:" is a successful login; "connection
//     authenticated:" and "connection received:" (the same login) are not
//     counted.
//   - "disconnection:" is a logout, with the session time as Duration.
//   - FATAL "… authentication failed for user", "no pg_hba.conf entry",
//     "pg_hba.conf rejects connection", "role … is not permitted to log in"
//     and "permission denied for database" are failed logins (the DETAIL of
//     the same report does not count again).
//   - ERROR 42501 (or, without a SQLSTATE, "permission denied…", "must be
//     owner of…", "must be superuser…") is access_denied with the verb of
//     its statement.
//   - any other ERROR with a statement keeps the verb's category with
//     outcome failure; ERROR without a statement, FATAL and PANIC are
//     category error.
//
// Other reports give (false, nil).
func (c *Classifier) Classify(m *Message, ev *event.Event) (bool, error) {
	sv := severityName(m.Severity)
	text := m.Text
	if bytes.HasPrefix(text, []byte("AUDIT: ")) {
		return c.audit1(m, ev)
	}
	switch sv {
	case sevLog:
		return c.logMessage(m, ev)
	case sevFatal, sevPanic:
		if sv == sevFatal {
			if code, ok := loginFailure(text, m.Code); ok {
				ev.Category = event.CategoryLogin
				ev.Action = event.ActionConnect
				ev.Outcome = event.OutcomeFailure
				ev.StatusCode = code
				ev.Reason = parse.S(firstLine(text))
				if u, ok := quoted(text, `for user "`); ok {
					ev.User = parse.S(u)
				} else if u, ok := quoted(text, `user "`); ok {
					ev.User = parse.S(u)
				} else if u, ok := quoted(text, `role "`); ok {
					ev.User = parse.S(u)
				}
				c.audit.clear(m.PID)
				return true, nil
			}
		}
		c.failure(m, ev, false)
		ev.Category = event.CategoryError // FATAL/PANIC end the session, whatever the statement
		return true, nil
	case sevError:
		c.failure(m, ev, denied(text, m.Code))
		return true, nil
	case sevNone:
		return false, parse.Errorf(parse.ReasonField, 0, "unknown severity %q", m.Severity)
	}
	return false, nil
}

func (c *Classifier) failure(m *Message, ev *event.Event, isDenied bool) {
	ev.Outcome = event.OutcomeFailure
	ev.StatusCode = parse.S(m.Code)
	ev.Reason = parse.S(firstLine(m.Text))
	if len(m.Statement) > 0 {
		ev.Statement = redact.StringIn(parse.S(m.Statement), ev.Raw, m.RawClean)
		ev.Action = classify.Statement(ev.Statement)
	}
	switch {
	case isDenied:
		if ev.Action == event.ActionNone {
			ev.Action = event.ActionOther
		}
		ev.Category = event.CategoryAccessDenied
		if ev.StatusCode == "" {
			ev.StatusCode = "42501"
		}
	case ev.Action != event.ActionNone:
		ev.Category = ev.Action.Category()
	default:
		ev.Category = event.CategoryError
	}
}

func (c *Classifier) logMessage(m *Message, ev *event.Event) (bool, error) {
	text := m.Text
	switch {
	case bytes.HasPrefix(text, []byte("connection authorized: ")), bytes.HasPrefix(text, []byte("replication connection authorized: ")):
		ev.Category = event.CategoryLogin
		ev.Action = event.ActionConnect
		ev.Outcome = event.OutcomeSuccess
		if v, ok := keyValue(text, "user="); ok {
			ev.User = parse.S(v)
		}
		if v, ok := keyValue(text, "database="); ok {
			ev.Database = parse.S(v)
		}
		c.audit.clear(m.PID)
		return true, nil
	case bytes.HasPrefix(text, []byte("disconnection: session time: ")):
		ev.Category = event.CategoryLogout
		ev.Action = event.ActionDisconnect
		ev.Outcome = event.OutcomeSuccess
		rest := text[len("disconnection: session time: "):]
		sp := bytes.IndexByte(rest, ' ')
		if sp < 0 {
			return false, parse.Errorf(parse.ReasonField, 0, "disconnection without user")
		}
		if d, ok := sessionTime(rest[:sp]); ok {
			ev.Duration, ev.HasDuration = d, true
		}
		if v, ok := keyValue(rest, "user="); ok {
			ev.User = parse.S(v)
		}
		if v, ok := keyValue(rest, "database="); ok {
			ev.Database = parse.S(v)
		}
		if v, ok := keyValue(rest, "host="); ok {
			if string(v) == "[local]" {
				ev.ClientIP = ""
			} else {
				ev.ClientIP = parse.S(v)
			}
		}
		if v, ok := keyValue(rest, "port="); ok {
			if n, ok := parse.Digits(v); ok && n <= 65535 {
				ev.ClientPort = uint16(n)
			}
		}
		c.audit.clear(m.PID)
		return true, nil
	}
	return false, nil
}

// loginFailure recognises the FATAL messages of a refused connection and
// returns the SQLSTATE (the logged one, else the one PostgreSQL uses).
func loginFailure(text, code []byte) (string, bool) {
	var def string
	switch {
	case bytes.HasPrefix(text, []byte("password authentication failed for user ")):
		def = "28P01"
	case bytes.Contains(firstLine(text), []byte("authentication failed for user ")),
		bytes.HasPrefix(text, []byte("no pg_hba.conf entry for ")),
		bytes.HasPrefix(text, []byte("pg_hba.conf rejects ")),
		bytes.HasPrefix(text, []byte("role ")) && bytes.Contains(firstLine(text), []byte(" is not permitted to log in")):
		def = "28000"
	case bytes.HasPrefix(text, []byte("permission denied for database ")):
		def = "42501"
	default:
		return "", false
	}
	if len(code) > 0 {
		return parse.S(code), true
	}
	return def, true
}

func denied(text, code []byte) bool {
	if len(code) > 0 {
		return string(code) == "42501"
	}
	return bytes.HasPrefix(text, []byte("permission denied")) ||
		bytes.HasPrefix(text, []byte("must be owner of ")) ||
		bytes.HasPrefix(text, []byte("must be superuser")) ||
		bytes.HasPrefix(text, []byte("must be a superuser"))
}

// audit1 handles one pgaudit entry:
// AUDIT: <TYPE>,<STMT_ID>,<SUB_ID>,<CLASS>,<COMMAND>,<OBJ_TYPE>,<OBJ_NAME>,<STATEMENT>,<PARAMETER>[,<ROWS>]
func (c *Classifier) audit1(m *Message, ev *event.Event) (bool, error) {
	rest := m.Text[len("AUDIT: "):]
	if cap(c.stmt) < len(rest) {
		c.stmt = make([]byte, 0, len(rest)+64)
	}
	c.stmt = c.stmt[:0]
	var f [10][]byte
	n := 0
	r := csvReader{b: rest}
	for !r.done() {
		v, err := r.field(&c.stmt)
		if err != nil {
			return false, err
		}
		if n == len(f) {
			return false, parse.Errorf(parse.ReasonSyntax, 0, "pgaudit entry with more than %d fields", len(f))
		}
		f[n] = v
		n++
	}
	if n < 9 {
		return false, parse.Errorf(parse.ReasonSyntax, 0, "pgaudit entry with %d fields, want 9 or 10", n)
	}
	typ, stmtID, subID, class, command, objName, stmt := f[0], f[1], f[2], f[3], f[4], f[6], f[7]
	if string(typ) != "SESSION" && string(typ) != "OBJECT" {
		return false, parse.Errorf(parse.ReasonUnknownEvent, 0, "unknown pgaudit audit type %q", typ)
	}
	sid, ok1 := parse.Digits(stmtID)
	sub, ok2 := parse.Digits(subID)
	if !ok1 || !ok2 {
		return false, parse.Errorf(parse.ReasonField, 0, "bad pgaudit statement id %q,%q", stmtID, subID)
	}
	var cat event.Category
	action := classify.Statement(parse.S(command))
	switch string(class) {
	case "READ":
		cat, action = event.CategoryRead, event.ActionSelect
	case "WRITE":
		cat = event.CategoryDMLWrite
	case "ROLE":
		cat = event.CategoryPrivilegeChange
	case "DDL":
		cat = event.CategoryDDL
	case "FUNCTION":
		cat, action = event.CategoryOther, event.ActionCall
	case "MISC", "MISC_SET":
		// MISC holds session statements (SET, SHOW, DISCARD, FETCH) and
		// server administration (CHECKPOINT, VACUUM).
		cat = event.CategoryAdmin
	default:
		return false, parse.Errorf(parse.ReasonUnknownEvent, 0, "unknown pgaudit class %q", class)
	}
	// The verb decides where the classifier names it, so that a statement
	// has one category in every product (docs/categories.md): pgaudit
	// files ALTER SYSTEM under DDL, TRUNCATE under WRITE, SET and SHOW
	// under MISC. What the classifier does not name keeps pgaudit's class.
	if action != event.ActionOther && string(class) != "READ" && string(class) != "FUNCTION" {
		cat = action.Category()
	}
	if pid, ok := parse.Digits(m.PID); ok && c.audit.seen(uint64(pid), uint64(sid), uint64(sub)) {
		return false, nil // another entry (object, relation) of the same statement
	}
	ev.Category, ev.Action, ev.Outcome = cat, action, event.OutcomeSuccess
	if string(stmt) != "<previously logged>" && string(stmt) != "<not logged>" {
		// pgaudit replaces passwords with <REDACTED> itself (1.7), but
		// not every secret (keys in function arguments, older versions).
		ev.Statement = redact.StringIn(parse.S(stmt), ev.Raw, m.RawClean)
	}
	if len(objName) > 0 {
		ev.Objects = append(ev.Objects, parse.S(objName))
	}
	if n == 10 {
		if rows, ok := parse.Digits(f[9]); ok {
			ev.Rows, ev.HasRows = rows, true
		}
	}
	return true, nil
}

// csvReader reads the comma-separated fields of a pgaudit entry with the
// quoting of encoding/csv: a field that starts with '"' ends at the next lone
// '"', and "" inside it stands for one '"'. Unquoted fields are taken
// verbatim (pgaudit leaves a statement unquoted unless it contains a comma, a
// quote or a newline).
type csvReader struct {
	b   []byte
	i   int
	end bool
}

func (r *csvReader) done() bool { return r.end }

// field returns the next field; unescaped quoted fields are appended to buf,
// which must have room for the whole input so that it does not move.
func (r *csvReader) field(buf *[]byte) ([]byte, error) {
	b := r.b
	i := r.i
	if i < len(b) && b[i] == '"' {
		i++
		start := i
		esc := false
		for {
			j := bytes.IndexByte(b[i:], '"')
			if j < 0 {
				return nil, parse.Errorf(parse.ReasonEncoding, start, "unterminated quoted field in pgaudit entry")
			}
			i += j
			if i+1 < len(b) && b[i+1] == '"' {
				esc = true
				i += 2
				continue
			}
			break
		}
		v := b[start:i]
		i++ // closing quote
		switch {
		case i == len(b):
			r.end = true
		case b[i] == ',':
			i++
		default:
			return nil, parse.Errorf(parse.ReasonEncoding, i, "text after a quoted field in pgaudit entry")
		}
		r.i = i
		if esc {
			s := len(*buf)
			for k := 0; k < len(v); k++ {
				*buf = append(*buf, v[k])
				if v[k] == '"' {
					k++
				}
			}
			v = (*buf)[s:]
		}
		return v, nil
	}
	j := bytes.IndexByte(b[i:], ',')
	if j < 0 {
		r.end = true
		r.i = len(b)
		return b[i:], nil
	}
	r.i = i + j + 1
	return b[i : i+j], nil
}

// keyValue returns the value of key ("user=") in "k=v k=v …".
func keyValue(b []byte, key string) ([]byte, bool) {
	i := 0
	for {
		j := bytes.Index(b[i:], []byte(key))
		if j < 0 {
			return nil, false
		}
		j += i
		if j == 0 || b[j-1] == ' ' {
			v := b[j+len(key):]
			if k := bytes.IndexByte(v, ' '); k >= 0 {
				v = v[:k]
			}
			return v, true
		}
		i = j + 1
	}
}

// quoted returns the text between after and the next '"'.
func quoted(b []byte, after string) ([]byte, bool) {
	i := bytes.Index(b, []byte(after))
	if i < 0 {
		return nil, false
	}
	v := b[i+len(after):]
	j := bytes.IndexByte(v, '"')
	if j < 0 {
		return nil, false
	}
	return v[:j], true
}

// sessionTime parses "H:MM:SS.mmm" into seconds.
func sessionTime(b []byte) (float64, bool) {
	c1 := bytes.IndexByte(b, ':')
	if c1 < 0 || len(b) < c1+6 || b[c1+3] != ':' {
		return 0, false
	}
	h, ok1 := parse.Digits(b[:c1])
	m, ok2 := parse.Digits(b[c1+1 : c1+3])
	rest := b[c1+4:]
	dot := bytes.IndexByte(rest, '.')
	frac := []byte(nil)
	if dot >= 0 {
		rest, frac = rest[:dot], rest[dot+1:]
	}
	s, ok3 := parse.Digits(rest)
	if !ok1 || !ok2 || !ok3 {
		return 0, false
	}
	var num, div int64 = 0, 1
	for _, c := range frac {
		if c < '0' || c > '9' || div >= 1e15 {
			return 0, false
		}
		num, div = num*10+int64(c-'0'), div*10
	}
	v := float64(h*3600+m*60+s) + float64(num)/float64(div)
	return v, true
}

func firstLine(b []byte) []byte {
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		return b[:i]
	}
	return b
}

// auditSet remembers the last pgaudit (statement id, sub-statement id) of
// each backend, in a fixed direct-mapped table (no allocation).
type auditSet struct {
	slots [1024]auditSlot
}

type auditSlot struct {
	pid, stmt, sub uint64
	used           bool
}

func (s *auditSet) slot(pid uint64) *auditSlot {
	return &s.slots[(pid*0x9E3779B97F4A7C15)>>54]
}

// seen reports whether (stmt, sub) is the last entry of pid, and records it.
func (s *auditSet) seen(pid, stmt, sub uint64) bool {
	sl := s.slot(pid)
	if sl.used && sl.pid == pid && sl.stmt == stmt && sl.sub == sub {
		return true
	}
	*sl = auditSlot{pid: pid, stmt: stmt, sub: sub, used: true}
	return false
}

// clear forgets pid (a new session restarts statement ids at 1).
func (s *auditSet) clear(pidText []byte) {
	pid, ok := parse.Digits(pidText)
	if !ok {
		return
	}
	if sl := s.slot(uint64(pid)); sl.pid == uint64(pid) {
		*sl = auditSlot{}
	}
}
