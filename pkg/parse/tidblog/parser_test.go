package tidblog

import (
	"testing"

	"github.com/dbsec/dbsec/pkg/event"
	"github.com/dbsec/dbsec/pkg/parse/parsetest"
)

func TestGolden(t *testing.T) {
	parsetest.Golden(t, Format, "tidb")
}

func FuzzParse(f *testing.F) {
	parsetest.Seed(f, "testdata/tidb.log", "testdata/tidb-json.log")
	f.Fuzz(func(t *testing.T, data []byte) {
		parsetest.Check(t, Format, data)
	})
}

// Lines of testdata/tidb.log used by the allocation test and the benchmark.
var (
	lineIgnored  = []byte(`[2024/07/24 09:59:48.330 +00:00] [INFO] [ddl_worker.go:314] ["[ddl] add DDL jobs"] ["batch count"=1] [jobs="ID:71, Type:create schema, State:queueing, SchemaState:none, SchemaID:70, TableID:0, RowCount:0, ArgLen:1, start time: 2024-07-24 09:59:48.291 +0000 UTC, Err:<nil>, ErrCount:0, SnapshotVersion:0; "] [table=true]`)
	lineCrucial  = []byte(`[2024/07/24 09:59:48.524 +00:00] [INFO] [session.go:3313] ["CRUCIAL OPERATION"] [conn=3100730542467842453] [schemaVersion=35] [cur_db=testdb] [sql="CREATE TABLE t(c0 INT);"] [user=root@10.88.0.71]`)
	lineDenied   = []byte(`[2024/07/03 13:29:45.101 +00:00] [INFO] [conn.go:995] ["command dispatched failed"] [conn=8] [connInfo="id:8, addr:10.0.3.7:43450 status:10, collation:utf8mb4_0900_ai_ci, user:analyst"] [command=Query] [status="inTxn:0, autocommit:1"] [sql="select * from mysql.user"] [txn_mode=PESSIMISTIC] [err="[planner:1142]SELECT command denied to user 'analyst'@'%' for table 'user'"]`)
	lineAuthFail = []byte(`[2024/12/13 10:30:02.864 +09:00] [WARN] [conn.go:642] ["open new session or authentication failure"] [conn=4202692616] [error="[privilege:1045]Access denied for user 'root'@'127.0.0.1' (using password: YES)"]`)
)

func TestNoAllocs(t *testing.T) {
	p := New()
	var ev event.Event
	jsonCrucial := []byte(`{"level":"INFO","time":"2024/07/24 09:59:48.524 +00:00","caller":"session.go:3313","message":"CRUCIAL OPERATION","conn":3100730542467842,"schemaVersion":35,"cur_db":"testdb","sql":"CREATE TABLE t(c0 INT);","user":"root@%"}`)
	jsonIgnored := []byte(`{"level":"INFO","time":"2021/12/13 07:30:23.348 +00:00","caller":"trackerRecorder.go:29","message":"Mem Profile Tracker started"}`)
	for name, line := range map[string][]byte{"ignored": lineIgnored, "crucial": lineCrucial, "denied": lineDenied, "auth": lineAuthFail,
		"json crucial": jsonCrucial, "json ignored": jsonIgnored} {
		allocs := testing.AllocsPerRun(200, func() {
			ev.Reset()
			if _, err := p.Parse(line, &ev); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("%s: %v allocs/op, want 0", name, allocs)
		}
	}
}

func TestFailedLoginCountedOnce(t *testing.T) {
	p := New()
	var ev event.Event
	n := 0
	// Many interleaved attempts: each pair must give exactly one event.
	for id := range 5000 {
		for range 2 {
			line := []byte(`[2024/12/13 10:30:02.864 +09:00] [WARN] [conn.go:642] ["open new session or authentication failure"] [conn=` + itoa(id) + `] [error="[privilege:1045]Access denied for user 'root'@'127.0.0.1' (using password: YES)"]`)
			ev.Reset()
			ok, err := p.Parse(line, &ev)
			if err != nil {
				t.Fatal(err)
			}
			if ok {
				n++
			}
		}
	}
	if n != 5000 {
		t.Fatalf("got %d events for 5000 attempts", n)
	}
}

func itoa(i int) string {
	var b [20]byte
	j := len(b)
	for {
		j--
		b[j] = byte('0' + i%10)
		i /= 10
		if i == 0 {
			break
		}
	}
	return string(b[j:])
}

func BenchmarkParse(b *testing.B) {
	for _, bc := range []struct {
		name string
		line []byte
	}{{"ignored", lineIgnored}, {"crucial", lineCrucial}, {"denied", lineDenied}} {
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

// TestJSONLayout: log.format = "json" lines (the records of tidb.log in the
// JSON layout pingcap/log writes) give the same events as the text layout.
func TestJSONLayout(t *testing.T) {
	parsetest.Golden(t, Format, "tidb-json")
	parsetest.SameEvents(t, Format, "testdata/tidb.log", "testdata/tidb-json.log")
}
