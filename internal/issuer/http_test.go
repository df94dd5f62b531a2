package issuer

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/oidcfed/oidcfed/internal/keys"
)

// TestHTTPUnavailableWhileStale: a replica whose schedule went stale answers
// 503 with Retry-After on the JWKS and the minting API (never an
// incomplete key set, never a token from a possibly retired key), and
// serves again once it has reloaded.
func TestHTTPUnavailableWhileStale(t *testing.T) {
	ctx := context.Background()
	clk := &fakeClock{t: time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)}
	iss := newTestIssuer(t, Config{Algorithm: keys.ES256}, newTestStore(t), newTestSealer(t), clk)
	token, _, err := iss.CreateRunner(ctx, "r", nil)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	iss.Routes(mux, "")
	call := func(method, path string) *httptest.ResponseRecorder {
		var body *strings.Reader
		if method == http.MethodPost {
			body = strings.NewReader(`{"aud":"a","project_path":"g/p","ref":"main"}`)
		} else {
			body = strings.NewReader("")
		}
		req := httptest.NewRequest(method, path, body)
		req.Header.Set("Authorization", "Bearer "+token)
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		return rec
	}
	cases := []struct {
		name   string
		method string
		path   string
	}{
		{"jwks", http.MethodGet, JWKSPath},
		{"mint", http.MethodPost, MintPath},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if rec := call(tc.method, tc.path); rec.Code != http.StatusOK {
				t.Fatalf("fresh: %d %s", rec.Code, rec.Body)
			}
			clk.Advance(iss.cfg.StaleAfter() + time.Second)
			rec := call(tc.method, tc.path)
			var body ErrorBody
			_ = json.Unmarshal(rec.Body.Bytes(), &body)
			if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" || body.Error.Code != "unavailable" {
				t.Fatalf("stale: %d %v %s", rec.Code, rec.Header(), rec.Body)
			}
			if strings.Contains(rec.Body.String(), "store") || strings.Contains(rec.Body.String(), token) {
				t.Fatalf("stale answer leaks detail: %s", rec.Body)
			}
			if err := iss.Maintain(ctx); err != nil {
				t.Fatal(err)
			}
			if rec := call(tc.method, tc.path); rec.Code != http.StatusOK {
				t.Fatalf("recovered: %d %s", rec.Code, rec.Body)
			}
		})
	}
}
