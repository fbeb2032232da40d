package perconaaudit

import (
	"testing"

	"github.com/dbsec/dbsec/pkg/event"
	"github.com/dbsec/dbsec/pkg/parse/parsetest"
)

func TestGolden(t *testing.T) {
	for _, name := range []string{"audit", "old", "new", "csv", "filter", "filter-old"} {
		parsetest.Golden(t, Format, name)
	}
}

func FuzzParse(f *testing.F) {
	parsetest.Seed(f, "testdata/audit.log", "testdata/old.log", "testdata/new.log", "testdata/csv.log", "testdata/filter.log", "testdata/filter-old.log")
	f.Fuzz(func(t *testing.T, data []byte) {
		parsetest.Check(t, Format, data)
	})
}

var (
	lineConnect = []byte(`{"audit_record":{"name":"Connect","record":"7_2024-09-03T01:53:14","timestamp":"2024-09-03T01:53:33Z","connection_id":"993","status":1156,"user":"","priv_user":"","os_login":"","proxy_user":"","host":"juju-da2225-8","ip":"10.207.85.214","db":""}}`)
	lineQuery   = []byte(`{"audit_record":{"name":"Query","record":"6_2026-09-29T09:40:00","timestamp":"2026-09-29T09:45:23Z","command_class":"alter_table","connection_id":"11","status":0,"sqltext":"ALTER TABLE hr.t ADD COLUMN c INT","user":"root[root] @  [127.0.0.1]","host":"","os_user":"","ip":"127.0.0.1","db":"hr"}}`)
	lineEscaped = []byte(`{"audit_record":{"name":"Query","record":"4_2026-09-29T09:40:00","timestamp":"2026-09-29T09:45:21Z","command_class":"select","connection_id":"11","status":0,"sqltext":"select 'multi\nline' from hr.t","user":"root[root] @  [127.0.0.1]","host":"","os_user":"","ip":"127.0.0.1","db":"hr"}}`)
)

var (
	lineCSV = []byte(`"Query","22567_2021-06-30T16:10:09","2021-06-30T16:19:00 UTC","select","2",0,"select count(*) from one","root[root] @ localhost []","localhost","","",""`)
	recOld  = []byte("<AUDIT_RECORD\n  NAME=\"Query\"\n  RECORD=\"3_2021-06-30T11:56:53\"\n  TIMESTAMP=\"2021-06-30T11:57:14 UTC\"\n  COMMAND_CLASS=\"select\"\n  CONNECTION_ID=\"3\"\n  STATUS=\"0\"\n  SQLTEXT=\"select * from t where a &lt; 1\"\n  USER=\"root[root] @ localhost []\"\n  HOST=\"localhost\"\n  OS_USER=\"\"\n  IP=\"\"\n  DB=\"\"\n/>")
	recNew  = []byte("<AUDIT_RECORD>\n  <NAME>Query</NAME>\n  <RECORD>16684_2021-06-30T16:07:41</RECORD>\n  <TIMESTAMP>2021-06-30T16:08:06 UTC</TIMESTAMP>\n  <COMMAND_CLASS>select</COMMAND_CLASS>\n  <CONNECTION_ID>2</CONNECTION_ID>\n  <STATUS>0</STATUS>\n  <SQLTEXT>select id, holder from one</SQLTEXT>\n  <USER>root[root] @ localhost []</USER>\n  <HOST>localhost</HOST>\n  <OS_USER/>\n  <IP></IP>\n  <DB></DB>\n</AUDIT_RECORD>")
)

func TestNoAllocs(t *testing.T) {
	p := New()
	var ev event.Event
	for _, c := range []struct {
		name string
		line []byte
	}{{"csv", lineCSV}, {"old xml", recOld}, {"new xml", recNew}, {"connect", lineConnect}, {"query", lineQuery}, {"escaped", lineEscaped}} {
		name, line := c.name, c.line
		ev.Reset()
		p.Parse(line, &ev)
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
	if ev.Statement != "select 'multi\nline' from hr.t" || ev.User != "root" || ev.Action != event.ActionSelect {
		t.Errorf("unexpected %+v", ev)
	}
}

func BenchmarkParse(b *testing.B) {
	for _, bc := range []struct {
		name string
		line []byte
	}{{"connect", lineConnect}, {"query", lineQuery}, {"escaped", lineEscaped}} {
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
