package cli

import (
	"crypto/x509"
	"fmt"
	"time"

	"github.com/oidcfed/oidcfed/internal/config"
	"github.com/oidcfed/oidcfed/internal/iam"
)

// maxCABundle bounds a provider's CA bundle file.
const maxCABundle = 1 << 20

// iamEntities converts the file's IAM sections to entities, reading each
// provider's CA bundle (which must hold at least one PEM certificate).
func iamEntities(f *config.File, configFile string) ([]iam.OIDCProvider, []iam.Role, error) {
	declaredIn := "the config file " + configFile
	var providers []iam.OIDCProvider
	for i, p := range f.OIDCProviders {
		prov := iam.OIDCProvider{
			URL: p.URL, ClientIDs: p.ClientIDs, Thumbprints: p.Thumbprints,
			AllowInsecureHTTP: p.AllowInsecureHTTP, AllClaimConditionKeys: p.ClaimConditionKeys == "all",
			DeclaredIn: declaredIn,
		}
		if p.CABundleFile != "" {
			pem, err := readCABundle(p.CABundleFile)
			if err != nil {
				return nil, nil, fmt.Errorf("oidc_providers[%d].ca_bundle_file: %w", i, err)
			}
			prov.CABundlePEM = pem
		}
		providers = append(providers, prov)
	}
	var roles []iam.Role
	for _, r := range f.Roles {
		role := iam.Role{
			Name: r.Name, Path: r.Path, Description: r.Description, TrustPolicy: r.TrustPolicy,
			MaxSessionDuration: time.Duration(r.MaxSessionDuration) * time.Second,
			ManagedPolicyARNs:  r.ManagedPolicyARNs,
			DeclaredIn:         declaredIn,
		}
		for _, ip := range r.InlinePolicies {
			role.InlinePolicies = append(role.InlinePolicies, iam.NamedPolicy{Name: ip.Name, Document: ip.Document})
		}
		roles = append(roles, role)
	}
	return providers, roles, nil
}

func readCABundle(path string) ([]byte, error) {
	data, err := readBounded(path, maxCABundle)
	if err != nil {
		return nil, err
	}
	if !x509.NewCertPool().AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("%s holds no PEM certificate", path)
	}
	return data, nil
}
