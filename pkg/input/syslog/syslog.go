// Package syslog is a network input: a syslog listener for RFC 5424 and
// RFC 3164 messages over UDP, TCP and TLS. On a stream (TCP, TLS) each frame
// is detected on its own (RFC 6587): a frame that starts with a digit is
// octet-counted ("123 <34>1 …"), anything else is newline-terminated, so
// rsyslog's omfwd (either TCP_Framing) and `logger --tcp` both work on the
// same port.
//
// The MSG part of every message goes to an input.Handler, one input.Line per
// physical line of the body, with Line.Host set to the message's HOSTNAME
// or, when it has none ("-" or missing), to the peer's IP address.
// pipeline.Source copies Line.Host into the event's Server when the parser
// did not set one.
//
// The listener is bounded: messages longer than Config.MaxMessageSize are
// dropped (counted, reason "too_long"), at most Config.MaxConnections
// streams are served at once (more are closed at accept, reason
// "max_connections"), a stream silent for Config.ReadTimeout is closed, and
// the handler is called under a mutex from the reading goroutine, so a slow
// handler stops the reads (TCP backpressure; for UDP the kernel's socket
// buffer fills and drops) instead of buffering without bound.
package syslog

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	gosyslog "github.com/leodido/go-syslog/v4"
	"github.com/leodido/go-syslog/v4/rfc3164"
	"github.com/leodido/go-syslog/v4/rfc5424"

	"github.com/dbsec/dbsec/pkg/input"
)

// Defaults of Config.
const (
	DefaultMaxMessageSize = 64 << 10
	DefaultMaxConnections = 256
	DefaultReadTimeout    = 5 * time.Minute
	DefaultIdleAfter      = 250 * time.Millisecond
)

// Config of a listener.
type Config struct {
	// Addr is "udp://host:port", "tcp://host:port" or "tls://host:port".
	// Port 0 picks a free port (see Server.Addr).
	Addr string
	// TLS is required for "tls://" (it needs Certificates or
	// GetCertificate) and ignored otherwise.
	TLS *tls.Config
	// MaxMessageSize is the largest message accepted, in bytes, framing
	// excluded (default 64 KiB).
	MaxMessageSize int
	// MaxConnections is the largest number of TCP/TLS connections served
	// at once (default 256).
	MaxConnections int
	// ReadTimeout closes a TCP/TLS connection that sends nothing for that
	// long (default 5 minutes).
	ReadTimeout time.Duration
	// IdleAfter: Handler.Idle is called once no message has arrived for
	// that long after the last one (default 250ms).
	IdleAfter time.Duration
	// Name is the value of the "listener" label of the self-metrics
	// (default Addr).
	Name string
}

// Error reasons of the dbsec_syslog_errors_total metric.
const (
	ReasonTooLong        = "too_long"        // message over MaxMessageSize
	ReasonParse          = "parse"           // neither RFC 5424 nor RFC 3164
	ReasonFraming        = "framing"         // bad octet count
	ReasonMaxConnections = "max_connections" // connection refused at accept
	ReasonTimeout        = "timeout"         // connection closed after ReadTimeout
	ReasonRead           = "read"            // other read or accept error
	ReasonTLSHandshake   = "tls_handshake"   // TLS handshake failed
)

var reasons = []string{ReasonTooLong, ReasonParse, ReasonFraming, ReasonMaxConnections, ReasonTimeout, ReasonRead, ReasonTLSHandshake}

// Server is a running listener.
type Server struct {
	cfg       Config
	transport string
	h         input.Handler
	hmu       sync.Mutex // serializes calls to h
	pc        net.PacketConn
	ln        net.Listener
	sem       chan struct{}
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	closeOnce sync.Once

	connMu sync.Mutex
	conns  map[net.Conn]struct{}

	lastMsg atomic.Int64 // unix nanos of the last delivered message
	idled   atomic.Bool  // Idle was called since lastMsg

	m metrics
}

type metrics struct {
	messages    atomic.Uint64
	lines       atomic.Uint64
	bytes       atomic.Uint64
	connsOpen   atomic.Int64
	connsTotal  atomic.Uint64
	errors      [7]atomic.Uint64 // indexed like reasons
	rfc5424Msgs atomic.Uint64
	rfc3164Msgs atomic.Uint64
}

func (s *Server) fail(reason string) {
	for i, r := range reasons {
		if r == reason {
			s.m.errors[i].Add(1)
			return
		}
	}
}

// Listen starts a listener that delivers to h until ctx is done or Close is
// called.
func Listen(ctx context.Context, cfg Config, h input.Handler) (*Server, error) {
	scheme, hostport, ok := strings.Cut(cfg.Addr, "://")
	if !ok {
		return nil, fmt.Errorf("syslog: address %q: want udp://, tcp:// or tls://host:port", cfg.Addr)
	}
	if cfg.MaxMessageSize <= 0 {
		cfg.MaxMessageSize = DefaultMaxMessageSize
	}
	if cfg.MaxConnections <= 0 {
		cfg.MaxConnections = DefaultMaxConnections
	}
	if cfg.ReadTimeout <= 0 {
		cfg.ReadTimeout = DefaultReadTimeout
	}
	if cfg.IdleAfter <= 0 {
		cfg.IdleAfter = DefaultIdleAfter
	}
	if cfg.Name == "" {
		cfg.Name = cfg.Addr
	}
	s := &Server{cfg: cfg, transport: scheme, h: h, conns: map[net.Conn]struct{}{}}
	s.idled.Store(true)
	var lc net.ListenConfig
	switch scheme {
	case "udp":
		pc, err := lc.ListenPacket(ctx, "udp", hostport)
		if err != nil {
			return nil, fmt.Errorf("syslog: %w", err)
		}
		s.pc = pc
	case "tcp", "tls":
		if scheme == "tls" && (cfg.TLS == nil || (len(cfg.TLS.Certificates) == 0 && cfg.TLS.GetCertificate == nil && cfg.TLS.GetConfigForClient == nil)) {
			return nil, fmt.Errorf("syslog: %s: tls:// needs a TLS configuration with a certificate", cfg.Addr)
		}
		ln, err := lc.Listen(ctx, "tcp", hostport)
		if err != nil {
			return nil, fmt.Errorf("syslog: %w", err)
		}
		if scheme == "tls" {
			ln = tls.NewListener(ln, cfg.TLS)
		}
		s.ln = ln
		s.sem = make(chan struct{}, cfg.MaxConnections)
	default:
		return nil, fmt.Errorf("syslog: address %q: unknown scheme %q (want udp, tcp or tls)", cfg.Addr, scheme)
	}
	ctx, s.cancel = context.WithCancel(ctx)
	if s.pc != nil {
		s.wg.Add(1)
		go s.serveUDP()
	} else {
		s.wg.Add(1)
		go s.accept(ctx)
	}
	s.wg.Add(1)
	go s.idleLoop(ctx)
	go func() { <-ctx.Done(); s.shutdown() }()
	return s, nil
}

// Addr is the address listened on, with the scheme ("tcp://127.0.0.1:40123").
func (s *Server) Addr() string {
	if s.pc != nil {
		return "udp://" + s.pc.LocalAddr().String()
	}
	return s.transport + "://" + s.ln.Addr().String()
}

// Close stops listening, closes every connection and waits until the
// handler is no longer called. Messages being read are lost; delivered ones
// have all returned from HandleLine. A final Idle is made.
func (s *Server) Close() error {
	s.cancel()
	s.shutdown()
	s.wg.Wait()
	return nil
}

func (s *Server) shutdown() {
	s.closeOnce.Do(func() {
		if s.pc != nil {
			s.pc.Close()
		}
		if s.ln != nil {
			s.ln.Close()
		}
		s.connMu.Lock()
		for c := range s.conns {
			c.Close()
		}
		s.connMu.Unlock()
	})
}

func (s *Server) idleLoop(ctx context.Context) {
	defer s.wg.Done()
	t := time.NewTicker(s.cfg.IdleAfter / 2)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			s.hmu.Lock()
			s.h.Idle()
			s.hmu.Unlock()
			return
		case <-t.C:
			if s.idled.Load() || time.Since(time.Unix(0, s.lastMsg.Load())) < s.cfg.IdleAfter {
				continue
			}
			s.hmu.Lock()
			s.idled.Store(true)
			s.h.Idle()
			s.hmu.Unlock()
		}
	}
}

func (s *Server) serveUDP() {
	defer s.wg.Done()
	buf := make([]byte, s.cfg.MaxMessageSize+1)
	p := newParsers()
	for {
		n, addr, err := s.pc.ReadFrom(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			s.fail(ReasonRead)
			continue
		}
		if n > s.cfg.MaxMessageSize {
			s.fail(ReasonTooLong)
			continue
		}
		s.message(p, buf[:n], peerIP(addr))
	}
}

func (s *Server) accept(ctx context.Context) {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) || ctx.Err() != nil {
				return
			}
			s.fail(ReasonRead)
			// A temporary error (EMFILE): do not spin.
			select {
			case <-ctx.Done():
				return
			case <-time.After(50 * time.Millisecond):
			}
			continue
		}
		select {
		case s.sem <- struct{}{}:
		default:
			s.fail(ReasonMaxConnections)
			c.Close()
			continue
		}
		s.connMu.Lock()
		if ctx.Err() != nil {
			s.connMu.Unlock()
			c.Close()
			<-s.sem
			return
		}
		s.conns[c] = struct{}{}
		s.connMu.Unlock()
		s.m.connsTotal.Add(1)
		s.m.connsOpen.Add(1)
		s.wg.Add(1)
		go s.serveConn(c)
	}
}

// deadlineReader sets the read deadline before every read.
type deadlineReader struct {
	c net.Conn
	d time.Duration
}

func (r deadlineReader) Read(p []byte) (int, error) {
	if err := r.c.SetReadDeadline(time.Now().Add(r.d)); err != nil {
		return 0, err
	}
	return r.c.Read(p)
}

func (s *Server) serveConn(c net.Conn) {
	defer func() {
		c.Close()
		s.connMu.Lock()
		delete(s.conns, c)
		s.connMu.Unlock()
		s.m.connsOpen.Add(-1)
		<-s.sem
		s.wg.Done()
	}()
	if tc, ok := c.(*tls.Conn); ok {
		_ = c.SetDeadline(time.Now().Add(s.cfg.ReadTimeout))
		if err := tc.Handshake(); err != nil {
			s.fail(ReasonTLSHandshake)
			return
		}
	}
	host := peerIP(c.RemoteAddr())
	err := s.readStream(bufio.NewReaderSize(deadlineReader{c, s.cfg.ReadTimeout}, 64<<10), host)
	var ne net.Error
	switch {
	case err == nil, errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed):
	case errors.As(err, &ne) && ne.Timeout():
		s.fail(ReasonTimeout)
	default:
		s.fail(ReasonRead)
	}
}

// readStream reads frames from r until an error; framing is detected for
// every frame.
func (s *Server) readStream(r *bufio.Reader, host string) error {
	max := s.cfg.MaxMessageSize
	p := newParsers()
	var msg []byte
	for {
		b, err := r.Peek(1)
		if err != nil {
			return err
		}
		if b[0] >= '0' && b[0] <= '9' {
			// Octet counting: MSG-LEN SP SYSLOG-MSG.
			n := 0
			digits := 0
			for {
				c, err := r.ReadByte()
				if err != nil {
					return err
				}
				if c == ' ' {
					break
				}
				if c < '0' || c > '9' || digits == 9 {
					// Not a length: the stream is out of sync.
					s.fail(ReasonFraming)
					return fmt.Errorf("syslog: bad octet count")
				}
				n = n*10 + int(c-'0')
				digits++
			}
			if n > max {
				s.fail(ReasonTooLong)
				if _, err := r.Discard(n); err != nil {
					return err
				}
				continue
			}
			if cap(msg) < n {
				msg = make([]byte, n)
			}
			msg = msg[:n]
			if _, err := io.ReadFull(r, msg); err != nil {
				return err
			}
			s.message(p, msg, host)
			continue
		}
		// Non-transparent framing: up to LF (a trailing CR or NUL is
		// dropped too).
		msg = msg[:0]
		tooLong := false
		for {
			chunk, err := r.ReadSlice('\n')
			if !tooLong {
				if len(msg)+len(chunk) > max+1 {
					tooLong = true
				} else {
					msg = append(msg, chunk...)
				}
			}
			if err == bufio.ErrBufferFull {
				continue
			}
			if err != nil {
				if err == io.EOF && len(msg) > 0 && !tooLong {
					s.message(p, bytes.TrimRight(msg, "\r\x00"), host)
				}
				return err
			}
			break
		}
		if tooLong {
			s.fail(ReasonTooLong)
			continue
		}
		msg = bytes.TrimRight(msg, "\n")
		msg = bytes.TrimRight(msg, "\r\x00")
		if len(msg) == 0 {
			continue
		}
		s.message(p, msg, host)
	}
}

// parsers are the go-syslog machines of one reading goroutine (they are
// not safe for concurrent use).
type parsers struct {
	p5424, p3164 gosyslog.Machine
}

func newParsers() *parsers {
	return &parsers{
		p5424: rfc5424.NewParser(rfc5424.WithBestEffort()),
		p3164: rfc3164.NewParser(rfc3164.WithBestEffort(), rfc3164.WithYear(rfc3164.CurrentYear{})),
	}
}

// message parses one syslog message and delivers its body.
func (s *Server) message(p *parsers, raw []byte, peer string) {
	var base *gosyslog.Base
	if is5424(raw) {
		m, err := p.p5424.Parse(raw)
		if sm, ok := m.(*rfc5424.SyslogMessage); ok && sm != nil && (err == nil || sm.Message != nil) {
			base = &sm.Base
			s.m.rfc5424Msgs.Add(1)
		}
	}
	if base == nil {
		m, err := p.p3164.Parse(raw)
		if sm, ok := m.(*rfc3164.SyslogMessage); ok && sm != nil && (err == nil || sm.Priority != nil) {
			base = &sm.Base
			s.m.rfc3164Msgs.Add(1)
		}
	}
	if base == nil {
		s.fail(ReasonParse)
		return
	}
	host := peer
	if base.Hostname != nil && *base.Hostname != "" && *base.Hostname != "-" {
		host = *base.Hostname
	}
	var body string
	if base.Message != nil {
		body = *base.Message
	}
	s.m.messages.Add(1)
	s.m.bytes.Add(uint64(len(raw)))
	s.hmu.Lock()
	defer s.hmu.Unlock()
	for {
		line, rest, more := strings.Cut(body, "\n")
		line = strings.TrimSuffix(line, "\r")
		if line != "" || more {
			s.m.lines.Add(1)
			s.h.HandleLine(input.Line{Text: []byte(line), Host: host})
		}
		if !more {
			break
		}
		body = rest
		if body == "" {
			break
		}
	}
	input.Flush(s.h) // a handler with workers delivers the message now
	s.lastMsg.Store(time.Now().UnixNano())
	s.idled.Store(false)
}

// is5424 reports whether raw is "<PRI>VERSION SP…" with a non-zero version.
func is5424(raw []byte) bool {
	if len(raw) < 4 || raw[0] != '<' {
		return false
	}
	i := bytes.IndexByte(raw[:min(len(raw), 6)], '>')
	if i < 0 || i+2 >= len(raw) {
		return false
	}
	j := i + 1
	for j < len(raw) && j < i+4 && raw[j] >= '0' && raw[j] <= '9' {
		j++
	}
	return j > i+1 && j < len(raw) && raw[j] == ' ' && raw[i+1] != '0'
}

func peerIP(a net.Addr) string {
	switch a := a.(type) {
	case *net.UDPAddr:
		return a.IP.String()
	case *net.TCPAddr:
		return a.IP.String()
	}
	if a == nil {
		return ""
	}
	h, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	return h
}

// Stats implements input.StatsReporter: Lines and Bytes are the lines
// delivered and the message bytes received, Errors all drops, Files the open
// connections.
func (s *Server) Stats() input.Stats {
	var e uint64
	for i := range s.m.errors {
		e += s.m.errors[i].Load()
	}
	return input.Stats{
		Lines:  s.m.lines.Load(),
		Bytes:  s.m.bytes.Load(),
		Errors: e,
		Files:  int(s.m.connsOpen.Load()),
	}
}

// Input adapts a listener to input.Input (pipeline.Source.Run): Run listens
// with Config, delivers to h until ctx is done and closes the listener.
type Input struct {
	Config Config
	// Started, when set, is called with the running server (for its
	// collector and address).
	Started func(*Server)
	srv     atomic.Pointer[Server]
}

// Run implements input.Input.
func (in *Input) Run(ctx context.Context, h input.Handler) error {
	s, err := Listen(ctx, in.Config, h)
	if err != nil {
		return err
	}
	in.srv.Store(s)
	if in.Started != nil {
		in.Started(s)
	}
	<-ctx.Done()
	return s.Close()
}

// Stats implements input.StatsReporter (zero before Run listens).
func (in *Input) Stats() input.Stats {
	if s := in.srv.Load(); s != nil {
		return s.Stats()
	}
	return input.Stats{}
}
