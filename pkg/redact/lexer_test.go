package redact

import (
	"strings"
	"testing"

	"github.com/DataDog/go-sqllexer"
)

// FuzzLexerAgreement checks the lexer against DataDog's go-sqllexer: in a
// credential-managing statement, every literal go-sqllexer finds (with the
// MySQL or the PostgreSQL rules) is inside a masked span.
func FuzzLexerAgreement(f *testing.F) {
	f.Add(uint8(0), `'a' REPLACE 'b'`)
	f.Add(uint8(1), `$$x$$ VALID UNTIL '2030-01-01'`)
	f.Add(uint8(2), `/* c */ "p\"w" -- x`)
	f.Add(uint8(3), `E'a\'b' || U&'c'`)
	f.Add(uint8(0), `0xA1B2, _utf8mb4'x', x'41'`)
	cmds := []string{"CREATE USER eve IDENTIFIED BY ", "ALTER ROLE eve PASSWORD ", "SET PASSWORD FOR eve = ", "CHANGE MASTER TO MASTER_PASSWORD = "}
	f.Fuzz(func(t *testing.T, cmd uint8, body string) {
		if strings.ContainsAny(body, ";\x00") || !isASCII(body) {
			return // a second statement need not manage credentials
		}
		s := cmds[int(cmd)%len(cmds)] + body
		spans := credSpans(s, nil)
		covered := func(a, b int) bool {
			for i := a; i < b; i++ {
				if !isAlnum(s[i]) {
					continue // separators, quotes, signs: the lexers split them differently
				}
				in := false
				for _, sp := range spans {
					if sp.start <= i && i < sp.end {
						in = true
						break
					}
				}
				if !in {
					return false
				}
			}
			return true
		}
		for _, d := range []sqllexer.DBMSType{sqllexer.DBMSMySQL, sqllexer.DBMSPostgres} {
			lx := sqllexer.New(s, sqllexer.WithDBMS(d))
			off := 0
			prevQuotedIdent := false
			for n := 0; n <= len(s); n++ {
				tk := lx.Scan()
				if tk.Type == sqllexer.EOF || len(tk.Value) == 0 {
					break
				}
				a, b := off, off+len(tk.Value)
				off = b
				if b > len(s) || s[a:b] != tk.Value {
					break // go-sqllexer joined a qualified name (a . b): offsets lost
				}
				// go-sqllexer reads A"x as an identifier, which puts the
				// quotes after it out of step with MySQL's reading: from
				// there on the two cannot be compared.
				// Likewise an operator that holds a comment opener (!--),
				// and an identifier that runs into one (A/*).
				if tk.Type != sqllexer.STRING && tk.Type != sqllexer.INCOMPLETE_STRING && strings.ContainsAny(tk.Value, "\"'`") ||
					tk.Type == sqllexer.IDENT && strings.ContainsAny(tk.Value, "/-#") || tk.Type == sqllexer.BIND_PARAMETER || tk.Type == sqllexer.SYSTEM_VARIABLE ||
					(tk.Type == sqllexer.OPERATOR || tk.Type == sqllexer.JSON_OP) && (strings.Contains(tk.Value, "--") || strings.Contains(tk.Value, "/*") || strings.Contains(tk.Value, "#")) {
					prevQuotedIdent = true
				}
				if prevQuotedIdent {
					continue
				}
				switch tk.Type {
				case sqllexer.STRING, sqllexer.INCOMPLETE_STRING:
					if (a > 0 && s[a-1] == '@') || (b < len(s) && s[b] == '@') {
						continue // account name
					}
					a++
					if tk.Type == sqllexer.STRING && b-a >= 1 {
						b--
					}
				case sqllexer.NUMBER:
					if v := strings.TrimLeft(tk.Value, "+-"); !strings.ContainsAny(tk.Value[:1], "0123456789.+-") || v == "" || (!isDigitByte(v[0]) && v[0] != '.') || !strings.ContainsAny(v, "0123456789") {
						continue // go-sqllexer calls some words numbers
					}
					if tk.Value[0] == '-' || tk.Value[0] == '+' {
						a++ // the sign is an operator here
					}
					// go-sqllexer runs some numbers on (.0%0): compare the
					// number's own characters.
					e := a
					for e < b && (isAlnum(s[e]) || s[e] == '.') {
						e++
					}
					b = e
					if s[a] == '.' && (a+1 >= b || !isDigitByte(s[a+1])) {
						continue
					}
				case sqllexer.DOLLAR_QUOTED_STRING, sqllexer.DOLLAR_QUOTED_FUNCTION:
					tag := strings.IndexByte(tk.Value[1:], '$') + 2
					if !validTag(tk.Value[:tag]) {
						prevQuotedIdent = true // not a tag in PostgreSQL ($ $, $0$): out of step from here
						continue
					}
					a, b = a+tag, b-tag
				default:
					continue
				}
				if (a > 0 && s[a-1] == '@') || strings.Contains(s[max(0, a-2):b], "@") {
					continue // an account name, 'user'@'host', is kept
				}
				if b > a && !covered(a, b) {
					t.Fatalf("%s literal %q at %d not masked in %q: %q", d, s[a:b], a, s, apply(s, spans))
				}
			}
		}
	})
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// validTag reports whether $tag$ is a PostgreSQL dollar-quote tag.
func validTag(t string) bool {
	if len(t) > 2 && isDigitByte(t[1]) {
		return false
	}
	for i := 1; i < len(t)-1; i++ {
		if !isAlnum(t[i]) && t[i] != '_' {
			return false
		}
	}
	return true
}
