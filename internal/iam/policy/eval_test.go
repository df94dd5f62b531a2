package policy

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func mustParse(t testing.TB, kind Kind, doc string) *Policy {
	t.Helper()
	p, err := ParseKind([]byte(doc), kind)
	if err != nil {
		t.Fatalf("ParseKind(%s): %v", doc, err)
	}
	return p
}

const gitlabProvider = "arn:aws:iam::111122223333:oidc-provider/gitlab.example.com"

// The seeds' trust policies (GitLab docs and the blog posts in ../shared/seeds).
const (
	// gitlab-deploy: one project, branch main only (seed 003/004, dev-mode role).
	trustDeployMain = `{
  "Version": "2012-10-17",
  "Statement": [{
    "Effect": "Allow",
    "Principal": {"Federated": "arn:aws:iam::111122223333:oidc-provider/gitlab.example.com"},
    "Action": "sts:AssumeRoleWithWebIdentity",
    "Condition": {
      "StringEquals": {
        "gitlab.example.com:aud": "https://gitlab.example.com",
        "gitlab.example.com:sub": "project_path:mygroup/myproject:ref_type:branch:ref:main"
      }
    }
  }]
}`
	// gitlab-ci: any project under mygroup, any ref (seed 002's StringLike form).
	trustGroupLike = `{
  "Version": "2012-10-17",
  "Statement": [{
    "Effect": "Allow",
    "Principal": {"Federated": "arn:aws:iam::111122223333:oidc-provider/gitlab.example.com"},
    "Action": "sts:AssumeRoleWithWebIdentity",
    "Condition": {
      "StringEquals": {"gitlab.example.com:aud": "https://gitlab.example.com"},
      "StringLike": {"gitlab.example.com:sub": "project_path:mygroup/*"}
    }
  }]
}`
	// release role: tag pipelines of one project only.
	trustTags = `{
  "Version": "2012-10-17",
  "Statement": [{
    "Effect": "Allow",
    "Principal": {"Federated": "arn:aws:iam::111122223333:oidc-provider/gitlab.example.com"},
    "Action": "sts:AssumeRoleWithWebIdentity",
    "Condition": {
      "StringEquals": {"gitlab.example.com:aud": "https://gitlab.example.com"},
      "StringLike": {"gitlab.example.com:sub": "project_path:mygroup/myproject:ref_type:tag:ref:v*"}
    }
  }]
}`
	// staging role with claim keys on (beyond AWS): any branch, but no merge-request pipelines.
	trustNoMR = `{
  "Version": "2012-10-17",
  "Statement": [{
    "Effect": "Allow",
    "Principal": {"Federated": "arn:aws:iam::111122223333:oidc-provider/gitlab.example.com"},
    "Action": "sts:AssumeRoleWithWebIdentity",
    "Condition": {
      "StringEquals": {"gitlab.example.com:aud": "https://gitlab.example.com"},
      "StringLike": {"gitlab.example.com:sub": "project_path:mygroup/myproject:ref_type:branch:ref:*"},
      "StringNotEquals": {"gitlab.example.com:pipeline_source": "merge_request_event"}
    }
  }]
}`
)

func gitlabIdentity(sub string) *WebIdentity {
	return &WebIdentity{
		ProviderARN:     gitlabProvider,
		ProviderKey:     "gitlab.example.com",
		Audience:        "https://gitlab.example.com",
		TokenAudiences:  []string{"https://gitlab.example.com"},
		Subject:         sub,
		IssuedAt:        time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC),
		CurrentTime:     time.Date(2026, 1, 1, 12, 0, 3, 0, time.UTC),
		SourceIP:        "198.51.100.7",
		RequestedRegion: "us-east-1",
		RoleSessionName: "gitlab-ci-42-1001",
	}
}

func TestGitLabTrustPolicies(t *testing.T) {
	const (
		mainSub = "project_path:mygroup/myproject:ref_type:branch:ref:main"
		tagSub  = "project_path:mygroup/myproject:ref_type:tag:ref:v1.2.3"
		// An MR pipeline's sub is a branch sub naming the MR's source branch.
		mrSub = "project_path:mygroup/myproject:ref_type:branch:ref:feature-x"
	)
	mr := gitlabIdentity(mrSub)
	mr.Claims = map[string][]string{"pipeline_source": {"merge_request_event"}}
	push := gitlabIdentity(mrSub)
	push.Claims = map[string][]string{"pipeline_source": {"push"}}
	wrongAud := gitlabIdentity(mainSub)
	wrongAud.Audience = "https://gitlab.example.com/"
	otherProvider := gitlabIdentity(mainSub)
	otherProvider.ProviderARN = "arn:aws:iam::111122223333:oidc-provider/gitlab.evil.example"
	noSub := gitlabIdentity("")
	upperKeys := gitlabIdentity(mainSub)

	cases := []struct {
		name   string
		policy string
		id     *WebIdentity
		action string
		want   DecisionEffect
		failed string // the failing element in the trace, when denied
	}{
		{"deploy role, main branch", trustDeployMain, gitlabIdentity(mainSub), "", Allow, ""},
		{"deploy role, tag pipeline on branch-only role", trustDeployMain, gitlabIdentity(tagSub), "", ImplicitDeny, "Condition"},
		{"deploy role, MR pipeline", trustDeployMain, mr, "", ImplicitDeny, "Condition"},
		{"deploy role, other project", trustDeployMain, gitlabIdentity("project_path:mygroup/other:ref_type:branch:ref:main"), "", ImplicitDeny, "Condition"},
		{"deploy role, aud with trailing slash", trustDeployMain, wrongAud, "", ImplicitDeny, "Condition"},
		{"deploy role, other provider", trustDeployMain, otherProvider, "", ImplicitDeny, "Principal"},
		{"deploy role, wrong action", trustDeployMain, gitlabIdentity(mainSub), "sts:AssumeRole", ImplicitDeny, "Action"},
		{"deploy role, no sub", trustDeployMain, noSub, "", ImplicitDeny, "Condition"},
		{"deploy role, action case-insensitive", trustDeployMain, upperKeys, "STS:assumerolewithwebidentity", Allow, ""},
		{"group role, project in group", trustGroupLike, gitlabIdentity(mainSub), "", Allow, ""},
		{"group role, subgroup project tag", trustGroupLike, gitlabIdentity("project_path:mygroup/sub/proj:ref_type:tag:ref:v1"), "", Allow, ""},
		{"group role, sibling group", trustGroupLike, gitlabIdentity("project_path:mygroup-evil/proj:ref_type:branch:ref:main"), "", ImplicitDeny, "Condition"},
		{"tag role, tag pipeline", trustTags, gitlabIdentity(tagSub), "", Allow, ""},
		{"tag role, branch named like a tag", trustTags, gitlabIdentity("project_path:mygroup/myproject:ref_type:branch:ref:v1.2.3"), "", ImplicitDeny, "Condition"},
		{"no-MR role, MR pipeline", trustNoMR, mr, "", ImplicitDeny, "Condition"},
		{"no-MR role, push pipeline", trustNoMR, push, "", Allow, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := mustParse(t, TrustPolicy, tc.policy)
			action := tc.action
			if action == "" {
				action = "sts:AssumeRoleWithWebIdentity"
			}
			req := tc.id.Request(action)
			d := EvaluateTrust(req, p)
			if d.Effect != tc.want || d.Allowed != (tc.want == Allow) {
				t.Fatalf("decision %+v, want %v", d, tc.want)
			}
			td, trace := EvaluateTrace(req, p)
			if td != d {
				t.Errorf("EvaluateTrace decision %+v differs from Evaluate %+v", td, d)
			}
			if len(trace) != 1 {
				t.Fatalf("trace has %d entries, want 1", len(trace))
			}
			if tc.want == Allow {
				if !trace[0].Matched || trace[0].Failed != "" {
					t.Errorf("trace %+v, want matched", trace[0])
				}
				return
			}
			if trace[0].Matched || trace[0].Failed != tc.failed {
				t.Errorf("trace %+v, want failed %s", trace[0], tc.failed)
			}
		})
	}
}

func TestTraceNamesFailingCondition(t *testing.T) {
	p := mustParse(t, TrustPolicy, trustDeployMain)
	req := gitlabIdentity("project_path:mygroup/myproject:ref_type:tag:ref:v1").Request("sts:AssumeRoleWithWebIdentity")
	_, trace := EvaluateTrace(req, p)
	ct := trace[0].Condition
	if ct == nil {
		t.Fatalf("no condition in trace %+v", trace[0])
	}
	if ct.Operator != "StringEquals" || ct.Key != "gitlab.example.com:sub" || !ct.KeyPresent ||
		strings.Join(ct.Expected, ",") != "project_path:mygroup/myproject:ref_type:branch:ref:main" ||
		strings.Join(ct.Actual, ",") != "project_path:mygroup/myproject:ref_type:tag:ref:v1" {
		t.Errorf("condition trace %+v", ct)
	}
	if !strings.Contains(trace[0].Reason, "gitlab.example.com:sub") {
		t.Errorf("reason %q does not name the key", trace[0].Reason)
	}

	// A missing key is reported as such.
	_, trace = EvaluateTrace(gitlabIdentity("").Request("sts:AssumeRoleWithWebIdentity"), p)
	if ct := trace[0].Condition; ct == nil || ct.KeyPresent || ct.Actual != nil {
		t.Errorf("missing key trace %+v", ct)
	}
}

func TestConditionKeyCase(t *testing.T) {
	// The policy spells the key in capitals, the context lower-cases it (and vice versa):
	// either way it is the same key, so a negated guard is not silently satisfied.
	p := mustParse(t, TrustPolicy, `{"Version":"2012-10-17","Statement":[
	 {"Effect":"Allow","Principal":{"Federated":"`+gitlabProvider+`"},"Action":"sts:AssumeRoleWithWebIdentity"},
	 {"Effect":"Deny","Principal":"*","Action":"*","Condition":{"StringNotLike":{"GITLAB.example.com:SUB":"project_path:mygroup/*"}}}]}`)
	req := gitlabIdentity("project_path:evil/x:ref_type:branch:ref:main").Request("sts:AssumeRoleWithWebIdentity")
	if d := Evaluate(req, p); d.Effect != ExplicitDeny || d.Statement != 1 {
		t.Errorf("got %+v, want the Deny statement", d)
	}
	req.Context = Context{"GitLab.Example.Com:Sub": {"project_path:mygroup/x"}, "aws:federatedprovider": {gitlabProvider}}
	if d := Evaluate(req, p); d.Effect != Allow {
		t.Errorf("mixed-case context key: got %+v, want Allow", d)
	}
}

func TestEvaluatePrecedence(t *testing.T) {
	allowAll := mustParse(t, IdentityPolicy, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}`)
	denyIAM := mustParse(t, IdentityPolicy, `{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"iam:*","Resource":"*"}}`)
	allowNotIAM := mustParse(t, IdentityPolicy, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","NotAction":"iam:*","Resource":"*"}}`)
	s3Bucket := mustParse(t, IdentityPolicy, `{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Action":["s3:Get*","s3:List?ucket"],"Resource":["arn:aws:s3:::b","arn:aws:s3:::b/*"]},
		{"Effect":"Deny","Action":"s3:*","NotResource":"arn:aws:s3:::b/*"}]}`)
	req := func(action, resource string) *Request { return &Request{Action: action, Resource: resource} }

	cases := []struct {
		name     string
		req      *Request
		policies []*Policy
		want     DecisionEffect
	}{
		{"no policies", req("s3:GetObject", "arn:aws:s3:::b/k"), nil, ImplicitDeny},
		{"nil policy skipped", req("s3:GetObject", "arn:aws:s3:::b/k"), []*Policy{nil, allowAll}, Allow},
		{"allow", req("s3:GetObject", "arn:aws:s3:::b/k"), []*Policy{allowAll}, Allow},
		{"explicit deny beats allow", req("iam:CreateRole", "*"), []*Policy{allowAll, denyIAM}, ExplicitDeny},
		{"deny order does not matter", req("iam:CreateRole", "*"), []*Policy{denyIAM, allowAll}, ExplicitDeny},
		{"deny alone", req("iam:CreateRole", "*"), []*Policy{denyIAM}, ExplicitDeny},
		{"NotAction allow grants the rest", req("kms:Decrypt", "*"), []*Policy{allowNotIAM}, Allow},
		{"NotAction allow excludes listed", req("iam:PassRole", "*"), []*Policy{allowNotIAM}, ImplicitDeny},
		{"resource glob", req("s3:GetObject", "arn:aws:s3:::b/deep/key"), []*Policy{s3Bucket}, Allow},
		{"resource case-sensitive", req("s3:GetObject", "arn:aws:s3:::B/k"), []*Policy{s3Bucket}, ExplicitDeny},
		{"action ? wildcard", req("s3:ListBucket", "arn:aws:s3:::b"), []*Policy{s3Bucket}, ExplicitDeny},
		{"NotResource deny", req("s3:PutObject", "arn:aws:s3:::other/k"), []*Policy{s3Bucket}, ExplicitDeny},
		{"action not listed", req("s3:PutObject", "arn:aws:s3:::b/k"), []*Policy{s3Bucket}, ImplicitDeny},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := Evaluate(tc.req, tc.policies...)
			if d.Effect != tc.want || d.Allowed != (tc.want == Allow) {
				t.Errorf("got %+v, want %v", d, tc.want)
			}
			if (d.Effect == ImplicitDeny) != (d.Policy == -1) {
				t.Errorf("decision indices %+v", d)
			}
			td, trace := EvaluateTrace(tc.req, tc.policies...)
			if td != d {
				t.Errorf("EvaluateTrace %+v, Evaluate %+v", td, d)
			}
			n := 0
			for _, p := range tc.policies {
				if p != nil {
					n += len(p.Statements)
				}
			}
			if len(trace) != n {
				t.Errorf("trace has %d statements, want all %d", len(trace), n)
			}
		})
	}
}

func TestPrincipalMatching(t *testing.T) {
	trust := func(principal string) *Policy {
		return mustParse(t, TrustPolicy, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":`+principal+`,"Action":"sts:AssumeRole*"}}`)
	}
	aws := func(id string) Principal { return Principal{Type: PrincipalAWS, ID: id} }
	cases := []struct {
		name      string
		principal string
		caller    Principal
		want      bool
	}{
		{"star matches anyone", `"*"`, Principal{Type: PrincipalFederated, ID: gitlabProvider}, true},
		{"AWS star matches AWS principals", `{"AWS":"*"}`, aws("arn:aws:iam::123456789012:user/u"), true},
		{"AWS star does not admit web identities", `{"AWS":"*"}`, Principal{Type: PrincipalFederated, ID: gitlabProvider}, false},
		{"account id covers its principals", `{"AWS":"123456789012"}`, aws("arn:aws:iam::123456789012:role/r"), true},
		{"account id other account", `{"AWS":"123456789012"}`, aws("arn:aws:iam::999999999999:role/r"), false},
		{"root ARN covers sessions", `{"AWS":"arn:aws:iam::123456789012:root"}`, aws("arn:aws:sts::123456789012:assumed-role/r/s"), true},
		{"role ARN covers its sessions", `{"AWS":"arn:aws:iam::123456789012:role/ci/deployer"}`, aws("arn:aws:sts::123456789012:assumed-role/deployer/gitlab-ci-1"), true},
		{"role ARN not other role's sessions", `{"AWS":"arn:aws:iam::123456789012:role/deployer"}`, aws("arn:aws:sts::123456789012:assumed-role/deployer2/s"), false},
		{"role ARN exact", `{"AWS":["arn:aws:iam::123456789012:role/a","arn:aws:iam::123456789012:role/b"]}`, aws("arn:aws:iam::123456789012:role/b"), true},
		{"user ARN not other user", `{"AWS":"arn:aws:iam::123456789012:user/a"}`, aws("arn:aws:iam::123456789012:user/ab"), false},
		{"federated exact", `{"Federated":"` + gitlabProvider + `"}`, Principal{Type: PrincipalFederated, ID: gitlabProvider}, true},
		{"federated is not AWS", `{"Federated":"` + gitlabProvider + `"}`, aws(gitlabProvider), false},
		{"service", `{"Service":["ec2.amazonaws.com"]}`, Principal{Type: PrincipalService, ID: "ec2.amazonaws.com"}, true},
		{"no principal", `{"Service":"ec2.amazonaws.com"}`, Principal{}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := &Request{Principal: tc.caller, Action: "sts:AssumeRole"}
			if got := EvaluateTrust(req, trust(tc.principal)).Allowed; got != tc.want {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}

	deny := mustParse(t, TrustPolicy, `{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Principal":{"AWS":"123456789012"},"Action":"sts:AssumeRole"},
		{"Effect":"Deny","NotPrincipal":{"AWS":"arn:aws:iam::123456789012:role/admin"},"Action":"sts:AssumeRole"}]}`)
	if d := EvaluateTrust(&Request{Principal: aws("arn:aws:iam::123456789012:role/admin"), Action: "sts:AssumeRole"}, deny); !d.Allowed {
		t.Errorf("NotPrincipal-excluded caller denied: %+v", d)
	}
	if d := EvaluateTrust(&Request{Principal: aws("arn:aws:iam::123456789012:role/dev"), Action: "sts:AssumeRole"}, deny); d.Effect != ExplicitDeny {
		t.Errorf("NotPrincipal deny did not apply: %+v", d)
	}
}

func TestEvaluateSession(t *testing.T) {
	roleS3 := mustParse(t, IdentityPolicy, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":["s3:*","kms:Decrypt"],"Resource":"*"}}`)
	roleDenyDelete := mustParse(t, IdentityPolicy, `{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"s3:DeleteObject","Resource":"*"}}`)
	sessionGet := mustParse(t, SessionPolicy, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":["s3:GetObject","s3:DeleteObject","iam:*"],"Resource":"*"}}`)
	sessionDenyKMS := mustParse(t, SessionPolicy, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"},{"Effect":"Deny","Action":"kms:*","Resource":"*"}]}`)
	req := func(action string) *Request { return &Request{Action: action, Resource: "arn:aws:s3:::b/k"} }
	cases := []struct {
		name              string
		action            string
		identity, session []*Policy
		want              DecisionEffect
	}{
		{"no session policy: role's permissions", "kms:Decrypt", []*Policy{roleS3}, nil, Allow},
		{"both allow", "s3:GetObject", []*Policy{roleS3}, []*Policy{sessionGet}, Allow},
		{"session narrows", "s3:PutObject", []*Policy{roleS3}, []*Policy{sessionGet}, ImplicitDeny},
		{"session never widens", "iam:CreateRole", []*Policy{roleS3}, []*Policy{sessionGet}, ImplicitDeny},
		{"identity deny wins", "s3:DeleteObject", []*Policy{roleS3, roleDenyDelete}, []*Policy{sessionGet}, ExplicitDeny},
		{"session deny wins", "kms:Decrypt", []*Policy{roleS3}, []*Policy{sessionDenyKMS}, ExplicitDeny},
		{"session deny wins over identity allow-all", "kms:Decrypt", []*Policy{roleS3, roleDenyDelete}, []*Policy{sessionDenyKMS}, ExplicitDeny},
		{"session allow-all is the role's", "s3:PutObject", []*Policy{roleS3}, []*Policy{sessionDenyKMS}, Allow},
		{"no identity policy", "s3:GetObject", nil, []*Policy{sessionGet}, ImplicitDeny},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := EvaluateSession(req(tc.action), tc.identity, tc.session)
			if d.Effect != tc.want || d.Allowed != (tc.want == Allow) {
				t.Errorf("got %+v, want %v", d, tc.want)
			}
			if d.Effect == ExplicitDeny && d.Session != (tc.session != nil && tc.session[0] == sessionDenyKMS && tc.action == "kms:Decrypt") {
				t.Errorf("deny attributed to the wrong set: %+v", d)
			}
			td, trace := EvaluateSessionTrace(req(tc.action), tc.identity, tc.session)
			if td != d {
				t.Errorf("trace decision %+v, want %+v", td, d)
			}
			sessionEntries := 0
			for _, st := range trace {
				if st.Session {
					sessionEntries++
				}
			}
			want := 0
			for _, p := range tc.session {
				want += len(p.Statements)
			}
			if sessionEntries != want {
				t.Errorf("%d session entries in trace, want %d", sessionEntries, want)
			}
		})
	}
}

func TestWebIdentityContext(t *testing.T) {
	id := gitlabIdentity("project_path:g/p:ref_type:branch:ref:main")
	id.AMR = []string{"pwd", "mfa"}
	id.Claims = map[string][]string{"ref_protected": {"true"}, "sub": {"forged"}, "AUD": {"forged"}}
	c := id.Context()
	want := map[string]string{
		"gitlab.example.com:aud":           "https://gitlab.example.com",
		"gitlab.example.com:oaud":          "https://gitlab.example.com",
		"gitlab.example.com:sub":           "project_path:g/p:ref_type:branch:ref:main",
		"gitlab.example.com:amr":           "pwd,mfa",
		"gitlab.example.com:ref_protected": "true",
		"aws:federatedprovider":            gitlabProvider,
		"aws:tokenissuetime":               "2026-01-01T12:00:00Z",
		"aws:currenttime":                  "2026-01-01T12:00:03Z",
		"aws:epochtime":                    "1767268803",
		"aws:sourceip":                     "198.51.100.7",
		"aws:requestedregion":              "us-east-1",
		"sts:rolesessionname":              "gitlab-ci-42-1001",
	}
	for k, v := range want {
		if got := strings.Join(c[k], ","); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if len(c) != len(want) {
		t.Errorf("context has %d keys, want %d: %v", len(c), len(want), c)
	}
	if _, ok := c["sts:sourceidentity"]; ok {
		t.Error("empty source identity present")
	}
}

func TestContextGetSet(t *testing.T) {
	c := Context{}
	c.Set("AWS:SourceIp", "10.0.0.1")
	if _, ok := c["aws:sourceip"]; !ok {
		t.Error("Set does not lower-case the key")
	}
	for _, k := range []string{"aws:sourceip", "AWS:SOURCEIP", "aws:SourceIp"} {
		if v, ok := c.Get(k); !ok || v[0] != "10.0.0.1" {
			t.Errorf("Get(%q) = %v, %v", k, v, ok)
		}
	}
	if _, ok := c.Get("aws:username"); ok {
		t.Error("Get found a missing key")
	}
	if _, ok := Context(nil).Get("x"); ok {
		t.Error("nil context has keys")
	}
}

// A parsed Policy is shared by concurrent requests (run with -race).
func TestConcurrentEvaluate(t *testing.T) {
	p := mustParse(t, TrustPolicy, trustGroupLike)
	vars := mustParse(t, IdentityPolicy, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::home/${aws:username}/*"}}`)
	done := make(chan bool)
	for i := 0; i < 4; i++ {
		go func() {
			ok := true
			for j := 0; j < 200; j++ {
				req := gitlabIdentity("project_path:mygroup/p:ref_type:branch:ref:main").Request("sts:AssumeRoleWithWebIdentity")
				d, _ := EvaluateTrace(req, p)
				user := fmt.Sprint("u", j)
				ok = ok && d.Allowed && Evaluate(&Request{Action: "s3:GetObject", Resource: "arn:aws:s3:::home/" + user + "/k", Context: ctx("aws:username", user)}, vars).Allowed
			}
			done <- ok
		}()
	}
	for i := 0; i < 4; i++ {
		if !<-done {
			t.Error("a concurrent evaluation was denied")
		}
	}
}
