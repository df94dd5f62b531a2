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
	"github.com/oidcfed/oidcfed/internal/audit"
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
	// Algorithm is RS256 (GitLab's) or ES256. Changing it rotates to a key
	// of the new algorithm.
	Algorithm string
	// DefaultTTL is exp - iat when a request names no ttl (a job timeout).
	DefaultTTL time.Duration
	// MaxLifetime caps exp - iat; it also bounds how long a retired key
	// stays published.
	MaxLifetime time.Duration
	// JWKSMaxAge is the JWKS Cache-Control max-age and (plus Margin) how
	// long a new key is published before it signs.
	JWKSMaxAge time.Duration
	// RotationPeriod is how long a key signs before the schedule starts
	// its successor; 0 turns automatic rotation off.
	RotationPeriod time.Duration
	// SubClaimComponents builds `sub` (default project_path, ref_type, ref).
	SubClaimComponents []string
	// ReloadInterval is how often the key schedule is re-read from the
	// store and maintained. Default: the smaller of 30 s and JWKSMaxAge/4.
	ReloadInterval time.Duration
}

// Defaults are the values a zero Config field takes. RotationPeriod is not
// among them: zero means "rotate only on request" (the config file's own
// default is 720h).
var Defaults = Config{
	Algorithm:          keys.RS256,
	DefaultTTL:         5 * time.Minute,
	MaxLifetime:        2 * time.Hour,
	JWKSMaxAge:         time.Hour,
	SubClaimComponents: []string{"project_path", "ref_type", "ref"},
}

// MaxClockSkew is how far apart the clocks of replicas (and of the CLI) may
// be for the schedule to stay safe.
const MaxClockSkew = time.Minute

// staleFactor: a snapshot of the schedule older than this many reload
// intervals is too old to sign or publish from.
const staleFactor = 4

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

// StaleAfter is how old a replica's snapshot of the schedule may get before
// it stops minting and publishing (and fails readiness).
func (c *Config) StaleAfter() time.Duration { return staleFactor * c.ReloadInterval }

// Margin is added to every lead and tail of the schedule: the longest a
// replica can go without seeing a change (StaleAfter) plus clock skew.
// With it, a key written by one replica or the CLI is in every replica's
// JWKS before any replica signs with it, and no replica signs with a
// retired key after its unpublication was computed.
func (c *Config) Margin() time.Duration { return c.StaleAfter() + MaxClockSkew }

// lead is how long a new key is published before it signs.
func (c *Config) lead() time.Duration { return c.JWKSMaxAge + c.Margin() }

// tail is how long a retired key stays published after it stops signing.
func (c *Config) tail() time.Duration { return c.MaxLifetime + c.Margin() }

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
	if c.RotationPeriod != 0 && c.RotationPeriod <= c.lead() {
		return fmt.Errorf("rotation period %s must exceed the JWKS max-age plus %s of propagation margin (%s)", c.RotationPeriod, c.Margin(), c.lead())
	}
	if c.ReloadInterval <= 0 {
		return fmt.Errorf("reload interval %s must be positive", c.ReloadInterval)
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
	done     chan struct{} // closed when the maintenance loop has stopped
	audit    audit.Recorder

	// runners caches active runners by token hash once CacheRunners is
	// called; nil until then (every Authenticate reads the store).
	runners atomic.Pointer[runnerCache]
}

// runnerCache maps the SHA-256 of a runner token (as a string) to the
// active runner it belongs to. Callers get copies that share the
// constraints map, which nothing changes after the runner is read.
type runnerCache struct {
	mu  sync.RWMutex
	m   map[string]store.Runner
	gen uint64 // see iam.Manager: a read that raced an invalidation does not cache
}

// keyState is an immutable snapshot of the schedule with ready signers.
type keyState struct {
	keys     []store.SigningKey // sorted by ActivateAt, KID
	signers  map[string]jose.Signer
	loadedAt time.Time // zero: never loaded
}

// New builds an issuer. now is the clock (time.Now in production, a fake in
// tests). Call Start (or at least Maintain) before minting.
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
	i := &Issuer{cfg: cfg, store: st, sealer: sealer, now: now, log: log, metrics: m, done: make(chan struct{})}
	i.state.Store(&keyState{})
	return i, nil
}

// Config returns the effective configuration (defaults applied).
func (i *Issuer) Config() Config { return i.cfg }

// Start makes sure a signing key exists, loads the schedule and keeps it
// fresh (reload, automatic rotation, normalisation, removal of expired keys)
// until ctx ends; Wait then returns.
func (i *Issuer) Start(ctx context.Context) error {
	if err := i.Maintain(ctx); err != nil {
		close(i.done)
		return err
	}
	go func() {
		defer close(i.done)
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

// Wait blocks until the maintenance loop started by Start has stopped (its
// context ended), so the store can be closed safely.
func (i *Issuer) Wait() { <-i.done }

// ErrScheduleStale means this replica has not managed to re-read the key
// schedule for longer than StaleAfter: it might miss a rotation, so it
// neither signs nor publishes until the store answers again.
var ErrScheduleStale = errors.New("issuer key schedule is stale (store unreachable?)")

// Ready reports whether the issuer can mint now: a fresh schedule with a
// key that signs.
func (i *Issuer) Ready() error {
	st := i.state.Load()
	now := i.now()
	if !st.fresh(now, i.cfg.StaleAfter()) {
		return ErrScheduleStale
	}
	if idx := signingIndex(st.keys, now); idx < 0 || st.signers[st.keys[idx].KID] == nil {
		return ErrNoSigningKey
	}
	return nil
}

func (s *keyState) fresh(now time.Time, staleAfter time.Duration) bool {
	return !s.loadedAt.IsZero() && now.Sub(s.loadedAt) <= staleAfter
}

// Maintain bootstraps the first key, rotates when the schedule says so,
// stretches a schedule written with shorter leads than this replica's
// config, deletes keys whose tokens have all expired, and reloads. It is
// what every replica runs periodically. One read decides; a write
// transaction is opened only when something is due, and each decision is
// re-checked inside it, so concurrent runs on several replicas act once.
// The reload is attempted even when an earlier step failed.
func (i *Issuer) Maintain(ctx context.Context) error {
	ks, err := i.listKeys(ctx)
	if err != nil {
		return err
	}
	var errs []error
	changed := false
	now := i.now()
	switch {
	case len(ks) == 0:
		errs = append(errs, i.bootstrap(ctx))
		changed = true
	case i.rotationDue(ks, now, true) == nil:
		if _, err := i.rotate(ctx, true); err != nil && !errors.Is(err, errNotDue) {
			errs = append(errs, err)
		}
		changed = true
	}
	if len(i.normalisePlan(ks, now)) > 0 {
		errs = append(errs, i.normalise(ctx))
		changed = true
	}
	if slices.ContainsFunc(ks, func(k store.SigningKey) bool { return k.ExpireAt != nil && !now.Before(*k.ExpireAt) }) {
		errs = append(errs, i.collectExpired(ctx))
		changed = true
	}
	if changed {
		if ks, err = i.listKeys(ctx); err != nil {
			return errors.Join(append(errs, err)...)
		}
	}
	i.load(ks)
	return errors.Join(errs...)
}

func (i *Issuer) listKeys(ctx context.Context) ([]store.SigningKey, error) {
	var ks []store.SigningKey
	err := i.store.View(ctx, func(tx store.Tx) (err error) {
		ks, err = tx.ListSigningKeys(ctx, i.cfg.URL)
		return err
	})
	sortKeys(ks)
	return ks, err
}

var (
	// ErrRotationInProgress: a rotation was asked for while the next key is
	// still waiting to activate.
	ErrRotationInProgress = errors.New("a rotation is already in progress")
	errNotDue             = errors.New("rotation not due")
)

// bootstrap creates the issuer's first key, active at once: no verifier can
// hold a JWKS of this issuer yet. Its activation is back-dated by the
// allowed clock skew so a replica whose clock is behind can sign with it
// too. (Replicas starting together all run Maintain before serving; the
// one that loses the race loads the winner's key before serving anything.)
func (i *Issuer) bootstrap(ctx context.Context) error {
	now := i.now().UTC()
	rec, err := i.newKeyRecord(now, now.Add(-MaxClockSkew))
	if err != nil {
		return err
	}
	created := false
	err = i.store.Update(ctx, func(tx store.Tx) error {
		ks, err := tx.ListSigningKeys(ctx, i.cfg.URL)
		created = false
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
// from now + JWKSMaxAge + Margin; the current key signs until then and
// stays published until the last token it can have signed has expired.
func (i *Issuer) Rotate(ctx context.Context) (*Rotation, error) {
	return i.rotate(ctx, false)
}

// rotationDue says whether a rotation may start now: never while the head
// of the schedule is still pending; automatically once the head has signed
// for a whole rotation period, or at once when it uses another algorithm
// than the configured one.
func (i *Issuer) rotationDue(ks []store.SigningKey, now time.Time, automatic bool) error {
	if len(ks) == 0 {
		return fmt.Errorf("issuer has no signing key yet")
	}
	head := ks[len(ks)-1] // sorted: the last to activate
	switch {
	case head.ActivateAt.After(now):
		if automatic {
			return errNotDue
		}
		return fmt.Errorf("%w: key %s activates at %s", ErrRotationInProgress, head.KID, head.ActivateAt.Format(time.RFC3339))
	case !automatic, head.Algorithm != i.cfg.Algorithm:
		return nil
	case i.cfg.RotationPeriod == 0 || now.Before(head.ActivateAt.Add(i.cfg.RotationPeriod)):
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
	activate := now.Add(i.cfg.lead())
	expire := activate.Add(i.cfg.tail())
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
		sortKeys(ks)
		if err := i.rotationDue(ks, now, automatic); err != nil {
			return err // decided differently by another replica meanwhile
		}
		out = &Rotation{KID: rec.KID, ActivateAt: activate, RetiredExpireAt: expire}
		// Retire every key still open-ended: normally just the head, but
		// a backend without serializable transactions could have let two
		// bootstraps through, and neither may sign forever.
		for _, k := range ks {
			if k.RetireAt == nil {
				if err := tx.UpdateSigningKeySchedule(ctx, i.cfg.URL, k.KID, &activate, &expire); err != nil {
					return err
				}
				out.RetiredKID = k.KID
			}
		}
		k := *rec
		return tx.CreateSigningKey(ctx, &k)
	})
	if err != nil {
		return nil, err
	}
	i.log.Info("issuer key rotation started", "new_kid", out.KID, "alg", rec.Algorithm, "activate_at", out.ActivateAt,
		"retiring_kid", out.RetiredKID, "unpublish_at", out.RetiredExpireAt)
	if err := i.Reload(ctx); err != nil {
		// The rotation is committed; the next maintenance tick reloads.
		i.log.Warn("reload after rotation failed", "err", err)
	}
	return out, nil
}

// scheduleFix is one change normalisation makes.
type scheduleFix struct {
	kid                string
	activateAt         *time.Time // postpone activation to this
	retireAt, expireAt *time.Time // set the schedule to these
}

// normalisePlan lists the changes that make a stored schedule at least as
// cautious as this replica's config: a pending key must be published for
// a whole lead before it signs (its predecessor retiring with it), and a
// retired key must stay published for a whole tail. Only ever lengthens;
// a schedule written by a replica or CLI with larger values is kept.
func (i *Issuer) normalisePlan(ks []store.SigningKey, now time.Time) []scheduleFix {
	var plan []scheduleFix
	retireOverride := map[string]time.Time{}
	for n, k := range ks {
		if n == 0 || !k.ActivateAt.After(now) {
			continue // the first key, or already signing: nothing to stretch
		}
		if want := k.CreatedAt.Add(i.cfg.lead()); k.ActivateAt.Before(want) {
			plan = append(plan, scheduleFix{kid: k.KID, activateAt: &want})
			for _, prev := range ks[:n] {
				if prev.RetireAt != nil && prev.RetireAt.Equal(k.ActivateAt) {
					retireOverride[prev.KID] = want
				}
			}
		}
	}
	for _, k := range ks {
		if k.RetireAt == nil {
			continue
		}
		retire := *k.RetireAt
		if r, ok := retireOverride[k.KID]; ok {
			retire = r
		}
		expire := retire.Add(i.cfg.tail())
		if k.ExpireAt != nil && !k.ExpireAt.Before(expire) {
			expire = *k.ExpireAt
		}
		if !retire.Equal(*k.RetireAt) || k.ExpireAt == nil || !expire.Equal(*k.ExpireAt) {
			plan = append(plan, scheduleFix{kid: k.KID, retireAt: &retire, expireAt: &expire})
		}
	}
	return plan
}

// normalise applies normalisePlan, re-planned inside the transaction.
func (i *Issuer) normalise(ctx context.Context) error {
	now := i.now()
	return i.store.Update(ctx, func(tx store.Tx) error {
		ks, err := tx.ListSigningKeys(ctx, i.cfg.URL)
		if err != nil {
			return err
		}
		sortKeys(ks)
		for _, fix := range i.normalisePlan(ks, now) {
			if fix.activateAt != nil {
				err = tx.PostponeSigningKeyActivation(ctx, i.cfg.URL, fix.kid, *fix.activateAt)
			} else {
				err = tx.UpdateSigningKeySchedule(ctx, i.cfg.URL, fix.kid, fix.retireAt, fix.expireAt)
			}
			if err != nil {
				return err
			}
			i.log.Info("issuer key schedule lengthened to this replica's config", "kid", fix.kid)
		}
		return nil
	})
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
// still sign.
func (i *Issuer) Reload(ctx context.Context) error {
	ks, err := i.listKeys(ctx)
	if err != nil {
		return err
	}
	i.load(ks)
	return nil
}

// load installs a new snapshot. Keys already loaded keep their signer (no
// re-unsealing). A key that cannot be unsealed is published (verifiers may
// hold its tokens) but cannot sign; that is logged, and Ready reports it if
// it is the key that should sign now.
func (i *Issuer) load(ks []store.SigningKey) {
	i.reloadMu.Lock()
	defer i.reloadMu.Unlock()
	old := i.state.Load()
	now := i.now()
	next := &keyState{keys: ks, signers: make(map[string]jose.Signer, 2), loadedAt: now}
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
			i.log.Error("issuer signing key cannot be loaded; it will not sign", "kid", k.KID, "err", err)
			continue
		}
		next.signers[k.KID] = s
	}
	i.state.Store(next)
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
	if !st.fresh(now, i.cfg.StaleAfter()) {
		return "", nil, ErrScheduleStale
	}
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

// JWKS renders the key set published at the issuer's current time. It
// refuses (ErrScheduleStale) when the snapshot is too old to be sure no key
// is missing: a verifier would cache an incomplete set for a whole max-age.
func (i *Issuer) JWKS() ([]byte, error) {
	st := i.state.Load()
	now := i.now()
	if !st.fresh(now, i.cfg.StaleAfter()) {
		return nil, ErrScheduleStale
	}
	return renderJWKS(st.keys, now), nil
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
		IDTokenSigningAlgs: i.publishedAlgorithms(),
		ClaimsSupported:    ClaimNames,
		ScopesSupported:    []string{"openid"},
	}
	out, _ := json.MarshalIndent(doc, "", "  ")
	return out
}

// publishedAlgorithms lists the configured algorithm and those of every
// published key: after an algorithm change the old key still signs until
// its successor activates, and verifiers such as go-oidc accept only the
// algorithms discovery lists.
func (i *Issuer) publishedAlgorithms() []string {
	algs := []string{i.cfg.Algorithm}
	st := i.state.Load()
	now := i.now()
	for n := range st.keys {
		if published(&st.keys[n], now) && !slices.Contains(algs, st.keys[n].Algorithm) {
			algs = append(algs, st.keys[n].Algorithm)
		}
	}
	slices.Sort(algs)
	return algs
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

// CacheRunners makes Authenticate keep active runners in memory, so a mint
// does not wait on the store. Only for a store that reports changes
// (store.Notifier): whoever watches it must call InvalidateRunners on every
// change to runners, or a revoked runner would go on minting. Without it,
// every mint reads the store, which sees a revocation by the CLI at once.
func (i *Issuer) CacheRunners() {
	i.runners.CompareAndSwap(nil, &runnerCache{m: map[string]store.Runner{}})
}

// InvalidateRunners drops the cached runners (see CacheRunners).
func (i *Issuer) InvalidateRunners() {
	if c := i.runners.Load(); c != nil {
		c.mu.Lock()
		c.m = map[string]store.Runner{}
		c.gen++
		c.mu.Unlock()
	}
}

// Authenticate returns the active runner a bearer token belongs to.
func (i *Issuer) Authenticate(ctx context.Context, token string) (*store.Runner, error) {
	if !strings.HasPrefix(token, RunnerTokenPrefix) || len(token) > 128 {
		return nil, ErrUnauthorized
	}
	h := HashRunnerToken(token)
	cache := i.runners.Load()
	var gen uint64
	if cache != nil {
		cache.mu.RLock()
		r, ok := cache.m[string(h)]
		gen = cache.gen
		cache.mu.RUnlock()
		if ok {
			return &r, nil
		}
	}
	var r store.Runner
	err := i.store.View(ctx, func(tx store.Tx) (err error) {
		r, err = tx.GetRunnerByTokenHash(ctx, h)
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
	// Only active runners are cached: unknown tokens are what an attacker
	// controls, and must not grow the map.
	if cache != nil {
		cache.mu.Lock()
		if cache.gen == gen {
			cache.m[string(h)] = r
		}
		cache.mu.Unlock()
	}
	return &r, nil
}

// Now is the issuer's clock.
func (i *Issuer) Now() time.Time { return i.now() }
