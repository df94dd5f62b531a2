package app

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"

	"github.com/oidcfed/oidcfed/internal/iam"
	"github.com/oidcfed/oidcfed/internal/keys"
	"github.com/oidcfed/oidcfed/internal/store"
)

// storeAccessKeys resolves long-term access keys from the store, unsealing
// their secrets with the master key.
type storeAccessKeys struct {
	st     store.Store
	sealer *keys.Sealer
}

func (a storeAccessKeys) AccessKey(ctx context.Context, id string) (secret, userName string, ok bool, err error) {
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
	return string(plain), k.UserName, true, nil
}

// ensureRootAccessKey keeps the dev root key named in dev.env when the
// store still holds it with that secret, and otherwise creates one. The
// secret is stored sealed; dev.env (mode 0600) is its only clear copy.
func (s *Server) ensureRootAccessKey(ctx context.Context, id, secret string) (string, string, error) {
	src := storeAccessKeys{st: s.Store, sealer: s.sealer}
	if id != "" && secret != "" {
		stored, user, ok, err := src.AccessKey(ctx, id)
		if err != nil {
			return "", "", err
		}
		if ok && user == "" && subtle.ConstantTimeCompare([]byte(stored), []byte(secret)) == 1 {
			return id, secret, nil
		}
	}
	id, secret, err := iam.NewAccessKey()
	if err != nil {
		return "", "", err
	}
	sealed, err := s.sealer.Seal([]byte(secret), store.AccessKeyAAD(id))
	if err != nil {
		return "", "", err
	}
	err = s.Store.Update(ctx, func(tx store.Tx) error {
		return tx.CreateAccessKey(ctx, &store.AccessKey{ID: id, SealedSecret: sealed, Status: "Active", CreatedAt: s.Issuer.Now().UTC()})
	})
	if err != nil {
		return "", "", fmt.Errorf("create the root access key: %w", err)
	}
	return id, secret, nil
}
