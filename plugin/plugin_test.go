package main

// The protocol-level tests of the data source: TestMain builds the real
// plugin binary and the real exporter, starts the exporter on the bundled
// TiDB audit sample (TLS and basic auth from an exporter-toolkit web
// config, its SQLite store also holding the findings and drift changes of
// a real drift check), and launches the plugin binary the way Grafana does
// (harness_test.go). Every query type's frames are compared with golden
// files in testdata/ (go test ./plugin -update rewrites them).

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"flag"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/dbsec/dbsec/pkg/api"
	"github.com/dbsec/dbsec/pkg/drift"
	"github.com/dbsec/dbsec/pkg/finding"
	"github.com/dbsec/dbsec/pkg/store"
	"github.com/dbsec/dbsec/pkg/store/sqlite"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

const (
	basicUser = "grafana"
	basicPass = "s3cret-pw"
)

// The sample's events are on 2026-11-30 between 01:00:00 and 01:03:09 UTC;
// every query passes this explicit range so the frames are deterministic.
var (
	rangeFrom = time.Date(2026, 11, 30, 0, 55, 0, 0, time.UTC)
	rangeTo   = time.Date(2026, 11, 30, 1, 5, 0, 0, time.UTC)
	// The drift check: the snapshot approved at approveTime, the changed
	// file checked at scanTime.
	approveTime = time.Date(2026, 11, 30, 0, 30, 0, 0, time.UTC)
	scanTime    = time.Date(2026, 11, 30, 1, 2, 0, 0, time.UTC)
)

// env is what TestMain set up.
var env struct {
	dir      string
	plugin   *harness
	httpsURL string // the exporter
	downURL  string // an address where nothing listens
	caPEM    string
	wantEvts int64
	logs     *syncBuffer
}

func TestMain(m *testing.M) {
	flag.Parse()
	code, err := setup(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, "setup:", err)
		if env.logs != nil {
			fmt.Fprintln(os.Stderr, env.logs.String())
		}
		os.Exit(1)
	}
	os.Exit(code)
}

func setup(m *testing.M) (int, error) {
	dir, err := os.MkdirTemp("", "dbsec-plugin-test-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	env.dir = dir
	env.logs = &syncBuffer{}

	// 1. The real binaries.
	start := time.Now()
	pluginBin := filepath.Join(dir, "gpx_dbsec_linux_amd64")
	exporterBin := filepath.Join(dir, "dbsec_exporter")
	builds := [][2]string{{pluginBin, "github.com/dbsec/dbsec/plugin"}, {exporterBin, "github.com/dbsec/dbsec/exporter"}}
	// DBSEC_PLUGIN_BINARY tests a binary built elsewhere, e.g. the one
	// `go tool mage plugin` put in plugin/dist.
	if b := os.Getenv("DBSEC_PLUGIN_BINARY"); b != "" {
		if pluginBin, err = filepath.Abs(b); err != nil {
			return 0, err
		}
		builds = builds[1:]
	}
	for _, b := range builds {
		cmd := exec.Command("go", "build", "-o", b[0], b[1])
		if out, err := cmd.CombinedOutput(); err != nil {
			return 0, fmt.Errorf("go build %s: %v\n%s", b[1], err, out)
		}
	}
	fmt.Fprintf(os.Stderr, "built plugin and exporter in %v\n", time.Since(start).Round(time.Millisecond))

	// 2. TLS, basic auth and the store with findings and drift changes.
	caPEM, certFile, keyFile, err := writeCerts(dir)
	if err != nil {
		return 0, err
	}
	env.caPEM = caPEM
	hash, err := bcrypt.GenerateFromPassword([]byte(basicPass), bcrypt.MinCost)
	if err != nil {
		return 0, err
	}
	webCfg := filepath.Join(dir, "web.yml")
	if err := os.WriteFile(webCfg, fmt.Appendf(nil, "tls_server_config:\n  cert_file: %s\n  key_file: %s\nbasic_auth_users:\n  %s: %s\n",
		certFile, keyFile, basicUser, hash), 0o600); err != nil {
		return 0, err
	}
	storeFile := filepath.Join(dir, "store", "dbsec.db")
	if err := seedDrift(dir, storeFile); err != nil {
		return 0, fmt.Errorf("drift fixture: %w", err)
	}
	sample, err := os.ReadFile("../testdata/tidb/tidb-audit-plugin.log")
	if err != nil {
		return 0, err
	}
	logFile := filepath.Join(dir, "audit.log")
	if err := os.WriteFile(logFile, sample, 0o600); err != nil {
		return 0, err
	}
	cfg := filepath.Join(dir, "dbsec.toml")
	// Retention far beyond the sample's fixed dates, so that the test
	// does not age out of its own data.
	if err := os.WriteFile(cfg, fmt.Appendf(nil, `[server]
state_dir = %q

[store]
path = %q
all_statements = true
retention = "36500d"

[[source]]
name = "tidb-1-audit"
format = "tidb-audit-plugin"
path = %q
start_at = "beginning"
timezone = "Asia/Shanghai"
`, dir, storeFile, logFile), 0o600); err != nil {
		return 0, err
	}

	// 3. The exporter.
	addr, err := freeAddr()
	if err != nil {
		return 0, err
	}
	exp := exec.Command(exporterBin, "--config.file", cfg, "--web.listen-address", addr, "--web.config.file", webCfg, "--log.level", "warn")
	exp.Stdout, exp.Stderr = env.logs, env.logs
	if err := exp.Start(); err != nil {
		return 0, err
	}
	defer func() {
		_ = exp.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = exp.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = exp.Process.Kill()
		}
	}()
	env.httpsURL = "https://" + addr
	if env.downURL, err = deadURL(); err != nil {
		return 0, err
	}
	if env.wantEvts, err = waitStored(env.httpsURL); err != nil {
		return 0, err
	}
	fmt.Fprintf(os.Stderr, "exporter ready with %d events after %v\n", env.wantEvts, time.Since(start).Round(time.Millisecond))

	// 4. The plugin, as Grafana starts it.
	t0 := time.Now()
	env.plugin, err = startPlugin(pluginBin, dir, env.logs)
	if err != nil {
		return 0, err
	}
	defer env.plugin.stop()
	fmt.Fprintf(os.Stderr, "plugin handshake in %v\n", time.Since(t0).Round(time.Millisecond))
	code := m.Run()
	if code != 0 || testing.Verbose() {
		fmt.Fprintf(os.Stderr, "exporter and plugin logs:\n%s\n", env.logs.String())
	}
	return code, nil
}

// syncBuffer collects the exporter's and the plugin's logs, which arrive
// from several goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// deadURL is the URL of a port that was free a moment ago and has no
// listener: connecting to it is refused.
func deadURL() (string, error) {
	a, err := freeAddr()
	return "https://" + a, err
}

// writeCerts makes a CA and a server certificate for 127.0.0.1 and
// localhost signed by it.
func writeCerts(dir string) (caPEM, certFile, keyFile string, err error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return
	}
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "dbsec test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "dbsec exporter"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return
	}
	certFile, keyFile = filepath.Join(dir, "server.crt"), filepath.Join(dir, "server.key")
	if err = os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		return
	}
	if err = os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		return
	}
	caPEM = string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}))
	return
}

// seedDrift runs the real drift checker over TiDB's shipped example
// configuration: it approves a snapshot at approveTime, changes two keys,
// checks again at scanTime, and writes the findings and drift changes
// into the store the exporter will serve, as the exporter does itself, but
// at fixed times.
func seedDrift(dir, storeFile string) error {
	src, err := os.ReadFile("../pkg/drift/testdata/examples/tidb/config.toml")
	if err != nil {
		return err
	}
	conf := filepath.Join(dir, "tidb", "config.toml")
	if err := os.MkdirAll(filepath.Dir(conf), 0o750); err != nil {
		return err
	}
	if err := os.WriteFile(conf, src, 0o600); err != nil {
		return err
	}
	target := drift.Target{Name: "tidb-prod", Files: []drift.FileSpec{{Path: conf}}}
	key := []byte("test-hmac-key")
	c, err := drift.NewChecker(drift.Config{Targets: []drift.Target{target}, HMACKey: key, Now: func() time.Time { return approveTime }})
	if err != nil {
		return err
	}
	snap, err := drift.BuildSnapshot(c, "dba", "baseline")
	if err != nil {
		return err
	}
	sb, err := snap.Encode()
	if err != nil {
		return err
	}
	snapFile := filepath.Join(dir, "snapshot.toml")
	if err := os.WriteFile(snapFile, sb, 0o600); err != nil {
		return err
	}
	changed := strings.Replace(string(src), "token-limit = 1000", "token-limit = 5000", 1)
	changed = strings.Replace(changed, "port = 4000", "port = 4001", 1)
	if changed == string(src) {
		return fmt.Errorf("the example config no longer has the keys this fixture changes")
	}
	if err := os.WriteFile(conf, []byte(changed), 0o600); err != nil {
		return err
	}
	c, err = drift.NewChecker(drift.Config{Targets: []drift.Target{target}, HMACKey: key, SnapshotFile: snapFile, Now: func() time.Time { return scanTime }})
	if err != nil {
		return err
	}
	res, err := c.Run(context.Background())
	if err != nil {
		return err
	}
	if len(res.Drift) == 0 || len(res.Findings) == 0 {
		return fmt.Errorf("the drift check found %d changes and %d findings", len(res.Drift), len(res.Findings))
	}
	if err := os.MkdirAll(filepath.Dir(storeFile), 0o750); err != nil {
		return err
	}
	st, err := sqlite.Open(sqlite.Options{Path: storeFile})
	if err != nil {
		return err
	}
	ctx := context.Background()
	var fs []finding.Finding
	fs = append(fs, res.Findings...)
	if err := st.PutFindings(ctx, target.Name, scanTime, fs); err != nil {
		return err
	}
	var cs []store.DriftChange
	for _, d := range res.Drift {
		cs = append(cs, store.DriftChange{Time: scanTime, Target: d.Target, Kind: d.Kind, Path: d.Path, Subject: d.Subject, Key: d.Key,
			Change: d.Change, Old: d.Old, New: d.New, Secret: d.Secret, OldHMAC: d.OldHMAC, NewHMAC: d.NewHMAC, Note: d.Note})
	}
	if err := st.AddDriftChanges(ctx, scanTime, cs); err != nil {
		return err
	}
	return st.Close(ctx)
}

// apiClient is a client of the test exporter with the right credentials.
func apiClient(base string) *api.Client {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM([]byte(env.caPEM))
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	return api.NewClient(base, &http.Client{Timeout: 5 * time.Second, Transport: authRT{tr}})
}

type authRT struct{ next http.RoundTripper }

func (a authRT) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.SetBasicAuth(basicUser, basicPass)
	return a.next.RoundTrip(r)
}

// waitStored waits until the exporter has read the whole sample and
// stored every event and detection, and the counts stay put.
func waitStored(base string) (int64, error) {
	c := apiClient(base)
	deadline := time.Now().Add(30 * time.Second)
	var last string
	stable := 0
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		st, err := c.Status(ctx)
		var dets api.DetectionPage
		if err == nil {
			dets, err = c.Detections(ctx, store.DetectionQuery{From: rangeFrom, To: rangeTo, Limit: 1000})
		}
		cancel()
		if err == nil && len(st.Sources) == 1 && st.Sources[0].Events > 0 && st.Store.Stored == int64(st.Sources[0].Events) && st.Store.Queued == 0 {
			cur := fmt.Sprint(st.Store.Stored, len(dets.Detections))
			if cur == last {
				stable++
				if stable >= 3 {
					return st.Store.Stored, nil
				}
			} else {
				last, stable = cur, 0
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	return 0, fmt.Errorf("the exporter did not store the sample in 30s (last %q)", last)
}

// good is the data source as a user configures it for the test exporter:
// HTTPS with the CA, basic auth.
func good() dsConfig {
	return dsConfig{ID: 1, UID: "dbsec", URL: env.httpsURL, BasicUser: basicUser,
		JSONData: map[string]any{"tlsAuthWithCACert": true, "timeout": 10},
		Secure:   map[string]string{"basicAuthPassword": basicPass, "tlsCACert": env.caPEM}}
}

var (
	reEventID = regexp.MustCompile(`\b([0-9a-f]{12})[0-9a-f]{4}([0-9a-f]{8})\b`)
	rePort    = regexp.MustCompile(`(127\.0\.0\.1|localhost):\d+`)
)

// mask replaces what differs between runs: the random generator instance
// inside event ids (the time and sequence parts stay), ports and the
// temporary directory.
func mask(s string) string {
	s = reEventID.ReplaceAllString(s, "${1}xxxx${2}")
	s = rePort.ReplaceAllString(s, "${1}:PORT")
	return strings.ReplaceAll(s, env.dir, "$TMP")
}
