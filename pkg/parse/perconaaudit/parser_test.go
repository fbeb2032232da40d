package perconaaudit

import (
	"testing"

	"github.com/dbsec/dbsec/pkg/event"
	"github.com/dbsec/dbsec/pkg/parse/parsetest"
)

func TestGolden(t *testing.T) { parsetest.Golden(t, Format, "audit") }

func FuzzParse(f *testing.F) {
	parsetest.Seed(f, "testdata/audit.log")
	f.Fuzz(func(t *testing.T, data []byte) {
		parsetest.Check(t, Format, data)
	})
}

var (
	lineConnect = []byte(`{"audit_record":{"name":"Connect","record":"7_2024-09-03T01:53:14","timestamp":"2024-09-03T01:53:33Z","connection_id":"993","status":1156,"user":"","priv_user":"","os_login":"","proxy_user":"","host":"juju-da2225-8","ip":"10.207.85.214","db":""}}`)
	lineQuery   = []byte(`{"audit_record":{"name":"Query","record":"6_2026-09-29T09:40:00","timestamp":"2026-09-29T09:45:23Z","command_class":"alter_table","connection_id":"11","status":0,"sqltext":"ALTER TABLE hr.t ADD COLUMN c INT","user":"root[root] @  [127.0.0.1]","host":"","os_user":"","ip":"127.0.0.1","db":"hr"}}`)
	lineEscaped = []byte(`{"audit_record":{"name":"Query","record":"4_2026-09-29T09:40:00","timestamp":"2026-09-29T09:45:21Z","command_class":"select","connection_id":"11","status":0,"sqltext":"select 'multi\nline' from hr.t","user":"root[root] @  [127.0.0.1]","host":"","os_user":"","ip":"127.0.0.1","db":"hr"}}`)
)

func TestNoAllocs(t *testing.T) {
	p := New()
	var ev event.Event
	for _, c := range []struct {
		name string
		line []byte
	}{{"connect", lineConnect}, {"query", lineQuery}, {"escaped", lineEscaped}} {
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
