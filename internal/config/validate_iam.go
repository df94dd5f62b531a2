package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/oidcfed/oidcfed/internal/iam/policy"
)

// IAM limits and name syntax, from the IAM API reference (botocore's
// iam/2010-05-08 model: roleNameType, pathType, policyNameType,
// thumbprintType, clientIDType) and IAM's default quotas.
var (
	accountIDRE  = regexp.MustCompile(`^[0-9]{12}$`)
	regionRE     = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]{1,2}$`)
	roleNameRE   = regexp.MustCompile(`^[\w+=,.@-]{1,64}$`)
	policyNameRE = regexp.MustCompile(`^[\w+=,.@-]{1,128}$`)
	pathRE       = regexp.MustCompile(`^(/|/[\x21-\x7e]+/)$`)
	thumbprintRE = regexp.MustCompile(`^[0-9A-Fa-f]{40}$`)
	managedARNRE = regexp.MustCompile(`^arn:aws:iam::(aws|[0-9]{12}):policy/([\x21-\x7e]+/)?[\w+=,.@-]{1,128}$`)
)

const (
	maxClientIDs         = 100
	maxClientIDLen       = 255
	maxThumbprints       = 5
	maxProviderURLLen    = 255
	maxTrustPolicyChars  = 2048 // IAM's default "role trust policy length" quota
	maxInlinePolicyChars = 10240
	maxManagedPerRole    = 10
	maxPathLen           = 512
	minSessionSeconds    = 3600
	maxSessionSeconds    = 43200
)

func (v *validator) iam(f *File) {
	if !accountIDRE.MatchString(f.AccountID) {
		v.bad("account_id", "%s is not a 12-digit AWS account id", quote(f.AccountID))
	}
	if !regionRE.MatchString(f.Region) {
		v.bad("region", "%s is not a region name like us-east-1", quote(f.Region))
	}
	if g := f.STS.SessionKeyGeneration; g < 1 || g > 1<<30 {
		v.bad("sts.session_key_generation", "%d: want a generation from 1 (raise it by one to rotate)", g)
	}
	switch f.IAM.LintOnWrite {
	case "", "off", "warn", "deny":
	default:
		v.bad("iam.lint_on_write", "%s: want off, warn or deny", quote(f.IAM.LintOnWrite))
	}
	switch f.IAM.LintFailOn {
	case "", "info", "low", "medium", "high", "critical":
	default:
		v.bad("iam.lint_fail_on", "%s: want info, low, medium, high or critical", quote(f.IAM.LintFailOn))
	}
	seenURL := map[string]string{}
	for i := range f.OIDCProviders {
		p := &f.OIDCProviders[i]
		key := fmt.Sprintf("oidc_providers[%d]", i)
		v.providerURL(key+".url", p.URL, p.AllowInsecureHTTP)
		if prev, dup := seenURL[p.URL]; dup && p.URL != "" {
			v.bad(key+".url", "%s is already declared by %s", quote(p.URL), prev)
		}
		seenURL[p.URL] = key
		if len(p.ClientIDs) == 0 {
			v.bad(key+".client_ids", "at least one client id (audience) is required")
		}
		if len(p.ClientIDs) > maxClientIDs {
			v.bad(key+".client_ids", "at most %d client ids", maxClientIDs)
		}
		for j, id := range p.ClientIDs {
			if id == "" || len(id) > maxClientIDLen || !utf8.ValidString(id) {
				v.bad(fmt.Sprintf("%s.client_ids[%d]", key, j), "must be 1 to %d characters", maxClientIDLen)
			}
		}
		if len(p.Thumbprints) > maxThumbprints {
			v.bad(key+".thumbprints", "at most %d thumbprints", maxThumbprints)
		}
		for j, tp := range p.Thumbprints {
			if !thumbprintRE.MatchString(tp) {
				v.bad(fmt.Sprintf("%s.thumbprints[%d]", key, j), "%s is not a 40-character hex SHA-1 thumbprint", quote(tp))
			}
		}
		if p.CABundleFile != "" {
			v.path(key+".ca_bundle_file", p.CABundleFile)
		}
		switch p.ClaimConditionKeys {
		case "", "all":
		default:
			v.bad(key+".claim_condition_keys", "%s: want \"all\" or nothing (AWS's keys only)", quote(p.ClaimConditionKeys))
		}
	}
	seenRole := map[string]string{}
	for i := range f.Roles {
		r := &f.Roles[i]
		key := fmt.Sprintf("roles[%d]", i)
		if !roleNameRE.MatchString(r.Name) {
			v.bad(key+".name", "%s must be 1 to 64 characters of letters, digits and +=,.@_-", quote(r.Name))
		}
		// IAM role names are unique regardless of case.
		if prev, dup := seenRole[strings.ToLower(r.Name)]; dup {
			v.bad(key+".name", "%s is already declared by %s (role names are case-insensitive)", quote(r.Name), prev)
		}
		seenRole[strings.ToLower(r.Name)] = key
		if r.Path == "" {
			r.Path = "/"
		}
		if len(r.Path) > maxPathLen || !pathRE.MatchString(r.Path) {
			v.bad(key+".path", "%s must be / or begin and end with / (printable ASCII)", quote(r.Path))
		}
		if r.MaxSessionDuration == 0 {
			r.MaxSessionDuration = minSessionSeconds
		}
		if r.MaxSessionDuration < minSessionSeconds || r.MaxSessionDuration > maxSessionSeconds {
			v.bad(key+".max_session_duration", "%d is outside %d to %d seconds", r.MaxSessionDuration, minSessionSeconds, maxSessionSeconds)
		}
		v.policyDoc(key+".trust_policy", r.TrustPolicy, maxTrustPolicyChars, policy.TrustPolicy)
		for j, ip := range r.InlinePolicies {
			pk := fmt.Sprintf("%s.inline_policies[%d]", key, j)
			if !policyNameRE.MatchString(ip.Name) {
				v.bad(pk+".name", "%s must be 1 to 128 characters of letters, digits and +=,.@_-", quote(ip.Name))
			}
			v.policyDoc(pk+".document", ip.Document, maxInlinePolicyChars, policy.IdentityPolicy)
		}
		if len(r.ManagedPolicyARNs) > maxManagedPerRole {
			v.bad(key+".managed_policy_arns", "at most %d managed policies per role", maxManagedPerRole)
		}
		for j, arn := range r.ManagedPolicyARNs {
			if !managedARNRE.MatchString(arn) {
				v.bad(fmt.Sprintf("%s.managed_policy_arns[%d]", key, j), "%s is not a policy ARN", quote(arn))
			}
		}
	}
}

// providerURL applies IAM's rules (https, no query, fragment or userinfo,
// at most 255 characters) and ours (http only on loopback, when allowed).
func (v *validator) providerURL(key, s string, allowHTTP bool) {
	u, err := url.Parse(s)
	switch {
	case s == "":
		v.bad(key, "is required")
	case err != nil || u.Host == "" || u.Opaque != "":
		v.bad(key, "%s is not an absolute URL", quote(s))
	case len(s) > maxProviderURLLen:
		v.bad(key, "must be at most %d characters", maxProviderURLLen)
	case u.RawQuery != "" || u.Fragment != "" || strings.ContainsAny(s, "?#") || u.User != nil:
		v.bad(key, "%s must not have a query, fragment or user info", quote(s))
	case strings.HasSuffix(s, "/"):
		v.bad(key, "%s must not end with / (tokens' iss is compared byte for byte)", quote(s))
	case u.Scheme == "https":
	case u.Scheme == "http" && allowHTTP && isLoopbackHost(u.Hostname()):
	case u.Scheme == "http" && allowHTTP:
		v.bad(key, "%s: http:// is allowed only for loopback hosts", quote(s))
	case u.Scheme == "http":
		v.bad(key, "%s must begin with https:// (set allow_insecure_http for a loopback test issuer)", quote(s))
	default:
		v.bad(key, "%s must begin with https://", quote(s))
	}
}

func isLoopbackHost(h string) bool {
	if strings.EqualFold(h, "localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// policyDoc checks a policy document as IAM would on CreateRole /
// PutRolePolicy: present, within the size quota, and valid in the policy
// language for its kind (a trust policy needs a Principal, a permission
// policy must not have one, ...).
func (v *validator) policyDoc(key, doc string, maxChars int, kind policy.Kind) {
	if doc == "" {
		v.bad(key, "is required")
		return
	}
	if n := utf8.RuneCountInString(doc); n > maxChars {
		v.bad(key, "is %d characters; the limit is %d", n, maxChars)
		return
	}
	if _, err := policy.ParseKind([]byte(doc), kind); err != nil {
		var me *policy.MalformedError
		if errors.As(err, &me) {
			v.bad(key, "MalformedPolicyDocument: %s", me.Message)
			return
		}
		v.bad(key, "%v", err)
	}
}
