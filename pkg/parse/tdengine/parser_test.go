package tdengine

import (
	"strings"
	"testing"
	"time"

	"github.com/dbsec/dbsec/pkg/event"
	"github.com/dbsec/dbsec/pkg/parse"
	"github.com/dbsec/dbsec/pkg/parse/parsetest"
)

func TestGolden(t *testing.T) {
	recs := parsetest.Golden(t, Format, "taosd")
	for _, r := range recs {
		if r.Event != nil && strings.Contains(r.Event.Raw, "4be30d98") {
			t.Errorf("line %d: password digest not masked", r.Line)
		}
	}
}

func TestYearRollover(t *testing.T) {
	loc := time.FixedZone("CST", 8*3600)
	o := parse.Options{Location: loc, Now: func() time.Time { return time.Date(2025, 1, 1, 0, 30, 0, 0, loc) }}.Defaults()
	p := New(o)
	var ev event.Event
	for line, want := range map[string]time.Time{
		// December line read just after New Year: last year.
		"12/31 23:59:58.000001 00000083 C MND ERROR user:root, failed to login from 1.2.3.4 since Authentication failure": time.Date(2024, 12, 31, 15, 59, 58, 1000, time.UTC),
		// Later today, within a day: this year.
		"01/01 20:00:00.000000 00000083 C MND ERROR user:root, failed to login from 1.2.3.4 since Authentication failure": time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC),
		// Feb 29 with no leap year now: the last leap year.
		"02/29 10:00:00.000000 00000083 C MND ERROR user:root, failed to login from 1.2.3.4 since Authentication failure": time.Date(2024, 2, 29, 2, 0, 0, 0, time.UTC),
	} {
		ev.Reset()
		ok, err := p.Parse([]byte(line), &ev)
		if !ok || err != nil {
			t.Fatalf("%s: %v %v", line, ok, err)
		}
		if !ev.Time.Equal(want) {
			t.Errorf("%s: time %v, want %v", line[:21], ev.Time, want)
		}
	}
}

func TestLoginPairCountedOnce(t *testing.T) {
	p := New(parsetest.Options())
	var ev event.Event
	n := 0
	for i := range 100 {
		th := "000000" + string(rune('0'+i%10)) + "1"
		for _, l := range []string{
			"01/23 10:15:40.118004 " + th + " C MND ERROR user:root, failed to login from 172.17.0.1 since Authentication failure, line:1042, db:",
			"01/23 10:15:40.118051 " + th + " C MND ERROR msg:0x7fd31c01e8a0, failed to process since Authentication failure, app:(nil) type:connect",
		} {
			ev.Reset()
			ok, err := p.Parse([]byte(l), &ev)
			if err != nil {
				t.Fatal(err)
			}
			if ok {
				n++
			}
		}
	}
	if n != 100 {
		t.Fatalf("%d events for 100 attempts", n)
	}
}

func FuzzParse(f *testing.F) {
	parsetest.Seed(f, "testdata/taosd.log")
	f.Fuzz(func(t *testing.T, data []byte) {
		parsetest.Check(t, Format, data)
	})
}

var (
	lineIgnored = []byte(`08/07 11:52:45.205347 00000078 C MND vgId:1, mnode apply info changed from index:2189308804 term:36 config:-1 to index:2189308805 term:36 config:-1`)
	lineInfo    = []byte(`05/01 15:55:45.079052 00000109 C DND INFO  set local info, dnodeId:1 clusterId:1517998250841433015`)
	lineLogin   = []byte(`01/23 10:15:40.118004 00000083 C MND ERROR user:root, failed to login from 172.17.0.1 since Authentication failure, line:1042, db:, QID:0x9a1f0c2b33e40001:0x9a1f0c2b33e40003`)
	lineDDL     = []byte(`07/02 09:21:02.551020 00000062 C MND INFO  db:1.power, start to create, vgroups:2`)
)

func TestNoAllocs(t *testing.T) {
	p := New(parsetest.Options())
	var ev event.Event
	for name, line := range map[string][]byte{"ignored": lineIgnored, "info": lineInfo, "login": lineLogin, "ddl": lineDDL} {
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

func BenchmarkParse(b *testing.B) {
	for _, bc := range []struct {
		name string
		line []byte
	}{{"ignored", lineIgnored}, {"info", lineInfo}, {"login", lineLogin}, {"ddl", lineDDL}} {
		b.Run(bc.name, func(b *testing.B) {
			p := New(parse.Options{Location: time.Local})
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
