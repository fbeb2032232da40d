package detect_test

import (
	"os"
	"testing"

	"github.com/dbsec/dbsec/pkg/detect"
	"github.com/dbsec/dbsec/pkg/event"
	"github.com/dbsec/dbsec/pkg/parse"
	"github.com/dbsec/dbsec/pkg/parse/parsetest"
	"github.com/dbsec/dbsec/pkg/parse/tidbauditplugin"
	"github.com/dbsec/dbsec/pkg/parse/tidblog"
)

// TestOneServerTwoLogs reads testdata/one-server (a TiDB whose failed
// logins are only in tidb.log and whose successful login and statements are
// in the audit log, and which records CREATE USER in both) as two sources,
// first each a server of its own, then both with one server key, merged in
// time order as the exporter sees them.
func TestOneServerTwoLogs(t *testing.T) {
	type rec struct {
		src string
		ev  *event.Event
	}
	var recs []rec
	for _, f := range []struct {
		src, file string
		format    parse.Format
	}{{"tidb-1-log", "tidb.log", tidblog.Format}, {"tidb-1-audit", "tidb-audit.log", tidbauditplugin.Format}} {
		b, err := os.ReadFile("testdata/one-server/" + f.file)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range parsetest.Run(f.format, parsetest.Options(), b) {
			if r.Error != "" {
				t.Fatalf("%s:%d: %s", f.file, r.Line, r.Error)
			}
			r.Event.Source = f.src
			recs = append(recs, rec{f.src, r.Event})
		}
	}
	// Time order across the two files.
	for i := 1; i < len(recs); i++ {
		for j := i; j > 0 && recs[j].ev.Time.Before(recs[j-1].ev.Time); j-- {
			recs[j], recs[j-1] = recs[j-1], recs[j]
		}
	}
	run := func(servers map[string]string) map[string]int {
		rules := detect.DefaultRules()
		off := false
		rules.Rule("D08").Enabled = &off // off-hours: not what this test is about
		d, err := detect.New(rules, detect.Options{Servers: servers, IDGen: event.NewIDGen()})
		if err != nil {
			t.Fatal(err)
		}
		hits := map[string]int{}
		for _, r := range recs {
			ev := r.ev.Clone()
			ev.Hits, ev.Detections, ev.ID = nil, nil, ""
			for _, h := range d.Detect(ev) {
				hits[h.Rule+"/"+h.Severity+"/"+h.Source]++
			}
		}
		return hits
	}
	check := func(name string, got, want map[string]int) {
		t.Helper()
		for k, n := range got {
			if want[k] != n {
				t.Errorf("%s: %s fired %d times, want %d", name, k, n, want[k])
			}
		}
		for k, n := range want {
			if got[k] != n {
				t.Errorf("%s: %s fired %d times, want %d", name, k, got[k], n)
			}
		}
	}
	// Each log a server of its own: the failures and the success never
	// meet, and the account creation fires once per log.
	check("apart", run(nil), map[string]int{
		"brute_force_user/warning/tidb-1-log":            0,
		"insecure_account_created/critical/tidb-1-log":   1,
		"insecure_account_created/critical/tidb-1-audit": 1,
		"privileged_account_changed/critical/tidb-1-log": 1,
		"unexpected_network/warning/tidb-1-log":          0,
	})
	// One server: five failures in tidb.log, then the success in the audit
	// log is a brute force that succeeded; CREATE USER 'app2'@'%' (any
	// host, no password) is seen in both logs and fires once.
	check("one server", run(map[string]string{"tidb-1-log": "tidb-1", "tidb-1-audit": "tidb-1"}), map[string]int{
		"brute_force_success/critical/tidb-1-audit":      1,
		"insecure_account_created/critical/tidb-1-log":   1,
		"privileged_account_changed/critical/tidb-1-log": 1,
	})
}
