package policy

import (
	"strings"
	"testing"
)

// TestEvaluateResource: a key policy's Allow for the account delegates to
// IAM; one naming the principal (or its role) grants by itself; a Deny
// wins (KMS key policy semantics, AWS KMS Developer Guide, "Key policies
// in AWS KMS" and "Default key policy").
func TestEvaluateResource(t *testing.T) {
	const (
		acct    = "111122223333"
		session = "arn:aws:sts::111122223333:assumed-role/signer/job-1"
		user    = "arn:aws:iam::111122223333:user/alice"
		keyARN  = "arn:aws:kms:us-east-1:111122223333:key/k"
	)
	doc := func(t *testing.T, stmts string) *Policy {
		p, err := ParseResourcePolicy([]byte(`{"Version":"2012-10-17","Statement":[` + stmts + `]}`))
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	n := 0
	allow := func(principal, action string) string {
		n++
		return `{"Sid":"Allow use of the key ` + string(rune('a'+n)) + `","Effect":"Allow","Principal":{"AWS":"` + principal + `"},"Action":"` + action + `","Resource":"*"}`
	}
	cases := []struct {
		name, caller, policy string
		want                 ResourceGrant
	}{
		{"account root delegates", session, allow("arn:aws:iam::"+acct+":root", "kms:*"), ResourceAllowsAccount},
		{"bare account id delegates", user, allow(acct, "kms:*"), ResourceAllowsAccount},
		{"role ARN grants its sessions", session, allow("arn:aws:iam::"+acct+":role/signer", "kms:Sign"), ResourceAllowsPrincipal},
		{"user ARN grants the user", user, allow(user, "kms:Sign"), ResourceAllowsPrincipal},
		{"another role grants nothing", session, allow("arn:aws:iam::"+acct+":role/other", "kms:Sign"), ResourceNoAllow},
		{"another account grants nothing", session, allow("arn:aws:iam::999999999999:root", "kms:*"), ResourceNoAllow},
		{"another action grants nothing", session, allow("arn:aws:iam::"+acct+":role/signer", "kms:Verify"), ResourceNoAllow},
		{"deny wins over a direct allow", session, allow("arn:aws:iam::"+acct+":role/signer", "kms:Sign") +
			`,{"Effect":"Deny","Principal":{"AWS":"*"},"Action":"kms:Sign","Resource":"*"}`, ResourceDeny},
		{"everyone grants directly", session, `{"Effect":"Allow","Principal":"*","Action":"kms:Sign","Resource":"*"}`, ResourceAllowsPrincipal},
		{"AWS star grants directly", session, allow("*", "kms:Sign"), ResourceAllowsPrincipal},
		{"direct beside account", session, allow("arn:aws:iam::"+acct+":root", "kms:*") + "," + allow(session, "kms:Sign"), ResourceAllowsPrincipal},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := &Request{Principal: Principal{Type: PrincipalAWS, ID: tc.caller}, Action: "kms:Sign", Resource: keyARN, Context: Context{}}
			if got := EvaluateResource(req, doc(t, tc.policy)); got != tc.want {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestResourcePolicyRules(t *testing.T) {
	for _, tc := range []struct{ name, doc string }{
		{"no principal", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"}]}`},
		{"no resource", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"kms:*"}]}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ParseResourcePolicy([]byte(tc.doc)); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

// TestRepositoryPolicy: an ECR repository policy needs a Principal and may
// leave Resource out (it is then about its repository); its quota is the
// model's 10,240.
func TestRepositoryPolicy(t *testing.T) {
	for _, tc := range []struct {
		name, doc string
		ok        bool
	}{
		{"no Resource", `{"Version":"2012-10-17","Statement":[{"Sid":"pull from CI","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::000000000000:role/ci"},"Action":"ecr:BatchGetImage"}]}`, true},
		{"with Resource", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"ecr:*","Resource":"*"}]}`, true},
		{"no Principal", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ecr:*"}]}`, false},
		{"over quota", `{"Version":"2012-10-17","Statement":[{"Sid":"` + strings.Repeat("x", MaxRepositoryPolicySize) + `","Effect":"Allow","Principal":"*","Action":"ecr:*"}]}`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := ParseRepositoryPolicy([]byte(tc.doc))
			if (err == nil) != tc.ok {
				t.Fatalf("ParseRepositoryPolicy: %v", err)
			}
			if err != nil {
				return
			}
			req := &Request{Principal: Principal{Type: PrincipalAWS, ID: "arn:aws:sts::000000000000:assumed-role/ci/job"}, Action: "ecr:BatchGetImage",
				Resource: "arn:aws:ecr:us-east-1:000000000000:repository/app"}
			if got := EvaluateResource(req, p); got != ResourceAllowsPrincipal {
				t.Fatalf("EvaluateResource: %v", got)
			}
		})
	}
}
