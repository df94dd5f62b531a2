package app_test

// `oidcfed explain` and POST /api/v1/explain: every known mistake gets its
// hint, the verdict is the one the real call gives (checked with the aws
// CLI for every token case), the text output matches golden files, and the
// operator API refuses anyone but the account root.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/oidcfed/oidcfed/internal/app"
	"github.com/oidcfed/oidcfed/internal/explain"
)

// explainWorld is a bare dev server with a provider for its own issuer
// and one role per known trust-policy mistake.
type explainWorld struct {
	*stsWorld
	root []string
	prov string // the provider's condition-key prefix (host:port)
}

func newExplainWorld(t *testing.T) *explainWorld {
	t.Helper()
	w, root := bareDev(t)
	host := strings.TrimPrefix(w.Issuer, "http://")
	provARN := "arn:aws:iam::000000000000:oidc-provider/" + host
	trust := func(principal, action, conditions string) string {
		return `{"Version":"2012-10-17","Statement":[{"Sid":"GitLabMain","Effect":"Allow","Principal":{"Federated":"` + principal +
			`"},"Action":"` + action + `","Condition":` + conditions + `}]}`
	}
	mainOnly := `{"StringEquals":{"` + host + `:aud":"` + w.Issuer + `","` + host + `:sub":"project_path:mygroup/app:ref_type:branch:ref:main"}}`
	roles := map[string]string{
		"deploy":         trust(provARN, "sts:AssumeRoleWithWebIdentity", mainOnly),
		"equals-star":    trust(provARN, "sts:AssumeRoleWithWebIdentity", `{"StringEquals":{"`+host+`:sub":"project_path:mygroup/app:ref_type:branch:ref:*"}}`),
		"other-provider": trust("arn:aws:iam::000000000000:oidc-provider/gitlab.com", "sts:AssumeRoleWithWebIdentity", mainOnly),
		"assume-role":    trust(provARN, "sts:AssumeRole", mainOnly),
		"aud-slash":      trust(provARN, "sts:AssumeRoleWithWebIdentity", `{"StringEquals":{"`+host+`:aud":"`+w.Issuer+`/"}}`),
	}
	script := `set -e
aws iam create-open-id-connect-provider --url "$ISSUER" --client-id-list "$ISSUER" https://gitlab.example.com >/dev/null
`
	env := append(slices.Clone(root), "ISSUER="+w.Issuer)
	for _, name := range []string{"deploy", "equals-star", "other-provider", "assume-role", "aud-slash"} {
		script += `aws iam create-role --role-name ` + name + ` --assume-role-policy-document "$TRUST_` + strings.ReplaceAll(name, "-", "_") + `" >/dev/null
`
		env = append(env, "TRUST_"+strings.ReplaceAll(name, "-", "_")+"="+roles[name])
	}
	if out, errOut, err := w.bash(t, script, env...); err != nil {
		t.Fatalf("setup: %v\n%s%s", err, out, errOut)
	}
	// The CLI signs with the process's AWS environment.
	t.Setenv("AWS_ACCESS_KEY_ID", strings.TrimPrefix(root[0], "AWS_ACCESS_KEY_ID="))
	t.Setenv("AWS_SECRET_ACCESS_KEY", strings.TrimPrefix(root[1], "AWS_SECRET_ACCESS_KEY="))
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(w.home, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(w.home, "credentials"))
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("OIDCFED_ENDPOINT", w.URL)
	return &explainWorld{stsWorld: w, root: root, prov: host}
}

// TestExplain: each case is explained through the CLI; token cases are
// also tried for real with the aws CLI, and the verdicts must agree.
func TestExplain(t *testing.T) {
	w := newExplainWorld(t)
	job := func(extra map[string]any) map[string]any {
		req := map[string]any{"aud": w.Issuer, "project_path": "mygroup/app", "ref": "main"}
		for k, v := range extra {
			req[k] = v
		}
		return req
	}
	hypo := func(extra map[string]any) map[string]any {
		c := map[string]any{"iss": w.Issuer, "aud": w.Issuer, "sub": "project_path:mygroup/app:ref_type:branch:ref:main",
			"project_path": "mygroup/app", "ref": "main", "ref_type": "branch", "pipeline_source": "push"}
		for k, v := range extra {
			c[k] = v
		}
		return c
	}
	cases := []struct {
		name      string
		role      string
		mint      map[string]any // a real token with these mint fields, or
		claims    map[string]any // hypothetical claims
		allowed   bool
		wantCode  string // the API's error code when denied
		wantHints []string
	}{
		{name: "main-branch-allowed", role: "deploy", mint: job(nil), allowed: true},
		{name: "tag-pipeline", role: "deploy", mint: job(map[string]any{"ref": "v1.2.0", "ref_type": "tag"}),
			wantCode: "AccessDenied", wantHints: []string{explain.HintRefType}},
		{name: "merge-request-pipeline", role: "deploy", mint: job(map[string]any{"ref": "feature-x", "pipeline_source": "merge_request_event"}),
			wantCode: "AccessDenied", wantHints: []string{explain.HintMergeRequest}},
		{name: "fork-merge-request", role: "deploy", claims: hypo(map[string]any{
			"sub": "project_path:contributor/app:ref_type:branch:ref:fix", "project_path": "contributor/app", "ref": "fix",
			"job_project_path": "mygroup/app", "pipeline_source": "merge_request_event"}),
			wantCode: "AccessDenied", wantHints: []string{explain.HintProjectPath, explain.HintForkMR}},
		{name: "aud-trailing-slash-in-token", role: "deploy", mint: job(map[string]any{"aud": w.Issuer + "/"}),
			wantCode: "InvalidIdentityToken", wantHints: []string{explain.HintAudSlash}},
		{name: "aud-trailing-slash-in-policy", role: "aud-slash", mint: job(nil),
			wantCode: "AccessDenied", wantHints: []string{explain.HintAudSlash}},
		{name: "aud-not-registered", role: "deploy", mint: job(map[string]any{"aud": "https://vault.example.com"}),
			wantCode: "InvalidIdentityToken", wantHints: []string{explain.HintAudUnregistered}},
		{name: "string-equals-with-wildcard", role: "equals-star", mint: job(nil),
			wantCode: "AccessDenied", wantHints: []string{explain.HintEqualsWildcard}},
		{name: "principal-names-another-provider", role: "other-provider", mint: job(nil),
			wantCode: "AccessDenied", wantHints: []string{explain.HintOtherProvider}},
		{name: "missing-web-identity-action", role: "assume-role", mint: job(nil),
			wantCode: "AccessDenied", wantHints: []string{explain.HintMissingAction}},
		{name: "expired-token", role: "deploy", claims: hypo(map[string]any{"exp": json.Number("1700000000"), "iat": json.Number("1699999700")}),
			wantCode: "ExpiredTokenException", wantHints: []string{explain.HintExpired}},
		{name: "issuer-not-registered", role: "deploy", claims: hypo(map[string]any{"iss": "https://gitlab.com"}),
			wantCode: "InvalidIdentityToken", wantHints: []string{explain.HintIssuer}},
		{name: "hypothetical-allowed", role: "deploy", claims: hypo(nil), allowed: true},
		{name: "no-such-role", role: "nope", mint: job(nil), wantCode: "AccessDenied"},
	}
	dir := t.TempDir()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			roleARN := "arn:aws:iam::000000000000:role/" + tc.role
			args := []string{"explain", "--role-arn", roleARN}
			var token string
			if tc.mint != nil {
				token = w.mint(t, tc.mint)
				args = append(args, "--token", token)
			} else {
				file := filepath.Join(dir, tc.name+".json")
				b, _ := json.Marshal(tc.claims)
				writeFile(t, file, b, 0o600)
				args = append(args, "--claims", file)
			}
			wantExit := 2
			if tc.allowed {
				wantExit = 0
			}
			code, out, errOut := runCLI(t, append(args, "--format", "json")...)
			if code != wantExit {
				t.Fatalf("exit %d, want %d; stderr %s\n%s", code, wantExit, errOut, out)
			}
			var r explain.Report
			if err := json.Unmarshal([]byte(out), &r); err != nil {
				t.Fatalf("report: %v\n%s", err, out)
			}
			if tc.name == "main-branch-allowed" || tc.name == "tag-pipeline" {
				// The JSON shape, for scripts: golden too.
				checkGolden(t, filepath.Join("testdata", "explain", tc.name+".json"), normalizeExplain(out, w.Issuer))
			}
			if r.Allowed != tc.allowed {
				t.Errorf("allowed = %v, want %v", r.Allowed, tc.allowed)
			}
			if !tc.allowed && (r.Error == nil || r.Error.Code != tc.wantCode) {
				t.Errorf("error = %+v, want code %s", r.Error, tc.wantCode)
			}
			var ids []string
			for _, h := range r.Hints {
				ids = append(ids, h.ID)
			}
			for _, want := range tc.wantHints {
				if !slices.Contains(ids, want) {
					t.Errorf("hints %v lack %s", ids, want)
				}
			}
			if tc.allowed && len(ids) > 0 {
				t.Errorf("an allowed request got hints %v", ids)
			}
			if token != "" {
				// The verdict is the call's.
				_, errOut, err := w.bash(t, `aws sts assume-role-with-web-identity --role-arn "$ROLE" --role-session-name explain --web-identity-token "$TOKEN" --query Credentials.AccessKeyId --output text`,
					"ROLE="+roleARN, "TOKEN="+token)
				if (err == nil) != tc.allowed {
					t.Fatalf("the call allowed=%v, explain said %v: %s", err == nil, tc.allowed, errOut)
				}
				if !tc.allowed && !strings.Contains(errOut, "("+tc.wantCode+")") {
					t.Errorf("the call failed with %s, explain said %s", errOut, tc.wantCode)
				}
			}
			_, text, _ := runCLI(t, append(args, "--format", "text")...)
			checkGolden(t, filepath.Join("testdata", "explain", tc.name+".txt"), normalizeExplain(text, w.Issuer))
		})
	}
}

var (
	unixTimeRE = regexp.MustCompile(`\b1[0-9]{9}\b`)
	rfc3339RE  = regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ( \((in [0-9hms]+|[0-9hms]+ ago|now)\))?`)
	kidRE      = regexp.MustCompile(`key (\\?")[A-Za-z0-9_-]{43}\\?"`)
)

// normalizeExplain replaces what changes from run to run (the server's
// port, times, the signing key's id) so the text can be compared with a
// golden file.
func normalizeExplain(s, issuer string) string {
	s = strings.ReplaceAll(s, issuer, "http://ISSUER")
	s = strings.ReplaceAll(s, strings.TrimPrefix(issuer, "http://"), "ISSUER")
	s = kidRE.ReplaceAllString(s, `key ${1}KID${1}`)
	s = unixTimeRE.ReplaceAllStringFunc(s, func(v string) string {
		if v == "1700000000" {
			return v // the fixed exp of the expired case
		}
		return "UNIXTIME"
	})
	return rfc3339RE.ReplaceAllString(s, "TIME")
}

func checkGolden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		writeFile(t, path, []byte(got), 0o644)
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if string(want) != got {
		t.Errorf("%s differs (run with -update to accept):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// TestExplainAPIRefusals: the operator API answers only the account root,
// validates its body, and keeps serving.
func TestExplainAPIRefusals(t *testing.T) {
	w := newExplainWorld(t)
	rootKey := aws.Credentials{AccessKeyID: os.Getenv("AWS_ACCESS_KEY_ID"), SecretAccessKey: os.Getenv("AWS_SECRET_ACCESS_KEY")}
	token := w.mint(t, map[string]any{"aud": w.Issuer, "project_path": "mygroup/app", "ref": "main"})
	// A role session (anyone but the root) is refused even when its role
	// may do everything.
	out, errOut, err := w.bash(t, `set -e
aws iam create-role --role-name admin --assume-role-policy-document "$TRUST" >/dev/null
aws iam put-role-policy --role-name admin --policy-name all --policy-document '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}'
aws sts assume-role-with-web-identity --role-arn arn:aws:iam::000000000000:role/admin --role-session-name s1 --web-identity-token "$TOKEN" --query 'Credentials.[AccessKeyId,SecretAccessKey,SessionToken]' --output text`,
		append(slices.Clone(w.root), "TOKEN="+token, "TRUST="+`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"arn:aws:iam::000000000000:oidc-provider/`+w.prov+`"},"Action":"sts:AssumeRoleWithWebIdentity"}]}`)...)
	if err != nil {
		t.Fatalf("%v %s", err, errOut)
	}
	f := strings.Fields(out)
	session := aws.Credentials{AccessKeyID: f[0], SecretAccessKey: f[1], SessionToken: f[2]}
	good := `{"role_arn":"arn:aws:iam::000000000000:role/deploy","token":"` + token + `"}`
	cases := []struct {
		name       string
		creds      *aws.Credentials
		service    string
		body       string
		wantStatus int
		wantCode   string
	}{
		{"unsigned", nil, "oidcfed", good, 403, "MissingAuthenticationToken"},
		{"role session", &session, "oidcfed", good, 403, "AccessDenied"},
		{"signed for another service", &rootKey, "sts", good, 403, "SignatureDoesNotMatch"},
		{"not JSON", &rootKey, "oidcfed", `role_arn=x`, 400, "ValidationError"},
		{"unknown field", &rootKey, "oidcfed", `{"role_arn":"x","token":"t","extra":1}`, 400, "ValidationError"},
		{"no role", &rootKey, "oidcfed", `{"token":"` + token + `"}`, 400, "ValidationError"},
		{"token and claims", &rootKey, "oidcfed", `{"role_arn":"x","token":"t","claims":{}}`, 400, "ValidationError"},
		{"neither", &rootKey, "oidcfed", `{"role_arn":"x"}`, 400, "ValidationError"},
		{"token too long", &rootKey, "oidcfed", `{"role_arn":"x","token":"` + strings.Repeat("a", 20001) + `"}`, 400, "ValidationError"},
		{"body too large", &rootKey, "oidcfed", `{"role_arn":"` + strings.Repeat("a", 70<<10) + `"}`, 413, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, body := explainPost(t, w.URL, tc.creds, tc.service, tc.body)
			if status != tc.wantStatus {
				t.Fatalf("status %d, want %d: %s", status, tc.wantStatus, body)
			}
			if tc.wantCode != "" && !strings.Contains(body, `"code":"`+tc.wantCode+`"`) {
				t.Errorf("body %s, want code %s", body, tc.wantCode)
			}
			if strings.Contains(body, token) || strings.Contains(body, rootKey.SecretAccessKey) {
				t.Errorf("the answer echoes a credential: %s", body)
			}
		})
	}
	// Still serving: the root gets a report.
	if status, body := explainPost(t, w.URL, &rootKey, "oidcfed", good); status != 200 || !strings.Contains(body, `"allowed": true`) {
		t.Fatalf("after the refusals: %d %s", status, body)
	}
}

func explainPost(t *testing.T, base string, creds *aws.Credentials, service, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, base+"/api/v1/explain", bytes.NewReader([]byte(body)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if creds != nil {
		sum := sha256.Sum256([]byte(body))
		if err := v4.NewSigner().SignHTTP(context.Background(), *creds, req, hex.EncodeToString(sum[:]), service, "us-east-1", time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	return resp.StatusCode, b.String()
}

// TestEncodedAuthorizationMessages: with the opt-in setting, an IAM user's
// AccessDenied carries an encoded message that `aws sts
// decode-authorization-message` decodes for the root, not for the user;
// a tampered or empty message gets AWS's errors; without the setting the
// denial is AWS's plain text.
func TestEncodedAuthorizationMessages(t *testing.T) {
	for _, on := range []bool{false, true} {
		t.Run(map[bool]string{false: "off", true: "on"}[on], func(t *testing.T) {
			hermeticEnv(t)
			dir := t.TempDir()
			s := startDev(t, dir, "127.0.0.1:0", func(o *app.Options) { o.NoDemo = true; o.EncodedAuthorizationMessages = on })
			env := app.ReadEnvFile(filepath.Join(dir, app.DevEnvFileName))
			w := &stsWorld{testServer: s, home: t.TempDir()}
			root := []string{"AWS_ACCESS_KEY_ID=" + env["AWS_ACCESS_KEY_ID"], "AWS_SECRET_ACCESS_KEY=" + env["AWS_SECRET_ACCESS_KEY"]}
			out, errOut, err := w.bash(t, `set -e
aws iam create-user --user-name bob >/dev/null
aws iam create-access-key --user-name bob --query 'AccessKey.[AccessKeyId,SecretAccessKey]' --output text`, root...)
			if err != nil {
				t.Fatalf("%v %s", err, errOut)
			}
			f := strings.Fields(out)
			bob := []string{"AWS_ACCESS_KEY_ID=" + f[0], "AWS_SECRET_ACCESS_KEY=" + f[1]}
			_, denied, err := w.bash(t, `aws iam list-roles`, bob...)
			if err == nil || !strings.Contains(denied, "(AccessDenied) when calling the ListRoles operation: User: arn:aws:iam::000000000000:user/bob is not authorized to perform: iam:ListRoles on resource: arn:aws:iam::000000000000:role/* because no identity-based policy allows the iam:ListRoles action") {
				t.Fatalf("denial: %v %s", err, denied)
			}
			_, blob, found := strings.Cut(strings.TrimSpace(denied), "Encoded authorization failure message: ")
			if found != on {
				t.Fatalf("encoded message present=%v with the setting %v: %s", found, on, denied)
			}
			if !on {
				_, errOut, err := w.bash(t, `aws sts decode-authorization-message --encoded-message abcd`, root...)
				if err == nil || !strings.Contains(errOut, "(InvalidAuthorizationMessageException)") {
					t.Fatalf("decode with messages off: %v %s", err, errOut)
				}
				return
			}
			out, errOut, err = w.bash(t, `aws sts decode-authorization-message --encoded-message "$BLOB" --query DecodedMessage --output text`, append(root, "BLOB="+blob)...)
			if err != nil {
				t.Fatalf("root decode: %v %s", err, errOut)
			}
			var msg struct {
				Allowed      bool `json:"allowed"`
				ExplicitDeny bool `json:"explicitDeny"`
				Context      struct {
					Principal struct{ ARN string } `json:"principal"`
					Action    string               `json:"action"`
				} `json:"context"`
			}
			if err := json.Unmarshal([]byte(out), &msg); err != nil {
				t.Fatalf("DecodedMessage %q: %v", out, err)
			}
			if msg.Allowed || msg.ExplicitDeny || msg.Context.Action != "iam:ListRoles" || msg.Context.Principal.ARN != "arn:aws:iam::000000000000:user/bob" {
				t.Errorf("decoded %+v", msg)
			}
			for _, tc := range []struct{ name, who, message, want string }{
				{"bob may not decode", "bob", blob, "(AccessDenied) when calling the DecodeAuthorizationMessage operation: User: arn:aws:iam::000000000000:user/bob is not authorized to perform: sts:DecodeAuthorizationMessage"},
				{"tampered", "root", tamper(blob), "(InvalidAuthorizationMessageException) when calling the DecodeAuthorizationMessage operation: The encoded authorization message is invalid or has expired."},
				{"not base64", "root", "!!!", "(InvalidAuthorizationMessageException)"},
				{"too long", "root", strings.Repeat("A", 10241), "(ValidationError) when calling the DecodeAuthorizationMessage operation: 1 validation error detected: Value at 'encodedMessage' failed to satisfy constraint: Member must have length less than or equal to 10240"},
			} {
				t.Run(tc.name, func(t *testing.T) {
					creds := root
					if tc.who == "bob" {
						creds = bob
					}
					_, errOut, err := w.bash(t, `aws sts decode-authorization-message --encoded-message "$BLOB"`, append(slices.Clone(creds), "BLOB="+tc.message)...)
					if err == nil || !strings.Contains(errOut, tc.want) {
						t.Fatalf("%v %s\nwant %s", err, errOut, tc.want)
					}
				})
			}
		})
	}
}

// tamper changes one character in the middle of a base64 blob (its last
// characters may carry bits the decoder ignores, so changing those can
// leave the bytes as they were).
func tamper(blob string) string {
	mid := len(blob) / 2
	c := byte('A')
	if blob[mid] == 'A' {
		c = 'B'
	}
	return blob[:mid] + string(c) + blob[mid+1:]
}
