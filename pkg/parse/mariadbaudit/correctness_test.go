package mariadbaudit_test

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/dbsec/dbsec/pkg/collector"
	"github.com/dbsec/dbsec/pkg/detect"
	"github.com/dbsec/dbsec/pkg/event"
	"github.com/dbsec/dbsec/pkg/parse"
	"github.com/dbsec/dbsec/pkg/parse/mariadbaudit"
	"github.com/dbsec/dbsec/pkg/parse/parsetest"
)

// TestRealServerCorrectness runs statements a real MariaDB logs in ways the
// parsers, the counters and the detectors must get right, and runs its
// audit log through the parser, the detector and the collector as the
// pipeline does:
//   - failed privilege changes and DDL are not counted as changes;
//   - USE, SHOW, session and global SET get the categories of
//     docs/categories.md;
//   - turning audit on is info, excluding a user from it critical;
//   - LOAD_FILE of a sensitive path is critical;
//   - a password change of a privileged account by another account, which
//     server_audit logs masked (IDENTIFIED BY *****), fires D13.
func TestRealServerCorrectness(t *testing.T) {
	s := startServer(t)

	s.run(t, false, "root", "", `
CREATE DATABASE shop;
CREATE TABLE shop.orders (id INT PRIMARY KEY);
CREATE TABLE shop.orders (id INT PRIMARY KEY);
CREATE USER 'analyst'@'%' IDENTIFIED BY 'Secret-1';
CREATE USER 'analyst'@'%' IDENTIFIED BY 'Secret-1';
GRANT SELEC ON shop.* TO 'analyst'@'%';
GRANT SELECT ON shop.* TO 'analyst'@'%';
CREATE USER 'admin'@'localhost' IDENTIFIED BY 'Admin-1';
GRANT CREATE USER ON *.* TO 'analyst'@'%';
USE shop;
SHOW DATABASES;
SET NAMES utf8mb4;
SET GLOBAL max_connections = 200;
SET GLOBAL server_audit_logging = ON;
SET GLOBAL server_audit_events = 'CONNECT,QUERY,TABLE';
SET GLOBAL server_audit_excl_users = 'nobody_else';
SET GLOBAL server_audit_excl_users = '';
SELECT LOAD_FILE('/etc/passwd');
`, false) // --force: the client goes on after the three errors
	// Another account changes the privileged account's password.
	s.run(t, true, "analyst", "Secret-1", "ALTER USER 'admin'@'localhost' IDENTIFIED BY 'Admin-2';\n", false)

	audit := readLog(t, s.audit, ",DISCONNECT,", 2)
	if *saveReal {
		if err := os.WriteFile("testdata/real-10.11-correctness.log", audit, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if !strings.Contains(string(audit), "IDENTIFIED BY *****") {
		t.Fatalf("the server did not mask the password:\n%s", audit)
	}

	reg := collector.NewRegistry()
	src := reg.Configure([]collector.SourceSpec{{Name: "maria", System: event.SystemMariaDB}})[0]
	rules := detect.DefaultRules()
	off := false
	rules.Rule("D08").Enabled = &off // off-hours: depends on when the test runs
	det, err := detect.New(rules, detect.Options{IDGen: event.NewIDGen()})
	if err != nil {
		t.Fatal(err)
	}
	hits := map[string]int{} // rule/severity
	cats := map[string]string{}
	recs := parsetest.Run(mariadbaudit.Format, parse.Options{Location: time.UTC}.Defaults(), audit)
	for _, r := range recs {
		if r.Error != "" {
			t.Errorf("line %d: %s", r.Line, r.Error)
			continue
		}
		ev := r.Event
		ev.Source = "maria"
		for _, h := range det.Detect(ev) {
			hits[h.Rule+"/"+h.Severity]++
			if h.Rule == "privileged_account_changed" && (h.User != "analyst" || !strings.Contains(h.Entity, "target=admin")) {
				t.Errorf("D13 names %q / %q, want analyst changing admin", h.User, h.Entity)
			}
		}
		src.Count(ev)
		cats[ev.Statement] = ev.Category.String() + "/" + ev.Outcome.String()
	}

	// Item 7: what happened, not what was attempted.
	pr := prometheus.NewPedanticRegistry()
	pr.MustRegister(reg)
	mfs, err := pr.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		metric string
		labels string
		want   float64
	}{
		{"dbsec_privilege_changes_total", "action=create_user", 2}, // analyst, admin; not the duplicate
		{"dbsec_privilege_changes_total", "action=grant", 2},       // SELECT, CREATE USER; not the syntax error
		{"dbsec_privilege_changes_total", "action=alter_user", 1},
		{"dbsec_ddl_statements_total", "action=create_table", 1}, // not the duplicate
		{"dbsec_ddl_statements_total", "action=create_database", 1},
		{"dbsec_events_total", "category=privilege_change,outcome=failure", 2},
		{"dbsec_events_total", "category=ddl,outcome=failure", 1},
		{"dbsec_events_total", "category=privilege_change,outcome=success", 5},
	} {
		if got := value(mfs, c.metric, c.labels); got != c.want {
			t.Errorf("%s{%s} = %v, want %v", c.metric, c.labels, got, c.want)
		}
	}

	// Item 8: categories.
	for stmt, want := range map[string]string{
		"SHOW DATABASES":                   "read/success",
		"SET NAMES utf8mb4":                "other/success",
		"SET GLOBAL max_connections = 200": "admin/success",
		"SELECT LOAD_FILE('/etc/passwd')":  "read/success",
	} {
		if cats[stmt] != want {
			t.Errorf("%q: %q, want %q", stmt, cats[stmt], want)
		}
	}
	// The client sends USE as COM_INIT_DB; whatever server_audit writes
	// for it must not be admin.
	for stmt, c := range cats {
		if strings.HasPrefix(strings.ToUpper(stmt), "USE") && strings.HasPrefix(c, "admin") {
			t.Errorf("%q is %s", stmt, c)
		}
	}

	// Items 2, 3, 4: detections; no other rule fires.
	want := map[string]int{
		"audit_disabled/info":                 3, // logging=ON, events with QUERY+CONNECT, excl_users cleared
		"audit_disabled/critical":             1, // a user excluded
		"file_access_sql/critical":            1, // LOAD_FILE('/etc/passwd')
		"privileged_account_changed/critical": 1, // analyst changed admin, logged IDENTIFIED BY *****
		"insecure_account_created/critical":   1, // analyst@'%'
		"insecure_account_created/info":       1, // admin@localhost
		"broad_privilege_grant/critical":      1, // GRANT CREATE USER ON *.*
	}
	for k, n := range hits {
		if want[k] != n {
			t.Errorf("%s fired %d times, want %d", k, n, want[k])
		}
	}
	for k, n := range want {
		if hits[k] != n {
			t.Errorf("%s fired %d times, want %d", k, hits[k], n)
		}
	}
	if t.Failed() {
		t.Logf("audit log:\n%s", audit)
	}
}

// value returns the value of the series of metric whose labels include
// every name=value of labels ("a=b,c=d"), 0 when there is none.
func value(mfs []*dto.MetricFamily, metric, labels string) float64 {
	for _, mf := range mfs {
		if mf.GetName() != metric {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for _, kv := range strings.Split(labels, ",") {
				k, v, _ := strings.Cut(kv, "=")
				found := false
				for _, l := range m.GetLabel() {
					if l.GetName() == k && l.GetValue() == v {
						found = true
					}
				}
				if !found {
					continue next
				}
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}
