package detect

import (
	"strconv"
	"testing"
	"time"

	"github.com/dbsec/dbsec/pkg/event"
)

// BenchmarkConsume is the detector's per-event cost on a mix of logins and
// (cached) statements from 1000 users.
func BenchmarkConsume(b *testing.B) {
	d, err := New(DefaultRules(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	var ev event.Event
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		ev.Reset()
		ev.Time = t0.Add(time.Duration(i) * time.Millisecond)
		ev.Source, ev.System = "tidb1", event.SystemTiDB
		ev.User, ev.ClientIP = "user"+strconv.Itoa(i%1000), "10.0.3."+strconv.Itoa(i%250)
		if i%4 == 0 {
			ev.Action, ev.Category, ev.Outcome = event.ActionConnect, event.CategoryLogin, event.OutcomeFailure
		} else {
			ev.Statement, ev.Outcome = "SELECT * FROM orders WHERE id = "+strconv.Itoa(i%50), event.OutcomeSuccess
		}
		d.Consume(&ev)
		i++
	}
}
