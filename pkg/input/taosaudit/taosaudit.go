// Package taosaudit is an HTTP receiver compatible with taosKeeper's audit
// endpoints, so that taosd (`audit 1`, `monitorFqdn`/`monitorPort`) can
// post its audit records to the exporter instead of (or through a tee in
// front of) taosKeeper. See docs/formats.md
//
// Endpoints (POST only, as in taosKeeper tools/keeper/api/audit.go):
//
//	/audit_v2     one record, nanosecond timestamp as a string
//	/audit-batch  {"records":[…]}
//	/audit        one record of the old API, millisecond number timestamp
//
// Bodies are parsed by tdengineaudit.ParseBody (which accepts every shape on
// every path, as taosKeeper's decoding is equally lenient on field types).
// Answers: 200 with "{}" when the body was taken (also when some records of
// a batch were rejected: they are counted, and a non-200 would only make
// taosd resend the good ones); 400 with {"error": "…"} on invalid JSON; 413
// over the body limit; 405 for other methods.
package taosaudit

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dbsec/dbsec/pkg/event"
	"github.com/dbsec/dbsec/pkg/parse"
	"github.com/dbsec/dbsec/pkg/parse/tdengineaudit"
)

// Paths served by Handler.
var Paths = []string{"/audit_v2", "/audit-batch", "/audit"}

// DefaultMaxBody is the default body limit (tdengineaudit.MaxBody, 64 MiB).
const DefaultMaxBody = tdengineaudit.MaxBody

// Config of a receiver.
type Config struct {
	// Source is set as ev.Source of every event (the configured source
	// name) and is the "source" label of the self-metrics.
	Source string
	// MaxBody is the largest body accepted, in bytes (default and maximum
	// DefaultMaxBody).
	MaxBody int64
	// Deliver receives every event, sequentially (calls are serialized
	// across requests). The event is only valid during the call: Clone it
	// to keep it. It must be set.
	Deliver func(ev *event.Event)
	// Logger for rejected bodies (default: discard).
	Logger *slog.Logger
}

// Handler is the receiver. It serves the three paths itself (any other
// path is 404), so it can be mounted at "/" of its own listener or for each
// path of Paths on a shared mux.
type Handler struct {
	cfg    Config
	mu     sync.Mutex // serializes parsing and Deliver
	parser *tdengineaudit.Parser

	requests  [5]atomic.Uint64 // by code: 200, 400, 405, 413, 404
	events    atomic.Uint64
	rejected  atomic.Uint64
	bodyBytes atomic.Uint64
}

var codes = [...]int{http.StatusOK, http.StatusBadRequest, http.StatusMethodNotAllowed, http.StatusRequestEntityTooLarge, http.StatusNotFound}

// New returns a receiver.
func New(cfg Config) (*Handler, error) {
	if cfg.Deliver == nil {
		return nil, errors.New("taosaudit: Config.Deliver is required")
	}
	if cfg.MaxBody <= 0 || cfg.MaxBody > DefaultMaxBody {
		cfg.MaxBody = DefaultMaxBody
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Handler{cfg: cfg, parser: tdengineaudit.New(parse.Options{})}, nil
}

func (h *Handler) reply(w http.ResponseWriter, code int, msg string) {
	for i, c := range codes {
		if c == code {
			h.requests[i].Add(1)
		}
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	if code == http.StatusOK {
		io.WriteString(w, "{}")
		return
	}
	b, _ := json.Marshal(map[string]string{"error": msg})
	w.Write(b)
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/audit_v2", "/audit-batch", "/audit":
	default:
		h.reply(w, http.StatusNotFound, "not found: taosKeeper audit endpoints are /audit_v2, /audit-batch and /audit")
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		h.reply(w, http.StatusMethodNotAllowed, "method "+r.Method+" not allowed: POST the audit record")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.cfg.MaxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			h.reply(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("audit body larger than %d bytes", h.cfg.MaxBody))
			return
		}
		h.reply(w, http.StatusBadRequest, "reading body: "+err.Error())
		return
	}
	h.bodyBytes.Add(uint64(len(body)))
	peer := r.RemoteAddr
	if host, _, err := net.SplitHostPort(peer); err == nil {
		peer = host
	}
	h.mu.Lock()
	err = h.parser.ParseBody(body, func(ev *event.Event) {
		ev.Source = h.cfg.Source
		if ev.Server == "" {
			ev.Server = peer // the taosd that posted
		}
		h.events.Add(1)
		h.cfg.Deliver(ev)
	})
	h.mu.Unlock()
	var re *tdengineaudit.RecordErrors
	switch {
	case err == nil:
		h.reply(w, http.StatusOK, "")
	case errors.As(err, &re):
		h.rejected.Add(uint64(len(re.Errs)))
		h.cfg.Logger.Warn("audit records rejected", "source_name", h.cfg.Source, "path", r.URL.Path, "peer", peer, "err", err)
		h.reply(w, http.StatusOK, "")
	default:
		h.cfg.Logger.Warn("audit body rejected", "source_name", h.cfg.Source, "path", r.URL.Path, "peer", peer, "err", err)
		h.reply(w, http.StatusBadRequest, "get audit data error: "+err.Error())
	}
}

var (
	descRequests = prometheus.NewDesc("dbsec_taosaudit_requests_total", "Audit POSTs received, by HTTP status code.", []string{"source", "code"}, nil)
	descEvents   = prometheus.NewDesc("dbsec_taosaudit_events_total", "Audit records turned into events.", []string{"source"}, nil)
	descRejected = prometheus.NewDesc("dbsec_taosaudit_rejected_records_total", "Audit records of valid bodies rejected (no timestamp, no operation…).", []string{"source"}, nil)
	descBytes    = prometheus.NewDesc("dbsec_taosaudit_body_bytes_total", "Bytes of audit bodies read.", []string{"source"}, nil)
)

// Describe implements prometheus.Collector.
func (h *Handler) Describe(ch chan<- *prometheus.Desc) {
	ch <- descRequests
	ch <- descEvents
	ch <- descRejected
	ch <- descBytes
}

// Collect implements prometheus.Collector.
func (h *Handler) Collect(ch chan<- prometheus.Metric) {
	for i, c := range codes {
		ch <- prometheus.MustNewConstMetric(descRequests, prometheus.CounterValue, float64(h.requests[i].Load()), h.cfg.Source, fmt.Sprint(c))
	}
	ch <- prometheus.MustNewConstMetric(descEvents, prometheus.CounterValue, float64(h.events.Load()), h.cfg.Source)
	ch <- prometheus.MustNewConstMetric(descRejected, prometheus.CounterValue, float64(h.rejected.Load()), h.cfg.Source)
	ch <- prometheus.MustNewConstMetric(descBytes, prometheus.CounterValue, float64(h.bodyBytes.Load()), h.cfg.Source)
}

// Events returns how many events were delivered.
func (h *Handler) Events() uint64 { return h.events.Load() }

// BodyBytes returns how many bytes of bodies were read.
func (h *Handler) BodyBytes() uint64 { return h.bodyBytes.Load() }
