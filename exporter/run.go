package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/promslog"
	promslogflag "github.com/prometheus/common/promslog/flag"
	"github.com/prometheus/common/version"
	"github.com/prometheus/exporter-toolkit/web"
	"github.com/prometheus/exporter-toolkit/web/kingpinflag"

	"github.com/dbsec/dbsec/pkg/api"
	"github.com/dbsec/dbsec/pkg/collector"
	"github.com/dbsec/dbsec/pkg/config"
	"github.com/dbsec/dbsec/pkg/detect"
	"github.com/dbsec/dbsec/pkg/drift"
	"github.com/dbsec/dbsec/pkg/event"
	"github.com/dbsec/dbsec/pkg/pipeline"
)

const exporterName = "dbsec_exporter"

// run is the whole exporter: flags → config → sources → metrics → HTTP. It
// returns the process exit code: 0 on a clean stop, 1 on a configuration or
// runtime error, 2 on bad usage.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	// `dbsec_exporter check-config …` is the configuration-drift command.
	if len(args) > 0 && args[0] == "check-config" {
		return checkConfig(args[1:], stdout, stderr)
	}

	// 1. Flags (they exist only in this file).
	app := kingpin.New(exporterName, "Follows database audit and access logs and exports security metrics for Prometheus.\n\n"+
		"Also: `"+exporterName+" check-config --help` checks database configuration files against a secure baseline.")
	app.UsageWriter(stderr)
	app.ErrorWriter(stderr)
	var (
		configFile  = app.Flag("config.file", "Path of the TOML configuration file.").Default("dbsec.toml").String()
		configCheck = app.Flag("config.check", "Validate the configuration file, print every problem and exit.").Bool()
		once        = app.Flag("once", "Replay the configured files from the beginning to EOF, print the metrics exposition to stdout and exit.").Bool()
		metricsPath = app.Flag("web.telemetry-path", "Path under which to expose metrics.").Default("/metrics").String()
		webFlags    = kingpinflag.AddFlags(app, ":9947")
	)
	logCfg := &promslog.Config{Writer: stderr}
	promslogflag.AddFlags(app, logCfg)
	app.Version(version.Print(exporterName))
	app.HelpFlag.Short('h')
	exit := -1
	app.Terminate(func(code int) { exit = code })
	if _, err := app.Parse(args); err != nil {
		fmt.Fprintf(stderr, "%s: %v (try --help)\n", exporterName, err)
		return 2
	}
	if exit >= 0 { // --help or --version
		return exit
	}

	// 2. Logger.
	logger := promslog.New(logCfg)

	// 3. Configuration.
	cfg, err := config.Load(*configFile)
	if err != nil {
		printConfigErrors(stderr, err)
		return 1
	}
	if *configCheck {
		if err := checkDriftFiles(cfg); err != nil {
			printConfigErrors(stderr, err)
			return 1
		}
		if cfg.Detect.Enabled {
			if _, _, err := detectRules(cfg); err != nil {
				printConfigErrors(stderr, err)
				return 1
			}
		}
		fmt.Fprintf(stdout, "%s: configuration OK (%d sources)\n", cfg.File, len(cfg.Sources))
		return 0
	}

	// 4. Metrics on a fresh registry.
	sources := collector.NewRegistry()
	reload := newReloadMetrics()
	reg := prometheus.NewRegistry()
	reg.MustRegister(versioncollector.NewCollector(exporterName), sources, reload)

	// 5. --once: replay to EOF, check configuration drift once, and print
	// the exposition.
	ids := event.NewIDGen()
	if *once {
		var stage pipeline.Stage
		if cfg.Detect.Enabled {
			rules, _, err := detectRules(cfg)
			if err != nil {
				printConfigErrors(stderr, err)
				return 1
			}
			// In memory only: a replay must not change the daemon's state.
			d, err := detect.New(rules, detect.Options{IDGen: ids, Logger: logger, Sources: sourceNames(cfg), Servers: serverKeys(cfg)})
			if err != nil {
				logger.Error("detect", "err", err)
				return 1
			}
			reg.MustRegister(d.Collector())
			stage = d
		}
		stopProgress := startProgress(ctx, reg, true, logger) // progress.go: long replays say how far they are
		err := replayOnce(ctx, cfg, sources, stage, nil, ids, logger)
		stopProgress()
		if err != nil {
			logger.Error("replay failed", "err", err)
			return 1
		}
		checker, err := driftChecker(cfg)
		if err != nil {
			logger.Error("configuration drift", "err", err)
			return 1
		}
		if checker != nil {
			if _, err := checker.Run(ctx); err != nil {
				logger.Error("configuration drift check failed", "err", err)
				return 1
			}
			reg.MustRegister(drift.NewCollector(checker))
		}
		reload.success(time.Now())
		return writeExposition(stdout, reg, logger)
	}
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	// 6. Sources and drift checks, restarted on reload.
	out, err := openOutputs(cfg, logger)
	if err != nil {
		logger.Error("cannot open the event store or export", "err", err)
		return 1
	}
	defer out.close()
	reg.MustRegister(out)
	dr := newDriftRunner(logger)
	dr.onResult = out.drift
	reg.MustRegister(dr)
	det := newDetectRunner(ids, func(d *event.Detection) {
		logger.Info("detection", "rule", d.Rule, "id", d.RuleID, "severity", d.Severity, "source_name", d.Source,
			"entity", d.Entity, "message", d.Message, "evidence", d.Evidence)
	}, logger)
	reg.MustRegister(det)
	mgr := newManager(sources, dr, det, out, ids, logger)
	reg.MustRegister(mgr.listeners)
	if err := mgr.apply(ctx, cfg); err != nil {
		logger.Error("cannot start sources", "err", err)
		return 1
	}
	reload.success(time.Now())
	defer startProgress(ctx, reg, false, logger)() // progress.go: a source reading a backlog says how far it is
	reloadCh := make(chan chan error)
	go reloader(ctx, *configFile, mgr, reload, reloadCh, logger)

	// 7. HTTP: landing page, metrics, reload, health.
	mux := http.NewServeMux()
	mux.Handle(*metricsPath, promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelError), Registry: reg, EnableOpenMetrics: true}))
	if out.store != nil {
		// The JSON API shares the listener, and so the TLS and basic auth
		// of --web.config.file, with /metrics.
		mux.Handle("/api/v1/", api.NewHandler(out.store, api.Options{
			Version: version.Version,
			Sources: mgr.sourceStatus,
			Logger:  logger.With("component", "api"),
		}))
	}
	mux.HandleFunc("/-/healthy", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "OK") })
	mux.HandleFunc("/-/ready", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "OK") })
	mux.HandleFunc("/-/reload", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost && r.Method != http.MethodPut {
			w.Header().Set("Allow", "POST, PUT")
			http.Error(w, "use POST to reload the configuration", http.StatusMethodNotAllowed)
			return
		}
		done := make(chan error, 1)
		select {
		case reloadCh <- done:
		case <-r.Context().Done():
			return
		}
		if err := <-done; err != nil {
			http.Error(w, "reload failed:\n"+err.Error(), http.StatusBadRequest)
			return
		}
		fmt.Fprintln(w, "configuration reloaded")
	})
	if *metricsPath != "/" {
		// The landing page: sources, detections, findings, store (landing.go).
		lo := landingOptions{Version: version.Info(), MetricsPath: *metricsPath, ConfigFile: *configFile, Sources: mgr.sourceStatus, Gatherer: reg, Logger: logger.With("component", "landing")}
		if out.store != nil {
			lo.Querier = out.store
		}
		mux.Handle("/", newLandingPage(lo))
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	serveErr := make(chan error, 1)
	go func() { serveErr <- serve(srv, webFlags, logger) }()

	var code int
	select {
	case <-ctx.Done():
		logger.Info("shutting down")
	case err := <-serveErr:
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("http server failed", "err", err)
			code = 1
		}
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(shutdownCtx)
	mgr.stop()
	return code
}

// serve listens on every --web.listen-address and serves with
// exporter-toolkit, which brings TLS and basic auth from --web.config.file.
func serve(srv *http.Server, flags *web.FlagConfig, logger *slog.Logger) error {
	if flags.WebSystemdSocket != nil && *flags.WebSystemdSocket {
		return web.ListenAndServe(srv, flags, logger)
	}
	if flags.WebConfigFile != nil && *flags.WebConfigFile != "" {
		if err := web.Validate(*flags.WebConfigFile); err != nil {
			return fmt.Errorf("web config %s: %w", *flags.WebConfigFile, err)
		}
	}
	var ls []net.Listener
	for _, addr := range *flags.WebListenAddresses {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			for _, o := range ls {
				o.Close()
			}
			return err
		}
		ls = append(ls, l)
		logger.Info("listening", "address", l.Addr().String())
	}
	return web.ServeMultiple(ls, srv, flags, logger)
}

// reloader serialises reloads from SIGHUP and POST /-/reload.
func reloader(ctx context.Context, file string, mgr *manager, m *reloadMetrics, reqs chan chan error, logger *slog.Logger) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	do := func() error {
		cfg, err := config.Load(file)
		if err == nil {
			err = mgr.apply(ctx, cfg)
		}
		if err != nil {
			m.failure()
			logger.Error("reload failed; keeping the running configuration", "err", err)
			return err
		}
		m.success(time.Now())
		logger.Info("configuration reloaded", "file", file, "sources", len(cfg.Sources))
		return nil
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			_ = do()
		case done := <-reqs:
			done <- do()
		}
	}
}

func printConfigErrors(w io.Writer, err error) {
	var es config.Errors
	if errors.As(err, &es) {
		for _, e := range es {
			fmt.Fprintln(w, e.Error())
		}
		fmt.Fprintf(w, "%d problem(s) in the configuration\n", len(es))
		return
	}
	fmt.Fprintln(w, err)
}

func writeExposition(w io.Writer, g prometheus.Gatherer, logger *slog.Logger) int {
	mfs, err := g.Gather()
	if err != nil {
		logger.Error("gather metrics", "err", err)
		return 1
	}
	enc := expfmt.NewEncoder(w, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			logger.Error("write metrics", "err", err)
			return 1
		}
	}
	return 0
}
