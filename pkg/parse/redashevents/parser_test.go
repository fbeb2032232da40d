package redashevents

import (
	"strings"
	"testing"

	"github.com/dbsec/dbsec/pkg/event"
	"github.com/dbsec/dbsec/pkg/parse/parsetest"
)

func TestGolden(t *testing.T) {
	for _, r := range parsetest.Golden(t, Format, "events") {
		if r.Event != nil && strings.Contains(r.Event.Raw, "Zx9Kq2mN4pL7") {
			t.Errorf("line %d: api key not masked", r.Line)
		}
	}
}

func FuzzParse(f *testing.F) {
	parsetest.Seed(f, "testdata/events.log")
	f.Fuzz(func(t *testing.T, data []byte) {
		parsetest.Check(t, Format, data)
	})
}

var lineExec = []byte(`{"schema": "iglu:io.redash.webhooks/event/jsonschema/1-0-0", "data": {"action": "execute_query", "object_type": "data_source", "object_id": 2, "user_id": 3, "user_name": "analyst", "org_id": 1, "ip": "10.0.0.7", "timestamp": 1717236060, "query": "SELECT 1", "cache": "miss"}}`)

func BenchmarkParse(b *testing.B) {
	p := New()
	var ev event.Event
	b.ReportAllocs()
	b.SetBytes(int64(len(lineExec)))
	for b.Loop() {
		ev.Reset()
		_, _ = p.Parse(lineExec, &ev)
	}
}
