package pipeline_test

import (
	"fmt"
	"regexp"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/dbsec/dbsec/pkg/collector"
	"github.com/dbsec/dbsec/pkg/detect"
	"github.com/dbsec/dbsec/pkg/event"
	"github.com/dbsec/dbsec/pkg/input"
	"github.com/dbsec/dbsec/pkg/parse/formats"
	"github.com/dbsec/dbsec/pkg/pipeline"
)

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkPipelineWorkers runs TiDB audit-plugin lines through parse,
// count, id and the real detector, with 1 worker (everything in
// HandleLine) and with more, flushing every 1000 lines as the file
// follower does after a read. In "literals" every statement carries its
// own literals (genAudit: the analysis cache misses); in "fixed" the
// digits of the statements are all 7, so the analysis is cached and what
// remains is the rest of the path. It reports lines per wall second and
// per CPU-second of the process.
func BenchmarkPipelineWorkers(b *testing.B) {
	tidb, _ := formats.Lookup("tidb-audit-plugin")
	src := genAudit(50000, 3)
	sqlText := regexp.MustCompile(`SQL_TEXT="[^"]*"`)
	digits := regexp.MustCompile(`[0-9]+`)
	corpora := map[string][][]byte{}
	for _, l := range src {
		corpora["literals"] = append(corpora["literals"], []byte(l))
		fixed := sqlText.ReplaceAllStringFunc(l, func(s string) string { return digits.ReplaceAllString(s, "7") })
		corpora["fixed"] = append(corpora["fixed"], []byte(fixed))
	}
	ws := []int{1, 2}
	if n := runtime.GOMAXPROCS(0); n > 2 {
		ws = append(ws, n)
	}
	for _, corpus := range []string{"literals", "fixed"} {
		lines := corpora[corpus]
		for _, w := range ws {
			b.Run(fmt.Sprintf("%s/workers=%d", corpus, w), func(b *testing.B) {
				reg := collector.NewRegistry()
				m := reg.Configure([]collector.SourceSpec{{Name: "a", System: event.SystemTiDB}})[0]
				ids := event.NewIDGen()
				d, err := detect.New(detect.DefaultRules(), detect.Options{Sources: []string{"a"}, IDGen: ids})
				if err != nil {
					b.Fatal(err)
				}
				s := pipeline.New(pipeline.Config{Name: "a", Format: tidb, Metrics: m, Stage: d, IDGen: ids, Workers: w})
				b.ReportAllocs()
				i := 0
				cpu0, t0 := cpuTime(), time.Now()
				for b.Loop() {
					s.HandleLine(input.Line{Text: lines[i%len(lines)], File: "a.log", Num: int64(i + 1)})
					i++
					if i%1000 == 0 {
						s.Flush()
					}
				}
				s.Flush()
				cpu, wall := cpuTime()-cpu0, time.Since(t0)
				s.Close()
				b.ReportMetric(float64(i)/wall.Seconds(), "lines/s")
				if cpu > 0 {
					b.ReportMetric(float64(i)/cpu.Seconds(), "lines/cpu-s")
				}
			})
		}
	}
}
