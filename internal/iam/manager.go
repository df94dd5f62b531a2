package iam

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/oidcfed/oidcfed/internal/iam/policy"
	"github.com/oidcfed/oidcfed/internal/store"
)

// Record kinds in the store.
const (
	kindProvider    = "oidc-provider" // key: URL without scheme
	kindRole        = "role"          // key: lower-case name
	kindUser        = "user"          // key: lower-case name
	kindPolicy      = "policy"        // key: lower-case name (customer managed)
	kindAttachments = "attachments"   // key: policy ARN
)

// Quotas, at AWS's defaults.
const (
	MaxOIDCProviders      = 100
	MaxClientIDs          = 100
	MaxThumbprints        = 5
	MaxPoliciesPerEntity  = 10
	MaxPolicyVersions     = 5
	MaxAccessKeysPerUser  = 2
	MaxTags               = 50
	DefaultSessionSeconds = 3600
)

// ManagerOptions configure a Manager.
type ManagerOptions struct {
	// Static holds the config-declared (read-only) entities.
	Static *Static
	Store  store.Store
	Now    func() time.Time
	// AllowLoopbackHTTPProviders lets CreateOpenIDConnectProvider accept
	// an http:// URL on a loopback host (dev mode's own issuer; beyond
	// AWS, which requires https).
	AllowLoopbackHTTPProviders bool
	// Seal seals a new access key's secret with its AAD (the keys
	// package's Sealer.Seal).
	Seal func(plaintext []byte, aad string) ([]byte, error)
	// OnProvidersChanged is told every provider after a change to the set.
	OnProvidersChanged func([]*OIDCProvider)
	// OnWrite, when set, is called after every write through the Manager
	// (committed or not), when the Manager clears its own cache: for caches
	// elsewhere over records its writes touch (access keys).
	OnWrite func()
}

// Manager is the IAM directory over the store, with the config-declared
// entities as a read-only overlay, and the IAM API's write operations.
// Reads are served from an in-process cache that every write through this
// Manager clears; a replica learns of other replicas' writes from the
// store's change notifications and calls Refresh.
type Manager struct {
	opts ManagerOptions

	mu    sync.RWMutex
	cache map[cacheKey]any // → *Role, *User, *ManagedPolicy, *OIDCProvider
	// gen counts writes. A read that began before a write committed must
	// not cache what it read after the write cleared the cache: it only
	// stores its result if gen is what it was when the read began.
	gen uint64

	providersMu sync.Mutex // serialises OnProvidersChanged calls
}

var _ Directory = (*Manager)(nil)

// NewManager builds a Manager.
func NewManager(opts ManagerOptions) *Manager {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Static == nil {
		opts.Static, _ = NewStatic("000000000000", "us-east-1", nil, nil)
	}
	return &Manager{opts: opts, cache: map[cacheKey]any{}}
}

// Account is the account id.
func (m *Manager) Account() string { return m.opts.Static.account }

// Region is the served region.
func (m *Manager) Region() string { return m.opts.Static.region }

func (m *Manager) now() time.Time { return m.opts.Now().UTC().Truncate(time.Second) }

// cacheKey is an entity's kind and store key.
type cacheKey struct{ kind, key string }

// cached returns a store-backed entity, reading and caching it on a miss.
func cached[T any](ctx context.Context, m *Manager, kind, key string) (*T, error) {
	ck := cacheKey{kind, key}
	m.mu.RLock()
	v, ok := m.cache[ck]
	gen := m.gen
	m.mu.RUnlock()
	if ok {
		return v.(*T), nil
	}
	var rec store.IAMRecord
	err := m.opts.Store.View(ctx, func(tx store.Tx) (err error) {
		rec, err = tx.GetIAMRecord(ctx, kind, key)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrNoSuchEntity
	}
	if err != nil {
		return nil, err
	}
	out := new(T)
	if err := json.Unmarshal(rec.Body, out); err != nil {
		return nil, fmt.Errorf("IAM %s %s: %w", kind, key, err)
	}
	if p, ok := any(out).(preparer); ok {
		p.prepare()
	}
	// The key is kept: as its own copy, never the caller's string (a
	// substring of a request it would keep alive), or as the role's own
	// name when that is the key, one object fewer per cached role.
	ck.key = ""
	if r, ok := any(out).(*Role); ok {
		r.compact()
		if r.Name == key {
			ck.key = r.Name
		}
	}
	if ck.key == "" {
		ck.key = strings.Clone(key)
	}
	m.mu.Lock()
	if m.gen == gen {
		m.cache[ck] = out
	}
	m.mu.Unlock()
	return out, nil
}

// invalidate drops every cached entity after a write (committed or not).
func (m *Manager) invalidate() {
	m.mu.Lock()
	m.cache = map[cacheKey]any{}
	m.gen++
	m.mu.Unlock()
}

// Reads.

// OIDCProviderByURL implements Directory.
func (m *Manager) OIDCProviderByURL(ctx context.Context, u string) (*OIDCProvider, error) {
	if p, err := m.opts.Static.OIDCProviderByURL(ctx, u); err == nil {
		return p, nil
	}
	p, err := cached[OIDCProvider](ctx, m, kindProvider, ProviderConditionPrefix(u))
	if err != nil {
		return nil, err
	}
	if p.URL != u {
		return nil, ErrNoSuchEntity
	}
	return p, nil
}

// OIDCProviderByARN implements Directory.
func (m *Manager) OIDCProviderByARN(ctx context.Context, arn string) (*OIDCProvider, error) {
	if p, err := m.opts.Static.OIDCProviderByARN(ctx, arn); err == nil {
		return p, nil
	}
	rest, ok := strings.CutPrefix(arn, "arn:aws:iam::"+m.Account()+":oidc-provider/")
	if !ok || rest == "" {
		return nil, ErrNoSuchEntity
	}
	return cached[OIDCProvider](ctx, m, kindProvider, rest)
}

// RoleByName implements Directory.
func (m *Manager) RoleByName(ctx context.Context, name string) (*Role, error) {
	if r, err := m.opts.Static.RoleByName(ctx, name); err == nil {
		return r, nil
	}
	if name == "" {
		return nil, ErrNoSuchEntity
	}
	return cached[Role](ctx, m, kindRole, strings.ToLower(name))
}

// RoleWithDocuments is RoleByName for callers that show a role's policy
// documents (the IAM API): read from the store, not the cache, whose roles
// keep their documents parsed only (see Role.compact).
func (m *Manager) RoleWithDocuments(ctx context.Context, name string) (*Role, error) {
	if r, err := m.opts.Static.RoleByName(ctx, name); err == nil {
		return r, nil
	}
	if name == "" {
		return nil, ErrNoSuchEntity
	}
	var r *Role
	err := m.opts.Store.View(ctx, func(tx store.Tx) (err error) {
		r, err = get[Role](ctx, tx, kindRole, strings.ToLower(name))
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrNoSuchEntity
	}
	return r, err
}

// RoleByARN implements Directory.
func (m *Manager) RoleByARN(ctx context.Context, arn string) (*Role, error) {
	account, path, name, err := ParseRoleARN(arn)
	if err != nil || account != m.Account() {
		return nil, ErrNoSuchEntity
	}
	r, err := m.RoleByName(ctx, name)
	if err != nil {
		return nil, err
	}
	if r.Path != path {
		return nil, ErrNoSuchEntity
	}
	return r, nil
}

// UserByName finds a user regardless of case.
func (m *Manager) UserByName(ctx context.Context, name string) (*User, error) {
	if name == "" {
		return nil, ErrNoSuchEntity
	}
	return cached[User](ctx, m, kindUser, strings.ToLower(name))
}

// PolicyByARN finds a managed policy: AWS managed ones are built in,
// customer managed ones are stored.
func (m *Manager) PolicyByARN(ctx context.Context, arn string) (*ManagedPolicy, error) {
	if p, ok := AWSManagedPolicyByARN(arn); ok {
		return p, nil
	}
	name, ok := m.customerPolicyName(arn)
	if !ok {
		return nil, ErrNoSuchEntity
	}
	p, err := cached[ManagedPolicy](ctx, m, kindPolicy, strings.ToLower(name))
	if err != nil {
		return nil, err
	}
	if p.ARN != arn {
		return nil, ErrNoSuchEntity
	}
	return p, nil
}

// customerPolicyName is the name in arn:aws:iam::<account>:policy/<path><name>.
func (m *Manager) customerPolicyName(arn string) (string, bool) {
	rest, ok := strings.CutPrefix(arn, "arn:aws:iam::"+m.Account()+":policy/")
	if !ok || rest == "" || strings.HasSuffix(rest, "/") {
		return "", false
	}
	return rest[strings.LastIndexByte(rest, '/')+1:], true
}

func listStored[T any](ctx context.Context, m *Manager, kind string) ([]*T, error) {
	var recs []store.IAMRecord
	err := m.opts.Store.View(ctx, func(tx store.Tx) (err error) {
		recs, err = tx.ListIAMRecords(ctx, kind, "")
		return err
	})
	if err != nil {
		return nil, err
	}
	out := make([]*T, 0, len(recs))
	for _, rec := range recs {
		v := new(T)
		if err := json.Unmarshal(rec.Body, v); err != nil {
			return nil, fmt.Errorf("IAM %s %s: %w", kind, rec.Key, err)
		}
		out = append(out, v)
	}
	return out, nil
}

// ListRoles implements Directory: every role, ordered by name regardless
// of case.
func (m *Manager) ListRoles(ctx context.Context) ([]*Role, error) {
	stored, err := listStored[Role](ctx, m, kindRole)
	if err != nil {
		return nil, err
	}
	// A role declared in config shadows a stored one of the same name.
	out, _ := m.opts.Static.ListRoles(ctx)
	for _, r := range stored {
		if _, shadowed := m.opts.Static.roles[strings.ToLower(r.Name)]; !shadowed {
			out = append(out, r)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return strings.ToLower(out[i].Name) < strings.ToLower(out[j].Name) })
	return out, nil
}

// ListOIDCProviders implements Directory.
func (m *Manager) ListOIDCProviders(ctx context.Context) ([]*OIDCProvider, error) {
	stored, err := listStored[OIDCProvider](ctx, m, kindProvider)
	if err != nil {
		return nil, err
	}
	// A provider declared in config shadows a stored one with the same URL
	// (declared after it was created through the API).
	out := m.opts.Static.OIDCProviders()
	for _, p := range stored {
		if _, shadowed := m.opts.Static.providers[p.URL]; !shadowed {
			out = append(out, p)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ARN < out[j].ARN })
	return out, nil
}

// ListUsers returns every user ordered by name regardless of case.
func (m *Manager) ListUsers(ctx context.Context) ([]*User, error) {
	return listStored[User](ctx, m, kindUser)
}

// ListPolicies returns managed policies: scope "AWS", "Local" or "All"
// (""), AWS managed first, then customer managed by name; onlyAttached
// keeps those with attachments. AttachmentCount is filled in for all.
func (m *Manager) ListPolicies(ctx context.Context, scope string, onlyAttached bool) ([]*ManagedPolicy, error) {
	var out []*ManagedPolicy
	counts, err := m.attachmentCounts(ctx)
	if err != nil {
		return nil, err
	}
	if scope != "Local" {
		for _, p := range AWSManagedPolicies() {
			c := *p
			c.AttachmentCount = counts[p.ARN]
			out = append(out, &c)
		}
	}
	if scope != "AWS" {
		stored, err := listStored[ManagedPolicy](ctx, m, kindPolicy)
		if err != nil {
			return nil, err
		}
		for _, p := range stored {
			p.AttachmentCount = counts[p.ARN]
			out = append(out, p)
		}
	}
	if onlyAttached {
		out = slices.DeleteFunc(out, func(p *ManagedPolicy) bool { return p.AttachmentCount == 0 })
	}
	return out, nil
}

// Attachments lists the entities a managed policy is attached to.
type Attachments struct {
	Roles []string `json:"roles,omitempty"` // role names
	Users []string `json:"users,omitempty"` // user names
}

// PolicyAttachments returns who a policy is attached to, config-declared
// roles included.
func (m *Manager) PolicyAttachments(ctx context.Context, arn string) (Attachments, error) {
	var a Attachments
	err := m.opts.Store.View(ctx, func(tx store.Tx) error {
		rec, err := tx.GetIAMRecord(ctx, kindAttachments, arn)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		return json.Unmarshal(rec.Body, &a)
	})
	if err != nil {
		return a, err
	}
	static, _ := m.opts.Static.ListRoles(ctx)
	for _, r := range static {
		if slices.Contains(r.ManagedPolicyARNs, arn) {
			a.Roles = append(a.Roles, r.Name)
		}
	}
	sort.Strings(a.Roles)
	return a, nil
}

func (m *Manager) attachmentCounts(ctx context.Context) (map[string]int, error) {
	counts := map[string]int{}
	var recs []store.IAMRecord
	err := m.opts.Store.View(ctx, func(tx store.Tx) (err error) {
		recs, err = tx.ListIAMRecords(ctx, kindAttachments, "")
		return err
	})
	if err != nil {
		return nil, err
	}
	for _, rec := range recs {
		var a Attachments
		if err := json.Unmarshal(rec.Body, &a); err != nil {
			return nil, fmt.Errorf("IAM attachments %s: %w", rec.Key, err)
		}
		counts[rec.Key] = len(a.Roles) + len(a.Users)
	}
	static, _ := m.opts.Static.ListRoles(ctx)
	for _, r := range static {
		for _, arn := range r.ManagedPolicyARNs {
			counts[arn]++
		}
	}
	return counts, nil
}

// ListAccessKeys returns a user's access keys (without secrets).
func (m *Manager) ListAccessKeys(ctx context.Context, userName string) ([]store.AccessKey, error) {
	u, err := m.UserByName(ctx, userName)
	if err != nil {
		return nil, errNoSuchUser(userName)
	}
	var keys []store.AccessKey
	err = m.opts.Store.View(ctx, func(tx store.Tx) (err error) {
		keys, err = tx.ListAccessKeys(ctx, u.Name)
		return err
	})
	for i := range keys {
		keys[i].SealedSecret = nil
	}
	return keys, err
}

// Writes. Each runs in one store transaction; a refused write changes
// nothing. A write to a config-declared entity is refused naming where it
// is declared.

func (m *Manager) update(ctx context.Context, fn func(tx store.Tx) error) error {
	err := m.opts.Store.Update(ctx, fn)
	m.invalidate()
	if m.opts.OnWrite != nil {
		m.opts.OnWrite()
	}
	return err
}

// Invalidate drops every cached entity, for a change another process (a
// replica) committed: the next request reads the store. Follow it with
// ReloadProviders, which needs the store.
func (m *Manager) Invalidate() { m.invalidate() }

// ReloadProviders re-reads the provider set and tells OnProvidersChanged,
// as a write through this Manager does.
func (m *Manager) ReloadProviders(ctx context.Context) { m.providersChanged(ctx) }

func put(ctx context.Context, tx store.Tx, kind, key string, v any, create bool) error {
	body, err := json.Marshal(v)
	if err != nil {
		return err
	}
	rec := &store.IAMRecord{Kind: kind, Key: key, Body: body}
	if create {
		return tx.CreateIAMRecord(ctx, rec)
	}
	return tx.UpdateIAMRecord(ctx, rec)
}

func get[T any](ctx context.Context, tx store.Tx, kind, key string) (*T, error) {
	rec, err := tx.GetIAMRecord(ctx, kind, key)
	if err != nil {
		return nil, err
	}
	v := new(T)
	return v, json.Unmarshal(rec.Body, v)
}

// Validation patterns from the IAM model.
var (
	nameRE       = regexp.MustCompile(`^[\w+=,.@-]+$`)
	pathRE       = regexp.MustCompile(`^/([\x{0021}-\x{007E}]+/)?$`)
	thumbprintRE = regexp.MustCompile(`^[0-9a-fA-F]{40}$`)
	versionIDRE  = regexp.MustCompile(`^v[1-9][0-9]*(\.[A-Za-z0-9-]*)?$`)
	tagKeyRE     = regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]+$`)
	tagValueRE   = regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$`)
)

// validation collects model-constraint violations as AWS reports them.
type validation []string

func (v *validation) add(format string, args ...any) { *v = append(*v, fmt.Sprintf(format, args...)) }

func (v validation) err() error {
	if len(v) == 0 {
		return nil
	}
	noun := "error"
	if len(v) > 1 {
		noun = "errors"
	}
	return ierr(CodeValidationError, "%d validation %s detected: %s", len(v), noun, strings.Join(v, "; "))
}

func (v *validation) name(member, value string, maxLen int) {
	switch n := utf8.RuneCountInString(value); {
	case value == "":
		v.add("Value null at '%s' failed to satisfy constraint: Member must not be null", member)
	case n > maxLen:
		v.add("Value '%s' at '%s' failed to satisfy constraint: Member must have length less than or equal to %d", value, member, maxLen)
	case !nameRE.MatchString(value):
		v.add("Value '%s' at '%s' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]+", value, member)
	}
}

func (v *validation) path(value string) {
	switch {
	case utf8.RuneCountInString(value) > 512:
		v.add("Value '%s' at 'path' failed to satisfy constraint: Member must have length less than or equal to 512", value)
	case !pathRE.MatchString(value):
		v.add("Value '%s' at 'path' failed to satisfy constraint: Member must satisfy regular expression pattern: (\\u002F)|(\\u002F[\\u0021-\\u007E]+\\u002F)", value)
	}
}

func (v *validation) tags(tags []Tag) {
	if len(tags) > MaxTags {
		v.add("Value at 'tags' failed to satisfy constraint: Member must have length less than or equal to %d", MaxTags)
	}
	for i, t := range tags {
		switch {
		case t.Key == "" || utf8.RuneCountInString(t.Key) > 128:
			v.add("Value '%s' at 'tags.%d.member.key' failed to satisfy constraint: Member must have length between 1 and 128", t.Key, i+1)
		case !tagKeyRE.MatchString(t.Key):
			v.add("Value '%s' at 'tags.%d.member.key' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]+", t.Key, i+1)
		}
		switch {
		case utf8.RuneCountInString(t.Value) > 256:
			v.add("Value '%s' at 'tags.%d.member.value' failed to satisfy constraint: Member must have length less than or equal to 256", t.Value, i+1)
		case !tagValueRE.MatchString(t.Value):
			v.add("Value '%s' at 'tags.%d.member.value' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*", t.Value, i+1)
		}
	}
}

// checkPolicy parses a document as kind under limit, mapping failures to
// IAM's errors: MalformedPolicyDocument, or LimitExceeded naming quota.
// Managed policies must also be written in the 2012-10-17 language.
func checkPolicy(doc string, kind policy.Kind, limit int, quota string) error {
	p, err := policy.ParseWithLimit([]byte(doc), limit)
	var le *policy.LimitError
	if errors.As(err, &le) {
		return errQuota(quota, le.Limit)
	}
	if err != nil && kind == policy.TrustPolicy && !json.Valid([]byte(doc)) {
		return ierr(CodeMalformedPolicyDocument, "This policy contains invalid Json")
	}
	if err == nil {
		err = p.Validate(kind)
	}
	if err == nil && quota == "PolicySize" && limit == policy.MaxManagedPolicySize && p.Version != policy.Version2012 {
		return ierr(CodeMalformedPolicyDocument, "Policy document must be version 2012-10-17 or greater.")
	}
	var me *policy.MalformedError
	if errors.As(err, &me) {
		return ierr(CodeMalformedPolicyDocument, "%s", me.Message)
	}
	return err
}

// mergeTags adds or replaces tags by key (case-sensitive, as IAM).
func mergeTags(have, add []Tag) []Tag {
	out := slices.Clone(have)
	for _, t := range add {
		if i := slices.IndexFunc(out, func(h Tag) bool { return h.Key == t.Key }); i >= 0 {
			out[i] = t
		} else {
			out = append(out, t)
		}
	}
	return out
}

func removeTags(have []Tag, keys []string) []Tag {
	return slices.DeleteFunc(slices.Clone(have), func(t Tag) bool { return slices.Contains(keys, t.Key) })
}

func checkTagCount(tags []Tag) error {
	if len(tags) > MaxTags {
		return ierr(CodeLimitExceeded, "The number of tags has reached the maximum limit.")
	}
	return nil
}

// OIDC providers.

// validateProviderURL applies IAM's rules to a provider URL: https, no
// query, fragment, credentials or port. http on a loopback host is
// accepted only when AllowLoopbackHTTPProviders is set (dev mode).
func (m *Manager) validateProviderURL(raw string) error {
	if raw == "" || utf8.RuneCountInString(raw) > 255 {
		return ierr(CodeValidationError, "1 validation error detected: Value '%s' at 'url' failed to satisfy constraint: Member must have length between 1 and 255", raw)
	}
	u, err := url.Parse(raw)
	if err != nil || !strings.Contains(raw, "://") || u.Host == "" {
		return ierr(CodeValidationError, "Invalid Open ID Connect Provider URL")
	}
	if u.RawQuery != "" || u.ForceQuery || strings.Contains(raw, "#") || u.User != nil {
		return ierr(CodeInvalidInput, "Invalid Open ID Connect Provider URL.")
	}
	loopbackHTTP := false
	if u.Scheme == "http" && m.opts.AllowLoopbackHTTPProviders {
		ip := net.ParseIP(u.Hostname())
		loopbackHTTP = u.Hostname() == "localhost" || ip != nil && ip.IsLoopback()
	}
	switch {
	case loopbackHTTP:
		return nil // a dev issuer listens on a port
	case u.Scheme != "https":
		return ierr(CodeInvalidInput, "Invalid Open ID Connect Provider URL. The URL must begin with https://.")
	case u.Port() != "":
		return ierr(CodeInvalidInput, "Invalid Open ID Connect Provider URL.")
	}
	return nil
}

func validateOIDCLists(clientIDs, thumbprints []string) error {
	var v validation
	for i, c := range clientIDs {
		if c == "" || utf8.RuneCountInString(c) > 255 {
			v.add("Value '%s' at 'clientIDList.%d.member' failed to satisfy constraint: Member must have length between 1 and 255", c, i+1)
		}
	}
	for i, t := range thumbprints {
		if !thumbprintRE.MatchString(t) {
			v.add("Value '%s' at 'thumbprintList.%d.member' failed to satisfy constraint: Member must have length greater than or equal to 40", t, i+1)
		}
	}
	if err := v.err(); err != nil {
		return err
	}
	if len(thumbprints) > MaxThumbprints {
		return ierr(CodeInvalidInput, "Thumbprint list must contain fewer than %d entries.", MaxThumbprints)
	}
	if len(uniq(clientIDs)) > MaxClientIDs {
		return errQuota("ClientIdsPerOpenIdConnectProvider", MaxClientIDs)
	}
	return nil
}

func uniq(s []string) []string {
	var out []string
	for _, x := range s {
		if !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	return out
}

// CreateOIDCProvider registers an OpenID Connect provider.
func (m *Manager) CreateOIDCProvider(ctx context.Context, rawURL string, clientIDs, thumbprints []string, tags []Tag) (*OIDCProvider, error) {
	if err := m.validateProviderURL(rawURL); err != nil {
		return nil, err
	}
	if err := validateOIDCLists(clientIDs, thumbprints); err != nil {
		return nil, err
	}
	var v validation
	v.tags(tags)
	if err := v.err(); err != nil {
		return nil, err
	}
	p := &OIDCProvider{
		ARN: ProviderARN(m.Account(), rawURL), URL: rawURL, ClientIDs: uniq(clientIDs), Thumbprints: thumbprints,
		Tags: tags, CreateDate: m.now(), AllowInsecureHTTP: strings.HasPrefix(rawURL, "http://"),
	}
	exists := ierr(CodeEntityAlreadyExists, "Provider with url %s already exists.", rawURL)
	if _, err := m.opts.Static.OIDCProviderByARN(ctx, p.ARN); err == nil {
		return nil, exists
	}
	err := m.update(ctx, func(tx store.Tx) error {
		stored, err := tx.ListIAMRecords(ctx, kindProvider, "")
		if err != nil {
			return err
		}
		// Stored providers that config shadows are counted once.
		n := len(m.opts.Static.providers)
		for _, rec := range stored {
			if _, shadowed := m.opts.Static.providers["https://"+rec.Key]; !shadowed {
				if _, shadowed := m.opts.Static.providers["http://"+rec.Key]; !shadowed {
					n++
				}
			}
		}
		if n >= MaxOIDCProviders {
			return errQuota("OpenIdConnectProvidersPerAccount", MaxOIDCProviders)
		}
		err = put(ctx, tx, kindProvider, ProviderConditionPrefix(rawURL), p, true)
		if errors.Is(err, store.ErrAlreadyExists) {
			return exists
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	m.providersChanged(ctx)
	return p, nil
}

// providersChanged tells OnProvidersChanged the provider set after a
// committed change. Serialized, so an older list never overwrites a newer
// one, and detached from the request: a client hanging up after the
// commit must not leave the verifier on the old set.
func (m *Manager) providersChanged(ctx context.Context) {
	if m.opts.OnProvidersChanged == nil {
		return
	}
	m.providersMu.Lock()
	defer m.providersMu.Unlock()
	ps, err := m.ListOIDCProviders(context.WithoutCancel(ctx))
	if err != nil {
		// Rare (the store just committed); the next change or a restart
		// applies the set. Failing closed is not possible here.
		return
	}
	m.opts.OnProvidersChanged(ps)
}

// modifyProvider runs fn on a stored provider inside a transaction.
func (m *Manager) modifyProvider(ctx context.Context, arn string, fn func(p *OIDCProvider) error) error {
	if p, err := m.opts.Static.OIDCProviderByARN(ctx, arn); err == nil {
		return errReadOnly("OpenID Connect provider", p.URL, p.DeclaredIn)
	}
	rest, ok := strings.CutPrefix(arn, "arn:aws:iam::"+m.Account()+":oidc-provider/")
	if !ok || rest == "" {
		return errProviderCannotBeFound(arn)
	}
	err := m.update(ctx, func(tx store.Tx) error {
		p, err := get[OIDCProvider](ctx, tx, kindProvider, rest)
		if errors.Is(err, store.ErrNotFound) {
			return errProviderCannotBeFound(arn)
		}
		if err != nil {
			return err
		}
		if err := fn(p); err != nil {
			return err
		}
		if p == nil {
			return tx.DeleteIAMRecord(ctx, kindProvider, rest)
		}
		return put(ctx, tx, kindProvider, rest, p, false)
	})
	if err == nil {
		m.providersChanged(ctx)
	}
	return err
}

// DeleteOIDCProvider removes a provider.
func (m *Manager) DeleteOIDCProvider(ctx context.Context, arn string) error {
	if p, err := m.opts.Static.OIDCProviderByARN(ctx, arn); err == nil {
		return errReadOnly("OpenID Connect provider", p.URL, p.DeclaredIn)
	}
	rest, ok := strings.CutPrefix(arn, "arn:aws:iam::"+m.Account()+":oidc-provider/")
	if !ok || rest == "" {
		return errProviderCannotBeFound(arn)
	}
	err := m.update(ctx, func(tx store.Tx) error {
		err := tx.DeleteIAMRecord(ctx, kindProvider, rest)
		if errors.Is(err, store.ErrNotFound) {
			return errProviderCannotBeFound(arn)
		}
		return err
	})
	if err == nil {
		m.providersChanged(ctx)
	}
	return err
}

// AddClientID adds an audience to a provider (adding one it has is a
// no-op, as on IAM).
func (m *Manager) AddClientID(ctx context.Context, arn, clientID string) error {
	if err := validateOIDCLists([]string{clientID}, nil); err != nil {
		return err
	}
	return m.modifyProvider(ctx, arn, func(p *OIDCProvider) error {
		if slices.Contains(p.ClientIDs, clientID) {
			return nil
		}
		if len(p.ClientIDs) >= MaxClientIDs {
			return errQuota("ClientIdsPerOpenIdConnectProvider", MaxClientIDs)
		}
		p.ClientIDs = append(p.ClientIDs, clientID)
		return nil
	})
}

// RemoveClientID removes an audience (removing one it lacks is a no-op).
func (m *Manager) RemoveClientID(ctx context.Context, arn, clientID string) error {
	if err := validateOIDCLists([]string{clientID}, nil); err != nil {
		return err
	}
	return m.modifyProvider(ctx, arn, func(p *OIDCProvider) error {
		p.ClientIDs = slices.DeleteFunc(p.ClientIDs, func(c string) bool { return c == clientID })
		return nil
	})
}

// UpdateThumbprints replaces a provider's thumbprint list.
func (m *Manager) UpdateThumbprints(ctx context.Context, arn string, thumbprints []string) error {
	if err := validateOIDCLists(nil, thumbprints); err != nil {
		return err
	}
	return m.modifyProvider(ctx, arn, func(p *OIDCProvider) error {
		p.Thumbprints = thumbprints
		return nil
	})
}

// TagOIDCProvider adds or replaces tags.
func (m *Manager) TagOIDCProvider(ctx context.Context, arn string, tags []Tag) error {
	var v validation
	v.tags(tags)
	if err := v.err(); err != nil {
		return err
	}
	return m.modifyProvider(ctx, arn, func(p *OIDCProvider) error {
		p.Tags = mergeTags(p.Tags, tags)
		return checkTagCount(p.Tags)
	})
}

// UntagOIDCProvider removes tags by key.
func (m *Manager) UntagOIDCProvider(ctx context.Context, arn string, keys []string) error {
	return m.modifyProvider(ctx, arn, func(p *OIDCProvider) error {
		p.Tags = removeTags(p.Tags, keys)
		return nil
	})
}

// Roles.

// RoleInput is CreateRole's parameters.
type RoleInput struct {
	Name, Path, TrustPolicy, Description string
	MaxSessionDuration                   int // seconds; 0 = default
	Tags                                 []Tag
}

func validateMaxSession(v *validation, s int) {
	if s < 3600 || s > 43200 {
		v.add("Value '%d' at 'maxSessionDuration' failed to satisfy constraint: Member must have value between 3600 and 43200", s)
	}
}

func validateDescription(v *validation, d string) {
	if utf8.RuneCountInString(d) > 1000 {
		v.add("Value '%s' at 'description' failed to satisfy constraint: Member must have length less than or equal to 1000", d)
	}
}

// CreateRole creates a role.
func (m *Manager) CreateRole(ctx context.Context, in RoleInput) (*Role, error) {
	var v validation
	v.name("roleName", in.Name, 64)
	if in.Path == "" {
		in.Path = "/"
	}
	v.path(in.Path)
	if in.TrustPolicy == "" {
		v.add("Value null at 'assumeRolePolicyDocument' failed to satisfy constraint: Member must not be null")
	}
	validateDescription(&v, in.Description)
	if in.MaxSessionDuration == 0 {
		in.MaxSessionDuration = DefaultSessionSeconds
	}
	validateMaxSession(&v, in.MaxSessionDuration)
	v.tags(in.Tags)
	if err := v.err(); err != nil {
		return nil, err
	}
	if err := checkPolicy(in.TrustPolicy, policy.TrustPolicy, policy.MaxTrustPolicySize, "ACLSizePerRole"); err != nil {
		return nil, err
	}
	key := strings.ToLower(in.Name)
	exists := ierr(CodeEntityAlreadyExists, "Role with name %s already exists.", in.Name)
	if _, err := m.opts.Static.RoleByName(ctx, in.Name); err == nil {
		return nil, exists
	}
	r := &Role{
		ARN: RoleARN(m.Account(), in.Path, in.Name), Name: in.Name, Path: in.Path,
		ID: newID("AROA"), Description: in.Description, TrustPolicy: in.TrustPolicy,
		MaxSessionDuration: time.Duration(in.MaxSessionDuration) * time.Second, Tags: in.Tags, CreateDate: m.now(),
	}
	err := m.update(ctx, func(tx store.Tx) error {
		err := put(ctx, tx, kindRole, key, r, true)
		if errors.Is(err, store.ErrAlreadyExists) {
			return exists
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return r, nil
}

// modifyRole runs fn on a stored role inside a transaction; fn may also
// touch other records through tx.
func (m *Manager) modifyRole(ctx context.Context, name string, fn func(tx store.Tx, r *Role) error) error {
	if r, err := m.opts.Static.RoleByName(ctx, name); err == nil {
		return errReadOnly("role", r.Name, r.DeclaredIn)
	}
	if name == "" {
		return errNoSuchRole(name)
	}
	key := strings.ToLower(name)
	return m.update(ctx, func(tx store.Tx) error {
		r, err := get[Role](ctx, tx, kindRole, key)
		if errors.Is(err, store.ErrNotFound) {
			return errNoSuchRole(name)
		}
		if err != nil {
			return err
		}
		if err := fn(tx, r); err != nil {
			return err
		}
		return put(ctx, tx, kindRole, key, r, false)
	})
}

// UpdateRole changes a role's description and/or maximum session duration.
func (m *Manager) UpdateRole(ctx context.Context, name string, description *string, maxSession *int) error {
	var v validation
	if description != nil {
		validateDescription(&v, *description)
	}
	if maxSession != nil {
		validateMaxSession(&v, *maxSession)
	}
	if err := v.err(); err != nil {
		return err
	}
	return m.modifyRole(ctx, name, func(_ store.Tx, r *Role) error {
		if description != nil {
			r.Description = *description
		}
		if maxSession != nil {
			r.MaxSessionDuration = time.Duration(*maxSession) * time.Second
		}
		return nil
	})
}

// UpdateAssumeRolePolicy replaces a role's trust policy.
func (m *Manager) UpdateAssumeRolePolicy(ctx context.Context, name, doc string) error {
	if err := checkPolicy(doc, policy.TrustPolicy, policy.MaxTrustPolicySize, "ACLSizePerRole"); err != nil {
		return err
	}
	return m.modifyRole(ctx, name, func(_ store.Tx, r *Role) error {
		r.TrustPolicy = doc
		return nil
	})
}

// DeleteRole deletes a role that has no policies left.
func (m *Manager) DeleteRole(ctx context.Context, name string) error {
	if r, err := m.opts.Static.RoleByName(ctx, name); err == nil {
		return errReadOnly("role", r.Name, r.DeclaredIn)
	}
	key := strings.ToLower(name)
	return m.update(ctx, func(tx store.Tx) error {
		r, err := get[Role](ctx, tx, kindRole, key)
		if errors.Is(err, store.ErrNotFound) {
			return errNoSuchRole(name)
		}
		if err != nil {
			return err
		}
		if len(r.InlinePolicies) > 0 {
			return ierr(CodeDeleteConflict, "Cannot delete entity, must delete policies first.")
		}
		if len(r.ManagedPolicyARNs) > 0 {
			return ierr(CodeDeleteConflict, "Cannot delete entity, must detach all policies first.")
		}
		return tx.DeleteIAMRecord(ctx, kindRole, key)
	})
}

// putInline adds or replaces an inline policy, keeping the aggregate
// under the entity's quota.
func putInline(list []NamedPolicy, name, doc string, entity, entityName string, limit int) ([]NamedPolicy, error) {
	out := slices.Clone(list)
	if i := slices.IndexFunc(out, func(p NamedPolicy) bool { return p.Name == name }); i >= 0 {
		out[i].Document = doc
	} else {
		out = append(out, NamedPolicy{Name: name, Document: doc})
	}
	total := 0
	for _, p := range out {
		total += policy.Size([]byte(p.Document))
	}
	if total > limit {
		return nil, ierr(CodeLimitExceeded, "Maximum policy size of %d bytes exceeded for %s %s", limit, entity, entityName)
	}
	return out, nil
}

func validateInline(entityMember, entityName, policyName, doc string, entityLen int) error {
	var v validation
	v.name(entityMember, entityName, entityLen)
	v.name("policyName", policyName, 128)
	if doc == "" {
		v.add("Value null at 'policyDocument' failed to satisfy constraint: Member must not be null")
	}
	if err := v.err(); err != nil {
		return err
	}
	return checkPolicy(doc, policy.IdentityPolicy, policy.MaxDocumentChars, "PolicySize")
}

func editAttachments(ctx context.Context, tx store.Tx, arn string, fn func(a *Attachments)) error {
	a, err := get[Attachments](ctx, tx, kindAttachments, arn)
	create := errors.Is(err, store.ErrNotFound)
	if create {
		a, err = &Attachments{}, nil
	}
	if err != nil {
		return err
	}
	fn(a)
	sort.Strings(a.Roles)
	sort.Strings(a.Users)
	if len(a.Roles)+len(a.Users) == 0 {
		if create {
			return nil
		}
		return tx.DeleteIAMRecord(ctx, kindAttachments, arn)
	}
	return put(ctx, tx, kindAttachments, arn, a, create)
}

// policyExists checks an attachable policy ARN inside a transaction.
func (m *Manager) policyExists(ctx context.Context, tx store.Tx, arn string) error {
	if _, ok := AWSManagedPolicyByARN(arn); ok {
		return nil
	}
	notFound := ierr(CodeNoSuchEntity, "Policy %s does not exist or is not attachable.", arn)
	if !ValidARN(arn) {
		return ierr(CodeValidationError, "ARN %s is not valid.", arn)
	}
	name, ok := m.customerPolicyName(arn)
	if !ok {
		return notFound
	}
	p, err := get[ManagedPolicy](ctx, tx, kindPolicy, strings.ToLower(name))
	if errors.Is(err, store.ErrNotFound) || (err == nil && p.ARN != arn) {
		return notFound
	}
	return err
}

// Managed policies.

// CreatePolicy creates a customer managed policy (version v1, default).
func (m *Manager) CreatePolicy(ctx context.Context, name, path, doc, description string, tags []Tag) (*ManagedPolicy, error) {
	var v validation
	v.name("policyName", name, 128)
	if path == "" {
		path = "/"
	}
	v.path(path)
	if doc == "" {
		v.add("Value null at 'policyDocument' failed to satisfy constraint: Member must not be null")
	}
	validateDescription(&v, description)
	v.tags(tags)
	if err := v.err(); err != nil {
		return nil, err
	}
	if err := checkPolicy(doc, policy.IdentityPolicy, policy.MaxManagedPolicySize, "PolicySize"); err != nil {
		return nil, err
	}
	now := m.now()
	p := &ManagedPolicy{
		ARN: "arn:aws:iam::" + m.Account() + ":policy" + path + name, ID: newID("ANPA"), Name: name, Path: path,
		Description: description, DefaultVersionID: "v1", Tags: tags, CreateDate: now, UpdateDate: now,
		Versions: []PolicyVersion{{VersionID: "v1", Document: doc, CreateDate: now}},
	}
	err := m.update(ctx, func(tx store.Tx) error {
		err := put(ctx, tx, kindPolicy, strings.ToLower(name), p, true)
		if errors.Is(err, store.ErrAlreadyExists) {
			return ierr(CodeEntityAlreadyExists, "A policy called %s already exists. Duplicate names are not allowed.", name)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

// modifyPolicy runs fn on a stored customer managed policy.
func (m *Manager) modifyPolicy(ctx context.Context, arn string, fn func(tx store.Tx, p *ManagedPolicy) error) error {
	if _, ok := AWSManagedPolicyByARN(arn); ok {
		return ierr(CodeUnmodifiableEntity, "Cannot modify an AWS managed policy: %s", arn)
	}
	name, ok := m.customerPolicyName(arn)
	if !ok {
		return errNoSuchPolicy(arn)
	}
	key := strings.ToLower(name)
	return m.update(ctx, func(tx store.Tx) error {
		p, err := get[ManagedPolicy](ctx, tx, kindPolicy, key)
		if errors.Is(err, store.ErrNotFound) || (err == nil && p.ARN != arn) {
			return errNoSuchPolicy(arn)
		}
		if err != nil {
			return err
		}
		if err := fn(tx, p); err != nil {
			return err
		}
		if p.ARN == "" { // deleted by fn
			return tx.DeleteIAMRecord(ctx, kindPolicy, key)
		}
		return put(ctx, tx, kindPolicy, key, p, false)
	})
}

// DeletePolicy deletes a customer managed policy that is attached nowhere
// and has only its default version left.
func (m *Manager) DeletePolicy(ctx context.Context, arn string) error {
	return m.modifyPolicy(ctx, arn, func(tx store.Tx, p *ManagedPolicy) error {
		if _, err := tx.GetIAMRecord(ctx, kindAttachments, arn); err == nil {
			return ierr(CodeDeleteConflict, "Cannot delete a policy attached to entities.")
		}
		for _, r := range m.opts.Static.roles {
			if slices.Contains(r.ManagedPolicyARNs, arn) {
				return ierr(CodeDeleteConflict, "Cannot delete a policy attached to entities.")
			}
		}
		if len(p.Versions) > 1 {
			return ierr(CodeDeleteConflict, "This policy has more than one version. Before you delete a policy, you must delete the policy's versions. The default version is deleted with the policy.")
		}
		p.ARN = ""
		return nil
	})
}

// CreatePolicyVersion adds a version (at most five), optionally making it
// the default.
func (m *Manager) CreatePolicyVersion(ctx context.Context, arn, doc string, setDefault bool) (*PolicyVersion, error) {
	if doc == "" {
		return nil, ierr(CodeValidationError, "1 validation error detected: Value null at 'policyDocument' failed to satisfy constraint: Member must not be null")
	}
	if err := checkPolicy(doc, policy.IdentityPolicy, policy.MaxManagedPolicySize, "PolicySize"); err != nil {
		return nil, err
	}
	var out PolicyVersion
	err := m.modifyPolicy(ctx, arn, func(_ store.Tx, p *ManagedPolicy) error {
		if len(p.Versions) >= MaxPolicyVersions {
			return ierr(CodeLimitExceeded, "A managed policy can have up to %d versions. Before you create a new version, you must delete an existing version.", MaxPolicyVersions)
		}
		// Version ids are never reused, even after the newest is deleted.
		highest := p.LastVersion
		for _, v := range p.Versions {
			if n, err := strconv.Atoi(strings.TrimPrefix(v.VersionID, "v")); err == nil && n > highest {
				highest = n
			}
		}
		out = PolicyVersion{VersionID: "v" + strconv.Itoa(highest+1), Document: doc, CreateDate: m.now()}
		p.LastVersion = highest + 1
		p.Versions = append(p.Versions, out)
		if setDefault {
			p.DefaultVersionID = out.VersionID
			p.UpdateDate = out.CreateDate
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

func validateVersionID(id string) error {
	if id == "" {
		return ierr(CodeValidationError, "1 validation error detected: Value null at 'versionId' failed to satisfy constraint: Member must not be null")
	}
	if !versionIDRE.MatchString(id) {
		return ierr(CodeValidationError, "1 validation error detected: Value '%s' at 'versionId' failed to satisfy constraint: Member must satisfy regular expression pattern: v[1-9][0-9]*(\\.[A-Za-z0-9-]*)?", id)
	}
	return nil
}

func noSuchVersion(arn, id string) error {
	return ierr(CodeNoSuchEntity, "Policy %s version %s does not exist or is not attachable.", arn, id)
}

// SetDefaultPolicyVersion makes a version the default.
func (m *Manager) SetDefaultPolicyVersion(ctx context.Context, arn, id string) error {
	if err := validateVersionID(id); err != nil {
		return err
	}
	return m.modifyPolicy(ctx, arn, func(_ store.Tx, p *ManagedPolicy) error {
		if !slices.ContainsFunc(p.Versions, func(v PolicyVersion) bool { return v.VersionID == id }) {
			return noSuchVersion(arn, id)
		}
		p.DefaultVersionID = id
		p.UpdateDate = m.now()
		return nil
	})
}

// DeletePolicyVersion deletes a non-default version.
func (m *Manager) DeletePolicyVersion(ctx context.Context, arn, id string) error {
	if err := validateVersionID(id); err != nil {
		return err
	}
	return m.modifyPolicy(ctx, arn, func(_ store.Tx, p *ManagedPolicy) error {
		i := slices.IndexFunc(p.Versions, func(v PolicyVersion) bool { return v.VersionID == id })
		if i < 0 {
			return noSuchVersion(arn, id)
		}
		if p.DefaultVersionID == id {
			return ierr(CodeDeleteConflict, "Cannot delete the default version of a policy.")
		}
		p.Versions = slices.Delete(p.Versions, i, i+1)
		return nil
	})
}

// PolicyVersionByID returns one version of a policy.
func (m *Manager) PolicyVersionByID(ctx context.Context, arn, id string) (*ManagedPolicy, *PolicyVersion, error) {
	if err := validateVersionID(id); err != nil {
		return nil, nil, err
	}
	p, err := m.PolicyByARN(ctx, arn)
	if err != nil {
		return nil, nil, errNoSuchPolicy(arn)
	}
	for i := range p.Versions {
		if p.Versions[i].VersionID == id {
			return p, &p.Versions[i], nil
		}
	}
	return nil, nil, noSuchVersion(arn, id)
}

// Users.

// CreateUser creates an IAM user.
func (m *Manager) CreateUser(ctx context.Context, name, path string, tags []Tag) (*User, error) {
	var v validation
	v.name("userName", name, 64)
	if path == "" {
		path = "/"
	}
	v.path(path)
	v.tags(tags)
	if err := v.err(); err != nil {
		return nil, err
	}
	u := &User{ARN: "arn:aws:iam::" + m.Account() + ":user" + path + name, ID: newID("AIDA"), Name: name, Path: path, Tags: tags, CreateDate: m.now()}
	err := m.update(ctx, func(tx store.Tx) error {
		err := put(ctx, tx, kindUser, strings.ToLower(name), u, true)
		if errors.Is(err, store.ErrAlreadyExists) {
			return ierr(CodeEntityAlreadyExists, "User with name %s already exists.", name)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return u, nil
}

func (m *Manager) modifyUser(ctx context.Context, name string, fn func(tx store.Tx, u *User) error) error {
	if name == "" {
		return errNoSuchUser(name)
	}
	key := strings.ToLower(name)
	return m.update(ctx, func(tx store.Tx) error {
		u, err := get[User](ctx, tx, kindUser, key)
		if errors.Is(err, store.ErrNotFound) {
			return errNoSuchUser(name)
		}
		if err != nil {
			return err
		}
		if err := fn(tx, u); err != nil {
			return err
		}
		if u.ARN == "" {
			return tx.DeleteIAMRecord(ctx, kindUser, key)
		}
		return put(ctx, tx, kindUser, key, u, false)
	})
}

// DeleteUser deletes a user with no access keys or policies left.
func (m *Manager) DeleteUser(ctx context.Context, name string) error {
	return m.modifyUser(ctx, name, func(tx store.Tx, u *User) error {
		keys, err := tx.ListAccessKeys(ctx, u.Name)
		if err != nil {
			return err
		}
		switch {
		case len(keys) > 0:
			return ierr(CodeDeleteConflict, "Cannot delete entity, must delete access keys first.")
		case len(u.InlinePolicies) > 0:
			return ierr(CodeDeleteConflict, "Cannot delete entity, must delete policies first.")
		case len(u.ManagedPolicyARNs) > 0:
			return ierr(CodeDeleteConflict, "Cannot delete entity, must detach all policies first.")
		}
		u.ARN = ""
		return nil
	})
}

// CreateAccessKey issues a long-term key for a user (at most two). The
// secret is returned once and stored sealed.
func (m *Manager) CreateAccessKey(ctx context.Context, userName string) (store.AccessKey, string, error) {
	id, secret, err := NewAccessKey()
	if err != nil {
		return store.AccessKey{}, "", err
	}
	sealed, err := m.opts.Seal([]byte(secret), store.AccessKeyAAD(id))
	if err != nil {
		return store.AccessKey{}, "", err
	}
	k := store.AccessKey{ID: id, SealedSecret: sealed, Status: "Active", CreatedAt: m.now()}
	err = m.modifyUser(ctx, userName, func(tx store.Tx, u *User) error {
		keys, err := tx.ListAccessKeys(ctx, u.Name)
		if err != nil {
			return err
		}
		if len(keys) >= MaxAccessKeysPerUser {
			return errQuota("AccessKeysPerUser", MaxAccessKeysPerUser)
		}
		k.UserName = u.Name
		return tx.CreateAccessKey(ctx, &k)
	})
	if err != nil {
		return store.AccessKey{}, "", err
	}
	k.SealedSecret = nil
	return k, secret, nil
}

func (m *Manager) userAccessKey(ctx context.Context, tx store.Tx, u *User, id string) error {
	k, err := tx.GetAccessKey(ctx, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && k.UserName != u.Name) {
		return ierr(CodeNoSuchEntity, "The Access Key with id %s cannot be found.", id)
	}
	return err
}

// UpdateAccessKey makes a user's key Active or Inactive.
func (m *Manager) UpdateAccessKey(ctx context.Context, userName, id, status string) error {
	if status != "Active" && status != "Inactive" {
		return ierr(CodeValidationError, "1 validation error detected: Value '%s' at 'status' failed to satisfy constraint: Member must satisfy enum value set: [Active, Inactive]", status)
	}
	return m.modifyUser(ctx, userName, func(tx store.Tx, u *User) error {
		if err := m.userAccessKey(ctx, tx, u, id); err != nil {
			return err
		}
		return tx.SetAccessKeyStatus(ctx, id, status)
	})
}

// DeleteAccessKey deletes a user's key.
func (m *Manager) DeleteAccessKey(ctx context.Context, userName, id string) error {
	return m.modifyUser(ctx, userName, func(tx store.Tx, u *User) error {
		if err := m.userAccessKey(ctx, tx, u, id); err != nil {
			return err
		}
		return tx.DeleteAccessKey(ctx, id)
	})
}

// newID is a random IAM unique id: prefix + 17 characters.
func newID(prefix string) string {
	id, _, err := NewAccessKey()
	if err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return prefix + id[4:] + string(idAlphabet.EncodeToString([]byte(id))[0])
}

// ValidARN reports whether s has an ARN's shape: arn:partition:service:
// region:account:resource with a known partition and a service.
func ValidARN(s string) bool {
	parts := strings.SplitN(s, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[2] == "" || parts[5] == "" {
		return false
	}
	switch parts[1] {
	case "aws", "aws-cn", "aws-us-gov":
		return true
	}
	return false
}
