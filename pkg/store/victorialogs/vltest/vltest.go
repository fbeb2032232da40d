// Package vltest starts real VictoriaLogs processes for tests: a single
// node or a cluster (storage nodes plus a front node started with
// -storageNode), each on 127.0.0.1 with a temporary data directory and a
// retention long enough for historic test dates.
//
// The binary is found as $DBSEC_VICTORIALOGS, victoria-logs on $PATH, or
// $(go env GOPATH)/bin/victoria-logs. When it is missing, tests fail if
// the CI environment variable is set and are skipped otherwise.
package vltest

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Install is the command that installs the binary.
const Install = "go install github.com/VictoriaMetrics/VictoriaLogs/app/victoria-logs@v1.52.2"

// Binary returns the path of victoria-logs, or fails or skips t.
func Binary(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("DBSEC_VICTORIALOGS"); p != "" {
		return p
	}
	if p, err := exec.LookPath("victoria-logs"); err == nil {
		return p
	}
	var dirs []string
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		for _, d := range filepath.SplitList(strings.TrimSpace(string(out))) {
			dirs = append(dirs, filepath.Join(d, "bin"))
		}
	}
	if h, err := os.UserHomeDir(); err == nil {
		dirs = append(dirs, filepath.Join(h, "go", "bin"))
	}
	for _, d := range dirs {
		p := filepath.Join(d, "victoria-logs")
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("victoria-logs is not installed; install it with: %s", Install)
	}
	t.Skipf("victoria-logs is not installed; install it with: %s", Install)
	return ""
}

// Node is one victoria-logs process.
type Node struct {
	t       testing.TB
	bin     string
	Addr    string // 127.0.0.1:port
	Dir     string
	args    []string
	mu      sync.Mutex
	cmd     *exec.Cmd
	out     *bytes.Buffer
	stopped chan struct{}
}

// URL is the node's base URL.
func (n *Node) URL() string { return "http://" + n.Addr }

func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// StartNode starts a node with extra flags (e.g. -storageNode=…).
func StartNode(t testing.TB, extra ...string) *Node {
	t.Helper()
	n := &Node{t: t, bin: Binary(t), Addr: freeAddr(t), Dir: t.TempDir()}
	n.args = append([]string{"-storageDataPath=" + filepath.Join(n.Dir, "data"), "-httpListenAddr=" + n.Addr,
		"-retentionPeriod=100y", "-futureRetention=100y", "-loggerLevel=WARN"}, extra...)
	n.Start()
	t.Cleanup(n.Kill)
	return n
}

// Start (re)starts the process on the same address and data directory and
// waits until /health answers.
func (n *Node) Start() {
	n.t.Helper()
	n.mu.Lock()
	n.out = &bytes.Buffer{}
	n.cmd = exec.Command(n.bin, n.args...)
	n.cmd.Stdout, n.cmd.Stderr = n.out, n.out
	n.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := n.cmd.Start(); err != nil {
		n.mu.Unlock()
		n.t.Fatalf("start victoria-logs: %v", err)
	}
	n.stopped = make(chan struct{})
	cmd, stopped := n.cmd, n.stopped
	go func() { _ = cmd.Wait(); close(stopped) }()
	n.mu.Unlock()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-stopped:
			n.t.Fatalf("victoria-logs %v exited:\n%s", n.args, n.output())
		default:
		}
		if Healthy(n.URL()) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	n.t.Fatalf("victoria-logs on %s not healthy after 30s:\n%s", n.Addr, n.output())
}

func (n *Node) output() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.out.String()
}

// Healthy reports whether GET /health answers 200.
func Healthy(base string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/health", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// Kill stops the process with SIGKILL and waits for it.
func (n *Node) Kill() {
	n.mu.Lock()
	cmd, stopped := n.cmd, n.stopped
	n.mu.Unlock()
	if cmd == nil || cmd.Process == nil {
		return
	}
	_ = cmd.Process.Kill()
	<-stopped
}

// Cluster is storage nodes behind a front node.
type Cluster struct {
	Storage []*Node
	Front   *Node
}

// URL is the front node's base URL (inserts and queries).
func (c *Cluster) URL() string { return c.Front.URL() }

// StartCluster starts n storage nodes and a front node over them.
func StartCluster(t testing.TB, n int, frontFlags ...string) *Cluster {
	t.Helper()
	c := &Cluster{}
	var addrs []string
	for range n {
		s := StartNode(t)
		c.Storage = append(c.Storage, s)
		addrs = append(addrs, s.Addr)
	}
	c.Front = StartNode(t, append([]string{"-storageNode=" + strings.Join(addrs, ",")}, frontFlags...)...)
	return c
}

// Metric returns the value of a counter on a node's /metrics (the sum of
// its series), e.g. vl_rows_ingested_total.
func Metric(t testing.TB, base, name string) float64 {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(resp.Body)
	var sum float64
	for _, line := range strings.Split(buf.String(), "\n") {
		if !strings.HasPrefix(line, name) {
			continue
		}
		rest := line[len(name):]
		if rest == "" || (rest[0] != ' ' && rest[0] != '{') {
			continue
		}
		f := strings.Fields(rest)
		if v, err := strconv.ParseFloat(f[len(f)-1], 64); err == nil {
			sum += v
		}
	}
	return sum
}

// String describes the node for logs.
func (n *Node) String() string { return fmt.Sprintf("victoria-logs %s (%s)", n.Addr, n.Dir) }
