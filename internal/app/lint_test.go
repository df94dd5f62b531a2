package app_test

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/oidcfed/oidcfed/internal/app"
	"github.com/oidcfed/oidcfed/internal/cli"
	"github.com/oidcfed/oidcfed/internal/iam"
)

// TestLintRolesAgainstOidcfed: `oidcfed lint --role/--all` reads roles, the account's
// providers and the roles' inline and AWS-managed policies through oidcfed's IAM API with
// the AWS SDK, as it would from AWS. The dev demo roles are clean; the added ones each show
// one danger; a role trusting a service is skipped.
func TestLintRolesAgainstOidcfed(t *testing.T) {
	hermeticEnv(t)
	dir, listen := t.TempDir(), freeAddr(t)
	issuerURL := "http://" + listen
	const acct = "000000000000"
	prefix := iam.ProviderConditionPrefix(issuerURL)
	webTrust := func(condition string) string {
		return `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"` + iam.ProviderARN(acct, issuerURL) +
			`"},"Action":"sts:AssumeRoleWithWebIdentity","Condition":` + condition + `}]}`
	}
	admin := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`
	srv := startDev(t, dir, listen, func(o *app.Options) {
		o.Roles = []iam.Role{
			{Name: "wide-open", TrustPolicy: webTrust(`{"StringEquals":{"` + prefix + `:aud":"` + issuerURL + `"}}`), MaxSessionDuration: time.Hour,
				InlinePolicies: []iam.NamedPolicy{{Name: "admin", Document: admin}}},
			{Name: "image-pusher", Path: "/ci/", TrustPolicy: webTrust(`{"StringEquals":{"` + prefix + `:aud":"` + issuerURL + `"},"StringLike":{"` + prefix + `:sub":"project_path:mygroup/app:*"}}`),
				MaxSessionDuration: 12 * time.Hour, ManagedPolicyARNs: []string{"arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPowerUser"}},
			{Name: "auditor", TrustPolicy: webTrust(`{"StringEquals":{"` + prefix + `:aud":"` + issuerURL + `","` + prefix + `:sub":"project_path:mygroup/myproject:ref_type:branch:ref:main"}}`),
				MaxSessionDuration: time.Hour, InlinePolicies: []iam.NamedPolicy{{Name: "get-role", Document: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:GetRole","Resource":"*"}]}`}}},
			{Name: "batch", TrustPolicy: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}`, MaxSessionDuration: time.Hour},
		}
	})
	env := app.ReadEnvFile(filepath.Join(dir, app.DevEnvFileName))
	home := t.TempDir()
	for k, v := range map[string]string{
		"AWS_ENDPOINT_URL": env["AWS_ENDPOINT_URL"], "AWS_REGION": "us-east-1",
		"AWS_ACCESS_KEY_ID": env["AWS_ACCESS_KEY_ID"], "AWS_SECRET_ACCESS_KEY": env["AWS_SECRET_ACCESS_KEY"], "AWS_SESSION_TOKEN": "",
		"AWS_PROFILE": "", "AWS_CONFIG_FILE": filepath.Join(home, "config"), "AWS_SHARED_CREDENTIALS_FILE": filepath.Join(home, "credentials"),
	} {
		t.Setenv(k, v)
	}
	run := func(t *testing.T, args ...string) (int, string, string) {
		t.Helper()
		var stdout, stderr bytes.Buffer
		code := cli.Execute(t.Context(), append([]string{"lint"}, args...), &stdout, &stderr)
		return code, stdout.String(), stderr.String()
	}

	t.Run("all roles as JSON", func(t *testing.T) {
		code, out, errOut := run(t, "--all", "--format", "json")
		// stderr has the outcome alone: no warning that providers or permissions were unknown.
		if code != 2 || strings.TrimSpace(errOut) != "oidcfed: lint: 2 findings at or above high" {
			t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
		}
		var report struct {
			Sources []struct {
				Source   string
				Skipped  string
				Error    string
				Findings []struct{ ID, Severity, Message string }
			}
		}
		if err := json.Unmarshal([]byte(out), &report); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		got := map[string][]string{}
		for _, s := range report.Sources {
			if s.Error != "" {
				t.Errorf("%s: %s", s.Source, s.Error)
			}
			if s.Skipped != "" {
				got[s.Source] = []string{"skipped"}
				continue
			}
			got[s.Source] = []string{}
			for _, f := range s.Findings {
				got[s.Source] = append(got[s.Source], f.ID+":"+f.Severity)
				if f.ID == "OIDC003" && !strings.Contains(f.Message, "ecr:") {
					t.Errorf("OIDC003 does not name the managed policy's write action: %s", f.Message)
				}
			}
		}
		want := map[string][]string{
			// The dev issuer is not a shared one: an unbound sub is High, not Critical.
			"iam:role/wide-open":            {"OIDC001:high"},
			"iam:role/image-pusher":         {"OIDC003:high", "OIDC015:medium"},
			"iam:role/batch":                {"skipped"},
			"iam:role/auditor":              {},
			"iam:role/" + app.DevDeployRole: {}, "iam:role/" + app.DevCIRole: {},
			"iam:role/" + app.DevSignRole: {}, "iam:role/" + app.DevVerifyRole: {},
		}
		if len(got) != len(want) {
			t.Fatalf("sources %v, want %v", got, want)
		}
		for src, w := range want {
			if strings.Join(got[src], " ") != strings.Join(w, " ") {
				t.Errorf("%s: %v, want %v", src, got[src], w)
			}
		}
	})

	t.Run("nothing critical on a self-managed issuer", func(t *testing.T) {
		if code, out, errOut := run(t, "--all", "--fail-on", "critical", "--verbose"); code != 0 ||
			!strings.Contains(out, "iam:role/batch: skipped: the trust policy has no web-identity statement") ||
			!strings.Contains(out, "iam:role/"+app.DevDeployRole+": no findings") {
			t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
		}
	})

	t.Run("one clean role", func(t *testing.T) {
		if code, out, errOut := run(t, "--role", app.DevSignRole); code != 0 || !strings.Contains(out, "0 findings in 1 source") {
			t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
		}
	})

	t.Run("a role with a finding, as SARIF", func(t *testing.T) {
		code, out, _ := run(t, "--role", "wide-open", "--format", "sarif")
		if code != 2 || !strings.Contains(out, `"uri": "iam:role/wide-open"`) || !strings.Contains(out, `"ruleId": "OIDC001"`) {
			t.Fatalf("exit %d\n%s", code, out)
		}
	})

	// A caller that may read roles but neither the providers nor the role's policies still
	// gets the trust checks, told on stderr what was not checked; the wildcard ref on a role
	// that might write or sign is then Info.
	t.Run("a caller that cannot read permissions", func(t *testing.T) {
		tok, _ := mintJSON(t, srv.URL, srv.Token, basicRequest(issuerURL))
		code, out, errOut := runCLI(t, "assume", "--role-arn", "arn:aws:iam::"+acct+":role/auditor", "--token", tok, "--format", "json")
		var session struct {
			Credentials struct{ AccessKeyId, SecretAccessKey, SessionToken string }
		}
		if err := json.Unmarshal([]byte(out), &session); code != 0 || err != nil {
			t.Fatalf("assume: exit %d %v\n%s", code, err, errOut)
		}
		t.Setenv("AWS_ACCESS_KEY_ID", session.Credentials.AccessKeyId)
		t.Setenv("AWS_SECRET_ACCESS_KEY", session.Credentials.SecretAccessKey)
		t.Setenv("AWS_SESSION_TOKEN", session.Credentials.SessionToken)
		code, out, errOut = run(t, "--role", "image-pusher")
		if code != 0 || !strings.Contains(errOut, "the account's OIDC providers are unknown (AccessDenied") ||
			!strings.Contains(errOut, "role image-pusher: its permissions are unknown (AccessDenied") ||
			!strings.Contains(out, "INFO     OIDC003") || !strings.Contains(out, "MEDIUM   OIDC015") {
			t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
		}
	})

	t.Run("unknown role", func(t *testing.T) {
		code, out, errOut := run(t, "--role", "missing")
		if code != 1 || !strings.Contains(out, "iam:role/missing: error: NoSuchEntity") {
			t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
		}
	})
}
