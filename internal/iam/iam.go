// Package iam holds oidcfed's IAM entities — OIDC identity providers and
// roles today; users, managed policies and access keys with the IAM API —
// and the directory that resolves them. Entities declared in the config
// file form a read-only overlay; the IAM API (a later issue) adds
// store-backed ones behind the same Directory interface.
package iam

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/oidcfed/oidcfed/internal/iam/policy"
)

// OIDCProvider is an IAM OpenID Connect identity provider.
type OIDCProvider struct {
	ARN string `json:"arn"`
	// URL is the issuer exactly as tokens carry it in iss.
	URL         string   `json:"url"`
	ClientIDs   []string `json:"client_ids"`
	Thumbprints []string `json:"thumbprints"`
	Tags        []Tag    `json:"tags,omitempty"`
	// CABundlePEM, when set, is trusted for this issuer's TLS besides the
	// system roots (a private GitLab).
	CABundlePEM []byte `json:"-"`
	// AllowInsecureHTTP permits http:// on loopback (dev, tests).
	AllowInsecureHTTP bool `json:"allow_insecure_http,omitempty"`
	// AllClaimConditionKeys exposes every token claim as a condition key
	// (beyond AWS; opt-in).
	AllClaimConditionKeys bool `json:"-"`
	// ReadOnly marks entities declared in the config file (or by --dev);
	// DeclaredIn names where, for the message refusing a change.
	ReadOnly   bool      `json:"-"`
	DeclaredIn string    `json:"-"`
	CreateDate time.Time `json:"create_date"`
}

// Role is an IAM role.
type Role struct {
	ARN                string        `json:"arn"`
	ID                 string        `json:"id"` // AROA + 17 characters
	Name               string        `json:"name"`
	Path               string        `json:"path"`
	Description        string        `json:"description,omitempty"`
	TrustPolicy        string        `json:"trust_policy"` // JSON, as written
	MaxSessionDuration time.Duration `json:"max_session_duration"`
	InlinePolicies     []NamedPolicy `json:"inline_policies,omitempty"`
	ManagedPolicyARNs  []string      `json:"managed_policy_arns,omitempty"`
	Tags               []Tag         `json:"tags,omitempty"`
	ReadOnly           bool          `json:"-"`
	DeclaredIn         string        `json:"-"`
	CreateDate         time.Time     `json:"create_date"`

	trust *policy.Policy // parsed TrustPolicy (see Trust)
	// frozenTrust replaces trust in a cached role (see compact).
	frozenTrust policy.Frozen
}

// User is an IAM user: a long-term identity that signs with access keys.
type User struct {
	ARN               string        `json:"arn"`
	ID                string        `json:"id"` // AIDA + 17 characters
	Name              string        `json:"name"`
	Path              string        `json:"path"`
	InlinePolicies    []NamedPolicy `json:"inline_policies,omitempty"`
	ManagedPolicyARNs []string      `json:"managed_policy_arns,omitempty"`
	Tags              []Tag         `json:"tags,omitempty"`
	CreateDate        time.Time     `json:"create_date"`
}

// NamedPolicy is an inline policy.
type NamedPolicy struct {
	Name     string `json:"name"`
	Document string `json:"document"`

	parsed *policy.Policy // see Parsed
}

// ErrNoSuchEntity is the IAM NoSuchEntity condition.
var ErrNoSuchEntity = errors.New("no such entity")

// Directory resolves IAM entities for STS and, later, the IAM API.
type Directory interface {
	Account() string
	Region() string
	// OIDCProviderByURL finds a provider by the exact issuer URL.
	OIDCProviderByURL(ctx context.Context, url string) (*OIDCProvider, error)
	// RoleByARN finds a role by its ARN: account and path must match;
	// the name matches regardless of case, as IAM role names do.
	RoleByARN(ctx context.Context, arn string) (*Role, error)
	// RoleByName finds a role by name, regardless of case.
	RoleByName(ctx context.Context, name string) (*Role, error)
	// OIDCProviderByARN finds a provider by its ARN.
	OIDCProviderByARN(ctx context.Context, arn string) (*OIDCProvider, error)
	// ListRoles returns every role ordered by name regardless of case
	// (the static directory alone: by path, then name).
	ListRoles(ctx context.Context) ([]*Role, error)
	// ListOIDCProviders returns every provider ordered by ARN.
	ListOIDCProviders(ctx context.Context) ([]*OIDCProvider, error)
	// PolicyByARN finds a managed policy (AWS managed or the account's).
	PolicyByARN(ctx context.Context, arn string) (*ManagedPolicy, error)
	// UserByName finds an IAM user by name, regardless of case.
	UserByName(ctx context.Context, name string) (*User, error)
}

// Static is a Directory of config-declared entities.
type Static struct {
	account, region string
	providers       map[string]*OIDCProvider
	roles           map[string]*Role // lower-case name
}

// NewStatic builds a directory, filling in ARNs and role ids, and marking
// every entity read-only. Entities without DeclaredIn are taken to come
// from the config file.
func NewStatic(account, region string, providers []OIDCProvider, roles []Role) (*Static, error) {
	s := &Static{account: account, region: region, providers: map[string]*OIDCProvider{}, roles: map[string]*Role{}}
	// Config entities come into being when the server loads them.
	loaded := time.Now().UTC().Truncate(time.Second)
	for i := range providers {
		p := providers[i]
		if _, dup := s.providers[p.URL]; dup {
			return nil, fmt.Errorf("OIDC provider %s declared twice", p.URL)
		}
		p.ARN = ProviderARN(account, p.URL)
		p.ReadOnly = true
		if p.DeclaredIn == "" {
			p.DeclaredIn = "the config file"
		}
		if p.CreateDate.IsZero() {
			p.CreateDate = loaded
		}
		s.providers[p.URL] = &p
	}
	for i := range roles {
		r := roles[i]
		key := strings.ToLower(r.Name)
		if _, dup := s.roles[key]; dup {
			return nil, fmt.Errorf("role %s declared twice", r.Name)
		}
		if r.Path == "" {
			r.Path = "/"
		}
		r.ARN = RoleARN(account, r.Path, r.Name)
		r.ID = StableID("AROA", account+":role:"+key)
		r.ReadOnly = true
		if r.DeclaredIn == "" {
			r.DeclaredIn = "the config file"
		}
		if r.CreateDate.IsZero() {
			r.CreateDate = loaded
		}
		r.InlinePolicies = append([]NamedPolicy(nil), r.InlinePolicies...)
		r.prepare()
		s.roles[key] = &r
	}
	return s, nil
}

// Account is the account id.
func (s *Static) Account() string { return s.account }

// Region is the served region.
func (s *Static) Region() string { return s.region }

// OIDCProviderByURL implements Directory.
func (s *Static) OIDCProviderByURL(_ context.Context, url string) (*OIDCProvider, error) {
	if p, ok := s.providers[url]; ok {
		return p, nil
	}
	return nil, ErrNoSuchEntity
}

// RoleByARN implements Directory.
func (s *Static) RoleByARN(_ context.Context, arn string) (*Role, error) {
	account, path, name, err := ParseRoleARN(arn)
	if err != nil || account != s.account {
		return nil, ErrNoSuchEntity
	}
	r, ok := s.roles[strings.ToLower(name)]
	if !ok || r.Path != path {
		return nil, ErrNoSuchEntity
	}
	return r, nil
}

// RoleByName implements Directory.
func (s *Static) RoleByName(_ context.Context, name string) (*Role, error) {
	if r, ok := s.roles[strings.ToLower(name)]; ok {
		return r, nil
	}
	return nil, ErrNoSuchEntity
}

// OIDCProviderByARN implements Directory.
func (s *Static) OIDCProviderByARN(_ context.Context, arn string) (*OIDCProvider, error) {
	for _, p := range s.providers {
		if p.ARN == arn {
			return p, nil
		}
	}
	return nil, ErrNoSuchEntity
}

// ListRoles implements Directory.
func (s *Static) ListRoles(context.Context) ([]*Role, error) {
	out := make([]*Role, 0, len(s.roles))
	for _, r := range s.roles {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Path != out[j].Path {
			return out[i].Path < out[j].Path
		}
		return strings.ToLower(out[i].Name) < strings.ToLower(out[j].Name)
	})
	return out, nil
}

// PolicyByARN implements Directory: only AWS managed policies are built
// into a static directory.
func (s *Static) PolicyByARN(_ context.Context, arn string) (*ManagedPolicy, error) {
	if p, ok := AWSManagedPolicyByARN(arn); ok {
		return p, nil
	}
	return nil, ErrNoSuchEntity
}

// UserByName implements Directory: the config declares no users.
func (s *Static) UserByName(context.Context, string) (*User, error) { return nil, ErrNoSuchEntity }

// ListOIDCProviders implements Directory.
func (s *Static) ListOIDCProviders(context.Context) ([]*OIDCProvider, error) {
	out := s.OIDCProviders()
	sort.Slice(out, func(i, j int) bool { return out[i].ARN < out[j].ARN })
	return out, nil
}

// ProviderARN is arn:aws:iam::<account>:oidc-provider/<url without scheme>,
// as IAM builds it.
func ProviderARN(account, url string) string {
	rest := url
	if i := strings.Index(url, "://"); i >= 0 {
		rest = url[i+3:]
	}
	return "arn:aws:iam::" + account + ":oidc-provider/" + rest
}

// ProviderConditionPrefix is the prefix of a provider's condition keys
// (host and path without the scheme: "gitlab.example.com:sub").
func ProviderConditionPrefix(url string) string {
	rest := url
	if i := strings.Index(url, "://"); i >= 0 {
		rest = url[i+3:]
	}
	return rest
}

// RoleARN is arn:aws:iam::<account>:role<path><name>.
func RoleARN(account, path, name string) string {
	return "arn:aws:iam::" + account + ":role" + path + name
}

// ParseRoleARN splits a role ARN into account, path and name.
func ParseRoleARN(arn string) (account, path, name string, err error) {
	const prefix = "arn:aws:iam::"
	rest, ok := strings.CutPrefix(arn, prefix)
	if !ok {
		return "", "", "", fmt.Errorf("not an IAM ARN")
	}
	account, res, ok := strings.Cut(rest, ":")
	if !ok || len(account) != 12 {
		return "", "", "", fmt.Errorf("bad account in ARN")
	}
	res, ok = strings.CutPrefix(res, "role/")
	if !ok || res == "" {
		return "", "", "", fmt.Errorf("not a role ARN")
	}
	i := strings.LastIndexByte(res, '/')
	path, name = "/"+res[:i+1], res[i+1:]
	if i < 0 {
		path = "/"
	}
	if name == "" {
		return "", "", "", fmt.Errorf("role ARN without a name")
	}
	return account, path, name, nil
}

// idAlphabet is what IAM unique ids are made of after their prefix.
var idAlphabet = base32.NewEncoding("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567").WithPadding(base32.NoPadding)

// StableID derives an IAM-style unique id (prefix + 17 characters) from a
// seed, so config-declared entities keep their id across restarts.
func StableID(prefix, seed string) string {
	sum := sha256.Sum256([]byte("oidcfed iam id\x00" + seed))
	return prefix + idAlphabet.EncodeToString(sum[:])[:17]
}

// OIDCProviders lists the directory's providers, in no particular order.
func (s *Static) OIDCProviders() []*OIDCProvider {
	out := make([]*OIDCProvider, 0, len(s.providers))
	for _, p := range s.providers {
		out = append(out, p)
	}
	return out
}

// NewAccessKey generates a long-term access key: AKIA + 16 characters of
// IAM's id alphabet, and a 40-character secret of standard base64, the
// shapes AWS issues.
func NewAccessKey() (id, secret string, err error) {
	var idBytes [10]byte
	var secretBytes [30]byte
	if _, err := rand.Read(idBytes[:]); err != nil {
		return "", "", err
	}
	if _, err := rand.Read(secretBytes[:]); err != nil {
		return "", "", err
	}
	id, secret = AccessKeyFrom(idBytes, secretBytes)
	return id, secret, nil
}

// AccessKeyFrom is the access key NewAccessKey makes from these random
// bytes; dev mode derives them from the master key, so replicas sharing a
// database and a master key agree on the dev root key.
func AccessKeyFrom(idBytes [10]byte, secretBytes [30]byte) (id, secret string) {
	return "AKIA" + idAlphabet.EncodeToString(idBytes[:]), base64.StdEncoding.EncodeToString(secretBytes[:])
}
