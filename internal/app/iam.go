package app

import (
	"encoding/json"
	"fmt"

	"github.com/oidcfed/oidcfed/internal/iam"
)

// Dev-mode roles, as the issue and the seeds describe them.
const (
	DevDeployRole = "gitlab-deploy"
	DevCIRole     = "gitlab-ci"
	// DevProject is the project the dev deploy role trusts on main.
	DevProject = "mygroup/myproject"
)

// devDeclared is where the demo entities come from, for the message
// refusing to change them.
const devDeclared = "--dev mode (start with --demo=false to manage every entity through the IAM API)"

// buildDirectory assembles the IAM directory: the config-declared entities,
// plus in dev mode a provider for the server's own issuer (client id = the
// issuer URL, GitLab's default audience) and the two demo roles, unless
// the config declares them itself.
func buildDirectory(o *Options, issuerURL string) (*iam.Static, error) {
	account, region := o.AccountID, o.Region
	if account == "" {
		account = "000000000000"
	}
	if region == "" {
		region = "us-east-1"
	}
	providers := append([]iam.OIDCProvider(nil), o.OIDCProviders...)
	roles := append([]iam.Role(nil), o.Roles...)
	if o.Dev && !o.NoDemo {
		declared := func(url string) bool {
			for _, p := range providers {
				if p.URL == url {
					return true
				}
			}
			return false
		}
		if !declared(issuerURL) {
			providers = append(providers, iam.OIDCProvider{URL: issuerURL, ClientIDs: []string{issuerURL}, AllowInsecureHTTP: true, DeclaredIn: devDeclared})
		}
		have := map[string]bool{}
		for _, r := range roles {
			have[r.Name] = true
		}
		providerARN := iam.ProviderARN(account, issuerURL)
		prefix := iam.ProviderConditionPrefix(issuerURL)
		for _, dr := range []struct {
			name string
			cond map[string]map[string]string
		}{
			{DevDeployRole, map[string]map[string]string{"StringEquals": {
				prefix + ":aud": issuerURL,
				prefix + ":sub": "project_path:" + DevProject + ":ref_type:branch:ref:main",
			}}},
			{DevCIRole, map[string]map[string]string{
				"StringEquals": {prefix + ":aud": issuerURL},
				"StringLike":   {prefix + ":sub": "project_path:mygroup/*"},
			}},
		} {
			if have[dr.name] {
				continue
			}
			policy, err := json.Marshal(map[string]any{
				"Version": "2012-10-17",
				"Statement": []any{map[string]any{
					"Effect":    "Allow",
					"Principal": map[string]string{"Federated": providerARN},
					"Action":    "sts:AssumeRoleWithWebIdentity",
					"Condition": dr.cond,
				}},
			})
			if err != nil {
				return nil, err
			}
			roles = append(roles, iam.Role{Name: dr.name, Path: "/", TrustPolicy: string(policy), MaxSessionDuration: 3600e9, DeclaredIn: devDeclared})
		}
	}
	d, err := iam.NewStatic(account, region, providers, roles)
	if err != nil {
		return nil, fmt.Errorf("IAM entities: %w", err)
	}
	return d, nil
}
