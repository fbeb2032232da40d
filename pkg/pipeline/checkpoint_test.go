package pipeline_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dbsec/dbsec/pkg/collector"
	"github.com/dbsec/dbsec/pkg/detect"
	"github.com/dbsec/dbsec/pkg/event"
	"github.com/dbsec/dbsec/pkg/parse/formats"
	"github.com/dbsec/dbsec/pkg/pipeline"
	"github.com/dbsec/dbsec/pkg/tail"
)

// slowSink counts the events it got, slowly.
type slowSink struct{ n atomic.Int64 }

func (k *slowSink) Consume(*event.Event) {
	if k.n.Add(1)%20 == 0 {
		time.Sleep(time.Millisecond)
	}
}

// TestCheckpointBehindSinksWithWorkers follows a file with workers and a
// slow sink while a checkpoint is written every few milliseconds: no
// checkpoint (durable or fast) may cover a line whose event the sink has
// not had, and the last one covers every line.
func TestCheckpointBehindSinksWithWorkers(t *testing.T) {
	dir := t.TempDir()
	var lines []string
	for _, l := range genAudit(3000, 5) {
		if !strings.HasPrefix(l, "garbage") {
			lines = append(lines, l)
		}
	}
	logFile := filepath.Join(dir, "audit.log")
	f, err := os.Create(logFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// The writer appends 50 lines every 5 ms, so that the follower reads
	// in many small bursts with checkpoints in between.
	go func() {
		for i := 0; i < len(lines); i += 50 {
			if _, err := f.WriteString(strings.Join(lines[i:min(i+50, len(lines))], "\n") + "\n"); err != nil {
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	cp := filepath.Join(dir, "cp.json")
	in, err := tail.New(tail.Config{Paths: []string{logFile}, StartAt: "beginning", CheckpointPath: cp,
		CheckpointInterval: 5 * time.Millisecond, PollInterval: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	tidb, _ := formats.Lookup("tidb-audit-plugin")
	reg := collector.NewRegistry()
	m := reg.Configure([]collector.SourceSpec{{Name: "a", System: event.SystemTiDB}})[0]
	ids := event.NewIDGen()
	d, err := detect.New(detect.DefaultRules(), detect.Options{Sources: []string{"a"}, IDGen: ids})
	if err != nil {
		t.Fatal(err)
	}
	k := &slowSink{}
	p := pipeline.New(pipeline.Config{Name: "a", Format: tidb, Metrics: m, Stage: d, Sinks: []pipeline.Sink{k}, IDGen: ids, Workers: 3})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx, in) }()

	// readNum returns the line number a checkpoint file covers (-1: none).
	readNum := func(path string) int64 {
		b, err := os.ReadFile(path)
		if err != nil {
			return -1
		}
		var c struct{ Files []struct{ Num int64 } }
		if json.Unmarshal(b, &c) != nil || len(c.Files) == 0 {
			return -1
		}
		return c.Files[0].Num
	}
	total := int64(len(lines))
	checks := 0
	for deadline := time.Now().Add(60 * time.Second); k.n.Load() < total; {
		if time.Now().After(deadline) {
			t.Fatalf("the sink got %d of %d events in 60 s", k.n.Load(), total)
		}
		for _, path := range []string{cp, cp + ".fast"} {
			// The checkpoint first, then the count (which only grows).
			if num := readNum(path); num >= 0 {
				checks++
				if got := k.n.Load(); num > got {
					t.Fatalf("%s covers line %d, the sink has had %d events", filepath.Base(path), num, got)
				}
			}
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := readNum(cp); got != total {
		t.Errorf("final checkpoint at line %d, want %d", got, total)
	}
	t.Logf("%d checkpoint reads while %d events went through", checks, total)
}
