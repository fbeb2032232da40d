package detect

import (
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/dbsec/dbsec/pkg/event"
)

// quietEvents are events on which no rule fires once the detector has
// seen them: statements of 50 users (with a current database and
// unqualified tables, as TiDB logs them), their successful logins, and the
// failures of one user whose brute-force finding is already suppressed.
func quietEvents() []event.Event {
	var evs []event.Event
	for u := range 50 {
		user := "app" + strconv.Itoa(u)
		ipa := "10.0.3." + strconv.Itoa(u)
		for _, st := range []string{
			"SELECT * FROM orders WHERE id = ?",
			"UPDATE orders SET state = ? WHERE id = ?",
			"INSERT INTO audit_trail (a, b) VALUES (?, ?)",
		} {
			evs = append(evs, event.Event{Source: "tidb1", System: event.SystemTiDB, User: user, ClientIP: ipa, Database: "Shop",
				Statement: st, Action: event.ActionOther, Outcome: event.OutcomeSuccess, ConnectionID: "7"})
		}
		evs = append(evs, event.Event{Source: "tidb1", System: event.SystemTiDB, User: user, ClientIP: ipa,
			Action: event.ActionConnect, Category: event.CategoryLogin, Outcome: event.OutcomeSuccess, ConnectionID: "7"})
	}
	evs = append(evs, event.Event{Source: "tidb1", System: event.SystemTiDB, User: "mallory", ClientIP: "192.0.2.9",
		Action: event.ActionConnect, Category: event.CategoryLogin, Outcome: event.OutcomeFailure, ConnectionID: "8"})
	return evs
}

// TestDetectNoAlloc: an event on which no rule fires costs the detector no
// allocation, through Detect and through a Prep (the pipeline's workers).
func TestDetectNoAlloc(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	for _, viaPrep := range []bool{false, true} {
		d, err := New(DefaultRules(), Options{Sources: []string{"tidb1"}})
		if err != nil {
			t.Fatal(err)
		}
		evs := quietEvents()
		p := d.NewPrep()
		i := 0
		step := func() int {
			ev := &evs[i%len(evs)]
			ev.Time = t0.Add(time.Duration(i) * 10 * time.Millisecond)
			ev.ID = "" // no IDGen: the pipeline gives the ids
			ev.Digest = ""
			ev.Hits, ev.Detections = ev.Hits[:0], ev.Detections[:0]
			i++
			if viaPrep {
				p.Prepare(ev)
				return len(p.Detect(ev))
			}
			return len(d.Detect(ev))
		}
		// Warm up: the entities, rings, the match memo and the analysis
		// cache fill, mallory's findings fire and are then suppressed.
		for range 20 * len(evs) {
			step()
		}
		fired := 0
		allocs := testing.AllocsPerRun(5*len(evs), func() { fired += step() })
		if fired != 0 {
			t.Fatalf("prep %v: %d detections on the quiet events", viaPrep, fired)
		}
		if allocs != 0 {
			t.Errorf("prep %v: %v allocations per quiet event", viaPrep, allocs)
		}
	}
}

// BenchmarkDetectQuiet is the detector's per-event cost on events that
// fire nothing, with the statement analysis cached; Prepared runs it the
// way the pipeline's workers do (Prepare, then Detect).
func BenchmarkDetectQuiet(b *testing.B) {
	for _, viaPrep := range []bool{false, true} {
		name := "Detect"
		if viaPrep {
			name = "Prepared"
		}
		b.Run(name, func(b *testing.B) {
			d, err := New(DefaultRules(), Options{Sources: []string{"tidb1"}})
			if err != nil {
				b.Fatal(err)
			}
			evs := quietEvents()
			p := d.NewPrep()
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				ev := &evs[i%len(evs)]
				ev.Time = t0.Add(time.Duration(i) * 10 * time.Millisecond)
				ev.Digest = ""
				ev.Hits, ev.Detections = ev.Hits[:0], ev.Detections[:0]
				if viaPrep {
					p.Prepare(ev)
					p.Detect(ev)
				} else {
					d.Detect(ev)
				}
				i++
			}
		})
	}
}

// BenchmarkDetectQuietParallel is BenchmarkDetectQuiet/Prepared from
// GOMAXPROCS goroutines at once, each a source of its own sharing one
// detector (as the delivery goroutines of several file sources do): with
// -cpu 1,2 it shows what the detector's one lock costs under contention.
func BenchmarkDetectQuietParallel(b *testing.B) {
	d, err := New(DefaultRules(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	var mu sync.Mutex
	n := 0
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		mu.Lock()
		src := "tidb" + strconv.Itoa(n)
		n++
		mu.Unlock()
		evs := quietEvents()
		for i := range evs {
			evs[i].Source = src
		}
		p := d.NewPrep()
		i := 0
		for pb.Next() {
			ev := &evs[i%len(evs)]
			ev.Time = t0.Add(time.Duration(i) * 10 * time.Millisecond)
			ev.Digest = ""
			ev.Hits, ev.Detections = ev.Hits[:0], ev.Detections[:0]
			p.Prepare(ev)
			p.Detect(ev)
			i++
		}
	})
}
