package collector

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"

	"github.com/dbsec/dbsec/pkg/event"
	"github.com/dbsec/dbsec/pkg/input"
	"github.com/dbsec/dbsec/pkg/parse"
)

func TestCount(t *testing.T) {
	r := NewRegistry()
	src := r.Configure([]SourceSpec{{Name: "a", System: event.SystemTiDB, Labels: map[string]string{"cluster": "x"}}, {Name: "b", System: event.SystemMariaDB}})
	a := src[0]
	for _, ev := range []event.Event{
		{Category: event.CategoryLogin, Action: event.ActionConnect, Outcome: event.OutcomeFailure},
		{Category: event.CategoryLogin, Action: event.ActionConnect, Outcome: event.OutcomeSuccess},
		{Category: event.CategoryDDL, Action: event.ActionDropTable, Outcome: event.OutcomeSuccess, Duration: 0.2, HasDuration: true},
		{Category: event.CategoryAccessDenied, Action: event.ActionDropTable, Outcome: event.OutcomeFailure, Rows: 0, HasRows: true},
		{Category: event.CategoryPrivilegeChange, Action: event.ActionGrant, Outcome: event.OutcomeSuccess},
		// A GRANT with a syntax error and a CREATE USER of an existing
		// account changed nothing.
		{Category: event.CategoryPrivilegeChange, Action: event.ActionGrant, Outcome: event.OutcomeFailure},
		{Category: event.CategoryPrivilegeChange, Action: event.ActionCreateUser, Outcome: event.OutcomeFailure},
		{Category: event.CategoryDDL, Action: event.ActionCreateTable, Outcome: event.OutcomeFailure},
		{Category: event.CategoryRead, Action: event.ActionSelect, Outcome: event.OutcomeSuccess, Rows: 42, HasRows: true},
		{Category: event.CategoryDMLWrite, Action: event.ActionDelete, Outcome: event.OutcomeSuccess, Rows: 7, HasRows: true},
	} {
		a.Count(&ev)
	}
	a.Line(99)
	a.ParseError(parse.ReasonTimestamp)
	a.SetUp(true)
	a.SetInput(fakeStats{input.Stats{LagBytes: 12, Rotations: 3}})

	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(r)
	want := `
# HELP dbsec_login_attempts_total Login attempts by outcome (a failed login written as several lines counts once).
# TYPE dbsec_login_attempts_total counter
dbsec_login_attempts_total{cluster="x",outcome="failure",source="a",system="tidb"} 1
dbsec_login_attempts_total{cluster="x",outcome="success",source="a",system="tidb"} 1
dbsec_login_attempts_total{cluster="x",outcome="unknown",source="a",system="tidb"} 0
dbsec_login_attempts_total{cluster="",outcome="failure",source="b",system="mariadb"} 0
dbsec_login_attempts_total{cluster="",outcome="success",source="b",system="mariadb"} 0
dbsec_login_attempts_total{cluster="",outcome="unknown",source="b",system="mariadb"} 0
# HELP dbsec_access_denied_total Statements and logins refused for lack of privilege.
# TYPE dbsec_access_denied_total counter
dbsec_access_denied_total{cluster="x",source="a",system="tidb"} 1
dbsec_access_denied_total{cluster="",source="b",system="mariadb"} 0
# HELP dbsec_source_lag_bytes Bytes written to the source's files but not read yet.
# TYPE dbsec_source_lag_bytes gauge
dbsec_source_lag_bytes{cluster="x",source="a",system="tidb"} 12
dbsec_source_lag_bytes{cluster="",source="b",system="mariadb"} 0
# HELP dbsec_bytes_read_total Bytes read from the source, newlines included.
# TYPE dbsec_bytes_read_total counter
dbsec_bytes_read_total{cluster="x",source="a",system="tidb"} 100
dbsec_bytes_read_total{cluster="",source="b",system="mariadb"} 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want),
		"dbsec_login_attempts_total", "dbsec_access_denied_total", "dbsec_source_lag_bytes", "dbsec_bytes_read_total"); err != nil {
		t.Error(err)
	}
	// The denied DROP TABLE is not a DDL statement that ran, but it is a statement.
	if v := testutil.ToFloat64(counterOf(t, reg, "dbsec_ddl_statements_total", "action", "drop_table", "source", "a")); v != 1 {
		t.Errorf("ddl drop_table = %v, want 1", v)
	}
	if v := testutil.ToFloat64(counterOf(t, reg, "dbsec_statements_total", "class", "ddl", "source", "a")); v != 3 {
		t.Errorf("statements ddl = %v, want 3", v)
	}
	// Failed statements count as events and statements, not as changes.
	for _, c := range []struct {
		name, action string
		want         float64
	}{
		{"dbsec_privilege_changes_total", "grant", 1},
		{"dbsec_privilege_changes_total", "create_user", 0},
		{"dbsec_ddl_statements_total", "create_table", 0},
	} {
		if v := testutil.ToFloat64(counterOf(t, reg, c.name, "action", c.action, "source", "a")); v != c.want {
			t.Errorf("%s{action=%q} = %v, want %v", c.name, c.action, v, c.want)
		}
	}
	if v := testutil.ToFloat64(counterOf(t, reg, "dbsec_events_total", "category", "privilege_change", "outcome", "failure", "source", "a")); v != 2 {
		t.Errorf("failed privilege changes = %v, want 2", v)
	}
	// Lint the whole exposition like promtool check metrics does.
	problems, err := promlint.NewWithMetricFamilies(gather(t, reg)).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
	// Every family that Collect emits is documented in Metrics().
	doc := map[string]bool{}
	for _, m := range Metrics() {
		doc[m.Name] = true
	}
	for _, mf := range gather(t, reg) {
		if !doc[mf.GetName()] {
			t.Errorf("%s is emitted but not listed in Metrics()", mf.GetName())
		}
	}
}

func TestReconfigureKeepsCounters(t *testing.T) {
	r := NewRegistry()
	a := r.Configure([]SourceSpec{{Name: "a", System: event.SystemTiDB}})[0]
	a.Line(1)
	a2 := r.Configure([]SourceSpec{{Name: "a", System: event.SystemTiDB}, {Name: "c", System: event.SystemTiDB}})[0]
	if a2 != a {
		t.Error("an unchanged source lost its counters on reconfigure")
	}
	a3 := r.Configure([]SourceSpec{{Name: "a", System: event.SystemTiDB, Labels: map[string]string{"k": "v"}}})[0]
	if a3 == a {
		t.Error("a source whose labels changed kept its old series")
	}
}

func TestCountDoesNotAllocate(t *testing.T) {
	r := NewRegistry()
	s := r.Configure([]SourceSpec{{Name: "a", System: event.SystemTiDB}})[0]
	ev := event.Event{Category: event.CategoryRead, Action: event.ActionSelect, Outcome: event.OutcomeSuccess, Rows: 3, HasRows: true, Duration: 0.01, HasDuration: true}
	if n := testing.AllocsPerRun(1000, func() { s.Line(100); s.Count(&ev) }); n != 0 {
		t.Errorf("%v allocations per event", n)
	}
}

type fakeStats struct{ s input.Stats }

func (f fakeStats) Stats() input.Stats { return f.s }

func gather(t *testing.T, g prometheus.Gatherer) []*dtoMF {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	return mfs
}

func counterOf(t *testing.T, g prometheus.Gatherer, name string, kv ...string) prometheus.Collector {
	t.Helper()
	for _, mf := range gather(t, g) {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for i := 0; i < len(kv); i += 2 {
				found := false
				for _, l := range m.GetLabel() {
					if l.GetName() == kv[i] && l.GetValue() == kv[i+1] {
						found = true
					}
				}
				if !found {
					continue next
				}
			}
			c := prometheus.NewCounter(prometheus.CounterOpts{Name: "x"})
			c.Add(m.GetCounter().GetValue())
			return c
		}
	}
	t.Fatalf("%s%v not found", name, kv)
	return nil
}

type dtoMF = dto.MetricFamily
