package app_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/oidcfed/oidcfed/internal/app"
	"github.com/oidcfed/oidcfed/internal/iam"
)

// TestIAMReadAPIWithAWSCLI: the aws CLI reads roles, inline and attached
// policies and OIDC providers; every call is signed and authorized by the
// caller's identity policies (root may do anything).
func TestIAMReadAPIWithAWSCLI(t *testing.T) {
	hermeticEnv(t)
	dir, listen := t.TempDir(), freeAddr(t)
	issuerURL := "http://" + listen
	const acct = "000000000000"
	trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"` + iam.ProviderARN(acct, issuerURL) +
		`"},"Action":"sts:AssumeRoleWithWebIdentity"}]}`
	readPolicy := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:GetRole","iam:ListRoles","iam:GetRolePolicy"],"Resource":"*"}]}`
	s := startDev(t, dir, listen, func(o *app.Options) {
		o.Roles = []iam.Role{
			{Name: "reader", Path: "/ops/", TrustPolicy: trust, MaxSessionDuration: time.Hour,
				InlinePolicies:    []iam.NamedPolicy{{Name: "read-iam", Document: readPolicy}},
				ManagedPolicyARNs: []string{"arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly"}},
			{Name: "nobody", TrustPolicy: trust, MaxSessionDuration: time.Hour},
		}
	})
	env := app.ReadEnvFile(filepath.Join(dir, app.DevEnvFileName))
	root := []string{"AWS_ACCESS_KEY_ID=" + env["AWS_ACCESS_KEY_ID"], "AWS_SECRET_ACCESS_KEY=" + env["AWS_SECRET_ACCESS_KEY"]}
	w := &stsWorld{testServer: s, home: t.TempDir()}
	session := func(t *testing.T, role string) []string {
		tok := w.mint(t, basicRequest(issuerURL))
		out, errOut, err := w.bash(t, `aws sts assume-role-with-web-identity --role-arn "$ROLE" --role-session-name s1 --web-identity-token "$TOKEN" --output json`,
			"ROLE=arn:aws:iam::"+acct+":role/"+role, "TOKEN="+tok)
		if err != nil {
			t.Fatalf("%v %s", err, errOut)
		}
		var r struct {
			Credentials struct{ AccessKeyId, SecretAccessKey, SessionToken string }
		}
		_ = json.Unmarshal([]byte(out), &r)
		return []string{"AWS_ACCESS_KEY_ID=" + r.Credentials.AccessKeyId, "AWS_SECRET_ACCESS_KEY=" + r.Credentials.SecretAccessKey,
			"AWS_SESSION_TOKEN=" + r.Credentials.SessionToken}
	}
	aws := func(t *testing.T, creds []string, args ...string) (string, error) {
		cmd := exec.CommandContext(t.Context(), "aws", args...)
		cmd.Env = w.awsEnv(creds...)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	reader, nobody := session(t, "ops/reader"), session(t, "nobody")
	cases := []struct {
		name  string
		creds []string
		args  []string
		want  string
		fail  bool
	}{
		{"root lists roles", root, []string{"iam", "list-roles", "--query", "Roles[].Arn", "--output", "text"},
			"arn:aws:iam::000000000000:role/ops/reader", false},
		{"root pages through roles", root, []string{"iam", "list-roles", "--max-items", "1", "--query", "length(Roles)"}, "1", false},
		{"root reads a provider", root, []string{"iam", "get-open-id-connect-provider", "--open-id-connect-provider-arn", iam.ProviderARN(acct, issuerURL), "--query", "ClientIDList[0]", "--output", "text"},
			issuerURL, false},
		{"a permitted session reads a role", reader, []string{"iam", "get-role", "--role-name", "reader", "--query", "Role.AssumeRolePolicyDocument.Statement[0].Action", "--output", "text"},
			"sts:AssumeRoleWithWebIdentity", false},
		{"... and an inline policy, decoded", reader, []string{"iam", "get-role-policy", "--role-name", "reader", "--policy-name", "read-iam", "--query", "PolicyDocument.Statement[0].Action[0]", "--output", "text"},
			"iam:GetRole", false},
		{"... but not what its policy leaves out", reader, []string{"iam", "list-attached-role-policies", "--role-name", "reader"},
			"(AccessDenied) when calling the ListAttachedRolePolicies operation: User: arn:aws:sts::000000000000:assumed-role/reader/s1 is not authorized to perform: iam:ListAttachedRolePolicies on resource: role reader because no identity-based policy allows the iam:ListAttachedRolePolicies action", true},
		{"a session without IAM permissions", nobody, []string{"iam", "get-role", "--role-name", "reader"},
			"(AccessDenied) when calling the GetRole operation: User: arn:aws:sts::000000000000:assumed-role/nobody/s1 is not authorized to perform: iam:GetRole", true},
		{"root lists attached policies", root, []string{"iam", "list-attached-role-policies", "--role-name", "reader", "--query", "AttachedPolicies[0].PolicyName", "--output", "text"},
			"AmazonEC2ContainerRegistryReadOnly", false},
		{"unknown role", root, []string{"iam", "get-role", "--role-name", "missing"},
			"(NoSuchEntity) when calling the GetRole operation: The role with name missing cannot be found.", true},
		{"unknown inline policy", root, []string{"iam", "get-role-policy", "--role-name", "reader", "--policy-name", "nope"},
			"(NoSuchEntity) when calling the GetRolePolicy operation: The role policy with name nope cannot be found.", true},
		{"bad marker", root, []string{"iam", "list-roles", "--starting-token", "garbage!"},
			"", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, err := aws(t, tc.creds, tc.args...)
			if tc.fail != (err != nil) || !strings.Contains(out, tc.want) {
				t.Fatalf("err %v, output %s\nwant %q", err, out, tc.want)
			}
		})
	}
}

// TestIAMBadInput: malformed IAM calls, signed with the root key, get
// IAM's error codes and statuses.
func TestIAMBadInput(t *testing.T) {
	hermeticEnv(t)
	dir := t.TempDir()
	s := startDev(t, dir, "127.0.0.1:0", nil)
	env := app.ReadEnvFile(filepath.Join(dir, app.DevEnvFileName))
	cases := []struct {
		name, body string
		status     int
		code       string
	}{
		{"missing RoleName", "Action=GetRole&Version=2010-05-08", 400, "ValidationError"},
		{"MaxItems 0", "Action=ListRoles&Version=2010-05-08&MaxItems=0", 400, "ValidationError"},
		{"MaxItems not a number", "Action=ListRoles&Version=2010-05-08&MaxItems=x", 400, "ValidationError"},
		{"bad Marker", "Action=ListRoles&Version=2010-05-08&Marker=%21%21", 400, "InvalidInput"},
		{"unknown action", "Action=DeleteEverything&Version=2010-05-08", 400, "InvalidAction"},
		{"wrong version", "Action=ListRoles&Version=2011-06-15", 400, "InvalidAction"},
		{"repeated parameter", "Action=GetRole&Version=2010-05-08&RoleName=a&RoleName=b", 400, "InvalidParameterValue"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp := signedIAM(t, s.URL, env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"], tc.body)
			var e stsErrorXML
			if err := xml.Unmarshal(resp.Body, &e); err != nil || resp.Status != tc.status || e.Error.Code != tc.code {
				t.Fatalf("%d %s, want %d %s", resp.Status, resp.Body, tc.status, tc.code)
			}
			if !strings.Contains(string(resp.Body), `xmlns="https://iam.amazonaws.com/doc/2010-05-08/"`) {
				t.Fatalf("not IAM's namespace: %s", resp.Body)
			}
		})
	}
}

func signedIAM(t *testing.T, base, akid, secret, body string) httpResult {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, base+"/", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	sum := sha256.Sum256([]byte(body))
	err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: akid, SecretAccessKey: secret}, req,
		hex.EncodeToString(sum[:]), "iam", "us-east-1", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return do(t, req.Method, req.URL.String(), req.Header, []byte(body))
}
