package explain

import (
	"slices"
	"testing"
)

// trustFail is a failed trust step with one statement and its conditions.
func trustFail(failed string, principals []string, conds ...Condition) Step {
	return Step{Name: StepTrust, Action: "sts:AssumeRoleWithWebIdentity", Status: Fail,
		Statements: []Statement{{Effect: "Allow", Failed: failed, Principals: principals, Conditions: conds}}}
}

func cond(op, key string, expected, actual []string, result string) Condition {
	return Condition{Operator: op, Key: key, Expected: expected, Actual: actual, KeyPresent: actual != nil, Result: result}
}

var gitlab = &Provider{ARN: "arn:aws:iam::000000000000:oidc-provider/gitlab.example.com", URL: "https://gitlab.example.com", ClientIDs: []string{"https://gitlab.example.com"}}

// TestHints: each hint has a case that raises it and a near miss that
// must not.
func TestHints(t *testing.T) {
	const mainSub = "project_path:g/p:ref_type:branch:ref:main"
	cases := []struct {
		name  string
		steps []Step
		facts Facts
		want  string // the hint id expected, or
		not   string // one that must not appear
	}{
		{name: "ref type tag vs branch", want: HintRefType,
			steps: []Step{trustFail("Condition", nil, cond("StringEquals", "gitlab.example.com:sub", []string{mainSub}, []string{"project_path:g/p:ref_type:tag:ref:v1"}, "false"))}},
		{name: "ref type matches, ref differs", not: HintRefType,
			steps: []Step{trustFail("Condition", nil, cond("StringEquals", "gitlab.example.com:sub", []string{mainSub}, []string{"project_path:g/p:ref_type:branch:ref:dev"}, "false"))}},
		{name: "ref type pattern covers tag", not: HintRefType,
			steps: []Step{trustFail("Condition", nil, cond("StringLike", "gitlab.example.com:sub", []string{"project_path:g/p:ref_type:*:ref:main"}, []string{"project_path:g/p:ref_type:tag:ref:v1"}, "false"))}},
		{name: "project path differs", want: HintProjectPath,
			steps: []Step{trustFail("Condition", nil, cond("StringEquals", "gitlab.example.com:sub", []string{mainSub}, []string{"project_path:g/other:ref_type:branch:ref:main"}, "false"))}},
		{name: "project path matches", not: HintProjectPath,
			steps: []Step{trustFail("Condition", nil, cond("StringEquals", "gitlab.example.com:sub", []string{mainSub}, []string{"project_path:g/p:ref_type:branch:ref:x"}, "false"))}},
		{name: "merge request pipeline", want: HintMergeRequest,
			facts: Facts{Claims: map[string]any{"pipeline_source": "merge_request_event", "ref": "feature"}},
			steps: []Step{trustFail("Condition", nil)}},
		{name: "push pipeline is no MR", not: HintMergeRequest,
			facts: Facts{Claims: map[string]any{"pipeline_source": "push", "ref": "feature"}},
			steps: []Step{trustFail("Condition", nil)}},
		{name: "fork merge request", want: HintForkMR,
			facts: Facts{Claims: map[string]any{"pipeline_source": "merge_request_event", "project_path": "fork/p", "job_project_path": "g/p"}},
			steps: []Step{trustFail("Condition", nil)}},
		{name: "same-project merge request is no fork", not: HintForkMR,
			facts: Facts{Claims: map[string]any{"pipeline_source": "merge_request_event", "project_path": "g/p", "job_project_path": "g/p"}},
			steps: []Step{trustFail("Condition", nil)}},
		{name: "aud trailing slash against client ids", want: HintAudSlash,
			facts: Facts{Provider: gitlab, Audiences: []string{"https://gitlab.example.com/"}},
			steps: []Step{{Name: StepAudience, Status: Fail}}},
		{name: "aud unrelated to client ids", want: HintAudUnregistered, not: HintAudSlash,
			facts: Facts{Provider: gitlab, Audiences: []string{"sts.amazonaws.com"}},
			steps: []Step{{Name: StepAudience, Status: Fail}}},
		{name: "aud trailing slash in the policy", want: HintAudSlash,
			steps: []Step{trustFail("Condition", nil, cond("StringEquals", "gitlab.example.com:aud", []string{"https://gitlab.example.com/"}, []string{"https://gitlab.example.com"}, "false"))}},
		{name: "aud plainly different in the policy", not: HintAudSlash,
			steps: []Step{trustFail("Condition", nil, cond("StringEquals", "gitlab.example.com:aud", []string{"sts.amazonaws.com"}, []string{"https://gitlab.example.com"}, "false"))}},
		{name: "StringEquals with a star", want: HintEqualsWildcard,
			steps: []Step{trustFail("Condition", nil, cond("StringEquals", "gitlab.example.com:sub", []string{"project_path:g/*"}, []string{mainSub}, "false"))}},
		{name: "ForAnyValue:StringEquals with a question mark", want: HintEqualsWildcard,
			steps: []Step{trustFail("Condition", nil, cond("ForAnyValue:StringEquals", "gitlab.example.com:sub", []string{"project_path:g/p?"}, []string{mainSub}, "false"))}},
		{name: "StringLike with a star", not: HintEqualsWildcard,
			steps: []Step{trustFail("Condition", nil, cond("StringLike", "gitlab.example.com:sub", []string{"project_path:g/*"}, []string{"project_path:h/p"}, "false"))}},
		{name: "principal names another provider", want: HintOtherProvider, facts: Facts{Provider: gitlab},
			steps: []Step{trustFail("Principal", []string{"arn:aws:iam::000000000000:oidc-provider/gitlab.com"})}},
		{name: "principal matched", not: HintOtherProvider, facts: Facts{Provider: gitlab},
			steps: []Step{trustFail("Condition", []string{gitlab.ARN})}},
		{name: "action sts:AssumeRole only", want: HintMissingAction, facts: Facts{Provider: gitlab},
			steps: []Step{trustFail("Action", []string{gitlab.ARN})}},
		{name: "action listed", not: HintMissingAction, facts: Facts{Provider: gitlab},
			steps: []Step{trustFail("Condition", []string{gitlab.ARN})}},
		{name: "expired", want: HintExpired, facts: Facts{Expired: true, Claims: map[string]any{"exp": "1"}},
			steps: []Step{{Name: StepClaims, Status: Fail}}},
		{name: "not expired", not: HintExpired, steps: []Step{{Name: StepClaims, Status: Fail}}},
		{name: "issuer differs by a slash", want: HintIssuer,
			facts: Facts{Claims: map[string]any{"iss": "https://gitlab.example.com/"}, Providers: []Provider{*gitlab}},
			steps: []Step{{Name: StepProvider, Status: Fail}}},
		{name: "issuer registered", not: HintIssuer,
			facts: Facts{Claims: map[string]any{"iss": "https://gitlab.example.com"}, Providers: []Provider{*gitlab}},
			steps: []Step{{Name: StepProvider, Status: Pass}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := &Report{Steps: tc.steps}
			var ids []string
			for _, h := range Hints(r, tc.facts) {
				if h.Message == "" || h.Fix == "" {
					t.Errorf("hint %s lacks a message or fix", h.ID)
				}
				ids = append(ids, h.ID)
			}
			if tc.want != "" && !slices.Contains(ids, tc.want) {
				t.Errorf("hints %v lack %s", ids, tc.want)
			}
			if tc.not != "" && slices.Contains(ids, tc.not) {
				t.Errorf("hints %v include %s", ids, tc.not)
			}
		})
	}
}

func TestNoHintsWhenAllowed(t *testing.T) {
	r := &Report{Allowed: true, Steps: []Step{trustFail("Principal", []string{"x"})}}
	if hs := Hints(r, Facts{Provider: gitlab, Expired: true}); hs != nil {
		t.Fatalf("hints for an allowed request: %v", hs)
	}
}

func TestLike(t *testing.T) {
	for _, tc := range []struct {
		pattern, s string
		want       bool
	}{
		{"", "", true}, {"*", "", true}, {"a*", "abc", true}, {"a?c", "abc", true}, {"a?c", "ac", false},
		{"*b*", "abc", true}, {"*x*", "abc", false}, {"a*c*e", "abcde", true}, {"a*c*e", "abcd", false},
	} {
		if got := like(tc.pattern, tc.s); got != tc.want {
			t.Errorf("like(%q, %q) = %v", tc.pattern, tc.s, got)
		}
	}
}
