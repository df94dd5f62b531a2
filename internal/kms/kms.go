// Package kms is a KMS key service: asymmetric signing keys (ECDSA on the
// NIST curves, RSA PKCS#1 v1.5 and PSS) with AWS KMS's key ids, ARNs,
// aliases, key states and key policies. Key material is generated here,
// sealed under the master key by the caller's sealer before it is stored,
// and only ever unsealed into a crypto.Signer held in memory.
//
// Authorization is the api package's: this package answers "what is this
// key and may it do this operation", not "may this caller".
package kms

import (
	"context"
	"crypto"
	"crypto/cipher"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/oidcfed/oidcfed/internal/iam/policy"
	"github.com/oidcfed/oidcfed/internal/keys"
	"github.com/oidcfed/oidcfed/internal/store"
)

// Options configure a Service.
type Options struct {
	Store store.Store
	// Seal and Open seal key material under the master key (the keys
	// package's Sealer).
	Seal            func(plaintext []byte, aad string) ([]byte, error)
	Open            func(sealed []byte, aad string) ([]byte, error)
	Account, Region string
	Now             func() time.Time
}

// Key is a KMS key's metadata, as stored.
type Key struct {
	ID                  string     `json:"id"`
	ARN                 string     `json:"arn"`
	Account             string     `json:"account"`
	CreationDate        time.Time  `json:"creation_date"`
	Description         string     `json:"description"`
	KeyUsage            string     `json:"key_usage"`
	KeySpec             string     `json:"key_spec"`
	State               string     `json:"state"`
	DeletionDate        *time.Time `json:"deletion_date,omitempty"`
	PendingWindowInDays int        `json:"pending_window_in_days,omitempty"`
	Policy              string     `json:"policy"`
	Tags                []Tag      `json:"tags,omitempty"`
}

// Tag is a KMS resource tag.
type Tag struct {
	TagKey   string
	TagValue string
}

// SigningAlgorithms are the algorithms the key signs with, the one cosign
// uses first.
func (k *Key) SigningAlgorithms() []string { return signingAlgorithms[k.KeySpec] }

// Service owns KMS keys and aliases.
type Service struct {
	opts Options

	mu      sync.RWMutex
	entries map[string]*entry // key id → cached key
	aliases map[string]string // alias name → key id
	gen     uint64            // see iam.Manager: a read that raced a write does not cache
}

// entry is a cached key: its metadata, parsed policy, and (once used)
// its unsealed signer.
type entry struct {
	key    *Key
	policy *policy.Policy
	sealed []byte

	once   sync.Once
	signer crypto.Signer // asymmetric keys
	secret []byte        // symmetric and HMAC keys
	aead   cipher.AEAD   // symmetric keys
	err    error
}

// signerOf unseals the key material once per cached entry.
func (e *entry) signerOf(s *Service) (crypto.Signer, error) {
	e.once.Do(func() {
		der, err := s.opts.Open(e.sealed, store.KMSKeyAAD(e.key.ID))
		if err != nil {
			e.err = fmt.Errorf("unseal KMS key %s: %w", e.key.ID, err)
			return
		}
		e.signer, e.err = keys.ParseKMSKey(der)
		clear(der)
	})
	return e.signer, e.err
}

// New returns a Service.
func New(opts Options) *Service {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Service{opts: opts, entries: map[string]*entry{}, aliases: map[string]string{}}
}

func (s *Service) now() time.Time { return s.opts.Now().UTC() }

// KeyARN is the ARN of key id in this account and region.
func (s *Service) KeyARN(id string) string {
	return "arn:aws:kms:" + s.opts.Region + ":" + s.opts.Account + ":key/" + id
}

// AliasARN is the ARN of an alias ("alias/x").
func (s *Service) AliasARN(name string) string {
	return "arn:aws:kms:" + s.opts.Region + ":" + s.opts.Account + ":" + name
}

// DefaultPolicy is the key policy CreateKey sets when given none: it
// delegates the key to the account's IAM policies.
func (s *Service) DefaultPolicy() string {
	return `{
  "Version" : "2012-10-17",
  "Id" : "key-default-1",
  "Statement" : [ {
    "Sid" : "Enable IAM User Permissions",
    "Effect" : "Allow",
    "Principal" : {
      "AWS" : "arn:aws:iam::` + s.opts.Account + `:root"
    },
    "Action" : "kms:*",
    "Resource" : "*"
  } ]
}`
}

// Invalidate drops every cached key and alias, for a change another process
// (a replica) committed: the next request reads the store.
func (s *Service) Invalidate() { s.invalidate() }

func (s *Service) invalidate() {
	s.mu.Lock()
	s.entries = map[string]*entry{}
	s.aliases = map[string]string{}
	s.gen++
	s.mu.Unlock()
}

// isKeyID reports whether id is a key id as KMS makes them, a lower-case
// UUID: ^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$,
// checked by hand because every request naming a key asks (a regexp match
// cost more than the key lookup).
func isKeyID(id string) bool {
	if len(id) != 36 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
				return false
			}
		}
	}
	return true
}

// Resolved is a key found from a KeyId parameter.
type Resolved struct {
	Key    *Key
	Policy *policy.Policy
	// Alias is the alias name the caller used ("" when none), for the
	// kms:RequestAlias condition key.
	Alias string
	entry *entry
}

// Resolve finds the key a KeyId parameter names: a key id, key ARN, alias
// name or alias ARN. An ARN of another account or region names nothing
// here.
func (s *Service) Resolve(ctx context.Context, keyID string) (*Resolved, error) {
	id, alias := keyID, ""
	if rest, ok := strings.CutPrefix(keyID, "arn:"); ok {
		parts := strings.SplitN(rest, ":", 5)
		if len(parts) != 5 || parts[1] != "kms" {
			return nil, newError(CodeNotFound, "Invalid arn %s", keyID) // unconfirmed wording
		}
		if parts[2] != s.opts.Region || parts[3] != s.opts.Account {
			return nil, s.notFound(keyID)
		}
		switch {
		case strings.HasPrefix(parts[4], "key/"):
			id = strings.TrimPrefix(parts[4], "key/")
		case strings.HasPrefix(parts[4], "alias/"):
			alias = parts[4]
		default:
			return nil, newError(CodeNotFound, "Invalid arn %s", keyID) // unconfirmed wording
		}
	} else if strings.HasPrefix(keyID, "alias/") {
		alias = keyID
	}
	if alias != "" {
		target, err := s.aliasTarget(ctx, alias)
		if err != nil {
			return nil, err
		}
		id = target
	}
	if !isKeyID(id) {
		return nil, newError(CodeNotFound, "Invalid keyId '%s'", keyID) // recalled, unconfirmed
	}
	e, err := s.entry(ctx, id)
	if err != nil {
		return nil, err
	}
	return &Resolved{Key: e.key, Policy: e.policy, Alias: alias, entry: e}, nil
}

func (s *Service) notFound(keyID string) *Error {
	if strings.HasPrefix(keyID, "alias/") {
		return newError(CodeNotFound, "Alias %s is not found.", s.AliasARN(keyID))
	}
	if strings.Contains(keyID, ":alias/") {
		return newError(CodeNotFound, "Alias %s is not found.", keyID)
	}
	if strings.HasPrefix(keyID, "arn:") {
		return newError(CodeNotFound, "Key '%s' does not exist", keyID)
	}
	return newError(CodeNotFound, "Key '%s' does not exist", s.KeyARN(keyID))
}

func (s *Service) aliasTarget(ctx context.Context, name string) (string, error) {
	s.mu.RLock()
	id, ok := s.aliases[name]
	gen := s.gen
	s.mu.RUnlock()
	if ok {
		return id, nil
	}
	var a store.KMSAlias
	err := s.opts.Store.View(ctx, func(tx store.Tx) (err error) {
		a, err = tx.GetKMSAlias(ctx, name)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return "", s.notFound(name)
	}
	if err != nil {
		return "", err
	}
	s.mu.Lock()
	if s.gen == gen {
		s.aliases[name] = a.KeyID
	}
	s.mu.Unlock()
	return a.KeyID, nil
}

func (s *Service) entry(ctx context.Context, id string) (*entry, error) {
	s.mu.RLock()
	e, ok := s.entries[id]
	gen := s.gen
	s.mu.RUnlock()
	if ok {
		return e, nil
	}
	var rec store.KMSKey
	err := s.opts.Store.View(ctx, func(tx store.Tx) (err error) {
		rec, err = tx.GetKMSKey(ctx, id)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, s.notFound(id)
	}
	if err != nil {
		return nil, err
	}
	k := new(Key)
	if err := json.Unmarshal(rec.Body, k); err != nil {
		return nil, fmt.Errorf("KMS key %s: %w", id, err)
	}
	e = &entry{key: k, sealed: rec.SealedMaterial}
	if p, err := policy.ParseResourcePolicy([]byte(k.Policy)); err == nil {
		e.policy = p
	}
	s.mu.Lock()
	if s.gen == gen {
		s.entries[id] = e
	}
	s.mu.Unlock()
	return e, nil
}
