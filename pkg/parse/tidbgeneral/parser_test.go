package tidbgeneral

import (
	"testing"

	"github.com/dbsec/dbsec/pkg/event"
	"github.com/dbsec/dbsec/pkg/parse/parsetest"
)

func TestGolden(t *testing.T) { parsetest.Golden(t, Format, "general") }

func FuzzParse(f *testing.F) {
	parsetest.Seed(f, "testdata/general.log", "testdata/general-json.log")
	f.Fuzz(func(t *testing.T, data []byte) {
		parsetest.Check(t, Format, data)
	})
}

var line = []byte(`[2023/06/29 11:27:50.069 +09:00] [INFO] [session.go:3878] [GENERAL_LOG] [conn=7398943596793037429] [user=u2@192.168.195.128] [schemaVersion=53] [txnStartTS=0] [forUpdateTS=0] [isReadConsistency=false] [currentDB=shop] [isPessimistic=false] [sessionTxnMode=PESSIMISTIC] [sql="select * from customers where email = \"a@b.c\""]`)

func TestNoAllocs(t *testing.T) {
	p := New()
	var ev event.Event
	if ok, err := p.Parse(line, &ev); !ok || err != nil {
		t.Fatal(ok, err)
	}
	if a := testing.AllocsPerRun(200, func() { ev.Reset(); _, _ = p.Parse(line, &ev) }); a != 0 {
		t.Errorf("%v allocs/op, want 0", a)
	}
}

func BenchmarkParse(b *testing.B) {
	p := New()
	var ev event.Event
	b.ReportAllocs()
	b.SetBytes(int64(len(line)))
	for b.Loop() {
		ev.Reset()
		_, _ = p.Parse(line, &ev)
	}
}

// TestJSONLayout: log.format = "json" lines (the records of general.log in the
// JSON layout pingcap/log writes) give the same events as the text layout.
func TestJSONLayout(t *testing.T) {
	parsetest.Golden(t, Format, "general-json")
	parsetest.SameEvents(t, Format, "testdata/general.log", "testdata/general-json.log")
}
