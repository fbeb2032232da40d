package redashapp

import (
	"testing"

	"github.com/dbsec/dbsec/pkg/event"
	"github.com/dbsec/dbsec/pkg/parse/parsetest"
)

func TestGolden(t *testing.T) {
	parsetest.Golden(t, Format, "app")
	parsetest.Golden(t, Format, "layouts")
}

func FuzzParse(f *testing.F) {
	parsetest.Seed(f, "testdata/app.log", "testdata/layouts.log")
	f.Fuzz(func(t *testing.T, data []byte) {
		parsetest.Check(t, Format, data)
	})
}

var lineInfo = []byte(`[2016-04-01 12:36:25,993][PID:15994][INFO][metrics] method=GET path=/ endpoint=index status=302 content_type=text/html; charset=utf-8 content_length=313 duration=2.83 query_count=0 query_duration=0.00`)

func BenchmarkParse(b *testing.B) {
	p := New(parsetest.Options())
	var ev event.Event
	b.ReportAllocs()
	b.SetBytes(int64(len(lineInfo)))
	for b.Loop() {
		ev.Reset()
		_, _ = p.Parse(lineInfo, &ev)
	}
}

// TestNoAllocs: the common records (INFO lines in every layout, the
// worker's execution line) parse without allocating.
func TestNoAllocs(t *testing.T) {
	p := New(parsetest.Options())
	var ev event.Event
	for _, l := range [][]byte{
		lineInfo,
		[]byte(`[2017-07-13 18:31:12,002] INFO in app: loaded settings`),
		[]byte(`[2016-04-01 12:40:01,512: INFO/Worker-3] task=execute_query state=executing_query query_hash=8d2c type=pg ds_id=1  task_id=2b1e queue=queries query_id=42 username=alice@example.com`),
	} {
		ev.Reset()
		if _, err := p.Parse(l, &ev); err != nil {
			t.Fatal(err)
		}
		if n := testing.AllocsPerRun(100, func() { ev.Reset(); _, _ = p.Parse(l, &ev) }); n != 0 {
			t.Errorf("%d allocations for %s", int(n), l)
		}
	}
}
