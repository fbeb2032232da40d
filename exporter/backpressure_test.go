package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dbsec/dbsec/pkg/collector"
	"github.com/dbsec/dbsec/pkg/config"
	"github.com/dbsec/dbsec/pkg/event"
	"github.com/dbsec/dbsec/pkg/pipeline"
	"github.com/dbsec/dbsec/pkg/store"
	"github.com/dbsec/dbsec/pkg/store/sqlite"
)

// TestReplayWaitsForStore replays a file into a store whose queue holds 8
// events and which drops after 1µs: the file source must wait for the
// store instead, so that every event is stored and none is dropped.
func TestReplayWaitsForStore(t *testing.T) {
	dir := t.TempDir()
	const n = 30000
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, `[2026/11/30 09:00:03.500 +08:00] [INFO] [logger.go:77] [ID=%d] [TIMESTAMP=2026/11/30 09:00:03.500 +08:00] [EVENT_CLASS=GENERAL] [EVENT_SUBCLASS=] [STATUS_CODE=0] [COST_TIME=3100] [HOST=10.0.1.5] [CLIENT_IP=10.0.9.10] [USER=app] [DATABASES="[shop]"] [TABLES="[orders]"] [SQL_TEXT="UPDATE orders SET n = %d WHERE id = 7"] [ROWS=1] [CONNECTION_ID=%d] [CLIENT_PORT=51100] [PID=3141] [COMMAND=Query] [SQL_STATEMENTS=Update]`+"\n", 100000+i, i, 1000+i)
	}
	logFile := filepath.Join(dir, "audit.log")
	if err := os.WriteFile(logFile, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse("dbsec.toml", fmt.Appendf(nil, "[server]\nstate_dir = %q\n\n[[source]]\nname = \"a\"\nformat = \"tidb-audit-plugin\"\npath = %q\ntimezone = \"UTC\"\n", dir, logFile))
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(sqlite.Options{Path: filepath.Join(dir, "store.db"), QueueSize: 8, BlockWait: time.Microsecond,
		Policy: store.Policy{AllStatements: true}, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := replayOnce(ctx, cfg, collector.NewRegistry(), nil, []pipeline.Sink{st}, event.NewIDGen(), slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	if err := st.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	s := st.Stats()
	if err := st.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if s.Dropped != 0 || s.Stored != n {
		t.Fatalf("stored %d of %d events, dropped %d", s.Stored, n, s.Dropped)
	}
}

// TestNetworkSourcesDoNotWait: only file sources are given the waiting
// store; a network source keeps Consume, which may drop (counted, logged).
func TestNetworkSourcesDoNotWait(t *testing.T) {
	st, err := sqlite.Open(sqlite.Options{Path: filepath.Join(t.TempDir(), "s.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close(context.Background())
	w := waiting(context.Background(), []pipeline.Sink{st})
	if _, ok := w[0].(waitSink); !ok {
		t.Fatalf("file sources get %T, want waitSink", w[0])
	}
}
