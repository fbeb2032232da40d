package dashboards

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/plugins"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"

	"github.com/dbsec/dbsec/pkg/grafana/model"
)

// TestGeneratedIsCommitted: the committed JSON is the generator's output
// (run `go tool mage dashboards` after changing the generator).
func TestGeneratedIsCommitted(t *testing.T) {
	boards, err := Boards()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]byte{}
	for _, b := range boards {
		want[b.File] = b.JSON
	}
	inc, err := Marshal(Includes())
	if err != nil {
		t.Fatal(err)
	}
	want["includes.json"] = inc
	for f, w := range want {
		got, err := os.ReadFile(f)
		if err != nil {
			t.Errorf("%s: %v (run go tool mage dashboards)", f, err)
			continue
		}
		if !bytes.Equal(got, w) {
			t.Errorf("%s differs from the generator's output: run go tool mage dashboards", f)
		}
	}
	files, _ := filepath.Glob("*.json")
	for _, f := range files {
		if _, ok := want[f]; !ok {
			t.Errorf("%s is not generated: remove it or add it to the generator", f)
		}
	}
	// Generating twice gives the same bytes.
	again, err := Boards()
	if err != nil {
		t.Fatal(err)
	}
	for i := range again {
		if !bytes.Equal(again[i].JSON, boards[i].JSON) {
			t.Errorf("%s: two runs of the generator differ", again[i].File)
		}
	}
}

// loaded is a committed dashboard, decoded loosely for the checks.
type loaded struct {
	file string
	raw  map[string]any
	//lint:ignore SA1019 the dashboards use the v1 schema (Grafana 11 to 13).
	dash dashboard.Dashboard
}

func loadAll(t *testing.T) []loaded {
	t.Helper()
	plugins.RegisterDefaultPlugins()
	var out []loaded
	for _, s := range specs {
		b, err := os.ReadFile(s.file)
		if err != nil {
			t.Fatal(err)
		}
		l := loaded{file: s.file}
		if err := json.Unmarshal(b, &l.raw); err != nil {
			t.Fatalf("%s: %v", s.file, err)
		}
		if err := json.Unmarshal(b, &l.dash); err != nil {
			t.Fatalf("%s: SDK decode: %v", s.file, err)
		}
		out = append(out, l)
	}
	return out
}

// TestSDKRoundTrip: every file decodes strictly with the foundation SDK's
// own decoder and encodes back to the same bytes.
func TestSDKRoundTrip(t *testing.T) {
	for _, l := range loadAll(t) {
		b, _ := os.ReadFile(l.file)
		//lint:ignore SA1019 the dashboards use the v1 schema (Grafana 11 to 13).
		var strict dashboard.Dashboard
		if err := strict.UnmarshalJSONStrict(b); err != nil {
			var be cog.BuildErrors
			if !errors.As(err, &be) || len(be) > 0 {
				t.Errorf("%s: strict decode: %v", l.file, err)
			}
		}
		again, err := Marshal(l.dash)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(again, b) {
			t.Errorf("%s: decode and re-encode with the SDK changes the JSON", l.file)
		}
	}
}

func TestUIDs(t *testing.T) {
	seen := map[string]string{}
	for _, l := range loadAll(t) {
		uid := *l.dash.Uid
		if prev, dup := seen[uid]; dup {
			t.Errorf("uid %s in %s and %s", uid, prev, l.file)
		}
		seen[uid] = l.file
		if !regexp.MustCompile(`^dbsec-[a-z0-9-]{1,34}$`).MatchString(uid) {
			t.Errorf("%s: uid %q: want dbsec-<name>, at most 40 characters", l.file, uid)
		}
	}
	// The uids are part of the interface (links, provisioning, bookmarks):
	// changing one is a breaking change, so they are spelled out here.
	want := map[string]string{
		"overview.json": "dbsec-overview", "tidb.json": "dbsec-tidb", "tdengine.json": "dbsec-tdengine",
		"redash.json": "dbsec-redash", "mysql.json": "dbsec-mysql", "postgres.json": "dbsec-postgres",
		"detections.json": "dbsec-detections", "drift.json": "dbsec-drift", "events.json": "dbsec-events",
		"exporter.json": "dbsec-exporter",
	}
	for f, uid := range want {
		if seen[uid] != f {
			t.Errorf("uid %s: in %q, want %s", uid, seen[uid], f)
		}
	}
	if len(seen) != len(want) {
		t.Errorf("%d dashboards, want %d", len(seen), len(want))
	}
}

// panels returns every panel of a dashboard (rows' panels included) as raw
// maps.
func panels(l loaded) []map[string]any {
	var out []map[string]any
	ps, _ := l.raw["panels"].([]any)
	for _, p := range ps {
		pm := p.(map[string]any)
		if pm["type"] == "row" {
			for _, sub := range pm["panels"].([]any) {
				out = append(out, sub.(map[string]any))
			}
			continue
		}
		out = append(out, pm)
	}
	return out
}

func variables(l loaded) map[string]map[string]any {
	out := map[string]map[string]any{}
	tmpl, _ := l.raw["templating"].(map[string]any)
	list, _ := tmpl["list"].([]any)
	for _, v := range list {
		vm := v.(map[string]any)
		out[vm["name"].(string)] = vm
	}
	return out
}

func dsOf(m map[string]any) (typ, uid string) {
	ds, _ := m["datasource"].(map[string]any)
	typ, _ = ds["type"].(string)
	uid, _ = ds["uid"].(string)
	return
}

// TestPanels: descriptions everywhere, data sources only through the two
// variables, and the variables declared with the right types.
func TestPanels(t *testing.T) {
	for _, l := range loadAll(t) {
		vars := variables(l)
		for name, typ := range map[string]string{VarPrometheus: "prometheus", VarDBSec: PluginID} {
			vm := vars[name]
			if vm == nil || vm["type"] != "datasource" || vm["query"] != typ {
				t.Errorf("%s: variable %s: want a datasource variable of type %s, got %v", l.file, name, typ, vm)
			}
		}
		if d, _ := l.raw["description"].(string); d == "" {
			t.Errorf("%s: no description", l.file)
		}
		titles := map[string]bool{}
		for _, p := range panels(l) {
			title, _ := p["title"].(string)
			if titles[title] {
				t.Errorf("%s: two panels titled %q", l.file, title)
			}
			titles[title] = true
			if d, _ := p["description"].(string); strings.TrimSpace(d) == "" {
				t.Errorf("%s: panel %q has no description", l.file, title)
			}
			if p["type"] == "text" {
				continue
			}
			typ, uid := dsOf(p)
			if !(typ == "prometheus" && uid == "${prometheus}") && !(typ == PluginID && uid == "${dbsec}") {
				t.Errorf("%s: panel %q: data source %s/%s, want ${prometheus} or ${dbsec}", l.file, title, typ, uid)
			}
			for _, tg := range p["targets"].([]any) {
				ttyp, tuid := dsOf(tg.(map[string]any))
				if ttyp != typ || tuid != uid {
					t.Errorf("%s: panel %q: a target's data source %s/%s differs from the panel's", l.file, title, ttyp, tuid)
				}
			}
		}
		// Every datasource reference anywhere (variables, annotations) is
		// a variable.
		b, _ := os.ReadFile(l.file)
		for _, m := range regexp.MustCompile(`"uid": "([^"]*)"`).FindAllStringSubmatch(string(b), -1) {
			if m[1] != "${prometheus}" && m[1] != "${dbsec}" && m[1] != *l.dash.Uid {
				t.Errorf("%s: hard-coded uid %q", l.file, m[1])
			}
		}
	}
}

// dbsecTargets returns every dbsec query of a dashboard: panel targets,
// annotation targets and variable queries.
func dbsecTargets(l loaded) map[string]map[string]any {
	out := map[string]map[string]any{}
	for _, p := range panels(l) {
		if typ, _ := dsOf(p); typ != PluginID {
			continue
		}
		for i, tg := range p["targets"].([]any) {
			out["panel "+p["title"].(string)+" "+refID(i)] = tg.(map[string]any)
		}
	}
	ann, _ := l.raw["annotations"].(map[string]any)
	list, _ := ann["list"].([]any)
	for _, a := range list {
		am := a.(map[string]any)
		if typ, _ := dsOf(am); typ == PluginID {
			out["annotation "+am["name"].(string)] = am["target"].(map[string]any)
		}
	}
	for name, vm := range variables(l) {
		if typ, _ := dsOf(vm); typ == PluginID && vm["type"] == "query" {
			out["variable "+name] = vm["query"].(map[string]any)
		}
	}
	return out
}

// TestDBSecQueries: every dbsec query decodes into model.Query, strictly,
// with a known query type, known filter keys and operators, and variables
// that exist.
func TestDBSecQueries(t *testing.T) {
	n := 0
	for _, l := range loadAll(t) {
		vars := variables(l)
		for where, tg := range dbsecTargets(l) {
			n++
			q := map[string]any{}
			for k, v := range tg {
				if k != "datasource" {
					q[k] = v
				}
			}
			b, _ := json.Marshal(q)
			dec := json.NewDecoder(bytes.NewReader(b))
			dec.DisallowUnknownFields()
			var mq model.Query
			if err := dec.Decode(&mq); err != nil {
				t.Errorf("%s: %s: not a model.Query: %v", l.file, where, err)
				continue
			}
			if !slices.Contains(model.QueryTypes(), mq.QueryType) {
				t.Errorf("%s: %s: query type %q", l.file, where, mq.QueryType)
			}
			if mq.Format != "" && mq.Format != model.FormatLogs && mq.Format != model.FormatTable {
				t.Errorf("%s: %s: format %q", l.file, where, mq.Format)
			}
			for _, f := range mq.Filters {
				if !slices.Contains(model.FilterKeys(), f.Key) {
					t.Errorf("%s: %s: filter key %q", l.file, where, f.Key)
				}
				if f.Op != model.OpEqual && f.Op != model.OpNotEqual {
					t.Errorf("%s: %s: filter op %q", l.file, where, f.Op)
				}
			}
			if mq.By != "" && !strings.HasPrefix(mq.By, "$") && !slices.Contains(seriesDimensions(), mq.By) {
				t.Errorf("%s: %s: by %q", l.file, where, mq.By)
			}
			for _, name := range varRefs(string(b)) {
				if vars[name] == nil {
					t.Errorf("%s: %s: variable $%s is not defined", l.file, where, name)
				}
			}
		}
	}
	if n == 0 {
		t.Fatal("no dbsec queries")
	}
	t.Logf("%d dbsec queries decode into model.Query", n)
}

var varRef = regexp.MustCompile(`\$\{([A-Za-z0-9_]+)(?::[a-z]+)?\}|\$([A-Za-z_][A-Za-z0-9_]*)`)

// varRefs lists the dashboard variables a string refers to (Grafana's
// built-ins __* excluded).
func varRefs(s string) []string {
	var out []string
	for _, m := range varRef.FindAllStringSubmatch(s, -1) {
		name := m[1] + m[2]
		if !strings.HasPrefix(name, "__") {
			out = append(out, name)
		}
	}
	return out
}

// allLinks returns every link URL of a panel: defaults, overrides and
// panel links, and the field-override links.
func allLinks(p map[string]any) []string {
	var out []string
	add := func(v any) {
		ls, _ := v.([]any)
		for _, l := range ls {
			if u, ok := l.(map[string]any)["url"].(string); ok {
				out = append(out, u)
			}
		}
	}
	fc, _ := p["fieldConfig"].(map[string]any)
	defaults, _ := fc["defaults"].(map[string]any)
	add(defaults["links"])
	ovs, _ := fc["overrides"].([]any)
	for _, o := range ovs {
		props, _ := o.(map[string]any)["properties"].([]any)
		for _, pr := range props {
			if pr.(map[string]any)["id"] == "links" {
				add(pr.(map[string]any)["value"])
			}
		}
	}
	add(p["links"])
	return out
}

// TestLinks: every link targets an existing dashboard, sets only variables
// that dashboard has, keeps the time range, and only uses the variables of
// its own dashboard; every Prometheus panel has a drill-down link.
func TestLinks(t *testing.T) {
	all := loadAll(t)
	byUID := map[string]loaded{}
	tags := map[string]int{}
	for _, l := range all {
		byUID[*l.dash.Uid] = l
		for _, tag := range l.dash.Tags {
			tags[tag]++
		}
	}
	checkURL := func(l loaded, where, u string) {
		m := regexp.MustCompile(`^/d/([^/?]+)(/[a-z0-9-]+)?\?(.*)$`).FindStringSubmatch(u)
		if m == nil {
			t.Errorf("%s: %s: link %q is not /d/<uid>/<slug>?…", l.file, where, u)
			return
		}
		target, ok := byUID[m[1]]
		if !ok {
			t.Errorf("%s: %s: link to unknown dashboard %s", l.file, where, m[1])
			return
		}
		if m[2] != "" && m[2] != "/"+slug(*target.dash.Title) {
			t.Errorf("%s: %s: slug %s, want /%s", l.file, where, m[2], slug(*target.dash.Title))
		}
		tvars := variables(target)
		srcVars := variables(l)
		hasTime := false
		for _, part := range strings.Split(m[3], "&") {
			switch {
			case part == "${__url_time_range}":
				hasTime = true
			case strings.HasPrefix(part, "var-"):
				name, val, _ := strings.Cut(strings.TrimPrefix(part, "var-"), "=")
				if tvars[name] == nil {
					t.Errorf("%s: %s: link sets var-%s, which %s lacks", l.file, where, name, target.file)
				}
				if _, err := url.QueryUnescape(val); err != nil {
					t.Errorf("%s: %s: var-%s=%q: %v", l.file, where, name, val, err)
				}
				for _, ref := range varRefs(val) {
					if srcVars[ref] == nil {
						t.Errorf("%s: %s: link uses $%s, which %s lacks", l.file, where, ref, l.file)
					}
				}
			case regexp.MustCompile(`^\$\{[a-z_]+:queryparam\}$`).MatchString(part):
				name := strings.TrimSuffix(strings.TrimPrefix(part, "${"), ":queryparam}")
				if tvars[name] == nil || srcVars[name] == nil {
					t.Errorf("%s: %s: %s: variable missing here or in %s", l.file, where, part, target.file)
				}
			default:
				t.Errorf("%s: %s: link part %q", l.file, where, part)
			}
		}
		if !hasTime {
			t.Errorf("%s: %s: link %q does not carry ${__url_time_range}", l.file, where, u)
		}
	}
	n := 0
	for _, l := range all {
		for _, dl := range l.dash.Links {
			switch dl.Type {
			case dashboard.DashboardLinkTypeDashboards:
				for _, tag := range dl.Tags {
					if tags[tag] < 2 {
						t.Errorf("%s: dashboard link %q: tag %s is on no other dashboard", l.file, dl.Title, tag)
					}
				}
			case dashboard.DashboardLinkTypeLink:
				if dl.Url == nil || !strings.HasPrefix(*dl.Url, "/d/") {
					t.Errorf("%s: dashboard link %q: url %v", l.file, dl.Title, dl.Url)
					continue
				}
				checkURL(l, "dashboard link "+dl.Title, *dl.Url)
				n++
			}
		}
		for _, p := range panels(l) {
			title, _ := p["title"].(string)
			links := allLinks(p)
			if typ, _ := dsOf(p); typ == "prometheus" && len(links) == 0 {
				t.Errorf("%s: Prometheus panel %q has no drill-down link", l.file, title)
			}
			for _, u := range links {
				checkURL(l, "panel "+title, u)
				n++
			}
			if p["type"] == "text" {
				for _, m := range regexp.MustCompile(`\]\((/d/[^)]*)\)`).FindAllStringSubmatch(p["options"].(map[string]any)["content"].(string), -1) {
					checkURL(l, "panel "+title, m[1])
					n++
				}
			}
		}
	}
	t.Logf("%d links resolve", n)
}

// TestProductLinks: every product dashboard links to the others.
func TestProductLinks(t *testing.T) {
	var products []loaded
	for _, l := range loadAll(t) {
		if slices.Contains(l.dash.Tags, tagProduct) {
			products = append(products, l)
		}
	}
	if len(products) != 5 {
		t.Fatalf("%d product dashboards, want 5", len(products))
	}
	for _, l := range products {
		ok := false
		for _, dl := range l.dash.Links {
			if dl.Type == dashboard.DashboardLinkTypeDashboards && slices.Contains(dl.Tags, tagProduct) {
				ok = true
			}
		}
		if !ok {
			t.Errorf("%s: no link to the other product dashboards", l.file)
		}
	}
}

// TestIncludes: includes.json lists every dashboard once.
func TestIncludes(t *testing.T) {
	b, err := os.ReadFile("includes.json")
	if err != nil {
		t.Fatal(err)
	}
	var inc []Include
	if err := json.Unmarshal(b, &inc); err != nil {
		t.Fatal(err)
	}
	if len(inc) != len(specs) {
		t.Errorf("%d includes, want %d", len(inc), len(specs))
	}
	for _, i := range inc {
		f := strings.TrimPrefix(i.Path, "dashboards/")
		if i.Type != "dashboard" || meta[f].title != i.Name {
			t.Errorf("include %+v", i)
		}
		if _, err := os.Stat(f); err != nil {
			t.Errorf("include %s: %v", i.Path, err)
		}
	}
}

// TestReference: the panel reference in docs/dashboards.md is up to date.
func TestReference(t *testing.T) {
	boards, err := Boards()
	if err != nil {
		t.Fatal(err)
	}
	ref, err := Reference(boards)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile("../docs/dashboards.md")
	if err != nil {
		t.Fatal(err)
	}
	want, err := replaceReference(string(b), ref)
	if err != nil {
		t.Fatal(err)
	}
	if want != string(b) {
		t.Error("docs/dashboards.md: the panel reference is not the generator's: run go tool mage dashboards")
	}
}

func TestInterpolate(t *testing.T) {
	q := model.Query{QueryType: model.Events, Q: "${q}", By: "$by", Filters: []model.Filter{
		{Key: "source", Op: "=", Value: "${source}"},     // All: dropped
		{Key: "category", Op: "=", Value: "${category}"}, // two values: alternatives
		{Key: "user", Op: "=", Value: "${user}"},         // empty: dropped
		{Key: "system", Op: "=", Value: "tidb"},          // literal: kept
		{Key: "outcome", Op: "!=", Value: "$outcome"},
	}}
	got := Interpolate(q, map[string][]string{"category": {"login", "ddl"}, "user": {""}, "q": {"grant"}, "by": {"user"}, "outcome": {"success"}})
	want := []model.Filter{{Key: "category", Op: "=", Value: "login"}, {Key: "category", Op: "=", Value: "ddl"},
		{Key: "system", Op: "=", Value: "tidb"}, {Key: "outcome", Op: "!=", Value: "success"}}
	if !slices.Equal(got.Filters, want) || got.Q != "grant" || got.By != "user" {
		t.Errorf("Interpolate = %+v", got)
	}
}

// TestDBSecQueriesInterpolated: the interpolated queries are complete (no variable
// left) and every query type the dashboards use is among them.
func TestDBSecQueriesInterpolated(t *testing.T) {
	qs, err := DBSecQueries()
	if err != nil {
		t.Fatal(err)
	}
	types := map[model.QueryType]int{}
	for _, q := range qs {
		types[q.Query.QueryType]++
		b, _ := json.Marshal(q.Query)
		if strings.Contains(string(b), "$") {
			t.Errorf("%s: variable left after interpolation: %s", q, b)
		}
		if q.Query.QueryType == model.Series && q.Query.By == "" {
			t.Errorf("%s: series query without by", q)
		}
	}
	for _, qt := range []model.QueryType{model.Events, model.Series, model.Top, model.Detections, model.Findings, model.DriftChanges, model.Integrity, model.Status, model.Values} {
		if types[qt] == 0 {
			t.Errorf("no %s query in the dashboards", qt)
		}
	}
	t.Logf("%d dbsec queries: %v", len(qs), types)
}
