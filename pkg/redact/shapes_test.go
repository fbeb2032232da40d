package redact_test

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/dbsec/dbsec/pkg/redact"
	"github.com/dbsec/dbsec/pkg/redact/redacttest"
)

// containers wrap a statement the way the log formats do.
var containers = []struct {
	name string
	wrap func(stmt string) string
}{
	{"plain", func(s string) string { return s }},
	{"mariadb", func(s string) string {
		e := strings.NewReplacer(`\`, `\\`, `'`, `\'`, "\n", `\n`).Replace(s)
		return "20261202 10:31:59,vm,root,localhost,3,7,QUERY,,'" + e + "',0"
	}},
	{"json", func(s string) string {
		b, _ := json.Marshal(map[string]any{"user": "root", "query": s, "status": 0})
		return string(b)
	}},
	{"json-of-backslashed", func(s string) string { // TDengine keeper: ' and " backslash-escaped, then JSON
		e := strings.NewReplacer(`'`, `\'`, `"`, `\"`).Replace(s)
		b, _ := json.Marshal(map[string]any{"details": e})
		return string(b)
	}},
	{"unified", func(s string) string {
		return `[2026/01/08 19:44:27.782 +08:00] [INFO] [USER=root] [SQL_TEXT=` + strconv.Quote(s) + `]`
	}},
	{"csv", func(s string) string {
		return `"2025-07-23 17:11:01.000001","` + strings.ReplaceAll(s, `"`, `""`) + `",10.0.0.8,root`
	}},
	{"pgaudit-stderr", func(s string) string {
		return `2026-12-02 10:32:55.677 UTC [3959] postgres@postgres 127.0.0.1 LOG:  AUDIT: SESSION,1,1,ROLE,ALTER ROLE,,,"` + strings.ReplaceAll(s, `"`, `""`) + `",<not logged>`
	}},
	{"pgaudit-csvlog", func(s string) string {
		msg := `AUDIT: SESSION,1,1,ROLE,ALTER ROLE,,,"` + strings.ReplaceAll(s, `"`, `""`) + `",<not logged>`
		return `2026-12-02 10:32:55.677 UTC,"postgres","postgres",3959,"127.0.0.1:41950",6b0ff3d7.f77,4,"ALTER ROLE",2026-12-02 10:32:55 UTC,3/6,725,LOG,00000,"` + strings.ReplaceAll(msg, `"`, `""`) + `",,,,,,,,,"app","client backend",,0`
	}},
}

func TestShapesInContainers(t *testing.T) {
	for i, sh := range redacttest.Shapes {
		if sh.Param {
			continue
		}
		for j, c := range containers {
			secret := fmt.Sprintf("Zq%02d%02dK7s", i, j)
			stmt, planted := sh.Statement(secret)
			out := redact.String(c.wrap(stmt))
			if strings.Contains(out, planted) || (!sh.Hex && strings.Contains(out, secret)) {
				t.Errorf("%s in %s: secret survives\n in: %s\nout: %s", sh.Name, c.name, c.wrap(stmt), out)
			}
			if strings.Contains(out, redact.Mask+">") || strings.Contains(out, "<"+redact.Mask) {
				t.Errorf("%s in %s: malformed mask: %s", sh.Name, c.name, out)
			}
			// A doubly escaped record (JSON of backslash-escaped SQL) may
			// lose an escape on a second pass; the others are stable.
			if again := redact.String(out); again != out && c.name != "json-of-backslashed" {
				t.Errorf("%s in %s: not idempotent\n once: %s\ntwice: %s", sh.Name, c.name, out, again)
			}
		}
	}
}

func TestPgauditParameter(t *testing.T) {
	for _, line := range []string{
		`2026-12-02 10:32:55.677 UTC [3959] postgres@postgres 127.0.0.1 LOG:  AUDIT: SESSION,1,1,ROLE,ALTER ROLE,,,ALTER ROLE eve PASSWORD $1,Zq99Param`,
		`2026-12-02 10:32:55.677 UTC [3959] postgres@postgres 127.0.0.1 LOG:  AUDIT: SESSION,1,1,ROLE,ALTER ROLE,,,"ALTER ROLE eve PASSWORD $1, VALID UNTIL $2","Zq99Param,2030-01-01"`,
		`2026-12-02 10:32:55.677 UTC,"postgres","postgres",3959,"127.0.0.1:41950",6b0ff3d7.f77,4,"ALTER ROLE",2026-12-02 10:32:55 UTC,3/6,725,LOG,00000,"AUDIT: SESSION,1,1,ROLE,ALTER ROLE,,,ALTER ROLE eve PASSWORD $1,""Zq99Param""",,,,,,,,,"app","client backend",,0`,
	} {
		if out := redact.String(line); strings.Contains(out, "Zq99Param") {
			t.Errorf("parameter survives: %s", out)
		}
	}
	// Other classes keep their parameters.
	keep := `2026-12-02 10:32:55.677 UTC [1] a@b 127.0.0.1 LOG:  AUDIT: SESSION,1,1,READ,SELECT,,,SELECT * FROM t WHERE id = $1,42`
	if out := redact.String(keep); out != keep {
		t.Errorf("READ entry changed: %s", out)
	}
}

func TestMessagesKeepAccounts(t *testing.T) {
	for _, s := range []string{
		`Access denied for user 'bob'@'10.0.0.9' (using password: YES)`,
		`FATAL:  password authentication failed for user "bob"`,
		`SELECT * FROM passengers WHERE keyword = 'x'`,
	} {
		if out := redact.String(s); out != s {
			t.Errorf("changed: %s -> %s", s, out)
		}
	}
}

// FuzzPlantedSecret plants a marker password in statements generated from
// the shapes: separators between words (spaces, tabs, newlines, comments),
// a leading statement, letter case and the container are chosen by the
// fuzzer. The marker must not survive redaction.
func FuzzPlantedSecret(f *testing.F) {
	f.Add(uint8(0), uint8(0), []byte{0, 1, 2}, "SELECT 1", false)
	f.Add(uint8(5), uint8(1), []byte{3, 4}, "", true)
	f.Add(uint8(17), uint8(6), []byte{5}, "SET x = 'a'", false)
	seps := []string{" ", "\n", "\t", " /* c */ ", " -- c\n", "  \r\n ", "/**/"}
	const marker = "Mk7Zq9Plant"
	f.Fuzz(func(t *testing.T, shape, container uint8, sepChoice []byte, pre string, upper bool) {
		var shapes []redacttest.Shape
		for _, s := range redacttest.Shapes {
			if !s.Param {
				shapes = append(shapes, s)
			}
		}
		sh := shapes[int(shape)%len(shapes)]
		c := containers[int(container)%len(containers)]
		stmt, planted := sh.Statement(marker)
		words := strings.Split(stmt, " ")
		var b strings.Builder
		for i, w := range words {
			if i > 0 {
				sep := " "
				if len(sepChoice) > 0 {
					sep = seps[int(sepChoice[i%len(sepChoice)])%len(seps)]
				}
				b.WriteString(sep)
			}
			if upper && !strings.Contains(w, marker) && !strings.Contains(w, planted) {
				w = strings.ToUpper(w)
			}
			b.WriteString(w)
		}
		stmt = b.String()
		// A leading statement of words and numbers only: it must not be able
		// to open a literal or comment that swallows the shape.
		pre = strings.Map(func(r rune) rune {
			if r == ' ' || r == '=' || r == ',' || (r >= '0' && r <= '9') || (r|0x20 >= 'a' && r|0x20 <= 'z') {
				return r
			}
			return -1
		}, pre)
		if pre != "" {
			stmt = pre + "; " + stmt
		}
		out := redact.String(c.wrap(stmt))
		if strings.Contains(out, planted) || strings.Contains(out, marker) {
			t.Fatalf("marker survives %s in %s\n in: %q\nout: %q", sh.Name, c.name, c.wrap(stmt), out)
		}
	})
}
