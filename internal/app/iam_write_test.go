package app_test

import (
	"encoding/xml"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/oidcfed/oidcfed/internal/app"
	"github.com/oidcfed/oidcfed/internal/iam"
)

// seedKMSVerifyPolicy is seed 000's custom KMS verification policy, with
// the account and region of the dev server.
const seedKMSVerifyPolicy = `{
"Version": "2012-10-17",
"Statement": [
{
"Sid": "KMSSignatureVerification",
"Effect": "Allow",
"Action": [
"kms:GetPublicKey",
"kms:Verify",
"kms:DescribeKey"
],
"Resource": [
"arn:aws:kms:us-east-1:000000000000:alias/kfuse-cosign-signing-key"
]
}
]
}`

// bareDev starts a dev server with no demo IAM entities and returns it
// with the root key's environment.
func bareDev(t *testing.T) (*stsWorld, []string) {
	t.Helper()
	hermeticEnv(t)
	dir := t.TempDir()
	s := startDev(t, dir, "127.0.0.1:0", func(o *app.Options) { o.NoDemo = true })
	env := app.ReadEnvFile(filepath.Join(dir, app.DevEnvFileName))
	root := []string{"AWS_ACCESS_KEY_ID=" + env["AWS_ACCESS_KEY_ID"], "AWS_SECRET_ACCESS_KEY=" + env["AWS_SECRET_ACCESS_KEY"]}
	home := t.TempDir()
	// aws CLI v1 fetches any parameter value that looks like a URL
	// (--client-id-list http://...) unless told not to, with AWS as with
	// oidcfed.
	writeFile(t, filepath.Join(home, "config"), []byte("[default]\ncli_follow_urlparam = false\n"), 0o600)
	return &stsWorld{testServer: s, home: home}, root
}

// TestSeedSetupWithAWSCLI does the seeds' console/Terraform setup with the
// aws CLI against a bare dev server — provider for the dev issuer, role
// with seed 003's trust policy, seed 000's KMS verify policy, the AWS
// managed ECR policy attached — then a job token for the trusted project
// assumes the role and one for another project is refused.
func TestSeedSetupWithAWSCLI(t *testing.T) {
	w, root := bareDev(t)
	issuer := w.URL
	host := strings.TrimPrefix(issuer, "http://")
	trust := strings.NewReplacer("AWS_ACCOUNT", "000000000000", "gitlab.example.com", host).Replace(`{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Effect": "Allow",
      "Principal": {
        "Federated": "arn:aws:iam::AWS_ACCOUNT:oidc-provider/gitlab.example.com"
      },
      "Action": "sts:AssumeRoleWithWebIdentity",
      "Condition": {
        "StringEquals": {
          "gitlab.example.com:sub": "project_path:mygroup/myproject:ref_type:branch:ref:main"
        }
      }
    }
  ]
}`)
	setup := `set -euo pipefail
aws iam create-open-id-connect-provider --url "$ISSUER" --client-id-list "$ISSUER" --query OpenIDConnectProviderArn --output text
aws iam create-role --role-name gitlab-ci-verify --assume-role-policy-document "$TRUST" --query Role.Arn --output text
POLICY_ARN=$(aws iam create-policy --policy-name KloudfuseImageSignatureVerifyPolicy --policy-document "$KMS" --query Policy.Arn --output text)
aws iam attach-role-policy --role-name gitlab-ci-verify --policy-arn arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly
aws iam attach-role-policy --role-name gitlab-ci-verify --policy-arn "$POLICY_ARN"
aws iam attach-role-policy --role-name gitlab-ci-verify --policy-arn arn:aws:iam::aws:policy/IAMReadOnlyAccess
aws iam list-attached-role-policies --role-name gitlab-ci-verify --query 'AttachedPolicies[].PolicyName' --output text
`
	out, errOut, err := w.bash(t, setup, append(root, "ISSUER="+issuer, "TRUST="+trust, "KMS="+seedKMSVerifyPolicy)...)
	if err != nil {
		t.Fatalf("setup: %v\n%s%s", err, out, errOut)
	}
	for _, want := range []string{
		"arn:aws:iam::000000000000:oidc-provider/" + host,
		"arn:aws:iam::000000000000:role/gitlab-ci-verify",
		"AmazonEC2ContainerRegistryReadOnly\tKloudfuseImageSignatureVerifyPolicy\tIAMReadOnlyAccess",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("setup output lacks %q:\n%s", want, out)
		}
	}

	// The seed's job: trade the token, then use the credentials.
	job := `set -euo pipefail
export $(printf "AWS_ACCESS_KEY_ID=%s AWS_SECRET_ACCESS_KEY=%s AWS_SESSION_TOKEN=%s" \
  $(aws sts assume-role-with-web-identity --role-arn "$ROLE_ARN" --role-session-name "GitLabRunner-${CI_PROJECT_ID}-${CI_PIPELINE_ID}" \
    --web-identity-token "$GITLAB_OIDC_TOKEN" --duration-seconds 3600 \
    --query 'Credentials.[AccessKeyId,SecretAccessKey,SessionToken]' --output text))
aws sts get-caller-identity --query Arn --output text
aws iam get-policy --policy-arn arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly --query Policy.AttachmentCount --output text
`
	role := "ROLE_ARN=arn:aws:iam::000000000000:role/gitlab-ci-verify"
	good := w.mint(t, map[string]any{"aud": issuer, "project_path": "mygroup/myproject", "ref": "main"})
	out, errOut, err = w.bash(t, job, role, "GITLAB_OIDC_TOKEN="+good, "CI_PROJECT_ID=42", "CI_PIPELINE_ID=7")
	if err != nil {
		t.Fatalf("job: %v\n%s%s", err, out, errOut)
	}
	if want := "arn:aws:sts::000000000000:assumed-role/gitlab-ci-verify/GitLabRunner-42-7\n1\n"; out != want {
		t.Errorf("job output %q, want %q", out, want)
	}
	other := w.mint(t, map[string]any{"aud": issuer, "project_path": "othergroup/other", "ref": "main"})
	_, errOut, err = w.bash(t, job, role, "GITLAB_OIDC_TOKEN="+other, "CI_PROJECT_ID=43", "CI_PIPELINE_ID=8")
	if err == nil || !strings.Contains(errOut, "(AccessDenied) when calling the AssumeRoleWithWebIdentity operation: Not authorized to perform sts:AssumeRoleWithWebIdentity") {
		t.Errorf("another project's token: err %v, stderr %s", err, errOut)
	}
}

// TestIAMWriteBadInput: each bad write gets IAM's exact error, and nothing
// is stored (checked by reading back afterwards).
func TestIAMWriteBadInput(t *testing.T) {
	w, root := bareDev(t)
	akid, secret := strings.TrimPrefix(root[0], "AWS_ACCESS_KEY_ID="), strings.TrimPrefix(root[1], "AWS_SECRET_ACCESS_KEY=")
	call := func(t *testing.T, params map[string]string) httpResult {
		t.Helper()
		form := url.Values{"Version": {"2010-05-08"}}
		for k, v := range params {
			form.Set(k, v)
		}
		return signedIAM(t, w.URL, akid, secret, form.Encode())
	}
	mustOK := func(t *testing.T, params map[string]string) {
		t.Helper()
		if r := call(t, params); r.Status != 200 {
			t.Fatalf("%v: %d %s", params, r.Status, r.Body)
		}
	}
	const trust = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::000000000000:root"},"Action":"sts:AssumeRole"}]}`
	const allow = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}`
	mustOK(t, map[string]string{"Action": "CreateOpenIDConnectProvider", "Url": "https://gitlab.example.com", "ClientIDList.member.1": "sts.amazonaws.com"})
	mustOK(t, map[string]string{"Action": "CreateRole", "RoleName": "existing", "AssumeRolePolicyDocument": trust})
	mustOK(t, map[string]string{"Action": "CreatePolicy", "PolicyName": "versioned", "PolicyDocument": allow})
	for i := 2; i <= 5; i++ {
		mustOK(t, map[string]string{"Action": "CreatePolicyVersion", "PolicyArn": "arn:aws:iam::000000000000:policy/versioned", "PolicyDocument": allow})
	}
	providerARN := "arn:aws:iam::000000000000:oidc-provider/gitlab.example.com"
	many := func(prefix string, n int, value func(i int) string) map[string]string {
		m := map[string]string{}
		for i := 1; i <= n; i++ {
			m[fmt.Sprintf("%s.member.%d", prefix, i)] = value(i)
		}
		return m
	}
	with := func(base map[string]string, more map[string]string) map[string]string {
		for k, v := range more {
			base[k] = v
		}
		return base
	}
	thumb := func(i int) string { return fmt.Sprintf("%040x", i) }
	bigPolicy := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::` + strings.Repeat("b", 6200) + `"}]}`
	cases := []struct {
		name    string
		params  map[string]string
		status  int
		code    string
		message string
	}{
		{"invalid JSON trust policy", map[string]string{"Action": "CreateRole", "RoleName": "r1", "AssumeRolePolicyDocument": `{"Version":`},
			400, "MalformedPolicyDocument", "This policy contains invalid Json"},
		{"invalid JSON policy", map[string]string{"Action": "CreatePolicy", "PolicyName": "p1", "PolicyDocument": `{nope`},
			400, "MalformedPolicyDocument", "Syntax errors in policy."},
		{"unknown Version", map[string]string{"Action": "CreatePolicy", "PolicyName": "p2", "PolicyDocument": strings.Replace(allow, "2012-10-17", "2013-10-17", 1)},
			400, "MalformedPolicyDocument", "Syntax errors in policy."},
		{"managed policy in the 2008 language", map[string]string{"Action": "CreatePolicy", "PolicyName": "p3", "PolicyDocument": strings.Replace(allow, "2012-10-17", "2008-10-17", 1)},
			400, "MalformedPolicyDocument", "Policy document must be version 2012-10-17 or greater."},
		{"managed policy over its quota", map[string]string{"Action": "CreatePolicy", "PolicyName": "p4", "PolicyDocument": bigPolicy},
			409, "LimitExceeded", "Cannot exceed quota for PolicySize: 6144"},
		{"trust policy over its quota", map[string]string{"Action": "CreateRole", "RoleName": "r2", "AssumeRolePolicyDocument": strings.Replace(trust, `"Action"`, `"Sid":"`+strings.Repeat("a", 2100)+`","Action"`, 1)},
			409, "LimitExceeded", "Cannot exceed quota for ACLSizePerRole: 2048"},
		{"bad policy ARN", map[string]string{"Action": "AttachRolePolicy", "RoleName": "existing", "PolicyArn": "not-an-arn"},
			400, "ValidationError", "ARN not-an-arn is not valid."},
		{"policy that does not exist", map[string]string{"Action": "AttachRolePolicy", "RoleName": "existing", "PolicyArn": "arn:aws:iam::000000000000:policy/nope"},
			404, "NoSuchEntity", "Policy arn:aws:iam::000000000000:policy/nope does not exist or is not attachable."},
		{"101st client id", with(map[string]string{"Action": "CreateOpenIDConnectProvider", "Url": "https://other.example.com"}, many("ClientIDList", 101, func(i int) string { return fmt.Sprint("client-", i) })),
			409, "LimitExceeded", "Cannot exceed quota for ClientIdsPerOpenIdConnectProvider: 100"},
		{"6th thumbprint", with(map[string]string{"Action": "CreateOpenIDConnectProvider", "Url": "https://other.example.com"}, many("ThumbprintList", 6, thumb)),
			400, "InvalidInput", "Thumbprint list must contain fewer than 5 entries."},
		{"6th thumbprint on update", with(map[string]string{"Action": "UpdateOpenIDConnectProviderThumbprint", "OpenIDConnectProviderArn": providerARN}, many("ThumbprintList", 6, thumb)),
			400, "InvalidInput", "Thumbprint list must contain fewer than 5 entries."},
		{"non-https provider URL", map[string]string{"Action": "CreateOpenIDConnectProvider", "Url": "http://other.example.com"},
			400, "InvalidInput", "Invalid Open ID Connect Provider URL. The URL must begin with https://."},
		{"provider URL without a scheme", map[string]string{"Action": "CreateOpenIDConnectProvider", "Url": "other.example.com"},
			400, "ValidationError", "Invalid Open ID Connect Provider URL"},
		{"provider URL with a query", map[string]string{"Action": "CreateOpenIDConnectProvider", "Url": "https://other.example.com/?a=b"},
			400, "InvalidInput", "Invalid Open ID Connect Provider URL."},
		{"duplicate provider", map[string]string{"Action": "CreateOpenIDConnectProvider", "Url": "https://gitlab.example.com"},
			409, "EntityAlreadyExists", "Provider with url https://gitlab.example.com already exists."},
		{"role name with illegal characters", map[string]string{"Action": "CreateRole", "RoleName": "bad name!", "AssumeRolePolicyDocument": trust},
			400, "ValidationError", "1 validation error detected: Value 'bad name!' at 'roleName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]+"},
		{"duplicate role, other case", map[string]string{"Action": "CreateRole", "RoleName": "EXISTING", "AssumeRolePolicyDocument": trust},
			409, "EntityAlreadyExists", "Role with name EXISTING already exists."},
		{"6th policy version", map[string]string{"Action": "CreatePolicyVersion", "PolicyArn": "arn:aws:iam::000000000000:policy/versioned", "PolicyDocument": allow},
			409, "LimitExceeded", "A managed policy can have up to 5 versions. Before you create a new version, you must delete an existing version."},
		{"deleting the default version", map[string]string{"Action": "DeletePolicyVersion", "PolicyArn": "arn:aws:iam::000000000000:policy/versioned", "VersionId": "v1"},
			409, "DeleteConflict", "Cannot delete the default version of a policy."},
		{"a version that does not exist", map[string]string{"Action": "GetPolicyVersion", "PolicyArn": "arn:aws:iam::000000000000:policy/versioned", "VersionId": "v9"},
			404, "NoSuchEntity", "Policy arn:aws:iam::000000000000:policy/versioned version v9 does not exist or is not attachable."},
		{"trust policy with a Resource", map[string]string{"Action": "UpdateAssumeRolePolicy", "RoleName": "existing", "PolicyDocument": strings.Replace(trust, `"Action"`, `"Resource":"*","Action"`, 1)},
			400, "MalformedPolicyDocument", "Has prohibited field Resource"},
		{"modifying an AWS managed policy", map[string]string{"Action": "CreatePolicyVersion", "PolicyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess", "PolicyDocument": allow},
			400, "UnmodifiableEntity", "Cannot modify an AWS managed policy: arn:aws:iam::aws:policy/ReadOnlyAccess"},
		{"deleting a missing provider", map[string]string{"Action": "DeleteOpenIDConnectProvider", "OpenIDConnectProviderArn": "arn:aws:iam::000000000000:oidc-provider/nope.example.com"},
			404, "NoSuchEntity", "OpenId connect Provider arn:aws:iam::000000000000:oidc-provider/nope.example.com cannot be found."},
		{"tag key with illegal characters", map[string]string{"Action": "TagRole", "RoleName": "existing", "Tags.member.1.Key": "bad*key", "Tags.member.1.Value": "v"},
			400, "ValidationError", "1 validation error detected: Value 'bad*key' at 'tags.1.member.key' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]+"},
		{"51 tags", with(map[string]string{"Action": "TagRole", "RoleName": "existing"}, tagMembers(51)),
			400, "ValidationError", "1 validation error detected: Value at 'tags' failed to satisfy constraint: Member must have length less than or equal to 50"},
		{"a misspelt tag field", map[string]string{"Action": "TagRole", "RoleName": "existing", "Tags.member.1.Kay": "k"},
			400, "InvalidParameterValue", `Unknown field "Kay" in a member of list Tags.`},
		{"access key status not in the enum", map[string]string{"Action": "UpdateAccessKey", "UserName": "nobody", "AccessKeyId": "AKIAXXXXXXXXXXXXXXXX", "Status": "Paused"},
			400, "ValidationError", "1 validation error detected: Value 'Paused' at 'status' failed to satisfy constraint: Member must satisfy enum value set: [Active, Inactive]"},
		{"MaxSessionDuration out of range", map[string]string{"Action": "CreateRole", "RoleName": "r3", "AssumeRolePolicyDocument": trust, "MaxSessionDuration": "60"},
			400, "ValidationError", "1 validation error detected: Value '60' at 'maxSessionDuration' failed to satisfy constraint: Member must have value between 3600 and 43200"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp := call(t, tc.params)
			var e stsErrorXML
			if err := xml.Unmarshal(resp.Body, &e); err != nil || resp.Status != tc.status || e.Error.Code != tc.code || e.Error.Message != tc.message {
				t.Fatalf("got %d %s\nwant %d %s %q", resp.Status, resp.Body, tc.status, tc.code, tc.message)
			}
		})
	}
	// Nothing was stored: the account holds exactly what the setup made.
	out, errOut, err := w.bash(t, `set -e
aws iam list-roles --query 'Roles[].RoleName' --output text
aws iam list-open-id-connect-providers --query 'OpenIDConnectProviderList[].Arn' --output text
aws iam list-policies --scope Local --query 'Policies[].[PolicyName,DefaultVersionId]' --output text
aws iam list-policy-versions --policy-arn arn:aws:iam::000000000000:policy/versioned --query 'length(Versions)'
aws iam list-attached-role-policies --role-name existing --query 'length(AttachedPolicies)'
aws iam get-role --role-name existing --query 'Role.AssumeRolePolicyDocument.Statement[0].Resource'
aws iam list-role-tags --role-name existing --query 'length(Tags)'
`, root...)
	if err != nil {
		t.Fatalf("%v %s", err, errOut)
	}
	if want := "existing\n" + providerARN + "\nversioned\tv1\n5\n0\nnull\n0\n"; out != want {
		t.Errorf("after the refused writes:\n%s\nwant:\n%s", out, want)
	}
}

// tagMembers is n distinct Tags.member.N.Key/Value parameters.
func tagMembers(n int) map[string]string {
	m := map[string]string{}
	for i := 1; i <= n; i++ {
		m[fmt.Sprintf("Tags.member.%d.Key", i)] = fmt.Sprint("k", i)
		m[fmt.Sprintf("Tags.member.%d.Value", i)] = "v"
	}
	return m
}

// TestConfigEntitiesReadOnly: config-declared entities show up in the API
// but changing one is refused naming the config file.
func TestConfigEntitiesReadOnly(t *testing.T) {
	hermeticEnv(t)
	dir := t.TempDir()
	const trust = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::000000000000:root"},"Action":"sts:AssumeRole"}]}`
	s := startDev(t, dir, "127.0.0.1:0", func(o *app.Options) {
		o.Roles = []iam.Role{{Name: "declared", TrustPolicy: trust, MaxSessionDuration: 3600e9, DeclaredIn: "the config file /etc/oidcfed.yaml"}}
	})
	env := app.ReadEnvFile(filepath.Join(dir, app.DevEnvFileName))
	w := &stsWorld{testServer: s, home: t.TempDir()}
	root := []string{"AWS_ACCESS_KEY_ID=" + env["AWS_ACCESS_KEY_ID"], "AWS_SECRET_ACCESS_KEY=" + env["AWS_SECRET_ACCESS_KEY"]}
	for _, tc := range []struct{ name, script, want string }{
		{"listed", `aws iam list-roles --query 'Roles[].RoleName' --output text`, "declared\t" + app.DevCIRole + "\t" + app.DevDeployRole},
		{"delete refused", `aws iam delete-role --role-name declared`,
			"(UnmodifiableEntity) when calling the DeleteRole operation: Cannot modify role declared: it is declared in the config file /etc/oidcfed.yaml; change it there."},
		{"policy change refused", `aws iam put-role-policy --role-name declared --policy-name p --policy-document '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}'`,
			"(UnmodifiableEntity) when calling the PutRolePolicy operation: Cannot modify role declared: it is declared in the config file /etc/oidcfed.yaml"},
		{"dev demo role refused", `aws iam update-assume-role-policy --role-name ` + app.DevDeployRole + ` --policy-document '` + trust + `'`,
			"it is declared in --dev mode"},
		{"name taken", `aws iam create-role --role-name DECLARED --assume-role-policy-document '` + trust + `'`,
			"(EntityAlreadyExists) when calling the CreateRole operation: Role with name DECLARED already exists."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, _ := w.bash(t, tc.script, root...)
			if !strings.Contains(out+errOut, tc.want) {
				t.Fatalf("got %s%s\nwant %q", out, errOut, tc.want)
			}
		})
	}
}

// TestIAMUsersAndExplicitDeny: an IAM user's access key signs requests;
// its attached and inline policies decide, and an explicit deny is
// reported as AWS words it.
func TestIAMUsersAndExplicitDeny(t *testing.T) {
	w, root := bareDev(t)
	out, errOut, err := w.bash(t, `set -euo pipefail
aws iam create-user --user-name alice --query User.UserId --output text
aws iam create-access-key --user-name alice --query 'AccessKey.[AccessKeyId,SecretAccessKey]' --output text
`, root...)
	if err != nil {
		t.Fatalf("%v %s", err, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "AIDA") || len(lines[0]) != 21 {
		t.Fatalf("create-user/create-access-key output %q", out)
	}
	key := strings.Fields(lines[1])
	alice := []string{"AWS_ACCESS_KEY_ID=" + key[0], "AWS_SECRET_ACCESS_KEY=" + key[1]}
	steps := []struct {
		name, script string
		creds        []string
		want         string
	}{
		{"alice is who she says", `aws sts get-caller-identity --query Arn --output text`, alice, "arn:aws:iam::000000000000:user/alice\n"},
		{"nothing allowed yet", `aws iam list-roles 2>&1 || true`, alice,
			"(AccessDenied) when calling the ListRoles operation: User: arn:aws:iam::000000000000:user/alice is not authorized to perform: iam:ListRoles on resource: arn:aws:iam::000000000000:role/* because no identity-based policy allows the iam:ListRoles action"},
		{"not even herself", `aws iam get-user 2>&1 || true`, alice,
			"(AccessDenied) when calling the GetUser operation: User: arn:aws:iam::000000000000:user/alice is not authorized to perform: iam:GetUser on resource: user alice because no identity-based policy allows the iam:GetUser action"},
		{"a denial does not tell whether a user exists", `aws iam get-user --user-name nobody 2>&1 || true`, alice,
			"on resource: user nobody because no identity-based policy allows"},
		{"a guard on what she may attach", `aws iam put-user-policy --user-name alice --policy-name guard --policy-document '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:AttachUserPolicy","Resource":"*"},{"Effect":"Deny","Action":"iam:AttachUserPolicy","Resource":"*","Condition":{"ArnEquals":{"iam:PolicyARN":"arn:aws:iam::aws:policy/AdministratorAccess"}}}]}'`, root, ""},
		{"the guard holds (iam:PolicyARN)", `aws iam attach-user-policy --user-name alice --policy-arn arn:aws:iam::aws:policy/AdministratorAccess 2>&1 || true`, alice,
			"with an explicit deny in an identity-based policy"},
		{"attach an AWS managed policy", `aws iam attach-user-policy --user-name alice --policy-arn arn:aws:iam::aws:policy/IAMReadOnlyAccess`, alice, ""},
		{"now allowed", `aws iam list-users --query 'Users[].UserName' --output text`, alice, "alice\n"},
		{"explicit deny inline", `aws iam put-user-policy --user-name alice --policy-name no-users --policy-document '{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"iam:ListUsers","Resource":"*"}]}'`, root, ""},
		{"denied explicitly", `aws iam list-users 2>&1 || true`, alice,
			"(AccessDenied) when calling the ListUsers operation: User: arn:aws:iam::000000000000:user/alice is not authorized to perform: iam:ListUsers on resource: arn:aws:iam::000000000000:user/* with an explicit deny in an identity-based policy"},
		{"delete refused while keys remain", `aws iam delete-user --user-name alice 2>&1 || true`, root,
			"(DeleteConflict) when calling the DeleteUser operation: Cannot delete entity, must delete access keys first."},
		{"deactivate the key", `aws iam update-access-key --user-name alice --access-key-id ` + key[0] + ` --status Inactive`, root, ""},
		{"an inactive key signs nothing", `aws sts get-caller-identity 2>&1 || true`, alice, "(InvalidClientTokenId)"},
		{"entities using the policy", `aws iam list-entities-for-policy --policy-arn arn:aws:iam::aws:policy/IAMReadOnlyAccess --query 'PolicyUsers[].UserName' --output text`, root, "alice\n"},
		{"nothing attached AdministratorAccess", `aws iam list-attached-user-policies --user-name alice --query 'AttachedPolicies[].PolicyName' --output text`, root, "IAMReadOnlyAccess\n"},
	}
	for _, st := range steps {
		out, errOut, err := w.bash(t, st.script, st.creds...)
		if err != nil || !strings.Contains(out, st.want) || (st.want == "" && out != "") {
			t.Fatalf("%s: err %v, out %q, stderr %s\nwant %q", st.name, err, out, errOut, st.want)
		}
	}
}

// TestAPIRoleDecidesLikeConfigRole: the same role declared in config and
// created through the API allows and denies the same requests.
func TestAPIRoleDecidesLikeConfigRole(t *testing.T) {
	hermeticEnv(t)
	dir, listen := t.TempDir(), freeAddr(t)
	issuer := "http://" + listen
	prov := iam.ProviderConditionPrefix(issuer)
	trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"` + iam.ProviderARN("000000000000", issuer) +
		`"},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringEquals":{"` + prov + `:aud":"` + issuer + `"},"StringLike":{"` + prov + `:sub":"project_path:mygroup/*:ref_type:branch:ref:main"}}}]}`
	inline := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:GetRole","Resource":"*"},{"Effect":"Deny","Action":"iam:GetRole","Resource":"arn:aws:iam::000000000000:role/secret*"}]}`
	s := startDev(t, dir, listen, func(o *app.Options) {
		o.Roles = []iam.Role{{Name: "from-config", TrustPolicy: trust, MaxSessionDuration: 3600e9,
			InlinePolicies:    []iam.NamedPolicy{{Name: "p", Document: inline}},
			ManagedPolicyARNs: []string{"arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly"}}}
	})
	env := app.ReadEnvFile(filepath.Join(dir, app.DevEnvFileName))
	w := &stsWorld{testServer: s, home: t.TempDir()}
	root := []string{"AWS_ACCESS_KEY_ID=" + env["AWS_ACCESS_KEY_ID"], "AWS_SECRET_ACCESS_KEY=" + env["AWS_SECRET_ACCESS_KEY"]}
	_, errOut, err := w.bash(t, `set -e
aws iam create-role --role-name from-api --assume-role-policy-document "$TRUST" >/dev/null
aws iam put-role-policy --role-name from-api --policy-name p --policy-document "$INLINE"
aws iam create-role --role-name secret-thing --assume-role-policy-document "$TRUST" >/dev/null
aws iam attach-role-policy --role-name from-api --policy-arn arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly
`, append(root, "TRUST="+trust, "INLINE="+inline)...)
	if err != nil {
		t.Fatalf("%v %s", err, errOut)
	}
	cases := []struct {
		name    string
		claims  map[string]any
		command string
		allowed bool
	}{
		{"trusted project assumes", map[string]any{"project_path": "mygroup/app", "ref": "main"}, "aws sts get-caller-identity", true},
		{"other group refused", map[string]any{"project_path": "other/app", "ref": "main"}, "aws sts get-caller-identity", false},
		{"feature branch refused", map[string]any{"project_path": "mygroup/app", "ref": "feature"}, "aws sts get-caller-identity", false},
		{"inline allow", map[string]any{"project_path": "mygroup/app", "ref": "main"}, "aws iam get-role --role-name from-config", true},
		{"explicit deny wins", map[string]any{"project_path": "mygroup/app", "ref": "main"}, "aws iam get-role --role-name secret-thing", false},
		{"nothing allows", map[string]any{"project_path": "mygroup/app", "ref": "main"}, "aws iam list-roles", false},
	}
	for _, tc := range cases {
		for _, role := range []string{"from-config", "from-api"} {
			t.Run(tc.name+"/"+role, func(t *testing.T) {
				claims := map[string]any{"aud": issuer}
				for k, v := range tc.claims {
					claims[k] = v
				}
				tok := w.mint(t, claims)
				script := `set -e
creds=$(aws sts assume-role-with-web-identity --role-arn "$ROLE" --role-session-name s1 --web-identity-token "$TOKEN" --query 'Credentials.[AccessKeyId,SecretAccessKey,SessionToken]' --output text)
read -r AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN <<<"$creds"
export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN
` + tc.command
				_, errOut, err := w.bash(t, script, "ROLE=arn:aws:iam::000000000000:role/"+role, "TOKEN="+tok)
				if (err == nil) != tc.allowed {
					t.Fatalf("allowed=%v, want %v: %s", err == nil, tc.allowed, errOut)
				}
			})
		}
	}
}

// TestReplacedRoleSessionGetsNothing: a session of a role that was deleted
// and created again under the same name gets none of the new role's
// permissions (AWS ties sessions to the role's unique id).
func TestReplacedRoleSessionGetsNothing(t *testing.T) {
	w, root := bareDev(t)
	host := strings.TrimPrefix(w.URL, "http://")
	trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"arn:aws:iam::000000000000:oidc-provider/` + host +
		`"},"Action":"sts:AssumeRoleWithWebIdentity"}]}`
	const allowIAM = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:*","Resource":"*"}]}`
	makeRole := `aws iam create-role --role-name r --assume-role-policy-document "$TRUST" >/dev/null
aws iam put-role-policy --role-name r --policy-name p --policy-document "$ALLOW"
`
	env := append(root, "TRUST="+trust, "ALLOW="+allowIAM, "ISSUER="+w.URL)
	if out, errOut, err := w.bash(t, "set -euo pipefail\naws iam create-open-id-connect-provider --url \"$ISSUER\" --client-id-list \"$ISSUER\" >/dev/null\n"+makeRole, env...); err != nil {
		t.Fatalf("%v %s %s", err, out, errOut)
	}
	tok := w.mint(t, basicRequest(w.URL))
	out, errOut, err := w.bash(t, `aws sts assume-role-with-web-identity --role-arn arn:aws:iam::000000000000:role/r --role-session-name s1 --web-identity-token "$TOKEN" --query 'Credentials.[AccessKeyId,SecretAccessKey,SessionToken]' --output text`, "TOKEN="+tok)
	if err != nil {
		t.Fatalf("%v %s", err, errOut)
	}
	f := strings.Fields(out)
	old := []string{"AWS_ACCESS_KEY_ID=" + f[0], "AWS_SECRET_ACCESS_KEY=" + f[1], "AWS_SESSION_TOKEN=" + f[2]}
	if _, errOut, err := w.bash(t, `aws iam list-roles`, old...); err != nil {
		t.Fatalf("the session before the replacement: %v %s", err, errOut)
	}
	if out, errOut, err := w.bash(t, "set -euo pipefail\naws iam delete-role-policy --role-name r --policy-name p\naws iam delete-role --role-name r\n"+makeRole, env...); err != nil {
		t.Fatalf("%v %s %s", err, out, errOut)
	}
	_, errOut, err = w.bash(t, `aws iam list-roles`, old...)
	if err == nil || !strings.Contains(errOut, "(AccessDenied) when calling the ListRoles operation") {
		t.Fatalf("the old session after the replacement: err %v, %s", err, errOut)
	}
}

// TestUsersAssumeRoles: IAM users assume roles as within one AWS account —
// a trust policy naming the account needs the user's own Allow; one
// naming the user does not; neither lets another user in.
func TestUsersAssumeRoles(t *testing.T) {
	w, root := bareDev(t)
	const account = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::000000000000:root"},"Action":"sts:AssumeRole"}]}`
	const named = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::000000000000:user/bob"},"Action":"sts:AssumeRole"}]}`
	out, errOut, err := w.bash(t, `set -euo pipefail
aws iam create-role --role-name via-account --assume-role-policy-document "$ACCOUNT" >/dev/null
aws iam create-role --role-name names-bob --assume-role-policy-document "$NAMED" >/dev/null
for u in alice bob; do
  aws iam create-user --user-name $u >/dev/null
  aws iam create-access-key --user-name $u --query 'AccessKey.[AccessKeyId,SecretAccessKey]' --output text
done
aws iam put-user-policy --user-name alice --policy-name assume --policy-document '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}]}'
`, append(root, "ACCOUNT="+account, "NAMED="+named)...)
	if err != nil {
		t.Fatalf("%v %s %s", err, out, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	key := func(i int) []string {
		f := strings.Fields(lines[i])
		return []string{"AWS_ACCESS_KEY_ID=" + f[0], "AWS_SECRET_ACCESS_KEY=" + f[1]}
	}
	alice, bob := key(0), key(1)
	assume := `creds=$(aws sts assume-role --role-arn arn:aws:iam::000000000000:role/$ROLE --role-session-name s1 $EXTRA --query 'Credentials.[AccessKeyId,SecretAccessKey,SessionToken]' --output text) || exit 1
read -r AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN <<<"$creds"
export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN
aws sts get-caller-identity --query Arn --output text`
	for _, tc := range []struct {
		name  string
		creds []string
		role  string
		extra string
		want  string
	}{
		{"the account's trust and the user's Allow", alice, "via-account", "", "arn:aws:sts::000000000000:assumed-role/via-account/s1\n"},
		{"up to the role's maximum", alice, "via-account", "--duration-seconds 3600", "arn:aws:sts::000000000000:assumed-role/via-account/s1\n"},
		{"over the role's maximum", alice, "via-account", "--duration-seconds 7200", "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."},
		{"no Allow of his own", bob, "via-account", "",
			"(AccessDenied) when calling the AssumeRole operation: User: arn:aws:iam::000000000000:user/bob is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::000000000000:role/via-account"},
		{"named in the trust policy", bob, "names-bob", "", "arn:aws:sts::000000000000:assumed-role/names-bob/s1\n"},
		{"another user's trust", alice, "names-bob", "", "(AccessDenied) when calling the AssumeRole operation: User: arn:aws:iam::000000000000:user/alice is not authorized"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, _ := w.bash(t, assume, append(tc.creds, "ROLE="+tc.role, "EXTRA="+tc.extra)...)
			if !strings.Contains(out+errOut, tc.want) {
				t.Fatalf("got %s%s\nwant %q", out, errOut, tc.want)
			}
		})
	}
}
