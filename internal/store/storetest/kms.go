package storetest

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/oidcfed/oidcfed/internal/store"
)

func kmsKey(id string) *store.KMSKey {
	return &store.KMSKey{ID: id, Body: []byte(`{"KeySpec":"ECC_NIST_P256"}`), SealedMaterial: []byte("sealed:" + id)}
}

func testKMSKeys(t *testing.T, s store.Store) {
	ctx := context.Background()
	update(t, s, func(tx store.Tx) error {
		for _, id := range []string{"b", "a"} {
			if err := tx.CreateKMSKey(ctx, kmsKey(id)); err != nil {
				return err
			}
		}
		return nil
	})
	err := s.Update(ctx, func(tx store.Tx) error { return tx.CreateKMSKey(ctx, kmsKey("a")) })
	if !errors.Is(err, store.ErrAlreadyExists) {
		t.Errorf("duplicate key id: %v, want ErrAlreadyExists", err)
	}
	update(t, s, func(tx store.Tx) error { return tx.UpdateKMSKey(ctx, "a", []byte(`{"Enabled":false}`)) })
	if err := s.Update(ctx, func(tx store.Tx) error { return tx.UpdateKMSKey(ctx, "zz", []byte(`{}`)) }); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("update of a missing key: %v, want ErrNotFound", err)
	}
	view(t, s, func(tx store.Tx) error {
		k, err := tx.GetKMSKey(ctx, "a")
		if err != nil {
			return err
		}
		if string(k.Body) != `{"Enabled":false}` || string(k.SealedMaterial) != "sealed:a" {
			t.Errorf("key a: %+v", k)
		}
		if _, err := tx.GetKMSKey(ctx, "zz"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("get of a missing key: %v", err)
		}
		list, err := tx.ListKMSKeys(ctx)
		if err != nil {
			return err
		}
		var ids []string
		for _, k := range list {
			ids = append(ids, k.ID)
			if k.SealedMaterial != nil {
				t.Errorf("ListKMSKeys returned the material of %s", k.ID)
			}
		}
		if !slices.Equal(ids, []string{"a", "b"}) {
			t.Errorf("ListKMSKeys: %q", ids)
		}
		return nil
	})
}

func testKMSAliases(t *testing.T, s store.Store) {
	ctx := context.Background()
	at := t0.Add(time.Hour)
	update(t, s, func(tx store.Tx) error {
		if err := tx.CreateKMSKey(ctx, kmsKey("k1")); err != nil {
			return err
		}
		if err := tx.CreateKMSKey(ctx, kmsKey("k2")); err != nil {
			return err
		}
		return tx.CreateKMSAlias(ctx, &store.KMSAlias{Name: "alias/b", KeyID: "k1", CreatedAt: t0, UpdatedAt: t0})
	})
	cases := []struct {
		name string
		fn   func(tx store.Tx) error
		want error
	}{
		{"duplicate alias", func(tx store.Tx) error {
			return tx.CreateKMSAlias(ctx, &store.KMSAlias{Name: "alias/b", KeyID: "k2", CreatedAt: t0, UpdatedAt: t0})
		}, store.ErrAlreadyExists},
		{"alias to a missing key", func(tx store.Tx) error {
			return tx.CreateKMSAlias(ctx, &store.KMSAlias{Name: "alias/c", KeyID: "nope", CreatedAt: t0, UpdatedAt: t0})
		}, store.ErrNotFound},
		{"update a missing alias", func(tx store.Tx) error { return tx.UpdateKMSAlias(ctx, "alias/zz", "k2", at) }, store.ErrNotFound},
		{"update to a missing key", func(tx store.Tx) error { return tx.UpdateKMSAlias(ctx, "alias/b", "nope", at) }, store.ErrNotFound},
		{"delete a missing alias", func(tx store.Tx) error { return tx.DeleteKMSAlias(ctx, "alias/zz") }, store.ErrNotFound},
	}
	for _, tc := range cases {
		if err := s.Update(ctx, tc.fn); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	update(t, s, func(tx store.Tx) error {
		if err := tx.CreateKMSAlias(ctx, &store.KMSAlias{Name: "alias/a", KeyID: "k1", CreatedAt: t0, UpdatedAt: t0}); err != nil {
			return err
		}
		return tx.UpdateKMSAlias(ctx, "alias/b", "k2", at)
	})
	view(t, s, func(tx store.Tx) error {
		b, err := tx.GetKMSAlias(ctx, "alias/b")
		if err != nil {
			return err
		}
		if b.KeyID != "k2" || !b.CreatedAt.Equal(t0) || !b.UpdatedAt.Equal(at) || b.UpdatedAt.Location() != time.UTC {
			t.Errorf("alias/b: %+v", b)
		}
		list, err := tx.ListKMSAliases(ctx)
		if err != nil {
			return err
		}
		if len(list) != 2 || list[0].Name != "alias/a" || list[1].Name != "alias/b" {
			t.Errorf("ListKMSAliases: %+v", list)
		}
		return nil
	})
	update(t, s, func(tx store.Tx) error { return tx.DeleteKMSAlias(ctx, "alias/a") })
	view(t, s, func(tx store.Tx) error {
		if _, err := tx.GetKMSAlias(ctx, "alias/a"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("deleted alias: %v", err)
		}
		return nil
	})
}

func testResealKMSKeys(t *testing.T, s store.Store) {
	ctx := context.Background()
	update(t, s, func(tx store.Tx) error { return tx.CreateKMSKey(ctx, kmsKey("k1")) })
	var seen []string
	update(t, s, func(tx store.Tx) error {
		_, err := tx.Reseal(ctx, func(aad string, sealed []byte) ([]byte, error) {
			seen = append(seen, aad)
			return append([]byte("re:"), sealed...), nil
		})
		return err
	})
	if !slices.Contains(seen, store.KMSKeyAAD("k1")) {
		t.Errorf("Reseal did not offer the KMS key: %q", seen)
	}
	view(t, s, func(tx store.Tx) error {
		k, err := tx.GetKMSKey(ctx, "k1")
		if err == nil && string(k.SealedMaterial) != "re:sealed:k1" {
			t.Errorf("resealed material %q", k.SealedMaterial)
		}
		return err
	})
}
