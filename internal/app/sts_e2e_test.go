package app_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"encoding/xml"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/oidcfed/oidcfed/internal/app"
	"github.com/oidcfed/oidcfed/internal/iam"
)

// fakeIdP is a minimal OIDC provider on loopback whose tokens the tests
// shape freely (expired, wrong algorithm, unknown key): the failure cases a
// well-behaved issuer never produces. It serves discovery and a JWKS.
type fakeIdP struct {
	srv *httptest.Server
	key *rsa.PrivateKey
	kid string
}

func newFakeIdP(t *testing.T) *fakeIdP {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	idp := &fakeIdP{key: key, kid: "fake-key-1"}
	mux := http.NewServeMux()
	idp.srv = httptest.NewServer(mux)
	t.Cleanup(idp.srv.Close)
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{
			"issuer": idp.srv.URL, "jwks_uri": idp.srv.URL + "/jwks",
			"response_types_supported": []string{"id_token"}, "subject_types_supported": []string{"public"},
			"id_token_signing_alg_values_supported": []string{"RS256"},
		})
	})
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, _ *http.Request) {
		b64 := base64.RawURLEncoding.EncodeToString
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": []any{map[string]string{
			"kty": "RSA", "use": "sig", "alg": "RS256", "kid": idp.kid,
			"n": b64(key.N.Bytes()), "e": b64(big.NewInt(int64(key.E)).Bytes()),
		}}})
	})
	return idp
}

// sign builds a compact JWS. alg "RS256" signs with the IdP key; "none"
// leaves the signature empty; "HS256" keys HMAC with the IdP's public key
// in PEM (the algorithm-confusion attack).
func (idp *fakeIdP) sign(t *testing.T, alg, kid string, claims map[string]any) string {
	t.Helper()
	b64 := base64.RawURLEncoding.EncodeToString
	header, _ := json.Marshal(map[string]string{"alg": alg, "kid": kid, "typ": "JWT"})
	payload, _ := json.Marshal(claims)
	input := b64(header) + "." + b64(payload)
	switch alg {
	case "RS256":
		sum := sha256.Sum256([]byte(input))
		sig, err := rsa.SignPKCS1v15(rand.Reader, idp.key, crypto.SHA256, sum[:])
		if err != nil {
			t.Fatal(err)
		}
		return input + "." + b64(sig)
	case "HS256":
		der, _ := x509.MarshalPKIXPublicKey(&idp.key.PublicKey)
		mac := hmac.New(sha256.New, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
		mac.Write([]byte(input))
		return input + "." + b64(mac.Sum(nil))
	default:
		return input + "."
	}
}

func (idp *fakeIdP) claims(sub string, iat time.Time, ttl time.Duration) map[string]any {
	return map[string]any{"iss": idp.srv.URL, "aud": "sts.amazonaws.com", "sub": sub,
		"iat": iat.Unix(), "nbf": iat.Unix() - 5, "exp": iat.Add(ttl).Unix()}
}

// stsWorld is a dev server that also trusts a fake IdP through a role.
type stsWorld struct {
	*testServer
	idp        *fakeIdP
	fakeRole   string // trusts the fake IdP for sub "repo:ok"
	deployRole string
	ciRole     string
	home       string // HOME for the aws CLI: no stray config
}

func newSTSWorld(t *testing.T) *stsWorld {
	t.Helper()
	hermeticEnv(t)
	idp := newFakeIdP(t)
	prov := iam.ProviderConditionPrefix(idp.srv.URL)
	trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"` +
		iam.ProviderARN("000000000000", idp.srv.URL) + `"},"Action":"sts:AssumeRoleWithWebIdentity",` +
		`"Condition":{"StringEquals":{"` + prov + `:aud":"sts.amazonaws.com","` + prov + `:sub":"repo:ok"}}}]}`
	tagging := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"` +
		iam.ProviderARN("000000000000", idp.srv.URL) + `"},"Action":["sts:AssumeRoleWithWebIdentity","sts:TagSession"],` +
		`"Condition":{"StringEquals":{"` + prov + `:sub":"repo:ok","aws:RequestTag/Project":"Automation"}}}]}`
	s := startDev(t, t.TempDir(), "127.0.0.1:0", func(o *app.Options) {
		o.OIDCProviders = []iam.OIDCProvider{{URL: idp.srv.URL, ClientIDs: []string{"sts.amazonaws.com"}, AllowInsecureHTTP: true}}
		o.Roles = []iam.Role{{Name: "fake-role", TrustPolicy: trust, MaxSessionDuration: time.Hour},
			{Name: "fake-tagging-role", TrustPolicy: tagging, MaxSessionDuration: time.Hour}}
	})
	return &stsWorld{testServer: s, idp: idp, fakeRole: "arn:aws:iam::000000000000:role/fake-role",
		deployRole: "arn:aws:iam::000000000000:role/" + app.DevDeployRole, ciRole: "arn:aws:iam::000000000000:role/" + app.DevCIRole,
		home: t.TempDir()}
}

// mint issues a token from the dev issuer.
func (w *stsWorld) mint(t *testing.T, req map[string]any) string {
	t.Helper()
	tok, _ := mintJSON(t, w.URL, w.Token, req)
	return tok
}

// awsEnv is the environment the seeds' jobs run with, pointed at oidcfed.
func (w *stsWorld) awsEnv(extra ...string) []string {
	env := []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + w.home,
		"AWS_ENDPOINT_URL=" + w.URL, "AWS_DEFAULT_REGION=us-east-1", "AWS_REGION=us-east-1",
		"AWS_CONFIG_FILE=" + filepath.Join(w.home, "config"), "AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(w.home, "credentials"),
	}
	if p := os.Getenv("PYENV_ROOT"); p != "" {
		env = append(env, "PYENV_ROOT="+p)
	}
	return append(env, extra...)
}

func (w *stsWorld) bash(t *testing.T, script string, env ...string) (string, string, error) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), "bash", "-c", script)
	cmd.Env = w.awsEnv(env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	return out.String(), errb.String(), err
}

// TestSeedJobScripts runs the seeds' job scripts verbatim with only the
// endpoint variables added.
func TestSeedJobScripts(t *testing.T) {
	w := newSTSWorld(t)
	tok := w.mint(t, basicRequest(w.Issuer))
	wantARN := "arn:aws:sts::000000000000:assumed-role/gitlab-deploy/"
	cases := []struct {
		name, script string
		env          []string
		want         string
	}{
		{"seed 001/003: --query text, export, get-caller-identity", `set -e
aws_sts_output=$(aws sts assume-role-with-web-identity --role-arn "${ROLE_ARN}" --role-session-name "GitLabRunner-${CI_PROJECT_ID}-${CI_PIPELINE_ID}" --web-identity-token ${GITLAB_OIDC_TOKEN} --duration-seconds 3600 --query 'Credentials.[AccessKeyId,SecretAccessKey,SessionToken]' --output text)
export $(printf "AWS_ACCESS_KEY_ID=%s AWS_SECRET_ACCESS_KEY=%s AWS_SESSION_TOKEN=%s" $aws_sts_output)
aws sts get-caller-identity`, nil, wantARN + "GitLabRunner-42-455"},
		{"seed 004: token file as file://, jq", `set -e
echo "${GITLAB_OIDC_TOKEN}" > /tmp/web-identity-token-$$
CREDS=$(aws sts assume-role-with-web-identity --role-arn "${ROLE_ARN}" --role-session-name "gitlab-${CI_PIPELINE_ID}" --web-identity-token file:///tmp/web-identity-token-$$ --output json)
rm -f /tmp/web-identity-token-$$
export AWS_ACCESS_KEY_ID=$(echo "$CREDS" | jq -r '.Credentials.AccessKeyId')
export AWS_SECRET_ACCESS_KEY=$(echo "$CREDS" | jq -r '.Credentials.SecretAccessKey')
export AWS_SESSION_TOKEN=$(echo "$CREDS" | jq -r '.Credentials.SessionToken')
aws sts get-caller-identity --query Arn --output text`, nil, wantARN + "gitlab-455"},
		{"seed 002: profile with role_arn and web_identity_token_file", `set -e
echo "${GITLAB_OIDC_TOKEN}" > "$HOME/token"
cat > "$AWS_CONFIG_FILE" <<EOF
[profile oidc]
role_arn=${ROLE_ARN}
web_identity_token_file=$HOME/token
EOF
aws sts get-caller-identity --profile oidc --query Arn --output text`, nil, wantARN},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, err := w.bash(t, tc.script, append([]string{"ROLE_ARN=" + w.deployRole, "GITLAB_OIDC_TOKEN=" + tok,
				"CI_PROJECT_ID=42", "CI_PIPELINE_ID=455"}, tc.env...)...)
			if err != nil {
				t.Fatalf("%v\nstdout %s\nstderr %s", err, out, errOut)
			}
			if !strings.Contains(out, tc.want) {
				t.Fatalf("output %q does not name %q", out, tc.want)
			}
		})
	}
}

// TestBoto3AndGoSDK: the two SDKs' own web-identity paths.
func TestBoto3AndGoSDK(t *testing.T) {
	w := newSTSWorld(t)
	tok := w.mint(t, basicRequest(w.Issuer))
	t.Run("boto3", func(t *testing.T) {
		script := `
import boto3, os, sys
sts = boto3.client("sts", endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name="us-east-1")
r = sts.assume_role_with_web_identity(RoleArn=os.environ["ROLE_ARN"], RoleSessionName="boto", WebIdentityToken=os.environ["TOKEN"])
c = r["Credentials"]
me = boto3.client("sts", endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name="us-east-1",
    aws_access_key_id=c["AccessKeyId"], aws_secret_access_key=c["SecretAccessKey"], aws_session_token=c["SessionToken"]).get_caller_identity()
print(r["Provider"], r["Audience"], me["Arn"])
`
		cmd := exec.CommandContext(t.Context(), requirePython(t), "-c", script)
		cmd.Env = w.awsEnv("ROLE_ARN="+w.deployRole, "TOKEN="+tok)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		want := iam.ProviderARN("000000000000", w.Issuer) + " " + w.Issuer + " arn:aws:sts::000000000000:assumed-role/gitlab-deploy/boto"
		if strings.TrimSpace(string(out)) != want {
			t.Fatalf("boto3 printed %q, want %q", out, want)
		}
	})
	t.Run("aws-sdk-go-v2 web identity provider with AWS_ENDPOINT_URL_STS", func(t *testing.T) {
		tokenFile := filepath.Join(t.TempDir(), "token")
		writeFile(t, tokenFile, []byte(tok), 0o600)
		for k, v := range map[string]string{
			"AWS_ROLE_ARN": w.deployRole, "AWS_WEB_IDENTITY_TOKEN_FILE": tokenFile, "AWS_ROLE_SESSION_NAME": "gosdk",
			"AWS_ENDPOINT_URL_STS": w.URL, "AWS_REGION": "us-east-1", "AWS_CONFIG_FILE": filepath.Join(w.home, "none"),
			"AWS_SHARED_CREDENTIALS_FILE": filepath.Join(w.home, "none"), "AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "",
			"AWS_PROFILE": "",
		} {
			t.Setenv(k, v)
		}
		cfg, err := awsconfig.LoadDefaultConfig(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		out, err := sts.NewFromConfig(cfg).GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
		if err != nil {
			t.Fatal(err)
		}
		if got := aws.ToString(out.Arn); got != "arn:aws:sts::000000000000:assumed-role/gitlab-deploy/gosdk" {
			t.Fatalf("caller %s", got)
		}
	})
}

// stsErrorXML is the Query error envelope.
type stsErrorXML struct {
	Error struct {
		Type, Code, Message string
	}
	RequestID string `xml:"RequestId"`
}

// TestAssumeRoleFailuresAsAWS: each failure the seeds' troubleshooting
// sections describe, through the aws CLI (code and message as it prints
// them) and over raw HTTP (status and envelope).
func TestAssumeRoleFailuresAsAWS(t *testing.T) {
	w := newSTSWorld(t)
	now := time.Now()
	req := func(over map[string]any) map[string]any {
		r := basicRequest(w.Issuer)
		for k, v := range over {
			r[k] = v
		}
		return r
	}
	cases := []struct {
		name, role, session, token string
		duration                   int
		status                     int
		code, message              string
	}{
		{"tag pipeline on a branch-only role", w.deployRole, "s1", w.mint(t, req(map[string]any{"ref": "v1.0.0", "ref_type": "tag"})), 0,
			403, "AccessDenied", "Not authorized to perform sts:AssumeRoleWithWebIdentity"},
		{"merge-request pipeline (feature branch) on the main-only role", w.deployRole, "s1",
			w.mint(t, req(map[string]any{"ref": "feature-x", "pipeline_source": "merge_request_event"})), 0,
			403, "AccessDenied", "Not authorized to perform sts:AssumeRoleWithWebIdentity"},
		{"aud with a trailing slash", w.deployRole, "s1", w.mint(t, req(map[string]any{"aud": w.Issuer + "/"})), 0,
			400, "InvalidIdentityToken", "Incorrect token audience"},
		{"expired token", w.fakeRole, "s1", w.idp.sign(t, "RS256", w.idp.kid, w.idp.claims("repo:ok", now.Add(-2*time.Hour), time.Hour)), 0,
			400, "ExpiredTokenException", "Token expired: current date/time "},
		{"token signed by an unknown key", w.fakeRole, "s1", w.idp.sign(t, "RS256", "not-published", w.idp.claims("repo:ok", now, time.Hour)), 0,
			400, "InvalidIdentityToken", "Couldn't retrieve verification key from your identity provider,  please reference AssumeRoleWithWebIdentity documentation for requirements"},
		{"alg none", w.fakeRole, "s1", w.idp.sign(t, "none", w.idp.kid, w.idp.claims("repo:ok", now, time.Hour)), 0,
			400, "InvalidIdentityToken", ""},
		{"HS256 keyed with the RSA public key", w.fakeRole, "s1", w.idp.sign(t, "HS256", w.idp.kid, w.idp.claims("repo:ok", now, time.Hour)), 0,
			400, "InvalidIdentityToken", ""},
		{"unknown issuer", w.fakeRole, "s1", func() string {
			c := w.idp.claims("repo:ok", now, time.Hour)
			c["iss"] = "https://gitlab.unknown.example"
			return w.idp.sign(t, "RS256", w.idp.kid, c)
		}(), 0, 400, "InvalidIdentityToken", "No OpenIDConnect provider found in your account for https://gitlab.unknown.example"},
		{"DurationSeconds above the role's maximum", w.deployRole, "s1", w.mint(t, basicRequest(w.Issuer)), 7200,
			400, "ValidationError", "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."},
		{"bad session name", w.deployRole, "bad name", w.mint(t, basicRequest(w.Issuer)), 0,
			400, "ValidationError", "1 validation error detected: Value 'bad name' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*"},
		{"20,001-character token", w.deployRole, "s1", strings.Repeat("a", 20001), 0,
			400, "ValidationError", "1 validation error detected: Value at 'webIdentityToken' failed to satisfy constraint: Member must have length less than or equal to 20000"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			form := url.Values{"Action": {"AssumeRoleWithWebIdentity"}, "Version": {"2011-06-15"}, "RoleArn": {tc.role},
				"RoleSessionName": {tc.session}, "WebIdentityToken": {tc.token}}
			args := []string{"sts", "assume-role-with-web-identity", "--role-arn", tc.role, "--role-session-name", tc.session,
				"--web-identity-token", tc.token}
			if tc.duration != 0 {
				form.Set("DurationSeconds", strconv.Itoa(tc.duration))
				args = append(args, "--duration-seconds", strconv.Itoa(tc.duration))
			}
			resp := do(t, http.MethodPost, w.URL+"/", http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}, []byte(form.Encode()))
			var env stsErrorXML
			if err := xml.Unmarshal(resp.Body, &env); err != nil {
				t.Fatalf("status %d, body %s: %v", resp.Status, resp.Body, err)
			}
			wantType := "Sender"
			if resp.Status != tc.status || env.Error.Code != tc.code || env.Error.Type != wantType || env.RequestID == "" ||
				!strings.HasPrefix(env.Error.Message, tc.message) {
				t.Fatalf("got %d %+v, want %d %s %q", resp.Status, env, tc.status, tc.code, tc.message)
			}
			if strings.Contains(string(resp.Body), tc.token) && len(tc.token) > 8 {
				t.Fatal("the token is echoed in the error")
			}
			// The aws CLI reports the same code and message.
			cmd := exec.CommandContext(t.Context(), "aws", args...)
			cmd.Env = w.awsEnv()
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("aws CLI succeeded: %s", out)
			}
			wantCLI := "An error occurred (" + tc.code + ") when calling the AssumeRoleWithWebIdentity operation: " + tc.message
			if !strings.Contains(string(out), wantCLI) {
				t.Fatalf("aws CLI said %q, want %q", out, wantCLI)
			}
		})
	}
	// Still serving.
	resp := do(t, http.MethodPost, w.URL+"/", http.Header{"Content-Type": {"application/x-www-form-urlencoded"}},
		[]byte(url.Values{"Action": {"AssumeRoleWithWebIdentity"}, "Version": {"2011-06-15"}, "RoleArn": {w.ciRole},
			"RoleSessionName": {"after"}, "WebIdentityToken": {w.mint(t, basicRequest(w.Issuer))}}.Encode()))
	if resp.Status != http.StatusOK {
		t.Fatalf("after the bad requests: %d %s", resp.Status, resp.Body)
	}
}

// TestSTSProtocolErrors: malformed requests at the protocol level.
func TestSTSProtocolErrors(t *testing.T) {
	w := newSTSWorld(t)
	form := "application/x-www-form-urlencoded"
	cases := []struct {
		name   string
		method string
		body   string
		status int
		code   string
	}{
		{"no action", http.MethodPost, "Version=2011-06-15", 400, "MissingAction"},
		{"unknown action", http.MethodPost, "Action=Nope&Version=2011-06-15", 400, "InvalidAction"},
		{"wrong version", http.MethodPost, "Action=GetCallerIdentity&Version=2010-01-01", 400, "InvalidAction"},
		{"missing parameters", http.MethodPost, "Action=AssumeRoleWithWebIdentity&Version=2011-06-15", 400, "ValidationError"},
		{"repeated parameter", http.MethodPost, "Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn=a&RoleArn=b", 400, "InvalidParameterValue"},
		{"unsigned GetCallerIdentity", http.MethodPost, "Action=GetCallerIdentity&Version=2011-06-15", 403, "MissingAuthenticationToken"},
		{"unsigned AssumeRole", http.MethodPost, "Action=AssumeRole&Version=2011-06-15&RoleArn=arn:aws:iam::000000000000:role/x&RoleSessionName=s1", 403, "MissingAuthenticationToken"},
		{"GET with a query string", http.MethodGet, "", 400, "MissingAction"},
		{"body over 1 MB", http.MethodPost, "Action=GetCallerIdentity&Version=2011-06-15&X=" + strings.Repeat("a", 1<<20), 413, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp := do(t, tc.method, w.URL+"/", http.Header{"Content-Type": {form}}, []byte(tc.body))
			if resp.Status != tc.status {
				t.Fatalf("status %d %s, want %d", resp.Status, resp.Body, tc.status)
			}
			if tc.code == "" {
				return
			}
			var env stsErrorXML
			if err := xml.Unmarshal(resp.Body, &env); err != nil || env.Error.Code != tc.code {
				t.Fatalf("body %s (%v), want code %s", resp.Body, err, tc.code)
			}
		})
	}
}
