package victorialogs

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/dbsec/dbsec/pkg/event"
	"github.com/dbsec/dbsec/pkg/store"
	"github.com/dbsec/dbsec/pkg/store/storetest"
	"github.com/dbsec/dbsec/pkg/store/victorialogs/vltest"
)

// TestExportersWithCollidingIDs is the deterministic form of a flake of
// TestFleetOnVictoriaLogs (exporter/fleet_test.go), which once paged 28 of
// 56 events: two exporters read the same file, so their events have the
// same times, and their id generators drew the same 16-bit instance
// number (a chance of 1 in 65,536 per pair of processes), so the events
// had the same ids and the same tie-break numbers, and their chains the
// same sequence numbers. The query-time de-duplication of retried
// batches took each event of one exporter for a copy of the other's.
// Here both exporters consume the very same events (same ids); every
// route must count and page both, and a resend marker (which switches
// aggregations to counting distinct records) must not merge them either.
func TestExportersWithCollidingIDs(t *testing.T) {
	n := vltest.StartNode(t)
	ctx := context.Background()
	a := openOn(t, n.URL(), "host-a")
	defer a.Close(ctx)
	b := openOn(t, n.URL(), "host-b")
	defer b.Close(ctx)
	const N = 56
	g := storetest.New(5, faultStart, time.Minute, N)
	var ids []string
	for ev := g.Next(); ev != nil; ev = g.Next() {
		ev.Detections = []string{"D01"}
		ids = append(ids, ev.ID)
		a.Consume(ev.Clone())
		b.Consume(ev.Clone())
	}
	// Events in the same millisecond and of the same id: the tie of
	// (time, tb) that only the exporter can break.
	tie := &event.Event{ID: ids[0], Time: faultStart.Add(30 * time.Second).Truncate(time.Millisecond), Source: "tie", Category: event.CategoryRead,
		Action: event.ActionSelect, Outcome: event.OutcomeSuccess, Statement: "SELECT 1"}
	tie.ID = event.NewIDGen().Next(tie.Time)
	a.Consume(tie.Clone())
	b.Consume(tie.Clone())
	for _, s := range []*Store{a, b} {
		if err := s.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	const want = 2 * (N + 1)
	check := func(t *testing.T) {
		t.Helper()
		for _, limit := range []int{1, 7, 1000} {
			got := map[string]int{}
			total := 0
			for cursor := ""; ; {
				p, err := a.Events(ctx, store.EventQuery{Limit: limit, Cursor: cursor})
				if err != nil {
					t.Fatal(err)
				}
				for _, ev := range p.Events {
					got[ev.ID]++
				}
				total += len(p.Events)
				if p.Next == "" {
					break
				}
				cursor = p.Next
			}
			if total != want {
				t.Errorf("pages of %d: %d events, want %d", limit, total, want)
			}
			for id, k := range got {
				if k != 2 {
					t.Errorf("pages of %d: event %s paged %d times, want 2 (one per exporter)", limit, id, k)
				}
			}
		}
		total := 0
		for cursor := ""; ; {
			p, err := a.Detections(ctx, store.DetectionQuery{Limit: 7, Cursor: cursor})
			if err != nil {
				t.Fatal(err)
			}
			total += len(p.Detections)
			if p.Next == "" {
				break
			}
			cursor = p.Next
		}
		if total != 2*N {
			t.Errorf("detections: %d paged, want %d", total, 2*N)
		}
		sr, err := a.Series(ctx, store.SeriesQuery{Step: time.Hour})
		if err != nil || len(sr.Series) != 1 || sr.Series[0].Total != want {
			t.Errorf("series: %+v %v, want a total of %d", sr.Series, err, want)
		}
		top, err := a.Top(ctx, store.TopQuery{By: store.DimRule})
		if err != nil || len(top.Items) != 1 || top.Items[0].Count != 2*N {
			t.Errorf("top rules: %+v %v, want %d", top.Items, err, 2*N)
		}
		rep, err := a.Integrity(ctx, store.IntegrityQuery{})
		if err != nil || !rep.OK || rep.Checked != want {
			t.Errorf("integrity: %+v %v, want %d verified", rep, err, want)
		}
		if len(rep.Chains) != 2 || rep.Chains[0].Exporter != "host-a" || rep.Chains[1].Exporter != "host-b" ||
			!rep.Chains[0].OK || !rep.Chains[1].OK || rep.Chains[0].Checked != N+1 || rep.Chains[1].Checked != N+1 {
			t.Errorf("integrity per exporter: %+v", rep.Chains)
		}
	}
	t.Run("counted", check)
	// A resend marker over the range: aggregations count distinct records.
	if err := a.markResend(ctx, []byte(`{"_time":"`+faultStart.Format(time.RFC3339Nano)+`"}`+"\n"+`{"_time":"`+faultStart.Add(time.Hour).Format(time.RFC3339Nano)+`"}`+"\n")); err != nil {
		t.Fatal(err)
	}
	a.cl.forceFlush(ctx)
	waitUntil(t, 10*time.Second, "the resend marker is searchable", func() bool {
		dups, err := a.mayHaveDuplicates(ctx, faultStart, faultStart.Add(time.Hour))
		return err == nil && dups
	})
	t.Run("distinct", check)

	// A third exporter whose chain misses its second event: the report
	// names it, and the other two chains are verified all the same.
	var e evEnc
	var body []byte
	prev := make([]byte, 32)
	g = storetest.New(6, faultStart.Add(2*time.Hour), time.Minute, 3)
	for seq := int64(1); seq <= 3; seq++ {
		ev := g.Next()
		b, h := e.appendEvent(nil, ev, "host-c", exporterKey("host-c"), seq, prev)
		if seq != 2 {
			body = append(body, b...)
		}
		prev = h[:]
	}
	if err := a.cl.insert(ctx, body); err != nil {
		t.Fatal(err)
	}
	a.cl.forceFlush(ctx)
	var rep store.IntegrityReport
	waitUntil(t, 10*time.Second, "the third exporter's records are searchable", func() bool {
		var err error
		rep, err = a.Integrity(ctx, store.IntegrityQuery{})
		return err == nil && len(rep.Chains) == 3 && rep.Chains[2].End == 3
	})
	c := rep.Chains[2]
	if rep.OK || rep.FirstBreak == nil || !strings.HasPrefix(rep.FirstBreak.Reason, "exporter host-c:") || rep.Head != "" ||
		c.Exporter != "host-c" || c.OK || c.Break == nil || c.Break.Seq != 2 || !strings.Contains(c.Break.Reason, "missing") ||
		!rep.Chains[0].OK || !rep.Chains[1].OK || rep.Chains[0].Checked != N+1 || rep.Chains[1].Checked != N+1 || rep.Chains[0].Head == "" {
		t.Errorf("integrity with a gap in one chain: %+v %+v chains %+v", rep, rep.FirstBreak, rep.Chains)
	}
}
