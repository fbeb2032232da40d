package tidbauditplugin

import (
	"testing"

	"github.com/dbsec/dbsec/pkg/event"
	"github.com/dbsec/dbsec/pkg/parse/parsetest"
)

func TestGolden(t *testing.T) {
	recs := parsetest.Golden(t, Format, "plugin")
	// Spot checks of the semantics that matter most, on top of the golden.
	var logins, failed, denied, dups int
	for _, r := range recs {
		if r.Event == nil {
			continue
		}
		switch {
		case r.Event.Category == event.CategoryLogin && r.Event.Outcome == event.OutcomeFailure:
			failed++
		case r.Event.Category == event.CategoryLogin:
			logins++
		case r.Event.Category == event.CategoryAccessDenied:
			denied++
		case r.Event.Action == event.ActionInsert:
			dups++
		}
	}
	if logins != 1 || failed != 1 || denied != 1 || dups != 1 {
		t.Errorf("logins=%d failed=%d denied=%d inserts=%d, want 1 each", logins, failed, denied, dups)
	}
}

func TestZeroAlloc(t *testing.T) {
	line := []byte(`[2025/09/06 17:03:53.720 +08:00] [INFO] [logger.go:77] [ID=17571494330] [TIMESTAMP=2025/09/06 17:03:53.720 +08:00] [EVENT_CLASS=GENERAL] [EVENT_SUBCLASS=] [STATUS_CODE=0] [COST_TIME=1336.083] [HOST=127.0.0.1] [CLIENT_IP=127.0.0.1] [USER=root] [DATABASES="[shop]"] [TABLES="[shop.orders]"] [SQL_TEXT="select \"[=]\" from orders"] [ROWS=3] [CONNECTION_ID=3695181836] [CLIENT_PORT=63912] [PID=61215] [COMMAND=Query] [SQL_STATEMENTS=Select]`)
	p := New()
	var ev event.Event
	allocs := testing.AllocsPerRun(1000, func() {
		ev.Reset()
		if ok, err := p.Parse(line, &ev); !ok || err != nil {
			t.Fatalf("ok=%v err=%v", ok, err)
		}
		*p.conns[ev.ConnectionID] = lastStmt{} // defeat de-duplication of the repeated line
	})
	if allocs != 0 {
		t.Errorf("%v allocations per line, want 0", allocs)
	}
	if ev.Action != event.ActionSelect || ev.Statement != `select "[=]" from orders` || ev.Rows != 3 {
		t.Errorf("unexpected event %+v", ev)
	}
}

// TestReusedBuffer feeds lines through one reused buffer, as the inputs do:
// the de-duplication state must not alias it.
func TestReusedBuffer(t *testing.T) {
	lines := []string{
		`[2025/09/08 21:16:52.630 +08:00] [INFO] [logger.go:77] [TIMESTAMP=2025/09/08 21:16:52.630 +08:00] [EVENT_CLASS=GENERAL] [STATUS_CODE=0] [USER=root] [SQL_TEXT="insert t value(1)"] [CONNECTION_ID=11]`,
		`[2025/09/08 21:16:52.631 +08:00] [INFO] [logger.go:77] [TIMESTAMP=2025/09/08 21:16:52.631 +08:00] [EVENT_CLASS=GENERAL] [STATUS_CODE=0] [USER=root] [SQL_TEXT="insert t value(2)"] [CONNECTION_ID=11]`,
		`[2025/09/08 21:16:52.632 +08:00] [INFO] [logger.go:77] [TIMESTAMP=2025/09/08 21:16:52.632 +08:00] [EVENT_CLASS=GENERAL] [STATUS_CODE=0] [USER=root] [SQL_TEXT="select 1"] [CONNECTION_ID=22]`,
		`[2025/09/08 21:16:52.633 +08:00] [INFO] [logger.go:77] [TIMESTAMP=2025/09/08 21:16:52.633 +08:00] [EVENT_CLASS=TABLE_ACCESS] [STATUS_CODE=0] [USER=root] [SQL_TEXT="insert t value(2)"] [CONNECTION_ID=11]`,
	}
	p := New()
	var ev event.Event
	buf := make([]byte, 0, 512)
	var emitted int
	for _, l := range lines {
		buf = append(buf[:0], l...)
		ev.Reset()
		ok, err := p.Parse(buf, &ev)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			emitted++
		}
		for i := range buf {
			buf[i] = 'x' // the next read overwrites the buffer
		}
	}
	if emitted != 3 {
		t.Errorf("emitted %d events, want 3 (the TABLE_ACCESS copy on conn 11 is a duplicate)", emitted)
	}
	for k := range p.conns {
		if k != "11" && k != "22" {
			t.Errorf("state key %q aliases the line buffer", k)
		}
	}
}

func FuzzParse(f *testing.F) {
	parsetest.Seed(f, "testdata/plugin.log")
	f.Fuzz(func(t *testing.T, data []byte) {
		parsetest.Check(t, Format, data)
	})
}
