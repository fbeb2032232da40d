// Package alerting holds no Go code: its tests check the Prometheus rule files
// in rules/, their promtool unit tests in tests/, the example Alertmanager
// configuration and the runbooks in docs/runbooks/.
package alerting

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/dbsec/dbsec/pkg/collector"
	"github.com/dbsec/dbsec/pkg/detect"
)

const runbookBase = "https://github.com/dbsec/dbsec/blob/main/docs/runbooks/"

var (
	// The project's severities (pkg/detect SevCritical, SevWarning, SevInfo).
	severities = []string{detect.SevCritical, detect.SevWarning, detect.SevInfo}
	// Metrics that rules may use beyond collector.Metrics(): the detection
	// and drift families of pkg/detect and pkg/drift, and the scrape's up.
	extraMetrics = []string{"dbsec_config_findings", "dbsec_config_drift_changes", "up"}
)

// tool returns the path of the first of names found in PATH. A missing tool
// fails the test when CI is set and skips it otherwise, naming the Debian
// package.
func tool(t *testing.T, pkg string, names ...string) string {
	t.Helper()
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	msg := fmt.Sprintf("%s not found in PATH: install the Debian package %s (apt-get install %s)", names[0], pkg, pkg)
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, out.String())
	}
	return out.String()
}

func ruleFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("rules/*.yml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no rule files in rules/: %v", err)
	}
	return files
}

func TestPromtoolCheckRules(t *testing.T) {
	promtool := tool(t, "prometheus", "promtool")
	run(t, promtool, append([]string{"check", "rules"}, ruleFiles(t)...)...)
}

func TestPromtoolTestRules(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped with -short: the promtool unit tests of every alert take about 40 s")
	}
	promtool := tool(t, "prometheus", "promtool")
	tests, err := filepath.Glob("tests/*.yml")
	if err != nil || len(tests) == 0 {
		t.Fatalf("no unit tests in tests/: %v", err)
	}
	run(t, promtool, append([]string{"test", "rules"}, tests...)...)
}

// TestPromtoolTestsCoverEveryAlert checks that every alert is the subject of
// a promtool alert_rule_test that expects it to fire and one that expects
// silence.
func TestPromtoolTestsCoverEveryAlert(t *testing.T) {
	type unitTests struct {
		Tests []struct {
			AlertRuleTest []struct {
				Alertname string           `yaml:"alertname"`
				ExpAlerts []map[string]any `yaml:"exp_alerts"`
			} `yaml:"alert_rule_test"`
		} `yaml:"tests"`
	}
	fires, silent := map[string]bool{}, map[string]bool{}
	tests, _ := filepath.Glob("tests/*.yml")
	for _, f := range tests {
		var ut unitTests
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := yaml.Unmarshal(b, &ut); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, tc := range ut.Tests {
			for _, a := range tc.AlertRuleTest {
				if len(a.ExpAlerts) > 0 {
					fires[a.Alertname] = true
				} else {
					silent[a.Alertname] = true
				}
			}
		}
	}
	for _, r := range loadRules(t) {
		if r.Alert == "" {
			continue
		}
		if !fires[r.Alert] {
			t.Errorf("%s: no promtool test expects %s to fire", r.file, r.Alert)
		}
		if !silent[r.Alert] {
			t.Errorf("%s: no promtool test expects %s to stay silent", r.file, r.Alert)
		}
	}
}

func TestAmtoolCheckConfig(t *testing.T) {
	amtool := tool(t, "prometheus-alertmanager", "amtool")
	run(t, amtool, "check-config", "alertmanager.yml")
	// Routing by severity.
	for labels, want := range map[string]string{
		"severity=critical":                         "security-pager",
		"severity=warning":                          "security-oncall",
		"severity=info":                             "security-ticket",
		"severity=info detection_severity=critical": "security-pager",
	} {
		args := append([]string{"config", "routes", "test", "--config.file=alertmanager.yml"}, strings.Fields(labels)...)
		cmd := exec.Command(amtool, args...)
		out, err := cmd.Output() // stderr holds a warning about --alertmanager.url
		if err != nil {
			t.Fatalf("amtool %s: %v", strings.Join(args, " "), err)
		}
		if got := strings.TrimSpace(string(out)); got != want {
			t.Errorf("route of {%s} = %q, want %q", labels, got, want)
		}
	}
}

// The rule-file schema of Prometheus 2.42 (rulefmt), decoded strictly.
type ruleFile struct {
	Groups []struct {
		Name     string `yaml:"name"`
		Interval string `yaml:"interval,omitempty"`
		Limit    int    `yaml:"limit,omitempty"`
		Rules    []rule `yaml:"rules"`
	} `yaml:"groups"`
}

type rule struct {
	Record        string            `yaml:"record,omitempty"`
	Alert         string            `yaml:"alert,omitempty"`
	Expr          string            `yaml:"expr"`
	For           string            `yaml:"for,omitempty"`
	KeepFiringFor string            `yaml:"keep_firing_for,omitempty"`
	Labels        map[string]string `yaml:"labels,omitempty"`
	Annotations   map[string]string `yaml:"annotations,omitempty"`

	file string
}

func loadRules(t *testing.T) []rule {
	t.Helper()
	var out []rule
	for _, f := range ruleFiles(t) {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(b))
		dec.KnownFields(true)
		var rf ruleFile
		if err := dec.Decode(&rf); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if len(rf.Groups) == 0 {
			t.Fatalf("%s: no groups", f)
		}
		for _, g := range rf.Groups {
			for _, r := range g.Rules {
				r.file = f
				out = append(out, r)
			}
		}
	}
	return out
}

// metricNames returns the metric names used in a PromQL expression: the
// identifiers that are not functions, aggregations, keywords, label names in
// by/without/on/ignoring/group_* lists, strings, numbers or durations, and are
// outside label matchers and range brackets.
func metricNames(expr string) []string {
	keywords := map[string]bool{"and": true, "or": true, "unless": true, "offset": true, "bool": true, "inf": true, "nan": true, "atan2": true}
	// Aggregation operators may be followed by by/without before their
	// parenthesis, so they are never metric names.
	aggregations := map[string]bool{"sum": true, "min": true, "max": true, "avg": true, "group": true, "stddev": true, "stdvar": true, "count": true, "count_values": true, "bottomk": true, "topk": true, "quantile": true}
	labelLists := map[string]bool{"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true}
	isIdentStart := func(c byte) bool { return c == '_' || c == ':' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') }
	isIdent := func(c byte) bool { return isIdentStart(c) || (c >= '0' && c <= '9') }
	skipTo := func(i int, open, close byte) int { // i at open; returns index after the matching close
		depth := 0
		for ; i < len(expr); i++ {
			switch expr[i] {
			case '"', '\'', '`':
				q := expr[i]
				for i++; i < len(expr) && expr[i] != q; i++ {
					if expr[i] == '\\' && q != '`' {
						i++
					}
				}
			case open:
				depth++
			case close:
				depth--
				if depth == 0 {
					return i + 1
				}
			}
		}
		return i
	}
	var names []string
	for i := 0; i < len(expr); {
		c := expr[i]
		switch {
		case c == '#':
			for i < len(expr) && expr[i] != '\n' {
				i++
			}
		case c == '"' || c == '\'' || c == '`':
			q := c
			for i++; i < len(expr) && expr[i] != q; i++ {
				if expr[i] == '\\' && q != '`' {
					i++
				}
			}
			i++
		case c == '{':
			i = skipTo(i, '{', '}')
		case c == '[':
			i = skipTo(i, '[', ']')
		case c >= '0' && c <= '9' || c == '.':
			for i < len(expr) && (isIdent(expr[i]) || expr[i] == '.') {
				i++
			}
		case isIdentStart(c):
			j := i
			for j < len(expr) && isIdent(expr[j]) {
				j++
			}
			word := expr[i:j]
			k := j
			for k < len(expr) && (expr[k] == ' ' || expr[k] == '\n' || expr[k] == '\t') {
				k++
			}
			nextParen := k < len(expr) && expr[k] == '('
			switch {
			case labelLists[word]:
				if nextParen {
					j = skipTo(k, '(', ')')
				}
			case keywords[word] || aggregations[word] || nextParen:
			default:
				names = append(names, word)
			}
			i = j
		default:
			i++
		}
	}
	return names
}

func TestMetricNames(t *testing.T) {
	got := metricNames(`quantile without (w) (0.5, count by (a) (x:y)) + sum without (reason) (rate(dbsec_parse_errors_total{a="b}"}[10m])) / on(x) group_left(y) rate(dbsec_lines_read_total[5m] offset 1w) > 0.01 and up{job=~"x"} == 0 or label_replace(foo, "a", "$1", "b", "(.*)")`)
	want := []string{"x:y", "dbsec_parse_errors_total", "dbsec_lines_read_total", "up", "foo"}
	if !slices.Equal(got, want) {
		t.Errorf("metricNames = %q, want %q", got, want)
	}
}

func TestRules(t *testing.T) {
	rules := loadRules(t)
	known := map[string]bool{}
	for _, m := range collector.Metrics() {
		known[m.Name] = true
		if m.Type == "histogram" {
			for _, s := range []string{"_bucket", "_sum", "_count"} {
				known[m.Name+s] = true
			}
		}
	}
	for _, m := range extraMetrics {
		known[m] = true
	}
	for _, m := range detect.MetricNames {
		known[m] = true
	}
	for _, r := range rules {
		if r.Record != "" {
			known[r.Record] = true
		}
	}
	alerts := map[string]bool{}
	for _, r := range rules {
		name := r.Alert + r.Record
		if (r.Alert == "") == (r.Record == "") {
			t.Errorf("%s: a rule needs exactly one of alert and record: %q", r.file, name)
		}
		for _, m := range metricNames(r.Expr) {
			if !known[m] {
				t.Errorf("%s: %s: metric %s is neither exported by pkg/collector nor a recording rule", r.file, name, m)
			}
		}
		if r.Alert == "" {
			continue
		}
		if alerts[r.Alert] {
			t.Errorf("%s: alert %s defined twice", r.file, r.Alert)
		}
		alerts[r.Alert] = true
		if !regexp.MustCompile(`^DBSec[A-Z][A-Za-z0-9]+$`).MatchString(r.Alert) {
			t.Errorf("%s: alert name %s is not DBSec<CamelCase>", r.file, r.Alert)
		}
		if !slices.Contains(severities, r.Labels["severity"]) {
			t.Errorf("%s: %s: severity %q is not one of %v", r.file, r.Alert, r.Labels["severity"], severities)
		}
		for _, a := range []string{"summary", "description", "runbook_url"} {
			if strings.TrimSpace(r.Annotations[a]) == "" {
				t.Errorf("%s: %s: annotation %s missing", r.file, r.Alert, a)
			}
		}
		if want := runbookBase + r.Alert + ".md"; r.Annotations["runbook_url"] != want {
			t.Errorf("%s: %s: runbook_url = %q, want %q", r.file, r.Alert, r.Annotations["runbook_url"], want)
		}
		rb := filepath.Join("..", "docs", "runbooks", r.Alert+".md")
		b, err := os.ReadFile(rb)
		if err != nil {
			t.Errorf("%s: %s: runbook: %v", r.file, r.Alert, err)
			continue
		}
		for _, m := range regexp.MustCompile("(?i)severity `([a-z]+)`").FindAllSubmatch(b, -1) {
			if string(m[1]) != r.Labels["severity"] {
				t.Errorf("%s: states severity %q, the alert has %q", rb, m[1], r.Labels["severity"])
			}
		}
		for _, h := range []string{"# " + r.Alert, "## What it means", "## Confirm", "## Contain", "## Close"} {
			if !bytes.Contains(b, []byte(h)) {
				t.Errorf("%s: section %q missing", rb, h)
			}
		}
	}
	// No orphan runbooks.
	mds, _ := filepath.Glob(filepath.Join("..", "docs", "runbooks", "*.md"))
	for _, md := range mds {
		if a := strings.TrimSuffix(filepath.Base(md), ".md"); !alerts[a] {
			t.Errorf("%s: no alert %s", md, a)
		}
	}
}

// A rule whose info tier is not an alert (D14: audit turned on) excludes it.
var detectionExpr = regexp.MustCompile(`^increase\(dbsec_detections_total\{rule="([a-z0-9_]+)"(?:,severity!="info")?\}\[\d+m\]\) > 0$`)

// detectionAlerts maps each detection rule name to its alert rule.
func detectionAlerts(t *testing.T) map[string]rule {
	t.Helper()
	out := map[string]rule{}
	for _, r := range loadRules(t) {
		if m := detectionExpr.FindStringSubmatch(strings.TrimSpace(r.Expr)); m != nil && r.Alert != "" {
			if _, dup := out[m[1]]; dup {
				t.Errorf("two alerts for detection %s", m[1])
			}
			out[m[1]] = r
		}
	}
	return out
}

// TestCatalogHasAlerts checks every rule of detect.Catalog() against the
// alerts: one alert per rule name, with the catalogue's default severity,
// keep_firing_for and no for; and no alert for a rule the catalogue lacks.
func TestCatalogHasAlerts(t *testing.T) {
	alerts := detectionAlerts(t)
	catalog := detect.Catalog()
	if len(catalog) == 0 {
		t.Fatal("detect.Catalog() is empty")
	}
	names := map[string]bool{}
	for _, ri := range catalog {
		names[ri.Name] = true
		if !slices.Contains(severities, ri.Severity) {
			t.Errorf("detect.Catalog() rule %s (%s): severity %q is not one of %v", ri.Name, ri.ID, ri.Severity, severities)
		}
		r, ok := alerts[ri.Name]
		if !ok {
			t.Errorf("detection %s (%s) has no alert on dbsec_detections_total{rule=%q}", ri.Name, ri.ID, ri.Name)
			continue
		}
		if got := r.Labels["severity"]; got != ri.Severity {
			t.Errorf("%s (%s): severity %q, catalogue severity %q", r.Alert, ri.Name, got, ri.Severity)
		}
		if r.KeepFiringFor == "" {
			t.Errorf("%s (%s): one-shot detection alerts need keep_firing_for", r.Alert, ri.Name)
		}
		if r.For != "" {
			t.Errorf("%s (%s): one-shot detection alerts fire without for", r.Alert, ri.Name)
		}
		if !strings.Contains(r.Annotations["drilldown_url"], "rule="+ri.Name) {
			t.Errorf("%s (%s): drilldown_url %q does not select the rule", r.Alert, ri.Name, r.Annotations["drilldown_url"])
		}
	}
	for name, r := range alerts {
		if !names[name] {
			t.Errorf("%s: rule %q is not in detect.Catalog()", r.Alert, name)
		}
	}
}
