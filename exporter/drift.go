package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dbsec/dbsec/pkg/config"
	"github.com/dbsec/dbsec/pkg/drift"
)

// driftChecker builds the drift checker of a configuration, or nil when no
// target is configured.
func driftChecker(cfg *config.Config) (*drift.Checker, error) {
	d := cfg.Drift
	if len(d.Targets) == 0 {
		return nil, nil
	}
	dc := drift.Config{RuleFiles: d.Rules, OverridesFile: d.Overrides, SnapshotFile: d.Snapshot}
	if d.HMACKeyFile != "" {
		key, err := os.ReadFile(d.HMACKeyFile)
		if err != nil {
			return nil, fmt.Errorf("drift hmac_key_file: %w", err)
		}
		dc.HMACKey = []byte(strings.TrimSpace(string(key)))
	}
	for _, t := range d.Targets {
		dt := drift.Target{Name: t.Name, Edition: t.Edition}
		for _, f := range t.Files {
			k, err := config.DriftKind(t.Product, f)
			if err != nil {
				return nil, fmt.Errorf("drift target %s: %w", t.Name, err)
			}
			dt.Files = append(dt.Files, drift.FileSpec{Path: f, Kind: k})
		}
		if len(t.Versions) > 0 || t.Version != "" {
			dt.Versions = map[drift.Kind]string{}
			if t.Version != "" {
				dt.Versions[""] = t.Version
			}
			for k, v := range t.Versions {
				dt.Versions[drift.Kind(k)] = v
			}
		}
		dc.Targets = append(dc.Targets, dt)
	}
	c, err := drift.NewChecker(dc)
	if err != nil {
		return nil, fmt.Errorf("drift: %w", err)
	}
	return c, nil
}

// driftRunner runs the configured drift checks on their interval and exports
// the last result. apply replaces the checker on reload.
type driftRunner struct {
	logger *slog.Logger
	// onResult, when set, receives every completed check (the event store
	// keeps the findings and drift changes for the API).
	onResult func(ctx context.Context, res *drift.Result, targets []string)

	mu      sync.Mutex
	current *drift.Collector
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

func newDriftRunner(logger *slog.Logger) *driftRunner { return &driftRunner{logger: logger} }

// driftTargets are the names of the configured drift targets.
func driftTargets(cfg *config.Config) []string {
	var out []string
	for _, t := range cfg.Drift.Targets {
		out = append(out, t.Name)
	}
	return out
}

// apply starts checking with c (nil stops checking) every interval; the
// first run happens at once.
func (d *driftRunner) apply(ctx context.Context, c *drift.Checker, interval time.Duration, targets []string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.stopLocked()
	if c == nil {
		d.current = nil
		return
	}
	d.current = drift.NewCollector(c)
	runCtx, cancel := context.WithCancel(ctx)
	d.cancel = cancel
	d.wg.Go(func() {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			d.runOnce(runCtx, c, targets)
			select {
			case <-runCtx.Done():
				return
			case <-t.C:
			}
		}
	})
}

func (d *driftRunner) runOnce(ctx context.Context, c *drift.Checker, targets []string) {
	res, err := c.Run(ctx)
	if err != nil {
		if ctx.Err() == nil {
			d.logger.Error("configuration drift check failed", "err", err)
		}
		return
	}
	failing := 0
	for _, f := range res.Findings {
		if f.Failing() {
			failing++
		}
	}
	d.logger.Debug("configuration drift checked", "findings", len(res.Findings), "failing", failing)
	if d.onResult != nil {
		d.onResult(ctx, &res, targets)
	}
}

func (d *driftRunner) stopLocked() {
	if d.cancel != nil {
		d.cancel()
		d.wg.Wait()
		d.cancel = nil
	}
}

func (d *driftRunner) stop() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.stopLocked()
}

// Describe sends nothing: which series exist depends on the configuration.
func (d *driftRunner) Describe(chan<- *prometheus.Desc) {}

// Collect implements prometheus.Collector.
func (d *driftRunner) Collect(ch chan<- prometheus.Metric) {
	d.mu.Lock()
	c := d.current
	d.mu.Unlock()
	if c != nil {
		c.Collect(ch)
	}
}

// checkDriftFiles refuses drift target files the checks could not read
// safely (devices, FIFOs, directories, files over drift.MaxFileBytes), so
// that --config.check catches what would otherwise stop the exporter.
func checkDriftFiles(cfg *config.Config) error {
	var errs []error
	for _, t := range cfg.Drift.Targets {
		for _, f := range t.Files {
			if err := drift.CheckFile(f); err != nil {
				errs = append(errs, fmt.Errorf("drift target %q: %w", t.Name, err))
			}
		}
	}
	return errors.Join(errs...)
}
