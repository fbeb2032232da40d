package redact

import (
	"strings"
	"unicode/utf8"
	"unsafe"
)

// Credential-managing statements fail closed: when a text holds a statement
// that manages credentials, every literal of that statement is masked, not
// only the ones in the positions a keyword rule knows about.
//
// A statement is credential-managing when it is CREATE|ALTER USER, ROLE,
// GROUP, SERVER or SUBSCRIPTION, SET PASSWORD, CHANGE MASTER|REPLICATION
// SOURCE, START SLAVE|REPLICA, or when any of its words is PASSWORD, PASS,
// IDENTIFIED or ends in _PASSWORD (MASTER_PASSWORD, OLD_PASSWORD …) and is
// followed by a value rather than by ':' or ',' (as in the server message
// "using password: YES"). Its literals are found with a SQL lexer
// (DataDog's go-sqllexer), run once with the MySQL and once with the
// PostgreSQL lexing rules, and the union is masked: quoted strings with any
// prefix (_utf8mb4'…', E'…', U&'…', X'…', N'…'), double-quoted strings,
// $$…$$ and $tag$…$tag$ strings, numbers and hex literals (0x…). Comments
// and line breaks between keywords do not hide a statement from the lexer.
//
// Statements usually sit inside a log record with the format's own
// escaping: MariaDB wraps them in '…' with \' for a quote, JSON records in
// "…" with \" and \uXXXX, CSV in "…" with "" for a quote, and some records
// nest two of these. So the text is looked at in views: the text itself,
// then the unescaped content of each quoted string in it that mentions a
// credential word, and so on three levels deep. Every view keeps a map from
// its bytes back to the text's, so that a literal found in a view is masked
// in the text, whatever escaping it had there.
//
// A pgaudit record of class ROLE (or whose statement mentions a credential
// word) has its PARAMETER field masked whole.

const maxDepth = 3

// credSpans appends the spans of the literals of credential-managing
// statements found in s (or in the unescaped strings inside it).
func credSpans(s string, spans []span) []span {
	if !hasCredWord(s) {
		return spans
	}
	sc := scratchPool.Get().(*scratch)
	defer scratchPool.Put(sc)
	v := viewer{budget: 16*len(s) + 4096, sc: sc}
	spans = v.scan(s, nil, 0, spans)
	if v.budget < 0 {
		// Too many nested strings to look at them all (a crafted record):
		// mask everything from the first credential word on.
		spans = append(spans, span{firstCredWord(s), len(s)})
	}
	return spans
}

// viewer bounds the work spent on one text: the bytes of all its views.
type viewer struct {
	budget int
	sc     *scratch
}

// scan looks for credential statements in t, whose byte i is byte pos[i]
// of the original text (pos nil: t is the original text).
func (v *viewer) scan(t string, pos []int, depth int, spans []span) []span {
	v.budget -= len(t)
	if v.budget < 0 {
		return spans
	}
	spans = lexSpans(t, pos, mysql, v.sc, spans)
	spans = lexSpans(t, pos, postgres, v.sc, spans)
	spans = pgauditSpans(t, pos, spans)
	if depth == maxDepth {
		return spans
	}
	if strings.IndexByte(t, '\\') >= 0 {
		// The whole text with one level of backslash escapes undone: a
		// statement whose quotes a format escaped without quoting it.
		u, upos := v.unescape(depth+1, 0, t, 0, 0, true, pos)
		spans = v.scan(u, upos, depth+1, spans)
	}
	for _, q := range [...]byte{'\'', '"'} {
		for i := strings.IndexByte(t, q); i >= 0 && i < len(t); {
			end := closeQuote(t, i)
			if content := t[i+1 : end]; hasCredWord(content) {
				// Backslash escapes (MariaDB, JSON, Go) or, in "…", only
				// doubled quotes (CSV): both readings are looked at.
				u, upos := v.unescape(depth+1, 0, content, i+1, q, true, pos)
				spans = v.scan(u, upos, depth+1, spans)
				if q == '"' && strings.IndexByte(content, '\\') >= 0 {
					u, upos = v.unescape(depth+1, 1, content, i+1, q, false, pos)
					spans = v.scan(u, upos, depth+1, spans)
				}
			}
			if end+1 >= len(t) {
				break
			}
			n := strings.IndexByte(t[end+1:], q)
			if n < 0 {
				break
			}
			i = end + 1 + n
		}
	}
	return spans
}

func firstCredWord(s string) int {
	for i := 0; i < len(s); i++ {
		if hasCredWord(s[i:min(len(s), i+10)]) {
			return i
		}
	}
	return 0
}

// closeQuote returns the index of the quote that closes the string opened
// at i (backslash escapes and doubled quotes honoured), or len(t).
func closeQuote(t string, i int) int {
	q := t[i]
	for j := i + 1; j < len(t); j++ {
		switch t[j] {
		case '\\':
			j++
		case q:
			if j+1 < len(t) && t[j+1] == q {
				j++
				continue
			}
			return j
		}
	}
	return len(t)
}

// unescape undoes doubled quotes and, if bs, backslash escapes (\n, \t,
// \r, \xHH, \uXXXX, \<c>) in the content of a string quoted with q (0: no
// quote) that starts at offset off of its view. The second result maps
// each byte of the result (and its end) to the original text through pos.
// The result lives in the scratch buffers of its depth and variant: it is
// valid until the next view of that depth.
func (v *viewer) unescape(depth, variant int, c string, off int, q byte, bs bool, pos []int) (string, []int) {
	out := v.sc.buf[depth][variant][:0]
	m := v.sc.pos[depth][variant][:0]
	defer func() {
		v.sc.buf[depth][variant], v.sc.pos[depth][variant] = out[:0], m[:0]
	}()
	at := func(i int) int {
		if pos == nil {
			return off + i
		}
		return pos[off+i]
	}
	for i := 0; i < len(c); {
		b := c[i]
		switch {
		case bs && b == '\\' && i+1 < len(c):
			e := c[i+1]
			n := 2
			l := len(out)
			switch e {
			case 'n':
				out = append(out, '\n')
			case 't':
				out = append(out, '\t')
			case 'r':
				out = append(out, '\r')
			case 'x':
				if x, ok := hexVal(c, i+2, 2); ok {
					out, n = append(out, byte(x)), 4
				} else {
					out = append(out, 'x')
				}
			case 'u':
				if x, ok := hexVal(c, i+2, 4); ok {
					out, n = utf8.AppendRune(out, rune(x)), 6
				} else {
					out = append(out, 'u')
				}
			default:
				out = append(out, e)
			}
			for range len(out) - l {
				m = append(m, at(i))
			}
			i += n
		case q != 0 && b == q && i+1 < len(c) && c[i+1] == q:
			out = append(out, q)
			m = append(m, at(i))
			i += 2
		default:
			out = append(out, b)
			m = append(m, at(i))
			i++
		}
	}
	m = append(m, at(len(c)))
	if len(out) == 0 {
		return "", m
	}
	return unsafe.String(&out[0], len(out)), m
}

func hexVal(s string, i, n int) (int, bool) {
	if i+n > len(s) {
		return 0, false
	}
	v := 0
	for k := i; k < i+n; k++ {
		c := s[k]
		switch {
		case c >= '0' && c <= '9':
			v = v<<4 | int(c-'0')
		case c|0x20 >= 'a' && c|0x20 <= 'f':
			v = v<<4 | int(c|0x20-'a'+10)
		default:
			return 0, false
		}
	}
	return v, true
}

// lexSpans lexes t with the rules of one dialect and appends the literal
// spans of its credential-managing statements.
func lexSpans(t string, pos []int, d dialect, sc *scratch, spans []span) []span {
	stmt := sc.toks[:0]
	for i := 0; ; {
		k, next := nextTok(t, i, d)
		if k.kind == tEOF {
			break
		}
		i = next
		if k.kind == tPunct && t[k.start] == ';' {
			spans = stmtSpans(t, stmt, pos, spans)
			stmt = stmt[:0]
			continue
		}
		stmt = append(stmt, k)
	}
	spans = stmtSpans(t, stmt, pos, spans)
	sc.toks = stmt[:0]
	return spans
}

// stmtSpans appends the literal spans of stmt if it manages credentials.
func stmtSpans(t string, stmt []tok, pos []int, spans []span) []span {
	from := credStart(t, stmt)
	if from < 0 {
		return spans
	}
	for i := from; i < len(stmt); i++ {
		k := stmt[i]
		if k.kind != tString && k.kind != tNumber && k.kind != tDollar {
			continue
		}
		if k.kind == tString && isAccountPart(t, stmt, i) {
			continue
		}
		if k.ce > k.cs {
			spans = append(spans, mapSpan(pos, k.cs, k.ce))
		}
	}
	// Belt and braces: every quoted run of the statement, read without
	// the dialect's rules.
	return quotedRuns(t, stmt[from].start, stmt[len(stmt)-1].end, pos, spans)
}

// isAccountPart reports whether string token i is the user or host part of
// a MySQL account name, 'user'@'host': in the grammar these are names, not
// values, and rules about accounts (a grant to any host, '%') need them.
func isAccountPart(t string, stmt []tok, i int) bool {
	k := stmt[i]
	if k.end < len(t) && t[k.end] == '@' {
		return true
	}
	return k.start > 0 && t[k.start-1] == '@' && (t[k.start] == '\'' || t[k.start] == '"' || t[k.start] == '`')
}

func mapSpan(pos []int, a, b int) span {
	if pos == nil {
		return span{a, b}
	}
	return span{pos[a], pos[b]}
}

// credStart returns the index of the token where the credential-managing
// statement in stmt starts, or -1 if stmt manages no credentials. A
// statement is often preceded by other fields of its record (a pgaudit
// entry, a log prefix) when a view has not isolated it: the masking starts
// at its command word.
func credStart(t string, stmt []tok) int {
	cmd, word := -1, -1
	for i, k := range stmt {
		if k.kind != tWord {
			continue
		}
		if cmd < 0 && isCredCommand(t, stmt, i) {
			cmd = i
		}
		if word < 0 && isCredWordTok(t, stmt, i) {
			word = i
		}
	}
	switch {
	case cmd >= 0:
		return cmd
	case word >= 0:
		return 0
	}
	return -1
}

// wordAt returns the text of token i if it is a word.
func wordAt(t string, stmt []tok, i int) string {
	if i >= 0 && i < len(stmt) && stmt[i].kind == tWord {
		return t[stmt[i].start:stmt[i].end]
	}
	return ""
}

func isCredCommand(t string, stmt []tok, i int) bool {
	w, n := wordAt(t, stmt, i), wordAt(t, stmt, i+1)
	switch {
	case eqFold(w, "create") || eqFold(w, "alter"):
		if eqFold(n, "or") { // CREATE OR REPLACE USER (MariaDB)
			n = wordAt(t, stmt, i+3)
		}
		for _, o := range [...]string{"user", "role", "group", "server", "subscription"} {
			if eqFold(n, o) {
				return true
			}
		}
	case eqFold(w, "set"):
		return eqFold(n, "password")
	case eqFold(w, "change"):
		return eqFold(n, "master") || eqFold(n, "replication")
	case eqFold(w, "start"):
		return eqFold(n, "slave") || eqFold(n, "replica") || eqFold(n, "group_replication")
	}
	return false
}

// isCredWordTok reports whether token i is a credential word followed by a
// value (not by ':' or ',' or the word AUTHENTICATION, as in server
// messages).
func isCredWordTok(t string, stmt []tok, i int) bool {
	w := wordAt(t, stmt, i)
	if !credWord(w) {
		return false
	}
	if i+1 >= len(stmt) {
		return eqFold(w, "identified")
	}
	n := stmt[i+1]
	switch n.kind {
	case tPunct:
		return t[n.start] != ','
	case tOp:
		return t[n.start] != ':'
	case tWord:
		return !eqFold(t[n.start:n.end], "authentication")
	}
	return true
}

// credWord reports whether w is PASSWORD, PASS, IDENTIFIED or ends in
// _PASSWORD.
func credWord(w string) bool {
	switch len(w) {
	case 4:
		return eqFold(w, "pass")
	case 8:
		return eqFold(w, "password")
	case 10:
		if eqFold(w, "identified") {
			return true
		}
	}
	return len(w) > 9 && eqFold(w[len(w)-9:], "_password")
}

// hasCredWord reports, without allocating, whether s contains one of the
// words credWord accepts (a word ends at any byte that is not a letter or a
// digit, so MASTER_PASSWORD and PASSWORD_EXPIRE count).
func hasCredWord(s string) bool {
	for i := 0; i+4 <= len(s); i++ {
		c := s[i] | 0x20
		if c != 'p' && c != 'i' {
			continue
		}
		if i > 0 && isAlnum(s[i-1]) && !afterEscape(s, i) {
			continue
		}
		for _, w := range [...]string{"password", "pass", "identified"} {
			if w[0] == c && hasPrefixFold(s, i, w) && (i+len(w) == len(s) || !isAlnum(s[i+len(w)])) && !mention(s, i+len(w)) {
				return true
			}
		}
	}
	return false
}

// mention reports whether the credential word that ends at i is followed
// by ':' or ',' or the word AUTHENTICATION: a server message ("using
// password: YES", "password authentication failed", TDengine's "invalid
// pass, input:"), not a statement. Such text is not lexed at all.
func mention(s string, i int) bool {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
		i++
	}
	if i < len(s) && (s[i] == ':' || s[i] == ',') {
		return true
	}
	return hasPrefixFold(s, i, "authentication")
}

// afterEscape reports whether s[:i] ends with an escape sequence that
// stands for a separator: \n, \t, \r, \xHH, \uXXXX.
func afterEscape(s string, i int) bool {
	if i >= 2 && s[i-2] == '\\' && (s[i-1] == 'n' || s[i-1] == 't' || s[i-1] == 'r') {
		return true
	}
	if i >= 4 && s[i-4] == '\\' && s[i-3] == 'x' {
		return true
	}
	return i >= 6 && s[i-6] == '\\' && s[i-5] == 'u'
}

func isAlnum(c byte) bool {
	return (c >= '0' && c <= '9') || (c|0x20 >= 'a' && c|0x20 <= 'z')
}

// pgauditSpans masks the PARAMETER field of a pgaudit entry
// (AUDIT: TYPE,ID,SUB,CLASS,COMMAND,OBJTYPE,OBJNAME,STATEMENT,PARAMETER[,ROWS])
// whose class is ROLE or whose statement mentions a credential word.
func pgauditSpans(t string, pos []int, spans []span) []span {
	for i := strings.Index(t, "AUDIT: "); i >= 0; {
		var f [10]span
		n := 0
		j := i + len("AUDIT: ")
		for n < len(f) {
			start := j
			if j < len(t) && t[j] == '"' {
				j = closeQuote(t, j)
				f[n] = span{start + 1, j}
				j++
			} else {
				for j < len(t) && t[j] != ',' && t[j] != '\n' {
					j++
				}
				f[n] = span{start, j}
			}
			n++
			if j >= len(t) || t[j] != ',' {
				break
			}
			j++
		}
		if n >= 9 {
			class, stmt, param := t[f[3].start:f[3].end], t[f[7].start:f[7].end], f[8]
			p := t[param.start:param.end]
			if (class == "ROLE" || hasCredWord(stmt)) && !strings.HasPrefix(p, "<not logged>") && !strings.HasPrefix(p, "<none>") && p != "" {
				spans = append(spans, mapSpan(pos, param.start, param.end))
			}
		}
		k := strings.Index(t[i+1:], "AUDIT: ")
		if k < 0 {
			break
		}
		i += 1 + k
	}
	return spans
}

// quotedRuns appends the contents of the '…' and "…" runs of t[from:to]
// (backslash escapes and doubled quotes honoured, unterminated runs to the
// end, account names 'user'@'host' kept) and of its $tag$…$tag$ runs.
func quotedRuns(t string, from, to int, pos []int, spans []span) []span {
	r := t[:to]
	for i := from; i < len(r); i++ {
		switch r[i] {
		case '\'', '"':
			end := closeQuote(r, i)
			account := (i > 0 && r[i-1] == '@') || (end+1 < len(r) && r[end+1] == '@')
			if end > i+1 && !account {
				spans = append(spans, mapSpan(pos, i+1, end))
			}
			i = end
		case '$':
			j := i + 1
			for j < len(r) && (isAlnum(r[j]) || r[j] == '_') {
				j++
			}
			if j < len(r) && r[j] == '$' && (j == i+1 || !isDigitByte(r[i+1])) {
				tag := r[i : j+1]
				end := indexFrom(r, tag, j+1)
				if end < 0 {
					return append(spans, mapSpan(pos, j+1, len(r)))
				}
				if end > j+1 {
					spans = append(spans, mapSpan(pos, j+1, end))
				}
				i = end + len(tag) - 1
			}
		}
	}
	return spans
}

func isDigitByte(c byte) bool { return c >= '0' && c <= '9' }
