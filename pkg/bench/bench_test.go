package bench

import (
	"bytes"
	"context"
	"os"
	"sort"
	"testing"

	"github.com/dbsec/dbsec/pkg/collector"
	"github.com/dbsec/dbsec/pkg/detect"
	"github.com/dbsec/dbsec/pkg/event"
	"github.com/dbsec/dbsec/pkg/input"
	"github.com/dbsec/dbsec/pkg/input/replay"
	"github.com/dbsec/dbsec/pkg/parse"
	"github.com/dbsec/dbsec/pkg/parse/formats"
	"github.com/dbsec/dbsec/pkg/pipeline"
)

// BenchmarkPipeline measures read + parse + classify + count over a
// generated corpus of at least 1 M lines per TiDB format. One op is one pass
// over the whole corpus; lines/s and MB/s are per core when run with -cpu 1.
func BenchmarkPipeline(b *testing.B) {
	names := make([]string, 0, len(Corpora))
	for n := range Corpora {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		b.Run(name, func(b *testing.B) {
			path, lines, err := Path(name)
			if err != nil {
				b.Fatal(err)
			}
			st, err := os.Stat(path)
			if err != nil {
				b.Fatal(err)
			}
			f, ok := formats.Lookup(name)
			if !ok {
				b.Fatalf("format %s not registered", name)
			}
			reg := collector.NewRegistry()
			src := reg.Configure([]collector.SourceSpec{{Name: name, System: f.System}})[0]
			b.SetBytes(st.Size())
			b.ReportAllocs()
			var events uint64
			b.ResetTimer()
			for b.Loop() {
				p := pipeline.New(pipeline.Config{Name: name, Format: f, Options: parse.Options{}, Metrics: src})
				if err := p.Run(context.Background(), replay.New(path)); err != nil {
					b.Fatal(err)
				}
				events = p.Events()
				if p.Errors() != 0 {
					b.Fatalf("%d parse errors in the generated corpus", p.Errors())
				}
			}
			b.ReportMetric(float64(lines)*float64(b.N)/b.Elapsed().Seconds(), "lines/s")
			b.ReportMetric(float64(events), "events/op")
		})
	}
}

// TestCorpusParses checks a small prefix of every generator against its
// parser, so a generator that drifts from its format fails in the normal
// test run, not only in the benchmark.
func TestCorpusParses(t *testing.T) {
	for name, gen := range Corpora {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			p := dir + "/c.log"
			fh, err := os.Create(p)
			if err != nil {
				t.Fatal(err)
			}
			w := bufioWriter(fh)
			gen(w, 2000, newRand())
			w.Flush()
			fh.Close()
			f, _ := formats.Lookup(name)
			reg := collector.NewRegistry()
			src := reg.Configure([]collector.SourceSpec{{Name: name, System: f.System}})[0]
			pl := pipeline.New(pipeline.Config{Name: name, Format: f, Metrics: src})
			if err := pl.Run(context.Background(), replay.New(p)); err != nil {
				t.Fatal(err)
			}
			if pl.Errors() != 0 || pl.Events() == 0 {
				t.Errorf("%s: %d events, %d parse errors", name, pl.Events(), pl.Errors())
			}
		})
	}
}

// BenchmarkParseClassifyCount is the target measurement: parse +
// classify + count for the legacy TiDB audit text on one core, over lines
// already in memory (no read), through the same pipeline code.
func BenchmarkParseClassifyCount(b *testing.B) {
	path, _, err := Path("tidb-audit-plugin")
	if err != nil {
		b.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	lines := bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n"))
	f, _ := formats.Lookup("tidb-audit-plugin")
	reg := collector.NewRegistry()
	src := reg.Configure([]collector.SourceSpec{{Name: "p", System: f.System}})[0]
	p := pipeline.New(pipeline.Config{Name: "p", Format: f, Metrics: src})
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		for i, l := range lines {
			p.HandleLine(input.Line{Text: l, File: path, Num: int64(i + 1)})
		}
	}
	b.ReportMetric(float64(len(lines))*float64(b.N)/b.Elapsed().Seconds(), "lines/s")
}

// BenchmarkPipelineDetect is BenchmarkPipeline for the plugin format with
// the exporter's default sinks: ids assigned and every event through the
// built-in detections (statement analysis cached by text).
func BenchmarkPipelineDetect(b *testing.B) {
	const name = "tidb-audit-plugin"
	path, lines, err := Path(name)
	if err != nil {
		b.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	f, _ := formats.Lookup(name)
	reg := collector.NewRegistry()
	src := reg.Configure([]collector.SourceSpec{{Name: name, System: f.System}})[0]
	ids := event.NewIDGen()
	d, err := detect.New(detect.DefaultRules(), detect.Options{IDGen: ids})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(st.Size())
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		p := pipeline.New(pipeline.Config{Name: name, Format: f, Metrics: src, Sinks: []pipeline.Sink{d}, IDGen: ids})
		if err := p.Run(context.Background(), replay.New(path)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(lines)*float64(b.N)/b.Elapsed().Seconds(), "lines/s")
}
