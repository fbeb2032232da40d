package export

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dbsec/dbsec/pkg/event"
	"github.com/dbsec/dbsec/pkg/store/storetest"
)

var update = flag.Bool("update", false, "rewrite testdata/golden.jsonl")

var t0 = time.Date(2026, 3, 1, 10, 0, 0, 123000000, time.UTC)

// goldenEvents cover each OCSF class the mapping produces, and carry
// planted secrets.
func goldenEvents() []*event.Event {
	return []*event.Event{
		{ID: "019ca8a4b2f8000000000001", Time: t0, Source: "mariadb-1", System: event.SystemMariaDB, Format: "mariadb-audit",
			Category: event.CategoryLogin, Action: event.ActionConnect, Outcome: event.OutcomeFailure, User: "alice",
			ClientIP: "10.0.0.5", ClientPort: 51234, Server: "db1", StatusCode: "1045", ConnectionID: "42",
			Reason: "Access denied for user 'alice'@'10.0.0.5' (using password: YES)",
			Raw:    "20260301 10:00:00,db1,alice,10.0.0.5,42,0,FAILED_CONNECT,,,1045",
			Origin: event.Origin{File: "/var/log/mysql/server_audit.log", Offset: 4096}},
		{ID: "019ca8a4b2f8000000000002", Time: t0, Source: "tidb-1-audit", System: event.SystemTiDB, Format: "tidb-audit",
			Category: event.CategoryPrivilegeChange, Action: event.ActionCreateUser, Outcome: event.OutcomeSuccess, User: "root",
			ClientIP: "10.0.0.9", Statement: "CREATE USER 'bob'@'%' IDENTIFIED BY 'Sup3rS3cretPw!'", Digest: "abc123",
			Raw: `[SQL_TEXT="CREATE USER 'bob'@'%' IDENTIFIED BY 'Sup3rS3cretPw!'"]`, Detections: []string{"D11"}},
		{ID: "019ca8a4b2f8000000000003", Time: t0, Source: "tidb-1-audit", System: event.SystemTiDB, Format: "tidb-audit",
			Category: event.CategoryPrivilegeChange, Action: event.ActionGrant, Outcome: event.OutcomeSuccess, User: "root",
			Database: "shop", Statement: "GRANT ALL ON *.* TO 'bob'@'%' WITH GRANT OPTION"},
		{ID: "019ca8a4b2f8000000000004", Time: t0, Source: "tidb-1-audit", System: event.SystemTiDB, Format: "tidb-audit",
			Category: event.CategoryAdmin, Action: event.ActionBackup, Outcome: event.OutcomeSuccess, User: "root",
			Statement: "BACKUP DATABASE * TO 's3://bucket/b?access-key=AKIAIOSFODNN7EXAMPLE&secret-access-key=wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY'"},
		{ID: "019ca8a4b2f8000000000005", Time: t0, Source: "redash-nginx", System: event.SystemRedash, Format: "nginx-redash",
			Category: event.CategoryRead, Action: event.ActionSelect, Outcome: event.OutcomeSuccess, ClientIP: "203.0.113.7",
			StatusCode: "200", Raw: `203.0.113.7 - - [01/Mar/2026:10:00:00 +0000] "GET /api/queries/5/results.csv?api_key=rd_apikey_9f8e7d6c5b4a HTTP/1.1" 200 12 "-" "curl/8"`},
		{ID: "019ca8a4b2f8000000000006", Time: t0, Source: "pg-1", System: event.SystemPostgres, Format: "postgres",
			Category: event.CategoryDMLWrite, Action: event.ActionDelete, Outcome: event.OutcomeSuccess, User: "app", Database: "shop",
			Objects: []string{"public.orders"}, Statement: "DELETE FROM orders WHERE id = 5", Rows: 1, HasRows: true,
			Duration: 0.0125, HasDuration: true},
		{ID: "019ca8a4b2f8000000000007", Time: t0, Source: "tdengine-1", System: event.SystemTDengine, Format: "tdengine-taosd",
			Category: event.CategoryLogin, Action: event.ActionConnect, Outcome: event.OutcomeFailure, User: "root",
			ClientIP: "10.0.0.8", Reason: "invalid pass, input:taosPassw0rd"},
		{ID: "019ca8a4b2f8000000000008", Time: t0, Source: "mariadb-1", System: event.SystemMariaDB, Format: "mariadb-audit",
			Category: event.CategoryAccessDenied, Action: event.ActionDropTable, Outcome: event.OutcomeFailure, User: "app",
			Statement: "DROP TABLE orders", StatusCode: "1142"},
	}
}

var secrets = []string{"Sup3rS3cretPw!", "wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY", "rd_apikey_9f8e7d6c5b4a", "taosPassw0rd"}

// TestGolden compares the records of goldenEvents with
// testdata/golden.jsonl (reviewed by hand).
func TestGolden(t *testing.T) {
	var buf bytes.Buffer
	x, err := New(Options{W: &buf})
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range goldenEvents() {
		x.Consume(ev)
	}
	if err := x.Close(); err != nil {
		t.Fatal(err)
	}
	if x.Written() != int64(len(goldenEvents())) || x.Errors() != 0 {
		t.Fatalf("written %d, errors %d", x.Written(), x.Errors())
	}
	golden := filepath.Join("testdata", "golden.jsonl")
	if *update {
		if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Split(strings.TrimSpace(buf.String()), "\n")
	wl := strings.Split(strings.TrimSpace(string(want)), "\n")
	if len(got) != len(wl) {
		t.Fatalf("%d lines, want %d", len(got), len(wl))
	}
	for i := range got {
		if got[i] != wl[i] {
			t.Errorf("line %d:\n got %s\nwant %s", i+1, got[i], wl[i])
		}
	}
	for _, sec := range secrets {
		if strings.Contains(buf.String(), sec) {
			t.Errorf("secret %q exported", sec)
		}
	}
}

// TestClasses checks the OCSF class of each kind of event.
func TestClasses(t *testing.T) {
	want := []struct {
		class, activity, status int
	}{
		{ClassAuthentication, 1, 2},
		{ClassAccountChange, 1, 1},
		{ClassUserAccessManagement, 1, 1},
		{ClassDatastoreActivity, 99, 1},
		{ClassDatastoreActivity, 1, 1},
		{ClassDatastoreActivity, 7, 1},
		{ClassAuthentication, 1, 2},
		{ClassDatastoreActivity, 7, 2},
	}
	for i, ev := range goldenEvents() {
		r := Convert(ev)
		if r.ClassUID != want[i].class || r.ActivityID != want[i].activity || r.StatusID != want[i].status || r.TypeUID != r.ClassUID*100+r.ActivityID {
			t.Errorf("event %d (%s %s): class %d activity %d status %d, want %+v", i+1, ev.Category, ev.Action, r.ClassUID, r.ActivityID, r.StatusID, want[i])
		}
	}
}

// TestRotation writes more than MaxFiles files' worth and checks that every
// kept line is a whole JSON record, the files stay under MaxBytes, only
// MaxFiles rotated files are kept, and the newest lines are all there.
func TestRotation(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "events.jsonl")
	x, err := New(Options{Path: path, MaxBytes: 64 << 10, MaxFiles: 3})
	if err != nil {
		t.Fatal(err)
	}
	g := storetest.New(3, t0, time.Hour, 3000)
	var ids []string
	for ev := g.Next(); ev != nil; ev = g.Next() {
		ids = append(ids, ev.ID)
		x.Consume(ev)
	}
	if err := x.Close(); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(path + "*")
	if len(files) != 4 {
		t.Fatalf("files %v, want events.jsonl and 3 rotated", files)
	}
	seen := map[string]bool{}
	for _, f := range files {
		fi, _ := os.Stat(f)
		if fi.Size() > 64<<10 {
			t.Errorf("%s is %d bytes, over MaxBytes", f, fi.Size())
		}
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(fh)
		sc.Buffer(nil, 1<<20)
		for n := 1; sc.Scan(); n++ {
			var r Record
			if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
				t.Fatalf("%s:%d: %v", f, n, err)
			}
			if seen[r.Metadata.UID] {
				t.Fatalf("%s:%d: %s exported twice", f, n, r.Metadata.UID)
			}
			seen[r.Metadata.UID] = true
		}
		fh.Close()
	}
	// The kept files hold a contiguous tail of the stream.
	tail := ids[len(ids)-len(seen):]
	for _, id := range tail {
		if !seen[id] {
			t.Fatalf("%s missing from the kept files", id)
		}
	}
	if len(seen) < 100 || x.Written() != 3000 {
		t.Fatalf("kept %d of %d written", len(seen), x.Written())
	}
	x.Consume(goldenEvents()[0])
	if x.Errors() != 1 {
		t.Fatalf("an event after Close: errors %d, want 1", x.Errors())
	}
}

// TestFlushWhenIdle checks that the last line reaches the file without a
// further event or a Close.
func TestFlushWhenIdle(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.jsonl")
	x, err := New(Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	x.Consume(goldenEvents()[0])
	x.Consume(goldenEvents()[1])
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		b, _ := os.ReadFile(path)
		if bytes.Count(b, []byte("\n")) == 2 {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("the buffered lines did not reach the file within 5s")
}

func TestNeedsOutput(t *testing.T) {
	if _, err := New(Options{}); err == nil {
		t.Fatal("no error without a path or writer")
	}
	if _, err := New(Options{Path: filepath.Join(t.TempDir(), "no", "such", "dir", "x")}); err == nil {
		t.Fatal("no error for an unwritable path")
	}
}

func BenchmarkConsume(b *testing.B) {
	var buf bytes.Buffer
	x, _ := New(Options{W: &buf})
	evs := goldenEvents()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		x.Consume(evs[i%len(evs)])
		if buf.Len() > 1<<20 {
			buf.Reset()
		}
	}
}
