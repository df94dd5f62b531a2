// Package httpx holds the HTTP middleware every oidcfed endpoint shares:
// request ids, structured request logs, route/outcome metrics and panic
// recovery.
package httpx

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

type ctxKey struct{}

// RequestID returns the id of the request ctx belongs to ("" outside one).
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(ctxKey{}).(string)
	return id
}

// LogHandler wraps a slog.Handler so every record logged with a request's
// context carries its request_id.
type LogHandler struct{ slog.Handler }

// Handle adds request_id from ctx.
func (h LogHandler) Handle(ctx context.Context, r slog.Record) error {
	if id := RequestID(ctx); id != "" {
		r.AddAttrs(slog.String("request_id", id))
	}
	return h.Handler.Handle(ctx, r)
}

// WithAttrs keeps the wrapper around derived handlers.
func (h LogHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return LogHandler{h.Handler.WithAttrs(attrs)}
}

// WithGroup keeps the wrapper around derived handlers.
func (h LogHandler) WithGroup(name string) slog.Handler {
	return LogHandler{h.Handler.WithGroup(name)}
}

// Metrics counts requests by route and outcome.
type Metrics struct {
	requests *prometheus.CounterVec
	seconds  *prometheus.HistogramVec
}

// NewMetrics registers the HTTP collectors with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "oidcfed_http_requests_total",
			Help: "HTTP requests by route pattern, method and outcome (status class).",
		}, []string{"route", "method", "outcome"}),
		seconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "oidcfed_http_request_duration_seconds",
			Help:    "HTTP request latency by route pattern.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 4, 9),
		}, []string{"route"}),
	}
	reg.MustRegister(m.requests, m.seconds)
	return m
}

// incoming request ids are accepted only in a safe, bounded form, so a
// client cannot inject text into logs.
var requestIDRE = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// Wrap returns next with request ids, logging, metrics and recovery. The
// mux is consulted for the route pattern so metrics have bounded labels.
func Wrap(mux *http.ServeMux, log *slog.Logger, m *Metrics) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		// By the canonical key: Header.Get canonicalizes it on every call.
		var id string
		if v := r.Header["X-Request-Id"]; len(v) > 0 {
			id = v[0]
		}
		if id == "" || !requestIDRE.MatchString(id) {
			id = newID()
		}
		ctx := context.WithValue(r.Context(), ctxKey{}, id)
		r = r.WithContext(ctx)
		w.Header()["X-Request-Id"] = []string{id}
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		_, route := mux.Handler(r)
		if route == "" {
			route = "unmatched"
		}
		defer func() {
			p := recover()
			// http.ErrAbortHandler is how a handler asks net/http to drop
			// the connection; it is not a bug, and net/http must see it
			// again to do the aborting (and to skip its stack trace).
			aborted := p == http.ErrAbortHandler
			switch {
			case p == nil:
			case aborted:
				log.WarnContext(ctx, "handler aborted the response", "route", route)
			case rec.wrote:
				// The status line is gone already: a 500 cannot be sent,
				// and writing one would only append to the body.
				log.ErrorContext(ctx, "handler panic after the response started", "route", route, "panic_type", typeName(p), "status", rec.status)
			default:
				// Log the panic type only: a panic value may hold request
				// data, and secrets must never reach logs.
				log.ErrorContext(ctx, "handler panic", "route", route, "panic_type", typeName(p))
				http.Error(rec, `{"error":{"code":"internal_error","message":"internal error"}}`, http.StatusInternalServerError)
			}
			elapsed := time.Since(start)
			method := methodLabel(r.Method)
			if m != nil {
				m.requests.WithLabelValues(route, method, outcome(rec.status)).Inc()
				m.seconds.WithLabelValues(route).Observe(elapsed.Seconds())
			}
			if log.Enabled(ctx, slog.LevelInfo) { // else the arguments would still be boxed, for nothing
				log.InfoContext(ctx, "request", "method", method, "path", r.URL.Path, "route", route,
					"status", rec.status, "duration_ms", float64(elapsed.Microseconds())/1000, "remote", r.RemoteAddr)
			}
			if aborted {
				panic(p)
			}
		}()
		mux.ServeHTTP(rec, r)
	})
}

// methodLabel bounds the method metric label (and the logged method): the
// method is client-chosen text, and every distinct value would otherwise
// create a new time series.
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut,
		http.MethodPatch, http.MethodDelete, http.MethodOptions:
		return m
	default:
		return "other"
	}
}

func outcome(status int) string {
	return strconv.Itoa(status/100) + "xx"
}

func typeName(v any) string {
	switch v.(type) {
	case error:
		return "error"
	case string:
		return "string"
	default:
		return "other"
	}
}

func newID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

type statusRecorder struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (s *statusRecorder) WriteHeader(code int) {
	if !s.wrote {
		s.status, s.wrote = code, true
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	s.wrote = true
	return s.ResponseWriter.Write(b)
}

// ReadFrom keeps the connection's ReadFrom (sendfile for files) reachable
// through the recorder, so a blob served from disk is not copied through
// a buffer.
func (s *statusRecorder) ReadFrom(r io.Reader) (int64, error) {
	s.wrote = true
	if rf, ok := s.ResponseWriter.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(struct{ io.Writer }{s.ResponseWriter}, r)
}

// Unwrap lets http.ResponseController reach the connection (the registry
// extends deadlines for blob transfers) and flush.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// RemoteIP is the caller's address without its port, for aws:SourceIp and
// audit records (no proxy headers are trusted yet); "" when unparsable.
func RemoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return ""
	}
	return host
}
