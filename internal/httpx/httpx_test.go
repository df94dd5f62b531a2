package httpx

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

func newTestHandler(t *testing.T) (http.Handler, *bytes.Buffer, *Metrics) {
	t.Helper()
	var logs bytes.Buffer
	log := slog.New(LogHandler{slog.NewJSONHandler(&logs, nil)})
	m := NewMetrics(prometheus.NewRegistry())
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ok", func(w http.ResponseWriter, r *http.Request) {
		log.InfoContext(r.Context(), "inside handler")
		_, _ = w.Write([]byte("ok"))
	})
	mux.HandleFunc("GET /panic", func(http.ResponseWriter, *http.Request) {
		panic("secret-value-that-must-not-be-logged")
	})
	mux.HandleFunc("GET /items/{id}", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusTeapot)
	})
	mux.HandleFunc("GET /abort", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("partial"))
		panic(http.ErrAbortHandler)
	})
	mux.HandleFunc("GET /late-panic", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusAccepted)
		_, _ = w.Write([]byte("partial"))
		panic("secret-value-that-must-not-be-logged")
	})
	mux.HandleFunc("/any", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	})
	return Wrap(mux, log, m), &logs, m
}

func TestRequestIDs(t *testing.T) {
	h, logs, _ := newTestHandler(t)
	cases := []struct {
		name     string
		incoming string
		keep     bool
	}{
		{"none given: generated", "", false},
		{"safe id kept", "abc-123_X.y", true},
		{"newline rejected", "abc\nforged=1", false},
		{"too long rejected", strings.Repeat("a", 65), false},
		{"quote rejected", `a"b`, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			logs.Reset()
			req := httptest.NewRequest("GET", "/ok", nil)
			if tc.incoming != "" {
				req.Header.Set("X-Request-Id", tc.incoming)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			id := rec.Header().Get("X-Request-Id")
			if tc.keep != (id == tc.incoming) || !requestIDRE.MatchString(id) {
				t.Fatalf("response id %q for incoming %q", id, tc.incoming)
			}
			// Every line logged during the request carries the id.
			lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
			if len(lines) != 2 {
				t.Fatalf("want handler line and access line, got %q", logs.String())
			}
			for _, l := range lines {
				var m map[string]any
				if err := json.Unmarshal([]byte(l), &m); err != nil || m["request_id"] != id {
					t.Fatalf("log line without request_id %q: %s", id, l)
				}
			}
		})
	}
}

func TestPanicIsContained(t *testing.T) {
	h, logs, m := newTestHandler(t)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/panic", nil))
	if rec.Code != http.StatusInternalServerError {
		t.Fatalf("status %d", rec.Code)
	}
	if strings.Contains(rec.Body.String(), "secret-value") || strings.Contains(logs.String(), "secret-value") {
		t.Fatal("panic value leaked")
	}
	if got := counterValue(m.requests.WithLabelValues("GET /panic", "GET", "5xx")); got != 1 {
		t.Fatalf("5xx count %v", got)
	}
	// The server keeps serving.
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/ok", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("after panic: status %d", rec.Code)
	}
}

func TestMetricsUseRoutePatterns(t *testing.T) {
	h, _, m := newTestHandler(t)
	for _, path := range []string{"/items/1", "/items/2", "/nope/a", "/nope/b"} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", path, nil))
	}
	if got := counterValue(m.requests.WithLabelValues("GET /items/{id}", "GET", "4xx")); got != 2 {
		t.Fatalf("pattern label count %v", got)
	}
	if got := counterValue(m.requests.WithLabelValues("unmatched", "GET", "4xx")); got != 2 {
		t.Fatalf("unmatched paths must share one label, got %v", got)
	}
}

func counterValue(c prometheus.Counter) float64 {
	var m dto.Metric
	_ = c.Write(&m)
	return m.GetCounter().GetValue()
}

// TestAbortHandlerIsRepanicked: http.ErrAbortHandler must reach net/http,
// which drops the connection for it; swallowing it would turn a deliberate
// abort into a (truncated) normal response. The request is still counted
// and logged.
func TestAbortHandlerIsRepanicked(t *testing.T) {
	h, logs, m := newTestHandler(t)
	rec := httptest.NewRecorder()
	p := func() (p any) {
		defer func() { p = recover() }()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/abort", nil))
		return nil
	}()
	if p != http.ErrAbortHandler {
		t.Fatalf("recovered %v, want http.ErrAbortHandler re-panicked", p)
	}
	if rec.Body.String() != "partial" {
		t.Errorf("body %q: the middleware wrote to an aborted response", rec.Body.String())
	}
	if got := counterValue(m.requests.WithLabelValues("GET /abort", "GET", "2xx")); got != 1 {
		t.Errorf("aborted request counted %v times", got)
	}
	if !strings.Contains(logs.String(), "handler aborted the response") || strings.Contains(logs.String(), `"handler panic"`) {
		t.Errorf("log %s", logs.String())
	}
}

// TestPanicAfterHeadersWritten: once the status line is out a 500 cannot be
// sent; the middleware must only log (the type, never the value).
func TestPanicAfterHeadersWritten(t *testing.T) {
	h, logs, m := newTestHandler(t)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/late-panic", nil))
	if rec.Code != http.StatusAccepted || rec.Body.String() != "partial" {
		t.Fatalf("status %d body %q: a 500 was written over a started response", rec.Code, rec.Body.String())
	}
	if !strings.Contains(logs.String(), "handler panic after the response started") {
		t.Errorf("panic not logged: %s", logs.String())
	}
	if strings.Contains(logs.String(), "secret-value") {
		t.Error("panic value leaked into the log")
	}
	if got := counterValue(m.requests.WithLabelValues("GET /late-panic", "GET", "2xx")); got != 1 {
		t.Errorf("count %v", got)
	}
}

// TestMethodLabelIsBounded: the method is client-chosen text; only the
// standard methods the API can serve get their own metric label.
func TestMethodLabelIsBounded(t *testing.T) {
	cases := []struct {
		name, method, label string
	}{
		{"GET", "GET", "GET"},
		{"HEAD", "HEAD", "HEAD"},
		{"POST", "POST", "POST"},
		{"PUT", "PUT", "PUT"},
		{"PATCH", "PATCH", "PATCH"},
		{"DELETE", "DELETE", "DELETE"},
		{"OPTIONS", "OPTIONS", "OPTIONS"},
		{"invented method", "BREW", "other"},
		{"lower case is another method", "get", "other"},
		{"TRACE", "TRACE", "other"},
		{"long random token", strings.Repeat("X", 200), "other"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h, logs, m := newTestHandler(t)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(tc.method, "/any", nil))
			if got := counterValue(m.requests.WithLabelValues("/any", tc.label, "2xx")); got != 1 {
				t.Fatalf("requests{method=%q} = %v, want 1", tc.label, got)
			}
			var line struct{ Method string }
			if err := json.Unmarshal(logs.Bytes(), &line); err != nil || line.Method != tc.label {
				t.Errorf("logged method %q, want %q (%v)", line.Method, tc.label, err)
			}
		})
	}
}
