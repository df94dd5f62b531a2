package app_test

// Acceptance tests: oidcfed driven end to end, in-process, the way users and
// relying parties meet it — the dev quick start, the CLI, the mint API over
// HTTP, and tokens checked by verifiers that share no code with the issuer
// (a Python script using only `cryptography`, and coreos/go-oidc).

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/oidcfed/oidcfed/internal/app"
	"github.com/oidcfed/oidcfed/internal/store"
)

// update rewrites testdata/gitlab_id_token.golden.json from a fresh mint:
// go test ./internal/app -run Golden -update
var update = flag.Bool("update", false, "rewrite golden files in testdata")

// TestDevServerRestartKeepsKeysAndRunners walks the quick start: start a dev
// server, mint with `oidcfed token` using the runner token from dev.env,
// then restart on the same data directory. A restart must keep the runner
// (the same token works), the signing key (same kid, old tokens still
// verify) and must not create a second dev runner.
func TestDevServerRestartKeepsKeysAndRunners(t *testing.T) {
	hermeticEnv(t)
	dir := t.TempDir()
	// The dev issuer URL is the listen address, so a restart that is to
	// keep the issuer (and its keys) must get the same port.
	listen := freeAddr(t)

	s1 := startDev(t, dir, listen, nil)
	envPath := filepath.Join(dir, app.DevEnvFileName)
	env := app.ReadEnvFile(envPath)
	if got, want := env["OIDCFED_ENDPOINT"], "http://"+listen; got != want {
		t.Errorf("dev.env OIDCFED_ENDPOINT = %q, want %q", got, want)
	}
	if got, want := env["OIDCFED_ISSUER"], "http://"+listen; got != want {
		t.Errorf("dev.env OIDCFED_ISSUER = %q, want %q", got, want)
	}
	token := env["OIDCFED_RUNNER_TOKEN"]
	if !strings.HasPrefix(token, "ofrt_") {
		t.Errorf("runner token %q lacks the ofrt_ prefix secret scanners look for", token)
	}
	// dev.env holds the only clear copy of a runner token.
	if fi, err := os.Stat(envPath); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("dev.env: mode %v, err %v; want 0600", fi.Mode().Perm(), err)
	}

	jwt1 := cliMint(t, env["OIDCFED_ENDPOINT"], token)
	kid1, _ := jwtHeader(t, jwt1)["kid"].(string)
	set1, _ := fetchJWKS(t, s1.Issuer)
	if !slices.Equal(kids(set1), []string{kid1}) {
		t.Fatalf("first start: JWKS kids %v, token kid %q", kids(set1), kid1)
	}
	s1.stop(t)

	s2 := startDev(t, dir, listen, nil)
	if got := app.ReadEnvFile(envPath)["OIDCFED_RUNNER_TOKEN"]; got != token {
		t.Errorf("restart replaced the runner token in dev.env")
	}
	jwt2 := cliMint(t, s2.URL, token)
	if kid2 := jwtHeader(t, jwt2)["kid"]; kid2 != kid1 {
		t.Errorf("after restart the token kid is %v, want the first start's %q", kid2, kid1)
	}
	set2, _ := fetchJWKS(t, s2.Issuer)
	if !slices.Equal(kids(set2), kids(set1)) {
		t.Errorf("after restart JWKS kids %v, want %v", kids(set2), kids(set1))
	}
	// A token minted before the restart still verifies against the JWKS
	// served after it.
	verifyWithJWKS(t, jwt1, set2)
	verifyWithJWKS(t, jwt2, set2)

	code, out, errOut := runCLI(t, "runner", "list", "--data", dir)
	if code != 0 {
		t.Fatalf("runner list: exit %d: %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 {
		t.Fatalf("runner list: want a header and one runner, got:\n%s", out)
	}
	if f := strings.Fields(lines[1]); len(f) < 3 || f[1] != app.DevRunnerName || f[2] != "active" {
		t.Errorf("runner list: want the dev runner active, got %q", lines[1])
	}
}

// requirePython returns python3's path. The machine and CI have python3 and
// the cryptography package; their absence is a broken environment, so it
// fails rather than skips (a skipped independent check is no check).
func requirePython(t *testing.T) string {
	t.Helper()
	// scripts/test points OIDCFED_TEST_PYTHON at Debian's python3 when the
	// default one lacks cryptography (PyPI is out of reach; apt is not).
	name := "python3"
	if env := os.Getenv("OIDCFED_TEST_PYTHON"); env != "" {
		name = env
	}
	py, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("python3 is required for the independent JWT verification: %v", err)
	}
	if out, err := exec.CommandContext(t.Context(), py, "-c", "import cryptography").CombinedOutput(); err != nil {
		t.Fatalf("python3 cannot import cryptography (scripts/test installs Debian's python3-cryptography): %v\n%s", err, out)
	}
	return py
}

// TestPythonVerifiesMintedTokens has testdata/verify_jwt.py — stdlib plus
// `cryptography`, no JOSE library — verify tokens from an RS256 and an
// ES256 server: strict base64url, header alg/typ/kid, kid = RFC 7638
// thumbprint, signature from the JWKS's n/e or x/y, iss, aud and the
// GitLab time relations. The negative cases prove the script really checks.
func TestPythonVerifiesMintedTokens(t *testing.T) {
	py := requirePython(t)
	script, err := filepath.Abs(filepath.Join("testdata", "verify_jwt.py"))
	if err != nil {
		t.Fatal(err)
	}
	for _, alg := range []string{"RS256", "ES256"} {
		t.Run(alg, func(t *testing.T) {
			s := startDev(t, t.TempDir(), "127.0.0.1:0", func(o *app.Options) { o.Issuer.Algorithm = alg })
			jwt, _ := mintJSON(t, s.URL, s.Token, basicRequest(gitlabAud))
			_, jwks := fetchJWKS(t, s.Issuer)
			tmp := t.TempDir()
			jwksFile := filepath.Join(tmp, "jwks.json")
			writeFile(t, jwksFile, jwks, 0o600)

			parts := strings.Split(jwt, ".")
			_, payload := jwtParts(t, jwt)
			forged := strings.Replace(string(payload), "mygroup/myproject", "mygroup/otherproj", 1)
			otherAlg := map[string]string{"RS256": "ES256", "ES256": "RS256"}[alg]

			cases := []struct {
				name, token, aud, alg string
				wantErr               string // "" means it must verify
			}{
				{"valid token", jwt, gitlabAud, alg, ""},
				{"payload altered after signing", parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(forged)) + "." + parts[2], gitlabAud, alg, "signature does not verify"},
				{"signature of another token", parts[0] + "." + parts[1] + "." + otherSignature(t, s), gitlabAud, alg, "signature does not verify"},
				{"audience not ours", jwt, "https://vault.example.com", alg, "aud"},
				{"algorithm not the expected one", jwt, gitlabAud, otherAlg, "header alg"},
				{"padded base64url", parts[0] + "==." + parts[1] + "." + parts[2], gitlabAud, alg, "base64url"},
			}
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					tokenFile := filepath.Join(t.TempDir(), "token.jwt")
					writeFile(t, tokenFile, []byte(tc.token+"\n"), 0o600)
					cmd := exec.CommandContext(t.Context(), py, script, "--jwks", jwksFile, "--token", tokenFile,
						"--issuer", s.Issuer, "--aud", tc.aud, "--alg", tc.alg)
					var stdout, stderr bytes.Buffer
					cmd.Stdout, cmd.Stderr = &stdout, &stderr
					err := cmd.Run()
					if tc.wantErr != "" {
						var ee *exec.ExitError
						if !errors.As(err, &ee) {
							t.Fatalf("verify_jwt.py accepted a bad token (err %v); stdout %s", err, stdout.String())
						}
						if !strings.Contains(stderr.String(), tc.wantErr) {
							t.Errorf("verify_jwt.py stderr %q, want it to mention %q", stderr.String(), tc.wantErr)
						}
						return
					}
					if err != nil {
						t.Fatalf("verify_jwt.py: %v\nstderr: %s", err, stderr.String())
					}
					var claims map[string]any
					dec := json.NewDecoder(&stdout)
					dec.UseNumber()
					if err := dec.Decode(&claims); err != nil {
						t.Fatalf("verify_jwt.py printed %q: %v", stdout.String(), err)
					}
					want := map[string]any{
						"iss": s.Issuer, "aud": gitlabAud,
						"project_path": "mygroup/myproject", "namespace_path": "mygroup", "ref": "main",
						"ref_type": "branch", "ref_path": "refs/heads/main", "ref_protected": "false",
						"sub":       "project_path:mygroup/myproject:ref_type:branch:ref:main",
						"runner_id": json.Number("1"),
					}
					for k, v := range want {
						if claims[k] != v {
							t.Errorf("claim %s = %#v, want %#v", k, claims[k], v)
						}
					}
					iat, _ := claims["iat"].(json.Number).Int64()
					exp, _ := claims["exp"].(json.Number).Int64()
					if exp-iat != 300 {
						t.Errorf("exp - iat = %d, want the default 300", exp-iat)
					}
				})
			}
		})
	}
}

// otherSignature mints a second token and returns its signature: a genuine
// signature by the right key, over different content.
func otherSignature(t *testing.T, s *testServer) string {
	t.Helper()
	jwt, _ := mintJSON(t, s.URL, s.Token, basicRequest("https://other.example.com"))
	return jwt[strings.LastIndexByte(jwt, '.')+1:]
}

// TestGoOIDCVerifiesMintedTokens: coreos/go-oidc, the verifier most Go
// relying parties use, discovers the dev server and verifies its tokens,
// and refuses a token minted for someone else or signed with an algorithm
// it was not told to accept.
func TestGoOIDCVerifiesMintedTokens(t *testing.T) {
	for _, tc := range []struct {
		name string
		alg  string
		// verifierAlgs is Config.SupportedSigningAlgs (nil: what discovery
		// advertises).
		verifierAlgs []string
	}{
		{"RS256 with advertised algorithms", "RS256", nil},
		{"ES256 with explicit ES256", "ES256", []string{"ES256"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := startDev(t, t.TempDir(), "127.0.0.1:0", func(o *app.Options) { o.Issuer.Algorithm = tc.alg })
			provider, err := oidc.NewProvider(t.Context(), s.Issuer)
			if err != nil {
				t.Fatalf("oidc.NewProvider(%s): %v", s.Issuer, err)
			}
			verifier := provider.Verifier(&oidc.Config{ClientID: gitlabAud, SupportedSigningAlgs: tc.verifierAlgs})

			cases := []struct {
				name    string
				aud     any
				wantErr string
			}{
				{"our audience", gitlabAud, ""},
				{"several audiences including ours", []string{"https://vault.example.com", gitlabAud}, ""},
				{"another audience", "https://vault.example.com", "audience"},
			}
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					jwt, _ := mintJSON(t, s.URL, s.Token, basicRequest(c.aud))
					idt, err := verifier.Verify(t.Context(), jwt)
					if c.wantErr != "" {
						if err == nil || !strings.Contains(err.Error(), c.wantErr) {
							t.Fatalf("Verify: err %v, want one about %q", err, c.wantErr)
						}
						return
					}
					if err != nil {
						t.Fatalf("Verify: %v", err)
					}
					var claims struct {
						ProjectPath string `json:"project_path"`
						RunnerID    int64  `json:"runner_id"`
					}
					if err := idt.Claims(&claims); err != nil {
						t.Fatal(err)
					}
					if idt.Issuer != s.Issuer || idt.Subject != "project_path:mygroup/myproject:ref_type:branch:ref:main" ||
						claims.ProjectPath != "mygroup/myproject" || claims.RunnerID != 1 {
						t.Errorf("verified token: iss %q sub %q claims %+v", idt.Issuer, idt.Subject, claims)
					}
				})
			}

			t.Run("algorithm the verifier does not accept", func(t *testing.T) {
				other := map[string]string{"RS256": "ES256", "ES256": "RS256"}[tc.alg]
				v := provider.Verifier(&oidc.Config{ClientID: gitlabAud, SupportedSigningAlgs: []string{other}})
				jwt, _ := mintJSON(t, s.URL, s.Token, basicRequest(gitlabAud))
				if _, err := v.Verify(t.Context(), jwt); err == nil {
					t.Fatalf("a %s-only verifier accepted a %s token", other, tc.alg)
				}
			})
		})
	}
}

// goldenFile is GitLab's ID token shape (GitLab MR 116867's sample payload
// plus the claims GitLab added since) with oidcfed's volatile values
// replaced by placeholders.
var goldenFile = filepath.Join("testdata", "gitlab_id_token.golden.json")

// Placeholders for volatile values in the golden file.
const (
	phJTI        = "<uuid-v4>"
	phIssuer     = "<issuer>"
	phIssuerHost = "<issuer-host>"
	// Times keep their JSON type (number) and GitLab's relations:
	// nbf = iat - 5, exp = iat + 300 (the default TTL, a 5-minute job).
	phIAT = 1700000000
)

// gitlabMR116867Claims are the members of the sample payload in GitLab MR
// 116867, and newerGitLabClaims those GitLab added later that oidcfed also
// emits. The golden file must hold exactly these (a guard against an
// -update that quietly changes the shape).
var (
	gitlabMR116867Claims = []string{"namespace_id", "namespace_path", "project_id", "project_path", "user_id",
		"user_login", "user_email", "pipeline_id", "pipeline_source", "job_id", "ref", "ref_type", "ref_protected",
		"runner_id", "runner_environment", "sha", "jti", "iss", "iat", "nbf", "exp", "sub", "aud"}
	newerGitLabClaims = []string{"user_access_level", "ref_path", "environment", "environment_protected",
		"deployment_tier", "environment_action", "project_visibility", "ci_config_ref_uri", "ci_config_sha"}
	uuidV4RE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
)

// goldenRequest sets every request field, with the values of GitLab's
// sample payload.
var goldenRequest = map[string]any{
	"aud":                   gitlabAud,
	"namespace_id":          "1",
	"namespace_path":        "root",
	"project_id":            "28",
	"project_path":          "root/scan-execution-policies",
	"user_id":               "1",
	"user_login":            "root",
	"user_email":            "admin@example.com",
	"user_access_level":     "owner",
	"pipeline_id":           "455",
	"pipeline_source":       "security_orchestration_policy",
	"job_id":                "1123",
	"ref":                   "main",
	"ref_type":              "branch",
	"ref_protected":         "true",
	"runner_environment":    "self-hosted",
	"sha":                   "714a629c0b401fdce83e847fc9589983fc6f46bc",
	"environment":           "production",
	"environment_protected": "true",
	"deployment_tier":       "production",
	"environment_action":    "start",
	"project_visibility":    "private",
}

// member is one name/value pair of a JSON object, in document order.
type member struct {
	Name  string
	Value json.RawMessage
}

// decodeObject decodes a flat JSON object keeping member order and
// refusing duplicates (encoding/json would keep the last silently).
func decodeObject(t *testing.T, data []byte) []member {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(data))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("not a JSON object: %s", data)
	}
	var out []member
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		name := tok.(string)
		if seen[name] {
			t.Fatalf("duplicate member %q in %s", name, data)
		}
		seen[name] = true
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			t.Fatal(err)
		}
		out = append(out, member{name, v})
	}
	if _, err := dec.Token(); err != nil {
		t.Fatal(err)
	}
	return out
}

func jsonKind(v json.RawMessage) string {
	switch v[0] {
	case '"':
		return "string"
	case '{':
		return "object"
	case '[':
		return "array"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	default:
		return "number"
	}
}

func asString(t *testing.T, v json.RawMessage) string {
	t.Helper()
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		t.Fatalf("%s: %v", v, err)
	}
	return s
}

func asInt(t *testing.T, v json.RawMessage) int64 {
	t.Helper()
	n, err := strconv.ParseInt(string(v), 10, 64)
	if err != nil {
		t.Fatalf("%s is not an integer: %v", v, err)
	}
	return n
}

// normalise replaces the volatile values of a real payload with the
// golden file's placeholders.
func normalise(t *testing.T, ms []member, issuer string) []member {
	t.Helper()
	host := issuer[strings.Index(issuer, "://")+3:]
	iat := int64(0)
	for _, m := range ms {
		if m.Name == "iat" {
			iat = asInt(t, m.Value)
		}
	}
	out := make([]member, len(ms))
	for i, m := range ms {
		switch m.Name {
		case "jti":
			m.Value = jsonString(phJTI)
		case "iss":
			m.Value = jsonString(phIssuer)
		case "ci_config_ref_uri":
			m.Value = jsonString(strings.Replace(asString(t, m.Value), host, phIssuerHost, 1))
		case "iat", "nbf", "exp":
			m.Value = json.RawMessage(strconv.FormatInt(asInt(t, m.Value)-iat+phIAT, 10))
		}
		out[i] = m
	}
	return out
}

// jsonString encodes s without HTML escaping, so placeholders read as
// "<issuer>" in the golden file rather than "\u003cissuer\u003e".
func jsonString(s string) json.RawMessage {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

func writeGolden(t *testing.T, ms []member) {
	t.Helper()
	var b bytes.Buffer
	b.WriteString("{\n")
	for i, m := range ms {
		fmt.Fprintf(&b, "  %s: %s", jsonString(m.Name), m.Value)
		if i < len(ms)-1 {
			b.WriteByte(',')
		}
		b.WriteByte('\n')
	}
	b.WriteString("}\n")
	writeFile(t, goldenFile, b.Bytes(), 0o644)
}

// TestGoldenIDTokenPayload compares a token minted from a fully specified
// request with GitLab's wire shape: the same member names, the same JSON
// types (ids and booleans as strings, runner_id and times as numbers) and
// the same values, volatile ones checked by rule. Relying parties written
// for GitLab parse these tokens, so the shape is the compatibility promise.
func TestGoldenIDTokenPayload(t *testing.T) {
	s := startDev(t, t.TempDir(), "127.0.0.1:0", nil)
	before := time.Now().Unix()
	jwt, respClaims := mintJSON(t, s.URL, s.Token, goldenRequest)
	after := time.Now().Unix()
	rawHeader, rawPayload := jwtParts(t, jwt)
	got := decodeObject(t, rawPayload)

	// The JWS header is exactly alg, kid (the key's RFC 7638 thumbprint)
	// and typ, as GitLab's: nothing a strict verifier could trip over.
	set, rawJWKS := fetchJWKS(t, s.Issuer)
	var published struct{ Keys []map[string]any }
	if err := json.Unmarshal(rawJWKS, &published); err != nil || len(published.Keys) != 1 {
		t.Fatalf("JWKS %s: %v", rawJWKS, err)
	}
	kid := thumbprint(t, published.Keys[0])
	var header map[string]any
	decodeObject(t, rawHeader) // refuses duplicate members
	if err := json.Unmarshal(rawHeader, &header); err != nil {
		t.Fatal(err)
	}
	if want := map[string]any{"alg": "RS256", "kid": kid, "typ": "JWT"}; !reflect.DeepEqual(header, want) {
		t.Errorf("JWS header %s, want exactly %v", rawHeader, want)
	}
	verifyWithJWKS(t, jwt, set)

	if *update {
		writeGolden(t, normalise(t, got, s.Issuer))
		t.Logf("wrote %s", goldenFile)
	}
	golden := decodeObject(t, readFile(t, goldenFile))

	// The golden file itself must be GitLab's shape.
	var goldenNames []string
	for _, m := range golden {
		goldenNames = append(goldenNames, m.Name)
	}
	wantNames := slices.Concat(gitlabMR116867Claims, newerGitLabClaims)
	slices.Sort(wantNames)
	slices.Sort(goldenNames)
	if !slices.Equal(goldenNames, wantNames) {
		t.Fatalf("golden file members %v, want GitLab's %v", goldenNames, wantNames)
	}

	gotByName := map[string]json.RawMessage{}
	for _, m := range got {
		gotByName[m.Name] = m.Value
	}
	goldenByName := map[string]json.RawMessage{}
	for _, m := range golden {
		goldenByName[m.Name] = m.Value
		if _, ok := gotByName[m.Name]; !ok {
			t.Errorf("token lacks %s (golden %s)", m.Name, m.Value)
		}
	}
	for _, m := range got {
		if _, ok := goldenByName[m.Name]; !ok {
			t.Errorf("token has %s = %s, which GitLab's payload does not", m.Name, m.Value)
		}
	}

	iat := asInt(t, gotByName["iat"])
	for _, m := range golden {
		name, want := m.Name, m.Value
		have, ok := gotByName[name]
		if !ok {
			continue
		}
		if jsonKind(have) != jsonKind(want) {
			t.Errorf("%s: JSON type %s (%s), want %s (%s)", name, jsonKind(have), have, jsonKind(want), want)
			continue
		}
		switch name {
		case "jti":
			if asString(t, want) != phJTI || !uuidV4RE.MatchString(asString(t, have)) {
				t.Errorf("jti %s is not a random (v4) UUID", have)
			}
		case "iss":
			if asString(t, want) != phIssuer || asString(t, have) != s.Issuer {
				t.Errorf("iss %s, want the issuer %q", have, s.Issuer)
			}
		case "ci_config_ref_uri":
			host := s.Issuer[strings.Index(s.Issuer, "://")+3:]
			if w := strings.Replace(asString(t, want), phIssuerHost, host, 1); asString(t, have) != w {
				t.Errorf("ci_config_ref_uri %s, want %q (issuer host, project, config file at the ref)", have, w)
			}
		case "iat":
			if iat < before || iat > after {
				t.Errorf("iat %d is not the minting time (between %d and %d)", iat, before, after)
			}
		case "nbf", "exp":
			// Same offset from iat as in the golden file.
			if gotOff, wantOff := asInt(t, have)-iat, asInt(t, want)-phIAT; gotOff != wantOff {
				t.Errorf("%s = iat%+d, want iat%+d", name, gotOff, wantOff)
			}
		default:
			if !bytes.Equal(have, want) {
				t.Errorf("%s = %s, want %s", name, have, want)
			}
		}
	}
	// Relations GitLab fixes, independently of the golden file.
	if nbf := asInt(t, gotByName["nbf"]); nbf != iat-5 {
		t.Errorf("nbf %d, want iat-5 = %d (GitLab's NOT_BEFORE_TIME)", nbf, iat-5)
	}
	if exp := asInt(t, gotByName["exp"]); exp != iat+300 {
		t.Errorf("exp %d, want iat+300 = %d", exp, iat+300)
	}
	if rid := gotByName["runner_id"]; string(rid) != "1" {
		t.Errorf("runner_id %s, want the number 1", rid)
	}

	// The mint response's claims are the token's payload.
	var payload map[string]any
	if err := json.Unmarshal(rawPayload, &payload); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(respClaims, payload) {
		t.Errorf("response claims differ from the token payload:\n%v\n%v", respClaims, payload)
	}
}

// TestDiscoveryDocument checks what a relying party fetches before anything
// else, for an issuer at the root and one under a path prefix (GitLab on a
// relative URL root): every required member, jwks_uri under the issuer,
// the JWKS cacheable and public-only, and go-oidc able to discover it.
func TestDiscoveryDocument(t *testing.T) {
	for _, tc := range []struct {
		name   string
		prefix string
	}{
		{"issuer at the root", ""},
		{"issuer under a path prefix", "/gitlab"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The issuer URL must name the port before the server starts.
			listen := freeAddr(t)
			issuerURL := "http://" + listen + tc.prefix
			s := startDev(t, t.TempDir(), listen, func(o *app.Options) { o.Issuer.URL = issuerURL })

			res := get(t, issuerURL+"/.well-known/openid-configuration")
			if res.Status != http.StatusOK {
				t.Fatalf("discovery: HTTP %d: %s", res.Status, res.Body)
			}
			if ct := res.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("discovery Content-Type %q", ct)
			}
			var doc map[string]any
			if err := json.Unmarshal(res.Body, &doc); err != nil {
				t.Fatalf("discovery %s: %v", res.Body, err)
			}
			if doc["issuer"] != issuerURL {
				t.Errorf("issuer %v, want %q", doc["issuer"], issuerURL)
			}
			jwksURI := issuerURL + "/oauth/discovery/keys"
			if doc["jwks_uri"] != jwksURI {
				t.Errorf("jwks_uri %v, want %q", doc["jwks_uri"], jwksURI)
			}
			for member, mustHave := range map[string]string{
				"response_types_supported":              "id_token",
				"subject_types_supported":               "public",
				"id_token_signing_alg_values_supported": "RS256",
				"claims_supported":                      "project_path",
			} {
				list, _ := doc[member].([]any)
				if !slices.Contains(list, any(mustHave)) {
					t.Errorf("%s = %v, want a list with %q", member, doc[member], mustHave)
				}
			}
			claims, _ := doc["claims_supported"].([]any)
			for _, c := range slices.Concat(gitlabMR116867Claims, newerGitLabClaims) {
				if !slices.Contains(claims, any(c)) {
					t.Errorf("claims_supported lacks %s", c)
				}
			}

			// Fetch the JWKS where discovery says it is.
			res = get(t, jwksURI)
			if res.Status != http.StatusOK {
				t.Fatalf("JWKS: HTTP %d: %s", res.Status, res.Body)
			}
			cc := res.Header.Get("Cache-Control")
			if m := regexp.MustCompile(`(^|[ ,])max-age=([0-9]+)`).FindStringSubmatch(cc); m == nil || m[2] == "0" {
				t.Errorf("JWKS Cache-Control %q, want a positive max-age", cc)
			}
			var set struct{ Keys []map[string]any }
			if err := json.Unmarshal(res.Body, &set); err != nil || len(set.Keys) == 0 {
				t.Fatalf("JWKS %s: %v", res.Body, err)
			}
			for _, k := range set.Keys {
				for _, private := range []string{"d", "p", "q", "dp", "dq", "qi"} {
					if _, ok := k[private]; ok {
						t.Errorf("JWKS publishes private member %q", private)
					}
				}
				if k["use"] != "sig" || k["alg"] != "RS256" || k["kid"] != thumbprint(t, k) {
					t.Errorf("JWK use %v alg %v kid %v, want sig, RS256 and the RFC 7638 thumbprint", k["use"], k["alg"], k["kid"])
				}
			}

			// A relying party discovers and verifies end to end.
			provider, err := oidc.NewProvider(t.Context(), issuerURL)
			if err != nil {
				t.Fatalf("oidc.NewProvider: %v", err)
			}
			jwt, _ := mintJSON(t, s.URL, s.Token, basicRequest(gitlabAud))
			idt, err := provider.Verifier(&oidc.Config{ClientID: gitlabAud}).Verify(t.Context(), jwt)
			if err != nil {
				t.Fatalf("verify: %v", err)
			}
			var c struct {
				URI string `json:"ci_config_ref_uri"`
			}
			if err := idt.Claims(&c); err != nil {
				t.Fatal(err)
			}
			if want := listen + tc.prefix + "/mygroup/myproject//.gitlab-ci.yml@refs/heads/main"; c.URI != want {
				t.Errorf("ci_config_ref_uri %q, want %q", c.URI, want)
			}
		})
	}
}

// badCase is one refused mint request: what is sent and what must come back
// (field "" means the error names no field).
type badCase struct {
	name, authz, contentType string
	body                     []byte
	status                   int
	code, field              string
}

// TestMintRejectsBadInput sends every kind of bad request to one server.
// Each must be refused with the right status, a JSON error whose code and
// field say what is wrong, no side effect in the store, and no secret in
// the answer; and the server must keep serving afterwards.
func TestMintRejectsBadInput(t *testing.T) {
	hermeticEnv(t)
	dir := t.TempDir()
	s := startDev(t, dir, "127.0.0.1:0", nil)

	code, out, errOut := runCLI(t, "runner", "create", "--data", dir, "--name", "deployer",
		"--allow", "namespace_path=mygroup/*", "--allow", "ref_protected=true")
	if code != 0 {
		t.Fatalf("runner create: exit %d: %s", code, errOut)
	}
	constrained := strings.TrimSpace(out)
	code, out, errOut = runCLI(t, "runner", "create", "--data", dir, "--name", "retired")
	if code != 0 {
		t.Fatalf("runner create: exit %d: %s", code, errOut)
	}
	revoked := strings.TrimSpace(out)
	if code, out, errOut := runCLI(t, "runner", "revoke", "--data", dir, "retired"); code != 0 || !strings.Contains(out, "revoked") {
		t.Fatalf("runner revoke: exit %d: %s %s", code, out, errOut)
	}
	secrets := []string{s.Token, constrained, revoked}

	valid := `"aud":"https://gitlab.example.com","project_path":"mygroup/myproject","ref":"main"`
	obj := func(extra string) []byte { return []byte("{" + valid + extra + "}") }
	unauthorized := func(name, authz string) badCase {
		// A request that is fine but for its credentials: authentication
		// must come first.
		return badCase{name, authz, "application/json", obj(""), 401, "unauthorized", ""}
	}
	dev := "Bearer " + s.Token
	cases := []badCase{
		{"body over 64 KiB", dev, "application/json", obj(`,"environment":"` + strings.Repeat("x", 64<<10) + `"`), 413, "request_too_large", "body"},
		{"unknown field", dev, "application/json", obj(`,"colour":"red"`), 400, "invalid_request", "colour"},
		{"project_id as a number", dev, "application/json", obj(`,"project_id":28`), 400, "invalid_request", "project_id"},
		{"aud as a number", dev, "application/json", []byte(`{"aud":42,"project_path":"mygroup/myproject","ref":"main"}`), 400, "invalid_request", "aud"},
		{"empty aud string", dev, "application/json", []byte(`{"aud":"","project_path":"mygroup/myproject","ref":"main"}`), 400, "invalid_request", "aud"},
		{"empty aud array", dev, "application/json", []byte(`{"aud":[],"project_path":"mygroup/myproject","ref":"main"}`), 400, "invalid_request", "aud"},
		{"ttl_seconds above max_token_lifetime", dev, "application/json", obj(`,"ttl_seconds":7201`), 400, "invalid_request", "ttl_seconds"},
		{"ttl_seconds zero", dev, "application/json", obj(`,"ttl_seconds":0`), 400, "invalid_request", "ttl_seconds"},
		{"ttl_seconds negative", dev, "application/json", obj(`,"ttl_seconds":-60`), 400, "invalid_request", "ttl_seconds"},
		{"sub components not starting with project_path", dev, "application/json", obj(`,"sub_claim_components":["ref","project_path"]`), 400, "invalid_request", "sub_claim_components"},
		{"sub component not allowed", dev, "application/json", obj(`,"sub_claim_components":["project_path","user_email"]`), 400, "invalid_request", "sub_claim_components"},
		{"duplicate member name", dev, "application/json", obj(`,"aud":"https://evil.example.com"`), 400, "invalid_request", "aud"},
		{"case-variant member name", dev, "application/json", obj(`,"AUD":"https://evil.example.com"`), 400, "invalid_request", "AUD"},
		{"invalid UTF-8", dev, "application/json", obj(`,"user_login":"r` + "\xff\xfe" + `t"`), 400, "invalid_request", "user_login"},
		{"trailing garbage after the object", dev, "application/json", append(obj(""), " {}"...), 400, "invalid_request", "body"},
		{"non-JSON Content-Type", dev, "text/plain", obj(""), 415, "unsupported_media_type", "Content-Type"},
		{"namespace outside the runner's constraints", "Bearer " + constrained, "application/json",
			[]byte(`{"aud":"https://gitlab.example.com","project_path":"othergroup/x","ref":"main","ref_protected":"true"}`), 403, "constraint_violation", "namespace_path"},
		{"unprotected ref for a runner limited to protected refs", "Bearer " + constrained, "application/json",
			[]byte(`{"aud":"https://gitlab.example.com","project_path":"mygroup/sub/x","ref":"main","ref_protected":"false"}`), 403, "constraint_violation", "ref_protected"},
		// Globs match the whole value: a project directly in mygroup has
		// namespace_path "mygroup", which "mygroup/*" does not match.
		{"project directly in the group a subgroup glob names", "Bearer " + constrained, "application/json",
			[]byte(`{"aud":"https://gitlab.example.com","project_path":"mygroup/x","ref":"main","ref_protected":"true"}`), 403, "constraint_violation", "namespace_path"},
		unauthorized("no Authorization header", ""),
		unauthorized("garbage bearer token", "Bearer garbage"),
		unauthorized("well-formed but unknown runner token", "Bearer ofrt_"+strings.Repeat("A", 43)),
		unauthorized("another scheme", "Basic "+s.Token),
		unauthorized("revoked runner's token", "Bearer "+revoked),
	}

	var unauthorizedBody []byte
	var unauthorizedHeader http.Header
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := s.state(t)
			h := http.Header{"Content-Type": {tc.contentType}}
			if tc.authz != "" {
				h.Set("Authorization", tc.authz)
			}
			res := do(t, http.MethodPost, s.URL+"/api/v1/tokens", h, tc.body)
			if res.Status != tc.status {
				t.Errorf("status %d, want %d; body %s", res.Status, tc.status, res.Body)
			}
			if ct := res.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q, want application/json", ct)
			}
			if cc := res.Header.Get("Cache-Control"); cc != "no-store" {
				t.Errorf("Cache-Control %q, want no-store", cc)
			}
			var body struct {
				Token *string `json:"token"`
				Error *struct {
					Code    string  `json:"code"`
					Field   *string `json:"field"`
					Message string  `json:"message"`
				} `json:"error"`
			}
			if err := json.Unmarshal(res.Body, &body); err != nil || body.Error == nil {
				t.Fatalf("body %s is not a JSON error (%v)", res.Body, err)
			}
			if body.Token != nil {
				t.Errorf("a refused request got a token")
			}
			if body.Error.Code != tc.code {
				t.Errorf("code %q, want %q", body.Error.Code, tc.code)
			}
			field := ""
			if body.Error.Field != nil {
				field = *body.Error.Field
				if field == "" {
					t.Errorf(`"field" is present but empty`)
				}
			}
			if field != tc.field {
				t.Errorf("field %q, want %q (message %q)", field, tc.field, body.Error.Message)
			}
			if body.Error.Message == "" {
				t.Errorf("no message")
			}
			for _, secret := range secrets {
				if bytes.Contains(res.Body, []byte(secret)) || strings.Contains(fmt.Sprint(res.Header), secret) {
					t.Errorf("the response echoes a runner token: %s", res.Body)
				}
			}
			if after := s.state(t); after != before {
				t.Errorf("store changed: %q -> %q", before, after)
			}
			if tc.status == http.StatusUnauthorized {
				// Every way a token can fail looks the same, so a caller
				// cannot probe which tokens exist or were revoked.
				if got := res.Header.Get("WWW-Authenticate"); got != `Bearer realm="oidcfed"` {
					t.Errorf("WWW-Authenticate %q", got)
				}
				h := res.Header.Clone()
				h.Del("Date")
				h.Del("X-Request-Id")
				if unauthorizedBody == nil {
					unauthorizedBody, unauthorizedHeader = res.Body, h
				} else if !bytes.Equal(res.Body, unauthorizedBody) || !reflect.DeepEqual(h, unauthorizedHeader) {
					t.Errorf("401 differs from the others:\n%v %s\n%v %s", h, res.Body, unauthorizedHeader, unauthorizedBody)
				}
			}
		})
	}

	// The server still serves, and the strictness above has not made it
	// refuse requests that are merely written differently.
	t.Run("still serving after bad requests", func(t *testing.T) {
		for _, c := range []struct {
			name, authz, contentType, body string
		}{
			{"dev runner", "Bearer " + s.Token, "application/json", "{" + valid + "}"},
			{"constrained runner within its constraints", "Bearer " + constrained, "application/json",
				`{"aud":"https://gitlab.example.com","project_path":"mygroup/sub/x","ref":"main","ref_protected":"true"}`},
			{"charset parameter and upper case media type", "Bearer " + s.Token, "Application/JSON; charset=utf-8", "{" + valid + "}"},
			{"no Content-Type", "Bearer " + s.Token, "", "{" + valid + "}"},
			{"lower-case auth scheme", "bearer " + s.Token, "application/json", "{" + valid + "}"},
			{"aud as a list and whitespace around the object", "Bearer " + s.Token, "application/json",
				"\n {\"aud\": [\"https://gitlab.example.com\", \"sts.amazonaws.com\"], \"project_path\": \"mygroup/myproject\", \"ref\": \"main\"} \n"},
		} {
			t.Run(c.name, func(t *testing.T) {
				h := http.Header{"Authorization": {c.authz}}
				if c.contentType != "" {
					h.Set("Content-Type", c.contentType)
				}
				res := do(t, http.MethodPost, s.URL+"/api/v1/tokens", h, []byte(c.body))
				if res.Status != http.StatusOK {
					t.Fatalf("HTTP %d: %s", res.Status, res.Body)
				}
				var out struct {
					Token string `json:"token"`
				}
				if err := json.Unmarshal(res.Body, &out); err != nil || !jwtRE.MatchString(out.Token) {
					t.Errorf("response %s: %v", res.Body, err)
				}
				if cc := res.Header.Get("Cache-Control"); cc != "no-store" {
					t.Errorf("a token response has Cache-Control %q, want no-store", cc)
				}
			})
		}
	})
}

// TestServeConfigErrors: `oidcfed serve --config FILE` must refuse to start,
// with exit code 1 and a message an operator can act on, when the file or
// the master key it names is wrong — and must not touch the data directory.
func TestServeConfigErrors(t *testing.T) {
	hermeticEnv(t)
	goodKey := []byte(strings.Repeat("ab", 32) + "\n")
	for _, tc := range []struct {
		name string
		// extra is appended to the issuer section of the config.
		extra string
		// key is the master key file's content and mode; nil: no file.
		key     []byte
		keyMode os.FileMode
		// want lists what stderr must mention; "$CONFIG" and "$KEY" stand
		// for the paths.
		want []string
	}{
		{"unknown key", "  rotation_peroid: 24h\n", goodKey, 0o600, []string{"$CONFIG:6:", "rotation_peroid", "unknown key"}},
		{"master key missing", "", nil, 0, []string{"master key file does not exist", "$KEY"}},
		{"master key of 31 bytes", "", bytes.Repeat([]byte{7}, 31), 0o600, []string{"32-byte key", "31 bytes", "$KEY"}},
		{"master key readable by others", "", goodKey, 0o644, []string{"readable by group or others", "0644", "chmod 600 $KEY"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tmp := t.TempDir()
			configPath := filepath.Join(tmp, "oidcfed.yaml")
			keyPath := filepath.Join(tmp, "master.key")
			dataDir := filepath.Join(tmp, "data")
			if tc.key != nil {
				writeFile(t, keyPath, tc.key, tc.keyMode)
			}
			config := fmt.Sprintf("listen: %s\ndata_dir: %s\nmaster_key_file: %s\nissuer:\n  url: https://ci.example.com/oidc\n%s",
				freeAddr(t), dataDir, keyPath, tc.extra)
			writeFile(t, configPath, []byte(config), 0o600)

			code, out, errOut := runCLI(t, "serve", "--config", configPath)
			if code != 1 {
				t.Fatalf("exit %d, want 1; stdout %q stderr %q", code, out, errOut)
			}
			for _, w := range tc.want {
				w = strings.NewReplacer("$CONFIG", configPath, "$KEY", keyPath).Replace(w)
				if !strings.Contains(errOut, w) {
					t.Errorf("stderr %q does not mention %q", errOut, w)
				}
			}
			if strings.Contains(errOut, strings.TrimSpace(string(goodKey))) {
				t.Errorf("stderr shows the master key")
			}
			if _, err := os.Stat(dataDir); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("a refused start created the data directory (stat: %v)", err)
			}
		})
	}
}

// TestCorruptStoreIsNotReinitialised: a data directory whose database is not
// an oidcfed store must stop the server with an error naming the file, and
// the file must be left byte for byte as it was: re-creating the schema
// would silently discard the operator's runners and keys.
func TestCorruptStoreIsNotReinitialised(t *testing.T) {
	random := make([]byte, 8192)
	for i := range random {
		random[i] = byte(i*7919 + i/13)
	}
	for _, tc := range []struct {
		name    string
		content []byte
	}{
		{"text", bytes.Repeat([]byte("this is not a database\n"), 200)},
		{"binary garbage", random},
		{"SQLite magic followed by garbage", append([]byte("SQLite format 3\x00"), random...)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			dbPath := filepath.Join(dir, app.StoreFileName)
			writeFile(t, dbPath, tc.content, 0o600)

			s, err := app.Start(t.Context(), app.Options{Listen: "127.0.0.1:0", DataDir: dir, Dev: true})
			if err == nil {
				_ = s.Shutdown(t.Context())
				t.Fatal("started on a corrupt store")
			}
			if !strings.Contains(err.Error(), dbPath) {
				t.Errorf("error %q does not name %s", err, dbPath)
			}
			if !errors.Is(err, store.ErrCorrupt) {
				t.Errorf("error %q does not wrap store.ErrCorrupt", err)
			}
			if got := readFile(t, dbPath); !bytes.Equal(got, tc.content) {
				t.Errorf("the corrupt file was modified (%d bytes, was %d)", len(got), len(tc.content))
			}
			if _, err := os.Stat(filepath.Join(dir, app.DevEnvFileName)); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("dev.env was written although the server did not start")
			}
		})
	}
}

// TestIssuerExportMatchesServed: `oidcfed issuer export DIR` writes the
// documents for static hosting; they must be what the server serves, or a
// relying party reading the static copy would see a different issuer.
func TestIssuerExportMatchesServed(t *testing.T) {
	hermeticEnv(t)
	dir := t.TempDir()
	s := startDev(t, dir, "127.0.0.1:0", nil)
	outDir := filepath.Join(t.TempDir(), "site")

	code, out, errOut := runCLI(t, "issuer", "export", "--data", dir, outDir)
	if code != 0 {
		t.Fatalf("issuer export: exit %d: %s", code, errOut)
	}
	for _, tc := range []struct{ name, rel string }{
		{"discovery document", ".well-known/openid-configuration"},
		{"JWKS", "oauth/discovery/keys"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(outDir, filepath.FromSlash(tc.rel))
			if !strings.Contains(out, path) {
				t.Errorf("export output %q does not list %s", out, path)
			}
			exported := readFile(t, path)
			served := get(t, s.Issuer+"/"+tc.rel)
			if served.Status != http.StatusOK {
				t.Fatalf("GET %s: %d", tc.rel, served.Status)
			}
			// The export ends the file with a newline; otherwise the bytes
			// are the same.
			if !bytes.Equal(bytes.TrimSuffix(exported, []byte("\n")), bytes.TrimSuffix(served.Body, []byte("\n"))) {
				t.Errorf("exported %s differs from served:\n%s\n%s", tc.rel, exported, served.Body)
			}
		})
	}
}

// TestRotateMasterKey: `oidcfed admin rotate-master-key` re-seals the
// signing keys under a new master key that replaces the key file. The
// server must start again with the new key and sign with the same signing
// key; with the old key content put back it must refuse to start, naming
// both master key ids so the operator knows which key the store needs.
func TestRotateMasterKey(t *testing.T) {
	hermeticEnv(t)
	dir := t.TempDir()
	listen := freeAddr(t) // same issuer URL across restarts
	keyPath := filepath.Join(dir, "master.key")

	s := startDev(t, dir, listen, nil)
	jwt1, _ := mintJSON(t, s.URL, s.Token, basicRequest(gitlabAud))
	kid := jwtHeader(t, jwt1)["kid"]
	s.stop(t)
	oldKey := readFile(t, keyPath)

	code, out, errOut := runCLI(t, "admin", "rotate-master-key", "--data", dir, "--master-key-file", keyPath)
	if code != 0 {
		t.Fatalf("rotate-master-key: exit %d: %s", code, errOut)
	}
	m := regexp.MustCompile(`re-sealed ([0-9]+) secrets: master key ([0-9a-f]{16}) -> ([0-9a-f]{16})`).FindStringSubmatch(out)
	if m == nil || m[1] == "0" {
		t.Fatalf("rotate-master-key output %q", out)
	}
	oldID, newID := m[2], m[3]
	newKey := readFile(t, keyPath)
	if bytes.Equal(newKey, oldKey) {
		t.Fatal("the key file still holds the old key")
	}
	if fi, err := os.Stat(keyPath); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("new key file mode %v (err %v), want 0600", fi.Mode().Perm(), err)
	}
	if _, err := os.Stat(keyPath + ".new"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("rotation left %s.new behind", keyPath)
	}

	t.Run("server starts with the new key and keeps its signing key", func(t *testing.T) {
		s := startDev(t, dir, listen, nil)
		jwt2, _ := mintJSON(t, s.URL, s.Token, basicRequest(gitlabAud))
		if got := jwtHeader(t, jwt2)["kid"]; got != kid {
			t.Errorf("kid after master key rotation %v, want %v", got, kid)
		}
		set, _ := fetchJWKS(t, s.Issuer)
		verifyWithJWKS(t, jwt1, set)
		s.stop(t)
	})

	t.Run("old key is refused with both key ids named", func(t *testing.T) {
		writeFile(t, keyPath, oldKey, 0o600)
		s, err := app.Start(t.Context(), app.Options{Listen: listen, DataDir: dir, Dev: true})
		if err == nil {
			_ = s.Shutdown(t.Context())
			t.Fatal("started with the old master key")
		}
		for _, id := range []string{oldID, newID} {
			if !strings.Contains(err.Error(), id) {
				t.Errorf("error %q does not name master key %s", err, id)
			}
		}
	})
}
