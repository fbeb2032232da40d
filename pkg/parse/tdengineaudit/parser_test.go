package tdengineaudit

import (
	"strings"
	"testing"
	"time"

	"github.com/dbsec/dbsec/pkg/event"
	"github.com/dbsec/dbsec/pkg/parse"
	"github.com/dbsec/dbsec/pkg/parse/parsetest"
)

func TestGolden(t *testing.T) {
	recs := parsetest.Golden(t, Format, "audit")
	for _, r := range recs {
		if r.Event != nil && (strings.Contains(r.Event.Raw, "Secret#123") || strings.Contains(r.Event.Statement, "Secret#123") ||
			strings.Contains(r.Event.Raw, "N3w#secret") || strings.Contains(r.Event.Statement, "N3w#secret")) {
			t.Errorf("line %d: password not masked", r.Line)
		}
	}
}

func TestLongDetails(t *testing.T) {
	// keeper's case "2": 50,000 bytes of details are accepted whole.
	long := strings.Repeat("0123456789", 5000)
	rec := `{"timestamp": "1699839716441000000", "cluster_id": "cluster_id", "user": "user", "operation": "operation", "db":"dbnamea", "resource":"resourcenamea", "client_add": "localhost:30000", "details": "` + long + `"}`
	var ev event.Event
	ok, err := New(parse.Options{}).Parse([]byte(rec), &ev)
	if !ok || err != nil {
		t.Fatalf("Parse: %v %v", ok, err)
	}
	if ev.Statement != long {
		t.Errorf("statement of %d bytes, want %d", len(ev.Statement), len(long))
	}
	if want := time.Unix(0, 1699839716441000000).UTC(); !ev.Time.Equal(want) {
		t.Errorf("time %v, want %v", ev.Time, want)
	}
	ok, err = New(parse.Options{}).Parse([]byte(strings.Repeat(" ", MaxRecord+1)), &ev)
	if ok || parse.ReasonOf(err) != parse.ReasonTooLong {
		t.Errorf("too long: %v %v", ok, err)
	}
}

func TestHostPort(t *testing.T) {
	for in, want := range map[string]struct {
		ip   string
		port uint16
	}{
		"173.50.0.7:45166":                        {"173.50.0.7", 45166},
		"localhost:30000":                         {"localhost", 30000},
		"2002:09ba:0b4e:0006:be24:11ff:fe9c:03dd": {"2002:09ba:0b4e:0006:be24:11ff:fe9c:03dd", 0},
		"fe80::1:6030":                            {"fe80::1:6030", 0}, // ambiguous: a valid address
		"2002:9ba:b4e:6:be24:11ff:fe9c:3dd:6030":  {"2002:9ba:b4e:6:be24:11ff:fe9c:3dd", 6030},
		"[::1]:51240":                             {"::1", 51240},
		"[::1]":                                   {"::1", 0},
		"10.0.0.1":                                {"10.0.0.1", 0},
		"10.0.0.1:99999":                          {"10.0.0.1:99999", 0},
		"":                                        {"", 0},
	} {
		ip, port := hostPort([]byte(in))
		if ip != want.ip || port != want.port {
			t.Errorf("hostPort(%q) = %q, %d; want %q, %d", in, ip, port, want.ip, want.port)
		}
	}
}

func TestActions(t *testing.T) {
	for op, want := range map[string]event.Category{
		"login": event.CategoryLogin, "createUser": event.CategoryPrivilegeChange,
		"grantPrivileges": event.CategoryPrivilegeChange, "createDB": event.CategoryDDL,
		"dropTable": event.CategoryDDL, "createTopic": event.CategoryDDL,
		"balanceVgroup": event.CategoryAdmin, "createToken": event.CategoryAdmin,
		"killTrim": event.CategoryAdmin, "delete": event.CategoryDMLWrite, "operation": event.CategoryOther,
	} {
		if got := Action([]byte(op)).Category(); got != want {
			t.Errorf("%s: category %v, want %v", op, got, want)
		}
	}
}

func FuzzParse(f *testing.F) {
	parsetest.Seed(f, "testdata/audit.log")
	f.Fuzz(func(t *testing.T, data []byte) {
		parsetest.Check(t, Format, data)
		// ParseBody must not panic either, and its errors are typed.
		_ = ParseBody(data, func(ev *event.Event) { _ = ev.Category.String() })
	})
}

var (
	recV2    = []byte(`{"timestamp":"1702548856940013848","cluster_id":"8468922059162439502","user":"root","operation":"createTable","client_add":"173.50.0.7:45166","db":"test","resource":"","details":"d630302"}`)
	recOld   = []byte(`{"timestamp":1699839716445, "cluster_id": "cluster_id", "user": "user", "operation": "operation", "db":"dbnamea", "resource":"resourcenamea", "client_add": "2002:09ba:0b4e:0006:be24:11ff:fe9c:03dd", "details": "details"}`)
	recLogin = []byte(`{"timestamp":"1737627340118004000","cluster_id":"8468922059162439502","user":"root","operation":"login","client_add":"172.17.0.1:51234","db":"","resource":"","details":"app:taos"}`)
	recEsc   = []byte(`{"timestamp":"1737627353000000000","cluster_id":"1","user":"root","operation":"createView","client_add":"[::1]:1","db":"power","resource":"v1","details":"create view v1 as select * from m where l = \"SF\"","affected_rows":12,"duration":0.5}`)
)

func TestNoAllocs(t *testing.T) {
	p := New(parsetest.Options())
	var ev event.Event
	for name, rec := range map[string][]byte{"v2": recV2, "old": recOld, "login": recLogin, "escaped": recEsc} {
		allocs := testing.AllocsPerRun(200, func() {
			ev.Reset()
			if ok, err := p.Parse(rec, &ev); !ok || err != nil {
				t.Fatal(ok, err)
			}
		})
		if allocs != 0 {
			t.Errorf("%s: %v allocs/op, want 0", name, allocs)
		}
	}
}

func BenchmarkParse(b *testing.B) {
	for _, bc := range []struct {
		name string
		rec  []byte
	}{{"v2", recV2}, {"old", recOld}, {"login", recLogin}, {"escaped", recEsc}} {
		b.Run(bc.name, func(b *testing.B) {
			p := New(parse.Options{})
			var ev event.Event
			b.ReportAllocs()
			b.SetBytes(int64(len(bc.rec)))
			for b.Loop() {
				ev.Reset()
				_, _ = p.Parse(bc.rec, &ev)
			}
		})
	}
}
