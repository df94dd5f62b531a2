package policy

import "testing"

// TestExplainEveryCondition: Explain decides as Evaluate and reports every
// condition, also after one failed, and marks conditions never reached.
func TestExplainEveryCondition(t *testing.T) {
	p := mustParse(t, TrustPolicy, `{"Version":"2012-10-17","Statement":[
	  {"Sid":"A","Effect":"Allow","Principal":{"Federated":"arn:aws:iam::1:oidc-provider/x"},"Action":"sts:AssumeRoleWithWebIdentity",
	   "Condition":{"StringEquals":{"x:sub":"main","x:aud":"aud"}}},
	  {"Sid":"B","Effect":"Allow","Principal":{"Federated":"arn:aws:iam::1:oidc-provider/y"},"Action":"sts:AssumeRoleWithWebIdentity",
	   "Condition":{"StringEquals":{"y:sub":"main"}}}]}`)
	req := &Request{Principal: Principal{Type: PrincipalFederated, ID: "arn:aws:iam::1:oidc-provider/x"}, Action: "sts:AssumeRoleWithWebIdentity",
		Context: Context{"x:sub": {"tag"}, "x:aud": {"aud"}}}
	d, expl := Explain(req, p)
	if want := Evaluate(req, p); d != want {
		t.Fatalf("Explain decided %+v, Evaluate %+v", d, want)
	}
	if len(expl) != 2 {
		t.Fatalf("%d statements explained", len(expl))
	}
	a := expl[0]
	if a.Failed != "Condition" || len(a.Conditions) != 2 {
		t.Fatalf("statement A: %+v", a)
	}
	results := map[string]bool{}
	for _, c := range a.Conditions {
		results[c.Key] = c.Satisfied
	}
	if results["x:sub"] || !results["x:aud"] {
		t.Errorf("condition results %v: want sub false, aud true (evaluated although sub failed)", results)
	}
	b := expl[1]
	if b.Failed != "Principal" || len(b.Conditions) != 0 || len(b.NotEvaluated) != 1 {
		t.Errorf("statement B: %+v", b)
	}
}
