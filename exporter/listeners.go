package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dbsec/dbsec/pkg/config"
	"github.com/dbsec/dbsec/pkg/event"
	"github.com/dbsec/dbsec/pkg/input"
	"github.com/dbsec/dbsec/pkg/input/syslog"
	"github.com/dbsec/dbsec/pkg/receiver/taosaudit"
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
		return &auditInput{name: s.Name, addr: addr, tls: tc, lc: lc, logger: logger}, nil
	}
	return &syslog.Input{
		Config:  syslog.Config{Addr: s.Listen, Name: s.Name, TLS: tc},
		Started: func(srv *syslog.Server) { lc.add(srv.Collector()) },
	}, nil
}

// auditInput serves taosKeeper's audit endpoints (/audit_v2, /audit-batch,
// /audit) on its own listener, so that taosd can post its audit records to
// dbsec. The records are already structured: they enter the pipeline
// through Emit, not as lines.
type auditInput struct {
	name, addr string
	tls        *tls.Config
	lc         *listenerCollector
	logger     *slog.Logger

	h atomic.Pointer[taosaudit.Handler]
}

// emitter is what the pipeline offers for already-parsed events.
type emitter interface{ Emit(*event.Event) }

// Run implements input.Input.
func (in *auditInput) Run(ctx context.Context, h input.Handler) error {
	em, ok := h.(emitter)
	if !ok {
		return errors.New("the TDengine audit receiver needs a pipeline that accepts parsed events")
	}
	// The receiver serializes its calls to Deliver, and this input delivers
	// no lines, so Emit never overlaps with HandleLine.
	rh, err := taosaudit.New(taosaudit.Config{Source: in.name, Deliver: em.Emit, Logger: in.logger})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", in.addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", in.addr, err)
	}
	// At most maxReceiverConns connections (the rest wait in the kernel's
	// backlog), so that idle or slow clients cannot pile up.
	ln = limitListener(ln, maxReceiverConns)
	if in.tls != nil {
		ln = tls.NewListener(ln, in.tls)
	}
	in.h.Store(rh)
	in.lc.add(rh)
	srv := &http.Server{
		Handler:           rh,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       time.Minute,
		IdleTimeout:       30 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(in.logger.Handler(), slog.LevelWarn),
	}
	in.logger.Info("TDengine audit receiver listening", "source_name", in.name, "address", ln.Addr().String())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return fmt.Errorf("audit receiver: %w", err)
	case <-ctx.Done():
	}
	// Let posts in flight finish, so that a record taosd was told is taken
	// (200) has reached the sinks before the pipeline stops.
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = srv.Shutdown(sctx)
	<-done
	return err
}

// Stats implements input.StatsReporter: an event is a "line", and the
// bytes are those of the bodies read.
func (in *auditInput) Stats() input.Stats {
	rh := in.h.Load()
	if rh == nil {
		return input.Stats{}
	}
	return input.Stats{Lines: rh.Events(), Bytes: rh.BodyBytes()}
}

// maxReceiverConns bounds the open connections of a TDengine audit
// receiver.
const maxReceiverConns = 64

// limitListener returns a listener that holds at most n connections open:
// Accept waits while n are.
func limitListener(l net.Listener, n int) net.Listener {
	return &limitedListener{Listener: l, sem: make(chan struct{}, n), closed: make(chan struct{})}
}

type limitedListener struct {
	net.Listener
	sem       chan struct{}
	closed    chan struct{}
	closeOnce sync.Once
}

func (l *limitedListener) Close() error {
	l.closeOnce.Do(func() { close(l.closed) })
	return l.Listener.Close()
}

func (l *limitedListener) Accept() (net.Conn, error) {
	select {
	case l.sem <- struct{}{}:
	case <-l.closed:
		return nil, net.ErrClosed
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.sem
		return nil, err
	}
	return &limitedConn{Conn: c, release: func() { <-l.sem }}, nil
}

type limitedConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}
