package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dbsec/dbsec/pkg/api"
	"github.com/dbsec/dbsec/pkg/config"
	"github.com/dbsec/dbsec/pkg/detect"
	"github.com/dbsec/dbsec/pkg/drift"
	"github.com/dbsec/dbsec/pkg/export"
	"github.com/dbsec/dbsec/pkg/finding"
	"github.com/dbsec/dbsec/pkg/input"
	"github.com/dbsec/dbsec/pkg/pipeline"
	"github.com/dbsec/dbsec/pkg/store"
	"github.com/dbsec/dbsec/pkg/store/sqlite"
	"github.com/dbsec/dbsec/pkg/store/storemetrics"
	"github.com/dbsec/dbsec/pkg/store/victorialogs"
)

// outputs are the event store and the SIEM export. They are opened once at
// start: a reload that changes [store] or [export] takes effect at the
// next restart (and says so in the log).
type outputs struct {
	store  store.Engine // nil when [store] enabled = false
	export *export.Exporter
	cfg    config.Config // the [store] and [export] they were opened with
	logger *slog.Logger
}

func openOutputs(cfg *config.Config, logger *slog.Logger) (*outputs, error) {
	o := &outputs{cfg: config.Config{Store: cfg.Store, Export: cfg.Export}, logger: logger}
	if cfg.Store.Enabled {
		s, err := openStore(cfg, logger.With("component", "store"))
		if err != nil {
			return nil, err
		}
		o.store = s
	}
	if cfg.Export.Path != "" {
		opts := export.Options{Path: cfg.Export.Path, MaxBytes: cfg.Export.MaxSize, MaxFiles: cfg.Export.MaxFiles}
		if opts.Path == "-" {
			opts.Path, opts.W = "", os.Stdout
		}
		x, err := export.New(opts)
		if err != nil {
			o.close()
			return nil, err
		}
		o.export = x
	}
	return o, nil
}

// openStore opens the configured store engine: the embedded SQLite file,
// or VictoriaLogs with its on-disk queue in the state directory.
func openStore(cfg *config.Config, logger *slog.Logger) (store.Engine, error) {
	policy := store.Policy{AllStatements: cfg.Store.AllStatements}
	if cfg.Store.Engine == config.EngineVictoriaLogs {
		v := cfg.Store.VictoriaLogs
		secret := func(inline, file, what string) (string, error) {
			if file == "" {
				return inline, nil
			}
			b, err := os.ReadFile(file)
			if err != nil {
				return "", fmt.Errorf("store: victorialogs %s: %w", what, err)
			}
			return strings.TrimSpace(string(b)), nil
		}
		password, err := secret(v.Password, v.PasswordFile, "password_file")
		if err != nil {
			return nil, err
		}
		token, err := secret(v.BearerToken, v.BearerTokenFile, "bearer_token_file")
		if err != nil {
			return nil, err
		}
		s, err := victorialogs.Open(victorialogs.Options{
			InsertURL: v.InsertURL, SelectURL: v.SelectURL, Username: v.Username, Password: password, BearerToken: token,
			TLSCAFile: v.TLSCAFile, TLSCertFile: v.TLSCertFile, TLSKeyFile: v.TLSKeyFile, TLSInsecureSkipVerify: v.TLSInsecureSkipVerify,
			AccountID: v.AccountID, ProjectID: v.ProjectID, Exporter: v.Exporter,
			QueueDir:      filepath.Join(cfg.Server.StateDir, "victorialogs"),
			MaxQueueBytes: v.MaxQueueSize, BatchSize: v.BatchSize, FlushInterval: v.FlushInterval, Timeout: v.Timeout,
			Policy: policy, Logger: logger,
		})
		if err != nil {
			return nil, fmt.Errorf("store: %w", err)
		}
		return s, nil
	}
	if err := os.MkdirAll(filepath.Dir(cfg.Store.Path), 0o750); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	// The head checkpoint is signed with the drift snapshots' HMAC key when
	// one is configured (else the store keeps its own key).
	var headKey []byte
	if cfg.Drift.HMACKeyFile != "" {
		k, err := os.ReadFile(cfg.Drift.HMACKeyFile)
		if err != nil {
			return nil, fmt.Errorf("store: hmac key: %w", err)
		}
		headKey = []byte(strings.TrimSpace(string(k)))
	}
	return sqlite.Open(sqlite.Options{
		HeadKey:   headKey,
		Path:      cfg.Store.Path,
		Retention: cfg.Store.Retention,
		MaxBytes:  cfg.Store.MaxSize,
		Policy:    policy,
		Logger:    logger,
	})
}

// sinks are the pipeline sinks, after the detector so that stored and
// exported events carry their detections.
func (o *outputs) sinks() []pipeline.Sink {
	var out []pipeline.Sink
	if o.store != nil {
		out = append(out, o.store)
	}
	if o.export != nil {
		out = append(out, o.export)
	}
	return out
}

// check warns when a reloaded configuration changes settings that need a
// restart.
func (o *outputs) check(cfg *config.Config) {
	if cfg.Store != o.cfg.Store || cfg.Export != o.cfg.Export {
		o.logger.Warn("[store] and [export] changes take effect at the next restart")
	}
}

// drift records a drift check: the findings replace each target's
// findings, and drift changes not recorded before are added.
func (o *outputs) drift(ctx context.Context, res *drift.Result, targets []string) {
	if o.store == nil {
		return
	}
	by := map[string][]finding.Finding{}
	for _, t := range targets {
		by[t] = nil
	}
	for _, f := range res.Findings {
		by[f.Target] = append(by[f.Target], f)
	}
	at := res.GeneratedAt
	if at.IsZero() {
		at = time.Now()
	}
	for t, fs := range by {
		if err := o.store.PutFindings(ctx, t, at, fs); err != nil {
			o.logger.Error("store findings", "target", t, "err", err)
		}
	}
	// The store records each change once (store.DriftChange.Identity), so
	// every check hands it all of its changes.
	var add []store.DriftChange
	for _, c := range res.Drift {
		add = append(add, store.DriftChange{Time: at, Target: c.Target, Kind: c.Kind, Path: c.Path, Subject: c.Subject, Key: c.Key,
			Change: c.Change, Old: c.Old, New: c.New, Secret: c.Secret, OldHMAC: c.OldHMAC, NewHMAC: c.NewHMAC, Note: c.Note})
	}
	if len(add) > 0 {
		if err := o.store.AddDriftChanges(ctx, at, add); err != nil {
			o.logger.Error("store drift changes", "err", err)
		}
	}
}

func (o *outputs) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if o.store != nil {
		if err := o.store.Close(ctx); err != nil {
			o.logger.Error("close store", "err", err)
		}
	}
	if o.export != nil {
		if err := o.export.Close(); err != nil {
			o.logger.Error("close export", "err", err)
		}
	}
}

// outputMetricNames are the metrics of the store and the export, for the
// README's metric reference test.
var outputMetricNames = append(slices.Clone(storemetrics.Names), export.MetricNames...)

// Describe sends nothing: which series exist depends on the configuration.
func (o *outputs) Describe(chan<- *prometheus.Desc) {}

// Collect implements prometheus.Collector with the store's and the
// export's own collectors.
func (o *outputs) Collect(ch chan<- prometheus.Metric) {
	if o.store != nil {
		storemetrics.New(o.store).Collect(ch)
	}
	if o.export != nil {
		o.export.Collect(ch)
	}
}

// sourceStatus is what /api/v1/status reports about the running sources.
func (m *manager) sourceStatus() []api.SourceStatus {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]api.SourceStatus, 0, len(m.running))
	for _, r := range m.running {
		st := api.SourceStatus{Name: r.name, Format: r.format, Up: r.up.Load(), Events: r.p.Events(), Errors: r.p.Errors()}
		if sr, ok := r.in.(input.StatsReporter); ok {
			if is := sr.Stats(); is.FileInput {
				st.FilesMatched = &is.Matched
			}
		}
		out = append(out, st)
	}
	slices.SortFunc(out, func(a, b api.SourceStatus) int {
		switch {
		case a.Name < b.Name:
			return -1
		case a.Name > b.Name:
			return 1
		}
		return 0
	})
	return out
}

// The sinks and the stage wired here keep the pipeline's contracts.
var (
	_ pipeline.Sink  = (store.Engine)(nil)
	_ pipeline.Sink  = (*export.Exporter)(nil)
	_ store.Engine   = (*sqlite.Store)(nil)
	_ pipeline.Stage = (*detect.Detector)(nil)
	_ store.Engine   = (*victorialogs.Store)(nil)
)
