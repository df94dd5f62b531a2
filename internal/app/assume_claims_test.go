package app_test

import (
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/oidcfed/oidcfed/internal/app"
	"github.com/oidcfed/oidcfed/internal/iam"
)

// TestAssumeCommandAgainstOidcfed: `oidcfed assume` trades a dev token
// for credentials, and prints STS's code and message when refused.
func TestAssumeCommandAgainstOidcfed(t *testing.T) {
	w := newSTSWorld(t)
	t.Setenv("AWS_ENDPOINT_URL", w.URL)
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(w.home, "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(w.home, "none"))
	good := w.mint(t, basicRequest(w.Issuer))
	code, out, errOut := runCLI(t, "assume", "--role-arn", w.deployRole, "--token", good, "--session-name", "cli")
	if code != 0 || !strings.Contains(out, "export AWS_ACCESS_KEY_ID=ASIA") || !strings.Contains(out, "export AWS_SESSION_TOKEN=") {
		t.Fatalf("assume: exit %d out %q err %q", code, out, errOut)
	}
	wrongAud := w.mint(t, map[string]any{"aud": "https://elsewhere.example", "project_path": "mygroup/myproject", "ref": "main"})
	code, out, errOut = runCLI(t, "assume", "--role-arn", w.deployRole, "--token", wrongAud)
	if code != 1 || out != "" || !strings.Contains(errOut, "InvalidIdentityToken: Incorrect token audience") {
		t.Fatalf("refused assume: exit %d out %q err %q", code, out, errOut)
	}
}

// TestClaimConditionKeys: with claim_condition_keys: all, a trust policy
// can test any token claim (<provider>:ref_protected, ...); without it, as
// on AWS, such a key is missing and the condition fails.
func TestClaimConditionKeys(t *testing.T) {
	hermeticEnv(t)
	listen := freeAddr(t)
	issuerURL := "http://" + listen
	prov := iam.ProviderConditionPrefix(issuerURL)
	trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"` + iam.ProviderARN("000000000000", issuerURL) +
		`"},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringEquals":{"` + prov + `:aud":"` + issuerURL + `","` +
		prov + `:ref_protected":"true","` + prov + `:pipeline_source":"push"}}}]}`
	// STS puts into the context only the claims a trust policy reads: as
	// condition keys, or (here, with the key in another case) through a
	// policy variable.
	byVariable := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"` + iam.ProviderARN("000000000000", issuerURL) +
		`"},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringEquals":{"` + prov + `:aud":"` + issuerURL + `","` +
		prov + `:ref":"${` + strings.ToUpper(prov) + `:Environment}"}}}]}`
	for _, tc := range []struct {
		name      string
		trust     string
		allKeys   bool
		protected string
		env       string
		want      int
	}{
		{"keys exposed, protected ref", trust, true, "true", "main", http.StatusOK},
		{"keys exposed, unprotected ref", trust, true, "false", "main", http.StatusForbidden},
		{"AWS's keys only", trust, false, "true", "main", http.StatusForbidden},
		{"claim read by a policy variable", byVariable, true, "true", "main", http.StatusOK},
		{"policy variable, another value", byVariable, true, "true", "other", http.StatusForbidden},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := startDev(t, t.TempDir(), listen, func(o *app.Options) {
				o.OIDCProviders = []iam.OIDCProvider{{URL: issuerURL, ClientIDs: []string{issuerURL}, AllowInsecureHTTP: true, AllClaimConditionKeys: tc.allKeys}}
				o.Roles = []iam.Role{{Name: "protected-only", TrustPolicy: tc.trust, MaxSessionDuration: time.Hour}}
			})
			tok, _ := mintJSON(t, s.URL, s.Token, map[string]any{"aud": issuerURL, "project_path": "g/p", "environment": tc.env, "ref": "main", "ref_protected": tc.protected})
			resp := do(t, http.MethodPost, s.URL+"/", http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}, []byte(url.Values{
				"Action": {"AssumeRoleWithWebIdentity"}, "Version": {"2011-06-15"}, "RoleArn": {"arn:aws:iam::000000000000:role/protected-only"},
				"RoleSessionName": {"s1"}, "WebIdentityToken": {tok}}.Encode()))
			if resp.Status != tc.want {
				t.Fatalf("status %d %s, want %d", resp.Status, resp.Body, tc.want)
			}
			s.stop(t)
		})
	}
}
