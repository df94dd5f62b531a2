package issuer

import (
	"encoding/json"
	"errors"
	"regexp"
	"testing"
	"time"
)

func TestBuildClaimsDefaults(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	req := &MintRequest{Audience: Audience{"https://gitlab.example.com"}, ProjectPath: "mygroup/sub/myproject", Ref: "v1.2.0", RefType: "tag"}
	c, err := buildClaims(req, "https://ci.example.com/gitlab", 7, Defaults.SubClaimComponents, now, 5*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct{ name, got, want string }{
		{"sub", c.Subject, "project_path:mygroup/sub/myproject:ref_type:tag:ref:v1.2.0"},
		{"namespace_path", c.NamespacePath, "mygroup/sub"},
		{"ref_path", c.RefPath, "refs/tags/v1.2.0"},
		{"ref_protected", c.RefProtected, "false"},
		{"pipeline_source", c.PipelineSource, "push"},
		{"runner_environment", c.RunnerEnvironment, "self-hosted"},
		{"project_visibility", c.ProjectVisibility, "private"},
		{"ci_config_ref_uri", c.CIConfigRefURI, "ci.example.com/gitlab/mygroup/sub/myproject//.gitlab-ci.yml@refs/tags/v1.2.0"},
		{"ci_config_sha", c.CIConfigSHA, c.SHA},
		{"user_id", c.UserID, ""},
		{"environment", c.Environment, ""},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s = %q, want %q", ch.name, ch.got, ch.want)
		}
	}
	if c.IssuedAt != now.Unix() || c.NotBefore != now.Unix()-5 || c.Expiry != now.Unix()+300 {
		t.Errorf("iat/nbf/exp = %d/%d/%d", c.IssuedAt, c.NotBefore, c.Expiry)
	}
	if !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(c.JTI) {
		t.Errorf("jti %q is not a UUID v4", c.JTI)
	}
	if c.RunnerID != 7 {
		t.Errorf("runner_id = %d", c.RunnerID)
	}
	// Project and namespace ids are stable per path.
	c2, _ := buildClaims(req, "https://ci.example.com/gitlab", 7, Defaults.SubClaimComponents, now, time.Minute)
	if c.ProjectID != c2.ProjectID || c.NamespaceID != c2.NamespaceID || c.JTI == c2.JTI || c.PipelineID == c2.PipelineID {
		t.Errorf("ids: project %s/%s namespace %s/%s jti %s/%s pipeline %s/%s", c.ProjectID, c2.ProjectID, c.NamespaceID, c2.NamespaceID, c.JTI, c2.JTI, c.PipelineID, c2.PipelineID)
	}
	// GitLab's JSON types: a single aud is a string, runner_id a number,
	// every id and boolean a string; environment claims are absent.
	raw, _ := json.Marshal(c)
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	if _, ok := m["aud"].(string); !ok {
		t.Errorf("aud is %T, want string", m["aud"])
	}
	if _, ok := m["runner_id"].(float64); !ok {
		t.Errorf("runner_id is %T, want number", m["runner_id"])
	}
	for _, k := range []string{"project_id", "namespace_id", "pipeline_id", "job_id", "ref_protected", "user_id"} {
		if _, ok := m[k].(string); !ok {
			t.Errorf("%s is %T, want string", k, m[k])
		}
	}
	for _, k := range []string{"environment", "environment_protected", "deployment_tier", "environment_action", "user_login", "user_email", "user_access_level"} {
		if _, ok := m[k]; ok {
			t.Errorf("%s present without an environment/user", k)
		}
	}
}

func TestSubComponentsAndEnvironmentDefaults(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	cases := []struct {
		name      string
		comps     []string
		env, tier string
		wantSub   string
		wantTier  string
	}{
		{"project only", []string{"project_path"}, "", "", "project_path:g/p", ""},
		{"project and ref type", []string{"project_path", "ref_type"}, "", "", "project_path:g/p:ref_type:branch", ""},
		{"production guessed", nil, "production", "", "project_path:g/p:ref_type:branch:ref:main", "production"},
		{"review app is development", nil, "review/feature-1", "", "project_path:g/p:ref_type:branch:ref:main", "development"},
		{"staging guessed", nil, "stg-eu", "", "project_path:g/p:ref_type:branch:ref:main", "staging"},
		{"unknown is other", nil, "sandbox", "", "project_path:g/p:ref_type:branch:ref:main", "other"},
		{"explicit tier wins", nil, "production", "staging", "project_path:g/p:ref_type:branch:ref:main", "staging"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			comps := tc.comps
			if comps == nil {
				comps = Defaults.SubClaimComponents
			}
			req := &MintRequest{Audience: Audience{"a"}, ProjectPath: "g/p", Ref: "main", Environment: tc.env, DeploymentTier: tc.tier}
			c, err := buildClaims(req, "https://x", 1, comps, now, time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			if c.Subject != tc.wantSub || c.DeploymentTier != tc.wantTier {
				t.Fatalf("sub %q tier %q, want %q %q", c.Subject, c.DeploymentTier, tc.wantSub, tc.wantTier)
			}
			if tc.env != "" && (c.EnvironmentProtected != "false" || c.EnvironmentAction != "start") {
				t.Fatalf("environment defaults: protected %q action %q", c.EnvironmentProtected, c.EnvironmentAction)
			}
		})
	}
}

func TestMatchGlob(t *testing.T) {
	cases := []struct {
		name, pattern, s string
		want             bool
	}{
		{"exact", "mygroup", "mygroup", true},
		{"star crosses slash", "mygroup/*", "mygroup/sub/proj", true},
		{"star needs prefix", "mygroup/*", "mygroupx/proj", false},
		{"star matches empty", "mygroup/*", "mygroup/", true},
		{"question one char", "v?", "v1", true},
		{"question not zero chars", "v?", "v", false},
		{"middle star", "project_path:g/*:ref_type:branch:ref:main", "project_path:g/p:ref_type:branch:ref:main", true},
		{"middle star crosses colon", "a*z", "a:b:z", true},
		{"case sensitive", "Main", "main", false},
		{"no implicit prefix", "main", "main2", false},
		{"only star", "*", "", true},
		{"many stars backtrack", "*a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false},
		{"unicode", "grüppe/*", "grüppe/p", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := MatchGlob(tc.pattern, tc.s); got != tc.want {
				t.Fatalf("MatchGlob(%q, %q) = %v", tc.pattern, tc.s, got)
			}
		})
	}
}

func TestConstraints(t *testing.T) {
	cons, err := ParseConstraints([]string{"namespace_path=mygroup/*", "namespace_path=shared", "ref_protected=true", "aud=https://gitlab.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	base := func() *Claims {
		return &Claims{NamespacePath: "mygroup/sub", RefProtected: "true", Audience: audience{"https://gitlab.example.com"}}
	}
	cases := []struct {
		name      string
		mutate    func(*Claims)
		wantClaim string
	}{
		{"inside", func(*Claims) {}, ""},
		{"alternative glob", func(c *Claims) { c.NamespacePath = "shared" }, ""},
		{"namespace outside", func(c *Claims) { c.NamespacePath = "othergroup" }, "namespace_path"},
		{"unprotected ref", func(c *Claims) { c.RefProtected = "false" }, "ref_protected"},
		{"one of several aud outside", func(c *Claims) { c.Audience = audience{"https://gitlab.example.com", "sts.amazonaws.com"} }, "aud"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := base()
			tc.mutate(c)
			err := checkConstraints(c, cons)
			if tc.wantClaim == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var ce *ConstraintError
			if !errors.As(err, &ce) || ce.Claim != tc.wantClaim {
				t.Fatalf("err = %v, want constraint on %s", err, tc.wantClaim)
			}
		})
	}
	for _, bad := range []string{"namespace_path", "=x", "iss=https://x", "exp=1", "nope=1", "ref="} {
		if _, err := ParseConstraints([]string{bad}); err == nil {
			t.Errorf("ParseConstraints(%q) accepted", bad)
		}
	}
}
