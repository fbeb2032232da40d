package gunicorn

import (
	"strings"
	"testing"

	"github.com/dbsec/dbsec/pkg/event"
	"github.com/dbsec/dbsec/pkg/parse/parsetest"
)

func TestGolden(t *testing.T) {
	for _, r := range parsetest.Golden(t, Format, "gunicorn") {
		if r.Event != nil && strings.Contains(r.Event.Raw, "Zx9Kq2mN4pL7") {
			t.Errorf("line %d: api key not masked", r.Line)
		}
	}
}

func FuzzParse(f *testing.F) {
	parsetest.Seed(f, "testdata/gunicorn.log")
	f.Fuzz(func(t *testing.T, data []byte) {
		parsetest.Check(t, Format, data)
	})
}

var lineLogin = []byte(`127.0.0.1 - - [01/Jun/2024:10:00:05 +0000] "POST /login HTTP/1.0" 200 5210 "http://redash.local/login" "Mozilla/5.0"`)

func TestNoAllocs(t *testing.T) {
	p := New()
	var ev event.Event
	if a := testing.AllocsPerRun(200, func() { ev.Reset(); _, _ = p.Parse(lineLogin, &ev) }); a != 0 {
		t.Errorf("%v allocs/op", a)
	}
}

func BenchmarkParse(b *testing.B) {
	p := New()
	var ev event.Event
	b.ReportAllocs()
	b.SetBytes(int64(len(lineLogin)))
	for b.Loop() {
		ev.Reset()
		_, _ = p.Parse(lineLogin, &ev)
	}
}
