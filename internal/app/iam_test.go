package app_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/oidcfed/oidcfed/internal/app"
	"github.com/oidcfed/oidcfed/internal/iam"
)

// TestDevDeclaresProviderAndRoles: dev mode trusts its own issuer (client
// id = the issuer URL, GitLab's default audience) and declares the two demo
// roles of the issue, and dev.env names them.
func TestDevDeclaresProviderAndRoles(t *testing.T) {
	hermeticEnv(t)
	dir := t.TempDir()
	s := startDev(t, dir, "127.0.0.1:0", nil)
	ctx := t.Context()
	p, err := s.IAM.OIDCProviderByURL(ctx, s.Issuer)
	if err != nil || len(p.ClientIDs) != 1 || p.ClientIDs[0] != s.Issuer || !p.AllowInsecureHTTP {
		t.Fatalf("dev provider %+v %v", p, err)
	}
	env := app.ReadEnvFile(filepath.Join(dir, app.DevEnvFileName))
	prefix := iam.ProviderConditionPrefix(s.Issuer)
	cases := []struct {
		name, envKey, op, sub string
	}{
		{app.DevDeployRole, "OIDCFED_DEPLOY_ROLE_ARN", "StringEquals", "project_path:mygroup/myproject:ref_type:branch:ref:main"},
		{app.DevCIRole, "OIDCFED_CI_ROLE_ARN", "StringLike", "project_path:mygroup/*"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			arn := env[tc.envKey]
			if arn != "arn:aws:iam::000000000000:role/"+tc.name {
				t.Fatalf("%s = %q", tc.envKey, arn)
			}
			r, err := s.IAM.RoleByARN(ctx, arn)
			if err != nil {
				t.Fatal(err)
			}
			var doc struct {
				Statement []struct {
					Principal map[string]string
					Action    string
					Condition map[string]map[string]string
				}
			}
			if err := json.Unmarshal([]byte(r.TrustPolicy), &doc); err != nil {
				t.Fatal(err)
			}
			st := doc.Statement[0]
			if st.Principal["Federated"] != p.ARN || st.Action != "sts:AssumeRoleWithWebIdentity" ||
				st.Condition["StringEquals"][prefix+":aud"] != s.Issuer || st.Condition[tc.op][prefix+":sub"] != tc.sub {
				t.Fatalf("trust policy %s", r.TrustPolicy)
			}
		})
	}
	if env["AWS_REGION"] != "us-east-1" {
		t.Fatalf("AWS_REGION = %q", env["AWS_REGION"])
	}
}

// TestServeRefusesBadCABundle: a provider's CA bundle must exist and hold
// a certificate; the error names the key.
func TestServeRefusesBadCABundle(t *testing.T) {
	hermeticEnv(t)
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "ca.pem")
	writeFile(t, notPEM, []byte("not a certificate"), 0o644)
	for name, bundle := range map[string]string{"missing": filepath.Join(dir, "nope.pem"), "not PEM": notPEM} {
		t.Run(name, func(t *testing.T) {
			cfg := filepath.Join(dir, "oidcfed.yaml")
			writeFile(t, cfg, []byte("listen: 127.0.0.1:1\ndata_dir: "+dir+"/data\nmaster_key_file: "+dir+"/mk\nissuer:\n  url: https://ci.example.com\noidc_providers:\n  - url: https://gitlab.example.com\n    client_ids: [a]\n    ca_bundle_file: "+bundle+"\n"), 0o600)
			code, _, stderr := runCLI(t, "serve", "--config", cfg)
			if code != 1 || !strings.Contains(stderr, "oidc_providers[0].ca_bundle_file") {
				t.Fatalf("exit %d, stderr %q", code, stderr)
			}
			if _, err := os.Stat(filepath.Join(dir, "data")); err == nil {
				t.Fatal("data directory created despite the config error")
			}
		})
	}
}
