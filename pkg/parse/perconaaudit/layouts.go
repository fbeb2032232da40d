package perconaaudit

import (
	"bytes"

	"github.com/dbsec/dbsec/pkg/parse"
)

// Assembler joins the lines of one XML record (<AUDIT_RECORD … /> in the
// OLD layout, <AUDIT_RECORD> … </AUDIT_RECORD> in the NEW one); every other
// line (JSON, CSV, the <?xml …?>, <AUDIT> and </AUDIT> lines) is a record of
// its own, returned at once.
type Assembler struct {
	buf     []byte
	start   parse.Pos
	pending bool
	newXML  bool
}

// NewAssembler returns an assembler.
func NewAssembler() *Assembler { return &Assembler{} }

var (
	tagOpen  = []byte("<AUDIT_RECORD")
	tagClose = []byte("</AUDIT_RECORD>")
)

// Add implements parse.Assembler.
func (a *Assembler) Add(line []byte, pos parse.Pos) ([]byte, parse.Pos, bool) {
	if !a.pending {
		t := bytes.TrimLeft(line, " \t")
		if !bytes.HasPrefix(t, tagOpen) {
			return line, pos, true
		}
		a.buf = append(a.buf[:0], line...)
		a.start, a.pending = pos, true
		rest := t[len(tagOpen):]
		a.newXML = len(rest) > 0 && rest[0] == '>'
		if a.complete(line) {
			a.pending = false
			return a.buf, a.start, true
		}
		return nil, parse.Pos{}, false
	}
	if len(a.buf) < maxRecord {
		a.buf = append(a.buf, '\n')
		a.buf = append(a.buf, line...)
	}
	if a.complete(line) || len(a.buf) >= maxRecord {
		a.pending = false
		return a.buf, a.start, true
	}
	return nil, parse.Pos{}, false
}

// complete reports whether line ends the pending record.
func (a *Assembler) complete(line []byte) bool {
	t := bytes.TrimRight(line, " \t\r")
	if a.newXML {
		return bytes.HasSuffix(t, tagClose)
	}
	return bytes.HasSuffix(t, []byte("/>"))
}

// Flush implements parse.Assembler.
func (a *Assembler) Flush() ([]byte, parse.Pos, bool) {
	if !a.pending {
		return nil, parse.Pos{}, false
	}
	a.pending = false
	return a.buf, a.start, true
}

// xml reads one OLD or NEW record at b[i:] into p.r. It returns false for
// the file's other XML lines.
func (p *Parser) xml(b []byte, i int) (bool, error) {
	x := b[i:]
	if !bytes.HasPrefix(x, tagOpen) {
		switch {
		case bytes.HasPrefix(x, []byte("<?xml")), bytes.HasPrefix(x, []byte("<AUDIT>")), bytes.HasPrefix(x, []byte("</AUDIT>")):
			return false, nil
		}
		return false, parse.Errorf(parse.ReasonSyntax, i, "XML line that is not an <AUDIT_RECORD>")
	}
	if cap(p.xbuf) < len(b) {
		p.xbuf = make([]byte, 0, len(b)+256)
	}
	p.xbuf = p.xbuf[:0]
	body := x[len(tagOpen):]
	base := i + len(tagOpen)
	if len(body) > 0 && body[0] == '>' {
		// NEW: <KEY>value</KEY> elements up to </AUDIT_RECORD>.
		end := bytes.Index(body, tagClose)
		if end < 0 {
			return false, parse.Errorf(parse.ReasonSyntax, len(b), "record without </AUDIT_RECORD>")
		}
		body = body[1:end]
		base++
		for k := 0; k < len(body); {
			o := bytes.IndexByte(body[k:], '<')
			if o < 0 {
				break
			}
			k += o
			gt := bytes.IndexByte(body[k:], '>')
			if gt < 0 {
				return false, parse.Errorf(parse.ReasonSyntax, base+k, "unterminated tag")
			}
			name := body[k+1 : k+gt]
			k += gt + 1
			if bytes.HasSuffix(name, []byte("/")) { // <OS_LOGIN/>
				p.field(bytes.TrimSuffix(name, []byte("/")), nil)
				continue
			}
			if len(name) == 0 || name[0] == '/' {
				return false, parse.Errorf(parse.ReasonSyntax, base+k-gt-1, "unexpected closing tag %q", name)
			}
			// The value runs to the first "</"; an element that holds
			// others (the filter's <MAP><ELEMENT>…) runs to its own
			// closing tag and is skipped.
			closeAt := bytes.Index(body[k:], []byte("</"))
			if closeAt < 0 {
				return false, parse.Errorf(parse.ReasonSyntax, base+k, "element <%s> is not closed", name)
			}
			ce := bytes.IndexByte(body[k+closeAt:], '>')
			if ce < 0 {
				return false, parse.Errorf(parse.ReasonSyntax, base+k+closeAt, "unterminated closing tag")
			}
			if !bytes.Equal(body[k+closeAt+2:k+closeAt+ce], name) {
				if bytes.IndexByte(body[k:k+closeAt], '<') < 0 {
					return false, parse.Errorf(parse.ReasonSyntax, base+k+closeAt, "element <%s> closed by another tag", name)
				}
				end, ok := closing(body[k:], name)
				if !ok {
					return false, parse.Errorf(parse.ReasonSyntax, base+k, "element <%s> is not closed", name)
				}
				k += end
				continue
			}
			val := body[k : k+closeAt]
			v, err := p.unescape(val, base+k)
			if err != nil {
				return false, err
			}
			p.field(name, v)
			k += closeAt + ce + 1
		}
	} else {
		// OLD: KEY="value" attributes up to "/>".
		end := bytes.LastIndex(body, []byte("/>"))
		if end < 0 {
			return false, parse.Errorf(parse.ReasonSyntax, len(b), "record without />")
		}
		body = body[:end]
		for k := 0; k < len(body); {
			for k < len(body) && (body[k] == ' ' || body[k] == '\n' || body[k] == '\t' || body[k] == '\r') {
				k++
			}
			if k == len(body) {
				break
			}
			eq := bytes.IndexByte(body[k:], '=')
			if eq <= 0 || k+eq+1 >= len(body) || body[k+eq+1] != '"' {
				return false, parse.Errorf(parse.ReasonSyntax, base+k, "expected NAME=\"value\"")
			}
			name := body[k : k+eq]
			k += eq + 2
			q := bytes.IndexByte(body[k:], '"')
			if q < 0 {
				return false, parse.Errorf(parse.ReasonSyntax, base+k, "unterminated attribute %s", name)
			}
			v, err := p.unescape(body[k:k+q], base+k)
			if err != nil {
				return false, err
			}
			p.field(name, v)
			k += q + 1
		}
	}
	if p.r.name == nil {
		return false, parse.Errorf(parse.ReasonField, i, "record without NAME")
	}
	return true, nil
}

// closing returns the offset just past "</name>" in b.
func closing(b, name []byte) (int, bool) {
	for k := 0; k < len(b); {
		i := bytes.Index(b[k:], []byte("</"))
		if i < 0 {
			return 0, false
		}
		k += i + 2
		if bytes.HasPrefix(b[k:], name) && k+len(name) < len(b) && b[k+len(name)] == '>' {
			return k + len(name) + 1, true
		}
	}
	return 0, false
}

// field stores one XML attribute or element.
func (p *Parser) field(name, v []byte) {
	if v == nil {
		v = []byte{}
	}
	p.r.wrapped = true
	p.r.Field([]byte("audit_record"), name, v, true)
}

// unescape decodes XML entities (&lt; &gt; &amp; &quot; &apos; &#N; &#xH;)
// into p.xbuf, which is sized to the record and so never moves.
func (p *Parser) unescape(v []byte, col int) ([]byte, error) {
	if bytes.IndexByte(v, '&') < 0 {
		return v, nil
	}
	start := len(p.xbuf)
	for k := 0; k < len(v); k++ {
		if v[k] != '&' {
			p.xbuf = append(p.xbuf, v[k])
			continue
		}
		semi := bytes.IndexByte(v[k:], ';')
		if semi < 0 || semi > 10 {
			return nil, parse.Errorf(parse.ReasonEncoding, col+k, "bad XML entity")
		}
		ent := v[k+1 : k+semi]
		switch string(ent) {
		case "lt":
			p.xbuf = append(p.xbuf, '<')
		case "gt":
			p.xbuf = append(p.xbuf, '>')
		case "amp":
			p.xbuf = append(p.xbuf, '&')
		case "quot":
			p.xbuf = append(p.xbuf, '"')
		case "apos":
			p.xbuf = append(p.xbuf, '\'')
		default:
			r, ok := charRef(ent)
			if !ok {
				return nil, parse.Errorf(parse.ReasonEncoding, col+k, "bad XML entity &%s;", ent)
			}
			p.xbuf = appendRune(p.xbuf, r)
		}
		k += semi
	}
	return p.xbuf[start:len(p.xbuf):len(p.xbuf)], nil
}

// charRef reads "#N" or "#xH".
func charRef(e []byte) (rune, bool) {
	if len(e) < 2 || e[0] != '#' {
		return 0, false
	}
	var r rune
	if e[1] == 'x' || e[1] == 'X' {
		if len(e) < 3 {
			return 0, false
		}
		for _, c := range e[2:] {
			d, ok := hexDigit(c)
			if !ok {
				return 0, false
			}
			r = r<<4 | rune(d)
		}
	} else {
		for _, c := range e[1:] {
			if c < '0' || c > '9' {
				return 0, false
			}
			r = r*10 + rune(c-'0')
		}
	}
	return r, r > 0 && r <= 0x10FFFF
}

func hexDigit(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

func appendRune(b []byte, r rune) []byte {
	switch {
	case r < 0x80:
		return append(b, byte(r))
	case r < 0x800:
		return append(b, 0xC0|byte(r>>6), 0x80|byte(r)&0x3F)
	case r < 0x10000:
		return append(b, 0xE0|byte(r>>12), 0x80|byte(r>>6)&0x3F, 0x80|byte(r)&0x3F)
	}
	return append(b, 0xF0|byte(r>>18), 0x80|byte(r>>12)&0x3F, 0x80|byte(r>>6)&0x3F, 0x80|byte(r)&0x3F)
}

// csv reads one CSV record into p.r.
func (p *Parser) csv(b []byte) error {
	n, err := p.split.Split(b, p.cols[:], nil)
	if err != nil {
		return err
	}
	f := p.cols[:n]
	if n < 3 {
		return parse.Errorf(parse.ReasonSyntax, len(b), "CSV record with %d fields, want at least 3", n)
	}
	r := &p.r
	r.wrapped = true
	r.name, r.timestamp = f[0], f[2]
	switch {
	case eqFold(r.name, "audit"), eqFold(r.name, "noaudit"):
		return nil
	case n != 12:
		return parse.Errorf(parse.ReasonSyntax, len(b), "CSV %s record with %d fields, want 12", r.name, n)
	}
	if _, ok := parse.Digits(f[3]); ok && (eqFold(r.name, "connect") || eqFold(r.name, "quit") || eqFold(r.name, "change user")) {
		// CONNECTION_ID, STATUS, USER, PRIV_USER, OS_LOGIN, PROXY_USER, HOST, IP, DB
		r.connID, r.status, r.haveStatus = f[3], f[4], true
		r.user, r.host, r.ip, r.db = f[5], f[9], f[10], f[11]
		return nil
	}
	// COMMAND_CLASS, CONNECTION_ID, STATUS, SQLTEXT, USER, HOST, OS_USER, IP, DB
	r.class, r.connID, r.status, r.haveStatus = f[3], f[4], f[5], true
	r.sql, r.user, r.host, r.ip, r.db = f[6], f[7], f[8], f[10], f[11]
	return nil
}
