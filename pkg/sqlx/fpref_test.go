package sqlx

import "unicode/utf8"

// The reference fingerprint: the lexer pass (fingerprint.go) and the
// literal-content check (contentDanger, danger.go) as they were before the
// fast version, renamed with a ref prefix. TestFingerprintMatchesReference
// requires the fast version to write the same key bytes, the same
// cacheable flag and the same literal spans on the differential and fuzz
// corpora. Do not optimise this file.

type refFpLexer struct {
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

	// A parenthesised list of literals of one kind, (1, 2, 3), becomes
	// one placeholder 0x00 0x01 kind: TiDB's digest writes ( ... ) and
	// go-sqllexer ( ? ) for any length >= 2, and no rule counts values.
	group      bool // since the last (: only literals of groupKind and commas
	groupStart int  // len(buf) just after the (
	groupCount int
	groupKind  byte

	spans *[]litSpan // tests: where the replaced literals are
}

// Byte classes (refCtab).
const (
	refCIdent     = 1 << iota // unquoted identifier byte: [A-Za-z0-9_$], >= 0x80
	refCWS                    // whitespace: space, tab, newline, carriage return
	refCGlue                  // a literal right after it is not a literal (refGlueByte)
	refCWordStart             // [A-Za-z_], >= 0x80
)

var refCtab = func() (t [256]uint8) {
	for c := 0; c < 256; c++ {
		b := byte(c)
		if b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b == '_' || b >= 0x80 {
			t[c] |= refCWordStart | refCIdent | refCGlue
		}
		if b >= '0' && b <= '9' || b == '$' {
			t[c] |= refCIdent | refCGlue
		}
		switch b {
		case ' ', '\t', '\n', '\r':
			t[c] |= refCWS
		case '"', '\'', '`', '.', '?', '#', '/', '@', '!':
			t[c] |= refCGlue
		}
	}
	return t
}()

func refIsWS(c byte) bool { return refCtab[c]&refCWS != 0 }

// refIsIdentByte: bytes of an unquoted identifier or keyword for every lexer
// involved (TiDB treats every byte >= 0x80 as an identifier byte).
func refIsIdentByte(c byte) bool { return refCtab[c]&refCIdent != 0 }

// refGlueByte reports whether a literal starting right after c could be read
// as part of something else: an identifier (TiDB: 1a, t.5; go-sqllexer
// continues identifiers through " . ? $ # / @ !), a user variable (@'x'),
// a charset introducer (_utf8'x').
func refGlueByte(c byte) bool { return refCtab[c]&refCGlue != 0 }

func refLowerByte(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// refEqFold compares an ASCII word with a lowercase keyword.
func refEqFold(s, kw string) bool {
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

func refWordID(s string) uint8 {
	if len(s) < 2 || len(s) > 7 {
		return wOther
	}
	switch s[0] | 0x20 {
	case 'a':
		if refEqFold(s, "and") {
			return wAnd
		}
	case 'b':
		if refEqFold(s, "by") {
			return wBy
		}
	case 'c':
		switch {
		case refEqFold(s, "collate"):
			return wCollate
		case refEqFold(s, "charset"):
			return wCharset
		}
	case 'd':
		if refEqFold(s, "delete") {
			return wDelete
		}
	case 'e':
		if refEqFold(s, "escape") {
			return wEscape
		}
	case 'f':
		switch {
		case refEqFold(s, "force"):
			return wForce
		case refEqFold(s, "false"):
			return wFalse
		}
	case 'g':
		if refEqFold(s, "group") {
			return wGroup
		}
	case 'h':
		if refEqFold(s, "having") {
			return wHaving
		}
	case 'i':
		switch {
		case refEqFold(s, "insert"):
			return wInsert
		case refEqFold(s, "index"):
			return wIndex
		case refEqFold(s, "ignore"):
			return wIgnore
		}
	case 'l':
		if refEqFold(s, "like") {
			return wLike
		}
	case 'n':
		switch {
		case refEqFold(s, "not"):
			return wNot
		case refEqFold(s, "null"):
			return wNull
		}
	case 'o':
		switch {
		case refEqFold(s, "or"):
			return wOr
		case refEqFold(s, "on"):
			return wOn
		case refEqFold(s, "order"):
			return wOrder
		}
	case 'r':
		if refEqFold(s, "replace") {
			return wReplace
		}
	case 's':
		switch {
		case refEqFold(s, "select"):
			return wSelect
		case refEqFold(s, "set"):
			return wSet
		}
	case 't':
		if refEqFold(s, "true") {
			return wTrue
		}
	case 'u':
		switch {
		case refEqFold(s, "update"):
			return wUpdate
		case refEqFold(s, "using"):
			return wUsing
		case refEqFold(s, "use"):
			return wUse
		}
	case 'w':
		switch {
		case refEqFold(s, "where"):
			return wWhere
		case refEqFold(s, "with"):
			return wWith
		case refEqFold(s, "when"):
			return wWhen
		}
	case 'x':
		if refEqFold(s, "xor") {
			return wXor
		}
	}
	return wOther
}

// tok records a copied (non-literal) token for the context rules.
func (lx *refFpLexer) tok(tc, w uint8) {
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

// constant records a copied constant (a number or string the key keeps
// as written, TRUE, FALSE, NULL): compared with a replaced literal, it
// makes WhereAlwaysTrue depend on the literal.
func (lx *refFpLexer) constant() {
	lx.lastNumWord = false
	lx.group = false
	if lx.cmpState == 2 && lx.cmpRepl {
		lx.litCmpLit = true
	}
	lx.cmpState, lx.cmpRepl = 1, false
	lx.lastTC, lx.lastWord = tcOther, 0
	lx.lastNOTC, lx.lastNOWord = tcOther, 0
}

// lit records a replaced literal; it returns false when the literal's
// context makes the statement uncacheable.
func (lx *refFpLexer) lit(kind byte, start, end int) bool {
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
	lx.buf = append(lx.buf, 0, kind)
	return true
}

// refScanQuoted returns the index just past the closing quote q of the quoted
// text starting at i (the opening quote), whether it was closed, and
// whether it holds a backslash or a doubled quote.
func refScanQuoted(s string, i int, q byte, escapes bool) (end int, closed, backslash, doubled bool) {
	for j := i + 1; j < len(s); j++ {
		c := s[j]
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
			return j + 1, true, backslash, doubled
		}
	}
	return len(s), false, backslash, doubled
}

// refCheckText reports whether s[i:j] is valid UTF-8 without control bytes
// other than tab, newline and carriage return.
func refCheckText(s string, i, j int) bool {
	for k := i; k < j; {
		c := s[k]
		if c < 0x80 {
			if c < 0x20 && c != '\t' && c != '\n' && c != '\r' || c == 0x7f {
				return false
			}
			k++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[k:j])
		if r == utf8.RuneError && n <= 1 {
			return false
		}
		k += n
	}
	return true
}

func (lx *refFpLexer) run(dst []byte, sql string, d Dialect) ([]byte, bool) {
	lx.src, lx.d = sql, d
	lx.buf = append(dst, byte(d))
	mysqlish := d != Postgres
	s := sql
	n := len(s)
	i := 0
	for i < n {
		c := s[i]
		// Whitespace: a single byte is kept, a longer run becomes its
		// first and last byte.
		if refIsWS(c) {
			j := i + 1
			for j < n && refIsWS(s[j]) {
				j++
			}
			if j-i == 1 {
				lx.buf = append(lx.buf, c)
			} else {
				lx.buf = append(lx.buf, c, s[j-1])
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
			for j < n && refIsIdentByte(s[j]) {
				j++
			}
			switch refWordID(s[i:j]) {
			case wSelect, wInsert, wUpdate, wDelete, wReplace, wWith:
			default:
				return lx.buf, false
			}
			lx.first = true
		}
		switch {
		case refCtab[c]&refCWordStart != 0:
			j := i + 1
			high := c
			for j < n && refCtab[s[j]]&refCIdent != 0 {
				high |= s[j]
				j++
			}
			if high >= 0x80 {
				if !refCheckText(s, i, j) {
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
			id := refWordID(w)
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
			if high >= 0x80 && refHasDollar(w) {
				// go-sqllexer ends the identifier before a non-letter
				// rune and reads the $ as a dollar quote.
				return lx.buf, false
			}
			lx.buf = append(lx.buf, w...)
			if id == wTrue || id == wFalse || id == wNull {
				lx.constant()
			} else {
				lx.tok(tcWord, id)
			}
			i = j
		case c >= '0' && c <= '9':
			if !lx.number(s, i) {
				return lx.buf, false
			}
			i = lx.next
		case c == '\'':
			if !lx.quotedLit(s, i, '\'', kindStr, mysqlish) {
				return lx.buf, false
			}
			i = lx.next
		case c == '"':
			if mysqlish {
				if !lx.quotedLit(s, i, '"', kindDQStr, true) {
					return lx.buf, false
				}
			} else if !lx.quotedIdent(s, i, '"') {
				return lx.buf, false
			}
			i = lx.next
		case c == '`':
			if !mysqlish || !lx.quotedIdent(s, i, '`') {
				return lx.buf, false
			}
			i = lx.next
		case c == '$':
			if mysqlish || !lx.dollar(s, i) {
				return lx.buf, false
			}
			i = lx.next
		case c == '#':
			return lx.buf, false
		case c == '-':
			if i+1 < n && s[i+1] == '-' {
				return lx.buf, false
			}
			lx.buf = append(lx.buf, c)
			lx.tok(tcSign, 0)
			i++
		case c == '+':
			lx.buf = append(lx.buf, c)
			lx.tok(tcSign, 0)
			i++
		case c == '/':
			if i+1 < n && s[i+1] == '*' {
				return lx.buf, false
			}
			lx.buf = append(lx.buf, c)
			lx.tok(tcOther, 0)
			i++
		case c == ';':
			// Only a trailing ; (a second statement may be anything).
			for j := i + 1; j < n; j++ {
				if !refIsWS(s[j]) {
					return lx.buf, false
				}
			}
			lx.buf = append(lx.buf, c)
			lx.tok(tcOther, 0)
			i++
		case c == '(':
			lx.buf = append(lx.buf, c)
			lx.tok(tcOpen, 0)
			i++
		case c == ')':
			if lx.group && lx.groupCount >= 2 && lx.lastTC == tcLit {
				lx.buf = append(lx.buf[:lx.groupStart], 0, 1, lx.groupKind)
			}
			lx.buf = append(lx.buf, c)
			lx.tok(tcClose, 0)
			i++
		case c == ',':
			lx.buf = append(lx.buf, c)
			lx.tok(tcComma, 0)
			i++
		case c == '=' || c == '<' || c == '>' || c == '!':
			j := i + 1
			for j < n && (s[j] == '=' || s[j] == '<' || s[j] == '>' || s[j] == '!') {
				j++
			}
			lx.buf = append(lx.buf, s[i:j]...)
			lx.tok(tcCmp, 0)
			i = j
		case c == '|' || c == '&':
			j := i + 1
			for j < n && s[j] == c {
				j++
			}
			lx.buf = append(lx.buf, s[i:j]...)
			if j-i == 2 {
				lx.tok(tcBoolOp, 0)
			} else {
				lx.tok(tcOther, 0)
			}
			i = j
		case c < 0x20 || c == 0x7f:
			return lx.buf, false
		default:
			// . * % ^ ~ : ? @ [ ] { } \ and the like.
			lx.buf = append(lx.buf, c)
			lx.tok(tcOther, 0)
			i++
		}
	}
	if !lx.first {
		return lx.buf, false
	}
	if lx.sawDelUpd && (lx.litCmpLit || lx.boolLit || lx.numWord) {
		return lx.buf, false
	}
	return lx.buf, true
}

// number handles a run starting with a digit: a literal when it is plainly
// one, else copied.
func (lx *refFpLexer) number(s string, i int) bool {
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
		case refIsIdentByte(c):
			other = true
		default:
			goto done
		}
		j++
	}
done:
	lx.next = j
	run := s[i:j]
	if refHasDollar(run) {
		// go-sqllexer ends the number before the $ and reads a dollar
		// quote from there.
		return false
	}
	var kind byte
	switch {
	case i > 0 && refGlueByte(s[i-1]):
	case refPrevNonWS(s, i) == '.':
		// go-sqllexer joins "a . 5" into the identifier a.5.
	case i > 1 && (s[i-1] == '+' || s[i-1] == '-') && (refIsIdentByte(s[i-2]) || s[i-2] == '.'):
		// 1e+5, a-1: go-sqllexer and TiDB may read the sign with what
		// precedes it.
	case other:
		// 0x1f; not after a sign, which go-sqllexer reads as -0 and an
		// identifier x1f.
		if !(i > 0 && (s[i-1] == '+' || s[i-1] == '-')) && !refHasDot(run) && len(run) > 2 && run[0] == '0' && run[1] == 'x' && refIsHex(run[2:]) && len(run) <= 66 {
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
		if !refCheckText(s, i, j) {
			return false
		}
		lx.buf = append(lx.buf, run...)
		lx.constant()
		if other {
			lx.numWord, lx.lastNumWord = true, true
		}
		return true
	}
	return lx.lit(kind, i, j)
}

// refPrevNonWS returns the last byte before i that is not whitespace (0 at
// the start).
func refPrevNonWS(s string, i int) byte {
	for i--; i >= 0; i-- {
		if !refIsWS(s[i]) {
			return s[i]
		}
	}
	return 0
}

func refHasDollar(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == '$' {
			return true
		}
	}
	return false
}

func refHasDot(run string) bool {
	for i := 0; i < len(run); i++ {
		if run[i] == '.' {
			return true
		}
	}
	return false
}

func refIsHex(s string) bool {
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
func (lx *refFpLexer) quotedLit(s string, i int, q byte, kind byte, escapes bool) bool {
	end, closed, backslash, _ := refScanQuoted(s, i, q, escapes)
	if !closed || backslash && !escapes {
		return false
	}
	lx.next = end
	if !refCheckText(s, i, end) || refContentDanger(s[i+1:end-1]) || refIsStar(s[i+1:end-1]) || q == '"' && refGluedDQ(s, i, end) {
		return false
	}
	if i > 0 && refGlueByte(s[i-1]) {
		lx.buf = append(lx.buf, s[i:end]...)
		lx.constant()
		return true
	}
	return lx.lit(kind, i+1, end-1)
}

// quotedIdent copies a `…` (MySQL family) or "…" (PostgreSQL) identifier.
func (lx *refFpLexer) quotedIdent(s string, i int, q byte) bool {
	end, closed, backslash, doubled := refScanQuoted(s, i, q, false)
	if !closed || backslash || doubled || !refCheckText(s, i, end) || refContentDanger(s[i+1:end-1]) || q == '"' && refGluedDQ(s, i, end) {
		return false
	}
	lx.next = end
	lx.buf = append(lx.buf, s[i:end]...)
	lx.tok(tcWord, wOther)
	return true
}

// prefixed handles the word s[i:j] followed by a quote at j.
func (lx *refFpLexer) prefixed(s string, i, j int, mysqlish bool) bool {
	q := s[j]
	end, closed, backslash, _ := refScanQuoted(s, j, q, mysqlish)
	if !closed || backslash && !mysqlish {
		return false
	}
	lx.next = end
	if !refCheckText(s, i, end) || refContentDanger(s[j+1:end-1]) || q == '"' && refGluedDQ(s, j, end) {
		return false
	}
	body := s[j+1 : end-1]
	var kind byte
	if j-i == 1 && q == '\'' && !(i > 0 && refGlueByte(s[i-1])) {
		switch s[i] {
		case 'x', 'X':
			if len(body)%2 == 0 && (body == "" || refIsHex(body)) {
				kind = kindXStr
			}
		case 'b', 'B':
			if refIsBits(body) {
				kind = kindBStr
			}
		case 'e', 'E':
			if !mysqlish {
				kind = kindEStr
			}
		}
	}
	if kind == 0 {
		lx.buf = append(lx.buf, s[i:end]...)
		lx.constant()
		return true
	}
	lx.buf = append(lx.buf, s[i])
	return lx.lit(kind, j+1, end-1)
}

// refIsStar reports whether a string may be '*' once unescaped: TiDB's digest
// keeps a string literal whose value is * as it is.
func refIsStar(s string) bool {
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

// refGluedDQ reports whether a "…" at i (content s[i+1:end-1]) follows a
// byte go-sqllexer continues an identifier through, with content that
// would end that identifier early (go-sqllexer reads a"b c" as a"b, c" and
// may start a quoted token at the closing quote).
func refGluedDQ(s string, i, end int) bool {
	if i == 0 || !refGlueByte(s[i-1]) {
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

func refIsBits(s string) bool {
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
func (lx *refFpLexer) dollar(s string, i int) bool {
	n := len(s)
	if i > 0 && refGlueByte(s[i-1]) {
		return false
	}
	if i+1 < n && s[i+1] >= '0' && s[i+1] <= '9' {
		j := i + 1
		for j < n && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		if j < n && (refIsIdentByte(s[j]) || refGlueByte(s[j])) {
			return false
		}
		lx.buf = append(lx.buf, s[i:j]...)
		lx.tok(tcOther, 0)
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
	if refEqFold(tag, "$func$") {
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
	if !refCheckText(s, i, end+len(tag)) || refContentDanger(body) {
		return false
	}
	lx.next = end + len(tag)
	return lx.lit(kindDollar, j+1, end)
}

var refContentPatterns = []string{
	"(", "#", "--", "/*", "@@", "***", "<redacted", "<secret",
	"where", "limit", "union", "waitfor", "outfile", "dumpfile", "infile", "load_file",
	"s3", "soname", "sp_configure", "xp_cmdshell", "lo_import", "lo_export", "dbms_",
	"information_schema", "performance_schema", "pg_", "password", "mysql.user",
	"authentication_string", "current_user", "with grant option", "with admin option",
}

var (
	refContentSingle [256]bool      // one-byte patterns
	refContentBigram [256][4]uint64 // first two bytes of longer patterns
)

func init() {
	for _, p := range refContentPatterns {
		if len(p) == 1 {
			refContentSingle[p[0]] = true
			continue
		}
		refContentBigram[p[0]][p[1]>>6] |= 1 << (p[1] & 63)
	}
	refContentBigram['o']['r'>>6] |= 1 << ('r' & 63)
}

func refIsWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_'
}

func refIsRegexpSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r'
}

// refContentDanger reports whether the content of a literal holds a
// pattern of refContentPatterns (ASCII case-insensitive) or a word "or"
// followed by whitespace.
func refContentDanger(s string) bool {
	for k := 0; k < len(s); k++ {
		c := refLowerByte(s[k])
		if refContentSingle[c] {
			return true
		}
		if k+1 >= len(s) {
			break
		}
		c1 := refLowerByte(s[k+1])
		if refContentBigram[c][c1>>6]&(1<<(c1&63)) == 0 {
			continue
		}
		if c == 'o' && c1 == 'r' && (k == 0 || !refIsWordByte(s[k-1])) && k+2 < len(s) && refIsRegexpSpace(s[k+2]) {
			return true
		}
		for _, p := range refContentPatterns {
			if len(p) > 1 && p[0] == c && p[1] == c1 && refHasFoldPrefix(s[k:], p) {
				return true
			}
		}
	}
	return false
}

// refHasFoldPrefix reports whether s starts with the lowercase p, ASCII
// case-insensitively.
func refHasFoldPrefix(s, p string) bool {
	if len(s) < len(p) {
		return false
	}
	for i := 0; i < len(p); i++ {
		if refLowerByte(s[i]) != p[i] {
			return false
		}
	}
	return true
}
