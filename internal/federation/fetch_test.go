package federation

import (
	"context"
	"crypto/rand"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// shortTimeout stands in for AWS's 5 s in the tests about bounds; long enough for a TLS
// fetch under the race detector on a loaded 2-core machine.
const shortTimeout = time.Second

func newShortVerifier(t testing.TB, clock *testClock, providers ...Provider) *Verifier {
	t.Helper()
	v, err := New(Options{Providers: providers, Now: clock.Now, FetchTimeout: shortTimeout})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// waitFor polls cond (background refreshes run on their own goroutine).
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// Misbehaving JWKS handlers.

// slowHandler never answers: when its request ends it aborts the
// connection instead of returning, which would send an empty 200 that a
// client still reading could take for a (malformed) JWKS. CI saw that
// once: InvalidIdentityToken "JSON value is not an object" instead of the
// timeout's IDPCommunicationError.
func slowHandler(w http.ResponseWriter, r *http.Request) {
	select {
	case <-r.Context().Done():
	case <-time.After(10 * time.Second):
	}
	panic(http.ErrAbortHandler)
}

func hugeHandler(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	chunk := []byte(`{"keys":[` + strings.Repeat(" ", 64<<10))
	for range 320 { // 20 MiB if the client kept reading
		if _, err := w.Write(chunk); err != nil {
			return
		}
	}
}

func status500(w http.ResponseWriter, r *http.Request) {
	http.Error(w, "boom", http.StatusInternalServerError)
}

func badJSON(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, `{"keys":[{"kty":"RSA",}]}`) }

// manyKeys serves n copies of k's public key under kids k0..k{n-1}.
func manyKeys(k *testKey, n int) string {
	parts := make([]string, n)
	for i := range n {
		c := *k
		c.kid = fmt.Sprintf("k%d", i)
		parts[i] = c.jwkJSON()
	}
	return `{"keys":[` + strings.Join(parts, ",") + `]}`
}

func tokenWithKID(t testing.TB, k *testKey, kid, iss string) string {
	c := *k
	c.kid = kid
	return mint(t, &c, gitlabClaims(iss))
}

func TestJWKSServerBehaviours(t *testing.T) {
	key := newRSATestKey(t, "k", 0)
	other := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("cross-host redirect was followed to %s", r.URL)
	}))
	defer other.Close()

	cases := []struct {
		name    string
		handler http.HandlerFunc
		body    string
		kid     string
		code    Code
		msg     string
	}{
		{"slow", slowHandler, "", "k", IDPCommunicationError, msgIDPComm},
		{"huge", hugeHandler, "", "k", InvalidIdentityToken, msgNoKey},
		{"redirect to another host", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, other.URL+"/keys", http.StatusFound)
		}, "", "k", InvalidIdentityToken, msgNoKey},
		{"two same-host redirects", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, r.URL.Path+"?hop="+fmt.Sprint(len(r.URL.RawQuery)), http.StatusFound)
		}, "", "k", InvalidIdentityToken, msgNoKey},
		{"150 keys, kid past 100", nil, manyKeys(key, 150), "k120", InvalidIdentityToken, msgNoKey},
		{"150 keys, kid within 100", nil, manyKeys(key, 150), "k42", "", ""},
		{"HTTP 500", status500, "", "k", IDPCommunicationError, msgIDPComm},
		{"HTTP 429", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTooManyRequests) }, "", "k", IDPCommunicationError, msgIDPComm},
		{"HTTP 404", http.NotFound, "", "k", InvalidIdentityToken, msgNoKey},
		{"bad JSON", badJSON, "", "k", InvalidIdentityToken, msgNoKey},
		{"keys not an array", nil, `{"keys":{}}`, "k", InvalidIdentityToken, msgNoKey},
		{"no usable key", nil, `{"keys":[{"kty":"oct","k":"AAAA"}]}`, "k", InvalidIdentityToken, msgNoKey},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			idp := newTestIdP(t, key)
			if c.handler != nil {
				idp.setJWKSHandler(c.handler)
			}
			if c.body != "" {
				idp.setJWKS(c.body)
			}
			v := newShortVerifier(t, newTestClock(epoch), idp.provider())
			start := time.Now()
			_, err := v.Verify(bg, tokenWithKID(t, key, c.kid, idp.url))
			if elapsed := time.Since(start); elapsed > shortTimeout+time.Second {
				t.Errorf("took %v, bound is %v", elapsed, shortTimeout)
			}
			if c.code == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			wantCode(t, err, c.code, c.msg)
		})
	}
}

func TestDiscoveryChecks(t *testing.T) {
	key := newRSATestKey(t, "k", 0)
	cases := []struct {
		name string
		doc  func(iss string) string
	}{
		{"issuer mismatch", func(iss string) string {
			return fmt.Sprintf(`{"issuer":%q,"jwks_uri":%q}`, iss+"/", iss+"/oauth/discovery/keys")
		}},
		{"issuer missing", func(iss string) string { return fmt.Sprintf(`{"jwks_uri":%q}`, iss+"/oauth/discovery/keys") }},
		{"jwks_uri http", func(iss string) string {
			return fmt.Sprintf(`{"issuer":%q,"jwks_uri":%q}`, iss, strings.Replace(iss, "https", "http", 1)+"/oauth/discovery/keys")
		}},
		{"jwks_uri other host", func(iss string) string {
			return fmt.Sprintf(`{"issuer":%q,"jwks_uri":"https://keys.example.com/jwks"}`, iss)
		}},
		{"jwks_uri missing", func(iss string) string { return fmt.Sprintf(`{"issuer":%q}`, iss) }},
		{"jwks_uri file", func(iss string) string { return fmt.Sprintf(`{"issuer":%q,"jwks_uri":"file:///etc/passwd"}`, iss) }},
		{"duplicate issuer member", func(iss string) string {
			return fmt.Sprintf(`{"issuer":"https://evil","issuer":%q,"jwks_uri":%q}`, iss, iss+"/oauth/discovery/keys")
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			idp := newTestIdP(t, key)
			idp.mu.Lock()
			idp.discovery = c.doc
			idp.mu.Unlock()
			v := newTestVerifier(t, newTestClock(epoch), idp.provider())
			_, err := v.Verify(bg, mint(t, key, gitlabClaims(idp.url)))
			wantCode(t, err, InvalidIdentityToken, msgNoKey)
			if n := idp.jwksFetches.Load(); n != 0 {
				t.Fatalf("JWKS fetched %d times despite bad discovery", n)
			}
		})
	}
}

// TestSeveralIssuersBounded runs misbehaving issuers beside a good one: the good one keeps
// verifying, quickly, while the others hang or fail.
func TestSeveralIssuersBounded(t *testing.T) {
	key := newRSATestKey(t, "k", 0)
	good := newTestIdP(t, key)
	bad := map[string]http.HandlerFunc{"slow": slowHandler, "huge": hugeHandler, "500": status500, "badjson": badJSON}
	providers := []Provider{good.provider()}
	var badIdPs []*testIdP
	var slow *testIdP
	for name, h := range bad {
		idp := newTestIdP(t, key)
		idp.setJWKSHandler(h)
		badIdPs = append(badIdPs, idp)
		providers = append(providers, idp.provider())
		if name == "slow" {
			slow = idp
		}
	}
	many := newTestIdP(t)
	many.setJWKS(manyKeys(key, 150))
	providers = append(providers, many.provider())
	badIdPs = append(badIdPs, many)

	// A fetch timeout long enough that "blocked behind the slow issuer" cannot be
	// mistaken for scheduling noise on a loaded machine.
	const timeout = 3 * time.Second
	v, err := New(Options{Providers: providers, Now: newTestClock(epoch).Now, FetchTimeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	goodTok := mint(t, key, gitlabClaims(good.url))
	if _, err := v.Verify(bg, goodTok); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(bg)
	var wg sync.WaitGroup
	for _, idp := range badIdPs {
		tok := tokenWithKID(t, key, "k140", idp.url)
		wg.Go(func() {
			for ctx.Err() == nil {
				if _, err := v.Verify(ctx, tok); err == nil {
					t.Errorf("%s: bad issuer verified", idp.url)
					return
				}
				time.Sleep(time.Millisecond) // load, not a CPU hog on a 2-core machine
			}
		})
	}
	waitFor(t, "the slow issuer to be hanging", func() bool { return slow.jwksFetches.Load() > 0 })
	var slowest time.Duration
	for range 50 {
		start := time.Now()
		if _, err := v.Verify(bg, goodTok); err != nil {
			t.Fatal(err)
		}
		slowest = max(slowest, time.Since(start))
	}
	if v.state(slow.url).inflightDone() {
		t.Fatal("the slow fetch ended before the good verifies: test proves nothing")
	}
	cancel()
	wg.Wait()
	// Blocking behind the slow issuer would cost its whole fetch timeout.
	if slowest > timeout/2 {
		t.Fatalf("good issuer's slowest verify took %v while others misbehaved", slowest)
	}
	t.Logf("slowest good verify %v", slowest)
	// With a frozen clock each bad issuer was asked once, however many tokens named it.
	for _, idp := range badIdPs {
		if f := idp.discoveryFetches.Load(); f > 1 {
			t.Errorf("%s: %d discovery fetches with a frozen clock", idp.url, f)
		}
	}
}

func TestRefetchRateLimit(t *testing.T) {
	key := newRSATestKey(t, "k", 0)
	idp := newTestIdP(t, key)
	clock := newTestClock(epoch)
	v := newTestVerifier(t, clock, idp.provider())
	if _, err := v.Verify(bg, mint(t, key, gitlabClaims(idp.url))); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Minute) // the limiter would now allow one refetch
	for i := range 1000 {
		var rnd [8]byte
		_, _ = rand.Read(rnd[:])
		_, err := v.Verify(bg, tokenWithKID(t, key, hex.EncodeToString(rnd[:]), idp.url))
		wantCode(t, err, InvalidIdentityToken, msgNoKey)
		if i%100 == 0 {
			clock.Advance(time.Second) // 10 s in all: still inside one 30 s window
		}
	}
	if n := idp.jwksFetches.Load(); n > 2 {
		t.Fatalf("%d JWKS fetches for 1000 random kids, want ≤ 2", n)
	}
	t.Logf("JWKS fetches: %d", idp.jwksFetches.Load())
}

// TestRotationRefetchDeduplicated: many concurrent tokens with a new kid share one fetch.
func TestRotationRefetchDeduplicated(t *testing.T) {
	oldKey := newRSATestKey(t, "old", 0)
	newKey := newRSATestKey(t, "new", 1)
	idp := newTestIdP(t, oldKey)
	clock := newTestClock(epoch)
	v := newTestVerifier(t, clock, idp.provider())
	if _, err := v.Verify(bg, mint(t, oldKey, gitlabClaims(idp.url))); err != nil {
		t.Fatal(err)
	}
	// Rotate: the IdP publishes the new key, slowly, so every caller overlaps the fetch.
	idp.setJWKS(jwksJSON(oldKey, newKey))
	idp.setJWKSHandler(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(100 * time.Millisecond)
		idp.mu.Lock()
		body := idp.jwks
		idp.mu.Unlock()
		fmt.Fprint(w, body)
	})
	clock.Advance(31 * time.Second)
	tok := mint(t, newKey, gitlabClaims(idp.url))
	var wg sync.WaitGroup
	var failures atomic.Int64
	for range 50 {
		wg.Go(func() {
			if _, err := v.Verify(bg, tok); err != nil {
				failures.Add(1)
				t.Log(err)
			}
		})
	}
	wg.Wait()
	if failures.Load() != 0 {
		t.Fatalf("%d of 50 failed", failures.Load())
	}
	if n := idp.jwksFetches.Load(); n != 2 {
		t.Fatalf("%d JWKS fetches, want 2 (initial + one shared refetch)", n)
	}
}

// TestFailedFetchKeepsCache: a good cache survives failing refreshes and keeps verifying.
func TestFailedFetchKeepsCache(t *testing.T) {
	key := newRSATestKey(t, "k", 0)
	idp := newTestIdP(t, key)
	clock := newTestClock(epoch)
	v := newTestVerifier(t, clock, idp.provider())
	claims := gitlabClaims(idp.url)
	claims["exp"] = epoch.Add(48 * time.Hour).Unix()
	tok := mint(t, key, claims)
	if _, err := v.Verify(bg, tok); err != nil {
		t.Fatal(err)
	}
	for _, h := range []http.HandlerFunc{status500, badJSON, hugeHandler} {
		idp.setJWKSHandler(h)
		before := idp.jwksFetches.Load()
		clock.Advance(2 * time.Hour) // past the default 1 h TTL: background refresh
		if _, err := v.Verify(bg, tok); err != nil {
			t.Fatalf("stale cache not used: %v", err)
		}
		waitFor(t, "background refresh", func() bool { return idp.jwksFetches.Load() > before })
		waitFor(t, "refresh to finish", func() bool { return v.state(idp.url).inflightDone() })
		if _, err := v.Verify(bg, tok); err != nil {
			t.Fatalf("failed refresh replaced the cache: %v", err)
		}
	}
	// Unknown kid with a cache but an unreachable IdP: the key is just not there.
	clock.Advance(time.Minute)
	_, err := v.Verify(bg, tokenWithKID(t, key, "other", idp.url))
	wantCode(t, err, InvalidIdentityToken, msgNoKey)
}

func (v *Verifier) state(iss string) *providerState { return (*v.providers.Load())[iss] }

func (p *providerState) inflightDone() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.inflight == nil
}

func TestCacheTTL(t *testing.T) {
	key := newRSATestKey(t, "k", 0)
	cases := []struct {
		cacheControl string
		want         time.Duration
	}{
		{"", time.Hour},
		{"max-age=60", MinCacheTTL},
		{"public, max-age=600", 10 * time.Minute},
		{"max-age=999999", MaxCacheTTL},
		{"no-store", MinCacheTTL},
		{"max-age=abc", time.Hour},
	}
	for _, c := range cases {
		t.Run(c.cacheControl, func(t *testing.T) {
			idp := newTestIdP(t, key)
			idp.mu.Lock()
			idp.cacheControl = c.cacheControl
			idp.mu.Unlock()
			clock := newTestClock(epoch)
			v := newTestVerifier(t, clock, idp.provider())
			claims := gitlabClaims(idp.url)
			claims["exp"] = epoch.Add(48 * time.Hour).Unix()
			tok := mint(t, key, claims)
			if _, err := v.Verify(bg, tok); err != nil {
				t.Fatal(err)
			}
			if got := v.state(idp.url).cache.Load().expires.Sub(epoch); got != c.want {
				t.Fatalf("TTL %v, want %v", got, c.want)
			}
			clock.Advance(c.want - time.Second)
			if _, err := v.Verify(bg, tok); err != nil {
				t.Fatal(err)
			}
			if n := idp.jwksFetches.Load(); n != 1 {
				t.Fatalf("refetched before the TTL: %d", n)
			}
			clock.Advance(2 * time.Second)
			if _, err := v.Verify(bg, tok); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "background refresh", func() bool { return idp.jwksFetches.Load() == 2 })
		})
	}
}

// TestNoCacheRetry: with nothing cached, failures answer IDPCommunicationError, the IdP
// is retried at most every RetryInterval, and it recovers once the IdP does.
func TestNoCacheRetry(t *testing.T) {
	key := newRSATestKey(t, "k", 0)
	idp := newTestIdP(t, key)
	idp.setJWKSHandler(status500)
	clock := newTestClock(epoch)
	v := newTestVerifier(t, clock, idp.provider())
	tok := mint(t, key, gitlabClaims(idp.url))
	for range 20 {
		_, err := v.Verify(bg, tok)
		te := wantCode(t, err, IDPCommunicationError, msgIDPComm)
		if !errors.Is(te, ErrFetchTransient) {
			t.Fatalf("cause %v", te.Cause)
		}
	}
	if n := idp.jwksFetches.Load(); n != 1 {
		t.Fatalf("%d fetches inside one retry interval", n)
	}
	idp.setJWKSHandler(nil)
	clock.Advance(6 * time.Second)
	if _, err := v.Verify(bg, tok); err != nil {
		t.Fatal(err)
	}
}

func TestLazyStartAndCancel(t *testing.T) {
	key := newRSATestKey(t, "k", 0)
	idp := newTestIdP(t, key)
	idp.setJWKSHandler(slowHandler)
	v := newShortVerifier(t, newTestClock(epoch), idp.provider())
	if n := idp.discoveryFetches.Load(); n != 0 {
		t.Fatalf("New fetched %d times", n)
	}
	ctx, cancel := context.WithTimeout(bg, 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := v.Verify(ctx, mint(t, key, gitlabClaims(idp.url)))
	if time.Since(start) > shortTimeout/2 {
		t.Fatalf("cancelled verify took %v", time.Since(start))
	}
	wantCode(t, err, IDPCommunicationError, "")
}

func TestThumbprints(t *testing.T) {
	key := newRSATestKey(t, "k", 0)
	idp := newTestIdP(t, key)
	sum := sha1.Sum(idp.srv.Certificate().Raw)
	right := hex.EncodeToString(sum[:])
	wrong := strings.Repeat("ab", 20)
	cases := []struct {
		name   string
		thumbs []string
		ca     bool
		msg    string
	}{
		{"trusted CA, no thumbprint", nil, true, ""},
		{"trusted CA, wrong thumbprint ignored", []string{wrong}, true, ""},
		{"untrusted, matching thumbprint", []string{wrong, strings.ToUpper(right)}, false, ""},
		{"untrusted, wrong thumbprint", []string{wrong}, false, msgThumbprint},
		{"untrusted, no thumbprint", nil, false, msgNoKey},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := idp.provider()
			p.Thumbprints = c.thumbs
			if !c.ca {
				p.CABundlePEM = nil
			}
			v := newTestVerifier(t, newTestClock(epoch), p)
			_, err := v.Verify(bg, mint(t, key, gitlabClaims(idp.url)))
			if c.msg == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			wantCode(t, err, InvalidIdentityToken, c.msg)
		})
	}
}

func TestHTTPLoopbackIssuer(t *testing.T) {
	key := newRSATestKey(t, "k", 0)
	var url string
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"issuer":%q,"jwks_uri":%q}`, url, url+"/keys")
	})
	mux.HandleFunc("/keys", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, jwksJSON(key)) })
	srv := httptest.NewServer(mux)
	defer srv.Close()
	url = srv.URL
	p := Provider{URL: url, ClientIDs: []string{testAudience}, AllowInsecureHTTPLoopback: true}
	v := newTestVerifier(t, newTestClock(epoch), p)
	if _, err := v.Verify(bg, mint(t, key, gitlabClaims(url))); err != nil {
		t.Fatal(err)
	}
	p.AllowInsecureHTTPLoopback = false
	if _, err := New(Options{Providers: []Provider{p}}); err == nil {
		t.Fatal("http issuer accepted without the flag")
	}
}

func TestProviderValidation(t *testing.T) {
	cases := []struct {
		name string
		p    Provider
		ok   bool
	}{
		{"https", Provider{URL: "https://gitlab.example.com"}, true},
		{"https with path", Provider{URL: "https://example.com/api/oidc"}, true},
		{"http non-loopback with flag", Provider{URL: "http://gitlab.example.com", AllowInsecureHTTPLoopback: true}, false},
		{"http localhost with flag", Provider{URL: "http://localhost:8080", AllowInsecureHTTPLoopback: true}, true},
		{"http ::1 with flag", Provider{URL: "http://[::1]:8080", AllowInsecureHTTPLoopback: true}, true},
		{"http loopback without flag", Provider{URL: "http://127.0.0.1:8080"}, false},
		{"query", Provider{URL: "https://example.com/?a=b"}, false},
		{"fragment", Provider{URL: "https://example.com/#x"}, false},
		{"userinfo", Provider{URL: "https://user@example.com"}, false},
		{"ftp", Provider{URL: "ftp://example.com"}, false},
		{"no host", Provider{URL: "https:///path"}, false},
		{"bad thumbprint", Provider{URL: "https://example.com", Thumbprints: []string{"abc"}}, false},
		{"bad CA bundle", Provider{URL: "https://example.com", CABundlePEM: []byte("not pem")}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := New(Options{Providers: []Provider{c.p}})
			if (err == nil) != c.ok {
				t.Fatalf("err = %v, want ok=%v", err, c.ok)
			}
		})
	}
	if _, err := New(Options{Providers: []Provider{{URL: "https://a.example"}, {URL: "https://a.example"}}}); err == nil {
		t.Fatal("duplicate provider accepted")
	}
}

func TestSetProvidersKeepsCache(t *testing.T) {
	key := newRSATestKey(t, "k", 0)
	a, b := newTestIdP(t, key), newTestIdP(t, key)
	clock := newTestClock(epoch)
	v := newTestVerifier(t, clock, a.provider())
	tokA, tokB := mint(t, key, gitlabClaims(a.url)), mint(t, key, gitlabClaims(b.url))
	if _, err := v.Verify(bg, tokA); err != nil {
		t.Fatal(err)
	}
	_, err := v.Verify(bg, tokB)
	wantCode(t, err, InvalidIdentityToken, msgNoProvider+b.url)
	if err := v.SetProviders([]Provider{a.provider(), b.provider()}); err != nil {
		t.Fatal(err)
	}
	for _, tok := range []string{tokA, tokB} {
		if _, err := v.Verify(bg, tok); err != nil {
			t.Fatal(err)
		}
	}
	if n := a.jwksFetches.Load(); n != 1 {
		t.Fatalf("unchanged provider refetched: %d", n)
	}
}

func TestDecodeBoundedAllocs(t *testing.T) {
	dots := strings.Repeat(".", 100000)
	near := strings.Repeat(".", MaxTokenLength)
	for name, tok := range map[string]string{"100000 dots": dots, "20000 dots": near} {
		allocs := testing.AllocsPerRun(20, func() { _, _ = decodeJWS(tok) })
		// A constant few (the error value), never proportional to the input.
		if allocs > 8 {
			t.Errorf("%s: %v allocations", name, allocs)
		}
	}
}

// TestDialContextAndOtherHostJWKS routes a real host name to the test server through the
// injected dialer, and checks that a jwks_uri on another host needs AllowJWKSOnOtherHost.
func TestDialContextAndOtherHostJWKS(t *testing.T) {
	key := newRSATestKey(t, "k", 0)
	idp := newTestIdP(t, key)
	addr := idp.srv.Listener.Addr().String()
	var dials atomic.Int64
	dial := func(ctx context.Context, network, _ string) (net.Conn, error) {
		dials.Add(1)
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}
	const iss = "https://example.com" // the httptest certificate's name
	for _, c := range []struct {
		name      string
		jwksURI   string
		otherHost bool
		ok        bool
	}{
		{"same host", iss + "/oauth/discovery/keys", false, true},
		{"other host refused", idp.url + "/oauth/discovery/keys", false, false},
		{"other host allowed", idp.url + "/oauth/discovery/keys", true, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			idp.mu.Lock()
			idp.discovery = func(string) string { return fmt.Sprintf(`{"issuer":%q,"jwks_uri":%q}`, iss, c.jwksURI) }
			idp.mu.Unlock()
			p := Provider{URL: iss, ClientIDs: []string{testAudience}, CABundlePEM: idp.caPEM(), AllowJWKSOnOtherHost: c.otherHost}
			v, err := New(Options{Providers: []Provider{p}, Now: newTestClock(epoch).Now, DialContext: dial})
			if err != nil {
				t.Fatal(err)
			}
			defer v.Close()
			_, err = v.Verify(bg, mint(t, key, gitlabClaims(iss)))
			if c.ok {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			wantCode(t, err, InvalidIdentityToken, msgNoKey)
		})
	}
	if dials.Load() == 0 {
		t.Fatal("the injected dialer was not used")
	}
}
