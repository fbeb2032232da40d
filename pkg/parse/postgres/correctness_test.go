package postgres_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/dbsec/dbsec/pkg/collector"
	"github.com/dbsec/dbsec/pkg/detect"
	"github.com/dbsec/dbsec/pkg/event"
	"github.com/dbsec/dbsec/pkg/parse"
	"github.com/dbsec/dbsec/pkg/parse/parsetest"
	"github.com/dbsec/dbsec/pkg/parse/postgres"
	"github.com/dbsec/dbsec/pkg/parse/postgrescsv"
)

// TestRealServerCorrectness runs statements that a real PostgreSQL with
// pgaudit logs in ways the categories and detections must get right, and
// runs both of its logs through the parser, the detector and the collector
// as the pipeline does:
//   - session SET is other, SHOW a read (pgaudit calls both MISC);
//   - widening pgaudit.log is info, narrowing it or excluding a role
//     critical;
//   - pg_read_file and lo_import of paths under /etc are critical;
//   - another superuser changing postgres's password, which pgaudit logs
//     as PASSWORD <REDACTED>, fires D13;
//   - a CREATE TABLE that fails is not counted as DDL.
func TestRealServerCorrectness(t *testing.T) {
	pg := startPG(t, "read, write, ddl, role, misc, misc_set")
	pg.sql(true, "postgres", "adminpw", "postgres", `
CREATE ROLE dba LOGIN SUPERUSER PASSWORD 'dbapw';
SET search_path = public;
SHOW search_path;
CREATE TABLE t (id int);
ALTER SYSTEM SET pgaudit.log = 'all';
SELECT length(pg_read_file('/etc/passwd')) > 0;
SELECT lo_import('/etc/hostname') > 0;
`, true)
	pg.sql(true, "postgres", "adminpw", "postgres", "CREATE TABLE t (id int);\n", false)
	pg.sql(true, "dba", "dbapw", "postgres", "ALTER ROLE postgres PASSWORD 'adminpw2';\n", true)
	pg.sql(true, "postgres", "adminpw2", "postgres", `
ALTER SYSTEM SET pgaudit.log = 'all, -misc';
ALTER ROLE dba SET pgaudit.log = 'none';
`, true)
	pg.stop()

	logDir := filepath.Join(pg.data, "log")
	stderrFormat := postgres.Format
	stderrFormat.New = func(o parse.Options) parse.Parser {
		p, err := postgres.NewWithPrefix("%m [%p] %q%u@%d %h ", o)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, c := range []struct {
		name   string
		format parse.Format
		file   string
	}{{"stderr", stderrFormat, "pg"}, {"csvlog", postgrescsv.Format, "pg.csv"}} {
		t.Run(c.name, func(t *testing.T) {
			log := readFile(t, filepath.Join(logDir, c.file))
			reg := collector.NewRegistry()
			src := reg.Configure([]collector.SourceSpec{{Name: "pg", System: event.SystemPostgres}})[0]
			rules := detect.DefaultRules()
			off := false
			rules.Rule("D08").Enabled = &off // off-hours: depends on when the test runs
			det, err := detect.New(rules, detect.Options{IDGen: event.NewIDGen()})
			if err != nil {
				t.Fatal(err)
			}
			hits := map[string]int{}
			cats := map[string]string{}
			for _, r := range parsetest.Run(c.format, parsetest.Options(), log) {
				if r.Error != "" {
					t.Errorf("line %d: %s", r.Line, r.Error)
					continue
				}
				ev := r.Event
				ev.Source = "pg"
				for _, h := range det.Detect(ev) {
					hits[h.Rule+"/"+h.Severity]++
					if h.Rule == "privileged_account_changed" && (h.User != "dba" || !strings.Contains(h.Entity, "target=postgres")) {
						t.Errorf("D13 names %q / %q, want dba changing postgres", h.User, h.Entity)
					}
				}
				src.Count(ev)
				if ev.Statement != "" && ev.Category != event.CategoryError {
					cats[ev.Statement] = ev.Category.String()
				}
			}
			for stmt, want := range map[string]string{
				"SET search_path = public;":             "other",
				"SHOW search_path;":                     "read",
				"ALTER SYSTEM SET pgaudit.log = 'all';": "admin",
			} {
				if cats[stmt] != want {
					t.Errorf("%q: category %q, want %q", stmt, cats[stmt], want)
				}
			}
			want := map[string]int{
				"audit_disabled/info":                 1, // pgaudit.log = 'all'
				"audit_disabled/critical":             2, // 'all, -misc'; dba excluded ('none')
				"dangerous_feature/warning":           2, // any ALTER SYSTEM
				"file_access_sql/critical":            2, // pg_read_file, lo_import under /etc
				"privileged_account_changed/critical": 1, // dba changed postgres: PASSWORD <REDACTED>
				"broad_privilege_grant/critical":      1, // CREATE ROLE … SUPERUSER
				"insecure_account_created/info":       1, // CREATE ROLE dba
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
			pr := prometheus.NewPedanticRegistry()
			pr.MustRegister(reg)
			if got := testutil.ToFloat64(metric(t, pr, "dbsec_ddl_statements_total", "create_table")); got != 1 {
				t.Errorf("create_table counted %v times, want 1 (the second failed)", got)
			}
			if t.Failed() {
				t.Logf("log:\n%s", log)
			}
		})
	}
}

// metric returns the counter of name whose action label is action.
func metric(t *testing.T, g prometheus.Gatherer, name, action string) prometheus.Collector {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "x"})
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "action" && l.GetValue() == action {
					c.Add(m.GetCounter().GetValue())
				}
			}
		}
	}
	return c
}
