package syslog

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"

	"github.com/dbsec/dbsec/pkg/input"
)

// recorder is an input.Handler that keeps copies of the lines.
type recorder struct {
	input.LinesOnly
	mu    sync.Mutex
	lines []input.Line
	idles int
}

func (r *recorder) HandleLine(l input.Line) {
	r.mu.Lock()
	defer r.mu.Unlock()
	l.Text = bytes.Clone(l.Text)
	r.lines = append(r.lines, l)
}

func (r *recorder) Idle() {
	r.mu.Lock()
	r.idles++
	r.mu.Unlock()
}

func (r *recorder) idleCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.idles
}

// withPrefix returns the lines whose text starts with p.
func (r *recorder) withPrefix(p string) []input.Line {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []input.Line
	for _, l := range r.lines {
		if strings.HasPrefix(string(l.Text), p) {
			out = append(out, l)
		}
	}
	return out
}

// waitFor waits until n lines start with p (or the timeout), then a little
// longer to catch extra (duplicated) lines, and returns them.
func (r *recorder) waitFor(t *testing.T, p string, n int) []input.Line {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) && len(r.withPrefix(p)) < n {
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond)
	return r.withPrefix(p)
}

func need(t *testing.T, tool, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(tool)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s not found (Debian package %s): %v", tool, pkg, err)
		}
		t.Skipf("%s not found: install the Debian package %s", tool, pkg)
	}
	return p
}

func listen(t *testing.T, cfg Config) (*Server, *recorder) {
	t.Helper()
	r := &recorder{}
	s, err := Listen(context.Background(), cfg, r)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, r
}

func port(t *testing.T, addr string) string {
	_, hp, _ := strings.Cut(addr, "://")
	_, p, err := net.SplitHostPort(hp)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// checkSeq checks that lines are exactly prefix+"0" … prefix+(n-1), each
// once, from host.
func checkSeq(t *testing.T, lines []input.Line, prefix string, n int, host string) {
	t.Helper()
	if len(lines) != n {
		t.Fatalf("got %d lines with prefix %q, want %d", len(lines), prefix, n)
	}
	seen := map[string]int{}
	for _, l := range lines {
		seen[string(l.Text)]++
		if host != "" && l.Host != host {
			t.Errorf("line %q: host %q, want %q", l.Text, l.Host, host)
		}
	}
	for i := range n {
		if k := prefix + fmt.Sprint(i); seen[k] != 1 {
			t.Errorf("line %q seen %d times, want 1", k, seen[k])
		}
	}
}

func hostname(t *testing.T) string {
	h, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestLogger(t *testing.T) {
	logger := need(t, "logger", "bsdutils")
	const n = 200
	for _, tc := range []struct {
		name, scheme string
		args         []string
	}{
		{"udp-rfc5424", "udp", []string{"--udp", "--rfc5424"}},
		{"udp-rfc3164", "udp", []string{"--udp", "--rfc3164"}},
		{"tcp-rfc5424-newline", "tcp", []string{"--tcp", "--rfc5424"}},
		{"tcp-rfc3164-newline", "tcp", []string{"--tcp", "--rfc3164"}},
		{"tcp-rfc5424-octet", "tcp", []string{"--tcp", "--rfc5424", "--octet-count"}},
		{"tcp-rfc3164-octet", "tcp", []string{"--tcp", "--rfc3164", "--octet-count"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, r := listen(t, Config{Addr: tc.scheme + "://127.0.0.1:0"})
			prefix := "dbsec-" + tc.name + " msg "
			var in strings.Builder
			for i := range n {
				fmt.Fprintf(&in, "%s%d\n", prefix, i)
			}
			// UDP to a local socket does not drop unless the receiver falls
			// behind; send in chunks to keep it exact.
			args := append([]string{"--server", "127.0.0.1", "--port", port(t, s.Addr()), "-t", "dbsectest"}, tc.args...)
			cmd := exec.Command(logger, args...)
			cmd.Stdin = strings.NewReader(in.String())
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("logger: %v\n%s", err, out)
			}
			lines := r.waitFor(t, prefix, n)
			// logger sends the short host name in RFC 3164 and the FQDN in
			// RFC 5424 when it has one; both start with os.Hostname's first
			// label.
			checkSeq(t, lines, prefix, n, "")
			short, _, _ := strings.Cut(hostname(t), ".")
			for _, l := range lines {
				if !strings.HasPrefix(l.Host, short) {
					t.Fatalf("host %q, want the local host name %q", l.Host, short)
				}
			}
			st := s.Stats()
			if st.Lines != n || st.Errors != 0 {
				t.Errorf("stats %+v, want %d lines, 0 errors", st, n)
			}
			proto := "rfc5424"
			if strings.Contains(tc.name, "3164") {
				proto = "rfc3164"
			}
			want := fmt.Sprintf(`dbsec_syslog_messages_total{listener=%q,protocol=%q,transport=%q} %d`, s.cfg.Name, proto, tc.scheme, n)
			if got := series(t, s.Collector()); !strings.Contains(got, want) {
				t.Errorf("metrics lack %s:\n%s", want, got)
			}
		})
	}
}

// series returns the text exposition of the collector.
func series(t *testing.T, c prometheus.Collector) string {
	t.Helper()
	b, err := testutil.CollectAndFormat(c, expfmt.TypeTextPlain, "dbsec_syslog_messages_total", "dbsec_syslog_lines_total", "dbsec_syslog_errors_total")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func errs(s *Server, reason string) uint64 {
	for i, r := range reasons {
		if r == reason {
			return s.m.errors[i].Load()
		}
	}
	panic(reason)
}

func freePort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, p, _ := net.SplitHostPort(l.Addr().String())
	return p
}

// TestRsyslogForward runs rsyslogd as a relay: logger → rsyslog imtcp →
// omfwd TCP (octet-counted, then newline framing) → our TCP listener.
func TestRsyslogForward(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped with -short: real-tool test (rsyslogd)")
	}
	rsyslogd := need(t, "rsyslogd", "rsyslog")
	logger := need(t, "logger", "bsdutils")
	for _, framing := range []string{"octet-counted", "traditional"} {
		t.Run(framing, func(t *testing.T) {
			s, r := listen(t, Config{Addr: "tcp://127.0.0.1:0"})
			dir := t.TempDir()
			in := freePort(t)
			conf := fmt.Sprintf(`global(workDirectory=%q processInternalMessages="on")
module(load="imtcp")
input(type="imtcp" address="127.0.0.1" port=%q)
action(type="omfwd" target="127.0.0.1" port=%q protocol="tcp" TCP_Framing=%q
       template="RSYSLOG_SyslogProtocol23Format"
       queue.type="LinkedList" action.resumeRetryCount="-1" action.resumeInterval="1")
`, dir, in, port(t, s.Addr()), framing)
			cf := filepath.Join(dir, "rsyslog.conf")
			if err := os.WriteFile(cf, []byte(conf), 0o644); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(rsyslogd, "-n", "-f", cf, "-i", filepath.Join(dir, "rsyslogd.pid"))
			var stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stderr, &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				cmd.Process.Signal(os.Interrupt)
				done := make(chan struct{})
				go func() { cmd.Wait(); close(done) }()
				select {
				case <-done:
				case <-time.After(5 * time.Second):
					cmd.Process.Kill()
					<-done
				}
			})
			send := func(text string) error {
				c := exec.Command(logger, "--server", "127.0.0.1", "--port", in, "--tcp", "--octet-count", "--rfc5424", "-t", "dbsectest")
				c.Stdin = strings.NewReader(text)
				if out, err := c.CombinedOutput(); err != nil {
					return fmt.Errorf("logger: %v\n%s", err, out)
				}
				return nil
			}
			// Wait until rsyslog forwards (it listens only after start-up).
			ready := false
			for i := 0; i < 100 && !ready; i++ {
				_ = send("dbsec-ready\n") // refused until rsyslogd listens
				time.Sleep(100 * time.Millisecond)
				ready = len(r.withPrefix("dbsec-ready")) > 0
			}
			if !ready {
				t.Fatalf("rsyslogd forwarded nothing; its output:\n%s", stderr.String())
			}
			const n = 500
			prefix := "dbsec-rsyslog-" + framing + " "
			var b strings.Builder
			for i := range n {
				fmt.Fprintf(&b, "%s%d\n", prefix, i)
			}
			if err := send(b.String()); err != nil {
				t.Fatal(err)
			}
			checkSeq(t, r.waitFor(t, prefix, n), prefix, n, "")
			if e := s.Stats().Errors; e != 0 {
				t.Errorf("%d errors", e)
			}
		})
	}
}

func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "dbsec-test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pool
}

func TestTLS(t *testing.T) {
	cert, pool := selfSigned(t)
	s, r := listen(t, Config{Addr: "tls://127.0.0.1:0", TLS: &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}})
	_, hp, _ := strings.Cut(s.Addr(), "://")
	const n = 300
	const conns = 3
	var wg sync.WaitGroup
	for c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn, err := tls.Dial("tcp", hp, &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})
			if err != nil {
				t.Error(err)
				return
			}
			defer conn.Close()
			for i := c; i < n; i += conns {
				msg := fmt.Sprintf("<134>1 2026-12-02T19:00:00.000Z db-%d app 42 - - tls msg %d", c, i)
				if i%2 == 0 { // octet counting and newline framing mixed on one connection
					fmt.Fprintf(conn, "%d %s", len(msg), msg)
				} else {
					fmt.Fprintf(conn, "%s\n", msg)
				}
			}
		}()
	}
	wg.Wait()
	lines := r.waitFor(t, "tls msg ", n)
	checkSeq(t, lines, "tls msg ", n, "")
	for _, l := range lines {
		var c, i int
		fmt.Sscanf(string(l.Text), "tls msg %d", &i)
		fmt.Sscanf(l.Host, "db-%d", &c)
		if i%conns != c {
			t.Errorf("line %q from host %q", l.Text, l.Host)
		}
	}
	// A plain-text client fails the handshake and is counted.
	plain, err := net.Dial("tcp", hp)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(plain, "<13>1 - - - - - - plain\n")
	plain.Close()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) && errs(s, ReasonTLSHandshake) == 0 {
		time.Sleep(10 * time.Millisecond)
	}
	if got := errs(s, ReasonTLSHandshake); got != 1 {
		t.Errorf("tls_handshake errors = %d, want 1", got)
	}
	if len(r.withPrefix("plain")) != 0 {
		t.Error("plain-text message delivered over tls://")
	}
}

func TestLimits(t *testing.T) {
	s, r := listen(t, Config{Addr: "tcp://127.0.0.1:0", MaxMessageSize: 100, MaxConnections: 1, ReadTimeout: time.Second})
	_, hp, _ := strings.Cut(s.Addr(), "://")
	c, err := net.Dial("tcp", hp)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	long := "<13>1 - h - - - - " + strings.Repeat("x", 200)
	fmt.Fprintf(c, "<13>1 - h - - - - ok 0\n%s\n%d %s<13>1 - h - - - - ok 1\n13 <13>1 - - - -", long, len(long), long)
	// 13-byte octet frame "<13>1 - - - -": a message with an empty body.
	fmt.Fprintf(c, "<13>Dec  2 19:00:00 bsdhost tag: ok 2\n")
	// A second connection, made while the first is open, is over
	// MaxConnections: closed at once.
	c2, err := net.Dial("tcp", hp)
	if err != nil {
		t.Fatal(err)
	}
	c2.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := c2.Read(make([]byte, 1)); err == nil {
		t.Error("second connection not closed")
	}
	c2.Close()
	waitCount(t, s, ReasonMaxConnections, 1)
	lines := r.waitFor(t, "ok ", 3)
	checkSeq(t, lines, "ok ", 3, "")
	if lines[2].Host != "bsdhost" || lines[0].Host != "h" {
		t.Errorf("hosts %q %q", lines[0].Host, lines[2].Host)
	}
	if got := errs(s, ReasonTooLong); got != 2 {
		t.Errorf("too_long = %d, want 2", got)
	}
	// The first is closed after ReadTimeout of silence.
	c.SetReadDeadline(time.Now().Add(3 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Error("idle connection not closed")
	}
	waitCount(t, s, ReasonTimeout, 1)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline) && s.m.connsOpen.Load() != 0; {
		time.Sleep(5 * time.Millisecond)
	}
	if got := s.m.connsOpen.Load(); got != 0 {
		t.Errorf("open connections = %d", got)
	}
}

func TestUDPPeerHost(t *testing.T) {
	s, r := listen(t, Config{Addr: "udp://127.0.0.1:0"})
	_, hp, _ := strings.Cut(s.Addr(), "://")
	c, err := net.Dial("udp", hp)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// No HOSTNAME ("-"): the peer IP. A two-line body: two lines.
	fmt.Fprintf(c, "<13>1 2026-12-02T19:00:00Z - app - - - peer 0\npeer 1")
	fmt.Fprintf(c, "garbage that is not syslog")
	lines := r.waitFor(t, "peer ", 2)
	checkSeq(t, lines, "peer ", 2, "127.0.0.1")
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) && r.idleCount() == 0 {
		time.Sleep(20 * time.Millisecond)
	}
	r.mu.Lock()
	idles := r.idles
	r.mu.Unlock()
	if idles == 0 {
		t.Error("Idle never called")
	}
	if got := errs(s, ReasonParse); got != 1 {
		t.Errorf("parse errors = %d, want 1 (the garbage datagram)", got)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, addr := range []string{"127.0.0.1:514", "http://127.0.0.1:0", "tls://127.0.0.1:0"} {
		if _, err := Listen(context.Background(), Config{Addr: addr}, &recorder{}); err == nil {
			t.Errorf("%s: no error", addr)
		}
	}
}

// waitCount waits until the listener has counted want errors of reason
// (they are counted by the connection's goroutine, after the client sees
// the close), then checks that it is exactly want.
func waitCount(t *testing.T, s *Server, reason string, want uint64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) && errs(s, reason) < want {
		time.Sleep(5 * time.Millisecond)
	}
	if got := errs(s, reason); got != want {
		t.Errorf("%s = %d, want %d", reason, got, want)
	}
}
