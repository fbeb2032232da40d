package pipeline_test

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/dbsec/dbsec/pkg/collector"
	"github.com/dbsec/dbsec/pkg/detect"
	"github.com/dbsec/dbsec/pkg/event"
	"github.com/dbsec/dbsec/pkg/export"
	"github.com/dbsec/dbsec/pkg/input"
	"github.com/dbsec/dbsec/pkg/parse/tidbauditplugin"
	"github.com/dbsec/dbsec/pkg/pipeline"
	"github.com/dbsec/dbsec/pkg/store"
	"github.com/dbsec/dbsec/pkg/store/sqlite"
)

// A broad grant (D10) and a plain read, as the TiDB audit plugin logs them.
var stageLines = []string{
	`[2026/11/30 09:00:04.010 +08:00] [INFO] [logger.go:77] [ID=1] [TIMESTAMP=2026/11/30 09:00:04.010 +08:00] [EVENT_CLASS=GENERAL] [EVENT_SUBCLASS=] [STATUS_CODE=0] [COST_TIME=2900] [HOST=10.0.1.5] [CLIENT_IP=10.0.9.10] [USER=root] [DATABASES="[]"] [TABLES="[]"] [SQL_TEXT="GRANT ALL PRIVILEGES ON *.* TO 'u1'@'%'"] [ROWS=0] [CONNECTION_ID=1001] [CLIENT_PORT=51100] [PID=3141] [COMMAND=Query] [SQL_STATEMENTS=Grant]`,
	`[2026/11/30 09:00:05.010 +08:00] [INFO] [logger.go:77] [ID=2] [TIMESTAMP=2026/11/30 09:00:05.010 +08:00] [EVENT_CLASS=GENERAL] [EVENT_SUBCLASS=] [STATUS_CODE=0] [COST_TIME=900] [HOST=10.0.1.5] [CLIENT_IP=10.0.9.10] [USER=root] [DATABASES="[shop]"] [TABLES="[]"] [SQL_TEXT="select 1"] [ROWS=1] [CONNECTION_ID=1001] [CLIENT_PORT=51100] [PID=3141] [COMMAND=Query] [SQL_STATEMENTS=Select]`,
}

// TestDetectionsReachEverySinkInAnyOrder runs the real detector as the
// stage and the real store and export as sinks, in both orders: each time
// the stored detection and the exported one are whole (severity, message,
// rule id, evidence that resolves to a stored event).
func TestDetectionsReachEverySinkInAnyOrder(t *testing.T) {
	for _, order := range []string{"store,export", "export,store"} {
		t.Run(order, func(t *testing.T) {
			ctx := context.Background()
			dir := t.TempDir()
			st, err := sqlite.Open(sqlite.Options{Path: filepath.Join(dir, "s.db"), Policy: store.Policy{AllStatements: true}})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close(ctx)
			var out bytes.Buffer
			x, err := export.New(export.Options{W: &out})
			if err != nil {
				t.Fatal(err)
			}
			ids := event.NewIDGen()
			d, err := detect.New(detect.DefaultRules(), detect.Options{IDGen: ids})
			if err != nil {
				t.Fatal(err)
			}
			sinks := []pipeline.Sink{st, x}
			if order == "export,store" {
				slices.Reverse(sinks)
			}
			reg := collector.NewRegistry()
			m := reg.Configure([]collector.SourceSpec{{Name: "tidb", System: event.SystemTiDB}})[0]
			p := pipeline.New(pipeline.Config{Name: "tidb", Format: tidbauditplugin.Format, Metrics: m, Stage: d, Sinks: sinks, IDGen: ids})
			for i, l := range stageLines {
				p.HandleLine(input.Line{Text: []byte(l), File: "audit.log", Num: int64(i + 1)})
			}
			if err := st.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			if err := x.Close(); err != nil {
				t.Fatal(err)
			}
			page, err := st.Detections(ctx, store.DetectionQuery{})
			if err != nil {
				t.Fatal(err)
			}
			var got *store.Detection
			for i := range page.Detections {
				if page.Detections[i].Rule == "broad_privilege_grant" {
					got = &page.Detections[i]
				}
			}
			if got == nil {
				t.Fatalf("no broad_privilege_grant stored: %+v", page.Detections)
			}
			if got.RuleID != "D10" || got.Severity != "critical" || got.Message == "" || got.Source != "tidb" || len(got.Evidence) == 0 {
				t.Errorf("stored detection not whole: %+v", got)
			}
			for _, id := range got.Evidence {
				ev, err := st.Event(ctx, id)
				if err != nil || !strings.Contains(ev.Statement, "GRANT ALL") {
					t.Errorf("evidence %s: %v %+v", id, err, ev)
				}
			}
			var found bool
			for line := range strings.SplitSeq(strings.TrimSpace(out.String()), "\n") {
				var r export.Record
				if err := json.Unmarshal([]byte(line), &r); err != nil {
					t.Fatal(err)
				}
				for _, f := range r.Unmapped.Findings {
					if f.Rule == "broad_privilege_grant" && f.Severity == got.Severity && f.Message == got.Message && slices.Equal(f.Evidence, got.Evidence) {
						found = true
						if r.SeverityID != 5 {
							t.Errorf("exported severity_id %d, want 5 (critical)", r.SeverityID)
						}
					}
				}
			}
			if !found {
				t.Errorf("export lacks the detection:\n%s", out.String())
			}
		})
	}
}
