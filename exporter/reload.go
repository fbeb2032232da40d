package main

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

var (
	reloadOKDesc = prometheus.NewDesc("dbsec_config_last_reload_successful",
		"1 if the last configuration load succeeded.", nil, nil)
	reloadTimeDesc = prometheus.NewDesc("dbsec_config_last_reload_success_timestamp_seconds",
		"Time of the last successful configuration load.", nil, nil)
)

// reloadMetrics exports the outcome of configuration loads.
type reloadMetrics struct {
	mu   sync.Mutex
	ok   bool
	last time.Time
}

func newReloadMetrics() *reloadMetrics { return &reloadMetrics{} }

func (m *reloadMetrics) success(t time.Time) {
	m.mu.Lock()
	m.ok, m.last = true, t
	m.mu.Unlock()
}

func (m *reloadMetrics) failure() {
	m.mu.Lock()
	m.ok = false
	m.mu.Unlock()
}

func (m *reloadMetrics) Describe(ch chan<- *prometheus.Desc) {
	ch <- reloadOKDesc
	ch <- reloadTimeDesc
}

func (m *reloadMetrics) Collect(ch chan<- prometheus.Metric) {
	m.mu.Lock()
	ok, last := m.ok, m.last
	m.mu.Unlock()
	v := 0.0
	if ok {
		v = 1
	}
	ch <- prometheus.MustNewConstMetric(reloadOKDesc, prometheus.GaugeValue, v)
	ts := 0.0
	if !last.IsZero() {
		ts = float64(last.UnixNano()) / 1e9
	}
	ch <- prometheus.MustNewConstMetric(reloadTimeDesc, prometheus.GaugeValue, ts)
}
