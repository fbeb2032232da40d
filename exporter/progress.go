package main

import (
	"context"
	"log/slog"
	"sort"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// progressInterval is how often reportProgress looks; tests shorten it.
var progressInterval = 5 * time.Second

// reportProgress logs, every progressInterval, each source that is
// working through a backlog: one whose file has unread bytes (a daemon
// catching up after start or a burst) or, with replay set (--once), one
// that read lines since the last look. A source that keeps up with its
// files logs nothing, so the steady state stays quiet. It reads only the
// metrics registry, and returns when ctx ends.
func reportProgress(ctx context.Context, g prometheus.Gatherer, replay bool, logger *slog.Logger) {
	type sample struct{ lines, bytes, lag float64 }
	last := map[string]sample{}
	lastAt := time.Now()
	t := time.NewTicker(progressInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		mfs, err := g.Gather()
		if err != nil && len(mfs) == 0 {
			continue
		}
		now := map[string]sample{}
		for _, mf := range mfs {
			for _, m := range mf.GetMetric() {
				src := ""
				for _, l := range m.GetLabel() {
					if l.GetName() == "source" {
						src = l.GetValue()
					}
				}
				if src == "" {
					continue
				}
				s := now[src]
				switch mf.GetName() {
				case "dbsec_lines_read_total":
					s.lines += m.GetCounter().GetValue()
				case "dbsec_bytes_read_total":
					s.bytes += m.GetCounter().GetValue()
				case "dbsec_source_lag_bytes":
					s.lag += m.GetGauge().GetValue()
				default:
					continue
				}
				now[src] = s
			}
		}
		dt := time.Since(lastAt).Seconds()
		lastAt = time.Now()
		names := make([]string, 0, len(now))
		for n := range now {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			s, p := now[n], last[n]
			read := s.lines - p.lines
			if read <= 0 || (!replay && s.lag <= 0) {
				continue
			}
			rate := (s.bytes - p.bytes) / dt
			attrs := []any{"source_name", n, "lines", int64(s.lines), "lines_per_second", int64(read / dt),
				"mib_per_second", float64(int64(rate/(1<<20)*10)) / 10}
			if s.lag > 0 {
				attrs = append(attrs, "behind_mib", float64(int64(s.lag/(1<<20)*10))/10)
				if rate > 0 {
					attrs = append(attrs, "eta", (time.Duration(s.lag/rate) * time.Second).String())
				}
			}
			msg := "catching up"
			if replay {
				msg = "replaying"
			}
			logger.Info(msg, attrs...)
		}
		last = now
	}
}

// startProgress runs reportProgress until the returned stop is called;
// stop waits until it has returned, so that nothing is logged after it.
func startProgress(ctx context.Context, g prometheus.Gatherer, replay bool, logger *slog.Logger) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		reportProgress(ctx, g, replay, logger)
	}()
	return func() {
		cancel()
		<-done
	}
}
