package app_test

import (
	"encoding/json"
	"encoding/xml"
	"net/url"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/oidcfed/oidcfed/internal/app"
)

// simPosition, simStatement and simResult are the CLI's JSON for
// EvaluationResults.
type simPosition struct{ Line, Column int }

type simStatement struct {
	SourcePolicyId, SourcePolicyType string
	StartPosition, EndPosition       simPosition
}

type simResourceResult struct {
	EvalResourceName, EvalResourceDecision string
	MatchedStatements                      []simStatement
	MissingContextValues                   []string
	EvalDecisionDetails                    map[string]string
	PermissionsBoundaryDecisionDetail      *struct{ AllowedByPermissionsBoundary bool }
}

type simResult struct {
	EvalActionName, EvalResourceName, EvalDecision string
	MatchedStatements                              []simStatement
	MissingContextValues                           []string
	EvalDecisionDetails                            map[string]string
	PermissionsBoundaryDecisionDetail              *struct{ AllowedByPermissionsBoundary bool }
	ResourceSpecificResults                        []simResourceResult
}

// simulateWorld is a dev server with its demo roles, the root key's
// environment and a CLI home.
func simulateWorld(t *testing.T) (*stsWorld, []string) {
	t.Helper()
	hermeticEnv(t)
	dir := t.TempDir()
	s := startDev(t, dir, "127.0.0.1:0", nil)
	env := app.ReadEnvFile(filepath.Join(dir, app.DevEnvFileName))
	root := []string{"AWS_ACCESS_KEY_ID=" + env["AWS_ACCESS_KEY_ID"], "AWS_SECRET_ACCESS_KEY=" + env["AWS_SECRET_ACCESS_KEY"]}
	return &stsWorld{testServer: s, home: t.TempDir()}, root
}

// simulate runs an aws iam simulate-* command line and decodes its
// EvaluationResults.
func simulate(t *testing.T, w *stsWorld, root []string, script string, env ...string) []simResult {
	t.Helper()
	out, errOut, err := w.bash(t, script+" --output json", append(root, env...)...)
	if err != nil {
		t.Fatalf("%s: %v\n%s%s", script, err, out, errOut)
	}
	var resp struct{ EvaluationResults []simResult }
	if err := json.Unmarshal([]byte(out), &resp); err != nil {
		t.Fatalf("output %q: %v", out, err)
	}
	return resp.EvaluationResults
}

// TestSimulateCustomPolicyWithAWSCLI: aws iam simulate-custom-policy
// answers as AWS does — the CLI reference's own example gives AWS's
// documented output — with context entries of every type, explicit denies,
// resources, permissions boundaries and resource policies.
func TestSimulateCustomPolicyWithAWSCLI(t *testing.T) {
	w, root := simulateWorld(t)
	// The AWS CLI reference's example, verbatim, and AWS's answers.
	const example = `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"dynamodb:*","Resource":"*","Condition":{"DateGreaterThan":{"aws:CurrentTime":"2018-08-16T12:00:00Z"}}}}`
	exampleStatement := simStatement{SourcePolicyId: "PolicyInputList.1", SourcePolicyType: "IAM Policy",
		StartPosition: simPosition{1, 38}, EndPosition: simPosition{1, 167}}
	t.Run("AWS CLI reference example: allowed", func(t *testing.T) {
		got := simulate(t, w, root, `aws iam simulate-custom-policy --policy-input-list "$P" --action-names dynamodb:CreateBackup `+
			`--context-entries "ContextKeyName='aws:CurrentTime',ContextKeyValues='2019-04-25T11:00:00Z',ContextKeyType=date"`, "P="+example)
		want := []simResult{{EvalActionName: "dynamodb:CreateBackup", EvalResourceName: "*", EvalDecision: "allowed",
			MatchedStatements: []simStatement{exampleStatement}, MissingContextValues: []string{}}}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("got %+v\nwant %+v", got, want)
		}
	})
	t.Run("AWS CLI reference example: a date before the condition's", func(t *testing.T) {
		got := simulate(t, w, root, `aws iam simulate-custom-policy --policy-input-list "$P" --action-names dynamodb:CreateBackup `+
			`--context-entries "ContextKeyName='aws:CurrentTime',ContextKeyValues='2014-04-25T11:00:00Z',ContextKeyType=date"`, "P="+example)
		want := []simResult{{EvalActionName: "dynamodb:CreateBackup", EvalResourceName: "*", EvalDecision: "implicitDeny",
			MatchedStatements: []simStatement{}, MissingContextValues: []string{}}}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("got %+v\nwant %+v", got, want)
		}
	})
	t.Run("without the context key: reported missing", func(t *testing.T) {
		got := simulate(t, w, root, `aws iam simulate-custom-policy --policy-input-list "$P" --action-names dynamodb:CreateBackup`, "P="+example)
		if len(got) != 1 || got[0].EvalDecision != "implicitDeny" || !reflect.DeepEqual(got[0].MissingContextValues, []string{"aws:CurrentTime"}) {
			t.Fatalf("%+v", got)
		}
	})

	// Two policies: an allow with a condition on a list key, a deny
	// guarded by an address range, and a key only another action's
	// statement reads (reported all the same, as AWS does).
	allow := `{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Sid": "ReadTagged",
      "Effect": "Allow",
      "Action": ["s3:GetObject", "s3:PutObject"],
      "Resource": "arn:aws:s3:::bucket/*",
      "Condition": {"ForAllValues:StringEquals": {"aws:TagKeys": ["team", "env"]}}
    },
    {
      "Sid": "Home",
      "Effect": "Allow",
      "Action": "s3:ListBucket",
      "Resource": "arn:aws:s3:::bucket",
      "Condition": {"StringLike": {"s3:prefix": "${aws:username}/*"}}
    }
  ]
}`
	deny := `{"Version":"2012-10-17","Statement":[{"Sid":"OffNetwork","Effect":"Deny","Action":"s3:PutObject","Resource":"*","Condition":{"NotIpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}]}`
	script := `aws iam simulate-custom-policy --policy-input-list "$ALLOW" "$DENY" --action-names s3:GetObject s3:PutObject ` +
		`--resource-arns arn:aws:s3:::bucket/a.txt --context-entries ` +
		`"ContextKeyName=aws:TagKeys,ContextKeyValues=team,env,ContextKeyType=stringList" ` +
		`"ContextKeyName=aws:sourceip,ContextKeyValues=$IP,ContextKeyType=ip"`
	readTagged := simStatement{"PolicyInputList.1", "IAM Policy", simPosition{3, 17}, simPosition{10, 6}}
	offNetwork := simStatement{"PolicyInputList.2", "IAM Policy", simPosition{1, 38}, simPosition{1, 172}}
	missing := []string{"s3:prefix", "aws:username"}
	t.Run("explicit deny wins, and is the only statement listed", func(t *testing.T) {
		got := simulate(t, w, root, script, "ALLOW="+allow, "DENY="+deny, "IP=203.0.113.9")
		want := []simResult{
			{EvalActionName: "s3:GetObject", EvalResourceName: "arn:aws:s3:::bucket/a.txt", EvalDecision: "allowed",
				MatchedStatements: []simStatement{readTagged}, MissingContextValues: []string{}, EvalDecisionDetails: map[string]string{},
				ResourceSpecificResults: []simResourceResult{{EvalResourceName: "arn:aws:s3:::bucket/a.txt", EvalResourceDecision: "allowed",
					MatchedStatements: []simStatement{readTagged}, MissingContextValues: missing}}},
			{EvalActionName: "s3:PutObject", EvalResourceName: "arn:aws:s3:::bucket/a.txt", EvalDecision: "explicitDeny",
				MatchedStatements: []simStatement{offNetwork}, MissingContextValues: []string{}, EvalDecisionDetails: map[string]string{},
				ResourceSpecificResults: []simResourceResult{{EvalResourceName: "arn:aws:s3:::bucket/a.txt", EvalResourceDecision: "explicitDeny",
					MatchedStatements: []simStatement{offNetwork}, MissingContextValues: missing}}},
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("got  %+v\nwant %+v", got, want)
		}
	})
	t.Run("from inside the network the deny does not apply", func(t *testing.T) {
		got := simulate(t, w, root, script, "ALLOW="+allow, "DENY="+deny, "IP=10.1.2.3")
		if len(got) != 2 || got[1].EvalDecision != "allowed" || !reflect.DeepEqual(got[1].MatchedStatements, []simStatement{readTagged}) {
			t.Fatalf("%+v", got)
		}
	})
	t.Run("pages of one, followed by the CLI", func(t *testing.T) {
		got := simulate(t, w, root, `aws iam simulate-custom-policy --page-size 1 --policy-input-list "$ALLOW" `+
			`--action-names s3:GetObject s3:PutObject s3:ListBucket --resource-arns arn:aws:s3:::bucket arn:aws:s3:::bucket/k`, "ALLOW="+allow)
		var pairs []string
		for _, r := range got {
			pairs = append(pairs, r.EvalActionName+" "+r.EvalResourceName+" "+r.EvalDecision)
		}
		// No aws:TagKeys: ForAllValues holds vacuously, as AWS documents.
		want := []string{"s3:GetObject arn:aws:s3:::bucket implicitDeny", "s3:GetObject arn:aws:s3:::bucket/k allowed",
			"s3:PutObject arn:aws:s3:::bucket implicitDeny", "s3:PutObject arn:aws:s3:::bucket/k allowed",
			"s3:ListBucket arn:aws:s3:::bucket implicitDeny", "s3:ListBucket arn:aws:s3:::bucket/k implicitDeny"}
		if !reflect.DeepEqual(pairs, want) {
			t.Fatalf("%q", pairs)
		}
		out, errOut, err := w.bash(t, `aws iam simulate-custom-policy --max-items 2 --policy-input-list "$ALLOW" --action-names s3:GetObject s3:PutObject s3:ListBucket --output json`,
			append(root, "ALLOW="+allow)...)
		var first struct {
			EvaluationResults []simResult
			NextToken         string
		}
		if err != nil || json.Unmarshal([]byte(out), &first) != nil || len(first.EvaluationResults) != 2 || first.NextToken == "" {
			t.Fatalf("--max-items 2: %v %s %s", err, out, errOut)
		}
		rest := simulate(t, w, root, `aws iam simulate-custom-policy --starting-token "$NEXT" --policy-input-list "$ALLOW" --action-names s3:GetObject s3:PutObject s3:ListBucket`,
			"ALLOW="+allow, "NEXT="+first.NextToken)
		if len(rest) != 1 || rest[0].EvalActionName != "s3:ListBucket" {
			t.Fatalf("the rest: %+v", rest)
		}
	})
	t.Run("a permissions boundary caps what the policies allow", func(t *testing.T) {
		boundary := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}`
		got := simulate(t, w, root, `aws iam simulate-custom-policy --policy-input-list '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}' `+
			`--permissions-boundary-policy-input-list "$B" --action-names s3:GetObject s3:DeleteObject`, "B="+boundary)
		if len(got) != 2 || got[0].EvalDecision != "allowed" || got[1].EvalDecision != "implicitDeny" ||
			got[0].PermissionsBoundaryDecisionDetail == nil || !got[0].PermissionsBoundaryDecisionDetail.AllowedByPermissionsBoundary ||
			got[1].PermissionsBoundaryDecisionDetail == nil || got[1].PermissionsBoundaryDecisionDetail.AllowedByPermissionsBoundary {
			t.Fatalf("%+v", got)
		}
		if want := (simStatement{"PermissionsBoundaryPolicyInputList.1", "IAM Policy", simPosition{1, 38}, simPosition{1, 95}}); len(got[0].MatchedStatements) != 2 || got[0].MatchedStatements[1] != want {
			t.Fatalf("matched %+v", got[0].MatchedStatements)
		}
	})
	t.Run("a resource policy naming the caller grants within the account", func(t *testing.T) {
		bucket := `{"Version":"2012-10-17","Statement":[{"Sid":"Alice","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::000000000000:user/alice"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::shared/*"},` +
			`{"Sid":"Account","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::000000000000:root"},"Action":"s3:PutObject","Resource":"arn:aws:s3:::shared/*"}]}`
		none := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sqs:SendMessage","Resource":"*"}]}`
		cmd := `aws iam simulate-custom-policy --policy-input-list "$NONE" --resource-policy "$BUCKET" --caller-arn arn:aws:iam::000000000000:user/alice ` +
			`--action-names s3:GetObject s3:PutObject --resource-arns arn:aws:s3:::shared/k`
		got := simulate(t, w, root, cmd, "NONE="+none, "BUCKET="+bucket)
		alice := simStatement{"ResourcePolicy", "Resource Policy", simPosition{1, 38}, simPosition{1, 188}}
		if len(got) != 2 || got[0].EvalDecision != "allowed" || !reflect.DeepEqual(got[0].MatchedStatements, []simStatement{alice}) ||
			got[1].EvalDecision != "implicitDeny" || len(got[1].EvalDecisionDetails) != 0 {
			t.Fatalf("%+v", got)
		}
		// Owned by another account, the resource needs both sides.
		got = simulate(t, w, root, cmd+" --resource-owner arn:aws:iam::111122223333:root", "NONE="+none, "BUCKET="+bucket)
		want := map[string]string{"IAM Policy": "implicitDeny", "Resource Policy": "allowed"}
		if got[0].EvalDecision != "implicitDeny" || !reflect.DeepEqual(got[0].EvalDecisionDetails, want) ||
			!reflect.DeepEqual(got[0].ResourceSpecificResults[0].EvalDecisionDetails, want) {
			t.Fatalf("cross-account: %+v", got)
		}
	})
}

// TestSimulatePrincipalPolicyWithAWSCLI: aws iam simulate-principal-policy
// evaluates a dev role's and a created user's own policies (inline, customer
// and AWS managed), with extra policies and context entries; its events are
// recorded read-only against the simulated entity.
func TestSimulatePrincipalPolicyWithAWSCLI(t *testing.T) {
	w, root := simulateWorld(t)
	keyARN, errOut, err := w.bash(t, `aws kms describe-key --key-id alias/ci-signing --query KeyMetadata.Arn --output text`, root...)
	if err != nil {
		t.Fatalf("%v %s", err, errOut)
	}
	keyARN = strings.TrimSpace(keyARN)
	signing := simStatement{"ci-signing", "IAM Policy", simPosition{1, 15}, simPosition{1, 202}}
	t.Run("the dev signing role may sign with the dev key, not decrypt", func(t *testing.T) {
		got := simulate(t, w, root, `aws iam simulate-principal-policy --policy-source-arn arn:aws:iam::000000000000:role/gitlab-sign --action-names kms:Sign kms:Decrypt --resource-arns "$KEY"`, "KEY="+keyARN)
		if len(got) != 2 || got[0].EvalDecision != "allowed" || got[1].EvalDecision != "implicitDeny" ||
			!reflect.DeepEqual(got[0].MatchedStatements, []simStatement{signing}) || got[1].ResourceSpecificResults[0].EvalResourceName != keyARN {
			t.Fatalf("%+v", got)
		}
	})
	t.Run("the verify role may not sign", func(t *testing.T) {
		got := simulate(t, w, root, `aws iam simulate-principal-policy --policy-source-arn arn:aws:iam::000000000000:role/gitlab-verify --action-names kms:Sign kms:Verify --resource-arns "$KEY"`, "KEY="+keyARN)
		if len(got) != 2 || got[0].EvalDecision != "implicitDeny" || got[1].EvalDecision != "allowed" || got[1].MatchedStatements[0].SourcePolicyId != "ci-verify" {
			t.Fatalf("%+v", got)
		}
	})
	setup := `set -e
aws iam create-user --user-name alice >/dev/null
aws iam put-user-policy --user-name alice --policy-name home --policy-document "$HOME_POLICY"
aws iam attach-user-policy --user-name alice --policy-arn arn:aws:iam::aws:policy/AdministratorAccess
`
	home := `{"Version":"2012-10-17","Statement":[{"Sid":"NoDeleteOutsideHome","Effect":"Deny","Action":"s3:DeleteObject","NotResource":"arn:aws:s3:::b/${aws:username}/*"}]}`
	if out, errOut, err := w.bash(t, setup, append(root, "HOME_POLICY="+home)...); err != nil {
		t.Fatalf("setup: %v %s%s", err, out, errOut)
	}
	admin := simStatement{"AdministratorAccess", "IAM Policy", simPosition{3, 19}, simPosition{8, 10}}
	denyHome := simStatement{"home", "IAM Policy", simPosition{1, 38}, simPosition{1, 159}}
	cmd := `aws iam simulate-principal-policy --policy-source-arn arn:aws:iam::000000000000:user/alice --action-names s3:DeleteObject --resource-arns arn:aws:s3:::b/alice/k arn:aws:s3:::b/bob/k`
	t.Run("a user's inline deny and AWS managed allow, with its name supplied", func(t *testing.T) {
		got := simulate(t, w, root, cmd+` --context-entries ContextKeyName=aws:username,ContextKeyValues=alice,ContextKeyType=string`)
		if len(got) != 2 || got[0].EvalDecision != "allowed" || !reflect.DeepEqual(got[0].MatchedStatements, []simStatement{admin}) ||
			got[1].EvalDecision != "explicitDeny" || !reflect.DeepEqual(got[1].MatchedStatements, []simStatement{denyHome}) ||
			len(got[1].ResourceSpecificResults[0].MissingContextValues) != 0 {
			t.Fatalf("%+v", got)
		}
	})
	t.Run("without it: the variable cannot resolve and is reported missing", func(t *testing.T) {
		// A NotResource entry whose variable has no value matches no
		// resource, so it excludes nothing and the Deny covers both
		// ("Policy variables with no value", IAM User Guide).
		got := simulate(t, w, root, cmd)
		if len(got) != 2 || got[0].EvalDecision != "explicitDeny" || got[1].EvalDecision != "explicitDeny" ||
			!reflect.DeepEqual(got[1].ResourceSpecificResults[0].MissingContextValues, []string{"aws:username"}) {
			t.Fatalf("%+v", got)
		}
	})
	t.Run("with an extra policy from the command line", func(t *testing.T) {
		got := simulate(t, w, root, `aws iam simulate-principal-policy --policy-source-arn arn:aws:iam::000000000000:role/gitlab-sign --action-names kms:Sign --policy-input-list "$P"`,
			"P="+`{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"kms:*","Resource":"*"}]}`)
		if len(got) != 1 || got[0].EvalDecision != "explicitDeny" || got[0].MatchedStatements[0].SourcePolicyId != "PolicyInputList.1" {
			t.Fatalf("%+v", got)
		}
	})
	t.Run("recorded read-only, against the simulated entity", func(t *testing.T) {
		out, errOut, err := w.bash(t, `aws cloudtrail lookup-events --lookup-attributes AttributeKey=ResourceName,AttributeValue=arn:aws:iam::000000000000:user/alice `+
			`--query 'Events[?EventName==`+"`SimulatePrincipalPolicy`"+`].[ReadOnly, Resources[0].ResourceType]' --output text`, root...)
		if err != nil || !strings.HasPrefix(out, "true\tAWS::IAM::User\n") {
			t.Fatalf("%v %q %s", err, out, errOut)
		}
	})
}

// TestSimulateBadInput: each bad simulation gets IAM's error code, status
// and message; nothing is stored and the server goes on serving.
func TestSimulateBadInput(t *testing.T) {
	w, root := simulateWorld(t)
	akid, secret := strings.TrimPrefix(root[0], "AWS_ACCESS_KEY_ID="), strings.TrimPrefix(root[1], "AWS_SECRET_ACCESS_KEY=")
	const allow = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}`
	custom := func(more map[string]string) map[string]string {
		m := map[string]string{"Action": "SimulateCustomPolicy", "PolicyInputList.member.1": allow, "ActionNames.member.1": "s3:GetObject"}
		for k, v := range more {
			if v == "" {
				delete(m, k)
				continue
			}
			m[k] = v
		}
		return m
	}
	principal := func(source string, more map[string]string) map[string]string {
		m := map[string]string{"Action": "SimulatePrincipalPolicy", "PolicySourceArn": source, "ActionNames.member.1": "s3:GetObject"}
		for k, v := range more {
			m[k] = v
		}
		return m
	}
	entry := func(name, typ string, values ...string) map[string]string {
		m := map[string]string{"ContextEntries.member.1.ContextKeyName": name, "ContextEntries.member.1.ContextKeyType": typ}
		for i, v := range values {
			m["ContextEntries.member.1.ContextKeyValues.member."+string(rune('1'+i))] = v
		}
		return m
	}
	const bucketPolicy = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"*"}]}`
	cases := []struct {
		name    string
		params  map[string]string
		status  int
		code    string
		message string
	}{
		{"no PolicyInputList", custom(map[string]string{"PolicyInputList.member.1": ""}),
			400, "ValidationError", "1 validation error detected: Value null at 'policyInputList' failed to satisfy constraint: Member must not be null"},
		{"an empty PolicyInputList", custom(map[string]string{"PolicyInputList.member.1": "", "PolicyInputList": ""}),
			400, "ValidationError", "1 validation error detected: Value null at 'policyInputList' failed to satisfy constraint: Member must not be null"},
		{"no ActionNames", custom(map[string]string{"ActionNames.member.1": ""}),
			400, "ValidationError", "1 validation error detected: Value null at 'actionNames' failed to satisfy constraint: Member must not be null"},
		{"an action name too short", custom(map[string]string{"ActionNames.member.1": "s3"}),
			400, "ValidationError", "1 validation error detected: Value '[s3]' at 'actionNames' failed to satisfy constraint: Member must satisfy constraint: [Member must have length less than or equal to 128, Member must have length greater than or equal to 3]"},
		{"a wildcard action", custom(map[string]string{"ActionNames.member.1": "s3:*"}),
			400, "InvalidInput", `Invalid Input Actions: "s3:*" require different authorization information.`},
		{"an action without a service", custom(map[string]string{"ActionNames.member.1": "GetObject"}),
			400, "InvalidInput", "Invalid action name GetObject: an action is service:ActionName."},
		{"a policy that is not JSON", custom(map[string]string{"PolicyInputList.member.1": `{"Version":`}),
			400, "MalformedPolicyDocument", "Syntax errors in policy."},
		{"an identity policy with a Principal", custom(map[string]string{"PolicyInputList.member.1": bucketPolicy}),
			400, "MalformedPolicyDocument", "Policy document should not specify a principal."},
		{"a resource policy without a Principal", custom(map[string]string{"ResourcePolicy": allow, "CallerArn": "arn:aws:iam::000000000000:user/alice"}),
			400, "MalformedPolicyDocument", "Missing required field Principal"},
		{"a resource policy without a caller", custom(map[string]string{"ResourcePolicy": bucketPolicy}),
			400, "InvalidInput", "Invalid caller - Caller must be an IAM user in this context."},
		{"a caller that is a role", custom(map[string]string{"ResourcePolicy": bucketPolicy, "CallerArn": "arn:aws:iam::000000000000:role/gitlab-sign"}),
			400, "InvalidInput", "Invalid caller - Caller must be an IAM user in this context."},
		{"a resource policy for a role", principal("arn:aws:iam::000000000000:role/gitlab-sign", map[string]string{"ResourcePolicy": bucketPolicy}),
			400, "InvalidInput", "Invalid caller - Caller must be an IAM user in this context."},
		{"two permissions boundaries", custom(map[string]string{"PermissionsBoundaryPolicyInputList.member.1": allow, "PermissionsBoundaryPolicyInputList.member.2": allow}),
			400, "InvalidInput", "The list of Permissions Boundary policies cannot exceed 1 items."},
		{"a resource that is not an ARN", custom(map[string]string{"ResourceArns.member.1": "14a050d4-021e-4efe-84bb-0871bf6d0fda"}),
			400, "InvalidInput", "ResourceNames are not in a valid ARN format: 14a050d4-021e-4efe-84bb-0871bf6d0fda."},
		{"a resource owner that is not an account", custom(map[string]string{"ResourceOwner": "arn:aws:iam::111122223333:user/bob"}),
			400, "InvalidInput", "Invalid ResourceOwner arn:aws:iam::111122223333:user/bob: it must be an account's ARN, arn:aws:iam::ACCOUNT-ID:root."},
		{"an EC2 scenario", custom(map[string]string{"ResourceHandlingOption": "EC2-VPC-EBS"}),
			400, "InvalidInput", "ResourceHandlingOption is not supported by this server."},
		{"MaxItems 0", custom(map[string]string{"MaxItems": "0"}),
			400, "ValidationError", "1 validation error detected: Value '0' at 'maxItems' failed to satisfy constraint: Member must have value between 1 and 1000"},
		{"MaxItems 1001", custom(map[string]string{"MaxItems": "1001"}),
			400, "ValidationError", "1 validation error detected: Value '1001' at 'maxItems' failed to satisfy constraint: Member must have value between 1 and 1000"},
		{"a Marker past the results", custom(map[string]string{"Marker": "OQ"}),
			400, "InvalidInput", "Invalid Marker."},
		{"a context key type not in the enum", custom(entry("aws:SourceIp", "address", "10.0.0.1")),
			400, "ValidationError", "1 validation error detected: Value 'address' at 'contextEntries.1.member.contextKeyType' failed to satisfy constraint: Member must satisfy enum value set: [string, stringList, numeric, numericList, boolean, booleanList, ip, ipList, binary, binaryList, date, dateList]"},
		{"a context key without a type", custom(map[string]string{"ContextEntries.member.1.ContextKeyName": "aws:SourceIp", "ContextEntries.member.1.ContextKeyValues.member.1": "10.0.0.1"}),
			400, "ValidationError", "1 validation error detected: Value null at 'contextEntries.1.member.contextKeyType' failed to satisfy constraint: Member must not be null"},
		{"a context key name too short", custom(entry("a:b", "string", "x")),
			400, "ValidationError", "1 validation error detected: Value 'a:b' at 'contextEntries.1.member.contextKeyName' failed to satisfy constraint: Member must have length between 5 and 256"},
		{"a number that is not one", custom(entry("aws:MultiFactorAuthAge", "numeric", "soon")),
			400, "InvalidInput", "Invalid value 'soon' for context key aws:MultiFactorAuthAge of type numeric."},
		{"an address that is a range", custom(entry("aws:SourceIp", "ip", "10.0.0.0/8")),
			400, "InvalidInput", "Invalid value '10.0.0.0/8' for context key aws:SourceIp of type ip."},
		{"two values for a single-valued type", custom(entry("aws:SourceIp", "ip", "10.0.0.1", "10.0.0.2")),
			400, "InvalidInput", "Context key aws:SourceIp of type ip takes one value; 2 were given."},
		{"one key twice", custom(map[string]string{"ContextEntries.member.1.ContextKeyName": "aws:SourceIp", "ContextEntries.member.1.ContextKeyType": "ip", "ContextEntries.member.1.ContextKeyValues.member.1": "10.0.0.1",
			"ContextEntries.member.2.ContextKeyName": "AWS:SOURCEIP", "ContextEntries.member.2.ContextKeyType": "ip", "ContextEntries.member.2.ContextKeyValues.member.1": "10.0.0.2"}),
			400, "InvalidInput", "Context key AWS:SOURCEIP is given more than once."},
		{"a gap in the context entries", custom(map[string]string{"ContextEntries.member.2.ContextKeyName": "aws:SourceIp", "ContextEntries.member.2.ContextKeyType": "ip"}),
			400, "InvalidParameterValue", "List ContextEntries has a gap: member 1 is missing."},
		{"a misspelt context entry field", custom(map[string]string{"ContextEntries.member.1.ContextKeyValue": "x"}),
			400, "InvalidParameterValue", `Unknown field "ContextKeyValue" in a member of list ContextEntries.`},
		{"a role that does not exist", principal("arn:aws:iam::000000000000:role/nope", nil),
			404, "NoSuchEntity", "The role with name nope cannot be found."},
		{"a role ARN with the wrong path", principal("arn:aws:iam::000000000000:role/ops/gitlab-sign", nil),
			404, "NoSuchEntity", "The role with name gitlab-sign cannot be found."},
		{"a user that does not exist", principal("arn:aws:iam::000000000000:user/nobody", nil),
			404, "NoSuchEntity", "The user with name nobody cannot be found."},
		{"a group: none exist here", principal("arn:aws:iam::000000000000:group/devs", nil),
			404, "NoSuchEntity", "The group with name devs cannot be found."},
		{"a role session", principal("arn:aws:sts::000000000000:assumed-role/gitlab-sign/s1", nil),
			400, "InvalidInput", "Invalid Entity Arn: arn:aws:sts::000000000000:assumed-role/gitlab-sign/s1 does not clearly define entity type and name."},
		{"another account's role", principal("arn:aws:iam::111122223333:role/x", nil),
			400, "InvalidInput", "Invalid Policy Source Arn: caller's account 000000000000 does not have access to policies in account 111122223333"},
		{"a PolicySourceArn too short", principal("arn:aws:iam::1:role", nil),
			400, "ValidationError", "1 validation error detected: Value 'arn:aws:iam::1:role' at 'policySourceArn' failed to satisfy constraint: Member must have length between 20 and 2048"},
		{"no PolicySourceArn", principal("", nil),
			400, "ValidationError", "1 validation error detected: Value null at 'policySourceArn' failed to satisfy constraint: Member must not be null"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			form := url.Values{"Version": {"2010-05-08"}}
			for k, v := range tc.params {
				form.Set(k, v)
			}
			resp := signedIAM(t, w.URL, akid, secret, form.Encode())
			var e stsErrorXML
			if err := xml.Unmarshal(resp.Body, &e); err != nil || resp.Status != tc.status || e.Error.Code != tc.code || e.Error.Message != tc.message {
				t.Fatalf("got %d %s\nwant %d %s %q", resp.Status, resp.Body, tc.status, tc.code, tc.message)
			}
		})
	}

	// A user without the simulator's permissions is refused, on * for
	// custom policies and on the entity for a principal's.
	out, errOut, err := w.bash(t, `set -e
aws iam create-user --user-name mallory >/dev/null
aws iam create-access-key --user-name mallory --query 'AccessKey.[AccessKeyId,SecretAccessKey]' --output text`, root...)
	if err != nil {
		t.Fatalf("%v %s", err, errOut)
	}
	key := strings.Fields(out)
	mallory := []string{"AWS_ACCESS_KEY_ID=" + key[0], "AWS_SECRET_ACCESS_KEY=" + key[1]}
	for _, tc := range []struct{ script, want string }{
		{`aws iam simulate-custom-policy --policy-input-list "$P" --action-names s3:GetObject`,
			"(AccessDenied) when calling the SimulateCustomPolicy operation: User: arn:aws:iam::000000000000:user/mallory is not authorized to perform: iam:SimulateCustomPolicy on resource: * because no identity-based policy allows the iam:SimulateCustomPolicy action"},
		{`aws iam simulate-principal-policy --policy-source-arn arn:aws:iam::000000000000:role/gitlab-sign --action-names s3:GetObject`,
			"(AccessDenied) when calling the SimulatePrincipalPolicy operation: User: arn:aws:iam::000000000000:user/mallory is not authorized to perform: iam:SimulatePrincipalPolicy on resource: arn:aws:iam::000000000000:role/gitlab-sign because no identity-based policy allows the iam:SimulatePrincipalPolicy action"},
		{`aws iam simulate-principal-policy --policy-source-arn arn:aws:iam::000000000000:role/nope --action-names s3:GetObject`,
			"(AccessDenied) when calling the SimulatePrincipalPolicy operation: User: arn:aws:iam::000000000000:user/mallory is not authorized to perform: iam:SimulatePrincipalPolicy on resource: arn:aws:iam::000000000000:role/nope"},
	} {
		if _, errOut, err := w.bash(t, tc.script, append(mallory, "P="+allow)...); err == nil || !strings.Contains(errOut, tc.want) {
			t.Errorf("%s: %v %s", tc.script, err, errOut)
		}
	}

	// Nothing was stored, and the server still answers.
	out, errOut, err = w.bash(t, `set -e
aws iam list-users --query 'Users[].UserName' --output text
aws iam list-policies --scope Local --query 'length(Policies)'
aws iam list-role-policies --role-name gitlab-sign --query 'PolicyNames' --output text
aws sts get-caller-identity --query Arn --output text
`, root...)
	if want := "mallory\n0\nci-signing\narn:aws:iam::000000000000:root\n"; err != nil || out != want {
		t.Fatalf("after the refused simulations: %v %s\n%q, want %q", err, errOut, out, want)
	}
}
