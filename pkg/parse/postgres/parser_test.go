package postgres

import (
	"bytes"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // the zone test must not depend on the host having zoneinfo

	"github.com/dbsec/dbsec/pkg/event"
	"github.com/dbsec/dbsec/pkg/parse"
	"github.com/dbsec/dbsec/pkg/parse/parsetest"
)

// realPrefix is the log_line_prefix of the server that wrote
// testdata/real-pg15.log (server_test.go).
const realPrefix = "%m [%p] %q%u@%d %h "

func withPrefix(prefix string) parse.Format {
	f := Format
	f.New = func(o parse.Options) parse.Parser {
		p, err := NewWithPrefix(prefix, o)
		if err != nil {
			panic(err)
		}
		return p
	}
	return f
}

func TestGolden(t *testing.T) {
	parsetest.Golden(t, Format, "debian")
	parsetest.Golden(t, withPrefix(realPrefix), "real-pg15")
}

func TestCompilePrefix(t *testing.T) {
	for _, bad := range []string{"%", "%m %", "%z", "%u%d", "%h%p", "%a%q", "%-5%"} {
		if _, err := CompilePrefix(bad); err == nil {
			t.Errorf("CompilePrefix(%q): no error", bad)
		}
	}
	for _, good := range []string{"", DefaultPrefix, realPrefix, "%t:%r:%u@%d:[%p]:", "%m [%p] %q[user=%u,db=%d,app=%a] ",
		"< %m >", "%n %c %l %s %v %x %e %Q %i %b %%", "%-10u %5p "} {
		if _, err := CompilePrefix(good); err != nil {
			t.Errorf("CompilePrefix(%q): %v", good, err)
		}
	}
}

func TestPrefixes(t *testing.T) {
	for _, tc := range []struct {
		prefix, line     string
		user, db, ip, id string
		port             uint16
		code             string
		cat              event.Category
	}{
		// Amazon RDS default; IPv6 client and a ':' in the values.
		{"%t:%r:%u@%d:[%p]:", `2024-06-01 10:00:00 UTC:::1(5432):app@shop:[77]:FATAL:  password authentication failed for user "app"`, "app", "shop", "::1", "77", 5432, "28P01", event.CategoryLogin},
		{"%t:%r:%u@%d:[%p]:", `2024-06-01 10:00:00 UTC:10.1.2.3(40000):app@shop:[77]:LOG:  connection authorized: user=app database=shop`, "app", "shop", "10.1.2.3", "77", 40000, "", event.CategoryLogin},
		// Spaces inside free-text escapes are resolved by backtracking.
		{"%m [%p] %q[user=%u,db=%d,app=%a] ", `2024-06-01 10:00:00.000 UTC [9] [user=a,db=b,app=my app] x] ERROR:  permission denied for table t`, "a", "b", "", "9", 0, "42501", event.CategoryAccessDenied},
		{"%m %e %i %b: ", `2024-06-01 10:00:00.000 UTC 42501 CREATE ROLE client backend: ERROR:  permission denied to create role`, "", "", "", "", 0, "42501", event.CategoryAccessDenied},
		{"%m %e ", `2024-06-01 10:00:00.000 UTC 42P01 ERROR:  permission denied`, "", "", "", "", 0, "42P01", event.CategoryError},
		{"%-8u|%5p|", `bob     |   42|LOG:  connection authorized: user=bob database=x`, "bob", "x", "", "42", 0, "", event.CategoryLogin},
		{"", `FATAL:  no pg_hba.conf entry for host "1.2.3.4", user "u", database "d", no encryption`, "u", "", "", "", 0, "28000", event.CategoryLogin},
		{"%n [%p] ", `1717236000.250 [5] LOG:  disconnection: session time: 1:02:03.500 user=u database=d host=1.2.3.4 port=99`, "u", "d", "1.2.3.4", "5", 99, "", event.CategoryLogout},
	} {
		p, err := NewWithPrefix(tc.prefix, parsetest.Options())
		if err != nil {
			t.Fatal(err)
		}
		var ev event.Event
		ok, err := p.Parse([]byte(tc.line), &ev)
		if !ok || err != nil {
			t.Errorf("%q: ok=%v err=%v", tc.line, ok, err)
			continue
		}
		if ev.User != tc.user || ev.Database != tc.db || ev.ClientIP != tc.ip || ev.ConnectionID != tc.id || ev.ClientPort != tc.port || ev.StatusCode != tc.code || ev.Category != tc.cat {
			t.Errorf("%q:\n got user=%q db=%q ip=%q id=%q port=%d code=%q cat=%v", tc.line, ev.User, ev.Database, ev.ClientIP, ev.ConnectionID, ev.ClientPort, ev.StatusCode, ev.Category)
		}
	}
}

func TestParseTime(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err) // time/tzdata is embedded below, so this cannot depend on the host
	}
	for _, tc := range []struct {
		in   string
		loc  *time.Location
		want string
	}{
		{"2024-06-01 10:00:00.123 UTC", nil, "2024-06-01T10:00:00.123Z"},
		{"2024-06-01 10:00:00 +01", nil, "2024-06-01T09:00:00Z"},
		{"2024-06-01 10:00:00 -0330", nil, "2024-06-01T13:30:00Z"},
		{"2024-06-01 10:00:00 CEST", berlin, "2024-06-01T08:00:00Z"},
		{"2024-01-01 10:00:00 CET", berlin, "2024-01-01T09:00:00Z"},
		// The repeated hour at the end of DST: the abbreviation decides.
		{"2024-10-27 02:30:00 CEST", berlin, "2024-10-27T00:30:00Z"},
		{"2024-10-27 02:30:00 CET", berlin, "2024-10-27T01:30:00Z"},
		// Location does not use the abbreviation: builtin table.
		{"2024-01-01 10:00:00 CET", time.UTC, "2024-01-01T09:00:00Z"},
		{"2024-01-01 10:00:00 EST", time.UTC, "2024-01-01T15:00:00Z"},
	} {
		got, ok := ParseTime([]byte(tc.in), tc.loc)
		if !ok || got.Format(time.RFC3339Nano) != tc.want {
			t.Errorf("ParseTime(%q) = %v, %v; want %s", tc.in, got, ok, tc.want)
		}
	}
	for _, bad := range []string{"", "2024-06-01 10:00:00", "2024-06-01T10:00:00 UTC", "2024-06-01 10:00:00 +1x"} {
		if _, ok := ParseTime([]byte(bad), nil); ok {
			t.Errorf("ParseTime(%q): ok", bad)
		}
	}
}

func TestAssembler(t *testing.T) {
	in := "a LOG:  one\n\tcont\nb DETAIL:  d\n\tmore\nc STATEMENT:  s\n\n\nd LOG:  two\ne LOG:  three"
	a := NewAssembler()
	var got []string
	for i, l := range strings.Split(in, "\n") {
		if rec, _, ok := a.Add([]byte(l), parse.Pos{Line: int64(i + 1)}); ok {
			got = append(got, string(rec))
		}
	}
	if rec, _, ok := a.Flush(); ok {
		got = append(got, string(rec))
	}
	want := []string{"a LOG:  one\n\tcont\nb DETAIL:  d\n\tmore\nc STATEMENT:  s", "d LOG:  two", "e LOG:  three"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("got %q", got)
	}
	big := bytes.Repeat([]byte("x"), 64<<10)
	a.Add([]byte("x LOG:  start"), parse.Pos{Line: 1})
	for range 40 {
		a.Add(append([]byte("\t"), big...), parse.Pos{})
	}
	rec, _, _ := a.Flush()
	if len(rec) != MaxRecord+1 {
		t.Fatalf("len %d", len(rec))
	}
	p, _ := NewWithPrefix("x ", parse.Options{})
	var ev event.Event
	if _, err := p.Parse(rec, &ev); parse.ReasonOf(err) != parse.ReasonTooLong {
		t.Fatalf("err %v", err)
	}
}

var (
	lineAudit  = []byte(`2026-12-02 10:26:27.170 UTC [21363] postgres@postgres 127.0.0.1 LOG:  AUDIT: SESSION,5,1,WRITE,INSERT,,,"INSERT INTO secrets VALUES (1, 'a,""b""');",<not logged>`)
	lineAuth   = []byte(`2026-12-02 10:26:27.114 UTC [21363] postgres@postgres 127.0.0.1 LOG:  connection authorized: user=postgres database=postgres application_name=psql`)
	lineNoise  = []byte(`2026-12-02 10:26:27.102 UTC [21363] [unknown]@[unknown] 127.0.0.1 LOG:  connection received: host=127.0.0.1 port=43972`)
	lineFailed = []byte("2026-12-02 10:26:27.049 UTC [21361] nosuch@nosuch 127.0.0.1 FATAL:  password authentication failed for user \"nosuch\"\n2026-12-02 10:26:27.049 UTC [21361] nosuch@nosuch 127.0.0.1 DETAIL:  Role \"nosuch\" does not exist.\n\tConnection matched pg_hba.conf line 91: \"host    all             all             127.0.0.1/32            scram-sha-256\"")
	lineDenied = []byte("2026-12-02 10:26:27.336 UTC [21365] bob@postgres 127.0.0.1 ERROR:  permission denied for table secrets\n2026-12-02 10:26:27.336 UTC [21365] bob@postgres 127.0.0.1 STATEMENT:  SELECT *\n\tFROM secrets")
)

func TestNoAllocs(t *testing.T) {
	if parsetest.Race {
		t.Skip("the race detector makes sync.Pool (used by redaction) drop its items; mage test runs this test without it")
	}
	p, _ := NewWithPrefix(realPrefix, parsetest.Options())
	var ev event.Event
	for name, line := range map[string][]byte{"audit": lineAudit, "auth": lineAuth, "noise": lineNoise, "failed": lineFailed, "denied": lineDenied} {
		allocs := testing.AllocsPerRun(200, func() {
			ev.Reset()
			if _, err := p.Parse(line, &ev); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("%s: %v allocs/op, want 0", name, allocs)
		}
	}
}

func FuzzParse(f *testing.F) {
	parsetest.Seed(f, "testdata/debian.log", "testdata/real-pg15.log")
	real := withPrefix(realPrefix)
	f.Fuzz(func(t *testing.T, data []byte) {
		parsetest.Check(t, Format, data)
		parsetest.Check(t, real, data)
	})
}

func BenchmarkParse(b *testing.B) {
	for _, bc := range []struct {
		name string
		line []byte
	}{{"audit", lineAudit}, {"auth", lineAuth}, {"noise", lineNoise}, {"failed-2lines", lineFailed}, {"denied-2lines", lineDenied}} {
		b.Run(bc.name, func(b *testing.B) {
			p, _ := NewWithPrefix(realPrefix, parse.Options{})
			var ev event.Event
			b.ReportAllocs()
			b.SetBytes(int64(len(bc.line)))
			for b.Loop() {
				ev.Reset()
				_, _ = p.Parse(bc.line, &ev)
			}
		})
	}
	// The whole real log through the assembler, per line.
	b.Run("real-log", func(b *testing.B) {
		data, err := readTestdata("testdata/real-pg15.log")
		if err != nil {
			b.Fatal(err)
		}
		lines := bytes.Split(data, []byte("\n"))
		p, _ := NewWithPrefix(realPrefix, parse.Options{})
		a := NewAssembler()
		var ev event.Event
		b.ReportAllocs()
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			for _, l := range lines {
				if rec, _, ok := a.Add(l, parse.Pos{}); ok {
					ev.Reset()
					_, _ = p.Parse(rec, &ev)
				}
			}
		}
		b.ReportMetric(float64(len(lines))*float64(b.N)/b.Elapsed().Seconds(), "lines/s")
	})
}
