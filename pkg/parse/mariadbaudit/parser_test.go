package mariadbaudit

import (
	"strconv"
	"testing"
	"time"

	"github.com/dbsec/dbsec/pkg/event"
	"github.com/dbsec/dbsec/pkg/parse"
	"github.com/dbsec/dbsec/pkg/parse/parsetest"
)

func TestGoldenReal(t *testing.T) { parsetest.Golden(t, Format, "real-10.11") }
func TestGoldenSamples(t *testing.T) {
	parsetest.Golden(t, Format, "samples")
}

func FuzzParse(f *testing.F) {
	parsetest.Seed(f, "testdata/real-10.11.log", "testdata/samples.log")
	f.Fuzz(func(t *testing.T, data []byte) {
		parsetest.Check(t, Format, data)
	})
}

// Lines of testdata/real-10.11.log.
var (
	lineQuery   = []byte(`20261202 10:31:20,vm,analyst,127.0.0.1,8,7,QUERY,shop,'SELECT id, item FROM shop.orders WHERE item LIKE \'%,%\'',0`)
	lineTable   = []byte(`20261202 10:31:20,vm,analyst,127.0.0.1,8,7,READ,shop,orders,`)
	lineDenied  = []byte(`20261202 10:31:20,vm,analyst,127.0.0.1,8,8,QUERY,shop,'DELETE FROM shop.orders',1142`)
	lineConnect = []byte(`20261202 10:31:20,vm,analyst,127.0.0.1,8,0,CONNECT,,,0`)
	lineMulti   = []byte(`20261202 10:31:20,vm,root,localhost,9,18,QUERY,shop,'SELECT id,\n       item\nFROM shop.orders\nWHERE id > 0',0`)
	lineSyslog  = []byte(`<190>Sep 14 17:46:51 centos mysql-server_auditing: columnstore-1 centos,root,localhost,11,117,QUERY,loans,'SELECT grade, AVG(loan_amnt) avg,FROM loanstats GROUP BY grade ORDER BY grade',0`)
)

func TestNoAllocs(t *testing.T) {
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		loc = time.FixedZone("CET", 3600)
	}
	p := New(parse.Options{Location: loc})
	var ev event.Event
	// Warm up the scratch buffers.
	for _, l := range [][]byte{lineTable, lineQuery, lineMulti} {
		ev.Reset()
		p.Parse(l, &ev)
	}
	for name, line := range map[string][]byte{"query": lineQuery, "table": lineTable, "denied": lineDenied, "connect": lineConnect, "multi": lineMulti, "syslog": lineSyslog} {
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
	// A table event then its query: Objects filled without allocating.
	allocs := testing.AllocsPerRun(200, func() {
		ev.Reset()
		p.Parse(lineTable, &ev)
		ev.Reset()
		if ok, err := p.Parse(lineQuery, &ev); !ok || err != nil || len(ev.Objects) != 1 {
			t.Fatalf("ok=%v err=%v objects=%v", ok, err, ev.Objects)
		}
	})
	if allocs != 0 {
		t.Errorf("table+query: %v allocs/op, want 0", allocs)
	}
}

func TestStatementDecoding(t *testing.T) {
	p := New(parse.Options{})
	var ev event.Event
	ok, err := p.Parse(lineMulti, &ev)
	if !ok || err != nil {
		t.Fatal(ok, err)
	}
	if want := "SELECT id,\n       item\nFROM shop.orders\nWHERE id > 0"; ev.Statement != want {
		t.Errorf("statement %q, want %q", ev.Statement, want)
	}
	ev.Reset()
	if ok, err = p.Parse(lineQuery, &ev); !ok || err != nil {
		t.Fatal(ok, err)
	}
	if want := "SELECT id, item FROM shop.orders WHERE item LIKE '%,%'"; ev.Statement != want || ev.StatusCode != "0" {
		t.Errorf("statement %q status %q", ev.Statement, ev.StatusCode)
	}
}

func TestFailedLoginCountedOnce(t *testing.T) {
	p := New(parse.Options{})
	var ev event.Event
	var failed, logouts int
	// Many interleaved attempts: FAILED_CONNECT of all, then the
	// DISCONNECTs, then a normal session on a reused id.
	const n = 3000
	line := func(id int, op, code string) []byte {
		return []byte("20261202 10:31:20,vm,analyst,127.0.0.1," + strconv.Itoa(id) + ",0," + op + ",,," + code)
	}
	for id := range n {
		ev.Reset()
		if ok, _ := p.Parse(line(id, "FAILED_CONNECT", "1045"), &ev); ok && ev.Outcome == event.OutcomeFailure {
			failed++
		}
	}
	for id := range n {
		ev.Reset()
		if ok, _ := p.Parse(line(id, "DISCONNECT", "0"), &ev); ok {
			logouts++
		}
	}
	for _, rec := range [][]byte{line(5, "CONNECT", "0"), line(5, "DISCONNECT", "0")} {
		ev.Reset()
		if ok, _ := p.Parse(rec, &ev); ok && ev.Category == event.CategoryLogout {
			logouts++
		}
	}
	if failed != n || logouts != 1 {
		t.Errorf("failed=%d logouts=%d, want %d and 1", failed, logouts, n)
	}
}

func TestTableEventsCountOnce(t *testing.T) {
	recs := parsetest.Run(Format, parsetest.Options(), []byte(
		"20261202 10:31:20,vm,root,localhost,9,16,WRITE,mysql,db,\n"+
			"20261202 10:31:20,vm,root,localhost,9,16,WRITE,mysql,global_priv,\n"+
			"20261202 10:31:20,vm,root,localhost,9,16,WRITE,mysql,db,\n"+
			"20261202 10:31:20,vm,root,localhost,9,16,QUERY,shop,'GRANT SELECT ON shop.* TO \\'a\\'@\\'%\\'',0\n"+
			"20261202 10:31:20,vm,root,localhost,9,17,QUERY,shop,'SELECT 1',0\n"))
	if len(recs) != 2 {
		t.Fatalf("got %d records, want 2: %+v", len(recs), recs)
	}
	g := recs[0].Event
	if g.Action != event.ActionGrant || len(g.Objects) != 2 || g.Objects[0] != "mysql.db" || g.Objects[1] != "mysql.global_priv" {
		t.Errorf("grant: %v %v", g.Action, g.Objects)
	}
	if s := recs[1].Event; len(s.Objects) != 0 {
		t.Errorf("select got objects %v", s.Objects)
	}
}

func BenchmarkParse(b *testing.B) {
	for _, bc := range []struct {
		name string
		line []byte
	}{{"query", lineQuery}, {"table", lineTable}, {"connect", lineConnect}, {"denied", lineDenied}, {"multiline", lineMulti}, {"syslog", lineSyslog}} {
		b.Run(bc.name, func(b *testing.B) {
			p := New(parse.Options{Location: time.UTC})
			var ev event.Event
			b.ReportAllocs()
			b.SetBytes(int64(len(bc.line)))
			for b.Loop() {
				ev.Reset()
				_, _ = p.Parse(bc.line, &ev)
			}
		})
	}
}
