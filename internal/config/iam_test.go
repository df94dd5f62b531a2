package config

import (
	"strings"
	"testing"
)

// TestIAMErrors: every rule on the IAM sections reports file:line and the
// full key path.
// Valid documents for fixtures that are not about the policy itself.
const (
	trustDoc  = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"arn:aws:iam::123456789012:oidc-provider/gitlab.example.com"},"Action":"sts:AssumeRoleWithWebIdentity"}]}`
	inlineDoc = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:Verify","Resource":"*"}]}`
)

func TestIAMErrors(t *testing.T) {
	const head = "issuer:\n  url: https://ci.example.com\n"                               // lines 1-2
	provider := func(body string) string { return head + "oidc_providers:\n  - " + body } // entry on line 4
	role := func(body string) string {
		return head + "roles:\n  - name: r\n    trust_policy: '" + trustDoc + "'\n" + body // role keys from line 6 on
	}
	longPolicy := "'{\"a\":\"" + strings.Repeat("x", 2050) + "\"}'"
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"account id letters", head + "account_id: abc\n", `oidcfed.yaml:3: account_id: "abc" is not a 12-digit AWS account id`},
		{"account id as number", head + "account_id: 123456789012\n", `oidcfed.yaml:3: account_id: expected a string, got integer "123456789012" (quote it`},
		{"bad region", head + "region: Mars\n", `oidcfed.yaml:3: region: "Mars" is not a region name`},
		{"provider http without flag", provider("url: http://127.0.0.1:9000\n    client_ids: [a]\n"), `oidcfed.yaml:4: oidc_providers[0].url: "http://127.0.0.1:9000" must begin with https://`},
		{"provider http off loopback", provider("url: http://gitlab.example.com\n    client_ids: [a]\n    allow_insecure_http: true\n"), `oidc_providers[0].url: "http://gitlab.example.com": http:// is allowed only for loopback hosts`},
		{"provider trailing slash", provider("url: https://gitlab.example.com/\n    client_ids: [a]\n"), `must not end with /`},
		{"provider query", provider("url: https://gitlab.example.com?x=1\n    client_ids: [a]\n"), `must not have a query, fragment or user info`},
		{"provider userinfo", provider("url: https://u:p@gitlab.example.com\n    client_ids: [a]\n"), `must not have a query, fragment or user info`},
		{"provider without client ids", provider("url: https://gitlab.example.com\n"), `oidc_providers[0].client_ids: at least one client id`},
		{"empty client id", provider("url: https://gitlab.example.com\n    client_ids: ['']\n"), `oidcfed.yaml:5: oidc_providers[0].client_ids[0]: must be 1 to 255 characters`},
		{"bad thumbprint", provider("url: https://gitlab.example.com\n    client_ids: [a]\n    thumbprints: [abc]\n"), `oidcfed.yaml:6: oidc_providers[0].thumbprints[0]: "abc" is not a 40-character hex SHA-1 thumbprint`},
		{"six thumbprints", provider("url: https://gitlab.example.com\n    client_ids: [a]\n    thumbprints: [" + strings.Repeat(strings.Repeat("a", 40)+",", 5) + strings.Repeat("a", 40) + "]\n"), `at most 5 thumbprints`},
		{"claim keys value", provider("url: https://gitlab.example.com\n    client_ids: [a]\n    claim_condition_keys: some\n"), `oidc_providers[0].claim_condition_keys: "some"`},
		{"insecure flag not a bool", provider("url: https://gitlab.example.com\n    client_ids: [a]\n    allow_insecure_http: yes\n"), `oidcfed.yaml:6: oidc_providers[0].allow_insecure_http: expected true or false`},
		{"duplicate provider", head + "oidc_providers:\n  - url: https://g.example\n    client_ids: [a]\n  - url: https://g.example\n    client_ids: [a]\n", `oidcfed.yaml:6: oidc_providers[1].url: "https://g.example" is already declared by oidc_providers[0]`},
		{"unknown provider key", provider("url: https://g.example\n    client_ids: [a]\n    audience: x\n"), `oidcfed.yaml:6: unknown key "oidc_providers[0].audience"`},
		{"providers not a list", head + "oidc_providers: {url: x}\n", `oidcfed.yaml:3: oidc_providers: expected a list`},
		{"role name with space", head + "roles:\n  - name: my role\n    trust_policy: '" + trustDoc + "'\n", `oidcfed.yaml:4: roles[0].name: "my role" must be 1 to 64 characters`},
		{"role names clash ignoring case", head + "roles:\n  - name: Deploy\n    trust_policy: '" + trustDoc + "'\n  - name: deploy\n    trust_policy: '" + trustDoc + "'\n", `oidcfed.yaml:6: roles[1].name: "deploy" is already declared by roles[0]`},
		{"role path without slashes", role("    path: ci\n"), `oidcfed.yaml:6: roles[0].path: "ci" must be / or begin and end with /`},
		{"session too short", role("    max_session_duration: 900\n"), `oidcfed.yaml:6: roles[0].max_session_duration: 900 is outside 3600 to 43200 seconds`},
		{"session too long", role("    max_session_duration: 43201\n"), `is outside 3600 to 43200 seconds`},
		{"session as duration", role("    max_session_duration: 1h\n"), `oidcfed.yaml:6: roles[0].max_session_duration: expected an integer`},
		{"trust policy missing", head + "roles:\n  - name: r\n", `oidcfed.yaml:4: roles[0].trust_policy: is required`},
		{"trust policy not JSON", head + "roles:\n  - name: r\n    trust_policy: 'nope'\n", `oidcfed.yaml:5: roles[0].trust_policy: MalformedPolicyDocument: `},
		{"trust policy too long", head + "roles:\n  - name: r\n    trust_policy: " + longPolicy + "\n", `roles[0].trust_policy: is 2058 characters; the limit is 2048`},
		{"trust policy without a principal", head + "roles:\n  - name: r\n    trust_policy: '" + inlineDoc + "'\n", `oidcfed.yaml:5: roles[0].trust_policy: MalformedPolicyDocument: `},
		{"inline policy with a principal", role("    inline_policies:\n      - name: p\n        document: '" + trustDoc + "'\n"),
			`roles[0].inline_policies[0].document: MalformedPolicyDocument: Policy document should not specify a principal.`},
		{"lint on write mode", head + "iam:\n  lint_on_write: strict\n", `iam.lint_on_write: "strict": want off, warn or deny`},
		{"registry URL with a path", head + "ecr:\n  registry_url: https://r.example/v2\n", `oidcfed.yaml:4: ecr.registry_url: "https://r.example/v2" is not http(s)://host[:port]`},
		{"registry URL without a scheme", head + "ecr:\n  registry_url: r.example\n", `ecr.registry_url: "r.example" is not http(s)://host[:port]`},
		{"negative blob size", head + "ecr:\n  max_blob_size: -1\n", `oidcfed.yaml:4: ecr.max_blob_size: -1 must not be negative`},
		{"lint fail-on severity", head + "iam:\n  lint_fail_on: severe\n", `iam.lint_fail_on: "severe": want info, low, medium, high or critical`},
		{"session key generation 0", head + "sts:\n  session_key_generation: 0\n", `oidcfed.yaml:4: sts.session_key_generation: 0: want a generation from 1`},
		{"inline policy name", role("    inline_policies:\n      - name: 'a b'\n        document: '" + inlineDoc + "'\n"), `oidcfed.yaml:7: roles[0].inline_policies[0].name`},
		{"managed arn", role("    managed_policy_arns: [AmazonEC2ContainerRegistryReadOnly]\n"), `oidcfed.yaml:6: roles[0].managed_policy_arns[0]: "AmazonEC2ContainerRegistryReadOnly" is not a policy ARN`},
		{"eleven managed policies", role("    managed_policy_arns: [" + strings.TrimSuffix(strings.Repeat("arn:aws:iam::aws:policy/P,", 11), ",") + "]\n"), `at most 10 managed policies per role`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Parse("oidcfed.yaml", []byte(tt.in))
			if err == nil {
				t.Fatalf("Parse succeeded: %+v", f)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error\n%v\ndoes not contain\n%s", err, tt.want)
			}
			checkErrorLines(t, "oidcfed.yaml", err)
		})
	}
}

func TestIAMDefaults(t *testing.T) {
	f, err := Parse("oidcfed.yaml", []byte("issuer:\n  url: https://ci.example.com\nroles:\n  - name: r\n    trust_policy: '"+trustDoc+"'\n"))
	if err != nil {
		t.Fatal(err)
	}
	if f.AccountID != "000000000000" || f.Region != "us-east-1" || f.Roles[0].Path != "/" || f.Roles[0].MaxSessionDuration != 3600 || f.STS.SessionKeyGeneration != 1 {
		t.Fatalf("defaults: %+v", f)
	}
}
