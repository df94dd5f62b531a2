package app

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"sync"

	"github.com/oidcfed/oidcfed/internal/iam"
	"github.com/oidcfed/oidcfed/internal/keys"
	"github.com/oidcfed/oidcfed/internal/store"
)

// storeAccessKeys resolves long-term access keys from the store, unsealing
// their secrets with the master key.
type storeAccessKeys struct {
	st     store.Store
	sealer *keys.Sealer
	// cache, when set, keeps active keys in memory; see accessKeyCache.
	cache *accessKeyCache
}

// accessKeyCache holds the active access keys requests used, so a signed
// call does not wait on the store. Only for a store that reports changes:
// it is cleared on every change to access keys (by any replica) and after
// every IAM write here. Unknown and inactive keys are not cached: what a
// caller sends must not grow it.
type accessKeyCache struct {
	mu  sync.RWMutex
	m   map[string]cachedAccessKey
	gen uint64 // see iam.Manager: a read that raced an invalidation does not cache
}

type cachedAccessKey struct{ secret, userName string }

func newAccessKeyCache() *accessKeyCache { return &accessKeyCache{m: map[string]cachedAccessKey{}} }

func (c *accessKeyCache) invalidate() {
	c.mu.Lock()
	c.m = map[string]cachedAccessKey{}
	c.gen++
	c.mu.Unlock()
}

func (a storeAccessKeys) AccessKey(ctx context.Context, id string) (secret, userName string, ok bool, err error) {
	var gen uint64
	if c := a.cache; c != nil {
		c.mu.RLock()
		k, hit := c.m[id]
		gen = c.gen
		c.mu.RUnlock()
		if hit {
			return k.secret, k.userName, true, nil
		}
	}
	var k store.AccessKey
	err = a.st.View(ctx, func(tx store.Tx) (err error) {
		k, err = tx.GetAccessKey(ctx, id)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return "", "", false, nil
	}
	if err != nil || k.Status != "Active" {
		return "", "", false, err
	}
	plain, err := a.sealer.Open(k.SealedSecret, store.AccessKeyAAD(k.ID))
	if err != nil {
		return "", "", false, fmt.Errorf("access key %s: %w", k.ID, err)
	}
	if c := a.cache; c != nil {
		c.mu.Lock()
		if c.gen == gen {
			c.m[id] = cachedAccessKey{secret: string(plain), userName: k.UserName}
		}
		c.mu.Unlock()
	}
	return string(plain), k.UserName, true, nil
}

// ensureRootAccessKey keeps the dev root key named in dev.env when the
// store still holds it with that secret. Otherwise it uses the key derived
// from the master key (creating it when absent), so dev replicas sharing a
// database and a master key write the same key to their dev.env; only when
// that key was deactivated, deleted and recreated by hand, or given to a
// user, is a random one created. The secret is stored sealed; dev.env
// (mode 0600) is its only clear copy.
func (s *Server) ensureRootAccessKey(ctx context.Context, id, secret string) (string, string, error) {
	src := storeAccessKeys{st: s.Store, sealer: s.sealer}
	usable := func(id, secret string) (bool, error) {
		stored, user, ok, err := src.AccessKey(ctx, id)
		return ok && user == "" && subtle.ConstantTimeCompare([]byte(stored), []byte(secret)) == 1, err
	}
	if id != "" && secret != "" {
		if ok, err := usable(id, secret); ok || err != nil {
			return id, secret, err
		}
	}
	var idBytes [10]byte
	var secretBytes [30]byte
	copy(idBytes[:], s.sealer.DeriveKey("oidcfed/dev/root-access-key/id"))
	copy(secretBytes[:], s.sealer.DeriveKey("oidcfed/dev/root-access-key/secret"))
	id, secret = iam.AccessKeyFrom(idBytes, secretBytes)
	if ok, err := usable(id, secret); ok || err != nil {
		return id, secret, err
	}
	err := s.createRootAccessKey(ctx, id, secret)
	if errors.Is(err, store.ErrAlreadyExists) {
		// Another replica created it meanwhile, or it exists but is not
		// usable (inactive): check which.
		var ok bool
		if ok, err = usable(id, secret); ok || err != nil {
			return id, secret, err
		}
		if id, secret, err = iam.NewAccessKey(); err != nil {
			return "", "", err
		}
		err = s.createRootAccessKey(ctx, id, secret)
	}
	if err != nil {
		return "", "", err
	}
	return id, secret, nil
}

func (s *Server) createRootAccessKey(ctx context.Context, id, secret string) error {
	sealed, err := s.sealer.Seal([]byte(secret), store.AccessKeyAAD(id))
	if err != nil {
		return err
	}
	err = s.Store.Update(ctx, func(tx store.Tx) error {
		return tx.CreateAccessKey(ctx, &store.AccessKey{ID: id, SealedSecret: sealed, Status: "Active", CreatedAt: s.Issuer.Now().UTC()})
	})
	if err != nil {
		return fmt.Errorf("create the root access key: %w", err)
	}
	return nil
}
