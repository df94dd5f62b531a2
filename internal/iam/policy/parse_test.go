package policy

import (
	"errors"
	"strings"
	"testing"
)

func TestParseShapes(t *testing.T) {
	cases := []struct {
		name string
		doc  string
		kind Kind
		want func(t *testing.T, p *Policy)
	}{
		{"statement object", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}}`, IdentityPolicy,
			func(t *testing.T, p *Policy) {
				if len(p.Statements) != 1 || p.Statements[0].Effect != EffectAllow || p.Statements[0].Action[0] != "s3:*" {
					t.Errorf("got %+v", p.Statements[0])
				}
			}},
		{"statement list, lists of actions and resources", `{"Version":"2012-10-17","Id":"x","Statement":[{"Sid":"A1","Effect":"Deny","NotAction":["iam:*","kms:*"],"NotResource":["arn:aws:s3:::b","arn:aws:s3:::b/*"]}]}`, IdentityPolicy,
			func(t *testing.T, p *Policy) {
				s := p.Statements[0]
				if p.ID != "x" || s.Sid != "A1" || s.Effect != EffectDeny || len(s.NotAction) != 2 || len(s.NotResource) != 2 {
					t.Errorf("got %+v", s)
				}
			}},
		{"no version is 2008 semantics", `{"Statement":{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::${aws:username}"}}`, IdentityPolicy,
			func(t *testing.T, p *Policy) {
				if p.variables || p.Statements[0].resources[0].parts != nil {
					t.Error("variables recognised without Version 2012-10-17")
				}
			}},
		{"trust policy principals", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"arn:aws:iam::111122223333:oidc-provider/gitlab.example.com","AWS":["123456789012","arn:aws:iam::123456789012:role/x"],"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRoleWithWebIdentity"}]}`, TrustPolicy,
			func(t *testing.T, p *Policy) {
				pr := p.Statements[0].Principal
				if len(pr.Federated) != 1 || len(pr.AWS) != 2 || len(pr.Service) != 1 {
					t.Errorf("got %+v", pr)
				}
			}},
		{"wildcard principal", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"sts:AssumeRole"}}`, TrustPolicy,
			func(t *testing.T, p *Policy) {
				if !p.Statements[0].Principal.Any {
					t.Error("Principal * not Any")
				}
			}},
		{"conditions in document order", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"StringLike":{"b:k":"x","a:k":["y","z"]},"Bool":{"aws:SecureTransport":true},"NumericLessThan":{"n":3}}}}`, IdentityPolicy,
			func(t *testing.T, p *Policy) {
				var got []string
				for _, c := range p.Statements[0].Conditions {
					got = append(got, c.Operator+" "+c.Key+" "+strings.Join(c.Values, ","))
				}
				want := "StringLike b:k x|StringLike a:k y,z|Bool aws:SecureTransport true|NumericLessThan n 3"
				if strings.Join(got, "|") != want {
					t.Errorf("got %q, want %q", strings.Join(got, "|"), want)
				}
			}},
		{"Deny with NotPrincipal", `{"Version":"2012-10-17","Statement":{"Effect":"Deny","NotPrincipal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"sts:AssumeRole"}}`, TrustPolicy, nil},
		{"whitespace around everything", "\n{ \"Version\" : \"2008-10-17\" ,\t\"Statement\" : [ { \"Effect\" : \"Allow\" , \"Action\" : \"*\" , \"Resource\" : \"*\" } ] }\n", IdentityPolicy, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := ParseKind([]byte(tc.doc), tc.kind)
			if err != nil {
				t.Fatalf("ParseKind: %v", err)
			}
			if tc.want != nil {
				tc.want(t, p)
			}
		})
	}
}

// TestParseErrors checks each malformed document is refused with a MalformedError. Messages
// confirmed from AWS are asserted exactly; the others only for being refused (see parse.go).
func TestParseErrors(t *testing.T) {
	const (
		syntax      = msgSyntax
		unconfirmed = "" // refused, wording unconfirmed
	)
	trust := func(cond string) string {
		return `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"Federated":"arn:aws:iam::1:oidc-provider/x"},"Action":"sts:AssumeRoleWithWebIdentity","Condition":` + cond + `}}`
	}
	cases := []struct {
		name, doc string
		kind      Kind
		message   string
	}{
		{"not JSON", `{"Version":`, IdentityPolicy, syntax},
		{"empty", ``, IdentityPolicy, syntax},
		{"array document", `[]`, IdentityPolicy, syntax},
		{"trailing data", `{"Statement":{"Effect":"Allow","Action":"*","Resource":"*"}} {}`, IdentityPolicy, syntax},
		{"duplicate top-level key", `{"Version":"2012-10-17","Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}`, IdentityPolicy, syntax},
		{"duplicate StringEquals blocks", trust(`{"StringEquals":{"a:aud":"x"},"StringEquals":{"a:sub":"y"}}`), TrustPolicy, syntax},
		{"duplicate condition key", trust(`{"StringEquals":{"a:aud":"x","a:aud":"y"}}`), TrustPolicy, syntax},
		{"invalid UTF-8", "{\"Version\":\"2012-10-17\",\"Statement\":{\"Sid\":\"\xff\",\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\"}}", IdentityPolicy, syntax},
		{"unknown top-level element", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"},"Condition":{}}`, IdentityPolicy, syntax},
		{"lower-case element", `{"Version":"2012-10-17","statement":{"Effect":"Allow","Action":"*","Resource":"*"}}`, IdentityPolicy, syntax},
		{"unknown statement element", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*","Foo":"x"}}`, IdentityPolicy, syntax},
		{"missing Statement", `{"Version":"2012-10-17"}`, IdentityPolicy, syntax},
		{"empty Statement list", `{"Version":"2012-10-17","Statement":[]}`, IdentityPolicy, syntax},
		{"statement not an object", `{"Version":"2012-10-17","Statement":["x"]}`, IdentityPolicy, syntax},
		{"bad version", `{"Version":"2012-10-18","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}`, IdentityPolicy, unconfirmed},
		{"version not a string", `{"Version":2012,"Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}`, IdentityPolicy, syntax},
		{"missing Effect", `{"Version":"2012-10-17","Statement":{"Action":"*","Resource":"*"}}`, IdentityPolicy, unconfirmed},
		{"bad Effect", `{"Version":"2012-10-17","Statement":{"Effect":"allow","Action":"*","Resource":"*"}}`, IdentityPolicy, unconfirmed},
		{"missing Action", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Resource":"*"}}`, IdentityPolicy, unconfirmed},
		{"Action and NotAction", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","NotAction":"s3:*","Resource":"*"}}`, IdentityPolicy, syntax},
		{"Resource and NotResource", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*","NotResource":"*"}}`, IdentityPolicy, syntax},
		{"Resource null", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":["s3:*"],"Resource":null}}`, IdentityPolicy, syntax},
		{"empty Action list", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":[],"Resource":"*"}}`, IdentityPolicy, syntax},
		{"Action without service", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"GetObject","Resource":"*"}}`, IdentityPolicy, unconfirmed},
		{"Action with two colons", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:Get:Object","Resource":"*"}}`, IdentityPolicy, msgActionColons},
		{"Action number", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":3,"Resource":"*"}}`, IdentityPolicy, syntax},
		{"Resource not an ARN", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"bucket"}}`, IdentityPolicy, unconfirmed},
		{"identity policy missing Resource", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*"}}`, IdentityPolicy, unconfirmed},
		{"identity policy with Principal", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}}`, IdentityPolicy, "Policy document should not specify a principal."},
		{"session policy with Principal", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}}`, SessionPolicy, "Policy document should not specify a principal."},
		{"trust policy without Principal", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"sts:AssumeRole"}}`, TrustPolicy, unconfirmed},
		{"trust policy with Resource", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"sts:AssumeRole","Resource":"*"}}`, TrustPolicy, unconfirmed},
		{"Principal and NotPrincipal", `{"Version":"2012-10-17","Statement":{"Effect":"Deny","Principal":"*","NotPrincipal":{"AWS":"123456789012"},"Action":"sts:AssumeRole"}}`, TrustPolicy, syntax},
		{"Allow with NotPrincipal", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","NotPrincipal":{"AWS":"123456789012"},"Action":"sts:AssumeRole"}}`, TrustPolicy, unconfirmed},
		{"principal string not star", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"arn:aws:iam::1:root","Action":"sts:AssumeRole"}}`, TrustPolicy, "Invalid principal in policy"},
		{"principal unknown type", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"Foo":"x"},"Action":"sts:AssumeRole"}}`, TrustPolicy, `Invalid principal in policy: "Foo":"x"`},
		{"principal bad AWS value", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"bob"},"Action":"sts:AssumeRole"}}`, TrustPolicy, `Invalid principal in policy: "AWS":"bob"`},
		{"principal wildcard in ARN", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:role/*"},"Action":"sts:AssumeRole"}}`, TrustPolicy, `Invalid principal in policy: "AWS":"arn:aws:iam::123456789012:role/*"`},
		{"principal empty object", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{},"Action":"sts:AssumeRole"}}`, TrustPolicy, "Invalid principal in policy"},
		{"principal empty list", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":[]},"Action":"sts:AssumeRole"}}`, TrustPolicy, "Invalid principal in policy"},
		{"canonical user not hex", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"CanonicalUser":"xyz"},"Action":"sts:AssumeRole"}}`, TrustPolicy, `Invalid principal in policy: "CanonicalUser":"xyz"`},
		{"unknown condition operator", trust(`{"StringEqualz":{"a:aud":"x"}}`), TrustPolicy, unconfirmed},
		{"NullIfExists", trust(`{"NullIfExists":{"a:aud":"true"}}`), TrustPolicy, unconfirmed},
		{"condition block not an object", trust(`["x"]`), TrustPolicy, syntax},
		{"condition operator empty", trust(`{"StringEquals":{}}`), TrustPolicy, syntax},
		{"condition value object", trust(`{"StringEquals":{"a:aud":{"x":"y"}}}`), TrustPolicy, syntax},
		{"condition value null", trust(`{"StringEquals":{"a:aud":null}}`), TrustPolicy, syntax},
		{"condition value empty list", trust(`{"StringNotEquals":{"a:aud":[]}}`), TrustPolicy, syntax},
		{"numeric value not a number", trust(`{"NumericLessThan":{"a:n":"ten"}}`), TrustPolicy, unconfirmed},
		{"date value not a date", trust(`{"DateLessThan":{"aws:CurrentTime":"tomorrow"}}`), TrustPolicy, unconfirmed},
		{"ip value not a CIDR", trust(`{"IpAddress":{"aws:SourceIp":"10.0.0.0/33"}}`), TrustPolicy, unconfirmed},
		{"binary value not base64", trust(`{"BinaryEquals":{"a:b":"%%"}}`), TrustPolicy, unconfirmed},
		{"duplicate Sid", `{"Version":"2012-10-17","Statement":[{"Sid":"A","Effect":"Allow","Action":"*","Resource":"*"},{"Sid":"A","Effect":"Deny","Action":"*","Resource":"*"}]}`, IdentityPolicy, unconfirmed},
		{"Sid not alphanumeric", `{"Version":"2012-10-17","Statement":{"Sid":"a b","Effect":"Allow","Action":"*","Resource":"*"}}`, IdentityPolicy, unconfirmed},
		{"nested too deep", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringEquals":{"k":[[[[[[[[[[[[[[[[[[["x"]]]]]]]]]]]]]]]]]]]}}}}`, IdentityPolicy, syntax},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseKind([]byte(tc.doc), tc.kind)
			var me *MalformedError
			if !errors.As(err, &me) {
				t.Fatalf("got %v, want a MalformedError", err)
			}
			if tc.message != "" && me.Message != tc.message {
				t.Errorf("message %q, want %q", me.Message, tc.message)
			}
		})
	}
}

func TestParseSizeLimits(t *testing.T) {
	pad := func(n int) string { // a valid trust policy of exactly n counted characters
		base := `{"Statement":{"Effect":"Allow","Principal":"*","Action":"sts:AssumeRole","Sid":""}}`
		return strings.Replace(base, `"Sid":""`, `"Sid":"`+strings.Repeat("a", n-len(base))+`"`, 1)
	}
	if _, err := ParseKind([]byte(pad(MaxTrustPolicySize)), TrustPolicy); err != nil {
		t.Fatalf("policy at the limit: %v", err)
	}
	var le *LimitError
	if _, err := ParseKind([]byte(pad(MaxTrustPolicySize+1)), TrustPolicy); !errors.As(err, &le) || le.Limit != MaxTrustPolicySize || le.Size != MaxTrustPolicySize+1 {
		t.Fatalf("policy over the limit: %v", err)
	}
	// JSON whitespace is not counted; whitespace inside strings is.
	spaced := strings.ReplaceAll(pad(MaxTrustPolicySize), ",", " ,\n\t ")
	if _, err := ParseKind([]byte(spaced), TrustPolicy); err != nil {
		t.Errorf("whitespace counted against the quota: %v", err)
	}
	if n := policySize([]byte(`{"a b": "c\" d"}`)); n != 15 {
		t.Errorf("policySize = %d, want 15", n)
	}
	// Multi-byte characters count once.
	if n := policySize([]byte(`"é"`)); n != 3 {
		t.Errorf("policySize(é) = %d, want 3", n)
	}
	if _, err := ParseWithLimit([]byte(pad(5000)), 0); err != nil {
		t.Errorf("no quota: %v", err)
	}
	if _, err := ParseWithLimit([]byte(pad(MaxDocumentChars+1)), 0); !errors.As(err, &le) {
		t.Errorf("over the service model's maximum: %v", err)
	}
	if _, err := Parse([]byte(pad(MaxManagedPolicySize + 1))); err != nil {
		t.Errorf("Parse uses the inline quota: %v", err)
	}
	if _, err := ParseWithLimit([]byte(pad(MaxManagedPolicySize+1)), MaxManagedPolicySize); !errors.As(err, &le) {
		t.Errorf("managed quota: %v", err)
	}
}
