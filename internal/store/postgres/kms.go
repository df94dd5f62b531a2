package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/oidcfed/oidcfed/internal/store"
)

// KMS keys and aliases.

func (t *txn) CreateKMSKey(ctx context.Context, k *store.KMSKey) error {
	op := "create KMS key " + k.ID
	if err := t.writable(op); err != nil {
		return err
	}
	switch {
	case k.ID == "":
		return fmt.Errorf("%s: id must be set", op)
	case len(k.SealedMaterial) == 0:
		return fmt.Errorf("%s: no sealed key material", op)
	case !json.Valid(k.Body):
		return fmt.Errorf("%s: body is not JSON", op)
	}
	_, err := t.write(ctx, op, "INSERT INTO kms_keys (id, body, sealed_material) VALUES ($1, $2, $3)", k.ID, k.Body, k.SealedMaterial)
	return err
}

func (t *txn) GetKMSKey(ctx context.Context, id string) (store.KMSKey, error) {
	op := "get KMS key " + id
	k := store.KMSKey{ID: id}
	err := t.tx.QueryRow(ctx, "SELECT body, sealed_material FROM kms_keys WHERE id = $1", id).Scan(&k.Body, &k.SealedMaterial)
	if errors.Is(err, pgx.ErrNoRows) {
		return store.KMSKey{}, fmt.Errorf("%s: %w", op, store.ErrNotFound)
	}
	if err != nil {
		return store.KMSKey{}, wrapErr(op, err)
	}
	return k, nil
}

func (t *txn) UpdateKMSKey(ctx context.Context, id string, body []byte) error {
	op := "update KMS key " + id
	if err := t.writable(op); err != nil {
		return err
	}
	if !json.Valid(body) {
		return fmt.Errorf("%s: body is not JSON", op)
	}
	tag, err := t.write(ctx, op, "UPDATE kms_keys SET body = $1 WHERE id = $2", body, id)
	return oneRow(op, "no such key", tag, err)
}

func (t *txn) ListKMSKeys(ctx context.Context) ([]store.KMSKey, error) {
	const op = "list KMS keys"
	rows, err := t.tx.Query(ctx, "SELECT id, body FROM kms_keys ORDER BY id")
	if err != nil {
		return nil, wrapErr(op, err)
	}
	defer rows.Close()
	var out []store.KMSKey
	for rows.Next() {
		var k store.KMSKey
		if err := rows.Scan(&k.ID, &k.Body); err != nil {
			return nil, wrapErr(op, err)
		}
		out = append(out, k)
	}
	return out, wrapErr(op, rows.Err())
}

func (t *txn) keyExists(ctx context.Context, op, id string) error {
	var one int
	err := t.tx.QueryRow(ctx, "SELECT 1 FROM kms_keys WHERE id = $1", id).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("%s: no key %s: %w", op, id, store.ErrNotFound)
	}
	return wrapErr(op, err)
}

func (t *txn) CreateKMSAlias(ctx context.Context, a *store.KMSAlias) error {
	op := "create KMS alias " + a.Name
	if err := t.writable(op); err != nil {
		return err
	}
	if a.Name == "" || a.KeyID == "" {
		return fmt.Errorf("%s: name and key id must be set", op)
	}
	created, err := toNanos("CreatedAt", a.CreatedAt)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	updated, err := toNanos("UpdatedAt", a.UpdatedAt)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	// Checked first for the message; the foreign key has the last word.
	if err := t.keyExists(ctx, op, a.KeyID); err != nil {
		return err
	}
	_, err = t.write(ctx, op, "INSERT INTO kms_aliases (name, key_id, created_at, updated_at) VALUES ($1, $2, $3, $4)",
		a.Name, a.KeyID, created, updated)
	return err
}

func (t *txn) UpdateKMSAlias(ctx context.Context, name, keyID string, at time.Time) error {
	op := "update KMS alias " + name
	if err := t.writable(op); err != nil {
		return err
	}
	updated, err := toNanos("UpdatedAt", at)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if err := t.keyExists(ctx, op, keyID); err != nil {
		return err
	}
	tag, err := t.write(ctx, op, "UPDATE kms_aliases SET key_id = $1, updated_at = $2 WHERE name = $3", keyID, updated, name)
	return oneRow(op, "no such alias", tag, err)
}

func (t *txn) GetKMSAlias(ctx context.Context, name string) (store.KMSAlias, error) {
	op := "get KMS alias " + name
	a := store.KMSAlias{Name: name}
	var created, updated int64
	err := t.tx.QueryRow(ctx, "SELECT key_id, created_at, updated_at FROM kms_aliases WHERE name = $1", name).Scan(&a.KeyID, &created, &updated)
	if errors.Is(err, pgx.ErrNoRows) {
		return store.KMSAlias{}, fmt.Errorf("%s: %w", op, store.ErrNotFound)
	}
	if err != nil {
		return store.KMSAlias{}, wrapErr(op, err)
	}
	a.CreatedAt, a.UpdatedAt = fromNanos(created), fromNanos(updated)
	return a, nil
}

func (t *txn) DeleteKMSAlias(ctx context.Context, name string) error {
	op := "delete KMS alias " + name
	if err := t.writable(op); err != nil {
		return err
	}
	tag, err := t.write(ctx, op, "DELETE FROM kms_aliases WHERE name = $1", name)
	return oneRow(op, "no such alias", tag, err)
}

func (t *txn) ListKMSAliases(ctx context.Context) ([]store.KMSAlias, error) {
	const op = "list KMS aliases"
	rows, err := t.tx.Query(ctx, "SELECT name, key_id, created_at, updated_at FROM kms_aliases ORDER BY name")
	if err != nil {
		return nil, wrapErr(op, err)
	}
	defer rows.Close()
	var out []store.KMSAlias
	for rows.Next() {
		var a store.KMSAlias
		var created, updated int64
		if err := rows.Scan(&a.Name, &a.KeyID, &created, &updated); err != nil {
			return nil, wrapErr(op, err)
		}
		a.CreatedAt, a.UpdatedAt = fromNanos(created), fromNanos(updated)
		out = append(out, a)
	}
	return out, wrapErr(op, rows.Err())
}
