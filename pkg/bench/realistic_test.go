package bench

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/dbsec/dbsec/pkg/collector"
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
			if err := WriteRealistic(p, name, 20_000); err != nil {
				t.Fatal(err)
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
