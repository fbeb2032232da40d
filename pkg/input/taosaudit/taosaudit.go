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
//
// Load is bounded: at most MaxConcurrent requests are read and parsed at a
// time (beyond that: 429 with Retry-After), and the bodies being read and
// parsed hold at most MaxInFlight bytes together (beyond that: 503 with
// Retry-After). A body is read into a buffer of its declared length, or in
// doubling steps from 1 MiB when it is chunked, each step taken from that
// budget first.
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
	// MaxConcurrent is how many requests are read and parsed at once
	// (default DefaultMaxConcurrent); more are answered 429.
	MaxConcurrent int
	// MaxInFlight bounds the bytes of the bodies held at once (default
	// DefaultMaxInFlight, at least MaxBody); a body that does not fit is
	// answered 503.
	MaxInFlight int64
}

// Defaults of the load limits.
const (
	DefaultMaxConcurrent       = 4
	DefaultMaxInFlight   int64 = 128 << 20
	// RetryAfter is the Retry-After of 429 and 503 answers, in seconds.
	RetryAfter = "1"
	chunk      = 1 << 20
)

// Handler is the receiver. It serves the three paths itself (any other
// path is 404), so it can be mounted at "/" of its own listener or for each
// path of Paths on a shared mux.
type Handler struct {
	cfg    Config
	mu     sync.Mutex // serializes parsing and Deliver
	parser *tdengineaudit.Parser

	requests  [7]atomic.Uint64 // by code: 200, 400, 405, 413, 404, 429, 503
	slots     chan struct{}    // MaxConcurrent
	inFlight  atomic.Int64     // body bytes held
	events    atomic.Uint64
	rejected  atomic.Uint64
	bodyBytes atomic.Uint64
}

var codes = [...]int{http.StatusOK, http.StatusBadRequest, http.StatusMethodNotAllowed, http.StatusRequestEntityTooLarge, http.StatusNotFound,
	http.StatusTooManyRequests, http.StatusServiceUnavailable}

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
	if cfg.MaxConcurrent <= 0 {
		cfg.MaxConcurrent = DefaultMaxConcurrent
	}
	if cfg.MaxInFlight <= 0 {
		cfg.MaxInFlight = DefaultMaxInFlight
	}
	cfg.MaxInFlight = max(cfg.MaxInFlight, cfg.MaxBody)
	return &Handler{cfg: cfg, parser: tdengineaudit.New(parse.Options{}), slots: make(chan struct{}, cfg.MaxConcurrent)}, nil
}

// reserve takes n bytes from the in-flight budget.
func (h *Handler) reserve(n int64) bool {
	for {
		cur := h.inFlight.Load()
		if cur+n > h.cfg.MaxInFlight {
			return false
		}
		if h.inFlight.CompareAndSwap(cur, cur+n) {
			return true
		}
	}
}

var errBusy = errors.New("busy")

// readBody reads the body within the limits; it returns the bytes it
// reserved (to be released by the caller) and errBusy when the budget is
// spent.
func (h *Handler) readBody(w http.ResponseWriter, r *http.Request) ([]byte, int64, error) {
	body := http.MaxBytesReader(w, r.Body, h.cfg.MaxBody)
	if n := r.ContentLength; n >= 0 {
		if n > h.cfg.MaxBody {
			return nil, 0, &http.MaxBytesError{Limit: h.cfg.MaxBody}
		}
		if !h.reserve(n) {
			return nil, 0, errBusy
		}
		buf := make([]byte, n)
		_, err := io.ReadFull(body, buf)
		if err == nil {
			// A body longer than declared is refused like a short one.
			var one [1]byte
			if k, _ := body.Read(one[:]); k > 0 {
				err = errors.New("body longer than its Content-Length")
			}
		}
		return buf, n, err
	}
	// Chunked: grow by doubling (from 1 MiB, up to MaxBody), reserving
	// each growth before allocating it.
	var buf []byte
	var held int64
	for {
		if len(buf) == cap(buf) {
			grow := min(max(int64(cap(buf)), chunk), h.cfg.MaxBody+1-int64(cap(buf)))
			if grow <= 0 {
				return nil, held, &http.MaxBytesError{Limit: h.cfg.MaxBody}
			}
			if !h.reserve(grow) {
				return nil, held, errBusy
			}
			held += grow
			nb := make([]byte, len(buf), int64(cap(buf))+grow)
			copy(nb, buf)
			buf = nb
		}
		k, err := body.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+k]
		if err == io.EOF {
			return buf, held, nil
		}
		if err != nil {
			return nil, held, err
		}
	}
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
	select {
	case h.slots <- struct{}{}:
		defer func() { <-h.slots }()
	default:
		w.Header().Set("Retry-After", RetryAfter)
		h.reply(w, http.StatusTooManyRequests, fmt.Sprintf("more than %d audit posts at once: retry later", h.cfg.MaxConcurrent))
		return
	}
	body, held, err := h.readBody(w, r)
	defer h.inFlight.Add(-held)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.Is(err, errBusy) {
			// Close the connection: the rest of the body is not read.
			w.Header().Set("Connection", "close")
			w.Header().Set("Retry-After", RetryAfter)
			h.reply(w, http.StatusServiceUnavailable, fmt.Sprintf("audit bodies in flight exceed %d bytes: retry later", h.cfg.MaxInFlight))
			return
		}
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
