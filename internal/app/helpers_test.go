package app_test

// Helpers shared by the acceptance tests in e2e_test.go and process_test.go.
// The tests are in package app_test on purpose: they drive oidcfed only
// through what a user or an operator has (app.Start, the CLI, HTTP), never
// through unexported state.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/oidcfed/oidcfed/internal/app"
	"github.com/oidcfed/oidcfed/internal/cli"
	"github.com/oidcfed/oidcfed/internal/store"
)

// gitlabAud is the audience the README's quick start uses.
const gitlabAud = "https://gitlab.example.com"

// jwtRE is one compact JWS: three base64url parts, no padding.
var jwtRE = regexp.MustCompile(`^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$`)

// testServer is a running in-process server plus what dev mode wrote.
type testServer struct {
	*app.Server
	Dir    string // data directory
	Issuer string // the issuer URL (iss)
	Token  string // the dev runner's token, from dev.env

	stopOnce sync.Once
}

// hermeticEnv clears the environment variables the CLI falls back to, so a
// developer's own OIDCFED_* settings cannot change what a test exercises.
// (t.Setenv also keeps such tests from running in parallel, which they must
// not: they share the process environment.)
func hermeticEnv(t *testing.T) {
	t.Helper()
	for _, k := range []string{"OIDCFED_MASTER_KEY_FILE", "OIDCFED_ISSUER", "OIDCFED_ENDPOINT", "OIDCFED_RUNNER_TOKEN", "OIDCFED_STORE"} {
		t.Setenv(k, "")
	}
}

// freeAddr returns a loopback host:port that was free a moment ago. Tests
// that need the port before the server starts (a restart that must keep the
// dev issuer URL, an issuer URL with a path prefix) use it; the small race
// with other processes is acceptable on a test machine.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("find a free port: %v", err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

// startDev starts a dev-mode server on listen ("127.0.0.1:0" for any port)
// with its state in dir. mutate may adjust the options first. The server is
// shut down when the test ends, or earlier with stop.
func startDev(t *testing.T, dir, listen string, mutate func(*app.Options)) *testServer {
	t.Helper()
	o := app.Options{Listen: listen, DataDir: dir, Dev: true, Version: "test"}
	if mutate != nil {
		mutate(&o)
	}
	s, err := app.Start(t.Context(), o)
	if err != nil {
		t.Fatalf("app.Start: %v", err)
	}
	env := app.ReadEnvFile(filepath.Join(dir, app.DevEnvFileName))
	ts := &testServer{Server: s, Dir: dir, Issuer: s.Issuer.Config().URL, Token: env["OIDCFED_RUNNER_TOKEN"]}
	if ts.Token == "" {
		t.Fatalf("dev.env in %s has no OIDCFED_RUNNER_TOKEN: %v", dir, env)
	}
	t.Cleanup(func() { ts.stop(t) })
	return ts
}

// stop shuts the server down (once) and reports a failed shutdown.
func (s *testServer) stop(t *testing.T) {
	t.Helper()
	s.stopOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
}

// state is what a mint request must never change: the runners and the
// signing keys in the store.
func (s *testServer) state(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	err := s.Store.View(t.Context(), func(tx store.Tx) error {
		rs, err := tx.ListRunners(t.Context())
		if err != nil {
			return err
		}
		for _, r := range rs {
			b.WriteString(r.Name)
			if r.RevokedAt != nil {
				b.WriteString("(revoked)")
			}
			b.WriteByte(' ')
		}
		ks, err := tx.ListSigningKeys(t.Context(), s.Issuer)
		for _, k := range ks {
			b.WriteString(k.KID + " ")
		}
		return err
	})
	if err != nil {
		t.Fatalf("read store: %v", err)
	}
	return b.String()
}

// httpResult is a response with its body read.
type httpResult struct {
	Status int
	Header http.Header
	Body   []byte
}

// do sends one request with a client that never follows redirects or
// retries, so what the test sees is what the server said.
func do(t *testing.T, method, url string, header http.Header, body []byte) httpResult {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	client := &http.Client{
		Timeout:       15 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, url, err)
	}
	return httpResult{Status: resp.StatusCode, Header: resp.Header, Body: data}
}

func get(t *testing.T, url string) httpResult {
	t.Helper()
	return do(t, http.MethodGet, url, nil, nil)
}

// mintRaw posts body as is to the mint API with the given runner token
// ("" sends no Authorization header).
func mintRaw(t *testing.T, endpoint, token string, body []byte) httpResult {
	t.Helper()
	h := http.Header{"Content-Type": {"application/json"}}
	if token != "" {
		h.Set("Authorization", "Bearer "+token)
	}
	return do(t, http.MethodPost, endpoint+"/api/v1/tokens", h, body)
}

// mintJSON mints with req marshalled as JSON and returns the JWT; any
// status but 200 fails the test.
func mintJSON(t *testing.T, endpoint, token string, req any) (string, map[string]any) {
	t.Helper()
	body, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	res := mintRaw(t, endpoint, token, body)
	if res.Status != http.StatusOK {
		t.Fatalf("mint: HTTP %d: %s", res.Status, res.Body)
	}
	var out struct {
		Token     string         `json:"token"`
		ExpiresAt int64          `json:"expires_at"`
		Claims    map[string]any `json:"claims"`
	}
	if err := json.Unmarshal(res.Body, &out); err != nil {
		t.Fatalf("mint response %s: %v", res.Body, err)
	}
	if !jwtRE.MatchString(out.Token) {
		t.Fatalf("mint response token %q is not a compact JWS", out.Token)
	}
	return out.Token, out.Claims
}

// basicRequest is the quick start's job context.
func basicRequest(aud any) map[string]any {
	return map[string]any{"aud": aud, "project_path": "mygroup/myproject", "ref": "main"}
}

// runCLI runs the oidcfed CLI in-process.
func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = cli.Execute(t.Context(), args, &out, &errb)
	return code, out.String(), errb.String()
}

// cliMint mints with `oidcfed token` as the quick start shows and returns
// the JWT it printed.
func cliMint(t *testing.T, endpoint, runnerToken string) string {
	t.Helper()
	code, out, errOut := runCLI(t, "token", "--aud", gitlabAud, "--project-path", "mygroup/myproject",
		"--ref", "main", "--endpoint", endpoint, "--runner-token", runnerToken)
	if code != 0 {
		t.Fatalf("oidcfed token: exit %d, stderr %q", code, errOut)
	}
	// stdout is exactly one JWT and a newline, so `$(oidcfed token ...)`
	// captures a usable token.
	if !strings.HasSuffix(out, "\n") || strings.Count(out, "\n") != 1 || !jwtRE.MatchString(strings.TrimSuffix(out, "\n")) {
		t.Fatalf("oidcfed token stdout is not one JWT line: %q", out)
	}
	if errOut != "" {
		t.Errorf("oidcfed token wrote to stderr: %q", errOut)
	}
	return strings.TrimSuffix(out, "\n")
}

// b64 decodes unpadded base64url strictly.
func b64(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil {
		t.Fatalf("base64url %q: %v", s, err)
	}
	return b
}

// jwtParts returns a JWT's decoded header and payload JSON.
func jwtParts(t *testing.T, token string) (header, payload []byte) {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d parts", len(parts))
	}
	return b64(t, parts[0]), b64(t, parts[1])
}

// jwtHeader decodes a JWT's header.
func jwtHeader(t *testing.T, token string) map[string]any {
	t.Helper()
	h, _ := jwtParts(t, token)
	var m map[string]any
	if err := json.Unmarshal(h, &m); err != nil {
		t.Fatalf("JWS header %s: %v", h, err)
	}
	return m
}

// fetchJWKS gets the JWKS the issuer publishes.
func fetchJWKS(t *testing.T, issuer string) (jose.JSONWebKeySet, []byte) {
	t.Helper()
	res := get(t, issuer+"/oauth/discovery/keys")
	if res.Status != http.StatusOK {
		t.Fatalf("JWKS: HTTP %d: %s", res.Status, res.Body)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(res.Body, &set); err != nil {
		t.Fatalf("JWKS %s: %v", res.Body, err)
	}
	return set, res.Body
}

func kids(set jose.JSONWebKeySet) []string {
	var out []string
	for _, k := range set.Keys {
		out = append(out, k.KeyID)
	}
	slices.Sort(out)
	return out
}

// verifyWithJWKS checks token's signature against set with go-jose and
// returns the payload.
func verifyWithJWKS(t *testing.T, token string, set jose.JSONWebKeySet) []byte {
	t.Helper()
	jws, err := jose.ParseSignedCompact(token, []jose.SignatureAlgorithm{jose.RS256, jose.ES256})
	if err != nil {
		t.Fatalf("parse JWS: %v", err)
	}
	kid := jws.Signatures[0].Header.KeyID
	keys := set.Key(kid)
	if len(keys) != 1 {
		t.Fatalf("JWKS has %d keys with kid %q (kids %v)", len(keys), kid, kids(set))
	}
	payload, err := jws.Verify(keys[0])
	if err != nil {
		t.Fatalf("verify with JWKS key %s: %v", kid, err)
	}
	return payload
}

// thumbprint is the RFC 7638 SHA-256 thumbprint of a published JWK,
// computed from its JSON members here rather than by the library the
// server uses.
func thumbprint(t *testing.T, jwk map[string]any) string {
	t.Helper()
	var canon string
	switch jwk["kty"] {
	case "RSA":
		canon = `{"e":"` + jwk["e"].(string) + `","kty":"RSA","n":"` + jwk["n"].(string) + `"}`
	case "EC":
		canon = `{"crv":"` + jwk["crv"].(string) + `","kty":"EC","x":"` + jwk["x"].(string) + `","y":"` + jwk["y"].(string) + `"}`
	default:
		t.Fatalf("unexpected kty in %v", jwk)
	}
	sum := sha256.Sum256([]byte(canon))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// writeFile writes data with mode, failing the test on error.
func writeFile(t *testing.T, path string, data []byte, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, data, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil { // WriteFile keeps an existing file's mode
		t.Fatal(err)
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
