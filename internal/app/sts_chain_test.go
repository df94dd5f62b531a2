package app_test

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/oidcfed/oidcfed/internal/app"
	"github.com/oidcfed/oidcfed/internal/iam"
)

// TestRoleChainingWithAWSCLI: a web-identity session assumes further roles
// with sts:AssumeRole, as the aws CLI does it, under AWS's rules: the
// target's trust policy must allow the caller; trusting only the account
// also needs the caller's identity policy; chained sessions last at most
// one hour.
func TestRoleChainingWithAWSCLI(t *testing.T) {
	hermeticEnv(t)
	listen := freeAddr(t)
	issuerURL := "http://" + listen
	acct := "000000000000"
	role := func(name string) string { return "arn:aws:iam::" + acct + ":role/" + name }
	awsTrust := func(principal string) string {
		return `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"` + principal + `"},"Action":"sts:AssumeRole"}]}`
	}
	prov := iam.ProviderConditionPrefix(issuerURL)
	callerTrust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"` + iam.ProviderARN(acct, issuerURL) +
		`"},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringEquals":{"` + prov + `:aud":"` + issuerURL + `"}}}]}`
	s := startDev(t, t.TempDir(), listen, func(o *app.Options) {
		o.Roles = []iam.Role{
			{Name: "caller", TrustPolicy: callerTrust, MaxSessionDuration: 12 * time.Hour, InlinePolicies: []iam.NamedPolicy{{Name: "may-chain",
				Document: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"` + role("chain-account") + `"}]}`}}},
			{Name: "chain-explicit", TrustPolicy: awsTrust(role("caller")), MaxSessionDuration: 12 * time.Hour},
			{Name: "chain-account", TrustPolicy: awsTrust("arn:aws:iam::" + acct + ":root")},
			{Name: "chain-account-denied", TrustPolicy: awsTrust("arn:aws:iam::" + acct + ":root")},
			{Name: "chain-untrusting", TrustPolicy: awsTrust(role("someone-else"))},
		}
	})
	w := &stsWorld{testServer: s, home: t.TempDir()}
	tok := w.mint(t, basicRequest(issuerURL))
	out, errOut, err := w.bash(t, `aws sts assume-role-with-web-identity --role-arn "$ROLE" --role-session-name s1 --web-identity-token "$TOKEN" --output json`,
		"ROLE="+role("caller"), "TOKEN="+tok)
	if err != nil {
		t.Fatalf("%v %s", err, errOut)
	}
	var caller struct {
		Credentials struct{ AccessKeyId, SecretAccessKey, SessionToken string }
	}
	if err := json.Unmarshal([]byte(out), &caller); err != nil {
		t.Fatal(err)
	}
	creds := []string{"AWS_ACCESS_KEY_ID=" + caller.Credentials.AccessKeyId, "AWS_SECRET_ACCESS_KEY=" + caller.Credentials.SecretAccessKey,
		"AWS_SESSION_TOKEN=" + caller.Credentials.SessionToken}
	callerARN := "arn:aws:sts::" + acct + ":assumed-role/caller/s1"
	denied := func(target string) string {
		return "An error occurred (AccessDenied) when calling the AssumeRole operation: User: " + callerARN +
			" is not authorized to perform: sts:AssumeRole on resource: " + role(target)
	}
	cases := []struct {
		name, target string
		extra        []string
		env          []string
		want         string // in stdout on success, in stderr on failure
		fail         bool
	}{
		{"trust names the caller's role", "chain-explicit", nil, nil, "arn:aws:sts::" + acct + ":assumed-role/chain-explicit/chained", false},
		{"trust names the account and the caller's policy allows", "chain-account", nil, nil, "assumed-role/chain-account/chained", false},
		{"trust names the account but no caller policy allows", "chain-account-denied", nil, nil, denied("chain-account-denied"), true},
		{"trust names someone else", "chain-untrusting", nil, nil, denied("chain-untrusting"), true},
		{"unknown role", "nope", nil, nil, denied("nope"), true},
		{"chained session over one hour", "chain-explicit", []string{"--duration-seconds", "7200"}, nil,
			"ValidationError) when calling the AssumeRole operation: The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.", true},
		{"tampered session token", "chain-explicit", nil, []string{"AWS_SESSION_TOKEN=" + caller.Credentials.SessionToken[:40] + "AAAA" + caller.Credentials.SessionToken[44:]},
			"(InvalidClientTokenId) when calling the AssumeRole operation: The security token included in the request is invalid", true},
		{"wrong secret key", "chain-explicit", nil, []string{"AWS_SECRET_ACCESS_KEY=" + strings.Repeat("x", 40)},
			"(SignatureDoesNotMatch) when calling the AssumeRole operation: The request signature we calculated does not match the signature you provided.", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"sts", "assume-role", "--role-arn", role(tc.target), "--role-session-name", "chained", "--output", "json"}, tc.extra...)
			cmd := exec.CommandContext(t.Context(), "aws", args...)
			cmd.Env = append(w.awsEnv(creds...), tc.env...)
			got, err := cmd.CombinedOutput()
			if tc.fail != (err != nil) || !strings.Contains(string(got), tc.want) {
				t.Fatalf("err %v, output %s\nwant %q", err, got, tc.want)
			}
			if tc.fail {
				return
			}
			var res struct {
				Credentials struct{ AccessKeyId, SecretAccessKey, SessionToken, Expiration string }
			}
			if err := json.Unmarshal(got, &res); err != nil {
				t.Fatal(err)
			}
			exp, err := time.Parse(time.RFC3339, res.Credentials.Expiration)
			if err != nil || time.Until(exp) > time.Hour+time.Minute {
				t.Fatalf("chained session expires %v (%v): more than one hour", exp, err)
			}
			// The chained credentials work in their turn.
			who := exec.CommandContext(t.Context(), "aws", "sts", "get-caller-identity", "--query", "Arn", "--output", "text")
			who.Env = w.awsEnv("AWS_ACCESS_KEY_ID="+res.Credentials.AccessKeyId, "AWS_SECRET_ACCESS_KEY="+res.Credentials.SecretAccessKey,
				"AWS_SESSION_TOKEN="+res.Credentials.SessionToken)
			arn, err := who.CombinedOutput()
			if err != nil || !strings.Contains(string(arn), "assumed-role/"+tc.target+"/chained") {
				t.Fatalf("get-caller-identity with chained credentials: %v %s", err, arn)
			}
		})
	}
}
