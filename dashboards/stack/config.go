// Package stack runs dbsec's local monitoring stack: the exporter on a
// configuration's sample logs, a real Prometheus that scrapes it and
// evaluates the project's alert rules, and a real Alertmanager, all on
// 127.0.0.1 with their data in a temporary directory. `go tool mage stack`
// and the dashboards' tests use it.
//
// The exporter starts on empty copies of the configured log files, and the
// samples are appended once Prometheus has scraped the exporter's zero
// counters, so that rate() and increase() see the samples arrive as they
// would in production.
package stack

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/dbsec/dbsec/pkg/config"
)

// Feed is a sample file to append to the exporter's copy of it.
type Feed struct {
	From, To string
}

// Prepared is a dbsec configuration rewritten to run from a temporary
// directory.
type Prepared struct {
	Config string // path of the rewritten configuration
	Feeds  []Feed
	// Listeners are the rewritten network sources: source name → address.
	Listeners map[string]string
}

// PrepareConfig rewrites the configuration src for a run in dir: relative
// paths become absolute (as the exporter would resolve them against src),
// state, store and export go under dir, the log files of every source are
// replaced by empty copies under dir/logs/<source>/ (the originals become
// Feeds), and network listeners move to free ports on 127.0.0.1.
func PrepareConfig(src, dir string) (*Prepared, error) {
	data, err := os.ReadFile(src)
	if err != nil {
		return nil, err
	}
	orig, err := config.Parse(src, data) // the exporter's own view, for the check below
	if err != nil {
		return nil, err
	}
	var raw map[string]any
	if _, err := toml.Decode(string(data), &raw); err != nil {
		return nil, err
	}
	base := filepath.Dir(src)
	abs := func(p string) string {
		if p == "" || p == "-" || filepath.IsAbs(p) {
			return p
		}
		a, _ := filepath.Abs(filepath.Join(base, p))
		return a
	}
	state := filepath.Join(dir, "state")
	table := func(k string) map[string]any {
		t, ok := raw[k].(map[string]any)
		if !ok {
			t = map[string]any{}
			raw[k] = t
		}
		return t
	}
	table("server")["state_dir"] = state
	table("store")["path"] = filepath.Join(state, "dbsec.db")
	if e, ok := raw["export"].(map[string]any); ok {
		if p, _ := e["path"].(string); p != "" && p != "-" {
			e["path"] = filepath.Join(dir, "export", "events.jsonl")
			if err := os.MkdirAll(filepath.Join(dir, "export"), 0o755); err != nil {
				return nil, err
			}
		}
	}
	if d, ok := raw["detect"].(map[string]any); ok {
		if p, ok := d["rules"].(string); ok {
			d["rules"] = abs(p)
		}
		if _, ok := d["state_file"].(string); ok {
			d["state_file"] = filepath.Join(state, "detect-state.json")
		}
	}
	if d, ok := raw["drift"].(map[string]any); ok {
		for _, k := range []string{"overrides", "snapshot", "hmac_key_file"} {
			if p, ok := d[k].(string); ok {
				d[k] = abs(p)
			}
		}
		if rs, ok := d["rules"].([]any); ok {
			for i, r := range rs {
				rs[i] = abs(r.(string))
			}
		}
		if ts, ok := d["target"].([]map[string]any); ok {
			for _, t := range ts {
				if fs, ok := t["files"].([]any); ok {
					for i, f := range fs {
						fs[i] = abs(f.(string))
					}
				}
			}
		}
	}
	p := &Prepared{Listeners: map[string]string{}}
	srcs, _ := raw["source"].([]map[string]any)
	for _, s := range srcs {
		name, _ := s["name"].(string)
		for _, k := range []string{"tls_cert_file", "tls_key_file"} {
			if v, ok := s[k].(string); ok {
				s[k] = abs(v)
			}
		}
		if l, ok := s["listen"].(string); ok {
			scheme, _, found := strings.Cut(l, "://")
			if !found {
				return nil, fmt.Errorf("source %s: listen %q has no scheme", name, l)
			}
			addr, err := freePort(scheme)
			if err != nil {
				return nil, err
			}
			s["listen"] = scheme + "://" + addr
			p.Listeners[name] = s["listen"].(string)
			continue
		}
		pattern, _ := s["path"].(string)
		if pattern == "" {
			continue
		}
		pattern = abs(pattern)
		matches, err := filepath.Glob(pattern)
		if err != nil {
			return nil, fmt.Errorf("source %s: %w", name, err)
		}
		logDir := filepath.Join(dir, "logs", name)
		if err := os.MkdirAll(logDir, 0o755); err != nil {
			return nil, err
		}
		for _, m := range matches {
			to := filepath.Join(logDir, filepath.Base(m))
			if err := os.WriteFile(to, nil, 0o644); err != nil {
				return nil, err
			}
			p.Feeds = append(p.Feeds, Feed{From: m, To: to})
		}
		s["path"] = filepath.Join(logDir, filepath.Base(pattern))
	}
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "# %s rewritten to run from %s.\n", src, dir)
	if err := toml.NewEncoder(&buf).Encode(raw); err != nil {
		return nil, err
	}
	p.Config = filepath.Join(dir, "dbsec.toml")
	if err := os.MkdirAll(state, 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(p.Config, buf.Bytes(), 0o644); err != nil {
		return nil, err
	}
	got, err := config.Load(p.Config)
	if err != nil {
		return nil, fmt.Errorf("rewritten configuration: %w", err)
	}
	absOr := func(p string) string {
		if p == "" {
			return p
		}
		a, _ := filepath.Abs(p)
		return a
	}
	if len(got.Sources) != len(orig.Sources) || len(got.Drift.Targets) != len(orig.Drift.Targets) || absOr(got.Detect.Rules) != absOr(orig.Detect.Rules) {
		return nil, fmt.Errorf("rewritten configuration differs from %s beyond its paths", src)
	}
	return p, nil
}

// FeedSamples appends every sample file to the exporter's copy.
func (p *Prepared) FeedSamples() error {
	for _, f := range p.Feeds {
		if err := appendFile(f.From, f.To); err != nil {
			return err
		}
	}
	return nil
}

func appendFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// freePort returns a free 127.0.0.1 address for a listener scheme.
func freePort(scheme string) (string, error) {
	if scheme == "udp" {
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			return "", err
		}
		defer c.Close()
		return c.LocalAddr().String(), nil
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}
