package mariadberror

import (
	"testing"

	"github.com/dbsec/dbsec/pkg/event"
	"github.com/dbsec/dbsec/pkg/parse"
	"github.com/dbsec/dbsec/pkg/parse/parsetest"
)

func TestGoldenReal(t *testing.T)    { parsetest.Golden(t, Format, "real-10.11") }
func TestGoldenSamples(t *testing.T) { parsetest.Golden(t, Format, "samples") }

func FuzzParse(f *testing.F) {
	parsetest.Seed(f, "testdata/real-10.11.log", "testdata/samples.log")
	f.Fuzz(func(t *testing.T, data []byte) {
		parsetest.Check(t, Format, data)
	})
}

var (
	lineDenied = []byte(`2026-12-02 10:31:20 4 [Warning] Access denied for user 'analyst'@'127.0.0.1' (using password: YES)`)
	lineNote   = []byte(`2026-12-02 10:31:20 0 [Note] InnoDB: Setting file './ibtmp1' size to 12.000MiB. Physically writing the file full; Please wait ...`)
	lineMySQL  = []byte(`2024-01-15T10:00:00.123456Z 12 [Note] [MY-010926] [Server] Access denied for user 'app'@'10.0.0.5' (using password: YES)`)
)

func TestNoAllocs(t *testing.T) {
	p := New(parse.Options{})
	var ev event.Event
	for name, line := range map[string][]byte{"denied": lineDenied, "note": lineNote, "mysql": lineMySQL} {
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
	ev.Reset()
	if ok, _ := p.Parse(lineDenied, &ev); !ok || ev.User != "analyst" || ev.ClientIP != "127.0.0.1" || ev.Reason != "using password: YES" || ev.ConnectionID != "4" {
		t.Errorf("unexpected %+v", ev)
	}
}

func BenchmarkParse(b *testing.B) {
	for _, bc := range []struct {
		name string
		line []byte
	}{{"denied", lineDenied}, {"note", lineNote}} {
		b.Run(bc.name, func(b *testing.B) {
			p := New(parse.Options{})
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
