package policy

import (
	"fmt"
	"strings"
	"testing"
)

func TestVariablesInResource(t *testing.T) {
	policy := func(version, resource string) *Policy {
		return mustParse(t, IdentityPolicy, fmt.Sprintf(`{"Version":%q,"Statement":{"Effect":"Allow","Action":"s3:*","Resource":%q}}`, version, resource))
	}
	c := ctx("aws:username", "alice", "gitlab.example.com:sub", "project_path:g/p:ref_type:branch:ref:main", "k:star", "a*", "k:multi", []string{"x", "y"})
	cases := []struct {
		name, version, resource, target string
		want                            bool
	}{
		{"substituted", Version2012, "arn:aws:s3:::home/${aws:username}/*", "arn:aws:s3:::home/alice/f", true},
		{"other user", Version2012, "arn:aws:s3:::home/${aws:username}/*", "arn:aws:s3:::home/bob/f", false},
		{"key case-insensitive", Version2012, "arn:aws:s3:::home/${AWS:UserName}/*", "arn:aws:s3:::home/alice/f", true},
		{"provider key", Version2012, "arn:aws:s3:::b/${gitlab.example.com:sub}", "arn:aws:s3:::b/project_path:g/p:ref_type:branch:ref:main", true},
		{"2008: literal text", Version2008, "arn:aws:s3:::home/${aws:username}/*", "arn:aws:s3:::home/alice/f", false},
		{"2008: literal matches itself", Version2008, "arn:aws:s3:::home/${aws:username}/*", "arn:aws:s3:::home/${aws:username}/f", true},
		{"missing without default: no match", Version2012, "arn:aws:s3:::home/${aws:userid}/*", "arn:aws:s3:::home//f", false},
		{"default", Version2012, "arn:aws:s3:::home/${aws:userid, 'shared'}/*", "arn:aws:s3:::home/shared/f", true},
		{"default unused when present", Version2012, "arn:aws:s3:::home/${aws:username,'shared'}/*", "arn:aws:s3:::home/alice/f", true},
		{"escape star is literal", Version2012, "arn:aws:s3:::b/${*}", "arn:aws:s3:::b/*", true},
		{"escape star is not a wildcard", Version2012, "arn:aws:s3:::b/${*}", "arn:aws:s3:::b/x", false},
		{"escape question mark", Version2012, "arn:aws:s3:::b/${?}", "arn:aws:s3:::b/?", true},
		{"escape question mark not wildcard", Version2012, "arn:aws:s3:::b/${?}", "arn:aws:s3:::b/x", false},
		{"escape dollar", Version2012, "arn:aws:s3:::b/${$}{x}", "arn:aws:s3:::b/${x}", true},
		{"value with star is literal", Version2012, "arn:aws:s3:::b/${k:star}", "arn:aws:s3:::b/a*", true},
		{"value with star is not a wildcard", Version2012, "arn:aws:s3:::b/${k:star}", "arn:aws:s3:::b/abc", false},
		{"multi-valued key does not resolve", Version2012, "arn:aws:s3:::b/${k:multi}", "arn:aws:s3:::b/x", false},
		{"unterminated is literal", Version2012, "arn:aws:s3:::b/${aws:username", "arn:aws:s3:::b/${aws:username", true},
		{"malformed default is literal", Version2012, "arn:aws:s3:::b/${aws:username, shared}", "arn:aws:s3:::b/${aws:username, shared}", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := &Request{Action: "s3:GetObject", Resource: tc.target, Context: c}
			if got := Evaluate(req, policy(tc.version, tc.resource)).Allowed; got != tc.want {
				t.Errorf("Resource %q vs %q: got %v, want %v", tc.resource, tc.target, got, tc.want)
			}
		})
	}

	// NotResource with an unresolved variable: the entry matches no resource, so it excludes
	// nothing and the Deny applies everywhere (IAM User Guide, "Policy variables with no
	// value": "the resource that includes a policy variable with no value will not match any
	// resource"). This test used to assert that the statement did not apply at all.
	p := mustParse(t, IdentityPolicy, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"},
		{"Effect":"Deny","Action":"*","NotResource":"arn:aws:s3:::home/${aws:userid}/*"}]}`)
	d, trace := EvaluateTrace(&Request{Action: "s3:GetObject", Resource: "arn:aws:s3:::x", Context: c}, p)
	if d.Effect != ExplicitDeny || d.Statement != 1 || !trace[1].Matched {
		t.Errorf("got %+v, trace %+v", d, trace[1])
	}
	// A Resource entry with an unresolved variable says why it did not match.
	p = mustParse(t, IdentityPolicy, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"arn:aws:s3:::home/${aws:userid}/*"}}`)
	_, trace = EvaluateTrace(&Request{Action: "s3:GetObject", Resource: "arn:aws:s3:::home//x", Context: c}, p)
	if trace[0].Failed != "Resource" || !strings.Contains(trace[0].Reason, "policy variable ${aws:userid} has no value") {
		t.Errorf("trace %+v", trace[0])
	}
}

func TestVariablesInConditions(t *testing.T) {
	c := ctx("aws:username", "alice", "s3:prefix", "alice/home/x", "k:owner", "alice", "k:star", "*", "k:arn", "arn:aws:iam::1:user/alice")
	cases := []struct {
		name, version, cond string
		want                bool
	}{
		{"StringLike with variable", Version2012, `{"StringLike":{"s3:prefix":"${aws:username}/home/*"}}`, true},
		{"StringEquals with variable", Version2012, `{"StringEquals":{"k:owner":"${aws:username}"}}`, true},
		{"2008 keeps it literal", Version2008, `{"StringEquals":{"k:owner":"${aws:username}"}}`, false},
		{"unresolved: positive false", Version2012, `{"StringEquals":{"k:owner":"${aws:userid}"}}`, false},
		// A variable with no value is effectively null: negated operators match it (IAM User
		// Guide, "Policy variables with no value"). This case used to expect false.
		{"unresolved: negated matches", Version2012, `{"StringNotEquals":{"k:owner":"${aws:userid}"}}`, true},
		{"unresolved: negated like matches", Version2012, `{"StringNotLike":{"k:owner":"${aws:userid}*"}}`, true},
		{"unresolved value beside a resolved one", Version2012, `{"StringEquals":{"k:owner":["${aws:userid}","alice"]}}`, false},
		{"unresolved value beside a resolved one, negated", Version2012, `{"StringNotEquals":{"k:owner":["${aws:userid}","alice"]}}`, true},
		{"default in condition", Version2012, `{"StringEquals":{"k:owner":"${aws:userid,'alice'}"}}`, true},
		{"escape in StringEquals", Version2012, `{"StringEquals":{"k:star":"${*}"}}`, true},
		{"escape in StringLike is literal", Version2012, `{"StringLike":{"k:owner":"${*}"}}`, false},
		{"ArnLike with variable", Version2012, `{"ArnLike":{"k:arn":"arn:aws:iam::1:user/${aws:username}"}}`, true},
		{"ArnNotLike with variable", Version2012, `{"ArnNotLike":{"k:arn":"arn:aws:iam::*:user/${aws:username}"}}`, false},
		{"variable among plain values", Version2012, `{"StringEquals":{"k:owner":["${aws:username}","bob"]}}`, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := condAllows(t, tc.version, tc.cond, c); got != tc.want {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}

	// The trace shows the substituted expectation.
	p := mustParse(t, IdentityPolicy, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringEquals":{"k:owner":"${aws:username}-admin"}}}}`)
	_, trace := EvaluateTrace(&Request{Action: "s3:GetObject", Resource: "arn:aws:s3:::b", Context: c}, p)
	if ct := trace[0].Condition; ct == nil || len(ct.Expected) != 1 || ct.Expected[0] != "alice-admin" {
		t.Errorf("trace %+v", ct)
	}
}

func TestCompileTemplate(t *testing.T) {
	tm := compileTemplate("a${x:y, 'd'}b${*}c${ bad key }", true)
	if len(tm.parts) != 5 {
		t.Fatalf("parts %+v", tm.parts)
	}
	if p := tm.parts[1]; p.kind != partVariable || p.text != "x:y" || p.def != "d" || !p.hasDefault {
		t.Errorf("variable part %+v", p)
	}
	if p := tm.parts[4]; p.kind != partLiteral || p.text != "c${ bad key }" {
		t.Errorf("tail %+v", p)
	}
	if compileTemplate("no variables", true).parts != nil {
		t.Error("parts for plain text")
	}
}

// TestUsesKey: which claim keys a trust policy can see — STS renders only
// those into the request context.
func TestUsesKey(t *testing.T) {
	const prefix = "gitlab.example.com:"
	doc := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
		"Principal":{"Federated":"arn:aws:iam::000000000000:oidc-provider/gitlab.example.com"},
		"Action":"sts:AssumeRoleWithWebIdentity",
		"Condition":{"StringEquals":{"GITLAB.example.com:Aud":"x"},
			"StringLike":{"gitlab.example.com:sub":"project_path:${gitlab.example.com:namespace_path}/*"},
			"Null":{"other.example.com:ref":"false"}}}]}`
	p, err := Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	v2008, err := Parse([]byte(`{"Version":"2008-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"sts:AssumeRoleWithWebIdentity",
		"Condition":{"StringLike":{"gitlab.example.com:sub":"${gitlab.example.com:namespace_path}"}}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		p      *Policy
		prefix string
		key    string
		want   bool
	}{
		{"condition key, other case", p, prefix, "aud", true},
		{"condition key", p, prefix, "sub", true},
		{"claim name in another case", p, prefix, "SUB", true},
		{"read by a policy variable", p, prefix, "namespace_path", true},
		{"not tested", p, prefix, "ref", false},
		{"another provider's key", p, "other.example.com:", "ref", true},
		{"prefix of a tested key", p, prefix, "su", false},
		{"a 2008 policy has no variables", v2008, prefix, "namespace_path", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := c.p.UsesKey(c.prefix, c.key); got != c.want {
				t.Errorf("UsesKey(%q, %q) = %v, want %v", c.prefix, c.key, got, c.want)
			}
		})
	}
}
