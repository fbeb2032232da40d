package bench

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/dbsec/dbsec/pkg/collector"
	"github.com/dbsec/dbsec/pkg/detect"
	"github.com/dbsec/dbsec/pkg/event"
	"github.com/dbsec/dbsec/pkg/input/replay"
	"github.com/dbsec/dbsec/pkg/parse/formats"
	"github.com/dbsec/dbsec/pkg/pipeline"
)

// TestRealisticParses: every issue-16 generator writes lines its parser
// reads without an error, and as many lines as asked.
func TestRealisticParses(t *testing.T) {
	for _, name := range RealisticFormats {
		t.Run(name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "c.log")
			if err := WriteRealistic(p, name, 5_000); err != nil {
				t.Fatal(err)
			}
			// A format verb without its argument writes "%!(" into the
			// line instead of failing.
			if data, err := os.ReadFile(p); err != nil {
				t.Fatal(err)
			} else if i := bytes.Index(data, []byte("%!")); i >= 0 {
				t.Fatalf("%s: the generator wrote a formatting error: %.80s", name, data[i:])
			}
			f, ok := formats.Lookup(name)
			if !ok {
				t.Fatalf("format %s not registered", name)
			}
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

// BenchmarkRealistic is the in-process form of TestPeersThroughput: the
// pipeline over each issue-16 corpus (1 M lines), detections off and on
// (ids and the default rules as the exporter's detection stage), with
// lines per CPU-second of the whole process (getrusage) beside lines/s, so
// that a parallel pipeline is charged for every core it uses. For
// profiles: go test -run '^$' -bench 'Realistic/tidb-audit-plugin/on' -benchtime 1x -cpuprofile cpu.pprof ./pkg/bench/
func BenchmarkRealistic(b *testing.B) {
	for _, name := range RealisticFormats {
		for _, on := range []bool{false, true} {
			mode := "off"
			if on {
				mode = "on"
			}
			b.Run(name+"/"+mode, func(b *testing.B) {
				path, err := RealisticPath(name, Lines)
				if err != nil {
					b.Fatal(err)
				}
				f, _ := formats.Lookup(name)
				reg := collector.NewRegistry()
				src := reg.Configure([]collector.SourceSpec{{Name: name, System: f.System}})[0]
				b.ReportAllocs()
				cpu0 := processCPU()
				b.ResetTimer()
				for b.Loop() {
					cfg := pipeline.Config{Name: name, Format: f, Metrics: src}
					if on {
						ids := event.NewIDGen()
						d, err := detect.New(detect.DefaultRules(), detect.Options{IDGen: ids})
						if err != nil {
							b.Fatal(err)
						}
						cfg.Stage, cfg.IDGen = d, ids // as the exporter wires it: traffic events reach it too
					}
					p := pipeline.New(cfg)
					if err := p.Run(context.Background(), replay.New(path)); err != nil {
						b.Fatal(err)
					}
					if p.Errors() != 0 {
						b.Fatalf("%d parse errors", p.Errors())
					}
				}
				cpu := processCPU() - cpu0
				b.ReportMetric(float64(Lines)*float64(b.N)/b.Elapsed().Seconds(), "lines/s")
				b.ReportMetric(float64(Lines)*float64(b.N)/cpu.Seconds(), "lines/CPU-s")
			})
		}
	}
}

// processCPU is the user + system time of this process so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
