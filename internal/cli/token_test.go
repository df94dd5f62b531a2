package cli

import (
	"strings"
	"testing"
)

// TestEndpointNeverShowsCredentials: whatever --endpoint holds, what error
// messages show of it has no userinfo (nor query or fragment).
func TestEndpointNeverShowsCredentials(t *testing.T) {
	cases := []struct {
		name, endpoint string
		valid          bool   // checkEndpoint accepts it
		shown          string // safeEndpoint
	}{
		{"plain", "http://127.0.0.1:8080", true, "http://127.0.0.1:8080"},
		{"with path", "https://ci.example.com/oidc", true, "https://ci.example.com/oidc"},
		{"user and password", "http://alice:s3cret@127.0.0.1:8080", true, "http://127.0.0.1:8080"},
		{"user only", "https://alice@ci.example.com", true, "https://ci.example.com"},
		{"escaped password", "http://alice:s3%2Fcret@host", true, "http://host"},
		{"query and fragment", "http://host/?token=s3cret#s3cret", true, "http://host/"},
		{"password with a raw slash", "http://alice:s3/cret@host", false, "--endpoint (not shown: not a URL)"},
		{"control character", "http://alice:s3cret@host\x7f", false, "--endpoint (not shown: not a URL)"},
		{"no scheme", "alice:s3cret@host:8080", false, "--endpoint (not shown: not a URL)"},
		{"other scheme", "ftp://alice:s3cret@host", false, "ftp://host"},
		{"no host", "http:///path", false, "--endpoint (not shown: not a URL)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := checkEndpoint(tc.endpoint)
			if (err == nil) != tc.valid {
				t.Fatalf("checkEndpoint = %v, want valid %v", err, tc.valid)
			}
			if err != nil && (strings.Contains(err.Error(), "s3") || strings.Contains(err.Error(), "alice")) {
				t.Errorf("checkEndpoint error shows the URL: %v", err)
			}
			if got := safeEndpoint(tc.endpoint); got != tc.shown {
				t.Errorf("safeEndpoint = %q, want %q", got, tc.shown)
			}
		})
	}
}

func TestCIConfigRefURI(t *testing.T) {
	base := func(extra map[string]any) map[string]any {
		m := map[string]any{"project_path": "grp/proj", "ref": "main"}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	cases := []struct {
		name, host, path string
		req              map[string]any
		want             string
	}{
		{"branch", "gitlab.example.com", ".gitlab-ci.yml", base(nil), "gitlab.example.com/grp/proj//.gitlab-ci.yml@refs/heads/main"},
		{"explicit branch", "gitlab.example.com", "ci/pipeline.yml", base(map[string]any{"ref_type": "branch"}), "gitlab.example.com/grp/proj//ci/pipeline.yml@refs/heads/main"},
		{"tag", "gitlab.example.com", ".gitlab-ci.yml", base(map[string]any{"ref": "v1.0.0", "ref_type": "tag"}), "gitlab.example.com/grp/proj//.gitlab-ci.yml@refs/tags/v1.0.0"},
		{"no server host", "", ".gitlab-ci.yml", base(nil), ""},
		{"no config path", "gitlab.example.com", "", base(nil), ""},
		{"no project", "gitlab.example.com", ".gitlab-ci.yml", map[string]any{"ref": "main"}, ""},
		{"no ref", "gitlab.example.com", ".gitlab-ci.yml", map[string]any{"project_path": "grp/proj"}, ""},
		{"unknown ref type", "gitlab.example.com", ".gitlab-ci.yml", base(map[string]any{"ref_type": "merge"}), ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := ciConfigRefURI(tc.host, tc.path, tc.req); got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}
