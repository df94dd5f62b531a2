package policy

import (
	"errors"
	"testing"
)

// FuzzParse: parsing never panics, fails only with the two documented error types, and
// whatever parses can be evaluated (with and without trace, as trust and as session) without
// panicking and with the same decision either way.
func FuzzParse(f *testing.F) {
	for _, doc := range []string{trustDeployMain, trustGroupLike, trustTags, trustNoMR} {
		f.Add([]byte(doc))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		p, err := Parse(doc)
		if err != nil {
			var me *MalformedError
			var le *LimitError
			if !errors.As(err, &me) && !errors.As(err, &le) {
				t.Fatalf("error of type %T: %v", err, err)
			}
			return
		}
		for _, kind := range []Kind{IdentityPolicy, TrustPolicy, SessionPolicy} {
			_ = p.Validate(kind)
		}
		reqs := []*Request{
			gitlabIdentity("project_path:mygroup/myproject:ref_type:branch:ref:main").Request("sts:AssumeRoleWithWebIdentity"),
			{Principal: Principal{Type: PrincipalAWS, ID: "arn:aws:sts::123456789012:assumed-role/r/s"}, Action: "s3:GetObject", Resource: "arn:aws:s3:::b/k",
				Context: Context{"aws:username": {"alice"}, "k:m": {"a", "b"}, "k:e": {}, "aws:sourceip": {"10.0.0.1"}, "k:n": {"3"}}},
			{},
		}
		for _, req := range reqs {
			d := Evaluate(req, p)
			td, _ := EvaluateTrace(req, p)
			if d != td {
				t.Fatalf("Evaluate %+v, EvaluateTrace %+v", d, td)
			}
			if d.Allowed != (d.Effect == Allow) {
				t.Fatalf("inconsistent decision %+v", d)
			}
			_ = EvaluateSession(req, []*Policy{p}, []*Policy{p})
		}
	})
}
