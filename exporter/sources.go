package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	"github.com/dbsec/dbsec/pkg/collector"
	"github.com/dbsec/dbsec/pkg/config"
	"github.com/dbsec/dbsec/pkg/detect"
	"github.com/dbsec/dbsec/pkg/event"
	"github.com/dbsec/dbsec/pkg/input"
	"github.com/dbsec/dbsec/pkg/input/replay"
	"github.com/dbsec/dbsec/pkg/parse"
	"github.com/dbsec/dbsec/pkg/pipeline"
	"github.com/dbsec/dbsec/pkg/store"
	"github.com/dbsec/dbsec/pkg/tail"
)

func specs(cfg *config.Config) []collector.SourceSpec {
	out := make([]collector.SourceSpec, len(cfg.Sources))
	for i, s := range cfg.Sources {
		out[i] = collector.SourceSpec{Name: s.Name, System: s.Format.System, Labels: s.Labels}
	}
	return out
}

// newPipeline builds the pipeline of source s. workers is how many
// goroutines analyse its statements ahead of the detector (1: none).
func newPipeline(s config.Source, m *collector.Source, stage pipeline.Stage, sinks []pipeline.Sink, ids *event.IDGen, logger *slog.Logger, workers int) *pipeline.Source {
	return pipeline.New(pipeline.Config{
		Name:    s.Name,
		Format:  s.Format,
		Options: parse.Options{Location: s.Location, LinePrefix: s.LinePrefix},
		Metrics: m,
		Stage:   stage,
		Sinks:   sinks,
		IDGen:   ids,
		Logger:  logger,
		Workers: workers,

		StripDockerPrefix: s.DockerPrefix,
	})
}

// replayOnce runs every source over its files, from the beginning to EOF.
func replayOnce(ctx context.Context, cfg *config.Config, reg *collector.Registry, stage pipeline.Stage, sinks []pipeline.Sink, ids *event.IDGen, logger *slog.Logger) error {
	ms := reg.Configure(specs(cfg))
	for i, s := range cfg.Sources {
		if s.Listen != "" {
			logger.Info("a network source has nothing to replay", "source_name", s.Name, "listen", s.Listen)
			continue
		}
		in := replay.New(s.Path)
		files, err := in.Files()
		if err != nil {
			return fmt.Errorf("source %s: %w", s.Name, err)
		}
		if len(files) == 0 {
			logger.Warn("no file matches the source's path", "source_name", s.Name, "path", s.Path)
		}
		p := newPipeline(s, ms[i], stage, waiting(ctx, sinks), ids, logger, cfg.Detect.WorkerCount())
		if err := p.Run(ctx, in); err != nil {
			return err
		}
		logger.Info("replayed", "source_name", s.Name, "files", len(files), "events", p.Events(), "parse_errors", p.Errors())
	}
	return nil
}

// manager runs the configured sources and replaces them on reload.
type manager struct {
	reg    *collector.Registry
	drift  *driftRunner
	detect *detectRunner
	ids    *event.IDGen
	logger *slog.Logger
	// listeners collects the self-metrics of running network sources.
	listeners *listenerCollector

	// out is the event store and the export (nil: none).
	out *outputs

	mu      sync.Mutex
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	running []*runningSource
}

// runningSource is a started source, for /api/v1/status.
type runningSource struct {
	name, format string
	p            *pipeline.Source
	in           input.Input
	up           atomic.Bool
}

func newManager(reg *collector.Registry, dr *driftRunner, det *detectRunner, out *outputs, ids *event.IDGen, logger *slog.Logger) *manager {
	return &manager{reg: reg, drift: dr, detect: det, out: out, ids: ids, logger: logger, listeners: &listenerCollector{}}
}

// apply builds the inputs of cfg first, so that a configuration whose inputs
// cannot start leaves the running sources alone, then stops the running
// sources (their checkpoints are written on the way out) and starts the new
// ones.
func (m *manager) apply(ctx context.Context, cfg *config.Config) error {
	checker, err := driftChecker(cfg)
	if err != nil {
		return err
	}
	var (
		rules    detect.Rules
		rulesKey string
	)
	if cfg.Detect.Enabled {
		if rules, rulesKey, err = detectRules(cfg); err != nil {
			return err
		}
	}
	cpDir := filepath.Join(cfg.Server.StateDir, "checkpoints")
	inputs := make([]input.Input, len(cfg.Sources))
	for i, s := range cfg.Sources {
		if s.Listen != "" {
			in, err := networkInput(s, m.listeners, m.logger)
			if err != nil {
				return fmt.Errorf("source %s: %w", s.Name, err)
			}
			inputs[i] = in
			continue
		}
		in, err := tail.New(tail.Config{
			Paths:          []string{s.Path},
			StartAt:        string(s.StartAt),
			FollowSymlinks: s.FollowSymlinks,
			CheckpointPath: filepath.Join(cpDir, s.Name+".json"),
			Logger:         m.logger.With("source_name", s.Name),
		})
		if err != nil {
			return fmt.Errorf("source %s: %w", s.Name, err)
		}
		inputs[i] = in
	}
	if len(cfg.Sources) > 0 {
		if err := os.MkdirAll(cpDir, 0o750); err != nil {
			return fmt.Errorf("state directory: %w", err)
		}
	}

	m.mu.Lock()
	defer m.mu.Unlock()
	m.stopLocked()
	m.drift.apply(ctx, checker, cfg.Drift.Interval, driftTargets(cfg))
	det, err := m.detect.apply(cfg, rules, rulesKey)
	if err != nil {
		// The rules were checked above, so only the state directory can
		// fail here; run the sources without detections rather than not at all.
		m.logger.Error("detections disabled", "err", err)
	}
	var stage pipeline.Stage
	if det != nil {
		stage = det
	}
	var sinks []pipeline.Sink
	if m.out != nil {
		m.out.check(cfg)
		sinks = append(sinks, m.out.sinks()...)
	}
	ms := m.reg.Configure(specs(cfg))
	runCtx, cancel := context.WithCancel(ctx)
	m.cancel = cancel
	m.running = m.running[:0]
	for i, s := range cfg.Sources {
		srcSinks := sinks
		// A network source hands each message through at once (no
		// batches): its events are few, and its peer may wait for it.
		workers := 1
		if s.Listen == "" {
			srcSinks = waiting(runCtx, sinks) // a file source waits for the store
			workers = cfg.Detect.WorkerCount()
		}
		p := newPipeline(s, ms[i], stage, srcSinks, m.ids, m.logger, workers)
		in := inputs[i]
		rs := &runningSource{name: s.Name, format: s.Format.Name, p: p, in: in}
		rs.up.Store(true)
		m.running = append(m.running, rs)
		m.wg.Go(func() {
			defer rs.up.Store(false)
			if err := p.Run(runCtx, in); err != nil {
				m.logger.Error("source stopped", "source_name", s.Name, "err", err)
				return
			}
			// The totals of this run, for operators comparing what was
			// read against what was written across a restart.
			m.logger.Info("source stopped", "source_name", s.Name, "events", p.Events(), "parse_errors", p.Errors())
		})
	}
	return nil
}

// waitSink hands events to a store that can wait for room: a file or replay
// source then slows down instead of losing events when the store is behind.
type waitSink struct {
	ctx context.Context
	w   store.Waiter
}

func (k waitSink) Consume(ev *event.Event) { _ = k.w.ConsumeWait(k.ctx, ev) }

// waiting returns sinks with every store that can wait (store.Waiter)
// wrapped in a waitSink bound to ctx.
func waiting(ctx context.Context, sinks []pipeline.Sink) []pipeline.Sink {
	out := make([]pipeline.Sink, len(sinks))
	for i, k := range sinks {
		if w, ok := k.(store.Waiter); ok {
			k = waitSink{ctx, w}
		}
		out[i] = k
	}
	return out
}

func (m *manager) stopLocked() {
	if m.cancel != nil {
		m.cancel()
		m.wg.Wait()
		m.cancel = nil
	}
	m.listeners.reset()
}

func (m *manager) stop() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.stopLocked()
	m.drift.stop()
	m.detect.stop()
}
