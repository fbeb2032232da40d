package sqlx

import (
	"unicode/utf8"
)

// The fingerprint: a cache key for statements that differ only in their
// literals.
//
// Analyze is expensive (TiDB's parser, its digest, the raw-text rules), and
// on real audit logs almost every statement carries its own literals, so a
// cache keyed by the text misses on every line. Fingerprint is one
// allocation-free pass over the text, lexing it the way TiDB's lexer,
// go-sqllexer and the raw-text rules do, that writes a key: the text with
// every literal (string, number, hex, bit, dollar-quoted) replaced by a
// two-byte placeholder, 0x00 followed by the literal's kind, and every run of
// whitespace folded to its first and last byte. Everything else (keywords,
// identifiers, operators, quoted identifiers, placeholders such as ? and $1,
// any literal it does not fully understand) is copied byte for byte. A
// parenthesised list of two or more literals of one kind, (1, 2, 3), becomes
// one list placeholder (0x00 0x01 kind): TiDB's digest writes it ( ... ) and
// go-sqllexer ( ? ) whatever its length, and no rule counts the values, so
// IN lists of any length share an entry.
//
// Why the key is safe. Two statements with one key have the same bytes
// outside literals (up to whitespace-run lengths, which no consumer of the
// text distinguishes beyond "one space" and "first and last byte", both
// kept), and literals of the same kinds in the same places. Analyze depends on
// the literals' contents in only these ways, and the fingerprint refuses
// (cacheable = false: the statement goes to the text-keyed cache, exactly as
// before) every statement where it could:
//
//   - Statement class. Only statements that start with SELECT, INSERT,
//     UPDATE, DELETE, REPLACE or WITH are cacheable. DDL, DCL, SET, LOAD,
//     COPY, admin statements, and the anchored raw-text rules (^\s*grant …,
//     ^\s*copy …) never share an entry; their literals are accounts,
//     passwords, paths and settings.
//   - Raw-text rules on the literals. A literal (or quoted identifier)
//     whose lowercased content holds a rule keyword that a rule could match
//     inside it ("(", where, limit, union, outfile, pg_, @@, --, #, /*, a
//     word "or" followed by a space, the masks ***, <redacted>, …) is
//     refused; see contentDanger. A rule whose keyword is in the text outside
//     literals and whose expression reads literals (the path of INTO OUTFILE,
//     LOAD_FILE, COPY, sp_configure, current_setting, extractvalue's .*,
//     CHAR(n) chains) refuses the whole key; see keySafe.
//   - Comments: any --, # or /* outside literals is refused (the D32
//     obfuscation rules read the text around them; /*! and /*+ change the
//     parse).
//   - Values the parser or the digest read: an integer in a list after BY
//     (ORDER BY 1, GROUP BY a, 2: TiDB's digest keeps it) is copied, not
//     replaced; integers
//     beyond int64, decimals beyond 30 digits, exponents, leading zeros,
//     invalid x'…' / b'…' and numbers glued to identifiers are copied; a
//     literal after COLLATE, CHARSET, SET, USING or ESCAPE (validated by the
//     parser) or after OR (the lexer-path tautology rule) is refused; in a
//     statement with DELETE or UPDATE a literal compared with a constant
//     (another literal, a copied number or string, TRUE, FALSE, NULL) or
//     standing alone after WHERE/OR/AND/… (WhereAlwaysTrue evaluates it) is
//     refused. A literal after USE/FORCE/IGNORE, and a string that may be
//     '*' (TiDB's digest keeps both as written) are refused. TiDB may read
//     a keyword inside a run of digits and letters the key copies (".0ORDER
//     BY 1" is .0 ORDER BY 1): after one, every integer after BY is
//     copied, a literal right after it is refused, and so is a DELETE or
//     UPDATE.
//   - Lexer disagreements: where TiDB's lexer, go-sqllexer and the statement
//     counter could split the text differently depending on a literal
//     (backslashes in PostgreSQL strings, unterminated quotes, doubled
//     quotes in quoted identifiers, a $ that is not a valid $n or dollar
//     quote, control bytes, invalid UTF-8, a literal glued to an identifier
//     character that go-sqllexer would continue the identifier through (or
//     after a dot across whitespace, which go-sqllexer joins: "a . 5"), a
//     "…" glued to an identifier (go-sqllexer reads a"b c" as a"b and c"),
//     a second statement after ;) the statement is refused or the literal
//     copied.
//
// Copying a literal instead of replacing it only makes the key finer (more
// misses), never coarser, so every "copied" above is safe by construction.
// The differential test (diff_test.go) and FuzzFingerprint check the
// property: same key ⇒ same Analyze result, field by field.

// Literal kinds, the byte after the 0x00 of a placeholder.
const (
	kindStr    = 's' // '…' (and MySQL-family "…")
	kindDQStr  = 'd' // "…" in the MySQL family
	kindInt    = 'i' // 1..19 digits, fits int64, no leading zero
	kindDec    = 'f' // 1.5
	kindDecDot = 't' // 1.
	kindHex    = 'h' // 0x1f
	kindXStr   = 'x' // x'1f'
	kindBStr   = 'b' // b'101'
	kindEStr   = 'e' // PostgreSQL E'…'
	kindDollar = '$' // PostgreSQL $tag$…$tag$
)

// Fingerprint appends to dst the cache key of sql in dialect d and reports
// whether statements may share an analysis through it. When cacheable is
// false the key is incomplete and must not be used. It does not allocate
// when dst has room for 2*len(sql)+2 bytes, except for the check of the text
// outside literals (keySafe), which an Analyzer makes once per key.
func Fingerprint(dst []byte, sql string, d Dialect) (key []byte, cacheable bool) {
	key, cacheable = fingerprint(dst, sql, d)
	return key, cacheable && keySafe(key[len(dst):])
}

// fingerprint is the lexer pass of Fingerprint, without keySafe.
func fingerprint(dst []byte, sql string, d Dialect) ([]byte, bool) {
	var lx fpLexer
	return lx.run(dst, sql, d)
}

// token classes for the literal-context rules.
const (
	tcNone   uint8 = iota
	tcWord         // keyword or identifier (see wordID)
	tcLit          // a replaced literal
	tcOpen         // (
	tcClose        // )
	tcComma        // ,
	tcSign         // + or -
	tcCmp          // = < > <> != <=> >= <=
	tcBoolOp       // || &&
	tcOther        // anything else copied
)

// Recognised words (wordID).
const (
	wOther uint8 = iota
	wSelect
	wInsert
	wUpdate
	wDelete
	wReplace
	wWith
	wOr
	wAnd
	wXor
	wNot
	wWhere
	wHaving
	wOn
	wWhen
	wCollate
	wCharset
	wSet
	wEscape
	wUsing
	wOrder
	wGroup
	wBy
	wLike
	wIndex
	wUse
	wForce
	wIgnore
	wTrue
	wFalse
	wNull
)

type fpLexer struct {
	src string
	d   Dialect
	buf []byte

	lastTC   uint8 // class of the previous token (whitespace skipped)
	lastWord uint8 // its word id when lastTC == tcWord
	// previous token that is not ( or a sign, for "standing alone" literals
	lastNOTC   uint8
	lastNOWord uint8

	// literal compared with a literal: 0 none, 1 after a literal (and
	// closing parentheses), 2 after literal and comparison operator (and
	// opening parentheses, signs).
	cmpState uint8
	cmpRepl  bool // the constant on the left was a replaced literal

	sawDelUpd bool
	litCmpLit bool
	boolLit   bool
	orderBy   bool // BY seen (ORDER BY / GROUP BY)
	// A copied run of digits and letters: TiDB may read a keyword in it
	// (".0ORDER BY 1" is .0 ORDER BY 1, ".0OR 1" is .0 OR 1).
	numWord     bool
	lastNumWord bool // the previous token is such a run
	indexHint   bool // USE/FORCE/IGNORE INDEX seen
	first       bool // first token seen
	next        int  // where the token being scanned ends
	// The key is the text with changes (literals, long whitespace runs,
	// lists): src[mark:] is not in buf yet and is copied as it is when the
	// next change is written (flush), so that copied tokens cost nothing.
	mark int

	// A parenthesised list of literals of one kind, (1, 2, 3), becomes
	// one placeholder 0x00 0x01 kind: TiDB's digest writes ( ... ) and
	// go-sqllexer ( ? ) for any length >= 2, and no rule counts values.
	group      bool // since the last (: only literals of groupKind and commas
	groupStart int  // len(buf) just after the (
	groupCount int
	groupKind  byte

	spans *[]litSpan // tests: where the replaced literals are
}

// litSpan is the part of the text a placeholder stands for: the whole
// number, or the content between the quotes.
type litSpan struct {
	start, end int
	kind       byte
}

// Byte classes (ctab).
const (
	cIdent     = 1 << iota // unquoted identifier byte: [A-Za-z0-9_$], >= 0x80
	cWS                    // whitespace: space, tab, newline, carriage return
	cGlue                  // a literal right after it is not a literal (glueByte)
	cWordStart             // [A-Za-z_], >= 0x80
	cQStop                 // ' " ` \: scanQuoted looks at them
	cText                  // printable ASCII, tab, newline, carriage return
)

var ctab = func() (t [256]uint8) {
	for c := 0; c < 256; c++ {
		b := byte(c)
		if b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b == '_' || b >= 0x80 {
			t[c] |= cWordStart | cIdent | cGlue
		}
		if b >= '0' && b <= '9' || b == '$' {
			t[c] |= cIdent | cGlue
		}
		if b >= 0x20 && b < 0x7f || b == '\t' || b == '\n' || b == '\r' {
			t[c] |= cText
		}
		switch b {
		case '\'', '"', '`', '\\':
			t[c] |= cQStop
		}
		switch b {
		case ' ', '\t', '\n', '\r':
			t[c] |= cWS
		case '"', '\'', '`', '.', '?', '#', '/', '@', '!':
			t[c] |= cGlue
		}
	}
	return t
}()

func isWS(c byte) bool { return ctab[c]&cWS != 0 }

// isIdentByte: bytes of an unquoted identifier or keyword for every lexer
// involved (TiDB treats every byte >= 0x80 as an identifier byte).
func isIdentByte(c byte) bool { return ctab[c]&cIdent != 0 }

// glueByte reports whether a literal starting right after c could be read
// as part of something else: an identifier (TiDB: 1a, t.5; go-sqllexer
// continues identifiers through " . ? $ # / @ !), a user variable (@'x'),
// a charset introducer (_utf8'x').
func glueByte(c byte) bool { return ctab[c]&cGlue != 0 }

func lowerByte(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// eqFold compares an ASCII word with a lowercase keyword.
func eqFold(s, kw string) bool {
	if len(s) != len(kw) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i]|0x20 != kw[i] {
			return false
		}
	}
	return true
}

// keywords are the words wordID recognises, by id.
var keywords = [...]string{
	wSelect: "select", wInsert: "insert", wUpdate: "update", wDelete: "delete", wReplace: "replace",
	wWith: "with", wOr: "or", wAnd: "and", wXor: "xor", wNot: "not", wWhere: "where", wHaving: "having",
	wOn: "on", wWhen: "when", wCollate: "collate", wCharset: "charset", wSet: "set", wEscape: "escape",
	wUsing: "using", wOrder: "order", wGroup: "group", wBy: "by", wLike: "like", wIndex: "index",
	wUse: "use", wForce: "force", wIgnore: "ignore", wTrue: "true", wFalse: "false", wNull: "null",
}

// kwByShape holds the ids of the keywords of each length (2..7) and first
// letter (&0x1f), 0 terminated.
var kwByShape = func() (t [8][32][4]uint8) {
	for id, kw := range keywords {
		if kw == "" {
			continue
		}
		c := &t[len(kw)][kw[0]&0x1f]
		k := 0
		for c[k] != 0 {
			k++
		}
		c[k] = uint8(id) // at most 3 a shape: the last stays 0
	}
	return t
}()

func wordID(s string) uint8 {
	if len(s) < 2 || len(s) > 7 {
		return wOther
	}
	for _, id := range &kwByShape[len(s)][s[0]&0x1f] {
		if id == 0 {
			break
		}
		if eqFold(s, keywords[id]) {
			return id
		}
	}
	return wOther
}

// tok records a copied (non-literal) token for the context rules.
func (lx *fpLexer) tok(tc, w uint8) {
	lx.lastNumWord = false
	switch tc {
	case tcOpen:
		lx.group, lx.groupStart, lx.groupCount = true, len(lx.buf), 0
	case tcComma:
		if lx.lastTC != tcLit {
			lx.group = false
		}
	default:
		lx.group = false
	}
	switch tc {
	case tcClose:
		if lx.cmpState != 1 {
			lx.cmpState = 0
		}
	case tcCmp:
		if lx.cmpState == 1 {
			lx.cmpState = 2
		} else {
			lx.cmpState = 0
		}
	case tcOpen, tcSign:
		if lx.cmpState != 2 {
			lx.cmpState = 0
		}
	default:
		lx.cmpState = 0
	}
	lx.lastTC, lx.lastWord = tc, w
	if tc != tcOpen && tc != tcSign {
		lx.lastNOTC, lx.lastNOWord = tc, w
	}
}

// tokPlain is tok for a token that is not ( ) , + - or a comparison
// (tcWord, tcBoolOp, tcOther), small enough to be inlined.
func (lx *fpLexer) tokPlain(tc, w uint8) {
	lx.lastNumWord = false
	lx.group = false
	lx.cmpState = 0
	lx.lastTC, lx.lastWord = tc, w
	lx.lastNOTC, lx.lastNOWord = tc, w
}

// constant records a copied constant (a number or string the key keeps
// as written, TRUE, FALSE, NULL): compared with a replaced literal, it
// makes WhereAlwaysTrue depend on the literal.
func (lx *fpLexer) constant() {
	lx.lastNumWord = false
	lx.group = false
	if lx.cmpState == 2 && lx.cmpRepl {
		lx.litCmpLit = true
	}
	lx.cmpState, lx.cmpRepl = 1, false
	lx.lastTC, lx.lastWord = tcOther, 0
	lx.lastNOTC, lx.lastNOWord = tcOther, 0
}

// flush copies the text up to i into the key.
func (lx *fpLexer) flush(i int) {
	lx.buf = append(lx.buf, lx.src[lx.mark:i]...)
	lx.mark = i
}

// lit records a replaced literal, content src[start:end], whole text
// src[from:to]; it returns false when the literal's context makes the
// statement uncacheable.
func (lx *fpLexer) lit(kind byte, start, end, from, to int) bool {
	if lx.spans != nil {
		*lx.spans = append(*lx.spans, litSpan{start, end, kind})
	}
	if lx.lastNumWord {
		return false // after a keyword TiDB may see (COLLATE, ESCAPE, OR …)
	}
	if lx.lastTC == tcWord {
		switch lx.lastWord {
		case wOr, wCollate, wCharset, wSet, wEscape, wUsing, wUse, wForce, wIgnore:
			return false
		}
	}
	if lx.lastNOTC == tcWord {
		switch lx.lastNOWord {
		case wWhere, wOr, wAnd, wXor, wNot, wHaving, wOn, wWhen:
			lx.boolLit = true
		}
	} else if lx.lastNOTC == tcBoolOp || lx.lastNOTC == tcNone {
		lx.boolLit = true
	}
	if lx.cmpState == 2 {
		lx.litCmpLit = true
	}
	lx.cmpRepl = true
	if lx.group {
		switch {
		case kind == kindXStr || kind == kindBStr || kind == kindEStr || kind == kindDollar:
			// go-sqllexer reads x'1f' as an identifier and a string.
			lx.group = false
		case lx.groupCount == 0:
			lx.group = lx.lastTC == tcOpen
			lx.groupKind = kind
		default:
			lx.group = lx.lastTC == tcComma && kind == lx.groupKind
		}
		lx.groupCount++
	}
	lx.cmpState = 1
	lx.lastTC, lx.lastWord = tcLit, 0
	lx.lastNOTC, lx.lastNOWord = tcLit, 0
	lx.flush(from)
	lx.buf = append(lx.buf, 0, kind)
	lx.mark = to
	return true
}

// scanQuoted returns the index just past the closing quote q of the quoted
// text starting at i (the opening quote), whether it was closed, and
// whether it holds a backslash or a doubled quote.
func scanQuoted(s string, i int, q byte, escapes bool) (end int, closed, backslash, doubled bool) {
	end, closed, backslash, doubled, _ = scanQuotedText(s, i, q, escapes)
	return end, closed, backslash, doubled
}

// scanQuotedText is scanQuoted that also reports whether every byte it
// looked at is printable ASCII, tab, newline or carriage return; with no
// backslash, that is every byte of s[i:end] (checkText holds).
func scanQuotedText(s string, i int, q byte, escapes bool) (end int, closed, backslash, doubled, plain bool) {
	var notText uint8 // cText set: a byte that is not text
	for j := i + 1; j < len(s); j++ {
		c := s[j]
		t := ctab[c]
		notText |= ^t
		if t&cQStop == 0 {
			continue
		}
		if c == '\\' {
			backslash = true
			if escapes {
				j++
			}
			continue
		}
		if c == q {
			if j+1 < len(s) && s[j+1] == q {
				doubled = true
				j++
				continue
			}
			return j + 1, true, backslash, doubled, !backslash && notText&cText == 0
		}
	}
	return len(s), false, backslash, doubled, false
}

// checkText reports whether s[i:j] is valid UTF-8 without control bytes
// other than tab, newline and carriage return.
func checkText(s string, i, j int) bool {
	for k := i; k < j; {
		c := s[k]
		if ctab[c]&cText != 0 {
			k++
			continue
		}
		if c < 0x80 {
			return false // a control byte
		}
		r, n := utf8.DecodeRuneInString(s[k:j])
		if r == utf8.RuneError && n <= 1 {
			return false
		}
		k += n
	}
	return true
}

func (lx *fpLexer) run(dst []byte, sql string, d Dialect) ([]byte, bool) {
	lx.src, lx.d = sql, d
	lx.buf = append(dst, byte(d))
	lx.mark = 0
	mysqlish := d != Postgres
	s := sql
	n := len(s)
	i := 0
	for i < n {
		c := s[i]
		// Whitespace: a single byte is kept, a longer run becomes its
		// first and last byte.
		if isWS(c) {
			j := i + 1
			for j < n && isWS(s[j]) {
				j++
			}
			if j-i > 2 {
				// Keep s[i] and s[j-1] (one or two bytes: as written).
				lx.flush(i + 1)
				lx.mark = j - 1
			}
			i = j
			continue
		}
		if !lx.first {
			// The statement class: only plain reads and writes.
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
				return lx.buf, false
			}
			j := i
			for j < n && isIdentByte(s[j]) {
				j++
			}
			switch wordID(s[i:j]) {
			case wSelect, wInsert, wUpdate, wDelete, wReplace, wWith:
			default:
				return lx.buf, false
			}
			lx.first = true
		}
		if ctab[c]&cWordStart != 0 {
			j := i + 1
			high := c
			for j < n && ctab[s[j]]&cIdent != 0 {
				high |= s[j]
				j++
			}
			if high >= 0x80 {
				if !checkText(s, i, j) {
					return lx.buf, false
				}
			}
			if j < n && (s[j] == '\'' || s[j] == '"' && mysqlish) {
				// A prefixed string: x'1f', b'01', E'…', or an
				// introducer / N'…' (copied).
				if !lx.prefixed(s, i, j, mysqlish) {
					return lx.buf, false
				}
				i = lx.next
				continue
			}
			w := s[i:j]
			id := wordID(w)
			switch id {
			case wDelete, wUpdate:
				lx.sawDelUpd = true
			case wBy:
				// Any BY: TiDB may see ORDER or GROUP where this lexer
				// sees part of a run (".0ORDER BY 1" is .0 ORDER BY 1).
				lx.orderBy = true
			case wIndex:
				lx.indexHint = true
			}
			if high >= 0x80 && hasDollar(w) {
				// go-sqllexer ends the identifier before a non-letter
				// rune and reads the $ as a dollar quote.
				return lx.buf, false
			}
			if id == wTrue || id == wFalse || id == wNull {
				lx.constant()
			} else {
				lx.tokPlain(tcWord, id)
			}
			i = j
			continue
		}
		switch c {
		case '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
			if !lx.number(s, i) {
				return lx.buf, false
			}
			i = lx.next
		case '\'':
			if !lx.quotedLit(s, i, '\'', kindStr, mysqlish) {
				return lx.buf, false
			}
			i = lx.next
		case '"':
			if mysqlish {
				if !lx.quotedLit(s, i, '"', kindDQStr, true) {
					return lx.buf, false
				}
			} else if !lx.quotedIdent(s, i, '"') {
				return lx.buf, false
			}
			i = lx.next
		case '`':
			if !mysqlish || !lx.quotedIdent(s, i, '`') {
				return lx.buf, false
			}
			i = lx.next
		case '$':
			if mysqlish || !lx.dollar(s, i) {
				return lx.buf, false
			}
			i = lx.next
		case '#':
			return lx.buf, false
		case '-':
			if i+1 < n && s[i+1] == '-' {
				return lx.buf, false
			}
			lx.tok(tcSign, 0)
			i++
		case '+':
			lx.tok(tcSign, 0)
			i++
		case '/':
			if i+1 < n && s[i+1] == '*' {
				return lx.buf, false
			}
			lx.tokPlain(tcOther, 0)
			i++
		case ';':
			// Only a trailing ; (a second statement may be anything).
			for j := i + 1; j < n; j++ {
				if !isWS(s[j]) {
					return lx.buf, false
				}
			}
			lx.tokPlain(tcOther, 0)
			i++
		case '(':
			lx.tok(tcOpen, 0)
			// len(buf) once the ( is copied: a list is replaced only
			// after two literals, which flush past it.
			lx.groupStart = len(lx.buf) + i + 1 - lx.mark
			i++
		case ')':
			if lx.group && lx.groupCount >= 2 && lx.lastTC == tcLit {
				// Only literals, commas and whitespace since the (.
				lx.buf = append(lx.buf[:lx.groupStart], 0, 1, lx.groupKind)
				lx.mark = i
			}
			lx.tok(tcClose, 0)
			i++
		case ',':
			lx.tok(tcComma, 0)
			i++
		case '=', '<', '>', '!':
			j := i + 1
			for j < n && (s[j] == '=' || s[j] == '<' || s[j] == '>' || s[j] == '!') {
				j++
			}
			lx.tok(tcCmp, 0)
			i = j
		case '|', '&':
			j := i + 1
			for j < n && s[j] == c {
				j++
			}
			if j-i == 2 {
				lx.tokPlain(tcBoolOp, 0)
			} else {
				lx.tokPlain(tcOther, 0)
			}
			i = j
		default:
			if c < 0x20 || c == 0x7f {
				return lx.buf, false
			}
			// . * % ^ ~ : ? @ [ ] { } \ and the like.
			lx.tokPlain(tcOther, 0)
			i++
		}
	}
	if !lx.first {
		return lx.buf, false
	}
	lx.flush(n)
	if lx.sawDelUpd && (lx.litCmpLit || lx.boolLit || lx.numWord) {
		return lx.buf, false
	}
	return lx.buf, true
}

// number handles a run starting with a digit: a literal when it is plainly
// one, else copied.
func (lx *fpLexer) number(s string, i int) bool {
	n := len(s)
	j := i
	digits, dots, other := 0, 0, false
	for j < n {
		c := s[j]
		switch {
		case c >= '0' && c <= '9':
			digits++
		case c == '.':
			dots++
		case isIdentByte(c):
			other = true
		default:
			goto done
		}
		j++
	}
done:
	lx.next = j
	run := s[i:j]
	if other && hasDollar(run) { // $ is an identifier byte: other
		// go-sqllexer ends the number before the $ and reads a dollar
		// quote from there.
		return false
	}
	var kind byte
	switch {
	case i > 0 && glueByte(s[i-1]):
	case prevNonWS(s, i) == '.':
		// go-sqllexer joins "a . 5" into the identifier a.5.
	case i > 1 && (s[i-1] == '+' || s[i-1] == '-') && (isIdentByte(s[i-2]) || s[i-2] == '.'):
		// 1e+5, a-1: go-sqllexer and TiDB may read the sign with what
		// precedes it.
	case other:
		// 0x1f; not after a sign, which go-sqllexer reads as -0 and an
		// identifier x1f.
		if !(i > 0 && (s[i-1] == '+' || s[i-1] == '-')) && !hasDot(run) && len(run) > 2 && run[0] == '0' && run[1] == 'x' && isHex(run[2:]) && len(run) <= 66 {
			kind = kindHex
		}
	case run[0] == '0' && len(run) > 1 && run[1] != '.':
		// leading zero: octal to go-sqllexer
	case dots == 0:
		if digits < 19 || digits == 19 && run <= "9223372036854775807" {
			kind = kindInt
		}
	case dots == 1 && digits <= 30:
		if run[len(run)-1] == '.' {
			kind = kindDecDot
		} else {
			kind = kindDec
		}
	}
	if kind == kindInt && (lx.orderBy || lx.numWord) {
		// TiDB's digest keeps an integer in ORDER BY / GROUP BY.
		if lx.indexHint || lx.numWord || lx.lastTC == tcOpen || lx.lastTC == tcSign || lx.lastTC == tcComma ||
			lx.lastTC == tcWord && lx.lastWord == wBy || lx.lastNOTC == tcComma || lx.lastNOTC == tcWord && lx.lastNOWord == wBy {
			kind = 0
		}
	}
	if kind == 0 {
		if !checkText(s, i, j) {
			return false
		}
		lx.constant()
		if other {
			lx.numWord, lx.lastNumWord = true, true
		}
		return true
	}
	return lx.lit(kind, i, j, i, j)
}

// prevNonWS returns the last byte before i that is not whitespace (0 at
// the start).
func prevNonWS(s string, i int) byte {
	for i--; i >= 0; i-- {
		if !isWS(s[i]) {
			return s[i]
		}
	}
	return 0
}

func hasDollar(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == '$' {
			return true
		}
	}
	return false
}

func hasDot(run string) bool {
	for i := 0; i < len(run); i++ {
		if run[i] == '.' {
			return true
		}
	}
	return false
}

func isHex(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// quotedLit handles '…' (and "…" in the MySQL family) at i.
func (lx *fpLexer) quotedLit(s string, i int, q byte, kind byte, escapes bool) bool {
	end, closed, backslash, _, plain := scanQuotedText(s, i, q, escapes)
	if !closed || backslash && !escapes {
		return false
	}
	lx.next = end
	if !plain && !checkText(s, i, end) || contentDanger(s[i+1:end-1]) || isStar(s[i+1:end-1]) || q == '"' && gluedDQ(s, i, end) {
		return false
	}
	if i > 0 && glueByte(s[i-1]) {
		lx.constant()
		return true
	}
	return lx.lit(kind, i+1, end-1, i, end)
}

// quotedIdent copies a `…` (MySQL family) or "…" (PostgreSQL) identifier.
func (lx *fpLexer) quotedIdent(s string, i int, q byte) bool {
	end, closed, backslash, doubled := scanQuoted(s, i, q, false)
	if !closed || backslash || doubled || !checkText(s, i, end) || contentDanger(s[i+1:end-1]) || q == '"' && gluedDQ(s, i, end) {
		return false
	}
	lx.next = end
	lx.tokPlain(tcWord, wOther)
	return true
}

// prefixed handles the word s[i:j] followed by a quote at j.
func (lx *fpLexer) prefixed(s string, i, j int, mysqlish bool) bool {
	q := s[j]
	end, closed, backslash, _ := scanQuoted(s, j, q, mysqlish)
	if !closed || backslash && !mysqlish {
		return false
	}
	lx.next = end
	if !checkText(s, i, end) || contentDanger(s[j+1:end-1]) || q == '"' && gluedDQ(s, j, end) {
		return false
	}
	body := s[j+1 : end-1]
	var kind byte
	if j-i == 1 && q == '\'' && !(i > 0 && glueByte(s[i-1])) {
		switch s[i] {
		case 'x', 'X':
			if len(body)%2 == 0 && (body == "" || isHex(body)) {
				kind = kindXStr
			}
		case 'b', 'B':
			if isBits(body) {
				kind = kindBStr
			}
		case 'e', 'E':
			if !mysqlish {
				kind = kindEStr
			}
		}
	}
	if kind == 0 {
		lx.constant()
		return true
	}
	return lx.lit(kind, j+1, end-1, j, end)
}

// isStar reports whether a string may be '*' once unescaped: TiDB's digest
// keeps a string literal whose value is * as it is.
func isStar(s string) bool {
	star := false
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '*':
			star = true
		case '\\':
		default:
			return false
		}
	}
	return star
}

// gluedDQ reports whether a "…" at i (content s[i+1:end-1]) follows a
// byte go-sqllexer continues an identifier through, with content that
// would end that identifier early (go-sqllexer reads a"b c" as a"b, c" and
// may start a quoted token at the closing quote).
func gluedDQ(s string, i, end int) bool {
	if i == 0 || !glueByte(s[i-1]) {
		return false
	}
	for k := i + 1; k < end-1; k++ {
		c := s[k]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return true
		}
	}
	return false
}

func isBits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] != '0' && s[i] != '1' {
			return false
		}
	}
	return true
}

// dollar handles $ in PostgreSQL: $1 is a parameter (copied), $tag$…$tag$ a
// string.
func (lx *fpLexer) dollar(s string, i int) bool {
	n := len(s)
	if i > 0 && glueByte(s[i-1]) {
		return false
	}
	if i+1 < n && s[i+1] >= '0' && s[i+1] <= '9' {
		j := i + 1
		for j < n && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		if j < n && (isIdentByte(s[j]) || glueByte(s[j])) {
			return false
		}
		lx.tokPlain(tcOther, 0)
		lx.next = j
		return true
	}
	// The tag.
	j := i + 1
	for j < n && (s[j] >= 'a' && s[j] <= 'z' || s[j] >= 'A' && s[j] <= 'Z' || s[j] == '_' || j > i+1 && s[j] >= '0' && s[j] <= '9') {
		j++
	}
	if j >= n || s[j] != '$' {
		return false
	}
	tag := s[i : j+1]
	if eqFold(tag, "$func$") {
		return false
	}
	// The closing tag.
	k := j + 1
	end := -1
	for ; k+len(tag) <= n; k++ {
		if s[k] == '$' && s[k:k+len(tag)] == tag {
			end = k
			break
		}
	}
	if end < 0 {
		return false
	}
	body := s[j+1 : end]
	// The statement counter does not know dollar quotes: no quote, ;,
	// comment or backslash inside.
	for k := 0; k < len(body); k++ {
		switch body[k] {
		case '\'', '"', '`', ';', '-', '#', '/', '\\', '$':
			return false
		}
	}
	if !checkText(s, i, end+len(tag)) || contentDanger(body) {
		return false
	}
	lx.next = end + len(tag)
	return lx.lit(kindDollar, j+1, end, i, end+len(tag))
}
