package mysqlaudit

import (
	"testing"

	"github.com/dbsec/dbsec/pkg/event"
	"github.com/dbsec/dbsec/pkg/parse/parsetest"
)

func TestGolden(t *testing.T) {
	parsetest.Golden(t, Format, "audit")
	parsetest.Golden(t, Format, "table_access")
}

func FuzzParse(f *testing.F) {
	parsetest.Seed(f, "testdata/audit.log", "testdata/table_access.log")
	f.Fuzz(func(t *testing.T, data []byte) {
		parsetest.Check(t, Format, data)
	})
}

var (
	lineGeneral = []byte(`{ "timestamp": "2020-10-19 19:31:47", "id": 0, "class": "general", "event": "status", "connection_id": 16, "account": { "user": "audit_test_user2", "host": "hades.home" }, "login": { "user": "audit_test_user2", "os": "", "ip": "192.168.2.5", "proxy": "" }, "general_data": { "command": "Query", "sql_command": "create_table", "query": "CREATE TABLE audit_test_table (firstname VARCHAR(20), lastname VARCHAR(20))", "status": 0 } },`)
	lineConnect = []byte(`{ "timestamp": "2020-10-19 19:31:25", "id": 0, "class": "connection", "event": "connect", "connection_id": 16, "account": { "user": "audit_test_user2", "host": "hades.home" }, "login": { "user": "audit_test_user2", "os": "", "ip": "192.168.2.5", "proxy": "" }, "connection_data": { "connection_type": "ssl", "status": 0, "db": "", "connection_attributes": { "_os": "Linux", "_client_name": "libmysql", "_pid": "394499", "_client_version": "5.7.30", "_platform": "x86_64" } } },`)
	lineEscaped = []byte(`{ "timestamp": "2024-05-02 08:00:09", "id": 0, "class": "general", "event": "status", "connection_id": 42, "account": { "user": "analyst", "host": "%" }, "login": { "user": "analyst", "os": "", "ip": "10.0.3.7", "proxy": "" }, "general_data": { "command": "Query", "sql_command": "delete", "query": "DELETE FROM shop.orders WHERE note = \"x\\ty\"", "status": 1142 } },`)
)

func TestNoAllocs(t *testing.T) {
	p := New()
	var ev event.Event
	for _, c := range []struct {
		name string
		line []byte
	}{{"general", lineGeneral}, {"connect", lineConnect}, {"escaped", lineEscaped}} {
		name, line := c.name, c.line
		ev.Reset()
		p.Parse(line, &ev) // size the scratch buffer
		allocs := testing.AllocsPerRun(200, func() {
			ev.Reset()
			if ok, err := p.Parse(line, &ev); !ok || err != nil {
				t.Fatal(ok, err)
			}
		})
		if allocs != 0 {
			t.Errorf("%s: %v allocs/op, want 0", name, allocs)
		}
	}
	if ev.Statement != `DELETE FROM shop.orders WHERE note = "x\ty"` || ev.Category != event.CategoryAccessDenied {
		t.Errorf("unexpected %q %v", ev.Statement, ev.Category)
	}
}

func BenchmarkParse(b *testing.B) {
	for _, bc := range []struct {
		name string
		line []byte
	}{{"general", lineGeneral}, {"connect", lineConnect}, {"escaped", lineEscaped}} {
		b.Run(bc.name, func(b *testing.B) {
			p := New()
			var ev event.Event
			b.ReportAllocs()
			b.SetBytes(int64(len(bc.line)))
			for b.Loop() {
				ev.Reset()
				_, _ = p.Parse(bc.line, &ev)
			}
		})
	}
}
