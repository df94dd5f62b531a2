package app_test

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestTokenFromCIEnv: `oidcfed token --from-ci-env` takes the job context
// from GitLab's predefined variables; explicit flags win over them, and
// CI_COMMIT_TAG makes a tag pipeline; CI_CONFIG_PATH (with CI_SERVER_HOST)
// becomes ci_config_ref_uri.
func TestTokenFromCIEnv(t *testing.T) {
	hermeticEnv(t)
	s := startDev(t, t.TempDir(), "127.0.0.1:0", nil)
	env := map[string]string{
		"CI_PROJECT_PATH":         "grp/sub/proj",
		"CI_PROJECT_ID":           "4242",
		"CI_PROJECT_NAMESPACE":    "grp/sub",
		"CI_PROJECT_NAMESPACE_ID": "77",
		"CI_PROJECT_VISIBILITY":   "internal",
		"CI_COMMIT_REF_NAME":      "feature-x",
		"CI_COMMIT_REF_PROTECTED": "true",
		"CI_COMMIT_SHA":           "714a629c0b401fdce83e847fc9589983fc6f46bc",
		"CI_PIPELINE_ID":          "455",
		"CI_PIPELINE_SOURCE":      "merge_request_event",
		"CI_JOB_ID":               "1123",
		"GITLAB_USER_ID":          "9",
		"GITLAB_USER_LOGIN":       "alice",
		"GITLAB_USER_EMAIL":       "alice@example.com",
		"CI_ENVIRONMENT_NAME":     "staging",
		"CI_COMMIT_TAG":           "",
		"CI_SERVER_HOST":          "",
		"CI_CONFIG_PATH":          "",
	}
	// Without CI_SERVER_HOST the issuer derives ci_config_ref_uri from its
	// own host and GitLab's default config path.
	issuerHost := strings.TrimPrefix(s.Issuer, "http://")
	cases := []struct {
		name  string
		env   map[string]string
		flags []string
		want  map[string]any
	}{
		{"branch pipeline", nil, nil, map[string]any{
			"project_path": "grp/sub/proj", "project_id": "4242", "namespace_path": "grp/sub", "namespace_id": "77",
			"project_visibility": "internal", "ref": "feature-x", "ref_type": "branch", "ref_path": "refs/heads/feature-x",
			"ref_protected": "true", "sha": "714a629c0b401fdce83e847fc9589983fc6f46bc", "pipeline_id": "455",
			"pipeline_source": "merge_request_event", "job_id": "1123", "user_id": "9", "user_login": "alice",
			"user_email": "alice@example.com", "environment": "staging", "deployment_tier": "staging",
			"sub": "project_path:grp/sub/proj:ref_type:branch:ref:feature-x",
		}},
		{"tag pipeline", map[string]string{"CI_COMMIT_TAG": "v1.0.0", "CI_COMMIT_REF_NAME": "v1.0.0"}, nil, map[string]any{
			"ref": "v1.0.0", "ref_type": "tag", "ref_path": "refs/tags/v1.0.0",
			"sub": "project_path:grp/sub/proj:ref_type:tag:ref:v1.0.0",
		}},
		{"flags win", nil, []string{"--ref", "main", "--environment", "production"}, map[string]any{
			"ref": "main", "environment": "production", "deployment_tier": "production",
			"sub": "project_path:grp/sub/proj:ref_type:branch:ref:main",
		}},
		{"no CI_CONFIG_PATH: the issuer's default", nil, nil, map[string]any{
			"ci_config_ref_uri": issuerHost + "/grp/sub/proj//.gitlab-ci.yml@refs/heads/feature-x",
		}},
		{"CI_CONFIG_PATH and CI_SERVER_HOST, branch", map[string]string{"CI_SERVER_HOST": "gitlab.example.com", "CI_CONFIG_PATH": "ci/build.yml"}, nil, map[string]any{
			"ci_config_ref_uri": "gitlab.example.com/grp/sub/proj//ci/build.yml@refs/heads/feature-x",
		}},
		{"CI_CONFIG_PATH and CI_SERVER_HOST, tag", map[string]string{"CI_SERVER_HOST": "gitlab.example.com", "CI_CONFIG_PATH": ".gitlab-ci.yml",
			"CI_COMMIT_TAG": "v1.0.0", "CI_COMMIT_REF_NAME": "v1.0.0"}, nil, map[string]any{
			"ci_config_ref_uri": "gitlab.example.com/grp/sub/proj//.gitlab-ci.yml@refs/tags/v1.0.0",
		}},
		{"CI_CONFIG_PATH follows the --ref and --project-path flags", map[string]string{"CI_SERVER_HOST": "gitlab.example.com", "CI_CONFIG_PATH": "ci/build.yml", "CI_PROJECT_NAMESPACE": ""},
			[]string{"--ref", "main", "--project-path", "other/proj"}, map[string]any{
				"ci_config_ref_uri": "gitlab.example.com/other/proj//ci/build.yml@refs/heads/main",
			}},
		{"an explicit --claim ci_config_ref_uri wins", map[string]string{"CI_SERVER_HOST": "gitlab.example.com", "CI_CONFIG_PATH": "ci/build.yml"},
			[]string{"--claim", "ci_config_ref_uri=mirror.example.com/grp/sub/proj//x.yml@refs/heads/feature-x"}, map[string]any{
				"ci_config_ref_uri": "mirror.example.com/grp/sub/proj//x.yml@refs/heads/feature-x",
			}},
		{"CI_CONFIG_PATH without CI_SERVER_HOST is ignored", map[string]string{"CI_CONFIG_PATH": "ci/build.yml"}, nil, map[string]any{
			"ci_config_ref_uri": issuerHost + "/grp/sub/proj//.gitlab-ci.yml@refs/heads/feature-x",
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range env {
				t.Setenv(k, v)
			}
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			args := append([]string{"token", "--from-ci-env", "--aud", "sts.amazonaws.com",
				"--endpoint", s.URL, "--runner-token", s.Token}, tc.flags...)
			code, out, errOut := runCLI(t, args...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			_, payload := jwtParts(t, strings.TrimSpace(out))
			var claims map[string]any
			if err := json.Unmarshal(payload, &claims); err != nil {
				t.Fatal(err)
			}
			for k, v := range tc.want {
				if claims[k] != v {
					t.Errorf("%s = %v, want %v", k, claims[k], v)
				}
			}
		})
	}
}
