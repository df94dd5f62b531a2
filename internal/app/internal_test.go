package app

// Unit tests of app's decisions that the acceptance tests (package app_test)
// cannot provoke from outside: a failing store behind /readyz, a store error
// while checking the dev token, a listener that dies under Serve, and the
// order of shutdown.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/oidcfed/oidcfed/internal/issuer"
	"github.com/oidcfed/oidcfed/internal/store"
)

func TestReadyHandler(t *testing.T) {
	secret := errors.New("open /var/lib/oidcfed/oidcfed.db: secret-detail")
	ok := func(context.Context) error { return nil }
	bad := func(context.Context) error { return secret }
	cases := []struct {
		name         string
		store, iss   func(context.Context) error
		wantStatus   int
		wantBody     string
		wantLogCheck []string
	}{
		{"both ok", ok, ok, http.StatusOK, `{"status":"ready","checks":{"issuer":"ok","store":"ok"}}`, nil},
		{"store fails", bad, ok, http.StatusServiceUnavailable, `{"status":"unavailable","checks":{"issuer":"ok","store":"unreachable"}}`, []string{"store"}},
		{"issuer fails", ok, bad, http.StatusServiceUnavailable, `{"status":"unavailable","checks":{"issuer":"not ready","store":"ok"}}`, []string{"issuer"}},
		{"both fail", bad, bad, http.StatusServiceUnavailable, `{"status":"unavailable","checks":{"issuer":"not ready","store":"unreachable"}}`, []string{"store", "issuer"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			h := readyHandler(slog.New(slog.NewJSONHandler(&logs, nil)), []readyCheck{
				{name: "store", failed: "unreachable", check: tc.store},
				{name: "issuer", failed: "not ready", check: tc.iss},
			})
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
			if rec.Code != tc.wantStatus || strings.TrimSpace(rec.Body.String()) != tc.wantBody {
				t.Fatalf("got %d %s, want %d %s", rec.Code, rec.Body, tc.wantStatus, tc.wantBody)
			}
			if strings.Contains(rec.Body.String(), "secret-detail") {
				t.Fatal("the body carries the error")
			}
			// Each failure is logged with its cause.
			var logged []string
			for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
				var rec struct{ Check, Err string }
				if line == "" {
					continue
				}
				if err := json.Unmarshal([]byte(line), &rec); err != nil {
					t.Fatal(err)
				}
				if rec.Err != secret.Error() {
					t.Errorf("logged err %q", rec.Err)
				}
				logged = append(logged, rec.Check)
			}
			if fmt.Sprint(logged) != fmt.Sprint(tc.wantLogCheck) {
				t.Errorf("logged checks %v, want %v", logged, tc.wantLogCheck)
			}
		})
	}
}

func TestDevTokenValid(t *testing.T) {
	const token = "ofrt_secret-token-value"
	cases := []struct {
		name      string
		authErr   error
		wantValid bool
		wantErr   bool
	}{
		{"valid", nil, true, false},
		{"unauthorized: replace", issuer.ErrUnauthorized, false, false},
		{"wrapped unauthorized: replace", fmt.Errorf("auth: %w", issuer.ErrUnauthorized), false, false},
		{"store unreachable: fail the start", errors.New("store: database is locked"), false, true},
		{"store corrupt: fail the start", fmt.Errorf("read runner: %w", store.ErrCorrupt), false, true},
		{"context cancelled: fail the start", context.Canceled, false, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			auth := func(_ context.Context, got string) (*store.Runner, error) {
				if got != token {
					t.Errorf("authenticated %q", got)
				}
				if tc.authErr != nil {
					return nil, tc.authErr
				}
				return &store.Runner{Name: DevRunnerName}, nil
			}
			valid, err := devTokenValid(t.Context(), auth, token)
			if valid != tc.wantValid || (err != nil) != tc.wantErr {
				t.Fatalf("valid %v err %v; want %v, error %v", valid, err, tc.wantValid, tc.wantErr)
			}
			if err != nil {
				if !errors.Is(err, tc.authErr) {
					t.Errorf("error %v does not wrap %v", err, tc.authErr)
				}
				if strings.Contains(err.Error(), token) {
					t.Error("the error shows the token")
				}
			}
		})
	}
}

func TestCheckDevListen(t *testing.T) {
	cases := []struct {
		name, addr string
		ok         bool
	}{
		{"IPv4 loopback", "127.0.0.1:8080", true},
		{"elsewhere in 127/8", "127.3.2.1:0", true},
		{"IPv6 loopback", "[::1]:8080", true},
		{"localhost", "localhost:8080", true},
		{"LOCALHOST", "LOCALHOST:8080", true},
		{"IPv4-mapped loopback", "[::ffff:127.0.0.1]:0", true},
		{"all IPv4 interfaces", "0.0.0.0:8080", false},
		{"all IPv6 interfaces", "[::]:8080", false},
		{"empty host", ":8080", false},
		{"private address", "10.0.0.5:8080", false},
		{"public host name", "ci.example.com:8080", false},
		{"localhost look-alike", "localhost.example.com:8080", false},
		{"no port", "127.0.0.1", false},
		{"empty", "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := checkDevListen(tc.addr)
			if tc.ok {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrDevListenNotLoopback) {
				t.Fatalf("err = %v, want ErrDevListenNotLoopback", err)
			}
			for _, want := range []string{"loopback", "runner token", "plain HTTP"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("message %q does not explain %q", err, want)
				}
			}
		})
	}
}

// TestRunReturnsWhenServeFails: if Serve stops by itself (its listener
// dies), Run must not sit waiting for a signal while nothing is served: it
// shuts down, releases the data directory and returns the error.
func TestRunReturnsWhenServeFails(t *testing.T) {
	dir := t.TempDir()
	s, err := Start(t.Context(), Options{Listen: "127.0.0.1:0", DataDir: dir, Dev: true})
	if err != nil {
		t.Fatal(err)
	}
	_ = s.listener.Close()
	done := make(chan error, 1)
	go func() { done <- s.serveUntil(context.Background()) }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "http server") {
			t.Fatalf("serveUntil = %v, want the Serve error", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run still waiting 10s after Serve failed")
	}
	lk, err := LockDataDir(dir)
	if err != nil {
		t.Fatalf("data directory still locked after Run returned: %v", err)
	}
	_ = lk.Unlock()
}

// TestShutdownOrder: the store is closed only after the issuer's
// maintenance loop has stopped, and a loop that does not stop cannot hold
// Shutdown past its deadline.
func TestShutdownOrder(t *testing.T) {
	cases := []struct {
		name    string
		stuck   bool
		wantErr string
	}{
		{"loop stops", false, ""},
		{"loop stuck past the deadline", true, "issuer maintenance did not stop"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Start(t.Context(), Options{Listen: "127.0.0.1:0", DataDir: t.TempDir(), Dev: true})
			if err != nil {
				t.Fatal(err)
			}
			waited, storeOpen := false, false
			release := make(chan struct{})
			defer close(release)
			s.waitIssuer = func() {
				s.Issuer.Wait()
				waited = true
				storeOpen = s.Store.Ping(context.Background()) == nil
				if tc.stuck {
					<-release
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			err = s.Shutdown(ctx)
			if tc.wantErr == "" {
				if err != nil || !waited || !storeOpen {
					t.Fatalf("Shutdown = %v; waited for the loop %v, store open meanwhile %v", err, waited, storeOpen)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Shutdown = %v, want %q", err, tc.wantErr)
			}
		})
	}
}

func TestLockDataDir(t *testing.T) {
	dir := t.TempDir()
	held, err := LockDataDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		dir     string
		wantErr error  // nil: any error
		want    string // the message mentions it
	}{
		{"held by another holder", dir, ErrDataDirLocked, filepath.Join(dir, LockFileName)},
		{"missing directory", filepath.Join(dir, "nope"), nil, "does not exist"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			lk, err := LockDataDir(tc.dir)
			if err == nil {
				_ = lk.Unlock()
				t.Fatal("locked")
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %q does not mention %q", err, tc.want)
			}
		})
	}
	if err := errors.Join(held.Unlock(), held.Unlock()); err != nil {
		t.Fatalf("unlock twice: %v", err)
	}
	again, err := LockDataDir(dir)
	if err != nil {
		t.Fatalf("lock after unlock: %v", err)
	}
	_ = again.Unlock()
}

// TestRegistryURL: the proxyEndpoint is the configured registry URL, or
// the issuer URL's origin (never the bind address).
func TestRegistryURL(t *testing.T) {
	for _, tc := range []struct{ configured, origin, want string }{
		{"", "https://ci-oidc.example.com", "https://ci-oidc.example.com"},
		{"https://registry.example.com/", "https://ci-oidc.example.com", "https://registry.example.com"},
		{"", "http://127.0.0.1:8080", "http://127.0.0.1:8080"},
	} {
		o := Options{RegistryURL: tc.configured}
		if got := o.registryURL(tc.origin); got != tc.want {
			t.Errorf("registryURL(%q) with %q = %q, want %q", tc.origin, tc.configured, got, tc.want)
		}
	}
}
