package policy_test

import (
	"fmt"

	"github.com/oidcfed/oidcfed/internal/iam/policy"
)

func Example() {
	trust, err := policy.ParseKind([]byte(`{
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
}`), policy.TrustPolicy)
	if err != nil {
		panic(err)
	}
	id := &policy.WebIdentity{
		ProviderARN: "arn:aws:iam::111122223333:oidc-provider/gitlab.example.com",
		ProviderKey: "gitlab.example.com",
		Audience:    "https://gitlab.example.com",
		Subject:     "project_path:othergroup/app:ref_type:branch:ref:main",
	}
	d, trace := policy.EvaluateTrace(id.Request("sts:AssumeRoleWithWebIdentity"), trust)
	c := trace[0].Condition
	fmt.Println(d.Effect)
	fmt.Println(trace[0].Failed, c.Operator, c.Key, c.Expected, c.Actual)
	// Output:
	// ImplicitDeny
	// Condition StringLike gitlab.example.com:sub [project_path:mygroup/*] [project_path:othergroup/app:ref_type:branch:ref:main]
}
