package iam

import (
	"context"
	"errors"
	"regexp"
	"testing"
	"time"
)

func TestARNs(t *testing.T) {
	cases := []struct {
		name, arn          string
		account, path, rol string
		bad                bool
	}{
		{"root path", "arn:aws:iam::000000000000:role/gitlab-deploy", "000000000000", "/", "gitlab-deploy", false},
		{"nested path", "arn:aws:iam::123456789012:role/ci/deploy/gitlab", "123456789012", "/ci/deploy/", "gitlab", false},
		{"not iam", "arn:aws:s3:::bucket", "", "", "", true},
		{"user not role", "arn:aws:iam::123456789012:user/alice", "", "", "", true},
		{"short account", "arn:aws:iam::1234:role/r", "", "", "", true},
		{"no name", "arn:aws:iam::123456789012:role/ci/", "", "", "", true},
		{"empty", "", "", "", "", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a, p, n, err := ParseRoleARN(tc.arn)
			if tc.bad {
				if err == nil {
					t.Fatalf("accepted %q", tc.arn)
				}
				return
			}
			if err != nil || a != tc.account || p != tc.path || n != tc.rol {
				t.Fatalf("= %q %q %q %v", a, p, n, err)
			}
			if RoleARN(a, p, n) != tc.arn {
				t.Fatalf("RoleARN does not round-trip: %s", RoleARN(a, p, n))
			}
		})
	}
	if got := ProviderARN("000000000000", "https://gitlab.example.com/sub"); got != "arn:aws:iam::000000000000:oidc-provider/gitlab.example.com/sub" {
		t.Fatalf("ProviderARN = %s", got)
	}
	if got := ProviderConditionPrefix("http://127.0.0.1:8080"); got != "127.0.0.1:8080" {
		t.Fatalf("ProviderConditionPrefix = %s", got)
	}
}

func TestStaticDirectory(t *testing.T) {
	ctx := context.Background()
	d, err := NewStatic("123456789012", "us-east-1",
		[]OIDCProvider{{URL: "https://gitlab.example.com", ClientIDs: []string{"https://gitlab.example.com"}}},
		[]Role{{Name: "Deploy", Path: "/ci/", TrustPolicy: "{}", MaxSessionDuration: time.Hour}, {Name: "plain"}})
	if err != nil {
		t.Fatal(err)
	}
	p, err := d.OIDCProviderByURL(ctx, "https://gitlab.example.com")
	if err != nil || p.ARN != "arn:aws:iam::123456789012:oidc-provider/gitlab.example.com" || !p.ReadOnly {
		t.Fatalf("provider %+v %v", p, err)
	}
	for _, url := range []string{"https://gitlab.example.com/", "https://GITLAB.example.com", "http://gitlab.example.com"} {
		if _, err := d.OIDCProviderByURL(ctx, url); !errors.Is(err, ErrNoSuchEntity) {
			t.Errorf("provider lookup of %q must be exact, got %v", url, err)
		}
	}
	r, err := d.RoleByARN(ctx, "arn:aws:iam::123456789012:role/ci/deploy")
	if err != nil || r.Name != "Deploy" || !regexp.MustCompile(`^AROA[A-Z2-7]{17}$`).MatchString(r.ID) {
		t.Fatalf("role by case-insensitive name: %+v %v", r, err)
	}
	r2, _ := NewStatic("123456789012", "us-east-1", nil, []Role{{Name: "Deploy", Path: "/ci/"}})
	again, _ := r2.RoleByARN(ctx, r.ARN)
	if again.ID != r.ID {
		t.Fatal("role id not stable across restarts")
	}
	for _, arn := range []string{
		"arn:aws:iam::123456789012:role/deploy",        // wrong path
		"arn:aws:iam::000000000000:role/ci/deploy",     // wrong account
		"arn:aws:iam::123456789012:role/ci/nope",       // unknown
		"arn:aws:iam::123456789012:oidc-provider/ci/x", // not a role
	} {
		if _, err := d.RoleByARN(ctx, arn); !errors.Is(err, ErrNoSuchEntity) {
			t.Errorf("RoleByARN(%q) = %v, want ErrNoSuchEntity", arn, err)
		}
	}
	if _, err := NewStatic("123456789012", "us-east-1", nil, []Role{{Name: "a"}, {Name: "A"}}); err == nil {
		t.Fatal("duplicate role names (case-insensitive) accepted")
	}
}
