package iam

import (
	"strings"

	"github.com/oidcfed/oidcfed/internal/iam/policy"
)

// Parsed policies travel with their entities: the Manager parses a stored
// entity's documents when it caches the entity (the config overlay and the
// AWS managed set when they are built), so each document is parsed once
// per cache fill and lives exactly as long as the entity that holds it —
// no separate cache to bound, nothing hashed per request.

// parseStored parses a document that was validated when it was written;
// AWS managed documents are larger than any customer quota, so only the
// service model's bound applies.
func parseStored(doc string, kind policy.Kind) (*policy.Policy, error) {
	p, err := policy.ParseWithLimit([]byte(doc), 0)
	if err != nil {
		return nil, err
	}
	if err := p.Validate(kind); err != nil {
		return nil, err
	}
	return p, nil
}

// Trust is the role's parsed trust policy: a cached role's is thawed from
// its frozen form on each call, a new Policy the caller may keep.
func (r *Role) Trust() (*policy.Policy, error) {
	if r.trust != nil {
		return r.trust, nil
	}
	if r.frozenTrust != "" {
		return r.frozenTrust.Thaw()
	}
	return parseStored(r.TrustPolicy, policy.TrustPolicy)
}

// Parsed is the inline policy's parsed document.
func (p *NamedPolicy) Parsed() (*policy.Policy, error) {
	if p.parsed != nil {
		return p.parsed, nil
	}
	return parseStored(p.Document, policy.IdentityPolicy)
}

// Default is the managed policy's parsed default version.
func (p *ManagedPolicy) Default() (*policy.Policy, error) {
	if p.parsedDefault != nil {
		return p.parsedDefault, nil
	}
	return parseStored(p.DefaultDocument(), policy.IdentityPolicy)
}

// preparer is an entity whose documents can be parsed ahead of use. A
// document that does not parse is left for its accessor to report.
type preparer interface{ prepare() }

func prepareInline(list []NamedPolicy) {
	for i := range list {
		list[i].parsed, _ = parseStored(list[i].Document, policy.IdentityPolicy)
	}
}

func (r *Role) prepare() {
	r.trust, _ = parseStored(r.TrustPolicy, policy.TrustPolicy)
	prepareInline(r.InlinePolicies)
}

func (u *User) prepare() { prepareInline(u.InlinePolicies) }

func (p *ManagedPolicy) prepare() {
	p.parsedDefault, _ = parseStored(p.DefaultDocument(), policy.IdentityPolicy)
}

func (p *OIDCProvider) prepare() {}

// compact drops the text of documents that parsed, from a role about to be
// cached: authorization needs only the parsed forms, and with thousands of
// roles the text was a third of the cache. Documents are still shown in
// full by the IAM API, which reads roles from the store
// (Manager.RoleWithDocuments).
//
// The trust policy is kept frozen (policy.Frozen: one string, nothing for
// the collector to scan) and thawed per use, where it can be: with 10,000
// roles cached, the parsed trust policies were two thirds of what every
// collection marked, and that marking, on every cycle under load, was most
// of what a 10,000-role server spent beyond a 10-role one. A thaw costs a
// few allocations and no parsing, on a request that makes some two
// hundred.
func (r *Role) compact() {
	if r.trust != nil {
		r.TrustPolicy = ""
		if f := policy.Freeze(r.trust); f != "" {
			r.trust, r.frozenTrust = nil, f
		}
	}
	// The ARN and the id in one string; the name ends the ARN and the path
	// is in it: they share its bytes rather than hold copies (objects the
	// collector marks on every cycle, for every cached role).
	if r.ID != "" {
		both := r.ARN + r.ID
		r.ARN, r.ID = both[:len(r.ARN)], both[len(r.ARN):]
	}
	if strings.HasSuffix(r.ARN, "/"+r.Name) {
		r.Name = r.ARN[len(r.ARN)-len(r.Name):]
	}
	if i := strings.Index(r.ARN, ":role"+r.Path); len(r.Path) > 1 && i >= 0 {
		start := i + len(":role")
		r.Path = r.ARN[start : start+len(r.Path)]
	}
	for i := range r.InlinePolicies {
		if r.InlinePolicies[i].parsed != nil {
			r.InlinePolicies[i].Document = ""
		}
	}
}
