package federation

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Test keys are generated once per test binary: RSA generation is slow.
var (
	rsaKeyOnce sync.Once
	rsaKeys    [3]*rsa.PrivateKey
	rsa1024    *rsa.PrivateKey
)

func testRSAKey(t testing.TB, i int) *rsa.PrivateKey {
	t.Helper()
	rsaKeyOnce.Do(func() {
		for j := range rsaKeys {
			k, err := rsa.GenerateKey(rand.Reader, 2048)
			if err != nil {
				panic(err)
			}
			rsaKeys[j] = k
		}
		// GenerateKey refuses < 1024 bits; 1024 is what the skip test needs.
		k, err := rsa.GenerateKey(rand.Reader, 1024)
		if err != nil {
			panic(err)
		}
		rsa1024 = k
	})
	return rsaKeys[i]
}

// testKey is a signing key plus how it appears in a JWKS.
type testKey struct {
	kid  string
	alg  string
	priv crypto.Signer
}

func newRSATestKey(t testing.TB, kid string, i int) *testKey {
	return &testKey{kid: kid, alg: "RS256", priv: testRSAKey(t, i)}
}

func newECTestKey(t testing.TB, kid, alg string) *testKey {
	t.Helper()
	curve := map[string]elliptic.Curve{"ES256": elliptic.P256(), "ES384": elliptic.P384(), "ES512": elliptic.P521()}[alg]
	k, err := ecdsa.GenerateKey(curve, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &testKey{kid: kid, alg: alg, priv: k}
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// jwkJSON renders the public half as a JWKS member.
func (k *testKey) jwkJSON() string {
	switch pub := k.priv.Public().(type) {
	case *rsa.PublicKey:
		return fmt.Sprintf(`{"kty":"RSA","kid":%q,"use":"sig","alg":%q,"n":%q,"e":%q}`,
			k.kid, k.alg, b64(pub.N.Bytes()), b64(big.NewInt(int64(pub.E)).Bytes()))
	case *ecdsa.PublicKey:
		size := (pub.Curve.Params().BitSize + 7) / 8
		raw, _ := pub.Bytes()
		crv := pub.Curve.Params().Name
		return fmt.Sprintf(`{"kty":"EC","kid":%q,"crv":%q,"x":%q,"y":%q}`,
			k.kid, crv, b64(raw[1:1+size]), b64(raw[1+size:]))
	}
	panic("unknown key")
}

func jwksJSON(keys ...*testKey) string {
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k.jwkJSON()
	}
	return `{"keys":[` + strings.Join(parts, ",") + `]}`
}

var hashes = map[string]crypto.Hash{
	"RS256": crypto.SHA256, "RS384": crypto.SHA384, "RS512": crypto.SHA512,
	"ES256": crypto.SHA256, "ES384": crypto.SHA384, "ES512": crypto.SHA512,
}

// signRaw signs header.payload (both already JSON text) with k under alg, as a
// conforming signer would; tests then mangle the result.
func signRaw(t testing.TB, k *testKey, alg, header, payload string) string {
	t.Helper()
	input := b64([]byte(header)) + "." + b64([]byte(payload))
	return input + "." + b64(signInput(t, k, alg, input))
}

func signInput(t testing.TB, k *testKey, alg, input string) []byte {
	t.Helper()
	h := hashes[alg]
	if h == 0 {
		t.Fatalf("signInput: no hash for %q", alg)
	}
	hh := h.New()
	hh.Write([]byte(input))
	digest := hh.Sum(nil)
	switch priv := k.priv.(type) {
	case *rsa.PrivateKey:
		sig, err := rsa.SignPKCS1v15(rand.Reader, priv, h, digest)
		if err != nil {
			t.Fatal(err)
		}
		return sig
	case *ecdsa.PrivateKey:
		r, s, err := ecdsa.Sign(rand.Reader, priv, digest)
		if err != nil {
			t.Fatal(err)
		}
		size := (priv.Curve.Params().BitSize + 7) / 8
		out := make([]byte, 2*size)
		r.FillBytes(out[:size])
		s.FillBytes(out[size:])
		return out
	}
	t.Fatal("unknown key type")
	return nil
}

func hs256(key []byte, input string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(input))
	return input + "." + b64(m.Sum(nil))
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// testClock is the injected clock.
type testClock struct{ ns atomic.Int64 }

func newTestClock(t time.Time) *testClock {
	c := &testClock{}
	c.ns.Store(t.UnixNano())
	return c
}
func (c *testClock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *testClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

var epoch = time.Unix(1_800_000_000, 0)

// testIdP is an OIDC provider on an httptest TLS server: discovery plus a JWKS whose
// body and behaviour tests can change, counting fetches.
type testIdP struct {
	srv *httptest.Server
	url string

	mu           sync.Mutex
	jwks         string
	cacheControl string
	discovery    func(issuer string) string // nil: the standard document
	jwksHandler  http.HandlerFunc           // nil: serve jwks

	discoveryFetches atomic.Int64
	jwksFetches      atomic.Int64
}

func newTestIdP(t testing.TB, keys ...*testKey) *testIdP {
	t.Helper()
	idp := &testIdP{jwks: jwksJSON(keys...)}
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		idp.discoveryFetches.Add(1)
		idp.mu.Lock()
		f := idp.discovery
		idp.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if f != nil {
			fmt.Fprint(w, f(idp.url))
			return
		}
		fmt.Fprintf(w, `{"issuer":%q,"jwks_uri":%q,"response_types_supported":["id_token"],"subject_types_supported":["public"],"id_token_signing_alg_values_supported":["RS256","ES256"]}`,
			idp.url, idp.url+"/oauth/discovery/keys")
	})
	mux.HandleFunc("/oauth/discovery/keys", func(w http.ResponseWriter, r *http.Request) {
		idp.jwksFetches.Add(1)
		idp.mu.Lock()
		h, body, cc := idp.jwksHandler, idp.jwks, idp.cacheControl
		idp.mu.Unlock()
		if h != nil {
			h(w, r)
			return
		}
		if cc != "" {
			w.Header().Set("Cache-Control", cc)
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, body)
	})
	idp.srv = httptest.NewUnstartedServer(mux)
	// Handshake failures are what the thumbprint tests provoke; keep them out of the log.
	idp.srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	idp.srv.StartTLS()
	idp.url = idp.srv.URL
	t.Cleanup(idp.srv.Close)
	return idp
}

func (i *testIdP) setJWKS(body string) {
	i.mu.Lock()
	i.jwks = body
	i.mu.Unlock()
}

func (i *testIdP) setJWKSHandler(h http.HandlerFunc) {
	i.mu.Lock()
	i.jwksHandler = h
	i.mu.Unlock()
}

func (i *testIdP) caPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: i.srv.Certificate().Raw})
}

const testAudience = "sts.amazonaws.com"

func (i *testIdP) provider() Provider {
	return Provider{URL: i.url, ClientIDs: []string{testAudience, "https://gitlab.example.com"}, CABundlePEM: i.caPEM()}
}

// gitlabClaims is a GitLab-shaped claim set for iss, valid at epoch.
func gitlabClaims(iss string) map[string]any {
	return map[string]any{
		"namespace_id":          "72",
		"namespace_path":        "mygroup",
		"project_id":            "20",
		"project_path":          "mygroup/myproject",
		"user_id":               "1",
		"user_login":            "alice",
		"user_email":            "alice@example.com",
		"user_access_level":     "owner",
		"pipeline_id":           "574",
		"pipeline_source":       "push",
		"job_id":                "302",
		"ref":                   "main",
		"ref_type":              "branch",
		"ref_path":              "refs/heads/main",
		"ref_protected":         "true",
		"runner_id":             1,
		"runner_environment":    "self-hosted",
		"sha":                   "714a629c0b401fdce83e847fc9589983fc6f46bc",
		"project_visibility":    "private",
		"ci_config_ref_uri":     "gitlab.example.com/mygroup/myproject//.gitlab-ci.yml@refs/heads/main",
		"ci_config_sha":         "714a629c0b401fdce83e847fc9589983fc6f46bc",
		"jti":                   "235b3a54-b797-45c7-ae9a-f72d7bc6ef5b",
		"iss":                   iss,
		"iat":                   epoch.Unix(),
		"nbf":                   epoch.Unix() - 5,
		"exp":                   epoch.Unix() + 300,
		"sub":                   "project_path:mygroup/myproject:ref_type:branch:ref:main",
		"aud":                   testAudience,
		"user_identities":       []any{},
		"deployment_tier":       "production",
		"environment":           "production",
		"environment_protected": "true",
	}
}

// mint signs claims with k as a normal RS/ES token with k's kid.
func mint(t testing.TB, k *testKey, claims map[string]any) string {
	t.Helper()
	return signRaw(t, k, k.alg, fmt.Sprintf(`{"alg":%q,"kid":%q,"typ":"JWT"}`, k.alg, k.kid), mustJSON(claims))
}

// newTestVerifier builds a verifier on the test clock with the default fetch bounds.
func newTestVerifier(t testing.TB, clock *testClock, providers ...Provider) *Verifier {
	t.Helper()
	v, err := New(Options{Providers: providers, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// wantCode asserts err is a *TokenError with code and, if msg is not empty, message.
func wantCode(t testing.TB, err error, code Code, msg string) *TokenError {
	t.Helper()
	var te *TokenError
	if !errors.As(err, &te) {
		t.Fatalf("error %v (%T) is not a *TokenError", err, err)
	}
	if te.Code != code {
		t.Fatalf("code %s, want %s (%v)", te.Code, code, te)
	}
	if msg != "" && te.Message != msg {
		t.Fatalf("message %q, want %q (cause %v)", te.Message, msg, te.Cause)
	}
	return te
}

var bg = context.Background()
