package postgres

import (
	"bytes"
	"fmt"
)

// DefaultPrefix is the log_line_prefix that Format.New assumes: the default
// of Debian's and Ubuntu's postgresql-common clusters.
const DefaultPrefix = "%m [%p] %q%u@%d "

// kind is the kind of one element of a compiled prefix.
type kind uint8

const (
	kLit     kind = iota // literal text
	kTimeMS              // %m  2024-06-01 10:00:00.123 UTC
	kTime                // %t  2024-06-01 10:00:00 UTC
	kEpoch               // %n  1717236000.123
	kPID                 // %p
	kUser                // %u
	kDB                  // %d
	kHost                // %h
	kRemote              // %r  host(port) or [local]
	kApp                 // %a
	kSession             // %c  6b0ff253.5373
	kLineNum             // %l
	kStart               // %s  session start, like %t
	kVXID                // %v  3/4
	kXID                 // %x
	kCode                // %e  SQLSTATE
	kQuiet               // %q  stop here for non-session processes
	kQueryID             // %Q
	kTag                 // %i  command tag
	kBackend             // %b  backend type
	numKinds
)

var escapeKind = map[byte]kind{
	'm': kTimeMS, 't': kTime, 'n': kEpoch, 'p': kPID, 'u': kUser, 'd': kDB, 'h': kHost, 'r': kRemote,
	'a': kApp, 'c': kSession, 'l': kLineNum, 's': kStart, 'v': kVXID, 'x': kXID, 'e': kCode,
	'q': kQuiet, 'Q': kQueryID, 'i': kTag, 'b': kBackend,
}

// free reports whether the value of k is free text, delimited only by the
// literal that follows it in the prefix.
func (k kind) free() bool {
	switch k {
	case kUser, kDB, kHost, kRemote, kApp, kTag, kBackend:
		return true
	}
	return false
}

type item struct {
	k   kind
	lit []byte
	pad int // PostgreSQL padding: >0 right-aligned width, <0 left-aligned
}

// Prefix is a compiled log_line_prefix. Matching a line does not allocate.
type Prefix struct {
	src   string
	items []item
	has   [numKinds]bool
}

const maxPrefixItems = 64

// String returns the log_line_prefix the matcher was compiled from.
func (p *Prefix) String() string { return p.src }

// CompilePrefix compiles a log_line_prefix value. It understands the escapes
// %m %t %n %p %u %d %h %r %a %c %l %s %v %x %e %q %Q %i %b %% and
// PostgreSQL's padding (%-10u, %5p). A prefix is rejected when it cannot be
// split reliably: an unknown escape, a trailing '%', or a free-text escape
// (%u %d %h %r %a %i %b) that is directly followed by another escape instead
// of literal text.
func CompilePrefix(s string) (*Prefix, error) {
	p := &Prefix{src: s}
	var lit []byte
	flush := func() {
		if len(lit) > 0 {
			p.items = append(p.items, item{k: kLit, lit: lit})
			lit = nil
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '%' {
			lit = append(lit, c)
			continue
		}
		j := i + 1
		neg := false
		if j < len(s) && s[j] == '-' {
			neg = true
			j++
		}
		width := 0
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			width = width*10 + int(s[j]-'0')
			if width > 1000 {
				return nil, fmt.Errorf("log_line_prefix %q: padding too wide at offset %d", s, i)
			}
			j++
		}
		if j >= len(s) {
			return nil, fmt.Errorf("log_line_prefix %q: incomplete escape at offset %d", s, i)
		}
		if s[j] == '%' {
			if neg || width > 0 {
				return nil, fmt.Errorf("log_line_prefix %q: padding on %%%% at offset %d", s, i)
			}
			lit = append(lit, '%')
			i = j
			continue
		}
		k, ok := escapeKind[s[j]]
		if !ok {
			return nil, fmt.Errorf("log_line_prefix %q: unknown escape %%%c at offset %d (supported: %%m %%t %%n %%p %%u %%d %%h %%r %%a %%c %%l %%s %%v %%x %%e %%q %%Q %%i %%b %%%%)", s, s[j], i)
		}
		flush()
		if neg {
			width = -width
		}
		if k == kQuiet {
			width = 0
		}
		p.items = append(p.items, item{k: k, pad: width})
		p.has[k] = true
		i = j
	}
	flush()
	if len(p.items) > maxPrefixItems {
		return nil, fmt.Errorf("log_line_prefix %q: too many elements (%d > %d)", s, len(p.items), maxPrefixItems)
	}
	for i, it := range p.items {
		if !it.k.free() {
			continue
		}
		if i+1 < len(p.items) && p.items[i+1].k != kLit {
			return nil, fmt.Errorf("log_line_prefix %q: escape %s is directly followed by %s; a free-text escape must be followed by literal text to be split", s, p.name(i), p.name(i+1))
		}
	}
	return p, nil
}

func (p *Prefix) name(i int) string {
	for c, k := range escapeKind {
		if k == p.items[i].k {
			return "%" + string(c)
		}
	}
	return "literal"
}

// captures are the values of the escapes of one matched line.
type captures [numKinds][]byte

// maxTries bounds the backtracking of free-text escapes per line.
const maxTries = 64

// Match matches the prefix at the start of line, which must be followed by
// a severity tag ("LOG:  ", "ERROR:  " …). It returns the index of the
// severity tag.
func (p *Prefix) match(line []byte, c *captures) (int, bool) {
	budget := maxTries
	return p.m(0, line, 0, c, &budget)
}

func (p *Prefix) m(i int, line []byte, pos int, c *captures, budget *int) (int, bool) {
	for ; i < len(p.items); i++ {
		it := &p.items[i]
		switch {
		case it.k == kLit:
			if !bytes.HasPrefix(line[pos:], it.lit) {
				return 0, false
			}
			pos += len(it.lit)
		case it.k == kQuiet:
			if s, _ := severityAt(line[pos:]); s != sevNone {
				// A process without a session: the rest is not written.
				for j := i + 1; j < len(p.items); j++ {
					c[p.items[j].k] = nil
				}
				return pos, true
			}
		case it.k.free():
			return p.free(i, line, pos, c, budget)
		default:
			start := pos
			if it.pad > 0 {
				for pos < len(line) && line[pos] == ' ' && pos-start < it.pad {
					pos++
				}
			}
			n := scanFixed(it.k, line[pos:])
			if n < 0 {
				return 0, false
			}
			c[it.k] = line[pos : pos+n]
			pos += n
			if it.pad < 0 {
				for pos < len(line) && line[pos] == ' ' && pos-start < -it.pad {
					pos++
				}
			}
		}
	}
	if s, _ := severityAt(line[pos:]); s == sevNone {
		return 0, false
	}
	return pos, true
}

// free matches free-text item i and the rest of the prefix, trying each
// occurrence of the following literal (or severity tag) from the left.
func (p *Prefix) free(i int, line []byte, pos int, c *captures, budget *int) (int, bool) {
	if p.items[i].k == kRemote {
		// Prefer a value shaped like %r ("host(port)", "[local]"): with a
		// literal such as ':' after it, an IPv6 address would otherwise be
		// cut at its first colon.
		if r, ok := p.free1(i, line, pos, c, budget, true); ok {
			return r, true
		}
	}
	return p.free1(i, line, pos, c, budget, false)
}

func (p *Prefix) free1(i int, line []byte, pos int, c *captures, budget *int, strict bool) (int, bool) {
	it := &p.items[i]
	from := pos
	for *budget > 0 {
		*budget--
		var end int
		if i+1 < len(p.items) {
			lit := p.items[i+1].lit
			j := bytes.Index(line[from:], lit)
			if j < 0 {
				return 0, false
			}
			end = from + j
		} else {
			j := nextSeverity(line, from)
			if j < 0 {
				return 0, false
			}
			end = j
		}
		v := line[pos:end]
		if it.pad != 0 {
			v = bytes.Trim(v, " ")
		}
		c[it.k] = v
		if strict && !remoteShaped(v) {
			from = end + 1
			if from > len(line) {
				return 0, false
			}
			continue
		}
		if r, ok := p.m(i+1, line, end, c, budget); ok {
			return r, true
		}
		from = end + 1
		if from > len(line) {
			return 0, false
		}
	}
	return 0, false
}

// nextSeverity returns the index of the first severity tag at or after from.
func nextSeverity(line []byte, from int) int {
	for from <= len(line) {
		j := bytes.Index(line[from:], []byte(":  "))
		if j < 0 {
			return -1
		}
		colon := from + j
		w := colon
		for w > from && line[w-1] >= 'A' && line[w-1] <= 'Z' {
			w--
		}
		if w < colon {
			if s, _ := severityAt(line[w:]); s != sevNone {
				return w
			}
		}
		from = colon + 1
	}
	return -1
}

// scanFixed returns the length of the value of a fixed-shape escape at the
// start of b, or -1.
func scanFixed(k kind, b []byte) int {
	switch k {
	case kTimeMS, kTime, kStart:
		_, n, ok := scanTime(b)
		if !ok {
			return -1
		}
		return n
	case kEpoch:
		n := digits(b)
		if n == 0 {
			return -1
		}
		if n < len(b) && b[n] == '.' {
			n++
			n += digits(b[n:])
		}
		return n
	case kPID, kLineNum, kXID:
		if n := digits(b); n > 0 {
			return n
		}
		return -1
	case kQueryID:
		n := 0
		if len(b) > 0 && b[0] == '-' {
			n = 1
		}
		if d := digits(b[n:]); d > 0 {
			return n + d
		}
		return -1
	case kVXID: // "3/4", or empty outside a transaction
		n := 0
		for n < len(b) && (b[n] >= '0' && b[n] <= '9' || b[n] == '/') {
			n++
		}
		return n
	case kSession:
		n := 0
		for n < len(b) && (b[n] >= '0' && b[n] <= '9' || b[n] >= 'a' && b[n] <= 'f' || b[n] == '.') {
			n++
		}
		if n == 0 {
			return -1
		}
		return n
	case kCode:
		if len(b) < 5 {
			return -1
		}
		for _, c := range b[:5] {
			if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'Z') {
				return -1
			}
		}
		return 5
	}
	return -1
}

func digits(b []byte) int {
	n := 0
	for n < len(b) && b[n] >= '0' && b[n] <= '9' {
		n++
	}
	return n
}

// sev is a PostgreSQL severity tag, including the tags of the secondary
// lines of a report (DETAIL, HINT, …).
type sev uint8

const (
	sevNone sev = iota
	sevDebug
	sevLog
	sevInfo
	sevNotice
	sevWarning
	sevError
	sevFatal
	sevPanic
	sevDetail
	sevHint
	sevQuery
	sevContext
	sevLocation
	sevStatement
)

func (s sev) secondary() bool { return s >= sevDetail }

// severityAt recognises "TAG:  " at the start of b and returns the tag and
// the length including the colon and two spaces.
func severityAt(b []byte) (sev, int) {
	n := 0
	for n < len(b) && n < 10 && b[n] >= 'A' && b[n] <= 'Z' {
		n++
	}
	if n == 0 || n+3 > len(b) || b[n] != ':' || b[n+1] != ' ' || b[n+2] != ' ' {
		return sevNone, 0
	}
	return severityName(b[:n]), n + 3
}

func severityName(w []byte) sev {
	var s sev
	switch string(w) {
	case "DEBUG":
		s = sevDebug
	case "LOG":
		s = sevLog
	case "INFO":
		s = sevInfo
	case "NOTICE":
		s = sevNotice
	case "WARNING":
		s = sevWarning
	case "ERROR":
		s = sevError
	case "FATAL":
		s = sevFatal
	case "PANIC":
		s = sevPanic
	case "DETAIL":
		s = sevDetail
	case "HINT":
		s = sevHint
	case "QUERY":
		s = sevQuery
	case "CONTEXT":
		s = sevContext
	case "LOCATION":
		s = sevLocation
	case "STATEMENT":
		s = sevStatement
	}
	return s
}

// remoteShaped reports whether v looks like a %r value.
func remoteShaped(v []byte) bool {
	if string(v) == "[local]" {
		return true
	}
	if len(v) < 4 || v[len(v)-1] != ')' {
		return false
	}
	i := bytes.LastIndexByte(v, '(')
	return i > 0 && i+1 < len(v)-1 && digits(v[i+1:len(v)-1]) == len(v)-i-2
}
