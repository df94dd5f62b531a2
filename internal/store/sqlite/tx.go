package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/oidcfed/oidcfed/internal/store"
)

// errReadOnly is returned by every write attempted inside View. The reader
// connections are also PRAGMA query_only, so SQLite would refuse anyway; the
// explicit check gives a clearer message and covers writes, such as a Reseal
// of an empty store, that would not reach SQLite at all.
var errReadOnly = errors.New("write attempted in a read-only (View) transaction")

// txn implements store.Tx on one database/sql transaction.
type txn struct {
	tx       *sql.Tx
	readOnly bool
}

var _ store.Tx = (*txn)(nil)

func (t *txn) writable(op string) error {
	if t.readOnly {
		return fmt.Errorf("%s: %w", op, errReadOnly)
	}
	return nil
}

// Times are stored as int64 nanoseconds since the epoch, which covers the
// years 1678 to 2262. Outside that range time.UnixNano is undefined, so such
// times are refused rather than stored wrapped around.
var (
	minTime = time.Unix(0, math.MinInt64)
	maxTime = time.Unix(0, math.MaxInt64)
)

func toNanos(field string, t time.Time) (int64, error) {
	if t.IsZero() {
		return 0, fmt.Errorf("%s is not set", field)
	}
	if t.Before(minTime) || t.After(maxTime) {
		return 0, fmt.Errorf("%s %s is outside the storable range (years 1678 to 2262)", field, t.Format(time.RFC3339))
	}
	return t.UnixNano(), nil
}

func toNullNanos(field string, t *time.Time) (sql.NullInt64, error) {
	if t == nil {
		return sql.NullInt64{}, nil
	}
	n, err := toNanos(field, *t)
	return sql.NullInt64{Int64: n, Valid: err == nil}, err
}

func fromNanos(n int64) time.Time { return time.Unix(0, n).UTC() }

func fromNullNanos(n sql.NullInt64) *time.Time {
	if !n.Valid {
		return nil
	}
	t := fromNanos(n.Int64)
	return &t
}

// Runners.

const runnerColumns = "id, name, token_hash, constraints, created_at, revoked_at"

func (t *txn) CreateRunner(ctx context.Context, r *store.Runner) error {
	const op = "create runner"
	if err := t.writable(op); err != nil {
		return err
	}
	return t.insertRunner(ctx, r, nil)
}

// insertRunner inserts r with id, or with the next id when id is nil, and
// sets r.ID.
func (t *txn) insertRunner(ctx context.Context, r *store.Runner, id *int64) error {
	const op = "create runner"
	if r.Name == "" {
		return fmt.Errorf("%s: empty name", op)
	}
	if len(r.TokenHash) == 0 {
		return fmt.Errorf("%s %q: empty token hash", op, r.Name)
	}
	created, err := toNanos("CreatedAt", r.CreatedAt)
	if err != nil {
		return fmt.Errorf("%s %q: %w", op, r.Name, err)
	}
	revoked, err := toNullNanos("RevokedAt", r.RevokedAt)
	if err != nil {
		return fmt.Errorf("%s %q: %w", op, r.Name, err)
	}
	constraints := r.Constraints
	if constraints == nil {
		constraints = map[string][]string{} // "{}", not "null"
	}
	cj, err := json.Marshal(constraints)
	if err != nil {
		return fmt.Errorf("%s %q: encode constraints: %w", op, r.Name, err)
	}
	var explicit any // NULL: SQLite assigns the next id
	if id != nil {
		explicit = *id
	}
	res, err := t.tx.ExecContext(ctx,
		"INSERT INTO runners (id, name, token_hash, constraints, created_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?)",
		explicit, r.Name, r.TokenHash, string(cj), created, revoked)
	if err != nil {
		return wrapErr(fmt.Sprintf("%s %q", op, r.Name), err)
	}
	newID, err := res.LastInsertId()
	if err != nil {
		return wrapErr(fmt.Sprintf("%s %q", op, r.Name), err)
	}
	r.ID = newID
	return nil
}

// scanner is the shared part of *sql.Row and *sql.Rows.
type scanner interface{ Scan(dest ...any) error }

func scanRunner(sc scanner) (store.Runner, error) {
	var (
		r       store.Runner
		cj      string
		created int64
		revoked sql.NullInt64
	)
	if err := sc.Scan(&r.ID, &r.Name, &r.TokenHash, &cj, &created, &revoked); err != nil {
		return store.Runner{}, err
	}
	if err := json.Unmarshal([]byte(cj), &r.Constraints); err != nil {
		return store.Runner{}, fmt.Errorf("runner %d: decode constraints: %w: %w", r.ID, store.ErrCorrupt, err)
	}
	if len(r.Constraints) == 0 {
		r.Constraints = nil
	}
	r.CreatedAt = fromNanos(created)
	r.RevokedAt = fromNullNanos(revoked)
	return r, nil
}

func (t *txn) GetRunner(ctx context.Context, id int64) (store.Runner, error) {
	r, err := scanRunner(t.tx.QueryRowContext(ctx,
		"SELECT "+runnerColumns+" FROM runners WHERE id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return store.Runner{}, fmt.Errorf("runner %d: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return store.Runner{}, wrapErr(fmt.Sprintf("get runner %d", id), err)
	}
	return r, nil
}

func (t *txn) GetRunnerByTokenHash(ctx context.Context, h []byte) (store.Runner, error) {
	// The hash is a credential lookup key: it stays out of every message.
	if len(h) == 0 {
		return store.Runner{}, fmt.Errorf("runner by token hash: %w", store.ErrNotFound)
	}
	r, err := scanRunner(t.tx.QueryRowContext(ctx,
		"SELECT "+runnerColumns+" FROM runners WHERE token_hash = ?", h))
	if errors.Is(err, sql.ErrNoRows) {
		return store.Runner{}, fmt.Errorf("runner by token hash: %w", store.ErrNotFound)
	}
	if err != nil {
		return store.Runner{}, wrapErr("get runner by token hash", err)
	}
	return r, nil
}

func (t *txn) ListRunners(ctx context.Context) ([]store.Runner, error) {
	rows, err := t.tx.QueryContext(ctx, "SELECT "+runnerColumns+" FROM runners ORDER BY id")
	if err != nil {
		return nil, wrapErr("list runners", err)
	}
	defer rows.Close()
	var out []store.Runner
	for rows.Next() {
		r, err := scanRunner(rows)
		if err != nil {
			return nil, wrapErr("list runners", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, wrapErr("list runners", err)
	}
	return out, nil
}

func (t *txn) RevokeRunner(ctx context.Context, id int64, at time.Time) error {
	op := fmt.Sprintf("revoke runner %d", id)
	if err := t.writable(op); err != nil {
		return err
	}
	n, err := toNanos("revocation time", at)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	res, err := t.tx.ExecContext(ctx,
		"UPDATE runners SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", n, id)
	return t.oneRow(op, "no active runner with that id", res, err)
}

func (t *txn) ImportRunner(ctx context.Context, r *store.Runner) error {
	op := fmt.Sprintf("import runner %d", r.ID)
	if err := t.writable(op); err != nil {
		return err
	}
	if r.ID <= 0 {
		return fmt.Errorf("%s: the id must be positive", op)
	}
	id := r.ID
	// CreateRunner's checks and encoding, then the id put back: SQLite
	// takes an explicit rowid and moves AUTOINCREMENT's counter past it.
	if err := t.insertRunner(ctx, r, &id); err != nil {
		return err
	}
	return nil
}

// oneRow turns the result of an UPDATE or DELETE of one row by key into nil,
// or ErrNotFound when no row matched.
func (t *txn) oneRow(op, notFound string, res sql.Result, err error) error {
	if err != nil {
		return wrapErr(op, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return wrapErr(op, err)
	}
	if n == 0 {
		return fmt.Errorf("%s: %s: %w", op, notFound, store.ErrNotFound)
	}
	return nil
}

// Issuer signing keys.

func (t *txn) CreateSigningKey(ctx context.Context, k *store.SigningKey) error {
	op := fmt.Sprintf("create signing key %s#%s", k.Issuer, k.KID)
	if err := t.writable(op); err != nil {
		return err
	}
	switch {
	case k.Issuer == "" || k.KID == "":
		return fmt.Errorf("%s: issuer and kid must be set", op)
	case len(k.SealedPrivateKey) == 0:
		return fmt.Errorf("%s: no sealed private key", op)
	case len(k.PublicJWK) == 0:
		return fmt.Errorf("%s: no public JWK", op)
	}
	var (
		created, activate int64
		retire, expire    sql.NullInt64
		err               error
	)
	if created, err = toNanos("CreatedAt", k.CreatedAt); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if activate, err = toNanos("ActivateAt", k.ActivateAt); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if retire, err = toNullNanos("RetireAt", k.RetireAt); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if expire, err = toNullNanos("ExpireAt", k.ExpireAt); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	_, err = t.tx.ExecContext(ctx, `
		INSERT INTO signing_keys
			(issuer, kid, algorithm, public_jwk, sealed_private_key, created_at, activate_at, retire_at, expire_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		k.Issuer, k.KID, k.Algorithm, k.PublicJWK, k.SealedPrivateKey, created, activate, retire, expire)
	return wrapErr(op, err)
}

func (t *txn) ListSigningKeys(ctx context.Context, issuer string) ([]store.SigningKey, error) {
	return t.listSigningKeys(ctx, "list signing keys of "+issuer, "WHERE issuer = ? ORDER BY activate_at, kid", issuer)
}

func (t *txn) listSigningKeys(ctx context.Context, op, where string, args ...any) ([]store.SigningKey, error) {
	rows, err := t.tx.QueryContext(ctx, `
		SELECT issuer, kid, algorithm, public_jwk, sealed_private_key, created_at, activate_at, retire_at, expire_at
		FROM signing_keys `+where, args...)
	if err != nil {
		return nil, wrapErr(op, err)
	}
	defer rows.Close()
	var out []store.SigningKey
	for rows.Next() {
		var (
			k                 store.SigningKey
			created, activate int64
			retire, expire    sql.NullInt64
		)
		err := rows.Scan(&k.Issuer, &k.KID, &k.Algorithm, &k.PublicJWK, &k.SealedPrivateKey,
			&created, &activate, &retire, &expire)
		if err != nil {
			return nil, wrapErr(op, err)
		}
		k.CreatedAt, k.ActivateAt = fromNanos(created), fromNanos(activate)
		k.RetireAt, k.ExpireAt = fromNullNanos(retire), fromNullNanos(expire)
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, wrapErr(op, err)
	}
	return out, nil
}

func (t *txn) ListAllSigningKeys(ctx context.Context) ([]store.SigningKey, error) {
	return t.listSigningKeys(ctx, "list all signing keys", "ORDER BY issuer, activate_at, kid")
}

func (t *txn) UpdateSigningKeySchedule(ctx context.Context, issuer, kid string, retireAt, expireAt *time.Time) error {
	op := fmt.Sprintf("schedule signing key %s#%s", issuer, kid)
	if err := t.writable(op); err != nil {
		return err
	}
	retire, err := toNullNanos("RetireAt", retireAt)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	expire, err := toNullNanos("ExpireAt", expireAt)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	res, err := t.tx.ExecContext(ctx,
		"UPDATE signing_keys SET retire_at = ?, expire_at = ? WHERE issuer = ? AND kid = ?",
		retire, expire, issuer, kid)
	return t.oneRow(op, "no such key", res, err)
}

func (t *txn) PostponeSigningKeyActivation(ctx context.Context, issuer, kid string, activateAt time.Time) error {
	op := fmt.Sprintf("postpone signing key %s#%s", issuer, kid)
	if err := t.writable(op); err != nil {
		return err
	}
	at, err := toNullNanos("ActivateAt", &activateAt)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	// The WHERE clause makes "earlier" look like "no such key"; check
	// existence first so the two failures stay distinguishable.
	var current int64
	err = t.tx.QueryRowContext(ctx, "SELECT activate_at FROM signing_keys WHERE issuer = ? AND kid = ?", issuer, kid).Scan(&current)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%s: no such key: %w", op, store.ErrNotFound)
	}
	if err != nil {
		return wrapErr(op, err)
	}
	if at.Int64 < current {
		return fmt.Errorf("%s: activation can only move later", op)
	}
	res, err := t.tx.ExecContext(ctx, "UPDATE signing_keys SET activate_at = ? WHERE issuer = ? AND kid = ?", at, issuer, kid)
	return t.oneRow(op, "no such key", res, err)
}

func (t *txn) DeleteSigningKey(ctx context.Context, issuer, kid string) error {
	op := fmt.Sprintf("delete signing key %s#%s", issuer, kid)
	if err := t.writable(op); err != nil {
		return err
	}
	res, err := t.tx.ExecContext(ctx,
		"DELETE FROM signing_keys WHERE issuer = ? AND kid = ?", issuer, kid)
	return t.oneRow(op, "no such key", res, err)
}

// Secrets at rest.

// Access keys.

const accessKeyColumns = "id, user_name, sealed_secret, status, created_at"

func scanAccessKey(sc scanner) (store.AccessKey, error) {
	var k store.AccessKey
	var created int64
	if err := sc.Scan(&k.ID, &k.UserName, &k.SealedSecret, &k.Status, &created); err != nil {
		return store.AccessKey{}, err
	}
	k.CreatedAt = fromNanos(created)
	return k, nil
}

func (t *txn) CreateAccessKey(ctx context.Context, k *store.AccessKey) error {
	op := "create access key " + k.ID
	if err := t.writable(op); err != nil {
		return err
	}
	switch {
	case k.ID == "":
		return fmt.Errorf("%s: id must be set", op)
	case len(k.SealedSecret) == 0:
		return fmt.Errorf("%s: no sealed secret", op)
	case k.Status != "Active" && k.Status != "Inactive":
		return fmt.Errorf("%s: status %q is not Active or Inactive", op, k.Status)
	}
	created, err := toNanos("CreatedAt", k.CreatedAt)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	_, err = t.tx.ExecContext(ctx,
		"INSERT INTO access_keys ("+accessKeyColumns+") VALUES (?, ?, ?, ?, ?)",
		k.ID, k.UserName, k.SealedSecret, k.Status, created)
	return wrapErr(op, err)
}

func (t *txn) GetAccessKey(ctx context.Context, id string) (store.AccessKey, error) {
	k, err := scanAccessKey(t.tx.QueryRowContext(ctx, "SELECT "+accessKeyColumns+" FROM access_keys WHERE id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return store.AccessKey{}, fmt.Errorf("access key: %w", store.ErrNotFound)
	}
	if err != nil {
		return store.AccessKey{}, wrapErr("get access key", err)
	}
	return k, nil
}

func (t *txn) ListAccessKeys(ctx context.Context, userName string) ([]store.AccessKey, error) {
	return t.listAccessKeys(ctx, "WHERE user_name = ? ORDER BY created_at, id", userName)
}

func (t *txn) ListAllAccessKeys(ctx context.Context) ([]store.AccessKey, error) {
	return t.listAccessKeys(ctx, "ORDER BY id")
}

func (t *txn) listAccessKeys(ctx context.Context, where string, args ...any) ([]store.AccessKey, error) {
	rows, err := t.tx.QueryContext(ctx, "SELECT "+accessKeyColumns+" FROM access_keys "+where, args...)
	if err != nil {
		return nil, wrapErr("list access keys", err)
	}
	defer rows.Close()
	var out []store.AccessKey
	for rows.Next() {
		k, err := scanAccessKey(rows)
		if err != nil {
			return nil, wrapErr("list access keys", err)
		}
		out = append(out, k)
	}
	return out, wrapErr("list access keys", rows.Err())
}

// Reseal runs inside a savepoint, so it is all or nothing by itself: if fn
// fails part way, the values already replaced are restored even when the
// caller goes on to commit the surrounding transaction.
func (t *txn) Reseal(ctx context.Context, fn func(aad string, sealed []byte) ([]byte, error)) (n int, err error) {
	const op = "reseal"
	if err := t.writable(op); err != nil {
		return 0, err
	}
	if _, err := t.tx.ExecContext(ctx, "SAVEPOINT reseal"); err != nil {
		return 0, wrapErr(op, err)
	}
	defer func() {
		if err != nil {
			n = 0
			// Roll back to the savepoint, then release it so the
			// surrounding transaction carries on as it was before.
			if _, rbErr := t.tx.ExecContext(context.WithoutCancel(ctx), "ROLLBACK TO reseal; RELEASE reseal"); rbErr != nil {
				err = errors.Join(err, wrapErr(op+": roll back", rbErr))
			}
			return
		}
		if _, err = t.tx.ExecContext(ctx, "RELEASE reseal"); err != nil {
			n, err = 0, wrapErr(op, err)
		}
	}()

	// Every table with a sealed column is listed here; a migration that adds
	// one must add it here too (the conformance suite checks the counts).
	type sealedKey struct {
		issuer, kid string
		sealed      []byte
	}
	// Read everything first: the values are small and few, and updating rows
	// under an open cursor on the same table is asking for surprises.
	rows, err := t.tx.QueryContext(ctx,
		"SELECT issuer, kid, sealed_private_key FROM signing_keys ORDER BY issuer, kid")
	if err != nil {
		return 0, wrapErr(op+": read signing keys", err)
	}
	var keys []sealedKey
	for rows.Next() {
		var k sealedKey
		if err := rows.Scan(&k.issuer, &k.kid, &k.sealed); err != nil {
			rows.Close()
			return 0, wrapErr(op+": read signing keys", err)
		}
		keys = append(keys, k)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, wrapErr(op+": read signing keys", err)
	}

	for _, k := range keys {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		aad := store.SigningKeyAAD(k.issuer, k.kid)
		resealed, err := fn(aad, k.sealed)
		if err != nil {
			// The AAD names the record, not its contents: safe to report.
			return 0, fmt.Errorf("%s %s: %w", op, aad, err)
		}
		if len(resealed) == 0 {
			return 0, fmt.Errorf("%s %s: callback returned an empty value", op, aad)
		}
		if _, err := t.tx.ExecContext(ctx,
			"UPDATE signing_keys SET sealed_private_key = ? WHERE issuer = ? AND kid = ?",
			resealed, k.issuer, k.kid); err != nil {
			return 0, wrapErr(op+" "+aad, err)
		}
		n++
	}

	type sealedAccessKey struct {
		id     string
		sealed []byte
	}
	akRows, err := t.tx.QueryContext(ctx, "SELECT id, sealed_secret FROM access_keys ORDER BY id")
	if err != nil {
		return 0, wrapErr(op+": read access keys", err)
	}
	var aks []sealedAccessKey
	for akRows.Next() {
		var k sealedAccessKey
		if err := akRows.Scan(&k.id, &k.sealed); err != nil {
			akRows.Close()
			return 0, wrapErr(op+": read access keys", err)
		}
		aks = append(aks, k)
	}
	akRows.Close()
	if err := akRows.Err(); err != nil {
		return 0, wrapErr(op+": read access keys", err)
	}
	for _, k := range aks {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		aad := store.AccessKeyAAD(k.id)
		resealed, err := fn(aad, k.sealed)
		if err != nil {
			return 0, fmt.Errorf("%s %s: %w", op, aad, err)
		}
		if len(resealed) == 0 {
			return 0, fmt.Errorf("%s %s: callback returned an empty value", op, aad)
		}
		if _, err := t.tx.ExecContext(ctx, "UPDATE access_keys SET sealed_secret = ? WHERE id = ?", resealed, k.id); err != nil {
			return 0, wrapErr(op+" "+aad, err)
		}
		n++
	}
	kms, err := t.resealKMSKeys(ctx, fn)
	if err != nil {
		return 0, err
	}
	return n + kms, nil
}

func (t *txn) SetAccessKeyStatus(ctx context.Context, id, status string) error {
	op := "set access key status " + id
	if err := t.writable(op); err != nil {
		return err
	}
	if status != "Active" && status != "Inactive" {
		return fmt.Errorf("%s: status %q is not Active or Inactive", op, status)
	}
	res, err := t.tx.ExecContext(ctx, "UPDATE access_keys SET status = ? WHERE id = ?", status, id)
	return t.oneRow(op, "no such access key", res, err)
}

func (t *txn) DeleteAccessKey(ctx context.Context, id string) error {
	op := "delete access key " + id
	if err := t.writable(op); err != nil {
		return err
	}
	res, err := t.tx.ExecContext(ctx, "DELETE FROM access_keys WHERE id = ?", id)
	return t.oneRow(op, "no such access key", res, err)
}

// IAM records.

func iamOp(verb, kind, key string) string { return verb + " IAM " + kind + " " + key }

func checkIAMRecord(op string, r *IAMRecord) error {
	switch {
	case r.Kind == "" || r.Key == "":
		return fmt.Errorf("%s: kind and key must be set", op)
	case !json.Valid(r.Body):
		return fmt.Errorf("%s: body is not JSON", op)
	}
	return nil
}

// IAMRecord is store.IAMRecord, named here for brevity.
type IAMRecord = store.IAMRecord

func (t *txn) bumpIAMGeneration(ctx context.Context, op string) error {
	_, err := t.tx.ExecContext(ctx, "UPDATE iam_generation SET value = value + 1 WHERE id = 1")
	return wrapErr(op+": bump generation", err)
}

func (t *txn) CreateIAMRecord(ctx context.Context, r *IAMRecord) error {
	op := iamOp("create", r.Kind, r.Key)
	if err := t.writable(op); err != nil {
		return err
	}
	if err := checkIAMRecord(op, r); err != nil {
		return err
	}
	if _, err := t.tx.ExecContext(ctx, "INSERT INTO iam_records (kind, key, body) VALUES (?, ?, ?)", r.Kind, r.Key, r.Body); err != nil {
		return wrapErr(op, err)
	}
	return t.bumpIAMGeneration(ctx, op)
}

func (t *txn) UpdateIAMRecord(ctx context.Context, r *IAMRecord) error {
	op := iamOp("update", r.Kind, r.Key)
	if err := t.writable(op); err != nil {
		return err
	}
	if err := checkIAMRecord(op, r); err != nil {
		return err
	}
	res, err := t.tx.ExecContext(ctx, "UPDATE iam_records SET body = ? WHERE kind = ? AND key = ?", r.Body, r.Kind, r.Key)
	if err := t.oneRow(op, "no such record", res, err); err != nil {
		return err
	}
	return t.bumpIAMGeneration(ctx, op)
}

func (t *txn) GetIAMRecord(ctx context.Context, kind, key string) (IAMRecord, error) {
	r := IAMRecord{Kind: kind, Key: key}
	err := t.tx.QueryRowContext(ctx, "SELECT body FROM iam_records WHERE kind = ? AND key = ?", kind, key).Scan(&r.Body)
	if errors.Is(err, sql.ErrNoRows) {
		return IAMRecord{}, fmt.Errorf("%s: %w", iamOp("get", kind, key), store.ErrNotFound)
	}
	if err != nil {
		return IAMRecord{}, wrapErr(iamOp("get", kind, key), err)
	}
	return r, nil
}

func (t *txn) DeleteIAMRecord(ctx context.Context, kind, key string) error {
	op := iamOp("delete", kind, key)
	if err := t.writable(op); err != nil {
		return err
	}
	res, err := t.tx.ExecContext(ctx, "DELETE FROM iam_records WHERE kind = ? AND key = ?", kind, key)
	if err := t.oneRow(op, "no such record", res, err); err != nil {
		return err
	}
	return t.bumpIAMGeneration(ctx, op)
}

func (t *txn) ListIAMRecords(ctx context.Context, kind, keyPrefix string) ([]IAMRecord, error) {
	op := "list IAM " + kind
	// key >= prefix lets SQLite range-scan the primary key; the blob
	// comparison (bytes, not characters) keeps only the prefix's keys.
	rows, err := t.tx.QueryContext(ctx,
		"SELECT key, body FROM iam_records WHERE kind = ? AND key >= ? AND substr(CAST(key AS BLOB), 1, ?) = CAST(? AS BLOB) ORDER BY key",
		kind, keyPrefix, len(keyPrefix), keyPrefix)
	if err != nil {
		return nil, wrapErr(op, err)
	}
	defer rows.Close()
	var out []IAMRecord
	for rows.Next() {
		r := IAMRecord{Kind: kind}
		if err := rows.Scan(&r.Key, &r.Body); err != nil {
			return nil, wrapErr(op, err)
		}
		out = append(out, r)
	}
	return out, wrapErr(op, rows.Err())
}

func (t *txn) ListAllIAMRecords(ctx context.Context) ([]IAMRecord, error) {
	const op = "list all IAM records"
	rows, err := t.tx.QueryContext(ctx, "SELECT kind, key, body FROM iam_records ORDER BY kind, key")
	if err != nil {
		return nil, wrapErr(op, err)
	}
	defer rows.Close()
	var out []IAMRecord
	for rows.Next() {
		var r IAMRecord
		if err := rows.Scan(&r.Kind, &r.Key, &r.Body); err != nil {
			return nil, wrapErr(op, err)
		}
		out = append(out, r)
	}
	return out, wrapErr(op, rows.Err())
}

func (t *txn) CountIAMRecords(ctx context.Context, kind string) (int, error) {
	var n int
	err := t.tx.QueryRowContext(ctx, "SELECT count(*) FROM iam_records WHERE kind = ?", kind).Scan(&n)
	return n, wrapErr("count IAM "+kind, err)
}

func (t *txn) IAMGeneration(ctx context.Context) (uint64, error) {
	var n int64
	err := t.tx.QueryRowContext(ctx, "SELECT value FROM iam_generation WHERE id = 1").Scan(&n)
	return uint64(n), wrapErr("IAM generation", err)
}
