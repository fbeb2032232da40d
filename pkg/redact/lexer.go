package redact

import (
	"sync"
	"unsafe"
)

// A small SQL lexer for the two lexical families dbsec reads: MySQL (TiDB,
// MariaDB, MySQL, Percona; TDengine lexes alike) and PostgreSQL. It knows
// what matters to find literals: whitespace; -- (in MySQL only before a
// space), # (MySQL) and /* */
// comments (nested in PostgreSQL); '…' and "…" strings with doubled quotes
// and, in MySQL and in PostgreSQL E'…' strings, backslash escapes; `…`
// names; $tag$…$tag$ strings; numbers, including 0x… and 0b…; words. It
// does not allocate, so that it can run on the per-line path. Its
// tokenization is checked against DataDog's go-sqllexer in the tests.

type dialect uint8

const (
	mysql dialect = iota
	postgres
)

type tkind uint8

const (
	tEOF tkind = iota
	tWord
	tString // '…' or "…"
	tName   // `…`
	tDollar // $tag$…$tag$
	tNumber
	tParam // $1
	tOp
	tPunct // ; , ( ) [ ] { }
)

// tok is one significant token: kind, [start, end) in the text and, for
// literals, the span to mask [cs, ce).
type tok struct {
	kind       tkind
	start, end int
	cs, ce     int
}

// nextTok returns the token at or after i (skipping space and comments) and
// the offset after it.
func nextTok(t string, i int, d dialect) (tok, int) {
	for i < len(t) {
		c := t[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v':
			i++
			continue
		case c == '-' && i+1 < len(t) && t[i+1] == '-' && (d == postgres || i+2 == len(t) || t[i+2] <= ' '),
			c == '#' && d == mysql:
			// MySQL needs a space or control character after "--".
			for i < len(t) && t[i] != '\n' {
				i++
			}
			continue
		case c == '/' && i+1 < len(t) && t[i+1] == '*':
			// An unterminated comment is read as operators, so that what
			// follows is still looked at.
			if e := skipBlockComment(t, i, d); e > 0 {
				i = e
				continue
			}
		}
		break
	}
	if i >= len(t) {
		return tok{kind: tEOF, start: i, end: i}, i
	}
	c := t[i]
	switch {
	case c == '\'' || c == '"':
		bs := d == mysql || (d == postgres && c == '\'' && i > 0 && (t[i-1]|0x20) == 'e' && (i == 1 || !isWordByte(t[i-2])))
		end, closed := scanString(t, i, bs)
		k := tok{kind: tString, start: i, end: end, cs: i + 1, ce: end}
		if closed {
			k.ce = end - 1
		}
		return k, end
	case c == '`':
		end, _ := scanString(t, i, false)
		return tok{kind: tName, start: i, end: end}, end
	case c == '$':
		j := i + 1
		if j < len(t) && isDigitByte(t[j]) {
			for j < len(t) && isDigitByte(t[j]) {
				j++
			}
			return tok{kind: tParam, start: i, end: j}, j
		}
		for j < len(t) && (isAlnum(t[j]) || t[j] == '_') {
			j++
		}
		if j < len(t) && t[j] == '$' {
			tag := t[i : j+1]
			body := j + 1
			if n := indexFrom(t, tag, body); n >= 0 {
				return tok{kind: tDollar, start: i, end: n + len(tag), cs: body, ce: n}, n + len(tag)
			}
			return tok{kind: tDollar, start: i, end: len(t), cs: body, ce: len(t)}, len(t)
		}
		return tok{kind: tOp, start: i, end: i + 1}, i + 1
	case isDigitByte(c) || (c == '.' && i+1 < len(t) && isDigitByte(t[i+1])):
		j := i + 1
		if c == '0' && j < len(t) && (t[j]|0x20 == 'x' || t[j]|0x20 == 'b') {
			j++
		}
		for j < len(t) && (isAlnum(t[j]) || t[j] == '.' || t[j] == '_' ||
			((t[j] == '+' || t[j] == '-') && t[j-1]|0x20 == 'e')) { // 1e+5
			j++
		}
		return tok{kind: tNumber, start: i, end: j, cs: i, ce: j}, j
	case isWordByte(c) || c >= 0x80:
		j := i + 1
		for j < len(t) && (isWordByte(t[j]) || t[j] == '$' || t[j] >= 0x80) {
			j++
		}
		return tok{kind: tWord, start: i, end: j}, j
	case c == ';' || c == ',' || c == '(' || c == ')' || c == '[' || c == ']' || c == '{' || c == '}':
		return tok{kind: tPunct, start: i, end: i + 1}, i + 1
	}
	return tok{kind: tOp, start: i, end: i + 1}, i + 1
}

// scanString returns the end of the string opened at i and whether it was
// closed: a doubled quote is one quote; with bs a backslash escapes the
// next byte.
func scanString(t string, i int, bs bool) (int, bool) {
	q := t[i]
	for j := i + 1; j < len(t); j++ {
		switch t[j] {
		case '\\':
			if bs {
				j++
			}
		case q:
			if j+1 < len(t) && t[j+1] == q {
				j++
				continue
			}
			return j + 1, true
		}
	}
	return len(t), false
}

func skipBlockComment(t string, i int, d dialect) int {
	depth := 0
	for j := i; j+1 < len(t); j++ {
		switch {
		case t[j] == '/' && t[j+1] == '*' && (depth == 0 || d == postgres):
			depth++
			j++
		case t[j] == '*' && t[j+1] == '/':
			depth--
			j++
			if depth == 0 {
				return j + 1
			}
		}
	}
	return -1
}

func indexFrom(s, sub string, from int) int {
	for i := from; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return i
		}
	}
	return -1
}

// scratch holds the reusable buffers of one redaction: tokens and, per
// depth, the bytes and position maps of the unescaped views.
type scratch struct {
	toks []tok
	buf  [maxDepth + 1][2][]byte
	pos  [maxDepth + 1][2][]int
}

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

func unsafeString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}
