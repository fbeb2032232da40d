package drift

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/dbsec/dbsec/pkg/finding"
)

var update = flag.Bool("update", false, "rewrite golden files")

var clock = func() time.Time { return time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC) }

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	p := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if !bytes.Equal(want, got) {
		t.Errorf("%s differs from golden; run go test ./pkg/drift -update and review the diff\n--- got ---\n%s", name, got)
	}
}

func run(t *testing.T, cfg Config) Result {
	t.Helper()
	if cfg.Now == nil {
		cfg.Now = clock
	}
	c, err := NewChecker(cfg)
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func offline(name string, files ...string) Target {
	t := Target{Name: name, Facts: map[string]string{"offline": "true"}}
	for _, f := range files {
		t.Files = append(t.Files, FileSpec{Path: f})
	}
	return t
}

// statuses renders "RULE subject status" lines, the hand-reviewed part of
// each golden.
func statuses(res Result) map[string]string {
	m := map[string]string{}
	for _, f := range res.Findings {
		k := f.RuleID
		if f.Subject != "" {
			k = f.Subject + "/" + k
		}
		m[filepath.Base(f.File)+":"+k] = string(f.Status)
	}
	return m
}

// TestShippedExamples checks the products' own example configs against
// the findings the rule packs predict (expectations below reviewed by hand),
// and pins the full text and JSON output as goldens.
func TestShippedExamples(t *testing.T) {
	ex := "testdata/examples/"
	cases := []struct {
		name string
		tgt  Target
		root string
		want map[string]string // subset: file:rule -> status
	}{
		{"tidb", offline("tidb", ex+"tidb/config.toml"), "", map[string]string{
			"config.toml:TIDB-001": "pass", "config.toml:TIDB-002": "pass", "config.toml:TIDB-003": "pass",
			"config.toml:TIDB-004": "fail", "config.toml:TIDB-005": "pass", "config.toml:TIDB-006": "fail",
			"config.toml:TIDB-007": "pass", "config.toml:TIDB-008": "pass", "config.toml:TIDB-009": "pass",
			"config.toml:TIDB-010": "pass", "config.toml:TIDB-011": "fail", "config.toml:TIDB-012": "fail",
			"config.toml:TIDB-013": "fail", "config.toml:TIDB-014": "pass", "config.toml:TIDB-015": "fail",
			"config.toml:TIDB-016": "pass", "config.toml:TIDB-017": "pass", "config.toml:TIDB-018": "pass",
			"config.toml:TIDB-019": "unknown", "config.toml:TIDB-020": "unknown", "config.toml:TIDB-021": "fail",
		}},
		{"tdengine", offline("tdengine", ex+"tdengine/taos.cfg", ex+"tdengine/taosadapter.toml", ex+"tdengine/taoskeeper.toml"), "", map[string]string{
			"taos.cfg:TAOS-001": "fail", "taos.cfg:TAOS-002": "fail", "taos.cfg:TAOS-003": "fail", "taos.cfg:TAOS-004": "pass",
			"taos.cfg:TAOS-005": "fail", "taos.cfg:TAOS-006": "fail", "taos.cfg:TAOS-007": "pass", "taos.cfg:TAOS-008": "pass",
			"taos.cfg:TAOS-009": "pass", "taos.cfg:TAOS-010": "pass", "taos.cfg:TAOS-011": "unknown", "taos.cfg:TAOS-012": "pass",
			"taos.cfg:TAOS-013": "not_applicable", "taos.cfg:TAOS-014": "not_applicable",
			"taosadapter.toml:TADP-001": "fail", "taosadapter.toml:TADP-002": "fail", "taosadapter.toml:TADP-003": "pass",
			"taosadapter.toml:TADP-004": "fail", "taosadapter.toml:TADP-005": "fail", "taosadapter.toml:TADP-006": "unknown",
			"taosadapter.toml:TADP-007": "pass", "taosadapter.toml:TADP-008": "fail", "taosadapter.toml:TADP-009": "pass",
			"taosadapter.toml:TADP-010": "pass", "taosadapter.toml:TADP-011": "pass",
			"taoskeeper.toml:TADP-005": "fail", "taoskeeper.toml:TADP-009": "pass",
		}},
		{"redash-dev", offline("redash-dev", ex+"redash-dev/compose.yaml"), "", map[string]string{
			"compose.yaml:postgres/RDSH-013": "fail", "compose.yaml:server/RDSH-005": "fail", "compose.yaml:server/RDSH-004": "pass",
			"compose.yaml:server/CONF-001": "fail", "compose.yaml:server/RDSH-001": "unknown", "compose.yaml:server/RDSH-012": "pass",
		}},
		{"redash-ci", offline("redash-ci", ex+"redash-ci/compose.ci.yaml"), "", map[string]string{
			"compose.ci.yaml:postgres/RDSH-013": "fail", "compose.ci.yaml:redash/RDSH-001": "fail", "compose.ci.yaml:redash/RDSH-002": "fail",
			"compose.ci.yaml:redash/RDSH-014": "fail", "compose.ci.yaml:redash/RDSH-004": "fail", "compose.ci.yaml:redash/RDSH-005": "pass",
		}},
		{"redash-setup", offline("redash-setup", ex+"redash-setup/compose.yaml", ex+"redash-setup/opt/redash/env"), ex + "redash-setup", map[string]string{
			"compose.yaml:server/RDSH-001": "pass", "compose.yaml:server/RDSH-002": "pass", "compose.yaml:server/RDSH-003": "fail",
			"compose.yaml:server/RDSH-004": "fail", "compose.yaml:server/RDSH-014": "pass", "compose.yaml:postgres/RDSH-013": "pass",
			"env:RDSH-001": "pass", "env:RDSH-018": "unknown",
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := run(t, Config{Targets: []Target{tc.tgt}, Read: ReadOptions{Root: tc.root}, HMACKey: []byte("golden-key")})
			got := statuses(res)
			for k, want := range tc.want {
				if got[k] != want {
					t.Errorf("%s: want %s, got %q", k, want, got[k])
				}
			}
			var txt, js bytes.Buffer
			if err := Write(&txt, "text", res); err != nil {
				t.Fatal(err)
			}
			if err := Write(&js, "json", res); err != nil {
				t.Fatal(err)
			}
			golden(t, tc.name+".txt", txt.Bytes())
			golden(t, tc.name+".json", js.Bytes())
		})
	}
}

// TestNoSecretInOutputs plants a unique secret in every file type and
// checks no output format (nor the snapshot) contains it.
func TestNoSecretInOutputs(t *testing.T) {
	dir := t.TempDir()
	const s = "PLANTEDs3cr3tVALUE9f8e7d"
	files := map[string]string{
		"tidb.toml":        "[security]\nsession-token-signing-key = \"" + s + "\"\nsome-password = \"" + s + "\"\n[status]\nmetrics-addr = \"http://u:" + s + "@push:9091\"\n",
		"taos.cfg":         "adapterToken " + s + "\ns3Accesskey " + s + "\n",
		"taosadapter.toml": "[statsd]\npassword = \"" + s + "\"\n[node_exporter]\nhttpBearerTokenString = \"" + s + "\"\n",
		"taoskeeper.toml":  "[tdengine]\npassword = \"" + s + "\"\n",
		"redash.env":       "REDASH_COOKIE_SECRET=" + s + "\nREDASH_DATABASE_URL=postgresql://postgres:" + s + "@db/postgres\n",
		"compose.yaml":     "services:\n  server:\n    image: redash/redash:10\n    environment:\n      REDASH_SECRET_KEY: \"" + s + "\"\n      REDASH_REDIS_URL: redis://:" + s + "@redis:6379/0\n  postgres:\n    image: postgres:16\n    environment:\n      POSTGRES_PASSWORD: " + s + "\n",
	}
	tgt := Target{Name: "planted", Facts: map[string]string{}}
	for n, body := range files {
		p := filepath.Join(dir, n)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		tgt.Files = append(tgt.Files, FileSpec{Path: p})
	}
	key := []byte("k")
	cfg := Config{Targets: []Target{tgt}, HMACKey: key, Now: clock}
	c, err := NewChecker(cfg)
	if err != nil {
		t.Fatal(err)
	}
	snap, err := BuildSnapshot(c, "me", "test")
	if err != nil {
		t.Fatal(err)
	}
	sb, err := snap.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sb, []byte(s)) {
		t.Fatalf("secret in snapshot:\n%s", sb)
	}
	// change every secret so that drift lists them too
	for n, body := range files {
		if err := os.WriteFile(filepath.Join(dir, n), []byte(strings.ReplaceAll(body, s, s+"X")), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	sp := filepath.Join(dir, "snap.toml")
	if err := os.WriteFile(sp, sb, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg.SnapshotFile = sp
	res := run(t, cfg)
	if len(res.Drift) == 0 {
		t.Fatal("expected drift")
	}
	for _, format := range Formats {
		var buf bytes.Buffer
		if err := Write(&buf, format, res); err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(buf.Bytes(), []byte(s)) {
			t.Errorf("%s output leaks the planted secret: %s", format, leakCtx(buf.String(), s))
		}
		if !bytes.Contains(buf.Bytes(), []byte("<redacted:hmac=")) && format != "junit" {
			t.Errorf("%s output shows no redaction marker", format)
		}
	}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(NewCollector(c))
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(fmt.Sprint(mfs), s) {
		t.Error("metrics leak the secret")
	}
}

var posRe = regexp.MustCompile(`^[^:\s]+:\d+:\d+: `)

func TestRuleFileErrorsArePositioned(t *testing.T) {
	cases := map[string]struct{ body, want string }{
		"syntax":      {"schema = \"dbsec.baseline/v1\"\n[[rule]\nid = 1\n", "x.toml:3:7: expected end of table array name"},
		"unknown key": {"schema = \"dbsec.baseline/v1\"\nid = \"p\"\nkind = \"tidb\"\n\n[[rule]]\nid = \"X-001\"\ntitle = \"t\"\nseverity = \"low\"\nrationale = \"r\"\nremediation = \"m\"\nreferences = [\"x\"]\nbogus = 1\n[rule.check]\nkey = \"host\"\nop = \"present\"\n", "x.toml:12:1: unknown key \"rule.bogus\""},
		"bad op":      {"schema = \"dbsec.baseline/v1\"\nid = \"p\"\nkind = \"tidb\"\n\n[[rule]]\nid = \"X-001\"\ntitle = \"t\"\nseverity = \"low\"\nrationale = \"r\"\nremediation = \"m\"\nreferences = [\"x\"]\n[[rule.check.all]]\nkey = \"host\"\nop = \"present\"\n[[rule.check.all]]\nkey = \"port\"\n  op = \"frobnicate\"\n", "x.toml:17:3: rule X-001: unknown op \"frobnicate\""},
		"bad sev":     {"schema = \"dbsec.baseline/v1\"\nid = \"p\"\nkind = \"tidb\"\n[[rule]]\nid = \"X-001\"\ntitle = \"t\"\nseverity = \"severe\"\nrationale = \"r\"\nremediation = \"m\"\nreferences = [\"x\"]\n[rule.check]\nkey = \"host\"\nop = \"present\"\n", "x.toml:7:1: rule X-001: unknown severity"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := LoadRules(true, map[string][]byte{"x.toml": []byte(tc.body)})
			if err == nil {
				t.Fatal("want error")
			}
			if !errors.Is(err, ErrConfig) {
				t.Errorf("error does not wrap ErrConfig: %v", err)
			}
			if !strings.Contains(err.Error(), tc.want) || !posRe.MatchString(err.Error()) {
				t.Errorf("want %q in positioned error, got %q", tc.want, err)
			}
		})
	}
}

func TestBuiltinPacksCoverCatalogue(t *testing.T) {
	rs, err := LoadRules(false, nil)
	if err != nil {
		t.Fatal(err)
	}
	var missing []string
	for _, id := range strings.Fields(`TIDB-001 TIDB-002 TIDB-003 TIDB-004 TIDB-005 TIDB-006 TIDB-007 TIDB-008 TIDB-009 TIDB-010
TIDB-011 TIDB-012 TIDB-013 TIDB-014 TIDB-015 TIDB-016 TIDB-017 TIDB-018 TIDB-019 TIDB-020 TIDB-021 TIKV-001 TIKV-002 TIKV-003
TAOS-001 TAOS-002 TAOS-003 TAOS-004 TAOS-005 TAOS-006 TAOS-007 TAOS-008 TAOS-009 TAOS-010 TAOS-011 TAOS-012 TAOS-013 TAOS-014
TADP-001 TADP-002 TADP-003 TADP-004 TADP-005 TADP-006 TADP-007 TADP-008 TADP-009 TADP-010 TADP-011
RDSH-001 RDSH-002 RDSH-003 RDSH-004 RDSH-005 RDSH-006 RDSH-007 RDSH-008 RDSH-009 RDSH-010 RDSH-011 RDSH-012 RDSH-013 RDSH-014
RDSH-015 RDSH-016 RDSH-017 RDSH-018`) {
		if _, ok := rs.Get(id); !ok {
			missing = append(missing, id)
		}
	}
	if len(missing) > 0 {
		t.Fatalf("catalogue rules missing: %v", missing)
	}
}

const overridesOK = `schema = "dbsec.overrides/v1"
[profile]
disable = ["TIDB-021"]
max_waiver_days = 400

[[waiver]]
id = "w-host"
rule = "TIDB-015"
targets = ["tidb*"]
reason = "pod IP only; NetworkPolicy np-tidb"
owner = "dba-platform"
created = 2026-01-10
expires = 2026-07-10

[[waiver]]
id = "w-old"
rule = "TIDB-013"
reason = "spill encryption pending CHG-1"
owner = "dba-platform"
created = 2025-06-01
expires = 2026-01-01

[[waiver]]
id = "w-stale"
rule = "TIDB-001"
reason = "nothing to waive"
owner = "dba-platform"
expires = 2026-06-01

[[severity_override]]
rule = "TIDB-012"
severity = "high"
reason = "shared cluster: SEM is our control"
`

func TestOverrides(t *testing.T) {
	p := "testdata/overrides/prod.toml"
	if b, err := os.ReadFile(p); err != nil || string(b) != overridesOK {
		t.Fatalf("%s must equal overridesOK (err %v)", p, err)
	}
	res := run(t, Config{Targets: []Target{offline("tidb-prod", "testdata/examples/tidb/config.toml")}, OverridesFile: p})
	byRule := map[string]finding.Finding{}
	for _, f := range res.Findings {
		byRule[f.RuleID] = f
	}
	if _, ok := byRule["TIDB-021"]; ok {
		t.Error("disabled rule evaluated")
	}
	if f := byRule["TIDB-015"]; !f.Waived() || f.Status != finding.Fail {
		t.Errorf("TIDB-015 should be fail+waived: %+v", f.Waiver)
	}
	if f := byRule["TIDB-013"]; f.Waived() || !f.Failing() || f.Waiver == nil || !f.Waiver.Expired {
		t.Errorf("expired waiver must fail again: %+v", f.Waiver)
	}
	if f, ok := byRule["WAIVER-EXPIRED"]; !ok || f.Severity != finding.Low {
		t.Errorf("WAIVER-EXPIRED missing or wrong severity: %+v", f)
	}
	if _, ok := byRule["WAIVER-STALE"]; !ok {
		t.Error("WAIVER-STALE missing")
	}
	if f := byRule["TIDB-012"]; f.Severity != finding.High || f.SeverityOverride == nil || f.SeverityOverride.From != finding.Low {
		t.Errorf("severity override not applied: %+v", f)
	}
	for _, format := range Formats {
		var buf bytes.Buffer
		if err := Write(&buf, format, res); err != nil {
			t.Fatal(err)
		}
		out := buf.String()
		if !strings.Contains(out, "shared cluster: SEM is our control") && format != "text" || format == "text" && !strings.Contains(out, "(was low)") {
			t.Errorf("%s output does not show the severity override", format)
		}
	}
	var txt bytes.Buffer
	Write(&txt, "text", res)
	golden(t, "overrides.txt", txt.Bytes())
}

func TestBadOverridesStopTheRun(t *testing.T) {
	cases := map[string]struct{ body, want string }{
		"no owner":     {"schema = \"dbsec.overrides/v1\"\n\n[[waiver]]\nrule = \"TIDB-015\"\nreason = \"r\"\nexpires = 2026-07-10\n", "o.toml:4:1: waiver TIDB-015#1: owner is required"},
		"unknown rule": {"schema = \"dbsec.overrides/v1\"\n[[waiver]]\nrule = \"NOPE-001\"\nreason = \"r\"\nowner = \"o\"\nexpires = 2026-07-10\n", "o.toml:3:1: waiver NOPE-001#1: unknown rule id"},
		"unknown key":  {"schema = \"dbsec.overrides/v1\"\n[[waiver]]\nrule = \"TIDB-015\"\nreason = \"r\"\nowner = \"o\"\nexpires = 2026-07-10\n  expiry = 2026-07-10\n", "o.toml:7:3: unknown key \"waiver.expiry\""},
		"bad severity": {"schema = \"dbsec.overrides/v1\"\n[[severity_override]]\nrule = \"TIDB-012\"\nseverity = \"urgent\"\nreason = \"r\"\n", "o.toml:4:1: severity_override TIDB-012"},
		"syntax":       {"schema = \"dbsec.overrides/v1\"\n[[waiver]]\nrule = TIDB-015\n", "o.toml:3:"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			p := filepath.Join(dir, "o.toml")
			os.WriteFile(p, []byte(tc.body), 0o644)
			_, err := NewChecker(Config{OverridesFile: p, Now: clock})
			if err == nil || !errors.Is(err, ErrConfig) {
				t.Fatalf("want config error, got %v", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("want %q, got %q", tc.want, err)
			}
		})
	}
}

func TestCollector(t *testing.T) {
	c, err := NewChecker(Config{Targets: []Target{offline("tidb-1", "testdata/examples/tidb/config.toml")}, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	col := NewCollector(c)
	if n := testutil.CollectAndCount(col); n != 0 {
		t.Fatalf("before Run: %d series", n)
	}
	if _, err := c.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(col)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			l := map[string]string{}
			for _, lp := range m.GetLabel() {
				l[lp.GetName()] = lp.GetValue()
			}
			got[mf.GetName()+"/"+l["target"]+"/"+l["rule"]+"/"+l["severity"]] = m.GetGauge().GetValue()
		}
	}
	for k, want := range map[string]float64{
		"dbsec_config_findings/tidb-1/TIDB-001/critical": 0,
		"dbsec_config_findings/tidb-1/TIDB-004/high":     1,
		"dbsec_config_findings/tidb-1/TIDB-015/low":      1,
	} {
		if v, ok := got[k]; !ok || v != want {
			t.Errorf("%s = %v (present %v), want %v", k, v, ok, want)
		}
	}
	if _, ok := got["dbsec_config_findings/tidb-1/TIDB-019/high"]; !ok {
		t.Error("unknown findings must still have a 0 series")
	}
	probs, err := testutil.GatherAndLint(func() prometheus.Gatherer { r := prometheus.NewRegistry(); r.MustRegister(col); return r }())
	if err != nil || len(probs) > 0 {
		t.Error(err, probs)
	}
}

func TestTaosCfgPolicy(t *testing.T) {
	d := ParseTaosCfg("taos.cfg", []byte("# c\nDebugFlag 135\n  debugflag   143 # trace\ndataDir /a 0 1\ndataDir /b 1 0\nfqdn\r\n"))
	e, ok := d.Get("DEBUGFLAG")
	if !ok || e.Value != "143" || e.Line != 3 || e.Col != 3 {
		t.Fatalf("case-insensitive last-wins: %+v", e)
	}
	if len(d.Dups) != 1 || d.Dups[0].FirstLine != 2 {
		t.Fatalf("dups: %+v", d.Dups)
	}
	if e, _ := d.Get("dataDir"); e.Value != "/a 0 1; /b 1 0" {
		t.Fatalf("dataDir: %q", e.Value)
	}
	if e, _ := d.Get("fqdn"); e.Value != "" {
		t.Fatalf("fqdn: %q", e.Value)
	}
}

func TestEnvAndComposeReaders(t *testing.T) {
	d := ParseEnv("e", []byte("export A=1\nB='x y' # c\nC=\"q\"\nD=v #c\nbad line\nA=2\n"))
	for k, want := range map[string]string{"A": "2", "B": "x y", "C": "q", "D": "v"} {
		if e, _ := d.Get(k); e == nil || e.Value != want {
			t.Errorf("%s: %+v", k, e)
		}
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "base.env"), []byte("REDASH_ENFORCE_CSRF=false\nREDASH_LOG_LEVEL=INFO\n"), 0o644)
	compose := "x: &e\n  REDASH_LOG_LEVEL: DEBUG\nservices:\n  server:\n    image: redash/redash:10\n    env_file: [base.env, {path: missing.env, required: false}]\n    environment:\n      <<: *e\n      REDASH_ENFORCE_CSRF: \"true\"\n  w:\n    image: redash/redash:10\n    env_file: gone.env\n    environment: [\"A=1\", \"FROM_SHELL\"]\n"
	p := filepath.Join(dir, "compose.yaml")
	docs := Parse(p, KindCompose, []byte(compose), ReadOptions{})
	if len(docs) != 2 {
		t.Fatalf("docs: %d", len(docs))
	}
	s := docs[0]
	if e, _ := s.Get("REDASH_ENFORCE_CSRF"); e.Value != "true" {
		t.Errorf("environment must override env_file: %v", e.Value)
	}
	if e, _ := s.Get("REDASH_LOG_LEVEL"); e.Value != "DEBUG" || e.Line != 2 {
		t.Errorf("merge key: %+v", e)
	}
	if len(s.Unresolved) != 0 || s.Role != "redash" {
		t.Errorf("server: %+v %q", s.Unresolved, s.Role)
	}
	if len(docs[1].Unresolved) != 2 {
		t.Errorf("w unresolved: %v", docs[1].Unresolved)
	}
}

func TestHostChecks(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "taosadapter.toml")
	os.WriteFile(p, []byte("[statsd]\npassword = \"x9\"\n"), 0o644)
	os.Chmod(p, 0o644)
	res := run(t, Config{Targets: []Target{{Name: "h", Files: []FileSpec{{Path: p}}}}})
	for _, f := range res.Findings {
		if f.RuleID == "TADP-006" && (f.Status != finding.Fail || f.Observed != "0644") {
			t.Errorf("TADP-006: %+v", f)
		}
	}
	os.Chmod(p, 0o600)
	res = run(t, Config{Targets: []Target{{Name: "h", Files: []FileSpec{{Path: p}}}}})
	for _, f := range res.Findings {
		if f.RuleID == "TADP-006" && f.Status != finding.Pass {
			t.Errorf("TADP-006 after chmod: %+v", f)
		}
	}
}

func TestVersionedDefaults(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "tidb.toml")
	os.WriteFile(p, []byte("host = \"10.0.0.1\"\n"), 0o644)
	tgt := offline("v", p)
	tgt.Versions = map[Kind]string{"": "7.5.0"}
	res := run(t, Config{Targets: []Target{tgt}})
	st := statuses(res)
	if st["tidb.toml:TIDB-014"] != "unknown" {
		t.Errorf("enable-telemetry has no verified default before 8.1: %s", st["tidb.toml:TIDB-014"])
	}
	tgt.Versions = map[Kind]string{"": "5.4.0"}
	res = run(t, Config{Targets: []Target{tgt}})
	if st := statuses(res); st["tidb.toml:TIDB-009"] != "not_applicable" {
		t.Errorf("TIDB-009 before 6.1: %s", st["tidb.toml:TIDB-009"])
	}
}

// TestOutputGoldens renders one target in SARIF and JUnit, as
// `check-config --fact offline=true --output.format F taosadapter.toml` does.
func TestOutputGoldens(t *testing.T) {
	tgt := Target{Name: "default", Versions: map[Kind]string{}, Facts: map[string]string{"offline": "true"}, Edition: "community",
		Files: []FileSpec{{Path: "testdata/examples/tdengine/taosadapter.toml", Kind: KindTaosAdapter}}}
	c, err := NewChecker(Config{Targets: []Target{tgt}})
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"sarif", "junit"} {
		var out bytes.Buffer
		if err := Write(&out, f, res); err != nil {
			t.Fatal(err)
		}
		golden(t, "taosadapter."+f, out.Bytes())
	}
}

func leakCtx(out, s string) string {
	i := strings.Index(out, s)
	return out[max(0, i-200):min(len(out), i+50)]
}
