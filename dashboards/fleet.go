package dashboards

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"

	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"go.yaml.in/yaml/v3"

	"github.com/dbsec/dbsec/pkg/detect"
	"github.com/dbsec/dbsec/pkg/event"
	"github.com/dbsec/dbsec/pkg/finding"
	"github.com/dbsec/dbsec/pkg/grafana/model"
)

// systems are the products' system label values (pkg/event, without
// "unknown").
func systems() []string {
	var out []string
	for _, s := range event.SystemNames() {
		if s != event.SystemUnknown.String() {
			out = append(out, s)
		}
	}
	return out
}

func detectSeverities() []string {
	return []string{detect.SevCritical, detect.SevWarning, detect.SevInfo}
}

func findingSeverities() []string {
	var out []string
	for _, s := range finding.Severities() {
		out = append(out, s.String())
	}
	return out
}

func ruleNames() []string {
	var out []string
	for _, r := range detect.Catalog() {
		out = append(out, r.Name)
	}
	return out
}

var overviewSpec = spec{
	file: "overview.json",
	description: "The fleet at a glance: logins and failures per system, DDL and privilege changes, access denials, detections, " +
		"the health of the sources and configuration findings.",
	build: func(b *board) {
		b.variable(promLabelVar("instance", "Exporter", "The dbsec exporters (Prometheus instance label).", "dbsec_exporter_build_info"))
		b.variable(customVar("system", "System", "Database products (pkg/event systems).", systems(), true))
		S := func(extra ...string) string {
			return "{" + strings.Join(append([]string{`instance=~"$instance"`, `system=~"$system"`}, extra...), ",") + "}"
		}
		b.row("Activity")
		b.stat("Logins", "Accepted logins in the time range, all systems.", "short", 4,
			pq{expr: fmt.Sprintf(`sum(increase(dbsec_login_attempts_total%s[$__range]))`, S(`outcome="`+outSuccess+`"`)),
				links: []link{eventsLink(nil, model.KeyCategory, catLogin, model.KeyOutcome, outSuccess)}})
		b.stat("Failed logins", "Refused logins in the time range, all systems.", "short", 4,
			pq{expr: fmt.Sprintf(`sum(increase(dbsec_login_attempts_total%s[$__range]))`, S(`outcome="`+outFailure+`"`)),
				links: []link{eventsLink(nil, model.KeyCategory, catLogin, model.KeyOutcome, outFailure)}}, 1, 20)
		b.stat("Login failure ratio", "Failed logins over all logins in the time range.", "percentunit", 4,
			pq{expr: fmt.Sprintf(`sum(increase(dbsec_login_attempts_total%s[$__range])) / (sum(increase(dbsec_login_attempts_total%s[$__range])) > 0)`,
				S(`outcome="`+outFailure+`"`), S()),
				links: []link{eventsLink(nil, model.KeyCategory, catLogin, model.KeyOutcome, outFailure)}}, 0.1, 0.5)
		b.stat("Privilege changes", "GRANT, REVOKE and account changes in the time range.", "short", 4,
			pq{expr: fmt.Sprintf(`sum(increase(dbsec_privilege_changes_total%s[$__range]))`, S()),
				links: []link{eventsLink(nil, model.KeyCategory, catPriv)}}, 1)
		b.stat("DDL statements", "Schema changes in the time range.", "short", 4,
			pq{expr: fmt.Sprintf(`sum(increase(dbsec_ddl_statements_total%s[$__range]))`, S()),
				links: []link{eventsLink(nil, model.KeyCategory, catDDL)}})
		b.stat("Access denials", "Statements and logins refused for lack of privilege in the time range.", "short", 4,
			pq{expr: fmt.Sprintf(`sum(increase(dbsec_access_denied_total%s[$__range]))`, S()),
				links: []link{eventsLink(nil, model.KeyCategory, catDenied)}}, 1, 20)

		by := []string{"system", "outcome"}
		b.ts("Logins by system and outcome", "Login attempts per second by product and outcome. Click a series for its login events.", "ops", 12, 8,
			pq{expr: fmt.Sprintf(`sum by (%s) (rate(dbsec_login_attempts_total%s[$__rate_interval]))`, strings.Join(by, ", "), S()),
				legend: "{{system}} {{outcome}}", by: by, links: []link{eventsLink(by, model.KeyCategory, catLogin)}})
		by = []string{"system"}
		b.ts("Login failure ratio by system", "Failed over all login attempts, per product (no line while a product has no login).", "percentunit", 12, 8,
			pq{expr: fmt.Sprintf(`sum by (system) (rate(dbsec_login_attempts_total%s[$__rate_interval])) / (sum by (system) (rate(dbsec_login_attempts_total%s[$__rate_interval])) > 0)`,
				S(`outcome="`+outFailure+`"`), S()),
				legend: "{{system}}", by: by, links: []link{eventsLink(by, model.KeyCategory, catLogin, model.KeyOutcome, outFailure)}})
		by = []string{"system", "action"}
		b.bars("DDL and privilege changes", "Schema changes and privilege changes per interval by product and action. Click a bar for the statements.", 12, 8,
			pq{expr: fmt.Sprintf(`sum by (%s) (increase(dbsec_ddl_statements_total%s[$__rate_interval])) > 0`, strings.Join(by, ", "), S()),
				legend: "ddl {{system}} {{action}}", by: by, links: []link{eventsLink(by, model.KeyCategory, catDDL)}},
			pq{expr: fmt.Sprintf(`sum by (%s) (increase(dbsec_privilege_changes_total%s[$__rate_interval])) > 0`, strings.Join(by, ", "), S()),
				legend: "privilege {{system}} {{action}}", by: by, links: []link{eventsLink(by, model.KeyCategory, catPriv)}})
		by = []string{"system", "source"}
		b.ts("Access denials by source", "Statements and logins refused for lack of privilege, per second. Click a series for the denials.", "ops", 12, 8,
			pq{expr: fmt.Sprintf(`sum by (%s) (rate(dbsec_access_denied_total%s[$__rate_interval]))`, strings.Join(by, ", "), S()),
				legend: "{{system}} {{source}}", by: by, links: []link{eventsLink(by, model.KeyCategory, catDenied)}})

		b.row("Detections")
		for i, sev := range detectSeverities() {
			th := []float64{1}
			if i > 0 {
				th = nil
			}
			q := pq{expr: fmt.Sprintf(`sum(increase(dbsec_detections_total{instance=~"$instance",severity="%s"}[$__range]))`, sev),
				links: []link{{"Detections", dashURL("detections.json", []string{VarDBSec, v(VarDBSec), VarPrometheus, v(VarPrometheus), "severity", sev})}}}
			b.stat(strings.ToUpper(sev[:1])+sev[1:]+" detections", "Detections of severity "+sev+" in the time range. Click for the Detections dashboard.", "short", 4, q, th...)
		}
		by = []string{"rule", "severity"}
		b.bargauge("Detections by rule", "Detections in the time range by rule and severity (rules without a detection are hidden). Click a bar for the evidence events.", "short", 12, 8,
			pq{expr: `sum by (rule, severity) (increase(dbsec_detections_total{instance=~"$instance"}[$__range])) > 0`,
				legend: "{{rule}} ({{severity}})", by: by, links: []link{eventsLink(by), detectionsLink(by)}})
		by = []string{"severity"}
		b.bars("Detections by severity", "Detections per interval by severity. Click a bar for the Detections dashboard.", 12, 8,
			pq{expr: `sum by (severity) (increase(dbsec_detections_total{instance=~"$instance"}[$__rate_interval])) > 0`,
				legend: "{{severity}}", by: by, links: []link{detectionsLink(by)}})
		b.dbsecTable("Latest critical detections", "The most recent critical detections from the event store. Click a rule, user or client address for the evidence events.", 24, 8,
			model.Query{QueryType: model.Detections, Filters: filters(model.KeySeverity, detect.SevCritical), Limit: 50},
			evidenceLinks()...)

		b.row("Sources and configuration")
		b.stat("Sources up", "Sources whose input runs without error.", "short", 4,
			pq{expr: `count(dbsec_source_up{instance=~"$instance",system=~"$system"} == 1) or vector(0)`,
				links: []link{{"Exporter health", dashURL("exporter.json", []string{VarPrometheus, v(VarPrometheus)})}}})
		b.stat("Sources down", "Sources whose input is failing (file missing, listener down).", "short", 4,
			pq{expr: `count(dbsec_source_up{instance=~"$instance",system=~"$system"} == 0) or vector(0)`,
				links: []link{{"Exporter health", dashURL("exporter.json", []string{VarPrometheus, v(VarPrometheus)})}}}, 1)
		b.stat("Silent sources", "Sources that read no line in the last 15 minutes (quiet or cut off: compare with their usual volume).", "short", 4,
			pq{expr: `count(increase(dbsec_lines_read_total{instance=~"$instance",system=~"$system"}[15m]) == 0) or vector(0)`,
				links: []link{{"Exporter health", dashURL("exporter.json", []string{VarPrometheus, v(VarPrometheus)})}}}, 1)
		b.stat("Parse errors", "Records that could not be parsed in the time range.", "short", 4,
			pq{expr: `sum(increase(dbsec_parse_errors_total{instance=~"$instance",system=~"$system"}[$__range]))`,
				links: []link{{"Exporter health", dashURL("exporter.json", []string{VarPrometheus, v(VarPrometheus)})}}}, 1, 100)
		b.stat("Failing config findings", "Configuration rules failing now (unwaived), all targets.", "short", 4,
			pq{expr: `sum(dbsec_config_findings{instance=~"$instance"})`,
				links: []link{{"Configuration drift", dashURL("drift.json", []string{VarDBSec, v(VarDBSec), VarPrometheus, v(VarPrometheus)})}}}, 1)
		b.stat("Drifted keys", "Keys added, removed or changed against the approved configuration snapshots.", "short", 4,
			pq{expr: `sum(dbsec_config_drift_changes{instance=~"$instance"})`,
				links: []link{{"Configuration drift", dashURL("drift.json", []string{VarDBSec, v(VarDBSec), VarPrometheus, v(VarPrometheus)})}}}, 1)
		by = []string{"severity"}
		b.bargauge("Config findings by severity", "Failing configuration rules by severity (pkg/finding severities). Click a bar for the findings.", "short", 12, 8,
			pq{expr: `sum by (severity) (dbsec_config_findings{instance=~"$instance"})`, legend: "{{severity}}", by: by,
				links: []link{{"Findings of this severity", dashURL("drift.json", []string{VarDBSec, v(VarDBSec), VarPrometheus, v(VarPrometheus), "severity", "${__field.labels.severity}"})}}})
		by = []string{"source", "system", "reason"}
		b.ts("Parse errors by source", "Records per second that could not be parsed, by source and reason. Click a series for the source's events.", "ops", 12, 8,
			pq{expr: fmt.Sprintf(`sum by (%s) (rate(dbsec_parse_errors_total{instance=~"$instance",system=~"$system"}[$__rate_interval])) > 0`, strings.Join(by, ", ")),
				legend: "{{source}} {{reason}}", by: by, links: []link{eventsLink(by)}})
	},
}

// evidenceLinks are the links of a detections table: the rule, user and
// client address columns open the events explorer on the detection's
// evidence (the events with that rule, of that user or address).
func evidenceLinks() []fieldLinks {
	vars := []string{VarDBSec, v(VarDBSec),
		model.KeyRule, "${__data.fields.rule}",
		model.KeySource, "${__data.fields.source}",
		model.KeyUser, "${__data.fields.user}",
		model.KeyClientIP, "${__data.fields.client_ip}"}
	l := []link{{"Evidence events", dashURL("events.json", vars)}}
	return []fieldLinks{{model.KeyRule, l}, {model.KeyUser, l}, {model.KeyClientIP, l}, {"message", l}}
}

var detectionsSpec = spec{
	file: "detections.json",
	description: "Detections D01–D37: counts by rule over time from Prometheus, the stored detections with their evidence, " +
		"and the catalogue with a runbook per alert.",
	build: func(b *board) {
		b.variable(promLabelVar("instance", "Exporter", "The dbsec exporters (Prometheus instance label).", "dbsec_exporter_build_info"))
		b.variable(customVar("rule", "Rule", "Detection rules (pkg/detect catalogue names).", ruleNames(), true))
		b.variable(customVar("severity", "Severity", "Detection severities.", detectSeverities(), true))
		sel := `{instance=~"$instance",rule=~"$rule",severity=~"$severity"}`
		for _, sev := range detectSeverities() {
			var th []float64
			if sev == detect.SevCritical {
				th = []float64{1}
			}
			b.stat(strings.ToUpper(sev[:1])+sev[1:], "Detections of severity "+sev+" in the time range (rule and exporter filters apply).", "short", 8,
				pq{expr: fmt.Sprintf(`sum(increase(dbsec_detections_total{instance=~"$instance",rule=~"$rule",severity="%s"}[$__range]))`, sev),
					links: []link{eventsLink(nil)}}, th...)
		}
		by := []string{"instance", "rule", "severity"}
		b.bars("Detections by rule", "Detections per interval by rule and severity. Click a bar for the evidence events.", 16, 9,
			pq{expr: fmt.Sprintf(`sum by (%s) (increase(dbsec_detections_total%s[$__rate_interval])) > 0`, strings.Join(by, ", "), sel),
				legend: "{{rule}} ({{severity}})", by: by, links: []link{eventsLink(by)}})
		b.promTable("Detections per rule", "Detections in the time range per rule and severity. Click a rule for its evidence events.", 8, 9,
			pq{expr: fmt.Sprintf(`sum by (rule, severity) (increase(dbsec_detections_total%s[$__range])) > 0`, sel),
				by:    []string{"rule", "severity"},
				links: []link{{"Evidence events", dashURL("events.json", []string{VarDBSec, v(VarDBSec), model.KeyRule, "${__data.fields.rule}"})}}})
		b.dbsecTable("Stored detections", "Detections from the event store with their message, entity and evidence. Click the rule, user or client address for the evidence events.", 24, 10,
			model.Query{QueryType: model.Detections, Filters: filters(model.KeyRule, v("rule"), model.KeySeverity, v("severity")), Limit: 500},
			evidenceLinks()...)
		b.row("Detector state")
		byd := []string{"detector"}
		b.ts("Entities tracked", "Entities held exactly by each stateful detector (bounded by settings.max_entities).", "short", 12, 7,
			pq{expr: `sum by (detector) (dbsec_detector_entities_tracked{instance=~"$instance"}) > 0`, legend: "{{detector}}", by: byd, links: []link{eventsLink(byd)}})
		b.ts("Learning and evictions", "Detectors in their learning period (findings muted), and entities evicted from full detectors per second.", "short", 12, 7,
			pq{expr: `sum by (detector) (dbsec_detector_learning{instance=~"$instance"})`, legend: "learning {{detector}}", by: byd, links: []link{eventsLink(byd)}},
			pq{expr: `sum by (detector) (rate(dbsec_detector_state_evictions_total{instance=~"$instance"}[$__rate_interval])) > 0`, legend: "evictions {{detector}}", by: byd, links: []link{eventsLink(byd)}})
		b.markdown("Catalogue and runbooks", "Every detection with its id, rule label, default severity and the runbook of its Prometheus alert.", 24, 24, catalogueMarkdown())
	},
}

var driftSpec = spec{
	file: "drift.json",
	description: "Configuration findings by target and severity, drift against the approved snapshots on a timeline, " +
		"and waivers with their expiry.",
	build: func(b *board) {
		b.variable(promLabelVar("instance", "Exporter", "The dbsec exporters (Prometheus instance label).", "dbsec_exporter_build_info"))
		b.variable(promLabelVar("target", "Target", "Configuration targets ([[drift.target]] names).", `dbsec_config_findings{instance=~"$instance"}`))
		b.variable(customVar("severity", "Severity", "Finding severities (pkg/finding).", findingSeverities(), true))
		b.variable(textVar("file", "File", "Only the drift changes of this file (a path or part of it); empty: every file."))
		b.d.Annotation(driftAnnotation())
		sel := `{instance=~"$instance",target=~"$target",severity=~"$severity"}`
		b.stat("Failing findings", "Configuration rules failing now (unwaived or waiver expired).", "short", 6,
			pq{expr: fmt.Sprintf(`sum(dbsec_config_findings%s)`, sel), links: []link{driftLink(nil)}}, 1)
		b.stat("Drifted keys", "Keys added, removed or changed against the approved snapshot (needs [drift] snapshot).", "short", 6,
			pq{expr: `sum(dbsec_config_drift_changes{instance=~"$instance",target=~"$target"})`, links: []link{driftLink(nil)}}, 1)
		by := []string{"target"}
		b.bargauge("Failing findings by target", "Failing rules per target. Click a bar to narrow the dashboard to the target.", "short", 6, 8,
			pq{expr: fmt.Sprintf(`sum by (target) (dbsec_config_findings%s)`, sel), legend: "{{target}}", by: by, links: []link{driftLink(by)}})
		by = []string{"severity"}
		b.bargauge("Failing findings by severity", "Failing rules per severity. Click a bar to narrow the dashboard to the severity.", "short", 6, 8,
			pq{expr: fmt.Sprintf(`sum by (severity) (dbsec_config_findings%s)`, sel), legend: "{{severity}}", by: by, links: []link{driftLink(by)}})
		by = []string{"target", "severity"}
		b.ts("Failing findings over time", "Failing rules per target and severity; a step is a fix, a regression or a waiver. Drift changes are annotations.", "short", 12, 8,
			pq{expr: fmt.Sprintf(`sum by (target, severity) (dbsec_config_findings%s)`, sel), legend: "{{target}} {{severity}}", by: by, links: []link{driftLink(by)}})
		by = []string{"target"}
		b.ts("Drift changes by target", "Keys that differ from the approved snapshot, per target (no series without a snapshot).", "short", 12, 8,
			pq{expr: `sum by (target) (dbsec_config_drift_changes{instance=~"$instance",target=~"$target"})`, legend: "{{target}}", by: by, links: []link{driftLink(by)}})
		b.promTable("Failing rules", "The rules failing now, per target. Click a target to narrow the dashboard to it.", 24, 8,
			pq{expr: fmt.Sprintf(`dbsec_config_findings%s == 1`, sel), by: []string{"target", "rule", "severity"},
				links: []link{{"This target", dashURL("drift.json", []string{VarDBSec, v(VarDBSec), VarPrometheus, v(VarPrometheus), "target", "${__data.fields.target}"})}}},
			"Value", "__name__", "job")
		fileLink := []link{{"Drift changes of this file", dashURL("drift.json", []string{VarDBSec, v(VarDBSec), VarPrometheus, v(VarPrometheus),
			"target", "${__data.fields.target}", "file", "${__data.fields.file}"})}}
		b.dbsecTable("Findings", "Findings from the drift checker with file:line, status and remediation. Click a file for its drift changes.", 24, 10,
			model.Query{QueryType: model.Findings, Filters: filters(model.KeyTarget, v("target"), model.KeySeverity, v("severity"), model.KeyStatus, string(finding.Fail)), Limit: 1000},
			fieldLinks{"file", fileLink}, fieldLinks{"target", fileLink})
		b.driftChanges()
		b.dbsecTableT("Waivers", "Findings under a waiver, with owner and expiry (soonest first): an expired waiver fails again.", 24, 8,
			model.Query{QueryType: model.Findings, Filters: filters(model.KeyTarget, v("target"), model.KeySeverity, v("severity")), Limit: 1000},
			[]dashboard.DataTransformerConfig{
				{Id: "filterByValue", Options: map[string]any{
					"type": "include", "match": "any",
					"filters": []any{map[string]any{"fieldName": "waiver_expires", "config": map[string]any{"id": "isNotNull", "options": map[string]any{}}}},
				}},
				{Id: "sortBy", Options: map[string]any{"sort": []any{map[string]any{"field": "waiver_expires", "desc": false}}}},
			},
			fieldLinks{"file", fileLink})
	},
}

// driftLink narrows the drift dashboard to the clicked series' labels.
func driftLink(by []string) link {
	vars := []string{VarDBSec, v(VarDBSec), VarPrometheus, v(VarPrometheus)}
	for _, l := range by {
		vars = append(vars, l, "${__field.labels."+l+"}")
	}
	return link{"Findings and drift", dashURL("drift.json", vars)}
}

func catalogueMarkdown() string {
	alerts := detectionAlerts()
	var b strings.Builder
	b.WriteString("| id | rule | title | severity | alert and runbook |\n|---|---|---|---|---|\n")
	for _, r := range detect.Catalog() {
		a := "—"
		if al, ok := alerts[r.Name]; ok {
			a = fmt.Sprintf("[%s](%s)", al.name, al.runbook)
		} else if r.Kind == detect.KindPromQL {
			a = "PromQL alert (alerting/rules)"
		}
		events := dashURL("events.json", []string{VarDBSec, v(VarDBSec), model.KeyRule, r.Name})
		fmt.Fprintf(&b, "| %s | [%s](%s) | %s | %s | %s |\n", r.ID, r.Name, events, r.Title, r.Severity, a)
	}
	return b.String()
}

// driftChanges adds the table of drift changes, narrowed to the file
// variable by a filter on the path column.
func (b *board) driftChanges() {
	b.dbsecTableT("Drift changes", "Keys added, removed or changed against the approved snapshot, newest first (secrets only as HMACs). The File variable narrows it to one file.", 24, 10,
		model.Query{QueryType: model.DriftChanges, Filters: filters(model.KeyTarget, v("target")), Limit: 1000},
		[]dashboard.DataTransformerConfig{{Id: "filterByValue", Options: map[string]any{
			"type": "include", "match": "any",
			"filters": []any{map[string]any{"fieldName": "path", "config": map[string]any{"id": "regex", "options": map[string]any{"value": ".*${file:regex}.*"}}}},
		}}})
}

// driftAnnotation marks every drift change on the time series panels.
func driftAnnotation() *dashboard.AnnotationQueryBuilder {
	return dashboard.NewAnnotationQueryBuilder().
		Name("Drift changes").
		Datasource(dbsecDS).
		Enable(true).
		Hide(false).
		IconColor("orange").
		Target(dbsecTarget(model.Query{QueryType: model.DriftChanges, Filters: filters(model.KeyTarget, v("target")), Limit: 1000}, "Anno"))
}

type alertRef struct{ name, runbook string }

// detectionAlerts maps detection rule names to the Prometheus alert that
// fires on them (alerting/rules/*.yml: expressions over
// dbsec_detections_total{rule="…"}).
func detectionAlerts() map[string]alertRef {
	_, self, _, _ := runtime.Caller(0)
	files, _ := filepath.Glob(filepath.Join(filepath.Dir(self), "..", "alerting", "rules", "*.yml"))
	if len(files) == 0 {
		panic("no alert rule files in alerting/rules")
	}
	re := regexp.MustCompile(`dbsec_detections_total\{rule="([a-z0-9_]+)"`)
	out := map[string]alertRef{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			panic(err)
		}
		var rf struct {
			Groups []struct {
				Rules []struct {
					Alert       string            `yaml:"alert"`
					Expr        string            `yaml:"expr"`
					Annotations map[string]string `yaml:"annotations"`
				} `yaml:"rules"`
			} `yaml:"groups"`
		}
		if err := yaml.Unmarshal(data, &rf); err != nil {
			panic(fmt.Sprintf("%s: %v", f, err))
		}
		for _, g := range rf.Groups {
			for _, r := range g.Rules {
				if m := re.FindStringSubmatch(r.Expr); m != nil && r.Alert != "" {
					if _, dup := out[m[1]]; !dup {
						out[m[1]] = alertRef{r.Alert, r.Annotations["runbook_url"]}
					}
				}
			}
		}
	}
	return out
}
