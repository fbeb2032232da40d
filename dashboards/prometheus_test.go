package dashboards

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/dbsec/dbsec/dashboards/stack"
)

// allowedEmpty lists the Prometheus queries ("file: panel title [refId]")
// that may return no series on the samples, with the reason. Panels of a
// product whose system has no sample lines are allowed too (logged).
var allowedEmpty = map[string]string{
	"detections.json: Learning and evictions [B]": "evictions happen only when a stateful detector is full (settings.max_entities); the samples never fill one",
}

// extrasConfig is a second exporter for the features the demo may lack: a
// syslog listener, a TDengine audit receiver, the SIEM export and a drift
// target with an approved snapshot it has drifted from. Its metrics
// complete the exporter's metric list, and its panels get data.
const extrasConfig = `# Second exporter of the dashboards' test: network receivers and the export.
[server]
state_dir = "state"

[export]
path = "events.jsonl"

[drift]
snapshot = "approved.json"
hmac_key_file = "drift.key"

[[drift.target]]
name = "extras-tidb"
files = ["tidb.toml"]

[[source]]
name = "extras-syslog"
format = "tidb-audit-plugin"
listen = "tcp://127.0.0.1:5514"

[[source]]
name = "extras-tdengine-audit"
format = "tdengine-audit"
listen = "http://127.0.0.1:6043"
`

// TestPromQL evaluates every PromQL expression of every dashboard, with
// its variables substituted, in a real Prometheus that scrapes the
// exporter running on testdata/demo.toml's samples: no expression may
// fail, every one returns series unless it is allowed to be empty, every
// metric and label it names exists in the exporter's metric list, and every
// label a link passes on is in its result.
func TestPromQL(t *testing.T) {
	if testing.Short() {
		t.Skip("real Prometheus test skipped in -short mode")
	}
	if _, err := stack.LookTool("prometheus", "prometheus"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	tmp := t.TempDir()

	bin := filepath.Join(tmp, "dbsec_exporter")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./exporter")
	build.Dir = ".."
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./exporter: %v\n%s", err, out)
	}
	t.Logf("exporter built in %v", time.Since(start).Round(100*time.Millisecond))
	extras := writeExtras(ctx, t, filepath.Join(tmp, "extras"), bin)

	s, err := stack.Start(ctx, stack.Options{
		Root:           "..",
		Configs:        []string{demoConfig(), extras},
		Exporter:       bin,
		Dir:            filepath.Join(tmp, "stack"),
		ScrapeInterval: time.Second,
		NoAlertmanager: true,
	})
	if err != nil {
		var me *stack.MissingToolError
		if errors.As(err, &me) && os.Getenv("CI") == "" {
			t.Skip(err)
		}
		t.Fatal(err)
	}
	defer s.Stop()
	defer func() {
		if t.Failed() {
			t.Log(s.Logs(3000))
		}
	}()
	if err := s.WaitSamplesScraped(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("stack up and samples scraped after %v", time.Since(start).Round(100*time.Millisecond))

	// The exporters' metric list: family → label names.
	families := map[string]map[string]bool{}
	for _, e := range s.Exporters {
		for f, ls := range scrapeFamilies(ctx, t, e.URL+"/metrics") {
			if families[f] == nil {
				families[f] = map[string]bool{}
			}
			for l := range ls {
				families[f][l] = true
			}
		}
	}
	// Series Prometheus adds to every target.
	for _, f := range []string{"up", "scrape_duration_seconds"} {
		families[f] = map[string]bool{}
	}
	for _, ls := range families {
		ls["instance"], ls["job"] = true, true
	}

	// Systems with sample lines.
	withSamples := map[string]bool{}
	res, err := s.Query(ctx, `sum by (system) (dbsec_lines_read_total) > 0`)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		withSamples[r.Labels["system"]] = true
	}
	t.Logf("systems with samples: %v", keys(withSamples))

	n, empty := 0, 0
	for _, l := range loadAll(t) {
		vars := variables(l)
		subst := func(expr string) string {
			r := strings.NewReplacer("$__rate_interval", "1m", "$__interval", "15s", "$__range", "1h")
			expr = r.Replace(expr)
			return varRef.ReplaceAllStringFunc(expr, func(m string) string {
				name := varRef.FindStringSubmatch(m)
				vm := vars[name[1]+name[2]]
				if av, ok := vm["allValue"].(string); ok && av != "" {
					return av
				}
				t.Errorf("%s: %s: variable without an allValue in PromQL", l.file, m)
				return m
			})
		}
		// Variables: the selector of label_values(selector, label).
		for name, vm := range vars {
			if ds, _ := dsOf(vm); ds != "prometheus" || vm["type"] != "query" {
				continue
			}
			q, _ := vm["query"].(string)
			m := regexp.MustCompile(`^label_values\((.*), *([a-z_]+)\)$`).FindStringSubmatch(q)
			if m == nil {
				t.Errorf("%s: variable %s: query %q is not label_values(selector, label)", l.file, name, q)
				continue
			}
			checkNames(t, l.file+": variable "+name, m[1], families)
			if !families[metricNames(m[1])[0]][m[2]] {
				t.Errorf("%s: variable %s: %s has no label %s", l.file, name, metricNames(m[1])[0], m[2])
			}
			r, err := s.Query(ctx, subst(m[1]))
			if err != nil {
				t.Errorf("%s: variable %s: %v", l.file, name, err)
			} else if len(r) == 0 {
				if sys := systemsOf(m[1]); len(sys) > 0 && !anyOf(sys, withSamples) {
					t.Logf("no values, allowed: %s: variable %s: no sample lines of %s", l.file, name, strings.Join(sys, ", "))
				} else {
					t.Errorf("%s: variable %s: no values", l.file, name)
				}
			}
		}
		for _, p := range panels(l) {
			if ds, _ := dsOf(p); ds != "prometheus" {
				continue
			}
			title := p["title"].(string)
			linkLabels := linkLabelRefs(allLinks(p))
			seen := map[string]bool{}
			anyResult := false
			for i, tg := range p["targets"].([]any) {
				n++
				expr := tg.(map[string]any)["expr"].(string)
				where := fmt.Sprintf("%s: %s [%s]", l.file, title, refID(i))
				checkNames(t, where, expr, families)
				q := subst(expr)
				if strings.Contains(q, "$") {
					t.Errorf("%s: unsubstituted variable in %s", where, q)
					continue
				}
				r, err := s.Query(ctx, q)
				if err != nil {
					t.Errorf("%s: %v", where, err)
					continue
				}
				if len(r) > 0 {
					anyResult = true
					for _, smp := range r {
						for k := range smp.Labels {
							seen[k] = true
						}
					}
					continue
				}
				empty++
				if reason, ok := allowedEmpty[where]; ok {
					t.Logf("empty, allowed: %s: %s", where, reason)
					continue
				}
				if sys := systemsOf(expr); len(sys) > 0 && !anyOf(sys, withSamples) {
					t.Logf("empty, allowed: %s: no sample lines of %s in testdata/demo.toml", where, strings.Join(sys, ", "))
					continue
				}
				// A query that hides zero series (> 0) is empty when the
				// samples have none of its events; without the filter its
				// series must exist.
				if unfiltered := zeroFilter.ReplaceAllString(q, ""); unfiltered != q {
					if r, err := s.Query(ctx, unfiltered); err == nil && len(r) > 0 {
						t.Logf("empty, allowed: %s: only zero series (none of its events in the samples)", where)
						continue
					}
				}
				t.Errorf("%s: no series for %s", where, q)
			}
			if anyResult {
				for _, ll := range linkLabels {
					if !seen[ll] {
						t.Errorf("%s: %s: a link passes label %s, which the query results lack", l.file, title, ll)
					}
				}
			}
		}
	}
	for k, reason := range allowedEmpty {
		if reason == "" {
			t.Errorf("allowedEmpty[%q] has no reason", k)
		}
	}
	t.Logf("%d PromQL expressions evaluated, %d empty; %v in all", n, empty, time.Since(start).Round(100*time.Millisecond))

	t.Run("JSON API", func(t *testing.T) {
		var urls []string
		for _, e := range s.Exporters {
			urls = append(urls, e.URL)
		}
		checkAPIQueries(ctx, t, urls, withSamples, func(sel string) (float64, error) {
			r, err := s.Query(ctx, "sum(dbsec_events_total"+sel+")")
			if err != nil || len(r) == 0 {
				return 0, err
			}
			return r[0].Value, nil
		})
	})
}

// writeExtras writes extrasConfig into dir with its drift target: TiDB's
// example configuration, approved with check-config, then changed in two
// keys.
func writeExtras(ctx context.Context, t *testing.T, dir, bin string) string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	conf, err := os.ReadFile("../pkg/drift/testdata/examples/tidb/config.toml")
	if err != nil {
		t.Fatal(err)
	}
	tidb := filepath.Join(dir, "tidb.toml")
	if err := os.WriteFile(tidb, conf, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "drift.key"), []byte("dashboards-test-key-0123456789abcdef"), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, bin, "check-config", "--target", "extras-tidb="+tidb,
		"--snapshot.file", filepath.Join(dir, "approved.json"), "--snapshot.approve", "--hmac-key.file", filepath.Join(dir, "drift.key"))
	if out, err := cmd.CombinedOutput(); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 1 { // 1: failing findings, expected
			t.Fatalf("check-config --snapshot.approve: %v\n%s", err, out)
		}
	}
	changed := strings.Replace(strings.Replace(string(conf), "port = 4000", "port = 4001", 1), "token-limit = 1000", "token-limit = 2000", 1)
	if changed == string(conf) {
		t.Fatal("the TiDB example configuration changed: update writeExtras")
	}
	if err := os.WriteFile(tidb, []byte(changed), 0o644); err != nil {
		t.Fatal(err)
	}
	extras := filepath.Join(dir, "extras.toml")
	if err := os.WriteFile(extras, []byte(extrasConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	return extras
}

// scrapeFamilies reads a text exposition: metric family → label names.
// Histogram series count under their family and the _bucket, _sum and
// _count names.
func scrapeFamilies(ctx context.Context, t *testing.T, url string) map[string]map[string]bool {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out := map[string]map[string]bool{}
	sc := bufio.NewScanner(io.LimitReader(resp.Body, 16<<20))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	labelRe := regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)="`)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		name := line
		if i := strings.IndexAny(line, "{ "); i >= 0 {
			name = line[:i]
		}
		if out[name] == nil {
			out[name] = map[string]bool{}
		}
		if i := strings.IndexByte(line, '{'); i >= 0 {
			j := strings.LastIndexByte(line, '}')
			for _, m := range labelRe.FindAllStringSubmatch(line[i:j+1], -1) {
				out[name][m[1]] = true
			}
		}
	}
	return out
}

// checkNames: every metric of expr is exported, and every label its
// matchers and grouping name is on one of its metrics.
func checkNames(t *testing.T, where, expr string, families map[string]map[string]bool) {
	t.Helper()
	metrics := metricNames(expr)
	if len(metrics) == 0 {
		t.Errorf("%s: no metric in %s", where, expr)
	}
	labels := map[string]bool{}
	for _, m := range metrics {
		ls, ok := families[m]
		if !ok {
			t.Errorf("%s: metric %s is not in the exporter's metric list", where, m)
			continue
		}
		for l := range ls {
			labels[l] = true
		}
	}
	for _, l := range labelNames(expr) {
		if !labels[l] && l != "__name__" {
			t.Errorf("%s: label %s is on none of %v", where, l, metrics)
		}
	}
}

// labelNames returns the label names of matchers and of by/without/on/
// ignoring/group_* lists.
func labelNames(expr string) []string {
	var out []string
	for _, m := range regexp.MustCompile(`\{([^}]*)\}`).FindAllStringSubmatch(expr, -1) {
		for _, mm := range regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)`).FindAllStringSubmatch(m[1], -1) {
			out = append(out, mm[1])
		}
	}
	for _, m := range regexp.MustCompile(`\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)`).FindAllStringSubmatch(expr, -1) {
		for _, l := range strings.Split(m[1], ",") {
			if l = strings.TrimSpace(l); l != "" {
				out = append(out, l)
			}
		}
	}
	return out
}

// linkLabelRefs returns the series labels and row fields links use.
func linkLabelRefs(urls []string) []string {
	set := map[string]bool{}
	for _, u := range urls {
		for _, m := range regexp.MustCompile(`\$\{__(?:field\.labels|data\.fields)\.([a-zA-Z_][a-zA-Z0-9_]*)\}`).FindAllStringSubmatch(u, -1) {
			set[m[1]] = true
		}
	}
	return keys(set)
}

// zeroFilter is the comparison that hides zero series.
var zeroFilter = regexp.MustCompile(`\s*>\s*0\b`)

// systemsOf returns the systems a system=~"a|b" matcher selects.
func systemsOf(expr string) []string {
	m := regexp.MustCompile(`system=~"([a-z|]+)"`).FindStringSubmatch(expr)
	if m == nil {
		return nil
	}
	return strings.Split(m[1], "|")
}

func anyOf(list []string, set map[string]bool) bool {
	return slices.ContainsFunc(list, func(s string) bool { return set[s] })
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// metricNames returns the metric names used in a PromQL expression: the
// identifiers that are not functions, aggregations, keywords or label
// lists, outside strings, label matchers and range brackets.
func metricNames(expr string) []string {
	keywords := map[string]bool{"and": true, "or": true, "unless": true, "offset": true, "bool": true, "inf": true, "nan": true, "atan2": true}
	aggregations := map[string]bool{"sum": true, "min": true, "max": true, "avg": true, "group": true, "stddev": true, "stdvar": true, "count": true, "count_values": true, "bottomk": true, "topk": true, "quantile": true}
	labelLists := map[string]bool{"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true}
	isIdentStart := func(c byte) bool { return c == '_' || c == ':' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') }
	isIdent := func(c byte) bool { return isIdentStart(c) || (c >= '0' && c <= '9') }
	skip := func(i int, open, close byte) int {
		depth := 0
		for ; i < len(expr); i++ {
			switch expr[i] {
			case '"':
				for i++; i < len(expr) && expr[i] != '"'; i++ {
					if expr[i] == '\\' {
						i++
					}
				}
			case open:
				depth++
			case close:
				if depth--; depth == 0 {
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
		case c == '"':
			for i++; i < len(expr) && expr[i] != '"'; i++ {
				if expr[i] == '\\' {
					i++
				}
			}
			i++
		case c == '{':
			i = skip(i, '{', '}')
		case c == '[':
			i = skip(i, '[', ']')
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
			for k < len(expr) && expr[k] == ' ' {
				k++
			}
			paren := k < len(expr) && expr[k] == '('
			switch {
			case labelLists[word]:
				if paren {
					j = skip(k, '(', ')')
				}
			case keywords[word] || aggregations[word] || paren:
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
	got := metricNames(`sum by (a, b) (rate(x_total{a="{b}"}[1m])) / on (instance, job) group_left y and histogram_quantile(0.9, sum by (le) (rate(z_bucket[5m]))) or vector(0)`)
	want := []string{"x_total", "y", "z_bucket"}
	if !slices.Equal(got, want) {
		t.Errorf("metricNames = %q, want %q", got, want)
	}
	gotL := labelNames(`sum by (a, b) (x{c=~"1",d!="2"}) / on (instance) y`)
	if wantL := []string{"c", "d", "a", "b", "instance"}; !slices.Equal(gotL, wantL) {
		t.Errorf("labelNames = %q, want %q", gotL, wantL)
	}
}

// demoConfig is testdata/demo.toml, or DBSEC_DEMO_CONFIG to try the
// dashboards on another set of samples.
func demoConfig() string {
	if c := os.Getenv("DBSEC_DEMO_CONFIG"); c != "" {
		return c
	}
	return "../testdata/demo.toml"
}
