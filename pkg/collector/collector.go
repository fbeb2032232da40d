// Package collector owns dbsec's Prometheus metrics: the always-on security
// series of docs/architecture.md and the per-source self-metrics.
//
// Counting is on the per-line path, so it is done with atomics in fixed
// arrays indexed by the closed sets of pkg/event: Source.Count does not
// allocate or take a lock. At scrape time Collect turns the arrays into const
// metrics. Label values come only from the closed sets and from configuration
// (the source name and its constant labels): never from log content.
package collector

import (
	"math"
	"slices"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dbsec/dbsec/pkg/event"
	"github.com/dbsec/dbsec/pkg/input"
	"github.com/dbsec/dbsec/pkg/parse"
)

// Metric describes one exported metric family, for docs and tests.
type Metric struct {
	Name   string
	Type   string // counter, gauge, histogram
	Help   string
	Labels []string // beyond source, system and the configured constant labels
}

// Metrics returns every metric family this package exports, sorted by name.
// The README's metric reference and the dashboards are checked against it.
func Metrics() []Metric {
	out := slices.Clone(metricList)
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

var (
	mEvents       = Metric{"dbsec_events_total", "counter", "Audit events by security category and outcome.", []string{"category", "outcome"}}
	mLogins       = Metric{"dbsec_login_attempts_total", "counter", "Login attempts by outcome (a failed login written as several lines counts once).", []string{"outcome"}}
	mDDL          = Metric{"dbsec_ddl_statements_total", "counter", "DDL statements that changed the schema, by action; failed ones (refused, erroneous) count only in dbsec_events_total with outcome failure.", []string{"action"}}
	mPriv         = Metric{"dbsec_privilege_changes_total", "counter", "Privilege changes that happened (GRANT, REVOKE, CREATE/ALTER/DROP USER, SET PASSWORD …) by action; failed ones (refused, erroneous) count only in dbsec_events_total with outcome failure.", []string{"action"}}
	mStatements   = Metric{"dbsec_statements_total", "counter", "SQL statements by class, refused ones included.", []string{"class"}}
	mDenied       = Metric{"dbsec_access_denied_total", "counter", "Statements and logins refused for lack of privilege.", nil}
	mDuration     = Metric{"dbsec_query_duration_seconds", "histogram", "Statement duration, where the format records it.", nil}
	mRowsReturned = Metric{"dbsec_rows_returned", "histogram", "Rows returned by reads, where the format records them.", nil}
	mRowsAffected = Metric{"dbsec_rows_affected", "histogram", "Rows affected by writes, where the format records them.", nil}
	mLines        = Metric{"dbsec_lines_read_total", "counter", "Lines read from the source.", nil}
	mBytes        = Metric{"dbsec_bytes_read_total", "counter", "Bytes read from the source, newlines included.", nil}
	mParseErrors  = Metric{"dbsec_parse_errors_total", "counter", "Records that could not be parsed, by reason.", []string{"reason"}}
	mSkipped      = Metric{"dbsec_records_skipped_total", "counter", "Well-formed records the format sets aside on purpose (TiDB slow-log internal statements; docs/formats.md).", nil}
	mUp           = Metric{"dbsec_source_up", "gauge", "1 while the source's input is running without error.", nil}
	mLag          = Metric{"dbsec_source_lag_bytes", "gauge", "Bytes written to the source's files but not read yet.", nil}
	mRotations    = Metric{"dbsec_source_rotations_total", "counter", "File rotations followed.", nil}
	mTruncations  = Metric{"dbsec_source_truncations_total", "counter", "File truncations detected (copytruncate).", nil}
	mReadErrors   = Metric{"dbsec_source_read_errors_total", "counter", "Read and watch errors of the source's input.", nil}
	mMatched      = Metric{"dbsec_source_files_matched", "gauge", "Files the source's path or glob matched at the last scan (0: it matches nothing).", nil}
	mLongLines    = Metric{"dbsec_source_lines_cut_total", "counter", "Lines longer than the line limit, cut to it.", nil}

	metricList = []Metric{
		mEvents, mLogins, mDDL, mPriv, mStatements, mDenied, mDuration, mRowsReturned, mRowsAffected,
		mLines, mBytes, mParseErrors, mSkipped, mUp, mLag, mRotations, mTruncations, mReadErrors, mMatched, mLongLines,
		{"dbsec_exporter_build_info", "gauge", "A metric with a constant '1' value labeled by version, revision, branch, goversion, goos, goarch and tags.", []string{"version", "revision", "branch", "goversion", "goos", "goarch", "tags"}},
		{"dbsec_config_last_reload_successful", "gauge", "1 if the last configuration load succeeded.", nil},
		{"dbsec_config_last_reload_success_timestamp_seconds", "gauge", "Time of the last successful configuration load.", nil},
	}
)

// Buckets of the histograms.
var (
	DurationBuckets = []float64{0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 60}
	RowsBuckets     = []float64{0, 1, 10, 100, 1000, 10000, 100000, 1000000}
)

// Source holds the counters of one configured source. Its methods are safe
// for concurrent use and do not allocate.
type Source struct {
	name   string
	system event.System
	labels map[string]string

	events     [event.NumCategories][event.NumOutcomes]atomic.Uint64
	logins     [event.NumOutcomes]atomic.Uint64
	ddl        [event.NumActions]atomic.Uint64
	priv       [event.NumActions]atomic.Uint64
	statements [event.NumClasses]atomic.Uint64
	denied     atomic.Uint64

	duration, rowsReturned, rowsAffected histogram

	lines, bytes atomic.Uint64
	parseErrors  [parse.NumReasons]atomic.Uint64
	skipped      atomic.Uint64
	up           atomic.Int32

	mu    sync.Mutex
	stats input.StatsReporter
}

// Name returns the source name.
func (s *Source) Name() string { return s.name }

// Count adds one event to the security series.
func (s *Source) Count(ev *event.Event) {
	c, o := ev.Category, ev.Outcome
	if c >= event.NumCategories {
		c = event.CategoryOther
	}
	if o >= event.NumOutcomes {
		o = event.OutcomeUnknown
	}
	a := ev.Action
	if a >= event.NumActions {
		a = event.ActionOther
	}
	s.events[c][o].Add(1)
	// The verb's own category, which an access denial or failure hides.
	// The DDL and privilege-change counters count changes that happened:
	// a statement that failed (refused, a syntax error, CREATE USER of an
	// account that exists) changed nothing and is seen in
	// dbsec_events_total{outcome="failure"} only. An unknown outcome (a
	// format that does not record it) counts.
	verb := a.Category()
	changed := c != event.CategoryAccessDenied && o != event.OutcomeFailure
	switch {
	case c == event.CategoryLogin:
		s.logins[o].Add(1)
	case verb == event.CategoryDDL && changed:
		s.ddl[a].Add(1)
	case verb == event.CategoryPrivilegeChange && changed:
		s.priv[a].Add(1)
	}
	if c == event.CategoryAccessDenied {
		s.denied.Add(1)
	}
	if a.IsStatement() {
		s.statements[a.Class()].Add(1)
	}
	if ev.HasDuration {
		s.duration.observe(ev.Duration)
	}
	// Rows only mean something for statements that ran.
	if ev.HasRows && o != event.OutcomeFailure {
		switch verb {
		case event.CategoryRead:
			s.rowsReturned.observe(float64(ev.Rows))
		case event.CategoryDMLWrite:
			s.rowsAffected.observe(float64(ev.Rows))
		}
	}
}

// Line counts one line of n bytes (without the newline) read from the
// source.
func (s *Source) Line(n int) {
	s.lines.Add(1)
	s.bytes.Add(uint64(n) + 1)
}

// ParseError counts one record that failed to parse.
func (s *Source) ParseError(r parse.Reason) {
	if r >= parse.NumReasons {
		r = parse.ReasonSyntax
	}
	s.parseErrors[r].Add(1)
}

// Skipped counts one record the parser set aside on purpose (parse.Skip).
func (s *Source) Skipped() { s.skipped.Add(1) }

// SetUp sets dbsec_source_up.
func (s *Source) SetUp(up bool) {
	if up {
		s.up.Store(1)
	} else {
		s.up.Store(0)
	}
}

// SetInput attaches the input whose Stats feed lag and rotation metrics.
func (s *Source) SetInput(r input.StatsReporter) {
	s.mu.Lock()
	s.stats = r
	s.mu.Unlock()
}

// Registry holds the sources and is the prometheus.Collector of the security
// and self metrics.
type Registry struct {
	mu      sync.RWMutex
	sources map[string]*Source
	keys    []string // union of the configured constant label names, sorted
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{sources: map[string]*Source{}}
}

// SourceSpec configures one source's series.
type SourceSpec struct {
	Name   string
	System event.System
	Labels map[string]string
}

// Configure sets the configured sources. The counters of a source that keeps
// its name, system and labels survive (so a reload does not reset them);
// sources no longer configured are dropped. It returns the sources in the
// order given.
func (r *Registry) Configure(specs []SourceSpec) []*Source {
	r.mu.Lock()
	defer r.mu.Unlock()
	next := make(map[string]*Source, len(specs))
	keySet := map[string]bool{}
	out := make([]*Source, 0, len(specs))
	for _, sp := range specs {
		s, ok := r.sources[sp.Name]
		if !ok || s.system != sp.System || !maps2Equal(s.labels, sp.Labels) {
			s = &Source{name: sp.Name, system: sp.System, labels: sp.Labels}
			s.duration.init(DurationBuckets)
			s.rowsReturned.init(RowsBuckets)
			s.rowsAffected.init(RowsBuckets)
		}
		next[sp.Name] = s
		for k := range sp.Labels {
			keySet[k] = true
		}
		out = append(out, s)
	}
	keys := make([]string, 0, len(keySet))
	for k := range keySet {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	r.sources = next
	r.keys = keys
	return out
}

func maps2Equal(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// Describe sends nothing: the label names depend on the configuration, so
// this is an unchecked collector.
func (r *Registry) Describe(chan<- *prometheus.Desc) {}

// Collect implements prometheus.Collector.
func (r *Registry) Collect(ch chan<- prometheus.Metric) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	base := append([]string{"source", "system"}, r.keys...)
	desc := func(m Metric) *prometheus.Desc {
		return prometheus.NewDesc(m.Name, m.Help, append(slices.Clone(base), m.Labels...), nil)
	}
	dEvents, dLogins, dDDL, dPriv := desc(mEvents), desc(mLogins), desc(mDDL), desc(mPriv)
	dStatements, dDenied := desc(mStatements), desc(mDenied)
	dDuration, dRowsRet, dRowsAff := desc(mDuration), desc(mRowsReturned), desc(mRowsAffected)
	dLines, dBytes, dParse, dUp, dLag := desc(mLines), desc(mBytes), desc(mParseErrors), desc(mUp), desc(mLag)
	dSkipped := desc(mSkipped)
	dRot, dTrunc, dErr := desc(mRotations), desc(mTruncations), desc(mReadErrors)
	dMatched, dLong := desc(mMatched), desc(mLongLines)

	names := make([]string, 0, len(r.sources))
	for n := range r.sources {
		names = append(names, n)
	}
	sort.Strings(names)
	counter := func(d *prometheus.Desc, v uint64, lv []string, extra ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), append(slices.Clone(lv), extra...)...)
	}
	gauge := func(d *prometheus.Desc, v float64, lv []string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, lv...)
	}
	for _, n := range names {
		s := r.sources[n]
		lv := []string{s.name, s.system.String()}
		for _, k := range r.keys {
			lv = append(lv, s.labels[k])
		}
		for c := range event.NumCategories {
			for o := range event.NumOutcomes {
				counter(dEvents, s.events[c][o].Load(), lv, c.String(), o.String())
			}
		}
		for o := range event.NumOutcomes {
			counter(dLogins, s.logins[o].Load(), lv, o.String())
		}
		for a := range event.NumActions {
			switch a.Category() {
			case event.CategoryDDL:
				counter(dDDL, s.ddl[a].Load(), lv, a.String())
			case event.CategoryPrivilegeChange:
				counter(dPriv, s.priv[a].Load(), lv, a.String())
			}
		}
		for c := range event.NumClasses {
			counter(dStatements, s.statements[c].Load(), lv, c.String())
		}
		counter(dDenied, s.denied.Load(), lv)
		s.duration.collect(ch, dDuration, lv)
		s.rowsReturned.collect(ch, dRowsRet, lv)
		s.rowsAffected.collect(ch, dRowsAff, lv)
		counter(dLines, s.lines.Load(), lv)
		counter(dBytes, s.bytes.Load(), lv)
		for rs := range parse.NumReasons {
			counter(dParse, s.parseErrors[rs].Load(), lv, rs.String())
		}
		counter(dSkipped, s.skipped.Load(), lv)
		gauge(dUp, float64(s.up.Load()), lv)
		s.mu.Lock()
		st := s.stats
		s.mu.Unlock()
		var stats input.Stats
		if st != nil {
			stats = st.Stats()
		}
		gauge(dLag, float64(stats.LagBytes), lv)
		counter(dRot, stats.Rotations, lv)
		counter(dTrunc, stats.Truncations, lv)
		counter(dErr, stats.Errors, lv)
		if stats.FileInput {
			gauge(dMatched, float64(stats.Matched), lv)
			counter(dLong, stats.LongLines, lv)
		}
	}
}

// histogram is a fixed-bucket histogram updated with atomics.
type histogram struct {
	upper   []float64
	counts  []atomic.Uint64 // non-cumulative, len(upper)+1 (the last is +Inf)
	sumBits atomic.Uint64
}

func (h *histogram) init(upper []float64) {
	h.upper = upper
	h.counts = make([]atomic.Uint64, len(upper)+1)
}

func (h *histogram) observe(v float64) {
	if math.IsNaN(v) {
		return
	}
	i := sort.SearchFloat64s(h.upper, v) // first bucket with upper >= v
	h.counts[i].Add(1)
	for {
		old := h.sumBits.Load()
		if h.sumBits.CompareAndSwap(old, math.Float64bits(math.Float64frombits(old)+v)) {
			return
		}
	}
}

func (h *histogram) collect(ch chan<- prometheus.Metric, d *prometheus.Desc, lv []string) {
	buckets := make(map[float64]uint64, len(h.upper))
	var cum uint64
	for i, u := range h.upper {
		cum += h.counts[i].Load()
		buckets[u] = cum
	}
	cum += h.counts[len(h.upper)].Load()
	// The count is the sum of the buckets read here, so that a scrape
	// racing with observe stays self-consistent.
	ch <- prometheus.MustNewConstHistogram(d, cum, math.Float64frombits(h.sumBits.Load()), buckets, lv...)
}

var _ prometheus.Collector = (*Registry)(nil)
