package formats

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/dbsec/dbsec/pkg/event"
	"github.com/dbsec/dbsec/pkg/parse"
)

// BenchmarkCorpus is parsing alone (assembler and parser, no classification
// beyond the parser's, no counting) over a log file, per line:
//
//	DBSEC_PARSE_CORPUS=postgres=/tmp/pg.log,mariadb-audit=/tmp/m.log \
//	GOMAXPROCS=1 go test -run '^$' -bench Corpus -benchmem -cpu 1 ./pkg/parse/formats/
//
// It is skipped without DBSEC_PARSE_CORPUS. One op is one pass over the
// file; lines/s is per core with -cpu 1.
func BenchmarkCorpus(b *testing.B) {
	spec := os.Getenv("DBSEC_PARSE_CORPUS")
	if spec == "" {
		b.Skip("DBSEC_PARSE_CORPUS=format=path[,format=path…] not set")
	}
	for _, kv := range strings.Split(spec, ",") {
		name, path, ok := strings.Cut(kv, "=")
		if !ok {
			b.Fatalf("bad DBSEC_PARSE_CORPUS entry %q", kv)
		}
		b.Run(name, func(b *testing.B) {
			f, ok := Lookup(name)
			if !ok {
				b.Fatalf("unknown format %q", name)
			}
			data, err := os.ReadFile(path)
			if err != nil {
				b.Fatal(err)
			}
			lines := bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n"))
			p := f.New(parse.Options{}.Defaults())
			var asm parse.Assembler
			if f.NewAssembler != nil {
				asm = f.NewAssembler()
			}
			var ev event.Event
			var events, errs int
			handle := func(rec []byte) {
				ev.Reset()
				ok, err := p.Parse(rec, &ev)
				if err != nil {
					errs++
				} else if ok {
					events++
				}
			}
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				events, errs = 0, 0
				for i, l := range lines {
					if asm == nil {
						handle(l)
						continue
					}
					if rec, _, ok := asm.Add(l, parse.Pos{Line: int64(i + 1)}); ok {
						handle(rec)
					}
				}
				if asm != nil {
					if rec, _, ok := asm.Flush(); ok {
						handle(rec)
					}
				}
			}
			b.ReportMetric(float64(len(lines))*float64(b.N)/b.Elapsed().Seconds(), "lines/s")
			b.ReportMetric(float64(events), "events/op")
			b.ReportMetric(float64(errs), "errors/op")
		})
	}
}
