// Package redact masks secrets in statements, raw log records and URLs
// before they are stored, exported, served or logged:
//
//   - statements that manage credentials (CREATE/ALTER USER or ROLE, SET
//     PASSWORD, CHANGE MASTER/REPLICATION SOURCE, TDengine … PASS, any
//     statement where PASSWORD, PASS, IDENTIFIED or …_PASSWORD is followed
//     by a value) have every literal masked, found by a SQL lexer in the
//     text and in the unescaped strings inside it (sql.go, lexer.go): it
//     fails closed;
//   - SQL passwords by keyword as well: IDENTIFIED BY '…', IDENTIFIED WITH
//     plugin BY|AS '…', SET PASSWORD … = '…' / PASSWORD('…'), PostgreSQL
//     [ENCRYPTED] PASSWORD '…', TDengine PASS '…';
//   - the PARAMETER field of pgaudit ROLE entries;
//   - credentials in URLs and query strings: api_key=, access-key=,
//     secret-access-key=, session-token=, token=, password= … (Redash api
//     keys, TiDB BACKUP/RESTORE/IMPORT storage URLs) and user:password@ in
//     URLs;
//   - TDengine's "invalid pass, input:<digest>".
//
// A secret is replaced by Mask; adjacent masks merge, and redacting twice
// changes nothing. The functions return their argument itself, without
// allocating, when there is nothing to redact; text that mentions no
// credential word costs one pass of a pre-filter. Event redacts every text
// field of an event.
package redact

import (
	"encoding/binary"
	"math/bits"
	"strings"
	"unsafe"
)

// Mask replaces every secret.
const Mask = "<redacted>"

type span struct{ start, end int }

// String returns s with every secret replaced by Mask.
func String(s string) string {
	out, _ := Record(s)
	return out
}

// Record is String for a raw record that parts are cut out of: it also
// reports whether s is Clean, for StringIn on the parts, in the same pass.
func Record(s string) (redacted string, clean bool) {
	// Once PASS is found every rule runs: the scan can stop there.
	w := words(s, wPass)
	if w == 0 {
		return s, true
	}
	return rules(s, w), false
}

// rules applies the rules a text with the words w needs.
func rules(s string, w uint8) string {
	// A rule runs only when s has a word it needs: the SQL password rules
	// and the credential statements need PASS (PASSWORD) or IDENTIFIED,
	// TDengine's message PASS; every URL key has one of the words, and
	// user:password@ needs "://". So a table named secrets or a PRIMARY
	// KEY costs the URL rule's pass only.
	var spans []span
	if w&(wPass|wIdentified) != 0 {
		spans = sqlSecrets(s, spans)
	}
	spans = urlSecrets(s, spans)
	if w&wPass != 0 {
		spans = tdengineSecrets(s, spans)
	}
	if w&(wPass|wIdentified) != 0 {
		spans = credSpans(s, spans)
	}
	if len(spans) == 0 {
		return s
	}
	return apply(s, spans)
}

// Clean reports whether s mentions none of the words that every rule
// needs: String returns s, and every substring of s, unchanged.
func Clean(s string) bool { return !mayContain(s) }

// StringIn is String(sub) for a sub that may share the memory of a text the
// caller already looked at: when text is Clean (textClean) and sub lies
// within it, sub is returned without a second pass. Parsers use it for a
// statement cut out of the raw record they redact anyway. A sub that does
// not lie within text (an unescaped copy, say) is redacted as usual.
func StringIn(sub, text string, textClean bool) string {
	if textClean && within(sub, text) {
		return sub
	}
	return String(sub)
}

// within reports whether the bytes of sub are part of the bytes of s.
func within(sub, s string) bool {
	if len(sub) == 0 {
		return true
	}
	p, q := uintptr(unsafe.Pointer(unsafe.StringData(sub))), uintptr(unsafe.Pointer(unsafe.StringData(s)))
	return p >= q && p+uintptr(len(sub)) <= q+uintptr(len(s))
}

// Bytes is String for a byte slice; it returns b itself when there is
// nothing to redact.
func Bytes(b []byte) []byte {
	s := String(string(b))
	if len(s) == len(b) && s == string(b) {
		return b
	}
	return []byte(s)
}

// mayContain reports whether s has any word of the pre-filter (words).
func mayContain(s string) bool { return words(s, 0xff) != 0 }

// The words of the pre-filter, as bits.
const (
	wPass = 1 << iota
	wPwd
	wIdentified
	wKey
	wToken
	wSecret
	wCredential
	wURL // "://"
)

// words is a cheap single-pass pre-filter: every rule needs one of "pass",
// "pwd", "identified", "key", "token", "secret", "credential" or "://",
// case-insensitively. It returns the set of them found in s, or as soon
// as it finds one of the words of stop, the set found so far. It runs on every statement and raw line,
// so it reads eight bytes at a time and looks for the anchor bytes only:
// 'k' (key, toKen), 'f' (identiFied), 'p' (pass, pwd), 'c' (Credential,
// seCret) and ':' (://), each letter in either case; every word has one of
// them at a fixed offset. The byte after the anchor is the same in all of
// its words (kE, fI, pA or pW, cR, :/), so an anchor is looked at further
// only when that pair is in the anchors table.
func words(s string, stop uint8) uint8 {
	b := unsafe.Slice(unsafe.StringData(s), len(s))
	var found uint8
	i := 0
	for ; i+8 < len(b); i += 8 {
		w := binary.LittleEndian.Uint64(b[i:]) | 0x2020202020202020
		m := zeroBytes(w^(lsb*'k')) | zeroBytes(w^(lsb*'f')) | zeroBytes(w^(lsb*'p')) |
			zeroBytes(w^(lsb*'c')) | zeroBytes(w^(lsb*':'))
		// Every anchor byte has its bit in m; a few other bytes may too
		// (a borrow past a match), and the pair or anchorAt rejects them.
		for ; m != 0; m &= m - 1 {
			j := i + bits.TrailingZeros64(m)>>3 // j+1 < len(b): the loop stops one byte early
			k := uint16(b[j]|0x20)<<8 | uint16(b[j+1]|0x20)
			if anchors[k>>3]&(1<<(k&7)) == 0 {
				continue
			}
			if found |= anchorAt(s, j); found&stop != 0 {
				return found
			}
		}
	}
	for ; i < len(s); i++ {
		if found |= anchorAt(s, i); found&stop != 0 {
			return found
		}
	}
	return found
}

// anchors is the set of byte pairs (each byte OR 0x20) that start at an
// anchor of the words of the pre-filter.
var anchors = func() (t [1 << 13]byte) {
	for _, w := range []string{"ke", "fi", "pa", "pw", "cr", ":/"} {
		k := uint16(w[0])<<8 | uint16(w[1])
		t[k>>3] |= 1 << (k & 7)
	}
	return t
}()

const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// zeroBytes has the high bit of every zero byte of v set (and possibly of a
// 0x01 byte above a zero byte).
func zeroBytes(v uint64) uint64 { return (v - lsb) &^ v & msb }

// anchorAt returns the words of the anchor at j (see words).
func anchorAt(s string, j int) uint8 {
	if j+1 >= len(s) {
		return 0
	}
	next := s[j+1] | 0x20
	var w uint8
	switch s[j] | 0x20 {
	case 'k':
		if next == 'e' {
			if hasPrefixFold(s, j, "key") {
				w |= wKey
			}
			if j >= 2 && hasPrefixFold(s, j-2, "token") {
				w |= wToken
			}
		}
	case 'f':
		if next == 'i' && j >= 6 && hasPrefixFold(s, j-6, "identified") {
			w |= wIdentified
		}
	case 'p':
		if next == 'a' && hasPrefixFold(s, j, "pass") {
			w |= wPass
		} else if next == 'w' && hasPrefixFold(s, j, "pwd") {
			w |= wPwd
		}
	case 'c':
		if next == 'r' {
			if hasPrefixFold(s, j, "credential") {
				w |= wCredential
			}
			if j >= 2 && hasPrefixFold(s, j-2, "secret") {
				w |= wSecret
			}
		}
	case ':':
		if strings.HasPrefix(s[j:], "://") {
			w |= wURL
		}
	}
	return w
}

// sqlSecrets finds quoted passwords in SQL.
func sqlSecrets(s string, spans []span) []span {
	// IDENTIFIED BY [PASSWORD] '…' and IDENTIFIED WITH plugin BY|AS '…'.
	for i := indexFold(s, "identified", 0); i >= 0; i = indexFold(s, "identified", i+1) {
		if !wordStart(s, i) {
			continue
		}
		j := skipSpace(s, i+len("identified"))
		w, j2 := word(s, j)
		switch {
		case eqFold(w, "by"):
			j = skipSpace(s, j2)
			if w2, j3 := word(s, j); eqFold(w2, "password") {
				j = skipSpace(s, j3)
			}
		case eqFold(w, "with"):
			j = skipSpace(s, j2)
			_, j = wordOrQuoted(s, j) // plugin name
			j = skipSpace(s, j)
			w2, j3 := word(s, j)
			if !eqFold(w2, "by") && !eqFold(w2, "as") {
				continue
			}
			j = skipSpace(s, j3)
		default:
			continue
		}
		if sp, ok := quoted(s, j); ok {
			spans = append(spans, sp)
		}
	}
	// PASSWORD '…', PASSWORD = '…', PASSWORD('…') and SET PASSWORD … = '…';
	// also TDengine PASS '…'.
	for _, kw := range [...]string{"password", "pass"} {
		for i := indexFold(s, kw, 0); i >= 0; i = indexFold(s, kw, i+1) {
			if !wordStart(s, i) || !wordEnd(s, i+len(kw)) || inLiteral(s, i) {
				continue
			}
			j := skipSpace(s, i+len(kw))
			if kw == "password" && hasPrefixFold(s, j, "for") && wordEnd(s, j+3) {
				// SET PASSWORD FOR user = …: skip to the '='.
				k := strings.IndexByte(s[j:], '=')
				if k < 0 {
					continue
				}
				j = j + k
			}
			if j < len(s) && s[j] == '=' {
				j = skipSpace(s, j+1)
				// = PASSWORD('…') is handled when the loop reaches that word.
				if w, _ := word(s, j); eqFold(w, "password") || eqFold(w, "old_password") {
					continue
				}
			}
			if j < len(s) && s[j] == '(' {
				j = skipSpace(s, j+1)
			}
			if sp, ok := quoted(s, j); ok {
				spans = append(spans, sp)
			}
		}
	}
	return spans
}

// urlKeys are query-string or option keys whose value is a credential.
var urlKeys = [...]string{
	"api_key", "apikey", "access-key", "access_key", "accesskey", "secret-access-key", "secret_access_key",
	"secret-key", "secret_key", "secretkey", "session-token", "session_token", "sas-token", "token",
	"access_token", "password", "passwd", "pwd", "credentials-file",
}

func urlSecrets(s string, spans []span) []span {
	// Anchor on each '=' and read the key before it, so that the cost is
	// one pass however many keys there are.
	for e := strings.IndexByte(s, '='); e >= 0; {
		k := e
		for k > 0 && (isWordByte(s[k-1]) || s[k-1] == '-') {
			k--
		}
		if k < e && isURLKey(s[k:e]) {
			v := e + 1
			end := v
			switch {
			case strings.HasPrefix(s[v:], Mask):
				// Already masked: redacting twice changes nothing.
			case v < len(s) && (s[v] == '\'' || s[v] == '"'):
				// password='…' in SQL: the quoted value.
				if sp, ok := quoted(s, v); ok {
					spans = append(spans, sp)
				}
			default:
				for end < len(s) && !isURLDelim(s[end]) {
					end++
				}
				if end > v {
					spans = append(spans, span{v, end})
				}
			}
		}
		n := strings.IndexByte(s[e+1:], '=')
		if n < 0 {
			break
		}
		e += 1 + n
	}
	// scheme://user:password@host
	for i := strings.Index(s, "://"); i >= 0; {
		start := i + 3
		e := start
		for e < len(s) && !isURLDelim(s[e]) && s[e] != '/' && s[e] != '@' {
			e++
		}
		if e < len(s) && s[e] == '@' {
			if c := strings.IndexByte(s[start:e], ':'); c >= 0 && start+c+1 < e {
				spans = append(spans, span{start + c + 1, e})
			}
		}
		n := strings.Index(s[start:], "://")
		if n < 0 {
			break
		}
		i = start + n
	}
	return spans
}

func isURLKey(k string) bool {
	for _, u := range urlKeys {
		if eqFold(k, u) {
			return true
		}
	}
	return false
}

// inLiteral reports whether position i of s is inside a '…' SQL string
// literal. Double quotes are not literals here: raw JSON records wrap whole
// statements in them.
func inLiteral(s string, i int) bool {
	q := byte(0)
	for j := 0; j < i; j++ {
		c := s[j]
		switch {
		case q != 0:
			if c == '\\' {
				j++
			} else if c == q {
				if j+1 < i && s[j+1] == q {
					j++
				} else {
					q = 0
				}
			}
		case c == '\'':
			q = c
		}
	}
	return q != 0
}

func tdengineSecrets(s string, spans []span) []span {
	const kw = "invalid pass, input:"
	for i := indexFold(s, kw, 0); i >= 0; i = indexFold(s, kw, i+1) {
		v := i + len(kw)
		e := v
		for e < len(s) && s[e] != ' ' && s[e] != ',' && s[e] != '"' && s[e] != '\t' {
			e++
		}
		if e > v {
			spans = append(spans, span{v, e})
		}
	}
	return spans
}

func apply(s string, spans []span) string {
	// Sort by start (insertion sort: there are few) and merge overlaps.
	for i := 1; i < len(spans); i++ {
		for j := i; j > 0 && spans[j].start < spans[j-1].start; j-- {
			spans[j], spans[j-1] = spans[j-1], spans[j]
		}
	}
	var b strings.Builder
	b.Grow(len(s))
	last := 0
	for i, sp := range spans {
		// Overlapping and adjacent spans become one mask, so that the
		// output has no doubled or nested masks.
		if i > 0 && sp.start <= last {
			if sp.end > last {
				last = sp.end
			}
			continue
		}
		b.WriteString(s[last:sp.start])
		b.WriteString(Mask)
		last = sp.end
	}
	b.WriteString(s[last:])
	return b.String()
}

// quoted returns the span of the contents of a '…', "…" or `…` literal
// starting at i (SQL doubling and backslash escapes honoured; an
// unterminated literal runs to the end).
func quoted(s string, i int) (span, bool) {
	if i >= len(s) {
		return span{}, false
	}
	q := s[i]
	if q != '\'' && q != '"' && q != '`' {
		return span{}, false
	}
	j := i + 1
	for j < len(s) {
		c := s[j]
		if c == '\\' {
			j += 2
			continue
		}
		if c == q {
			if j+1 < len(s) && s[j+1] == q {
				j += 2
				continue
			}
			return span{i + 1, j}, true
		}
		j++
	}
	return span{i + 1, len(s)}, true
}

func wordOrQuoted(s string, i int) (string, int) {
	if sp, ok := quoted(s, i); ok {
		return s[sp.start:sp.end], min(sp.end+1, len(s))
	}
	return word(s, i)
}

func word(s string, i int) (string, int) {
	j := i
	for j < len(s) && isWordByte(s[j]) {
		j++
	}
	return s[i:j], j
}

func skipSpace(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
		i++
	}
	return i
}

func isWordByte(c byte) bool {
	return c == '_' || (c >= '0' && c <= '9') || (c|0x20 >= 'a' && c|0x20 <= 'z')
}

func wordStart(s string, i int) bool { return i == 0 || !isWordByte(s[i-1]) }
func wordEnd(s string, i int) bool   { return i >= len(s) || !isWordByte(s[i]) }

func isURLDelim(c byte) bool {
	switch c {
	case '&', ' ', '\t', '\n', '\r', '"', '\'', '#', ';', ')', ']', '>', ',', '`':
		return true
	}
	return false
}

func lower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// indexFold returns the index of the ASCII lower-case sub in s at or after
// from, ignoring case, or -1.
func indexFold(s, sub string, from int) int {
	n := len(sub)
	for i := from; i+n <= len(s); i++ {
		if lower(s[i]) != sub[0] {
			continue
		}
		k := 1
		for k < n && lower(s[i+k]) == sub[k] {
			k++
		}
		if k == n {
			return i
		}
	}
	return -1
}

func hasPrefixFold(s string, i int, p string) bool {
	return i+len(p) <= len(s) && indexFold(s[i:i+len(p)], p, 0) == 0
}

func eqFold(a, b string) bool { return len(a) == len(b) && indexFold(a, b, 0) == 0 }
