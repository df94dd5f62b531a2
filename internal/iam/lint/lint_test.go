package lint

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/oidcfed/oidcfed/internal/iam/policy"
)

const acct = "111122223333"

// Providers the cases trust: two shared issuers, a self-managed GitLab (oidcfed's issuer
// format) and, for the "other format" cases, an EKS cluster.
const (
	gitlabCom  = "gitlab.com"
	github     = "token.actions.githubusercontent.com"
	selfHosted = "gitlab.example.com"
	eks        = "oidc.eks.us-east-1.amazonaws.com/id/ABC"
)

func arn(key string) string { return "arn:aws:iam::" + acct + ":oidc-provider/" + key }

// stmt is one web-identity statement trusting key, with a Condition block (JSON, may be "").
func stmt(key, condition string) string {
	s := `{"Effect":"Allow","Principal":{"Federated":"` + arn(key) + `"},"Action":"sts:AssumeRoleWithWebIdentity"`
	if condition != "" {
		s += `,"Condition":` + condition
	}
	return s + "}"
}

func doc(statements ...string) string {
	return `{"Version":"2012-10-17","Statement":[` + strings.Join(statements, ",") + `]}`
}

// trust is a one-statement document trusting key under condition.
func trust(key, condition string) string { return doc(stmt(key, condition)) }

// bound is a condition binding the project and ref on key, plus extra conditions (JSON
// members "Operator": {...}, comma-joined), so a case shows only the finding it is about.
func bound(key string, extra ...string) string {
	sub := `"StringEquals":{"` + key + `:sub":"project_path:grp/app:ref_type:branch:ref:main","` + key + `:aud":"https://` + key + `"}`
	if key == github {
		sub = `"StringEquals":{"` + key + `:sub":"repo:org/app:ref:refs/heads/main","` + key + `:aud":"sts.amazonaws.com"}`
	}
	return "{" + strings.Join(append([]string{sub}, extra...), ",") + "}"
}

func identity(actions ...string) *policy.Policy {
	q := make([]string, len(actions))
	for i, a := range actions {
		q[i] = `"` + a + `"`
	}
	p, err := policy.Parse([]byte(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":[` + strings.Join(q, ",") + `],"Resource":"*"}]}`))
	if err != nil {
		panic(err)
	}
	return p
}

var (
	canSign  = []*policy.Policy{identity("kms:Sign", "kms:GetPublicKey")}
	readOnly = []*policy.Policy{identity("kms:Verify", "kms:GetPublicKey", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "s3:Get*")}
)

var allProviders = []Provider{
	{ARN: arn(gitlabCom), URL: "https://gitlab.com", ClientIDs: []string{"https://gitlab.com"}},
	{ARN: arn(github), URL: "https://token.actions.githubusercontent.com", ClientIDs: []string{"sts.amazonaws.com"}},
	{ARN: arn(selfHosted), URL: "https://gitlab.example.com", ClientIDs: []string{"https://gitlab.example.com", "sts.amazonaws.com"}},
}

type checkCase struct {
	name string
	in   Input
	want []Severity // the severities of the rule's findings, in order; nil: none
}

// runChecks lints each case and compares the findings of rule id alone, so a case stays
// about one check whatever else the document shows.
func runChecks(t *testing.T, id string, cases []checkCase) {
	t.Helper()
	positive, negative := false, false
	for _, tc := range cases {
		if len(tc.want) > 0 {
			positive = true
		} else {
			negative = true
		}
		t.Run(tc.name, func(t *testing.T) {
			fs, err := Trust(tc.in)
			if err != nil && id != ruleNotPrincipal.ID {
				t.Fatalf("Trust: %v", err)
			}
			var got []Severity
			var mine []Finding
			for _, f := range fs {
				if f.ID == id {
					got = append(got, f.Severity)
					mine = append(mine, f)
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("%s severities %v, want %v\nall findings:\n%s", id, got, tc.want, dump(fs))
			}
			for _, f := range mine {
				checkFinding(t, f)
			}
		})
	}
	if !positive || !negative {
		t.Errorf("%s needs both a positive and a negative case", id)
	}
}

// checkFinding: every finding is complete and quotes something from its policy.
func checkFinding(t *testing.T, f Finding) {
	t.Helper()
	r := ruleByID(f.ID)
	if r == nil || f.Name != r.Name || f.Why != r.Why {
		t.Errorf("finding %s/%s does not match its rule", f.ID, f.Name)
	}
	if f.Message == "" || f.Fix == "" || f.Path == "" || f.Severity < Info {
		t.Errorf("incomplete finding %+v", f)
	}
	if f.Statement < 0 && f.Path != "MaxSessionDuration" || f.Statement >= 0 && !strings.HasPrefix(f.Path, fmt.Sprintf("Statement[%d]", f.Statement)) {
		t.Errorf("path %q does not match statement %d", f.Path, f.Statement)
	}
}

func ruleByID(id string) *Rule {
	for i := range rules {
		if rules[i].ID == id {
			return &rules[i]
		}
	}
	return nil
}

func dump(fs []Finding) string {
	var b strings.Builder
	for _, f := range fs {
		fmt.Fprintf(&b, "  %s %s %s %s: %s\n", f.Severity, f.ID, f.Name, f.Path, f.Message)
	}
	return b.String()
}

func sev(s ...Severity) []Severity { return s }

func TestNoSubCondition(t *testing.T) {
	runChecks(t, "OIDC001", []checkCase{
		{"gitlab.com without any condition", Input{Trust: trust(gitlabCom, "")}, sev(Critical)},
		{"gitlab.com with aud only", Input{Trust: trust(gitlabCom, `{"StringEquals":{"gitlab.com:aud":"https://gitlab.com"}}`)}, sev(Critical)},
		{"GitHub with aud only (the Datadog 2023 case)", Input{Trust: trust(github, `{"StringEquals":{"token.actions.githubusercontent.com:aud":"sts.amazonaws.com"}}`)}, sev(Critical)},
		{"self-managed with aud only", Input{Trust: trust(selfHosted, `{"StringEquals":{"gitlab.example.com:aud":"https://gitlab.example.com"}}`)}, sev(High)},
		{"GHEC enterprise issuer is not shared", Input{Trust: trust(github+"/acme", `{"StringEquals":{"token.actions.githubusercontent.com/acme:aud":"sts.amazonaws.com"}}`)}, sev(High)},
		{"sub only excluded (StringNotLike)", Input{Trust: trust(gitlabCom, `{"StringNotLike":{"gitlab.com:sub":"project_path:evil/*"}}`)}, sev(Critical)},
		{"sub star", Input{Trust: trust(gitlabCom, `{"StringLike":{"gitlab.com:sub":"*"}}`)}, sev(Critical)},
		{"sub any project_path", Input{Trust: trust(gitlabCom, `{"StringLike":{"gitlab.com:sub":"project_path:*"}}`)}, sev(Critical)},
		{"repo star among scoped values (OR)", Input{Trust: trust(github, `{"StringLike":{"token.actions.githubusercontent.com:sub":["repo:org/app:ref:refs/heads/main","repo:*"]}}`)}, sev(Critical)},
		{"project key under ForAllValues only", Input{Trust: trust(selfHosted, `{"ForAllValues:StringEquals":{"gitlab.example.com:project_path":"grp/app"}}`)}, sev(High)},
		{"key of the issuer without its path", Input{Trust: trust(selfHosted+"/gitlab", `{"StringEquals":{"gitlab.example.com:sub":"project_path:grp/app:ref_type:branch:ref:main"}}`)}, sev(High)},
		{"sub of another issuer", Input{Trust: trust(gitlabCom, `{"StringEquals":{"gitlab.example.com:sub":"project_path:grp/app:ref_type:branch:ref:main"}}`)}, sev(Critical)},
		{"sub pinned", Input{Trust: trust(gitlabCom, bound(gitlabCom))}, nil},
		{"sub group-wide", Input{Trust: trust(gitlabCom, `{"StringLike":{"gitlab.com:sub":"project_path:grp/*"}}`)}, nil},
		{"issuer with a path", Input{Trust: trust(selfHosted+"/gitlab", `{"StringEquals":{"gitlab.example.com/gitlab:sub":"project_path:grp/app:ref_type:branch:ref:main"}}`)}, nil},
		{"issuer with a port", Input{Trust: trust("ci.example.com:8443", `{"StringEquals":{"ci.example.com:8443:sub":"project_path:grp/app:ref_type:branch:ref:main"}}`)}, nil},
		{"key case differs", Input{Trust: trust(gitlabCom, `{"StringEquals":{"GITLAB.COM:SUB":"project_path:grp/app:ref_type:branch:ref:main"}}`)}, nil},
		{"project_path claim key (oidcfed claim_condition_keys)", Input{Trust: trust(selfHosted, `{"StringEquals":{"gitlab.example.com:project_path":"grp/app"}}`)}, nil},
		{"GitHub repository_id key", Input{Trust: trust(github, `{"StringEquals":{"token.actions.githubusercontent.com:repository_id":"123456"}}`)}, nil},
		{"ForAllValues on sub still binds (STS always sets sub)", Input{Trust: trust(gitlabCom, `{"ForAllValues:StringEquals":{"gitlab.com:sub":"project_path:grp/app:ref_type:branch:ref:main"}}`)}, nil},
		{"EKS service account", Input{Trust: trust(eks, `{"StringEquals":{"oidc.eks.us-east-1.amazonaws.com/id/ABC:sub":"system:serviceaccount:ci:deployer"}}`)}, nil},
		{"not a web-identity statement", Input{Trust: doc(`{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}`)}, nil},
	})
}

func TestSubCrossesNamespace(t *testing.T) {
	runChecks(t, "OIDC002", []checkCase{
		{"group prefix on gitlab.com (seed 002)", Input{Trust: trust(gitlabCom, `{"StringLike":{"gitlab.com:sub":"project_path:grp*"}}`)}, sev(Critical)},
		{"group prefix with pinned ref", Input{Trust: trust(gitlabCom, `{"StringLike":{"gitlab.com:sub":"project_path:grp*:ref_type:branch:ref:main"}}`)}, sev(Critical)},
		{"group prefix self-managed", Input{Trust: trust(selfHosted, `{"StringLike":{"gitlab.example.com:sub":"project_path:grp*"}}`)}, sev(High)},
		{"sibling project", Input{Trust: trust(gitlabCom, `{"StringLike":{"gitlab.com:sub":"project_path:grp/app*"}}`)}, sev(Medium)},
		{"GitHub owner prefix", Input{Trust: trust(github, `{"StringLike":{"token.actions.githubusercontent.com:sub":"repo:org*"}}`)}, sev(Critical)},
		{"GitHub sibling repo", Input{Trust: trust(github, `{"StringLike":{"token.actions.githubusercontent.com:sub":"repo:org/app*"}}`)}, sev(Medium)},
		{"project_path claim prefix", Input{Trust: trust(selfHosted, `{"StringLike":{"gitlab.example.com:project_path":"grp*"}}`)}, sev(High)},
		{"project id prefix", Input{Trust: trust(selfHosted, `{"StringLike":{"gitlab.example.com:project_id":"12*"}}`)}, sev(High)},
		{"group wildcard after slash", Input{Trust: trust(gitlabCom, `{"StringLike":{"gitlab.com:sub":"project_path:grp/*"}}`)}, nil},
		{"ref wildcard only", Input{Trust: trust(gitlabCom, `{"StringLike":{"gitlab.com:sub":"project_path:grp/app:ref_type:branch:ref:feature-*"}}`)}, nil},
		{"project then any ref", Input{Trust: trust(gitlabCom, `{"StringLike":{"gitlab.com:sub":"project_path:grp/app:*"}}`)}, nil},
		{"GitHub org-wide", Input{Trust: trust(github, `{"StringLike":{"token.actions.githubusercontent.com:sub":"repo:org/*"}}`)}, nil},
		{"workflow file wildcard", Input{Trust: trust(github, `{"StringLike":{"token.actions.githubusercontent.com:job_workflow_ref":"org/app/.github/workflows/deploy*.yml@refs/heads/main"}}`)}, nil},
		{"prefix in an exclusion", Input{Trust: trust(gitlabCom, bound(gitlabCom, `"StringNotLike":{"gitlab.com:sub":"project_path:grp*"}`))}, nil},
		{"prefix under StringEquals is literal", Input{Trust: trust(gitlabCom, `{"StringEquals":{"gitlab.com:sub":"project_path:grp*"}}`)}, nil},
		{"EKS namespace prefix (not a CI format)", Input{Trust: trust(eks, `{"StringLike":{"oidc.eks.us-east-1.amazonaws.com/id/ABC:sub":"system:serviceaccount:ci*"}}`)}, nil},
	})
}

func TestWildcardRefOnPrivilegedRole(t *testing.T) {
	anyRef := trust(gitlabCom, `{"StringLike":{"gitlab.com:sub":"project_path:grp/app:*"}}`)
	runChecks(t, "OIDC003", []checkCase{
		{"any ref, role signs", Input{Trust: anyRef, Role: Role{Permissions: canSign}}, sev(High)},
		{"any branch, role puts objects", Input{Trust: trust(gitlabCom, `{"StringLike":{"gitlab.com:sub":"project_path:grp/app:ref_type:branch:ref:*"}}`), Role: Role{Permissions: []*policy.Policy{identity("s3:Put*")}}}, sev(High)},
		{"group-wide (seed 000) with ecr:*", Input{Trust: trust(gitlabCom, `{"StringLike":{"gitlab.com:sub":"project_path:your-organization/*"}}`), Role: Role{Permissions: []*policy.Policy{identity("ecr:*")}}}, sev(High)},
		{"GitHub any context, admin", Input{Trust: trust(github, `{"StringLike":{"token.actions.githubusercontent.com:sub":"repo:org/app:*"}}`), Role: Role{Permissions: []*policy.Policy{identity("*")}}}, sev(High)},
		{"GitHub pull requests, role pushes images", Input{Trust: trust(github, `{"StringEquals":{"token.actions.githubusercontent.com:sub":"repo:org/app:pull_request"}}`), Role: Role{Permissions: []*policy.Policy{identity("ecr:PutImage")}}}, sev(High)},
		{"bound by project key alone, role writes", Input{Trust: trust(selfHosted, `{"StringEquals":{"gitlab.example.com:project_path":"grp/app"}}`), Role: Role{Permissions: []*policy.Policy{identity("iam:PassRole")}}}, sev(High)},
		{"permissions unknown", Input{Trust: anyRef}, sev(Info)},
		{"read-only role", Input{Trust: anyRef, Role: Role{Permissions: readOnly}}, nil},
		{"no permissions at all", Input{Trust: anyRef, Role: Role{Permissions: []*policy.Policy{}}}, nil},
		{"ref pinned", Input{Trust: trust(gitlabCom, bound(gitlabCom)), Role: Role{Permissions: canSign}}, nil},
		{"any project, ref pinned (dev sign role)", Input{Trust: trust(selfHosted, `{"StringLike":{"gitlab.example.com:sub":"project_path:grp/*:ref_type:branch:ref:main"}}`), Role: Role{Permissions: canSign}}, nil},
		{"ref_protected claim narrows any ref", Input{Trust: trust(selfHosted, `{"StringLike":{"gitlab.example.com:sub":"project_path:grp/app:*"},"StringEquals":{"gitlab.example.com:ref_protected":"true"}}`), Role: Role{Permissions: canSign}}, nil},
		{"GitHub environment", Input{Trust: trust(github, `{"StringEquals":{"token.actions.githubusercontent.com:sub":"repo:org/app:environment:production"}}`), Role: Role{Permissions: canSign}}, nil},
		{"unbound trust reports OIDC001 instead", Input{Trust: trust(gitlabCom, ""), Role: Role{Permissions: canSign}}, nil},
	})
}

func TestWildcardInStringEquals(t *testing.T) {
	runChecks(t, "OIDC004", []checkCase{
		{"StringEquals with star", Input{Trust: trust(gitlabCom, `{"StringEquals":{"gitlab.com:sub":"project_path:grp/*"}}`)}, sev(Medium)},
		{"ForAnyValue:StringEquals with question mark", Input{Trust: trust(gitlabCom, bound(gitlabCom, `"ForAnyValue:StringEquals":{"gitlab.com:amr":"mf?"}`))}, sev(Medium)},
		{"StringNotEquals with star lets everything through", Input{Trust: trust(github, bound(github, `"StringNotEquals":{"token.actions.githubusercontent.com:sub":"repo:org/*:pull_request"}`))}, sev(High)},
		{"StringLike with star", Input{Trust: trust(gitlabCom, `{"StringLike":{"gitlab.com:sub":"project_path:grp/*"}}`)}, nil},
		{"StringEquals exact", Input{Trust: trust(gitlabCom, bound(gitlabCom))}, nil},
	})
}

func TestAudNotConstrained(t *testing.T) {
	runChecks(t, "OIDC005", []checkCase{
		{"no aud", Input{Trust: trust(gitlabCom, `{"StringEquals":{"gitlab.com:sub":"project_path:grp/app:ref_type:branch:ref:main"}}`)}, sev(Low)},
		{"no aud, provider has two client ids", Input{Trust: trust(selfHosted, `{"StringEquals":{"gitlab.example.com:sub":"project_path:grp/app:ref_type:branch:ref:main"}}`), Providers: allProviders}, sev(Low)},
		{"aud StringEquals", Input{Trust: trust(gitlabCom, bound(gitlabCom))}, nil},
		{"aud StringLike", Input{Trust: trust(gitlabCom, `{"StringEquals":{"gitlab.com:sub":"project_path:grp/app:ref_type:branch:ref:main"},"StringLike":{"gitlab.com:aud":"https://gitlab.*"}}`)}, nil},
	})
}

func TestAudNotClientID(t *testing.T) {
	sub := `"gitlab.com:sub":"project_path:grp/app:ref_type:branch:ref:main"`
	runChecks(t, "OIDC006", []checkCase{
		{"unknown audience", Input{Trust: trust(gitlabCom, `{"StringEquals":{`+sub+`,"gitlab.com:aud":"sts.amazonaws.com"}}`), Providers: allProviders}, sev(Medium)},
		{"one of two values dead", Input{Trust: trust(gitlabCom, `{"StringEquals":{`+sub+`,"gitlab.com:aud":["https://gitlab.com","gitlab"]}}`), Providers: allProviders}, sev(Low)},
		{"registered audience", Input{Trust: trust(gitlabCom, bound(gitlabCom)), Providers: allProviders}, nil},
		{"pattern matching a client id", Input{Trust: trust(gitlabCom, `{"StringEquals":{`+sub+`},"StringLike":{"gitlab.com:aud":"https://gitlab.*"}}`), Providers: allProviders}, nil},
		{"providers unknown", Input{Trust: trust(gitlabCom, `{"StringEquals":{`+sub+`,"gitlab.com:aud":"sts.amazonaws.com"}}`)}, nil},
	})
}

func TestAudTrailingSlash(t *testing.T) {
	sub := `"gitlab.com:sub":"project_path:grp/app:ref_type:branch:ref:main"`
	slashed := []Provider{{ARN: arn(gitlabCom), URL: "https://gitlab.com", ClientIDs: []string{"https://gitlab.com/"}}}
	runChecks(t, "OIDC007", []checkCase{
		{"trailing slash", Input{Trust: trust(gitlabCom, `{"StringEquals":{`+sub+`,"gitlab.com:aud":"https://gitlab.com/"}}`)}, sev(Medium)},
		{"trailing slash, providers known", Input{Trust: trust(gitlabCom, `{"StringEquals":{`+sub+`,"gitlab.com:aud":"https://gitlab.com/"}}`), Providers: allProviders}, sev(Medium)},
		{"no slash", Input{Trust: trust(gitlabCom, bound(gitlabCom))}, nil},
		{"slash registered on the provider too", Input{Trust: trust(gitlabCom, `{"StringEquals":{`+sub+`,"gitlab.com:aud":"https://gitlab.com/"}}`), Providers: slashed}, nil},
	})
}

func TestImpossibleClaimValue(t *testing.T) {
	aud := `"gitlab.com:aud":"https://gitlab.com"`
	runChecks(t, "OIDC008", []checkCase{
		{"GitLab ref_type mr", Input{Trust: trust(gitlabCom, `{"StringEquals":{`+aud+`,"gitlab.com:sub":"project_path:grp/app:ref_type:mr:ref:42"}}`)}, sev(Medium)},
		{"GitLab qualified ref", Input{Trust: trust(gitlabCom, `{"StringEquals":{`+aud+`,"gitlab.com:sub":"project_path:grp/app:ref_type:branch:ref:refs/heads/main"}}`)}, sev(Medium)},
		{"GitHub bare ref", Input{Trust: trust(github, `{"StringEquals":{"token.actions.githubusercontent.com:sub":"repo:org/app:ref:main"}}`)}, sev(Medium)},
		{"excluding merge requests excludes nothing", Input{Trust: trust(gitlabCom, bound(gitlabCom, `"StringNotLike":{"gitlab.com:sub":"*:ref_type:mr:*"}`))}, sev(High)},
		{"ref_type claim key", Input{Trust: trust(selfHosted, bound(selfHosted, `"StringLike":{"gitlab.example.com:ref_type":"merge_request"}`))}, sev(Medium)},
		{"GitLab ref claim key qualified", Input{Trust: trust(selfHosted, bound(selfHosted, `"StringLike":{"gitlab.example.com:ref":"refs/heads/main"}`))}, sev(Medium)},
		{"GitLab branch", Input{Trust: trust(gitlabCom, bound(gitlabCom))}, nil},
		{"GitLab tag pattern", Input{Trust: trust(gitlabCom, `{"StringLike":{"gitlab.com:sub":"project_path:grp/app:ref_type:tag:ref:v*"}}`)}, nil},
		{"GitHub qualified ref", Input{Trust: trust(github, bound(github))}, nil},
		{"GitHub ref wildcard", Input{Trust: trust(github, `{"StringLike":{"token.actions.githubusercontent.com:sub":"repo:org/app:ref:*"}}`)}, nil},
		{"GitLab ref claim key bare", Input{Trust: trust(selfHosted, bound(selfHosted, `"StringLike":{"gitlab.example.com:ref":"main"}`))}, nil},
		{"GitHub ref claim key qualified", Input{Trust: trust(github, bound(github, `"StringLike":{"token.actions.githubusercontent.com:ref":"refs/heads/main"}`))}, nil},
	})
}

func TestForAllValuesOnSingleValuedKey(t *testing.T) {
	runChecks(t, "OIDC009", []checkCase{
		{"on sub (GitHub's old docs)", Input{Trust: trust(github, `{"ForAllValues:StringEquals":{"token.actions.githubusercontent.com:aud":"sts.amazonaws.com","token.actions.githubusercontent.com:sub":"repo:org/app:ref:refs/heads/main"}}`)}, sev(Medium, Medium)},
		{"on a claim that may be missing", Input{Trust: trust(selfHosted, bound(selfHosted, `"ForAllValues:StringEquals":{"gitlab.example.com:environment":"production"}`))}, sev(High)},
		{"on amr (multi-valued)", Input{Trust: trust(selfHosted, bound(selfHosted, `"ForAllValues:StringEquals":{"gitlab.example.com:amr":"pwd"}`))}, nil},
		{"required by Null", Input{Trust: trust(selfHosted, bound(selfHosted, `"ForAllValues:StringEquals":{"gitlab.example.com:environment":"production"}`, `"Null":{"gitlab.example.com:environment":"false"}`))}, nil},
		{"no qualifier", Input{Trust: trust(selfHosted, bound(selfHosted, `"StringLike":{"gitlab.example.com:environment":"production"}`))}, nil},
	})
}

func TestTrueWhenKeyMissing(t *testing.T) {
	runChecks(t, "OIDC010", []checkCase{
		{"negated on a claim", Input{Trust: trust(selfHosted, bound(selfHosted, `"StringNotEquals":{"gitlab.example.com:pipeline_source":"merge_request_event"}`))}, sev(High)},
		{"IfExists on a claim", Input{Trust: trust(selfHosted, bound(selfHosted, `"StringEqualsIfExists":{"gitlab.example.com:ref_protected":"true"}`))}, sev(High)},
		{"key case differs", Input{Trust: trust(selfHosted, bound(selfHosted, `"StringNotLike":{"GitLab.Example.COM:Environment":"review/*"}`))}, sev(High)},
		{"negated on sub (always set)", Input{Trust: trust(gitlabCom, bound(gitlabCom, `"StringNotLike":{"gitlab.com:sub":"project_path:grp/app:ref_type:branch:ref:wip-*"}`))}, nil},
		{"required by Null", Input{Trust: trust(selfHosted, bound(selfHosted, `"StringNotEquals":{"gitlab.example.com:pipeline_source":"merge_request_event"}`, `"Null":{"gitlab.example.com:pipeline_source":"false"}`))}, nil},
		{"ForAnyValue negated is false when missing", Input{Trust: trust(selfHosted, bound(selfHosted, `"ForAnyValue:StringNotEquals":{"gitlab.example.com:groups_direct":"contractors"}`))}, nil},
		{"in a Deny statement", Input{Trust: doc(stmt(selfHosted, bound(selfHosted)),
			`{"Effect":"Deny","Principal":{"Federated":"`+arn(selfHosted)+`"},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringNotEquals":{"gitlab.example.com:ref_protected":"true"}}}`)}, nil},
	})
}

func TestFederatedNotAccountProvider(t *testing.T) {
	other := "arn:aws:iam::999988887777:oidc-provider/gitlab.com"
	runChecks(t, "OIDC011", []checkCase{
		{"another account's provider", Input{Trust: doc(strings.Replace(stmt(gitlabCom, bound(gitlabCom)), arn(gitlabCom), other, 1)), Account: acct}, sev(Medium)},
		{"provider missing from the account", Input{Trust: trust(gitlabCom, bound(gitlabCom)), Providers: allProviders[1:]}, sev(Medium)},
		{"not an ARN", Input{Trust: doc(strings.Replace(stmt(gitlabCom, bound(gitlabCom)), arn(gitlabCom), "gitlab.com", 1))}, sev(Medium)},
		{"the account's provider", Input{Trust: trust(gitlabCom, bound(gitlabCom)), Account: acct, Providers: allProviders}, nil},
		{"provider matched by URL when the ARN is not given", Input{Trust: trust(gitlabCom, bound(gitlabCom)), Providers: []Provider{{URL: "gitlab.com", ClientIDs: []string{"https://gitlab.com"}}}}, nil},
		{"account and providers unknown", Input{Trust: doc(strings.Replace(stmt(gitlabCom, bound(gitlabCom)), arn(gitlabCom), other, 1))}, nil},
		{"built-in provider", Input{Trust: doc(`{"Effect":"Allow","Principal":{"Federated":"accounts.google.com"},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringEquals":{"accounts.google.com:aud":"123.apps.googleusercontent.com"}}}`), Account: acct, Providers: allProviders}, nil},
	})
}

func TestAllowNotPrincipal(t *testing.T) {
	notPrincipal := `{"Version":"2012-10-17","Statement":{"Sid":"Everyone","Effect":"Allow","NotPrincipal":{"Federated":"` + arn(gitlabCom) + `"},"Action":"sts:AssumeRoleWithWebIdentity"}}`
	denyNotPrincipal := doc(stmt(gitlabCom, bound(gitlabCom)),
		`{"Effect":"Deny","NotPrincipal":{"Federated":"`+arn(gitlabCom)+`"},"Action":"sts:AssumeRoleWithWebIdentity"}`)
	runChecks(t, "OIDC012", []checkCase{
		{"Allow with NotPrincipal", Input{Trust: notPrincipal}, sev(Critical)},
		{"Deny with NotPrincipal", Input{Trust: denyNotPrincipal}, nil},
	})
	fs, err := Trust(Input{Trust: notPrincipal})
	var m *policy.MalformedError
	if !errors.As(err, &m) || len(fs) != 1 || fs[0].Sid != "Everyone" || !strings.Contains(fs[0].Message, arn(gitlabCom)) {
		t.Fatalf("Allow+NotPrincipal: %v %+v", err, fs)
	}
	if _, err := Trust(Input{Trust: denyNotPrincipal}); err != nil {
		t.Fatal(err)
	}
}

func TestAllowNotAction(t *testing.T) {
	runChecks(t, "OIDC013", []checkCase{
		{"Allow with NotAction", Input{Trust: doc(`{"Effect":"Allow","Principal":{"Federated":"` + arn(gitlabCom) + `"},"NotAction":"sts:AssumeRole","Condition":` + bound(gitlabCom) + `}`)}, sev(High)},
		{"Action list", Input{Trust: trust(gitlabCom, bound(gitlabCom))}, nil},
	})
}

func TestPrincipalWildcard(t *testing.T) {
	runChecks(t, "OIDC014", []checkCase{
		{"Principal star", Input{Trust: doc(`{"Effect":"Allow","Principal":"*","Action":"sts:AssumeRoleWithWebIdentity"}`)}, sev(Critical)},
		{"Federated star", Input{Trust: doc(`{"Effect":"Allow","Principal":{"Federated":"*"},"Action":"sts:AssumeRoleWithWebIdentity"}`)}, sev(Critical)},
		{"named provider", Input{Trust: trust(gitlabCom, bound(gitlabCom))}, nil},
		{"star for sts:AssumeRole only", Input{Trust: doc(`{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"sts:AssumeRole","Condition":{"StringEquals":{"aws:PrincipalOrgID":"o-123"}}}`)}, nil},
	})
}

func TestLongMaxSessionDuration(t *testing.T) {
	ok := trust(gitlabCom, bound(gitlabCom))
	runChecks(t, "OIDC015", []checkCase{
		{"two hours", Input{Trust: ok, Role: Role{MaxSessionDuration: 2 * time.Hour}}, sev(Low)},
		{"twelve hours", Input{Trust: ok, Role: Role{MaxSessionDuration: 12 * time.Hour}}, sev(Medium)},
		{"one hour", Input{Trust: ok, Role: Role{MaxSessionDuration: time.Hour}}, nil},
		{"unknown", Input{Trust: ok}, nil},
		{"twelve hours, no web identity", Input{Trust: doc(`{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}`), Role: Role{MaxSessionDuration: 12 * time.Hour}}, nil},
	})
}

// TestEveryRuleTested keeps the catalog and the tests in step.
func TestEveryRuleTested(t *testing.T) {
	for i, r := range rules {
		if want := fmt.Sprintf("OIDC%03d", i+1); r.ID != want {
			t.Errorf("rule %d has id %s, want %s", i, r.ID, want)
		}
		if r.Name == "" || r.Summary == "" || r.Why == "" || r.Help == "" || r.Severity < Info {
			t.Errorf("rule %s is incomplete", r.ID)
		}
	}
}

// TestSeeds lints the trust policies of /work/shared/seeds-style tutorials as users write them.
func TestSeeds(t *testing.T) {
	cases := []struct {
		name  string
		in    Input
		want  []string // "ID:severity", in output order
		clean bool
	}{
		{"GitLab docs (seed 003): pinned sub, no aud",
			Input{Trust: trust(selfHosted, `{"StringEquals":{"gitlab.example.com:sub":"project_path:mygroup/myproject:ref_type:branch:ref:main"}}`)},
			[]string{"OIDC005:low"}, false},
		{"group prefix without slash (seed 002)",
			Input{Trust: trust(gitlabCom, `{"StringEquals":{"gitlab.com:aud":"https://gitlab.com"},"StringLike":{"gitlab.com:sub":"project_path:mygroup*"}}`), Role: Role{Permissions: []*policy.Policy{identity("ec2:RunInstances")}}},
			[]string{"OIDC002:critical", "OIDC003:high"}, false},
		{"organization-wide pull and verify (seed 000)",
			Input{Trust: trust(selfHosted, `{"StringEquals":{"gitlab.example.com:aud":"https://gitlab.example.com"},"StringLike":{"gitlab.example.com:sub":"project_path:your-organization/*"}}`),
				Account: acct, Providers: allProviders, Role: Role{MaxSessionDuration: time.Hour, Permissions: readOnly}},
			nil, true},
		{"Terraform production role (seed 004)",
			Input{Trust: trust(gitlabCom, `{"StringEquals":{"gitlab.com:aud":"https://gitlab.com","gitlab.com:sub":"project_path:mygroup/myproject:ref_type:branch:ref:main","aws:RequestedRegion":"us-east-1"}}`),
				Account: acct, Providers: allProviders, Role: Role{MaxSessionDuration: time.Hour, Permissions: []*policy.Policy{identity("s3:PutObject")}}},
			nil, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fs, err := Trust(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, f := range fs {
				got = append(got, f.ID+":"+f.Severity.String())
			}
			if !slices.Equal(got, tc.want) || tc.clean != (len(fs) == 0) {
				t.Fatalf("got %v, want %v\n%s", got, tc.want, dump(fs))
			}
		})
	}
}

func TestTrustRefusesWhatDoesNotParse(t *testing.T) {
	for _, bad := range []string{"", "{", `{"Statement":[]}`, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRoleWithWebIdentity"}]}`} {
		fs, err := Trust(Input{Trust: bad})
		var m *policy.MalformedError
		if !errors.As(err, &m) || len(fs) != 0 {
			t.Errorf("Trust(%q) = %v, %v; want a MalformedError and no findings", bad, fs, err)
		}
	}
}

func TestOrderingAndMax(t *testing.T) {
	fs, err := Trust(Input{
		Trust: doc(stmt(selfHosted, `{"StringEquals":{"gitlab.example.com:aud":"https://gitlab.example.com/"}}`), stmt(gitlabCom, "")),
		Role:  Role{MaxSessionDuration: 12 * time.Hour},
	})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range fs {
		got = append(got, fmt.Sprintf("%s:%s:%d", f.ID, f.Severity, f.Statement))
	}
	want := []string{"OIDC001:critical:1", "OIDC001:high:0", "OIDC007:medium:0", "OIDC015:medium:-1", "OIDC005:low:1"}
	if !slices.Equal(got, want) {
		t.Fatalf("order %v, want %v", got, want)
	}
	if Max(fs) != Critical || Max(nil) != None {
		t.Fatalf("Max = %v, Max(nil) = %v", Max(fs), Max(nil))
	}
}

func TestFindingString(t *testing.T) {
	fs, err := Trust(Input{Trust: trust(gitlabCom, "")})
	if err != nil || len(fs) == 0 {
		t.Fatal(fs, err)
	}
	if got := fs[0].String(); !strings.HasPrefix(got, "OIDC001 no-sub-condition (critical) at Statement[0]: Statement[0] trusts "+arn(gitlabCom)) {
		t.Fatalf("String() = %q", got)
	}
}

func TestSeverityNames(t *testing.T) {
	for s := None; s <= Critical; s++ {
		got, err := ParseSeverity(strings.ToUpper(s.String()))
		if err != nil || got != s {
			t.Errorf("ParseSeverity(%q) = %v, %v", s, got, err)
		}
		b, err := s.MarshalText()
		var back Severity
		if err != nil || back.UnmarshalText(b) != nil || back != s {
			t.Errorf("text round trip of %v: %s %v", s, b, err)
		}
	}
	if _, err := ParseSeverity("severe"); err == nil {
		t.Error("ParseSeverity accepted an unknown name")
	}
	if Info >= Low || Low >= Medium || Medium >= High || High >= Critical {
		t.Error("severities out of order")
	}
}

func TestCanWriteOrSign(t *testing.T) {
	cases := []struct {
		action string
		want   bool
	}{
		{"*", true}, {"kms:Sign", true}, {"kms:*", true}, {"KMS:SIGN", true}, {"kms:GenerateMac", true},
		{"ecr:Put*", true}, {"ecr:BatchDeleteImage", true}, {"ecr:CompleteLayerUpload", true}, {"kms:S*", true}, {"s3:*Object", true},
		{"iam:*", true}, {"iam:PassRole", true}, {"sts:AssumeRole", true}, {"lambda:InvokeFunction", true},
		{"kms:Verify", false}, {"kms:GetPublicKey", false}, {"kms:Decrypt", false}, {"ecr:BatchGetImage", false},
		{"ecr:BatchCheckLayerAvailability", false}, {"s3:Get*", false}, {"s3:List*", false}, {"iam:Describe*", false},
		{"iam:Generate*", false}, {"athena:Batch*", false}, {"logs:StartQuery", false},
	}
	for _, tc := range cases {
		_, got := CanWriteOrSign([]*policy.Policy{identity(tc.action)})
		if got != tc.want {
			t.Errorf("CanWriteOrSign(%s) = %v, want %v", tc.action, got, tc.want)
		}
	}
	deny, _ := policy.Parse([]byte(`{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*"}]}`))
	notAction, _ := policy.Parse([]byte(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","NotAction":"iam:*","Resource":"*"}]}`))
	if _, ok := CanWriteOrSign([]*policy.Policy{deny, nil}); ok {
		t.Error("a Deny counted as write access")
	}
	if a, ok := CanWriteOrSign([]*policy.Policy{notAction}); !ok || !strings.Contains(a, "NotAction") {
		t.Errorf("NotAction: %q %v", a, ok)
	}
}

func TestGlob(t *testing.T) {
	cases := []struct {
		p, s string
		want bool
	}{
		{"*", "", true}, {"a*c", "abc", true}, {"a*c", "ab", false}, {"a?c", "abc", true},
		{"a?c", "ac", false}, {"*b*", "abc", true}, {"a**", "a", true}, {"https://gitlab.*", "https://gitlab.com", true},
	}
	for _, tc := range cases {
		if got := glob(tc.p, tc.s); got != tc.want {
			t.Errorf("glob(%q, %q) = %v", tc.p, tc.s, got)
		}
	}
}

func TestLines(t *testing.T) {
	document := `{
  "Version": "2012-10-17",
  "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"},
    {
      "Effect": "Allow",
      "Principal": {
        "Federated": "arn:aws:iam::111122223333:oidc-provider/gitlab.com"
      },
      "Action": "sts:AssumeRoleWithWebIdentity",
      "Condition": {
        "StringEquals": {
          "gitlab.com:aud": "https://gitlab.com",
          "gitlab.com:sub": "project_path:grp/*"
        }
      }
    }
  ]
}`
	idx := indexLines([]byte(document))
	for path, want := range map[string]int{
		"Statement[0]":                     4,
		"Statement[1]":                     5,
		"Statement[1].Principal.Federated": 8,
		"Statement[1].Condition":           11,
		`Statement[1].Condition.StringEquals["gitlab.com:sub"]`:    14,
		`Statement[1].Condition.StringEquals["gitlab.com:sub"][0]`: 14,
		"Statement[7]":       3, // the nearest enclosing element
		"MaxSessionDuration": 0,
	} {
		if got := idx.lineOf(path); got != want {
			t.Errorf("line of %s = %d, want %d", path, got, want)
		}
	}
	fs, err := Trust(Input{Trust: document})
	if err != nil || len(fs) == 0 || fs[0].ID != "OIDC004" || fs[0].Line != 14 {
		t.Fatalf("%v %+v", err, fs)
	}
	single := `{"Statement":
{"Effect":"Allow","Principal":"*","Action":"sts:*"}}`
	if fs, _ := Trust(Input{Trust: single}); len(fs) == 0 || fs[0].Line != 2 {
		t.Fatalf("single statement: %+v", fs)
	}
}
