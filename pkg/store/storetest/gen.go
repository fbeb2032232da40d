// Package storetest generates realistic synthetic audit events for tests
// and benchmarks of the store, the API and the export. It is deterministic
// for a seed.
package storetest

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/dbsec/dbsec/pkg/event"
)

// Gen produces events with times spread evenly over [Start, Start+Span).
// Cardinalities: 4 sources, 200 users, 1000 client IPs, 500 digests.
type Gen struct {
	Start time.Time
	Span  time.Duration
	N     int
	rng   *rand.Rand
	i     int
	ids   *event.IDGen
}

// New returns a generator of n events.
func New(seed uint64, start time.Time, span time.Duration, n int) *Gen {
	return &Gen{Start: start, Span: span, N: n, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), ids: event.NewIDGen()}
}

var (
	sources = []struct {
		name   string
		system event.System
		format string
	}{
		{"tidb-1-audit", event.SystemTiDB, "tidb-audit"},
		{"tidb-2-audit", event.SystemTiDB, "tidb-audit"},
		{"tdengine-1", event.SystemTDengine, "tdengine-audit"},
		{"mariadb-1", event.SystemMariaDB, "mariadb-audit"},
	}
	tables = []string{"orders", "customers", "payments", "items", "sessions", "audit_log", "accounts", "invoices"}
)

// Digest returns the digest of template k.
func Digest(k int) string { return fmt.Sprintf("%016x%048x", uint64(k)*0x9e3779b97f4a7c15, k) }

// User returns user k.
func User(k int) string { return fmt.Sprintf("app_user_%03d", k) }

// IP returns client IP k.
func IP(k int) string { return fmt.Sprintf("10.%d.%d.%d", k/65536%256, k/256%256, k%256) }

// Next returns the next event (a fresh value) or nil after N events.
func (g *Gen) Next() *event.Event {
	if g.i >= g.N {
		return nil
	}
	i := g.i
	g.i++
	r := g.rng
	t := g.Start.Add(time.Duration(float64(g.Span) * float64(i) / float64(g.N))).Add(time.Duration(r.IntN(1000)) * time.Microsecond)
	src := sources[r.IntN(len(sources))]
	// Zipf-like skew for users and IPs.
	uk := int(r.ExpFloat64()*30) % 200
	ik := (uk*5 + r.IntN(5)) % 1000
	ev := &event.Event{
		Time: t.UTC(), Source: src.name, System: src.system, Format: src.format,
		User: User(uk), ClientIP: IP(ik), ClientPort: uint16(30000 + r.IntN(30000)),
		Server: "db-" + src.name, Database: "shop", ConnectionID: fmt.Sprint(1000 + r.IntN(5000)),
		Outcome: event.OutcomeSuccess,
	}
	tbl := tables[r.IntN(len(tables))]
	x := r.IntN(100)
	dk := r.IntN(500)
	switch {
	case x < 55:
		ev.Category, ev.Action = event.CategoryRead, event.ActionSelect
		ev.Statement = fmt.Sprintf("SELECT id, status, total FROM %s WHERE id = %d AND tenant = %d", tbl, r.IntN(1000000), dk)
		ev.Rows, ev.HasRows = int64(r.IntN(50)), true
	case x < 80:
		ev.Category, ev.Action = event.CategoryDMLWrite, event.ActionUpdate
		ev.Statement = fmt.Sprintf("UPDATE %s SET status = 'shipped', updated_at = NOW() WHERE id = %d", tbl, r.IntN(1000000))
		ev.Rows, ev.HasRows = 1, true
	case x < 88:
		ev.Category, ev.Action = event.CategoryLogin, event.ActionConnect
		if r.IntN(10) == 0 {
			ev.Outcome, ev.Reason, ev.StatusCode = event.OutcomeFailure, "Access denied for user (using password: YES)", "1045"
		}
		dk = -1
	case x < 93:
		ev.Category, ev.Action = event.CategoryLogout, event.ActionDisconnect
		dk = -1
	case x < 94:
		ev.Category, ev.Action = event.CategoryDDL, event.ActionAlterTable
		ev.Statement = fmt.Sprintf("ALTER TABLE %s ADD COLUMN c%d INT", tbl, r.IntN(100))
	case x < 95:
		ev.Category, ev.Action = event.CategoryPrivilegeChange, event.ActionGrant
		ev.Statement = fmt.Sprintf("GRANT SELECT ON shop.%s TO '%s'@'%%'", tbl, ev.User)
	case x < 98:
		ev.Category, ev.Action = event.CategoryAdmin, event.ActionSet
		ev.Statement = fmt.Sprintf("SET SESSION sql_mode = 'STRICT_TRANS_TABLES' /* %d */", r.IntN(10))
	case x < 99:
		ev.Category, ev.Action, ev.Outcome = event.CategoryAccessDenied, event.ActionDropTable, event.OutcomeFailure
		ev.Statement = fmt.Sprintf("DROP TABLE %s", tbl)
		ev.StatusCode, ev.Reason = "1142", "DROP command denied to user"
	default:
		ev.Category, ev.Action, ev.Outcome = event.CategoryError, event.ActionSelect, event.OutcomeFailure
		ev.Statement = fmt.Sprintf("SELECT * FROM %s_missing", tbl)
		ev.StatusCode, ev.Reason = "1146", "Table doesn't exist"
	}
	if dk >= 0 {
		ev.Digest = Digest(dk)
		ev.Objects = []string{"shop." + tbl}
		ev.Duration, ev.HasDuration = float64(r.IntN(200000))/1e6, true
	}
	if r.IntN(500) == 0 {
		ev.Detections = []string{"D01"}
	}
	ev.ID = g.ids.Next(ev.Time)
	ev.Raw = fmt.Sprintf(`[%s] [INFO] [logger.go:77] [ID=%s] [TIMESTAMP=%s] [EVENT_CLASS=%s] [EVENT_SUBCLASS=] [STATUS_CODE=%s] [COST_TIME=%.3f] [HOST=127.0.0.1] [CLIENT_IP=%s] [USER=%s] [DATABASES="[shop]"] [TABLES="[%s]"] [SQL_TEXT=%q] [ROWS=%d] [CLIENT_PORT=%d] [CONNECTION_ID=%s]`,
		ev.Time.Format("2006/01/02 15:04:05.000 -07:00"), ev.ID[12:], ev.Time.Format(time.RFC3339Nano), ev.Category, ev.StatusCode, ev.Duration*1000,
		ev.ClientIP, ev.User, tbl, ev.Statement, ev.Rows, ev.ClientPort, ev.ConnectionID)
	ev.Origin = event.Origin{File: "/var/log/tidb/tidb-audit.log", Offset: int64(i) * 400, Line: int64(i + 1)}
	return ev
}
