package redashapp

import (
	"testing"

	"github.com/dbsec/dbsec/pkg/event"
	"github.com/dbsec/dbsec/pkg/parse/parsetest"
)

func TestGolden(t *testing.T) {
	parsetest.Golden(t, Format, "app")
}

func FuzzParse(f *testing.F) {
	parsetest.Seed(f, "testdata/app.log")
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
