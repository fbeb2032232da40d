// Package classify is the per-line fast path of statement classification: it
// reads the leading keywords of a SQL statement and returns its event.Action
// (and so its category and statement class) without parsing, allocating or
// copying. It understands comments, parentheses and the common modifiers of
// MySQL/TiDB, PostgreSQL and TDengine DDL.
//
// It does not compute digests or look inside the statement; the full SQL
// parser of pkg/detect does that off the metrics path.
package classify

import "github.com/dbsec/dbsec/pkg/event"

// Statement returns the action of a SQL statement. An empty or unrecognised
// statement gives event.ActionOther.
func Statement(sql string) event.Action {
	s := scanner{s: sql}
	w := s.word()
	if w == "" {
		return event.ActionOther
	}
	switch upper(w) {
	case "SELECT", "WITH", "VALUES", "TABLE":
		return event.ActionSelect
	case "INSERT":
		return event.ActionInsert
	case "UPDATE":
		return event.ActionUpdate
	case "DELETE":
		return event.ActionDelete
	case "REPLACE":
		return event.ActionReplace
	case "LOAD":
		if eq(s.word(), "DATA") {
			return event.ActionLoadData
		}
		return event.ActionOther
	case "IMPORT":
		return event.ActionLoadData
	case "COPY":
		// PostgreSQL COPY t FROM … writes, COPY t TO … reads; without a parse
		// we cannot tell, so it is a write (the more sensitive of the two).
		return event.ActionLoadData
	case "GRANT":
		return event.ActionGrant
	case "REVOKE":
		return event.ActionRevoke
	case "CREATE":
		return create(&s)
	case "ALTER":
		return alter(&s)
	case "DROP":
		return drop(&s)
	case "TRUNCATE":
		return event.ActionTruncateTable
	case "RENAME":
		w := s.word()
		switch {
		case eq(w, "USER"):
			return event.ActionRenameUser
		case eq(w, "TABLE"), eq(w, "TABLES"):
			return event.ActionRenameTable
		}
		return event.ActionOther
	case "SET":
		w := s.word()
		switch {
		case eq(w, "PASSWORD"):
			return event.ActionSetPassword
		case eq(w, "ROLE"), eq(w, "DEFAULT") && eq(s.word(), "ROLE"):
			return event.ActionSetRole
		case eq(w, "GLOBAL"), eq(w, "PERSIST"), eq(w, "PERSIST_ONLY"), eq(w, "INSTANCE"):
			return event.ActionSet
		case w == "" && s.globalVar():
			return event.ActionSet
		}
		// SET name = …, SET SESSION …, SET NAMES …: the session's own state.
		return event.ActionSetSession
	case "RESET", "DISCARD":
		// PostgreSQL RESET name / RESET ALL / DISCARD ALL: session state.
		return event.ActionSetSession
	case "USE":
		return event.ActionUse
	case "SHOW":
		return event.ActionShow
	case "EXPLAIN", "DESC", "DESCRIBE", "TRACE":
		return event.ActionExplain
	case "KILL":
		return event.ActionKill
	case "FLUSH":
		return event.ActionFlush
	case "SHUTDOWN", "RESTART":
		return event.ActionShutdown
	case "BACKUP":
		return event.ActionBackup
	case "RESTORE":
		return event.ActionRestore
	case "INSTALL":
		return event.ActionInstallPlugin
	case "UNINSTALL":
		return event.ActionUninstallPlugin
	case "BEGIN", "START", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE", "END", "ABORT":
		return event.ActionTransaction
	case "PREPARE", "DEALLOCATE":
		return event.ActionPrepare
	case "EXECUTE":
		return event.ActionExecute
	case "CALL", "DO":
		return event.ActionCall
	}
	return event.ActionOther
}

func create(s *scanner) event.Action {
	for range 8 { // bounded skip of modifiers
		w := s.word()
		switch upper(w) {
		case "TABLE", "STABLE":
			return event.ActionCreateTable
		case "DATABASE", "SCHEMA":
			return event.ActionCreateDatabase
		case "INDEX":
			return event.ActionCreateIndex
		case "VIEW":
			return event.ActionCreateView
		case "USER":
			return event.ActionCreateUser
		case "ROLE", "GROUP":
			return event.ActionCreateRole
		case "BINDING", "DNODE", "MNODE", "QNODE", "SNODE":
			// TiDB plan bindings, TDengine cluster nodes: server
			// administration, not schema.
			return event.ActionConfigChange
		case "OR", "REPLACE", "TEMPORARY", "TEMP", "GLOBAL", "SESSION", "LOCAL", "UNIQUE", "FULLTEXT", "SPATIAL",
			"UNLOGGED", "MATERIALIZED", "RECURSIVE", "CLUSTERED", "NONCLUSTERED", "EXTERNAL":
			continue
		case "ALGORITHM", "DEFINER":
			s.skipAssignment()
			continue
		case "SQL":
			s.word() // SECURITY
			s.word() // DEFINER|INVOKER
			continue
		case "":
			return event.ActionCreateOther
		}
		return event.ActionCreateOther
	}
	return event.ActionCreateOther
}

func alter(s *scanner) event.Action {
	for range 6 {
		w := s.word()
		switch upper(w) {
		case "TABLE", "STABLE":
			return event.ActionAlterTable
		case "DATABASE", "SCHEMA":
			return event.ActionAlterDatabase
		case "VIEW":
			return event.ActionAlterView
		case "USER", "ROLE", "GROUP":
			return event.ActionAlterUser
		case "SYSTEM", "INSTANCE", "DNODE", "ALL", "LOCAL", "CLUSTER":
			return event.ActionConfigChange
		case "ONLINE", "OFFLINE", "IGNORE":
			continue
		case "ALGORITHM", "DEFINER":
			s.skipAssignment()
			continue
		case "SQL":
			s.word()
			s.word()
			continue
		}
		return event.ActionAlterOther
	}
	return event.ActionAlterOther
}

func drop(s *scanner) event.Action {
	for range 4 {
		w := s.word()
		switch upper(w) {
		case "TABLE", "TABLES", "STABLE":
			return event.ActionDropTable
		case "DATABASE", "SCHEMA":
			return event.ActionDropDatabase
		case "INDEX":
			return event.ActionDropIndex
		case "VIEW":
			return event.ActionDropView
		case "USER":
			return event.ActionDropUser
		case "ROLE", "GROUP":
			return event.ActionDropRole
		case "BINDING", "DNODE", "MNODE", "QNODE", "SNODE":
			return event.ActionConfigChange
		case "TEMPORARY", "MATERIALIZED", "GLOBAL", "SESSION":
			continue
		}
		return event.ActionDropOther
	}
	return event.ActionDropOther
}

// scanner reads SQL keywords: runs of letters, digits and '_' after skipping
// blanks, comments and opening parentheses.
type scanner struct {
	s string
	i int
}

func (sc *scanner) skip() {
	s := sc.s
	i := sc.i
	for i < len(s) {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '(' || c == '\f' || c == '\v':
			i++
		case c == '/' && i+1 < len(s) && s[i+1] == '*':
			// /* … */ comment; MySQL /*!nnnnn … */ executable comments are
			// read as code.
			if i+2 < len(s) && (s[i+2] == '!' || s[i+2] == '+') {
				i += 3
				for i < len(s) && s[i] >= '0' && s[i] <= '9' {
					i++
				}
				continue
			}
			j := i + 2
			for j+1 < len(s) && !(s[j] == '*' && s[j+1] == '/') {
				j++
			}
			i = j + 2
		case c == '-' && i+1 < len(s) && s[i+1] == '-', c == '#':
			for i < len(s) && s[i] != '\n' {
				i++
			}
		default:
			sc.i = i
			return
		}
	}
	sc.i = len(s)
}

func (sc *scanner) word() string {
	sc.skip()
	s := sc.s
	j := sc.i
	for j < len(s) {
		c := s[j] | 0x20
		if (c >= 'a' && c <= 'z') || (s[j] >= '0' && s[j] <= '9') || s[j] == '_' {
			j++
			continue
		}
		break
	}
	w := s[sc.i:j]
	sc.i = j
	return w
}

// globalVar reports whether the scanner is at "@@global." or "@@persist".
func (sc *scanner) globalVar() bool {
	rest := sc.s[sc.i:]
	if len(rest) < 3 || rest[0] != '@' || rest[1] != '@' {
		return false
	}
	sub := scanner{s: rest[2:]}
	w := sub.word()
	return eq(w, "GLOBAL") || eq(w, "PERSIST") || eq(w, "PERSIST_ONLY") || eq(w, "INSTANCE")
}

// skipAssignment skips "= value" after DEFINER or ALGORITHM.
func (sc *scanner) skipAssignment() {
	sc.skip()
	if sc.i < len(sc.s) && sc.s[sc.i] == '=' {
		sc.i++
	}
	sc.skip()
	// The value may be `user`@`host`, 'u'@'h', CURRENT_USER or a word.
	for sc.i < len(sc.s) {
		c := sc.s[sc.i]
		if c == ' ' || c == '\t' || c == '\n' || c == '\r' {
			break
		}
		sc.i++
	}
}

// upper returns w upper-cased when it is a short ASCII keyword, so that it
// can be used in a switch; longer words give "" (no keyword is that long).
// The conversion uses a stack buffer; Go does not allocate for a string
// conversion that is only compared.
func upper(w string) string {
	if len(w) == 0 || len(w) > 16 {
		return "\x00"
	}
	for i := 0; i < len(w); i++ {
		if w[i] >= 'a' && w[i] <= 'z' {
			return upperSlow(w)
		}
	}
	return w
}

func upperSlow(w string) string {
	var buf [16]byte
	for i := 0; i < len(w); i++ {
		c := w[i]
		if c >= 'a' && c <= 'z' {
			c -= 'a' - 'A'
		}
		buf[i] = c
	}
	return keyword(buf[:len(w)])
}

// eq reports whether w equals the upper-case keyword k, ignoring case.
func eq(w, k string) bool {
	if len(w) != len(k) {
		return false
	}
	for i := 0; i < len(w); i++ {
		c := w[i]
		if c >= 'a' && c <= 'z' {
			c -= 'a' - 'A'
		}
		if c != k[i] {
			return false
		}
	}
	return true
}

// keywords interns every keyword the switches above compare against, so that
// a lower-case word can be upper-cased on the stack and mapped to a constant
// string without allocating (a map index with string(bytes) does not copy).
var keywords = func() map[string]string {
	m := map[string]string{}
	for _, k := range []string{
		"SELECT", "WITH", "VALUES", "TABLE", "INSERT", "UPDATE", "DELETE", "REPLACE", "LOAD", "DATA", "IMPORT", "COPY",
		"GRANT", "REVOKE", "CREATE", "ALTER", "DROP", "TRUNCATE", "RENAME", "SET", "USE", "SHOW", "EXPLAIN",
		"DESC", "DESCRIBE", "TRACE", "KILL", "FLUSH", "SHUTDOWN", "RESTART", "BACKUP", "RESTORE", "INSTALL",
		"UNINSTALL", "BEGIN", "START", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE", "END", "ABORT", "PREPARE",
		"DEALLOCATE", "EXECUTE", "CALL", "DO",
		"STABLE", "DATABASE", "SCHEMA", "INDEX", "VIEW", "USER", "ROLE", "GROUP", "OR", "TEMPORARY", "TEMP",
		"GLOBAL", "LOCAL", "UNIQUE", "FULLTEXT", "SPATIAL", "UNLOGGED", "MATERIALIZED", "RECURSIVE", "CLUSTERED",
		"NONCLUSTERED", "EXTERNAL", "ALGORITHM", "DEFINER", "SQL", "SYSTEM", "INSTANCE", "DNODE", "ALL",
		"CLUSTER", "ONLINE", "OFFLINE", "IGNORE", "TABLES", "PERSIST", "PERSIST_ONLY", "PASSWORD", "DEFAULT",
		"BINDING", "SESSION", "MNODE", "QNODE", "SNODE", "RESET", "DISCARD",
	} {
		m[k] = k
	}
	return m
}()

func keyword(b []byte) string {
	if k, ok := keywords[string(b)]; ok {
		return k
	}
	return "\x00"
}

// Category returns the category of an event whose verb is a: a statement
// refused for lack of privilege (denied) is access_denied whatever its verb.
func Category(a event.Action, denied bool) event.Category {
	if denied {
		return event.CategoryAccessDenied
	}
	return a.Category()
}

// DeniedErrno reports whether a MySQL-family error number means the server
// refused the statement or login for lack of privilege (MySQL 1044, 1045,
// 1142, 1143, 1227, 1370, 1410, 1211 and TiDB 8121 "privilege check fail").
func DeniedErrno(code int64) bool {
	switch code {
	case 1044, 1045, 1142, 1143, 1227, 1370, 1410, 1211, 8121:
		return true
	}
	return false
}
