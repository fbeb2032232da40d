package victorialogs

import (
	"testing"
	"time"

	"github.com/dbsec/dbsec/pkg/event"
	"github.com/dbsec/dbsec/pkg/store"
	"github.com/dbsec/dbsec/pkg/store/storetest"
)

// BenchmarkConsume measures Consume alone: policy, redaction, the hash
// chain, the record and the append to the on-disk queue (the insert URL
// answers nothing, so the queue only grows).
func BenchmarkConsume(b *testing.B) {
	s, err := Open(Options{InsertURL: "http://127.0.0.1:1", Exporter: "bench", QueueDir: b.TempDir(), Policy: store.Policy{AllStatements: true},
		MaxQueueBytes: 64 << 30, MaxBackoff: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	defer func() { s.closing.Store(true); close(s.stop); s.q.close(); s.wg.Wait() }()
	g := storetest.New(1, time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), 24*time.Hour, b.N)
	evs := make([]*event.Event, 0, b.N)
	for ev := g.Next(); ev != nil; ev = g.Next() {
		evs = append(evs, ev)
	}
	b.ResetTimer()
	for _, ev := range evs {
		s.Consume(ev)
	}
}
