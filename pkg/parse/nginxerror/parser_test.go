package nginxerror

import (
	"strings"
	"testing"

	"github.com/dbsec/dbsec/pkg/event"
	"github.com/dbsec/dbsec/pkg/parse/parsetest"
)

func TestGolden(t *testing.T) {
	for _, name := range []string{"real", "samples"} {
		for _, r := range parsetest.Golden(t, Format, name) {
			if r.Event != nil && strings.Contains(r.Event.Raw+r.Event.Reason+strings.Join(r.Event.Objects, ""), "api_key=S") ||
				r.Event != nil && strings.Contains(r.Event.Raw+r.Event.Reason, "Zx9Kq2mN4pL7") {
				t.Errorf("%s:%d: api key not masked", name, r.Line)
			}
		}
	}
}

func FuzzParse(f *testing.F) {
	parsetest.Seed(f, "testdata/real.log", "testdata/samples.log")
	f.Fuzz(func(t *testing.T, data []byte) {
		parsetest.Check(t, Format, data)
	})
}

var (
	lineNotice   = []byte(`2026/12/06 07:27:29 [notice] 22229#22229: start worker process 22230`)
	lineLimit    = []byte(`2026/12/06 07:27:30 [error] 22230#22230: *4 limiting requests, excess: 1.000 by zone "login", client: 127.0.0.1, server: redash, request: "POST /login HTTP/1.1", host: "127.0.0.1:37747"`)
	lineUpstream = []byte(`2024/03/03 10:00:05 [error] 31#31: *1021 upstream timed out (110: Connection timed out) while reading response header from upstream, client: 203.0.113.7, server: _, request: "POST /api/queries/42/results HTTP/1.1", upstream: "http://172.18.0.5:5000/api/queries/42/results", host: "redash.example.com"`)
)

func TestNoAllocs(t *testing.T) {
	p := New(parsetest.Options())
	var ev event.Event
	for name, line := range map[string][]byte{"notice": lineNotice, "limit": lineLimit, "upstream": lineUpstream} {
		if n := testing.AllocsPerRun(200, func() {
			ev.Reset()
			if _, err := p.Parse(line, &ev); err != nil {
				t.Fatal(err)
			}
		}); n != 0 {
			t.Errorf("%s: %v allocs/op, want 0", name, n)
		}
	}
}

func BenchmarkParse(b *testing.B) {
	for name, line := range map[string][]byte{"notice": lineNotice, "limit": lineLimit, "upstream": lineUpstream} {
		b.Run(name, func(b *testing.B) {
			p := New(parsetest.Options())
			var ev event.Event
			b.ReportAllocs()
			b.SetBytes(int64(len(line)))
			for b.Loop() {
				ev.Reset()
				_, _ = p.Parse(line, &ev)
			}
		})
	}
}
