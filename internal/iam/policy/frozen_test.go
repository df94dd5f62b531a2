package policy

import (
	"reflect"
	"testing"
)

// checkFrozen freezes p and thaws it again: the thawed policy must equal p
// in every field, exported or not (what the evaluator reads), or p must be
// one the frozen form does not keep. It reports whether p was frozen.
func checkFrozen(t *testing.T, p *Policy) bool {
	t.Helper()
	f := Freeze(p)
	if f == "" {
		if !hasUnfrozen(p) {
			t.Fatalf("Freeze refused a policy without typed values or variables: %+v", p)
		}
		return false
	}
	q, err := f.Thaw()
	if err != nil {
		t.Fatalf("Thaw: %v", err)
	}
	if !reflect.DeepEqual(p, q) {
		t.Fatalf("thawed policy differs:\nparsed %#v\nthawed %#v", p, q)
	}
	return true
}

// hasUnfrozen reports what Freeze leaves out: typed condition values or
// policy variables.
func hasUnfrozen(p *Policy) bool {
	hasParts := func(ts []template) bool {
		for _, t := range ts {
			if t.parts != nil {
				return true
			}
		}
		return false
	}
	for _, s := range p.Statements {
		if hasParts(s.actions) || hasParts(s.resources) {
			return true
		}
		for _, c := range s.Conditions {
			if c.typed != nil || c.values != nil || c.hasVariables {
				return true
			}
		}
	}
	return false
}

func TestFreezeRoundTrip(t *testing.T) {
	cases := []struct {
		name   string
		kind   Kind
		doc    string
		frozen bool
	}{
		{"seed deploy role", TrustPolicy, trustDeployMain, true},
		{"seed group role", TrustPolicy, trustGroupLike, true},
		{"seed tag role", TrustPolicy, trustTags, true},
		{"claim keys", TrustPolicy, trustNoMR, true},
		{"load script role, list of values", TrustPolicy, `{"Version":"2012-10-17","Statement":[{"Sid":"Role7","Effect":"Allow",
			"Principal":{"Federated":"arn:aws:iam::000000000000:oidc-provider/h"},"Action":"sts:AssumeRoleWithWebIdentity",
			"Condition":{"StringEquals":{"h:aud":"http://h"},"StringLike":{"h:sub":["project_path:g/p:ref_type:branch:ref:main","project_path:team-7/*"]}}}]}`, true},
		{"several statements, NotAction, Deny, IfExists, ForAllValues, Null, Bool", IdentityPolicy, `{"Version":"2012-10-17","Id":"x","Statement":[
			{"Effect":"Allow","Action":["s3:Get*","s3:List*"],"Resource":["arn:aws:s3:::b","arn:aws:s3:::b/*"]},
			{"Sid":"d","Effect":"Deny","NotAction":"iam:*","NotResource":"arn:aws:iam::*:role/x",
			 "Condition":{"StringNotEqualsIfExists":{"aws:RequestedRegion":["us-east-1","eu-west-1"]},
			 "ForAllValues:StringLike":{"aws:TagKeys":["team-*","env"]},"Null":{"aws:SourceIdentity":"true"},"Bool":{"aws:SecureTransport":"false"}}}]}`, true},
		{"AWS, Service and any principals, NotPrincipal", ResourcePolicy, `{"Version":"2012-10-17","Statement":[
			{"Effect":"Allow","Principal":{"AWS":["arn:aws:iam::111122223333:root","444455556666"],"Service":"ecs.amazonaws.com"},"Action":"kms:Decrypt","Resource":"*"},
			{"Effect":"Allow","Principal":"*","Action":"kms:Verify","Resource":"*"},
			{"Effect":"Deny","NotPrincipal":{"AWS":"arn:aws:iam::111122223333:user/a"},"Action":"kms:*","Resource":"*"}]}`, true},
		{"glob text that needed escaping", IdentityPolicy, `{"Version":"2008-10-17","Statement":[{"Effect":"Allow","Action":"s3:*",
			"Resource":"arn:aws:s3:::b/${aws:username}/*","Condition":{"StringLike":{"s3:prefix":["a${x}*","b"]},"ArnLike":{"aws:SourceArn":"arn:aws:sns:*:1:t"}}}]}`, true},
		{"no Version", IdentityPolicy, `{"Statement":{"Effect":"Allow","Action":"sts:GetCallerIdentity","Resource":"*"}}`, true},
		{"policy variable: left unfrozen", IdentityPolicy, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::b/${aws:username}/*"}]}`, false},
		{"date condition: left unfrozen", TrustPolicy, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"arn:aws:iam::1:oidc-provider/h"},
			"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"DateLessThan":{"aws:CurrentTime":"2030-01-01T00:00:00Z"}}}]}`, false},
		{"IP condition: left unfrozen", IdentityPolicy, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:Sign","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}]}`, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := checkFrozen(t, mustParse(t, tc.kind, tc.doc)); got != tc.frozen {
				t.Fatalf("frozen %v, want %v", got, tc.frozen)
			}
		})
	}
}

// A thawed policy decides as the parsed one does (it is equal to it; this
// checks the evaluator through the public path as well).
func TestThawedPolicyDecidesAlike(t *testing.T) {
	for _, doc := range []string{trustDeployMain, trustGroupLike, trustTags, trustNoMR} {
		p := mustParse(t, TrustPolicy, doc)
		q, err := Freeze(p).Thaw()
		if err != nil {
			t.Fatal(err)
		}
		for _, sub := range []string{"project_path:mygroup/myproject:ref_type:branch:ref:main",
			"project_path:mygroup/myproject:ref_type:tag:ref:v1", "project_path:other/p:ref_type:branch:ref:main"} {
			req := gitlabIdentity(sub).Request("sts:AssumeRoleWithWebIdentity")
			if a, b := EvaluateTrust(req, p), EvaluateTrust(req, q); a != b {
				t.Fatalf("%s: parsed %+v, thawed %+v", sub, a, b)
			}
		}
	}
}

func TestThawRefusesWhatFreezeDidNotMake(t *testing.T) {
	good := Freeze(mustParse(t, TrustPolicy, trustGroupLike))
	for name, f := range map[string]Frozen{
		"empty":          "",
		"unknown format": "\x07" + good[1:],
		"truncated":      good[:len(good)-3],
		"trailing bytes": good + "x",
		"huge count":     "\x01\xff\xff\xff\xff\x0f",
	} {
		if _, err := f.Thaw(); err == nil {
			t.Errorf("%s: Thaw accepted it", name)
		}
	}
}

// FuzzFreeze: whatever parses is frozen and thawed back to an equal
// policy, or is one the frozen form leaves out; Thaw of any string never
// panics.
func FuzzFreeze(f *testing.F) {
	for _, doc := range []string{trustDeployMain, trustGroupLike, trustTags, trustNoMR} {
		f.Add([]byte(doc))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		_, _ = Frozen(doc).Thaw()
		p, err := Parse(doc)
		if err != nil {
			return
		}
		checkFrozen(t, p)
	})
}
