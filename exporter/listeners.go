package main

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dbsec/dbsec/pkg/config"
	"github.com/dbsec/dbsec/pkg/input"
	"github.com/dbsec/dbsec/pkg/input/syslog"
	"github.com/dbsec/dbsec/pkg/input/taosaudit"
)

// listenerCollector exports the self-metrics of the network sources that
// are running (syslog listeners, TDengine audit receivers). The set changes
// on reload, so it is one collector that asks the current listeners at
// scrape time; their metric families are fixed, so Describe sends nothing
// (an unchecked collector).
type listenerCollector struct {
	mu sync.Mutex
	cs []prometheus.Collector
}

func (l *listenerCollector) add(c prometheus.Collector) {
	l.mu.Lock()
	l.cs = append(l.cs, c)
	l.mu.Unlock()
}

func (l *listenerCollector) reset() {
	l.mu.Lock()
	l.cs = nil
	l.mu.Unlock()
}

func (l *listenerCollector) Describe(chan<- *prometheus.Desc) {}

func (l *listenerCollector) Collect(ch chan<- prometheus.Metric) {
	l.mu.Lock()
	cs := append([]prometheus.Collector(nil), l.cs...)
	l.mu.Unlock()
	for _, c := range cs {
		c.Collect(ch)
	}
}

// networkInput is the input of a source with listen: a syslog listener or
// the TDengine audit receiver. It binds when the source runs and reports
// its collector to lc.
func networkInput(s config.Source, lc *listenerCollector, logger *slog.Logger) (input.Input, error) {
	var tc *tls.Config
	if s.TLSCertFile != "" {
		cert, err := tls.LoadX509KeyPair(s.TLSCertFile, s.TLSKeyFile)
		if err != nil {
			return nil, fmt.Errorf("tls_cert_file/tls_key_file: %w", err)
		}
		tc = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	if s.IsHTTPReceiver() {
		_, addr, _ := strings.Cut(s.Listen, "://")
		return &taosaudit.Input{Name: s.Name, Addr: addr, TLS: tc, Logger: logger,
			Started: func(h *taosaudit.Handler) { lc.add(h) }}, nil
	}
	return &syslog.Input{
		Config:  syslog.Config{Addr: s.Listen, Name: s.Name, TLS: tc},
		Started: func(srv *syslog.Server) { lc.add(srv.Collector()) },
	}, nil
}
