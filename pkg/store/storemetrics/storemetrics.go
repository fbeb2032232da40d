// Package storemetrics exports the counters of any store engine
// (store.Stats) as Prometheus metrics. It is apart from the store contract
// so that the contract stays free of client_golang.
package storemetrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/dbsec/dbsec/pkg/store"
)

var (
	eventsDesc  = prometheus.NewDesc("dbsec_store_events", "Events in the event store.", nil, nil)
	bytesDesc   = prometheus.NewDesc("dbsec_store_bytes", "Size of the event store's files (database and write-ahead log).", nil, nil)
	storedDesc  = prometheus.NewDesc("dbsec_store_events_written_total", "Events written to the event store since start.", nil, nil)
	droppedDesc = prometheus.NewDesc("dbsec_store_events_dropped_total", "Events the store could not keep (queue full or write failed) since start.", nil, nil)
	skippedDesc = prometheus.NewDesc("dbsec_store_events_skipped_total", "Events the storage policy did not keep (reads and writes without all_statements) since start.", nil, nil)
	errorsDesc  = prometheus.NewDesc("dbsec_store_write_errors_total", "Failed write transactions of the event store since start.", nil, nil)
	headSeqDesc = prometheus.NewDesc("dbsec_store_chain_head_seq", "Sequence number of the newest event of the store's hash chain (a record outside the database: it never decreases).", nil, nil)
	headHash    = prometheus.NewDesc("dbsec_store_chain_head_hash_prefix", "First 48 bits of the hash of the chain's newest event, as an integer.", nil, nil)
)

// Header is implemented by engines with one hash chain whose head they can
// report (the embedded store).
type Header interface {
	Head() (seq int64, hash48 uint64)
}

// Names are the names of the metrics of this package.
var Names = []string{"dbsec_store_events", "dbsec_store_bytes", "dbsec_store_events_written_total",
	"dbsec_store_events_dropped_total", "dbsec_store_events_skipped_total", "dbsec_store_write_errors_total",
	"dbsec_store_chain_head_seq", "dbsec_store_chain_head_hash_prefix"}

// Collector exports the counters of a store.
type Collector struct{ q store.Querier }

// New returns a collector of q's Stats.
func New(q store.Querier) *Collector { return &Collector{q: q} }

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{eventsDesc, bytesDesc, storedDesc, droppedDesc, skippedDesc, errorsDesc, headSeqDesc, headHash} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	st := c.q.Stats()
	ch <- prometheus.MustNewConstMetric(eventsDesc, prometheus.GaugeValue, float64(st.Events))
	ch <- prometheus.MustNewConstMetric(bytesDesc, prometheus.GaugeValue, float64(st.Bytes))
	ch <- prometheus.MustNewConstMetric(storedDesc, prometheus.CounterValue, float64(st.Stored))
	ch <- prometheus.MustNewConstMetric(droppedDesc, prometheus.CounterValue, float64(st.Dropped))
	ch <- prometheus.MustNewConstMetric(skippedDesc, prometheus.CounterValue, float64(st.Skipped))
	ch <- prometheus.MustNewConstMetric(errorsDesc, prometheus.CounterValue, float64(st.Errors))
	if h, ok := c.q.(Header); ok {
		seq, h48 := h.Head()
		ch <- prometheus.MustNewConstMetric(headSeqDesc, prometheus.GaugeValue, float64(seq))
		ch <- prometheus.MustNewConstMetric(headHash, prometheus.GaugeValue, float64(h48))
	}
}
