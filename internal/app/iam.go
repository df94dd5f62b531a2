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
	// DevSignRole may sign with the dev KMS key (DevSigningAlias) and push
	// to the registry from a protected main branch of a mygroup project;
	// DevVerifyRole may verify with it and pull from any mygroup branch.
	DevSignRole   = "gitlab-sign"
	DevVerifyRole = "gitlab-verify"
	// DevSigningAlias names dev mode's ECC_NIST_P256 signing key.
	DevSigningAlias = "alias/ci-signing"
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
func buildDirectory(o *Options, issuerURL, devKeyARN string) (*iam.Static, error) {
	account, region := o.account(), o.region()
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
			// Every claim is a condition key (an opt-in on AWS's side too):
			// the dev signing role tests ref_protected.
			providers = append(providers, iam.OIDCProvider{URL: issuerURL, ClientIDs: []string{issuerURL}, AllowInsecureHTTP: true,
				AllClaimConditionKeys: true, DeclaredIn: devDeclared})
		}
		have := map[string]bool{}
		for _, r := range roles {
			have[r.Name] = true
		}
		providerARN := iam.ProviderARN(account, issuerURL)
		prefix := iam.ProviderConditionPrefix(issuerURL)
		// The signing role may sign with the dev key from protected main
		// of any mygroup project; the verify role (seed 000's actions) may
		// verify from any mygroup branch. KMS authorizes on the key ARN,
		// never an alias ARN (an alias ARN in Resource grants nothing).
		kmsPolicy := func(actions ...string) string {
			doc, _ := json.Marshal(map[string]any{"Version": "2012-10-17", "Statement": []any{map[string]any{
				"Sid": "CISigningKey", "Effect": "Allow", "Action": actions, "Resource": devKeyARN}}})
			return string(doc)
		}
		// Seed 000's pull-and-verify role reads the registry with the AWS
		// managed read-only policy; the signing role also pushes (cosign
		// writes signatures next to the image).
		managed := map[string][]string{
			DevVerifyRole: {"arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly"},
			DevSignRole:   {"arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPowerUser"},
		}
		inline := map[string][]iam.NamedPolicy{
			DevSignRole:   {{Name: "ci-signing", Document: kmsPolicy("kms:Sign", "kms:GetPublicKey", "kms:DescribeKey")}},
			DevVerifyRole: {{Name: "ci-verify", Document: kmsPolicy("kms:GetPublicKey", "kms:Verify", "kms:DescribeKey")}},
		}
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
			{DevSignRole, map[string]map[string]string{
				"StringEquals": {prefix + ":aud": issuerURL, prefix + ":ref_protected": "true"},
				"StringLike":   {prefix + ":sub": "project_path:mygroup/*:ref_type:branch:ref:main"},
			}},
			{DevVerifyRole, map[string]map[string]string{
				"StringEquals": {prefix + ":aud": issuerURL},
				"StringLike":   {prefix + ":sub": "project_path:mygroup/*:ref_type:branch:ref:*"},
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
			roles = append(roles, iam.Role{Name: dr.name, Path: "/", TrustPolicy: string(policy), MaxSessionDuration: 3600e9,
				InlinePolicies: inline[dr.name], ManagedPolicyARNs: managed[dr.name], DeclaredIn: devDeclared})
		}
	}
	d, err := iam.NewStatic(account, region, providers, roles)
	if err != nil {
		return nil, fmt.Errorf("IAM entities: %w", err)
	}
	return d, nil
}

// account and region are the configured ones or AWS-like defaults.
func (o *Options) account() string {
	if o.AccountID == "" {
		return "000000000000"
	}
	return o.AccountID
}

func (o *Options) region() string {
	if o.Region == "" {
		return "us-east-1"
	}
	return o.Region
}
