package drift

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/dbsec/dbsec/pkg/finding"
)

var (
	findingsDesc = prometheus.NewDesc("dbsec_config_findings",
		"1 while the configuration rule fails for the target (unwaived or expired waiver), 0 otherwise.",
		[]string{"target", "rule", "severity"}, nil)
	driftDesc = prometheus.NewDesc("dbsec_config_drift_changes",
		"Number of keys added, removed or changed against the approved snapshot.",
		[]string{"target"}, nil)
	errorsDesc = prometheus.NewDesc("dbsec_config_target_errors",
		"Files of the target that the last check could not read or parse (0 while every file was checked).",
		[]string{"target"}, nil)
)

// MetricNames lists the metric names this package exports.
var MetricNames = []string{"dbsec_config_drift_changes", "dbsec_config_findings", "dbsec_config_target_errors"}

// Collector exports the last Result of a Checker as const metrics. It
// never runs checks itself; the exporter calls Checker.Run on an interval.
type Collector struct{ c *Checker }

// NewCollector returns a collector over c's last result.
func NewCollector(c *Checker) *Collector { return &Collector{c: c} }

// Describe implements prometheus.Collector.
func (col *Collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- findingsDesc
	ch <- driftDesc
	ch <- errorsDesc
}

// Collect implements prometheus.Collector. One series per target × rule
// (the worst state over that target's files); severity is the effective
// one after overrides. Keys and values are never labels.
func (col *Collector) Collect(ch chan<- prometheus.Metric) {
	res, ok := col.c.Last()
	if !ok {
		return
	}
	type k struct{ target, rule string }
	val := map[k]float64{}
	sev := map[k]finding.Severity{}
	for i := range res.Findings {
		f := &res.Findings[i]
		if f.Status == finding.NotApplicable {
			continue
		}
		key := k{f.Target, f.RuleID}
		if _, seen := val[key]; !seen {
			val[key] = 0
		}
		if f.Failing() {
			val[key] = 1
		}
		if f.Severity > sev[key] {
			sev[key] = f.Severity
		}
	}
	for key, v := range val {
		ch <- prometheus.MustNewConstMetric(findingsDesc, prometheus.GaugeValue, v, key.target, key.rule, sev[key].String())
	}
	drift := map[string]float64{}
	for _, t := range col.c.cfg.Targets {
		if col.c.snap != nil {
			drift[t.Name] = 0
		}
	}
	for _, d := range res.Drift {
		if d.CountsAsDrift() {
			drift[d.Target]++
		}
	}
	for t, v := range drift {
		ch <- prometheus.MustNewConstMetric(driftDesc, prometheus.GaugeValue, v, t)
	}
	errs := map[string]float64{}
	for _, t := range col.c.cfg.Targets {
		errs[t.Name] = 0
	}
	for _, f := range res.Files {
		if !f.Parsed {
			errs[f.Target]++
		}
	}
	for t, v := range errs {
		ch <- prometheus.MustNewConstMetric(errorsDesc, prometheus.GaugeValue, v, t)
	}
}

var _ prometheus.Collector = (*Collector)(nil)
