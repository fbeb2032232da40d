package docs

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"

	"github.com/dbsec/dbsec/pkg/detect"
)

var update = flag.Bool("update", false, "rewrite detections.md from the catalogue and the built-in rules")

// detectionsIntro is the hand-written part of detections.md; the sections
// per rule below it are generated from detect.Catalog() and the defaults
// of pkg/detect/rules/10-detections.toml, so that they cannot drift.
const detectionsIntro = `# Detections D01–D37

The exporter runs every detection below over every event, in process, as
the events are read. A detection that fires increments
` + "`dbsec_detections_total{rule,severity}`" + `, is kept in the event store with its
evidence (` + "`GET /api/v1/detections`" + `) and marks the events it was raised on
(` + "`GET /api/v1/events?rule=<name>`" + `). Prometheus alert rules for each are in
[alerting/rules](../alerting/rules/), with a runbook per alert in [runbooks/](runbooks/).

How the rules work:

- **event** rules look at one event (a statement, a login) and fire on its shape.
- **stateful** rules count events per entity (a user, a client address) in a sliding
  ` + "`window`" + ` and fire at ` + "`threshold`" + `; after firing they are quiet for ` + "`suppress`" + ` for that
  entity. State is bounded (` + "`[settings] max_entities`" + `) and timed by the events, not the
  wall clock, so a replay finds what the live run found.
- **novelty** rules remember what each subject did for ` + "`history`" + ` and fire on the first
  new value once a ` + "`learning`" + ` period has passed; the memory survives restarts
  (` + "`[detect] state_file`" + `).
- **promql** rules are evaluated by Prometheus on the exporter's metrics (see the alert rules);
  the exporter only pre-initialises their series.

Tuning: a rule file given as ` + "`[detect] rules`" + ` in the configuration overrides any key of
the built-in rules ([pkg/detect/rules/](../pkg/detect/rules/)). Every rule also takes
` + "`enabled`" + `, ` + "`severity`" + ` and an allow table (users, CIDRs, digests, object names) that
exempts matching events:

` + "```toml" + `
[settings]
timezone = "Europe/Berlin"          # for business hours and days
business_hours = "07:00-20:00"
privileged_users = ["root", "admin", "dba_*"]
allowed_networks = ["10.0.0.0/8"]   # logins from elsewhere count for D09

[rules.brute_force_user]
threshold = 20                      # 20 failures of one account …
window = "10m"                      # … within 10 minutes

[rules.off_hours_privileged]
enabled = false

[rules.destructive_ddl.allow]
names = ["tmp_*"]                   # dropping these is routine here
` + "```" + `

The settings shared by all rules (` + "`[settings]`" + `): ` + "`timezone`, `business_hours`, `business_days`, `holidays`" + `
(when "off hours" is), ` + "`privileged_users`, `service_users`" + ` (name patterns),
` + "`allowed_networks`, `pooler_networks`" + ` (CIDRs), ` + "`sensitive_tables`" + `, ` + "`backup_users`" + `, the
bounds ` + "`max_entities`, `novelty_capacity`" + `, and a global allow table.

Severities are ` + "`info`, `warning` and `critical`" + `; a rule that can emit more than one
says when.
`

// runbooks maps a rule name to its runbook, from the runbooks' first
// paragraph ("Detection **Dnn (`rule="name"`) …").
func runbooks(t *testing.T) map[string]string {
	t.Helper()
	files, err := filepath.Glob("runbooks/*.md")
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile("`rule=\"([a-z_]+)\"`")
	out := map[string]string{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		first, _, _ := strings.Cut(string(b), "\n## ")
		if m := re.FindStringSubmatch(first); m != nil && strings.Contains(first, "Detection **D") {
			out[m[1]] = filepath.Base(f)
		}
	}
	return out
}

func tomlValue(v any) string {
	var b bytes.Buffer
	if err := toml.NewEncoder(&b).Encode(map[string]any{"v": v}); err != nil {
		return fmt.Sprint(v)
	}
	return strings.TrimSpace(strings.TrimPrefix(b.String(), "v = "))
}

func detectionsDoc(t *testing.T) []byte {
	t.Helper()
	var defaults struct {
		Rules map[string]map[string]any `toml:"rules"`
	}
	if _, err := toml.DecodeFile("../pkg/detect/rules/10-detections.toml", &defaults); err != nil {
		t.Fatal(err)
	}
	rb := runbooks(t)
	var b bytes.Buffer
	b.WriteString(detectionsIntro)
	b.WriteString("\n## Catalogue\n\n| id | rule | title | severity | kind |\n|---|---|---|---|---|\n")
	for _, r := range detect.Catalog() {
		fmt.Fprintf(&b, "| [%s](#%s) | `%s` | %s | %s | %s |\n", r.ID, strings.ToLower(r.ID)+"-"+r.Name, r.Name, r.Title, strings.Join(r.Severities, ", "), r.Kind)
	}
	for _, r := range detect.Catalog() {
		fmt.Fprintf(&b, "\n### %s %s\n\n", r.ID, r.Name)
		fmt.Fprintf(&b, "**%s.** Fires on: %s.\n\n", r.Title, r.Summary)
		fmt.Fprintf(&b, "- severity: `%s` by default", r.Severity)
		if len(r.Severities) > 1 {
			fmt.Fprintf(&b, " (can emit %s)", "`"+strings.Join(r.Severities, "`, `")+"`")
		}
		fmt.Fprintf(&b, "; kind: %s; category: %s; MITRE ATT&CK %s\n", r.Kind, r.Category, r.MITRE)
		keys := slices.Clone(r.Params)
		vals := defaults.Rules[r.Name]
		if len(keys) == 0 {
			b.WriteString("- tuning: `enabled`, `severity` and the allow table only\n")
		} else {
			var parts []string
			for _, k := range keys {
				if v, ok := vals[k]; ok {
					parts = append(parts, fmt.Sprintf("`%s = %s`", k, tomlValue(v)))
				} else {
					parts = append(parts, fmt.Sprintf("`%s`", k))
				}
			}
			fmt.Fprintf(&b, "- tuning (`[rules.%s]`, built-in values): %s\n", r.Name, strings.Join(parts, ", "))
		}
		if allow, ok := vals["allow"].(map[string]any); ok {
			for _, k := range []string{"users", "cidrs", "digests", "names"} {
				if v, ok := allow[k]; ok {
					fmt.Fprintf(&b, "- built-in allow list: `%s = %s`\n", k, tomlValue(v))
				}
			}
		}
		if f := rb[r.Name]; f != "" {
			fmt.Fprintf(&b, "- runbook: [%s](runbooks/%s)\n", strings.TrimSuffix(f, ".md"), f)
		}
	}
	return b.Bytes()
}

// TestDetectionsDoc: detections.md lists every detection of the catalogue
// with the built-in tuning values (regenerate with -update).
func TestDetectionsDoc(t *testing.T) {
	want := detectionsDoc(t)
	if *update {
		if err := os.WriteFile("detections.md", want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile("detections.md")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("docs/detections.md is out of date with the catalogue: run go test ./docs -run TestDetectionsDoc -update")
	}
	for _, r := range detect.Catalog() {
		if !bytes.Contains(got, []byte("### "+r.ID+" "+r.Name+"\n")) {
			t.Errorf("docs/detections.md lacks %s %s", r.ID, r.Name)
		}
	}
}
