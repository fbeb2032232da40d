package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dbsec/dbsec/pkg/api"
	"github.com/dbsec/dbsec/pkg/config"
	"github.com/dbsec/dbsec/pkg/drift"
	"github.com/dbsec/dbsec/pkg/export"
	"github.com/dbsec/dbsec/pkg/finding"
	"github.com/dbsec/dbsec/pkg/input"
	"github.com/dbsec/dbsec/pkg/pipeline"
	"github.com/dbsec/dbsec/pkg/store"
	"github.com/dbsec/dbsec/pkg/store/sqlite"
)

// outputs are the event store and the SIEM export. They are opened once at
// start: a reload that changes [store] or [export] takes effect at the
// next restart (and says so in the log).
type outputs struct {
	store  store.Engine // nil when [store] enabled = false
	export *export.Exporter
	cfg    config.Config // the [store] and [export] they were opened with
	logger *slog.Logger

	mu          sync.Mutex
	driftSeen   map[string]bool // drift changes already recorded
	driftLoaded bool
}

func openOutputs(cfg *config.Config, logger *slog.Logger) (*outputs, error) {
	o := &outputs{cfg: config.Config{Store: cfg.Store, Export: cfg.Export}, logger: logger, driftSeen: map[string]bool{}}
	if cfg.Store.Enabled {
		if err := os.MkdirAll(filepath.Dir(cfg.Store.Path), 0o750); err != nil {
			return nil, fmt.Errorf("store: %w", err)
		}
		// The head checkpoint is signed with the drift snapshots' HMAC key
		// when one is configured (else the store keeps its own key).
		var headKey []byte
		if cfg.Drift.HMACKeyFile != "" {
			k, err := os.ReadFile(cfg.Drift.HMACKeyFile)
			if err != nil {
				return nil, fmt.Errorf("store: hmac key: %w", err)
			}
			headKey = []byte(strings.TrimSpace(string(k)))
		}
		s, err := sqlite.Open(sqlite.Options{
			HeadKey:   headKey,
			Path:      cfg.Store.Path,
			Retention: cfg.Store.Retention,
			MaxBytes:  cfg.Store.MaxSize,
			Policy:    store.Policy{AllStatements: cfg.Store.AllStatements},
			Logger:    logger.With("component", "store"),
		})
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
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.driftLoaded {
		// Changes recorded before a restart are not recorded again.
		o.driftLoaded = true
		for cursor := ""; ; {
			p, err := o.store.DriftChanges(ctx, store.DriftQuery{Limit: 10000, Cursor: cursor})
			if err != nil {
				o.logger.Error("store drift changes", "err", err)
				break
			}
			for _, c := range p.Changes {
				o.driftSeen[driftKey(c)] = true
			}
			if p.Next == "" || len(o.driftSeen) > 100000 {
				break
			}
			cursor = p.Next
		}
	}
	var add []store.DriftChange
	for _, c := range res.Drift {
		sc := store.DriftChange{Time: at, Target: c.Target, Kind: c.Kind, Path: c.Path, Subject: c.Subject, Key: c.Key,
			Change: c.Change, Old: c.Old, New: c.New, Secret: c.Secret, OldHMAC: c.OldHMAC, NewHMAC: c.NewHMAC, Note: c.Note}
		k := driftKey(sc)
		if o.driftSeen[k] {
			continue
		}
		o.driftSeen[k] = true
		add = append(add, sc)
	}
	if len(add) > 0 {
		if err := o.store.AddDriftChanges(ctx, at, add); err != nil {
			o.logger.Error("store drift changes", "err", err)
		}
	}
}

func driftKey(c store.DriftChange) string {
	return fmt.Sprintf("%s\x1f%s\x1f%s\x1f%s\x1f%s\x1f%s\x1f%s\x1f%s\x1f%s", c.Target, c.Path, c.Subject, c.Key, c.Change, c.Old, c.New, c.OldHMAC, c.NewHMAC)
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

var (
	storeEventsDesc   = prometheus.NewDesc("dbsec_store_events", "Events in the event store.", nil, nil)
	storeBytesDesc    = prometheus.NewDesc("dbsec_store_bytes", "Size of the event store's files (database and write-ahead log).", nil, nil)
	storeStoredDesc   = prometheus.NewDesc("dbsec_store_events_written_total", "Events written to the event store since start.", nil, nil)
	storeDroppedDesc  = prometheus.NewDesc("dbsec_store_events_dropped_total", "Events the store could not keep (queue full or write failed) since start.", nil, nil)
	storeSkippedDesc  = prometheus.NewDesc("dbsec_store_events_skipped_total", "Events the storage policy did not keep (reads and writes without all_statements) since start.", nil, nil)
	storeErrorsDesc   = prometheus.NewDesc("dbsec_store_write_errors_total", "Failed write transactions of the event store since start.", nil, nil)
	storeHeadSeqDesc  = prometheus.NewDesc("dbsec_store_chain_head_seq", "Sequence number of the newest event of the store's hash chain (a record outside the database: it never decreases).", nil, nil)
	storeHeadHashDesc = prometheus.NewDesc("dbsec_store_chain_head_hash_prefix", "First 48 bits of the hash of the chain's newest event, as an integer.", nil, nil)
	exportDesc        = prometheus.NewDesc("dbsec_export_events_total", "Events written to the SIEM export since start.", nil, nil)
	exportErrorsDesc  = prometheus.NewDesc("dbsec_export_errors_total", "Events that could not be written to the SIEM export since start.", nil, nil)
)

// outputMetricNames are the metrics of the store and the export, for the
// README's metric reference test.
var outputMetricNames = []string{"dbsec_store_events", "dbsec_store_bytes", "dbsec_store_events_written_total",
	"dbsec_store_events_dropped_total", "dbsec_store_events_skipped_total", "dbsec_store_write_errors_total",
	"dbsec_export_events_total", "dbsec_export_errors_total", "dbsec_store_chain_head_seq", "dbsec_store_chain_head_hash_prefix"}

// Describe sends nothing: which series exist depends on the configuration.
func (o *outputs) Describe(chan<- *prometheus.Desc) {}

// Collect implements prometheus.Collector.
func (o *outputs) Collect(ch chan<- prometheus.Metric) {
	if o.store != nil {
		st := o.store.Stats()
		ch <- prometheus.MustNewConstMetric(storeEventsDesc, prometheus.GaugeValue, float64(st.Events))
		ch <- prometheus.MustNewConstMetric(storeBytesDesc, prometheus.GaugeValue, float64(st.Bytes))
		ch <- prometheus.MustNewConstMetric(storeStoredDesc, prometheus.CounterValue, float64(st.Stored))
		ch <- prometheus.MustNewConstMetric(storeDroppedDesc, prometheus.CounterValue, float64(st.Dropped))
		ch <- prometheus.MustNewConstMetric(storeSkippedDesc, prometheus.CounterValue, float64(st.Skipped))
		ch <- prometheus.MustNewConstMetric(storeErrorsDesc, prometheus.CounterValue, float64(st.Errors))
		if h, ok := o.store.(interface{ Head() (int64, uint64) }); ok {
			seq, h48 := h.Head()
			ch <- prometheus.MustNewConstMetric(storeHeadSeqDesc, prometheus.GaugeValue, float64(seq))
			ch <- prometheus.MustNewConstMetric(storeHeadHashDesc, prometheus.GaugeValue, float64(h48))
		}
	}
	if o.export != nil {
		ch <- prometheus.MustNewConstMetric(exportDesc, prometheus.CounterValue, float64(o.export.Written()))
		ch <- prometheus.MustNewConstMetric(exportErrorsDesc, prometheus.CounterValue, float64(o.export.Errors()))
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

// The sinks wired here keep the pipeline's contract.
var (
	_ pipeline.Sink = (store.Engine)(nil)
	_ pipeline.Sink = (*export.Exporter)(nil)
	_ store.Engine  = (*sqlite.Store)(nil)
)
