package tidbaudit

import (
	"testing"

	"github.com/dbsec/dbsec/pkg/event"
	"github.com/dbsec/dbsec/pkg/parse"
	"github.com/dbsec/dbsec/pkg/parse/parsetest"
)

func TestGolden(t *testing.T)     { parsetest.Golden(t, Format, "audit") }
func TestGoldenJSON(t *testing.T) { parsetest.Golden(t, FormatJSON, "audit-json") }

func FuzzParse(f *testing.F) {
	parsetest.Seed(f, "testdata/audit.log", "testdata/audit-json.log")
	f.Fuzz(func(t *testing.T, data []byte) {
		parsetest.Check(t, Format, data)
		parsetest.Check(t, FormatJSON, data)
	})
}

var (
	lineText = []byte("[2026/01/08 19:44:11.110 +08:00] [INFO] [ID=f1c681c2-8d80-4677-9dd4-6b7222610aa8-000a] [EVENT=\"[QUERY,QUERY_DML,INSERT]\"] [USER=root] [ROLES=\"[]\"] [CONNECTION_ID=260047062] [SESSION_ALIAS=] [TABLES=\"[`test`.`test_table`]\"] [STATUS_CODE=1] [CURRENT_DB=test1] [SQL_TEXT=\"INSERT IGNORE INTO test_table (id, name, age, salary, price, weight, is_active, created_at) VALUES (1, 'base_record', 25, 50000.00, 99.99, 123.456789, true, '2023-01-01 12:00:00')\"] [AFFECTED_ROWS=1]")
	lineConn = []byte(`[2026/01/08 19:44:27.746 +08:00] [INFO] [ID=2eda2307-54c1-49e5-9e65-eebf340b6d8f-0002] [EVENT="[CONNECTION,CONNECT]"] [USER=root] [ROLES="[]"] [CONNECTION_ID=260047206] [SESSION_ALIAS=] [TABLES="[]"] [STATUS_CODE=1] [CURRENT_DB=test] [CONNECTION_TYPE=TCP] [PID=454064] [SERVER_VERSION=v9.0.0-beta.2.pre-1017-gbedae51b62] [SSL_VERSION=] [HOST_IP=127.0.0.1] [HOST_PORT=4000] [CLIENT_IP=127.0.0.1] [CLIENT_PORT=49366] [AUTH_METHOD=mysql_native_password] [CONN_ATTRS="{\"_client_name\":\"Go-MySQL-Driver\",\"_os\":\"linux\",\"_pid\":\"460879\",\"_platform\":\"amd64\",\"_server_host\":\"127.0.0.1\"}"]`)
	lineJSON = []byte("{\"TIME\":\"2026/01/08 19:44:11.110 +08:00\",\"ID\":\"f1c681c2-8d80-4677-9dd4-6b7222610aa8-000a\",\"EVENT\":\"[QUERY,QUERY_DML,INSERT]\",\"USER\":\"root\",\"ROLES\":\"[]\",\"CONNECTION_ID\":\"260047062\",\"SESSION_ALIAS\":\"\",\"TABLES\":\"[`test`.`test_table`]\",\"STATUS_CODE\":\"1\",\"CURRENT_DB\":\"test1\",\"SQL_TEXT\":\"INSERT IGNORE INTO test_table (id, name) VALUES (1, 'base_record', \\\"x\\\")\",\"AFFECTED_ROWS\":\"1\"}")
)

func TestNoAllocs(t *testing.T) {
	for _, tc := range []struct {
		name string
		f    parse.Format
		line []byte
	}{{"text-query", Format, lineText}, {"text-connect", Format, lineConn}, {"json-query", FormatJSON, lineJSON}} {
		p := tc.f.New(parse.Options{})
		var ev event.Event
		ok, err := p.Parse(tc.line, &ev)
		if !ok || err != nil {
			t.Fatalf("%s: %v %v", tc.name, ok, err)
		}
		allocs := testing.AllocsPerRun(200, func() {
			ev.Reset()
			_, _ = p.Parse(tc.line, &ev)
		})
		if allocs != 0 {
			t.Errorf("%s: %v allocs/op, want 0", tc.name, allocs)
		}
	}
}

func BenchmarkParse(b *testing.B) {
	for _, bc := range []struct {
		name string
		f    parse.Format
		line []byte
	}{{"text-query", Format, lineText}, {"text-connect", Format, lineConn}, {"json-query", FormatJSON, lineJSON}} {
		b.Run(bc.name, func(b *testing.B) {
			p := bc.f.New(parse.Options{})
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
