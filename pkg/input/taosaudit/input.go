package taosaudit

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dbsec/dbsec/pkg/input"
)

// Input serves taosKeeper's audit endpoints on its own listener, so that
// taosd can post its audit records to dbsec. The records arrive
// structured: they reach the pipeline through input.Handler.HandleEvent,
// never as lines.
type Input struct {
	// Name is the configured source name.
	Name string
	// Addr is the listen address (host:port).
	Addr string
	// TLS, when set, serves HTTPS.
	TLS    *tls.Config
	Logger *slog.Logger
	// Started, when set, is called with the receiver once it listens (to
	// register its self-metrics).
	Started func(h *Handler)

	h atomic.Pointer[Handler]
}

// Run implements input.Input. It returns when ctx is done, after the posts
// in flight have finished, so that a record taosd was answered 200 for has
// reached the handler.
func (in *Input) Run(ctx context.Context, h input.Handler) error {
	logger := in.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	// The receiver serializes its calls to Deliver, and this input delivers
	// no lines, so HandleEvent never overlaps with HandleLine.
	rh, err := New(Config{Source: in.Name, Deliver: h.HandleEvent, Logger: logger})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", in.Addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", in.Addr, err)
	}
	// At most MaxConns connections (the rest wait in the kernel's
	// backlog), so that idle or slow clients cannot pile up.
	ln = limitListener(ln, MaxConns)
	if in.TLS != nil {
		ln = tls.NewListener(ln, in.TLS)
	}
	in.h.Store(rh)
	if in.Started != nil {
		in.Started(rh)
	}
	srv := &http.Server{
		Handler:           rh,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       time.Minute,
		IdleTimeout:       30 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	logger.Info("TDengine audit receiver listening", "source_name", in.Name, "address", ln.Addr().String())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return fmt.Errorf("audit receiver: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = srv.Shutdown(sctx)
	<-done
	return err
}

// Stats implements input.StatsReporter: an event is a "line", and the
// bytes are those of the bodies read.
func (in *Input) Stats() input.Stats {
	rh := in.h.Load()
	if rh == nil {
		return input.Stats{}
	}
	return input.Stats{Lines: rh.Events(), Bytes: rh.BodyBytes()}
}

var _ input.StatsReporter = (*Input)(nil)

// MaxConns bounds the open connections of a receiver.
const MaxConns = 64

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
