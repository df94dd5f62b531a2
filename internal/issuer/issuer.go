// Package issuer is oidcfed's OIDC provider for CI jobs: it mints ID tokens
// shaped like GitLab's `id_tokens`, publishes the discovery document and the
// JWKS, manages the signing-key rotation schedule, and authenticates the
// runners allowed to ask for tokens.
package issuer

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/cryptosigner"

	"github.com/oidcfed/oidcfed/internal/keys"
	"github.com/oidcfed/oidcfed/internal/store"
)

// Config is the issuer's typed configuration (the config package converts
// the file schema into it).
type Config struct {
	// URL is the issuer identifier (`iss`): scheme, host and an optional
	// path prefix, no trailing slash.
	URL string
	// Algorithm is RS256 (GitLab's) or ES256.
	Algorithm string
	// DefaultTTL is exp - iat when a request names no ttl (a job timeout).
	DefaultTTL time.Duration
	// MaxLifetime caps exp - iat; it also bounds how long a retired key
	// stays published.
	MaxLifetime time.Duration
	// JWKSMaxAge is the JWKS Cache-Control max-age and how long a new key
	// is published before it signs.
	JWKSMaxAge time.Duration
	// RotationPeriod is how long a key signs before the schedule starts
	// its successor; 0 turns automatic rotation off.
	RotationPeriod time.Duration
	// SubClaimComponents builds `sub` (default project_path, ref_type, ref).
	SubClaimComponents []string
	// ReloadInterval is how often the key schedule is re-read from the
	// store and maintained; it must be well under JWKSMaxAge so every
	// replica learns of a new key before it activates. Default: the
	// smaller of 30 s and JWKSMaxAge/4.
	ReloadInterval time.Duration
}

// Defaults are the values a zero Config field takes.
var Defaults = Config{
	Algorithm:          keys.RS256,
	DefaultTTL:         5 * time.Minute,
	MaxLifetime:        2 * time.Hour,
	JWKSMaxAge:         time.Hour,
	RotationPeriod:     30 * 24 * time.Hour,
	SubClaimComponents: []string{"project_path", "ref_type", "ref"},
}

func (c *Config) applyDefaults() {
	if c.Algorithm == "" {
		c.Algorithm = Defaults.Algorithm
	}
	if c.DefaultTTL == 0 {
		c.DefaultTTL = Defaults.DefaultTTL
	}
	if c.MaxLifetime == 0 {
		c.MaxLifetime = Defaults.MaxLifetime
	}
	if c.JWKSMaxAge == 0 {
		c.JWKSMaxAge = Defaults.JWKSMaxAge
	}
	if len(c.SubClaimComponents) == 0 {
		c.SubClaimComponents = Defaults.SubClaimComponents
	}
	if c.ReloadInterval == 0 {
		c.ReloadInterval = min(30*time.Second, c.JWKSMaxAge/4)
	}
}

func (c *Config) validate() error {
	if c.URL == "" || strings.HasSuffix(c.URL, "/") || !strings.Contains(c.URL, "://") {
		return fmt.Errorf("issuer URL %q must be an absolute URL without a trailing slash", c.URL)
	}
	if c.Algorithm != keys.RS256 && c.Algorithm != keys.ES256 {
		return fmt.Errorf("issuer algorithm %q: want RS256 or ES256", c.Algorithm)
	}
	if c.DefaultTTL > c.MaxLifetime {
		return fmt.Errorf("default token ttl %s exceeds max token lifetime %s", c.DefaultTTL, c.MaxLifetime)
	}
	if c.RotationPeriod != 0 && c.RotationPeriod <= c.JWKSMaxAge {
		return fmt.Errorf("rotation period %s must exceed the JWKS max-age %s", c.RotationPeriod, c.JWKSMaxAge)
	}
	return ValidateSubComponents("sub_claim_components", c.SubClaimComponents)
}

// Issuer mints tokens and serves the issuer's public documents.
type Issuer struct {
	cfg    Config
	store  store.Store
	sealer *keys.Sealer
	now    func() time.Time
	log    *slog.Logger

	state    atomic.Pointer[keyState]
	reloadMu sync.Mutex // one reload at a time; readers never wait on it
	metrics  *Metrics
}

// keyState is an immutable snapshot of the schedule with ready signers.
type keyState struct {
	keys    []store.SigningKey // sorted
	signers map[string]jose.Signer
}

// New builds an issuer. now is the clock (time.Now in production, a fake in
// tests). Call Start (or at least Bootstrap) before minting.
func New(cfg Config, st store.Store, sealer *keys.Sealer, now func() time.Time, log *slog.Logger, m *Metrics) (*Issuer, error) {
	cfg.applyDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	i := &Issuer{cfg: cfg, store: st, sealer: sealer, now: now, log: log, metrics: m}
	i.state.Store(&keyState{})
	return i, nil
}

// Config returns the effective configuration (defaults applied).
func (i *Issuer) Config() Config { return i.cfg }

// Start makes sure a signing key exists, loads the schedule and keeps it
// fresh (reload, automatic rotation, removal of expired keys) until ctx ends.
func (i *Issuer) Start(ctx context.Context) error {
	if err := i.Maintain(ctx); err != nil {
		return err
	}
	go func() {
		t := time.NewTicker(i.cfg.ReloadInterval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if err := i.Maintain(ctx); err != nil && ctx.Err() == nil {
					i.log.Error("issuer key maintenance failed", "err", err)
				}
			}
		}
	}()
	return nil
}

// Maintain bootstraps the first key, rotates when the schedule says so,
// deletes keys whose tokens have all expired, and reloads the schedule. It
// is what every replica runs periodically. One read decides; a write
// transaction is opened only when something is due, and each decision is
// re-checked inside it, so concurrent runs on several replicas rotate once.
func (i *Issuer) Maintain(ctx context.Context) error {
	ks, err := i.listKeys(ctx)
	if err != nil {
		return err
	}
	changed := false
	now := i.now()
	switch {
	case len(ks) == 0:
		if err := i.bootstrap(ctx); err != nil {
			return err
		}
		changed = true
	case i.cfg.RotationPeriod > 0 && i.rotationDue(ks, now, true) == nil:
		if _, err := i.rotate(ctx, true); err != nil && !errors.Is(err, errNotDue) {
			return err
		}
		changed = true
	}
	if slices.ContainsFunc(ks, func(k store.SigningKey) bool { return k.ExpireAt != nil && !now.Before(*k.ExpireAt) }) {
		if err := i.collectExpired(ctx); err != nil {
			return err
		}
		changed = true
	}
	if changed {
		if ks, err = i.listKeys(ctx); err != nil {
			return err
		}
	}
	return i.load(ks)
}

func (i *Issuer) listKeys(ctx context.Context) ([]store.SigningKey, error) {
	var ks []store.SigningKey
	err := i.store.View(ctx, func(tx store.Tx) (err error) {
		ks, err = tx.ListSigningKeys(ctx, i.cfg.URL)
		return err
	})
	return ks, err
}

var (
	// ErrRotationInProgress: a rotation was asked for while the next key is
	// still waiting to activate.
	ErrRotationInProgress = errors.New("a rotation is already in progress")
	errNotDue             = errors.New("rotation not due")
)

// bootstrap creates the issuer's first key, active at once (no verifier
// can have cached a JWKS yet).
func (i *Issuer) bootstrap(ctx context.Context) error {
	now := i.now().UTC()
	rec, err := i.newKeyRecord(now, now)
	if err != nil {
		return err
	}
	created := false
	err = i.store.Update(ctx, func(tx store.Tx) error {
		ks, err := tx.ListSigningKeys(ctx, i.cfg.URL)
		if err != nil || len(ks) > 0 {
			return err // another replica got there first
		}
		k := *rec
		created = true
		return tx.CreateSigningKey(ctx, &k)
	})
	if err == nil && created {
		i.log.Info("issuer signing key created", "kid", rec.KID, "alg", rec.Algorithm)
	}
	return err
}

// Rotation is the outcome of a rotation: the new key and when it signs.
type Rotation struct {
	KID        string
	ActivateAt time.Time
	// Retired is the key the new one replaces, and when it stops being
	// published.
	RetiredKID      string
	RetiredExpireAt time.Time
}

// Rotate starts a rotation now: a new key is published at once and signs
// from now + JWKSMaxAge; the current key signs until then and stays
// published until the last token it can have signed has expired.
func (i *Issuer) Rotate(ctx context.Context) (*Rotation, error) {
	return i.rotate(ctx, false)
}

// rotationDue says whether a rotation may start now: never while the head
// of the schedule is still pending, and for automatic rotation only once
// the head has signed for a whole rotation period.
func (i *Issuer) rotationDue(ks []store.SigningKey, now time.Time, automatic bool) error {
	head := newest(ks)
	switch {
	case head < 0:
		return fmt.Errorf("issuer has no signing key yet")
	case ks[head].ActivateAt.After(now):
		if automatic {
			return errNotDue
		}
		return fmt.Errorf("%w: key %s activates at %s", ErrRotationInProgress, ks[head].KID, ks[head].ActivateAt.Format(time.RFC3339))
	case automatic && now.Before(ks[head].ActivateAt.Add(i.cfg.RotationPeriod)):
		return errNotDue
	}
	return nil
}

func (i *Issuer) rotate(ctx context.Context, automatic bool) (*Rotation, error) {
	now := i.now().UTC()
	ks, err := i.listKeys(ctx)
	if err != nil {
		return nil, err
	}
	// Checked before generating a key: RSA generation is slow.
	if err := i.rotationDue(ks, now, automatic); err != nil {
		return nil, err
	}
	activate := now.Add(i.cfg.JWKSMaxAge)
	rec, err := i.newKeyRecord(now, activate)
	if err != nil {
		return nil, err
	}
	var out *Rotation
	err = i.store.Update(ctx, func(tx store.Tx) error {
		ks, err := tx.ListSigningKeys(ctx, i.cfg.URL)
		if err != nil {
			return err
		}
		if err := i.rotationDue(ks, now, automatic); err != nil {
			return err // decided differently by another replica meanwhile
		}
		head := ks[newest(ks)]
		expire := activate.Add(i.cfg.MaxLifetime)
		if err := tx.UpdateSigningKeySchedule(ctx, i.cfg.URL, head.KID, &activate, &expire); err != nil {
			return err
		}
		k := *rec
		if err := tx.CreateSigningKey(ctx, &k); err != nil {
			return err
		}
		out = &Rotation{KID: rec.KID, ActivateAt: activate, RetiredKID: head.KID, RetiredExpireAt: expire}
		return nil
	})
	if err != nil {
		return nil, err
	}
	i.log.Info("issuer key rotation started", "new_kid", out.KID, "activate_at", out.ActivateAt,
		"retiring_kid", out.RetiredKID, "unpublish_at", out.RetiredExpireAt)
	return out, i.Reload(ctx)
}

// newKeyRecord generates a key and seals it. Done outside any transaction:
// RSA generation takes long and a retried transaction must not redo it.
func (i *Issuer) newKeyRecord(created, activate time.Time) (*store.SigningKey, error) {
	signer, err := keys.GenerateSigningKey(i.cfg.Algorithm)
	if err != nil {
		return nil, err
	}
	jwk, kid, err := keys.PublicJWK(signer.Public(), i.cfg.Algorithm)
	if err != nil {
		return nil, err
	}
	der, err := keys.MarshalPrivateKey(signer)
	if err != nil {
		return nil, err
	}
	defer clear(der)
	sealed, err := i.sealer.Seal(der, store.SigningKeyAAD(i.cfg.URL, kid))
	if err != nil {
		return nil, err
	}
	return &store.SigningKey{
		Issuer: i.cfg.URL, KID: kid, Algorithm: i.cfg.Algorithm, PublicJWK: jwk,
		SealedPrivateKey: sealed, CreatedAt: created, ActivateAt: activate,
	}, nil
}

// collectExpired deletes keys that are no longer published: every token
// they signed has expired, so their private halves are only a liability.
func (i *Issuer) collectExpired(ctx context.Context) error {
	now := i.now()
	return i.store.Update(ctx, func(tx store.Tx) error {
		ks, err := tx.ListSigningKeys(ctx, i.cfg.URL)
		if err != nil {
			return err
		}
		for _, k := range ks {
			if k.ExpireAt != nil && !now.Before(*k.ExpireAt) {
				if err := tx.DeleteSigningKey(ctx, i.cfg.URL, k.KID); err != nil {
					return err
				}
				i.log.Info("issuer signing key unpublished and deleted", "kid", k.KID)
			}
		}
		return nil
	})
}

// Reload re-reads the schedule and prepares signers for every key that can
// still sign. Keys already loaded keep their signer (no re-unsealing).
func (i *Issuer) Reload(ctx context.Context) error {
	ks, err := i.listKeys(ctx)
	if err != nil {
		return err
	}
	return i.load(ks)
}

func (i *Issuer) load(ks []store.SigningKey) error {
	i.reloadMu.Lock()
	defer i.reloadMu.Unlock()
	sortKeys(ks)
	old := i.state.Load()
	now := i.now()
	next := &keyState{keys: ks, signers: make(map[string]jose.Signer, 2)}
	for _, k := range ks {
		if k.RetireAt != nil && !now.Before(*k.RetireAt) {
			continue // will never sign again
		}
		if s, ok := old.signers[k.KID]; ok {
			next.signers[k.KID] = s
			continue
		}
		s, err := i.loadSigner(&k)
		if err != nil {
			return fmt.Errorf("load signing key %s: %w", k.KID, err)
		}
		next.signers[k.KID] = s
	}
	i.state.Store(next)
	return nil
}

func (i *Issuer) loadSigner(k *store.SigningKey) (jose.Signer, error) {
	der, err := i.sealer.Open(k.SealedPrivateKey, store.SigningKeyAAD(k.Issuer, k.KID))
	if err != nil {
		return nil, err
	}
	defer clear(der)
	priv, err := keys.ParsePrivateKey(der, k.Algorithm)
	if err != nil {
		return nil, err
	}
	opts := (&jose.SignerOptions{}).WithType("JWT").WithHeader(jose.HeaderKey("kid"), k.KID)
	return jose.NewSigner(jose.SigningKey{
		Algorithm: jose.SignatureAlgorithm(k.Algorithm),
		Key:       cryptosigner.Opaque(priv),
	}, opts)
}

// ErrNoSigningKey means the schedule has no key able to sign now (the
// issuer was not started, or its store is unreachable and the last known
// schedule has run out).
var ErrNoSigningKey = errors.New("issuer has no signing key for the current time")

// Mint issues a token for an authenticated runner.
func (i *Issuer) Mint(runner *store.Runner, req *MintRequest) (string, *Claims, error) {
	start := time.Now()
	token, claims, err := i.mint(runner, req)
	if i.metrics != nil {
		i.metrics.observeMint(start, err)
	}
	return token, claims, err
}

func (i *Issuer) mint(runner *store.Runner, req *MintRequest) (string, *Claims, error) {
	if err := req.validate(); err != nil {
		return "", nil, err
	}
	ttl := i.cfg.DefaultTTL
	if req.TTLSeconds != nil {
		if max := int64(i.cfg.MaxLifetime / time.Second); *req.TTLSeconds > max {
			return "", nil, &FieldError{Field: "ttl_seconds", Message: fmt.Sprintf("must be at most %d (the issuer's max_token_lifetime)", max)}
		}
		ttl = time.Duration(*req.TTLSeconds) * time.Second
	}
	subComponents := i.cfg.SubClaimComponents
	if req.SubClaimComponents != nil {
		subComponents = req.SubClaimComponents
	}
	now := i.now()
	claims, err := buildClaims(req, i.cfg.URL, runner.ID, subComponents, now, ttl)
	if err != nil {
		return "", nil, err
	}
	if err := checkConstraints(claims, runner.Constraints); err != nil {
		return "", nil, err
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", nil, err
	}
	st := i.state.Load()
	idx := signingIndex(st.keys, now)
	if idx < 0 {
		return "", nil, ErrNoSigningKey
	}
	signer := st.signers[st.keys[idx].KID]
	if signer == nil {
		return "", nil, ErrNoSigningKey
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		return "", nil, fmt.Errorf("sign token: %w", err)
	}
	token, err := jws.CompactSerialize()
	return token, claims, err
}

// JWKS renders the key set published at the issuer's current time.
func (i *Issuer) JWKS() []byte {
	st := i.state.Load()
	return renderJWKS(st.keys, i.now())
}

func renderJWKS(ks []store.SigningKey, now time.Time) []byte {
	set := struct {
		Keys []json.RawMessage `json:"keys"`
	}{Keys: []json.RawMessage{}}
	for k := range ks {
		if published(&ks[k], now) {
			set.Keys = append(set.Keys, ks[k].PublicJWK)
		}
	}
	out, _ := json.Marshal(set)
	return out
}

// KeyInfo describes one key for `oidcfed issuer keys`.
type KeyInfo struct {
	KID        string     `json:"kid"`
	Algorithm  string     `json:"alg"`
	Status     KeyStatus  `json:"status"`
	CreatedAt  time.Time  `json:"created_at"`
	ActivateAt time.Time  `json:"activate_at"`
	RetireAt   *time.Time `json:"retire_at,omitempty"`
	ExpireAt   *time.Time `json:"expire_at,omitempty"`
}

// Keys lists the schedule as stored, with each key's status now.
func (i *Issuer) Keys(ctx context.Context) ([]KeyInfo, error) {
	ks, err := i.listKeys(ctx)
	if err != nil {
		return nil, err
	}
	sortKeys(ks)
	now := i.now()
	signing := ""
	if idx := signingIndex(ks, now); idx >= 0 {
		signing = ks[idx].KID
	}
	out := make([]KeyInfo, 0, len(ks))
	for _, k := range ks {
		out = append(out, KeyInfo{KID: k.KID, Algorithm: k.Algorithm, Status: statusAt(&k, signing, now),
			CreatedAt: k.CreatedAt, ActivateAt: k.ActivateAt, RetireAt: k.RetireAt, ExpireAt: k.ExpireAt})
	}
	return out, nil
}

// StoredJWKS renders the JWKS straight from the store (for export by the
// CLI, which has no running schedule).
func (i *Issuer) StoredJWKS(ctx context.Context) ([]byte, error) {
	ks, err := i.listKeys(ctx)
	if err != nil {
		return nil, err
	}
	sortKeys(ks)
	return renderJWKS(ks, i.now()), nil
}

// Discovery renders {issuer}/.well-known/openid-configuration.
func (i *Issuer) Discovery() []byte {
	doc := struct {
		Issuer                 string   `json:"issuer"`
		JWKSURI                string   `json:"jwks_uri"`
		ResponseTypes          []string `json:"response_types_supported"`
		SubjectTypes           []string `json:"subject_types_supported"`
		IDTokenSigningAlgs     []string `json:"id_token_signing_alg_values_supported"`
		ClaimsSupported        []string `json:"claims_supported"`
		ScopesSupported        []string `json:"scopes_supported"`
		TokenEndpointAuthMeths []string `json:"token_endpoint_auth_methods_supported,omitempty"`
	}{
		Issuer:             i.cfg.URL,
		JWKSURI:            i.cfg.URL + JWKSPath,
		ResponseTypes:      []string{"id_token"},
		SubjectTypes:       []string{"public"},
		IDTokenSigningAlgs: []string{i.cfg.Algorithm},
		ClaimsSupported:    ClaimNames,
		ScopesSupported:    []string{"openid"},
	}
	out, _ := json.MarshalIndent(doc, "", "  ")
	return out
}

// Paths under the issuer URL, as GitLab serves them.
const (
	DiscoveryPath = "/.well-known/openid-configuration"
	JWKSPath      = "/oauth/discovery/keys"
)

// RunnerTokenPrefix marks oidcfed runner tokens so secret scanners (and
// people) can recognise one.
const RunnerTokenPrefix = "ofrt_"

// HashRunnerToken is what the store keeps instead of the token. Tokens carry
// 256 random bits, so a plain SHA-256 is enough (no password stretching).
func HashRunnerToken(token string) []byte {
	sum := sha256.Sum256([]byte(token))
	return sum[:]
}

// CreateRunner registers a runner and returns its bearer token, which is
// shown once and never stored.
func (i *Issuer) CreateRunner(ctx context.Context, name string, constraints map[string][]string) (string, *store.Runner, error) {
	if name == "" || len(name) > 128 || hasControl(name) {
		return "", nil, &FieldError{Field: "name", Message: "must be 1 to 128 printable characters"}
	}
	for claim := range constraints {
		if _, ok := constrainable[claim]; !ok {
			return "", nil, &FieldError{Field: "allow", Message: fmt.Sprintf("%q is not a constrainable claim", claim)}
		}
	}
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", nil, err
	}
	token := RunnerTokenPrefix + base64.RawURLEncoding.EncodeToString(raw[:])
	r := &store.Runner{Name: name, TokenHash: HashRunnerToken(token), Constraints: constraints, CreatedAt: i.now().UTC()}
	err := i.store.Update(ctx, func(tx store.Tx) error {
		rr := *r
		if err := tx.CreateRunner(ctx, &rr); err != nil {
			return err
		}
		r.ID = rr.ID
		return nil
	})
	if err != nil {
		return "", nil, err
	}
	return token, r, nil
}

// ErrUnauthorized covers every way a runner token can fail: missing,
// malformed, unknown, revoked. Callers must not say which.
var ErrUnauthorized = errors.New("unauthorized")

// Authenticate returns the active runner a bearer token belongs to.
func (i *Issuer) Authenticate(ctx context.Context, token string) (*store.Runner, error) {
	if !strings.HasPrefix(token, RunnerTokenPrefix) || len(token) > 128 {
		return nil, ErrUnauthorized
	}
	var r store.Runner
	err := i.store.View(ctx, func(tx store.Tx) (err error) {
		r, err = tx.GetRunnerByTokenHash(ctx, HashRunnerToken(token))
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrUnauthorized
	}
	if err != nil {
		return nil, err
	}
	if r.RevokedAt != nil {
		return nil, ErrUnauthorized
	}
	return &r, nil
}

// Now is the issuer's clock.
func (i *Issuer) Now() time.Time { return i.now() }
