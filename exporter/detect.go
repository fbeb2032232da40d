package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dbsec/dbsec/pkg/config"
	"github.com/dbsec/dbsec/pkg/detect"
	"github.com/dbsec/dbsec/pkg/event"
)

// detectSaveInterval is how often the detectors' first-seen state is
// written while running (it is also written at shutdown and on reload).
const detectSaveInterval = time.Minute

// detectRules loads the detection rules of a configuration: the built-in
// rules with the user's file applied over them.
func detectRules(cfg *config.Config) (detect.Rules, string, error) {
	if cfg.Detect.Rules == "" {
		return detect.DefaultRules(), "builtin", nil
	}
	b, err := os.ReadFile(cfg.Detect.Rules)
	if err != nil {
		return detect.Rules{}, "", fmt.Errorf("detect rules: %w", err)
	}
	r, err := detect.ParseRules(cfg.Detect.Rules, b)
	if err != nil {
		return detect.Rules{}, "", err
	}
	sum := sha256.Sum256(b)
	return r, cfg.Detect.Rules + "@" + hex.EncodeToString(sum[:8]), nil
}

// detectRunner owns the detector of the running configuration. It keeps
// the detector (and so its counters and state) across reloads that do not
// change the detection settings, saves its state on an interval, and
// exports its metrics.
type detectRunner struct {
	logger    *slog.Logger
	ids       *event.IDGen
	onFinding func(*event.Detection)

	mu      sync.Mutex
	current *detect.Detector
	key     string
	stopCh  chan struct{}
	wg      sync.WaitGroup
}

func newDetectRunner(ids *event.IDGen, onFinding func(*event.Detection), logger *slog.Logger) *detectRunner {
	return &detectRunner{logger: logger, ids: ids, onFinding: onFinding}
}

// apply returns the detector for cfg (nil when detections are disabled),
// replacing the running one when the rules (loaded by the caller with
// detectRules, before anything is stopped, so that a bad rule file leaves
// the running detector alone) or the state file changed.
func (r *detectRunner) apply(cfg *config.Config, rules detect.Rules, key string) (*detect.Detector, error) {
	names := sourceNames(cfg)
	if cfg.Detect.Enabled {
		// A changed set of sources changes the source label's values.
		key += "|" + cfg.Detect.StateFile + "|" + strings.Join(names, "\x1f") + "|" + fmt.Sprint(serverKeys(cfg))
	} else {
		key = ""
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if key == r.key && (r.current != nil) == cfg.Detect.Enabled {
		return r.current, nil
	}
	r.stopLocked()
	if !cfg.Detect.Enabled {
		r.key = ""
		return nil, nil
	}
	if err := os.MkdirAll(filepath.Dir(cfg.Detect.StateFile), 0o750); err != nil {
		return nil, fmt.Errorf("detect state directory: %w", err)
	}
	d, err := detect.New(rules, detect.Options{
		OnFinding: r.onFinding,
		StatePath: cfg.Detect.StateFile,
		IDGen:     r.ids,
		Logger:    r.logger,
		Sources:   names,
		Servers:   serverKeys(cfg),
	})
	if err != nil {
		return nil, fmt.Errorf("detect: %w", err)
	}
	r.current, r.key = d, key
	stop := make(chan struct{})
	r.stopCh = stop
	r.wg.Go(func() {
		t := time.NewTicker(detectSaveInterval)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				if err := d.Save(); err != nil {
					r.logger.Error("cannot save detection state", "err", err)
				}
			}
		}
	})
	return d, nil
}

// stopLocked saves and drops the running detector.
func (r *detectRunner) stopLocked() {
	if r.current == nil {
		return
	}
	close(r.stopCh)
	r.wg.Wait()
	if err := r.current.Close(); err != nil {
		r.logger.Error("cannot save detection state", "err", err)
	}
	r.current = nil
}

// stop saves the state of the running detector; call it after the sources
// have stopped.
func (r *detectRunner) stop() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stopLocked()
	r.key = ""
}

// Describe sends nothing: the detector may change on reload.
func (r *detectRunner) Describe(chan<- *prometheus.Desc) {}

// Collect implements prometheus.Collector.
func (r *detectRunner) Collect(ch chan<- prometheus.Metric) {
	r.mu.Lock()
	d := r.current
	r.mu.Unlock()
	if d != nil {
		d.Collector().Collect(ch)
	}
}

// sourceNames are the configured source names, the values of the source
// label of dbsec_detections_total.
func sourceNames(cfg *config.Config) []string {
	out := make([]string, 0, len(cfg.Sources))
	for _, s := range cfg.Sources {
		out = append(out, s.Name)
	}
	return out
}

// serverKeys maps every source to the server it belongs to ([[source]]
// server, else its own name).
func serverKeys(cfg *config.Config) map[string]string {
	out := make(map[string]string, len(cfg.Sources))
	for _, s := range cfg.Sources {
		out[s.Name] = s.ServerKey()
	}
	return out
}
