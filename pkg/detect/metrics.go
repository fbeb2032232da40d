package detect

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dbsec/dbsec/pkg/event"
)

// Metric names exported by the detector's collector, sorted.
var MetricNames = []string{
	"dbsec_detect_entity_events",
	"dbsec_detector_entities_tracked",
	"dbsec_detector_learning",
	"dbsec_detector_sketched_events_total",
	"dbsec_detector_state_evictions_total",
	"dbsec_detections_total",
	"dbsec_sqlx_cache_requests_total",
}

var (
	descDetections = prometheus.NewDesc("dbsec_detections_total",
		"Detections by source, rule (detect.Catalog name and D-id) and severity. Exemplars carry the event id of the latest detection.",
		[]string{"source", "rule", "rule_id", "severity"}, nil)
	descLearning = prometheus.NewDesc("dbsec_detector_learning",
		"1 while a first-seen detector is in its learning period (its findings are muted).",
		[]string{"detector"}, nil)
	descTracked = prometheus.NewDesc("dbsec_detector_entities_tracked",
		"Entities held exactly by a stateful detector (bounded by settings.max_entities).",
		[]string{"detector"}, nil)
	descEvictions = prometheus.NewDesc("dbsec_detector_state_evictions_total",
		"Entities evicted from a full detector to admit a more frequent one.",
		[]string{"detector"}, nil)
	descSketched = prometheus.NewDesc("dbsec_detector_sketched_events_total",
		"Events of entities not admitted to a full detector (counted in its sketch only).",
		[]string{"detector"}, nil)
	descCache = prometheus.NewDesc("dbsec_sqlx_cache_requests_total",
		"Statement-analysis cache lookups by result (hit, miss).",
		[]string{"result"}, nil)
	descTopK = prometheus.NewDesc("dbsec_detect_entity_events",
		"Estimated events of the top-K entities per dimension since start (Space-Saving; settings.top_k, off by default).",
		[]string{"dimension", "entity"}, nil)
)

var sevNames = [3]string{SevInfo, SevWarning, SevCritical}

func sevIndex(s string) int {
	switch s {
	case SevCritical:
		return 2
	case SevWarning:
		return 1
	}
	return 0
}

type exemplar struct {
	id string
	t  time.Time
}

// OtherSource is the source label of detections on events of a source
// that is not configured (Options.Sources), or beyond MaxSources distinct
// sources when none are configured: the label stays bounded.
const OtherSource = "_other"

// MaxSources bounds the source label when Options.Sources is empty.
const MaxSources = 256

// srcCounts are the counters of one source.
type srcCounts struct {
	counts [numRules][3]uint64
	last   [numRules][3]exemplar
}

// metrics are the detector's counters, guarded by Detector.mu.
type metrics struct {
	bySrc map[string]*srcCounts
	// known are the configured sources (nil: any, up to MaxSources).
	known map[string]bool
	// series[rule][sev] is true when the series is exported.
	series [numRules][3]bool
}

func (m *metrics) init(d *Detector) {
	for i := range catalog {
		if !d.on[i] {
			continue
		}
		for _, s := range catalog[i].Severities {
			m.series[i][sevIndex(s)] = true
		}
		m.series[i][sevIndex(d.rc[i].Severity)] = true
	}
	m.bySrc = map[string]*srcCounts{}
	if len(d.opts.Sources) > 0 {
		m.known = map[string]bool{}
		for _, s := range d.opts.Sources {
			m.known[s] = true
			m.bySrc[s] = &srcCounts{} // pre-initialised series
		}
	}
}

func (m *metrics) count(ri int, sev string, ev *event.Event) {
	s := sevIndex(sev)
	src := ev.Source
	switch {
	case m.known != nil && !m.known[src]:
		src = OtherSource
	case m.known == nil && m.bySrc[src] == nil && len(m.bySrc) >= MaxSources:
		src = OtherSource
	}
	c := m.bySrc[src]
	if c == nil {
		c = &srcCounts{}
		m.bySrc[strings.Clone(src)] = c
	}
	c.counts[ri][s]++
	m.series[ri][s] = true
	if ev.ID != "" {
		c.last[ri][s] = exemplar{strings.Clone(ev.ID), ev.Time}
	}
}

// Collector returns the prometheus.Collector of the detector's metrics.
func (d *Detector) Collector() prometheus.Collector { return (*collector)(d) }

type collector Detector

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descDetections, descLearning, descTracked, descEvictions, descSketched, descCache, descTopK} {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	d := (*Detector)(c)
	d.mu.Lock()
	series := d.m.series
	srcs := make([]string, 0, len(d.m.bySrc))
	counts := make([]srcCounts, 0, len(d.m.bySrc))
	for name := range d.m.bySrc {
		srcs = append(srcs, name)
	}
	slices.Sort(srcs)
	if len(srcs) == 0 {
		// Nothing configured or seen yet: the series are still
		// pre-initialised, with an empty source.
		srcs = append(srcs, "")
		counts = append(counts, srcCounts{})
	} else {
		for _, name := range srcs {
			counts = append(counts, *d.m.bySrc[name])
		}
	}
	type tstat struct {
		name      string
		n         int
		evictions uint64
		rejected  uint64
	}
	ts := make([]tstat, 0, len(d.trackers))
	for _, t := range d.trackers {
		name, e, r := t.stats()
		ts = append(ts, tstat{name, t.len(), e, r})
	}
	learning := map[string]bool{}
	for ri, nov := range map[int]*novelty{rD07: d.nNet, rD19: d.nDestr, rD29: d.nSens, rD33: d.nDigest} {
		if d.on[ri] {
			learning[catalog[ri].Name] = nov.learningAt(d.now)
		}
	}
	if d.on[rD30] {
		learning[catalog[rD30].Name] = d.nDigest.learningAt(d.now)
	}
	if d.on[rD31] {
		learning[catalog[rD31].Name] = d.nDigest.learningAt(d.now)
	}
	var top [numDims][]ssEntry
	for i, s := range d.topk {
		if s != nil {
			top[i] = s.top()
		}
	}
	hashIPs := d.set.TopKHashIPs
	d.mu.Unlock()

	for si, src := range srcs {
		m := &counts[si]
		for ri := range catalog {
			for s := range 3 {
				if !series[ri][s] {
					continue
				}
				cm := prometheus.MustNewConstMetric(descDetections, prometheus.CounterValue, float64(m.counts[ri][s]),
					src, catalog[ri].Name, catalog[ri].ID, sevNames[s])
				if ex := m.last[ri][s]; ex.id != "" {
					if em, err := prometheus.NewMetricWithExemplars(cm, prometheus.Exemplar{
						Value: 1, Labels: prometheus.Labels{"event_id": ex.id}, Timestamp: ex.t,
					}); err == nil {
						cm = em
					}
				}
				ch <- cm
			}
		}
	}
	names := make([]string, 0, len(learning))
	for n := range learning {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		v := 0.0
		if learning[n] {
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(descLearning, prometheus.GaugeValue, v, n)
	}
	for _, t := range ts {
		ch <- prometheus.MustNewConstMetric(descTracked, prometheus.GaugeValue, float64(t.n), t.name)
		ch <- prometheus.MustNewConstMetric(descEvictions, prometheus.CounterValue, float64(t.evictions), t.name)
		ch <- prometheus.MustNewConstMetric(descSketched, prometheus.CounterValue, float64(t.rejected), t.name)
	}
	h, mi := d.an.CacheStats()
	ch <- prometheus.MustNewConstMetric(descCache, prometheus.CounterValue, float64(h), "hit")
	ch <- prometheus.MustNewConstMetric(descCache, prometheus.CounterValue, float64(mi), "miss")
	for dim, entries := range top {
		for _, e := range entries {
			ent := e.key
			if dim == dimIP && hashIPs {
				sum := sha256.Sum256([]byte(ent))
				ent = "h:" + hex.EncodeToString(sum[:6])
			}
			ch <- prometheus.MustNewConstMetric(descTopK, prometheus.GaugeValue, float64(e.count), dimNames[dim], ent)
		}
	}
}

// --- top-K (Space-Saving) ------------------------------------------------

const (
	dimUser = iota
	dimIP
	dimDigest
	numDims
)

var dimNames = [numDims]string{"user", "client_ip", "digest"}

type ssEntry struct {
	key   string
	count uint64
}

// spaceSaving keeps 4K counters and reports the K largest; memory is fixed.
type spaceSaving struct {
	k   int
	e   []ssEntry
	idx map[string]int
}

func newSpaceSaving(k int) *spaceSaving {
	return &spaceSaving{k: k, idx: make(map[string]int, 4*k)}
}

func (s *spaceSaving) add(key string) {
	if key == "" {
		return
	}
	if i, ok := s.idx[key]; ok {
		s.e[i].count++
		return
	}
	if len(s.e) < 4*s.k {
		s.idx[strings.Clone(key)] = len(s.e)
		s.e = append(s.e, ssEntry{strings.Clone(key), 1})
		return
	}
	mi := 0
	for i := range s.e {
		if s.e[i].count < s.e[mi].count {
			mi = i
		}
	}
	delete(s.idx, s.e[mi].key)
	k := strings.Clone(key)
	s.e[mi] = ssEntry{k, s.e[mi].count + 1}
	s.idx[k] = mi
}

func (s *spaceSaving) top() []ssEntry {
	out := slices.Clone(s.e)
	slices.SortFunc(out, func(a, b ssEntry) int {
		if a.count != b.count {
			if a.count > b.count {
				return -1
			}
			return 1
		}
		return strings.Compare(a.key, b.key)
	})
	if len(out) > s.k {
		out = out[:s.k]
	}
	return out
}

func (d *Detector) countTopK(c *evalCtx) {
	if d.topk[0] == nil {
		return
	}
	d.topk[dimUser].add(c.ev.User)
	d.topk[dimIP].add(c.ev.ClientIP)
	d.topk[dimDigest].add(c.ev.Digest)
}
