package policy

import (
	"strconv"
	"strings"
	"time"
)

// WebIdentity is what STS knows when it evaluates a role's trust policy for
// AssumeRoleWithWebIdentity, after the token has been verified. Context renders it as the
// condition keys AWS provides for that call (aws-sts-iam.md §5.2).
type WebIdentity struct {
	ProviderARN string // the Federated principal and aws:FederatedProvider
	// ProviderKey prefixes the token keys: the provider URL without "https://", host and path
	// ("gitlab.example.com", "oidc.eks.us-east-1.amazonaws.com/id/ABC").
	ProviderKey    string
	Audience       string   // <prov>:aud, the client id the token's aud matched
	TokenAudiences []string // <prov>:oaud, the token's aud as sent
	Subject        string   // <prov>:sub
	AMR            []string // <prov>:amr
	// Claims become <prov>:<name> keys, beyond what AWS exposes; only a provider configured
	// with claim_condition_keys: all sets them. They never replace aud, oaud, sub or amr.
	Claims          map[string][]string
	IssuedAt        time.Time // aws:TokenIssueTime (the token's iat)
	CurrentTime     time.Time // aws:CurrentTime and aws:EpochTime
	SourceIP        string    // aws:SourceIp
	RequestedRegion string    // aws:RequestedRegion
	RoleSessionName string    // sts:RoleSessionName
	SourceIdentity  string    // sts:SourceIdentity
}

// isoTime is the form IAM gives date keys (aws:CurrentTime, aws:TokenIssueTime).
const isoTime = "2006-01-02T15:04:05Z"

// Context returns the condition keys, lower-cased. Empty fields are left out, so a policy
// testing them sees a missing key (and Null/IfExists behave as on AWS).
func (w *WebIdentity) Context() Context {
	c := make(Context, 12+len(w.Claims))
	set := func(key string, values ...string) {
		if len(values) == 1 && values[0] == "" || len(values) == 0 {
			return
		}
		c.Set(key, values...)
	}
	prefix := w.ProviderKey + ":"
	for name, values := range w.Claims {
		switch strings.ToLower(name) {
		case "aud", "oaud", "sub", "amr":
			continue
		}
		set(prefix+name, values...)
	}
	set(prefix+"aud", w.Audience)
	set(prefix+"oaud", w.TokenAudiences...)
	set(prefix+"sub", w.Subject)
	set(prefix+"amr", w.AMR...)
	set("aws:FederatedProvider", w.ProviderARN)
	if !w.IssuedAt.IsZero() {
		set("aws:TokenIssueTime", w.IssuedAt.UTC().Format(isoTime))
	}
	if !w.CurrentTime.IsZero() {
		set("aws:CurrentTime", w.CurrentTime.UTC().Format(isoTime))
		set("aws:EpochTime", strconv.FormatInt(w.CurrentTime.Unix(), 10))
	}
	set("aws:SourceIp", w.SourceIP)
	set("aws:RequestedRegion", w.RequestedRegion)
	set("sts:RoleSessionName", w.RoleSessionName)
	set("sts:SourceIdentity", w.SourceIdentity)
	return c
}

// Request is the trust-policy request for action (sts:AssumeRoleWithWebIdentity, or
// sts:TagSession / sts:SetSourceIdentity when the token carries tags or a source identity).
func (w *WebIdentity) Request(action string) *Request {
	return &Request{
		Principal: Principal{Type: PrincipalFederated, ID: w.ProviderARN},
		Action:    action,
		Context:   w.Context(),
	}
}
