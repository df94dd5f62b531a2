package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/oidcfed/oidcfed/internal/store"
)

// errReadOnly is returned by every write attempted inside View (PostgreSQL
// would refuse it too, in a READ ONLY transaction; this says why).
var errReadOnly = errors.New("write attempted in a read-only (View) transaction")

// txn implements store.Tx on one pgx transaction.
type txn struct {
	tx       pgx.Tx
	readOnly bool
}

var _ store.Tx = (*txn)(nil)

func (t *txn) writable(op string) error {
	if t.readOnly {
		return fmt.Errorf("%s: %w", op, errReadOnly)
	}
	return nil
}

// write runs one write statement under a savepoint, so that its failure (a
// unique key taken, a serialization failure) leaves the transaction usable
// as it is on SQLite; a caller may handle ErrAlreadyExists and carry on.
// SAVEPOINT, the statement and RELEASE go in one pipelined round trip; only
// a failure costs a second one, to roll back to the savepoint.
func (t *txn) write(ctx context.Context, op, sql string, args ...any) (pgconn.CommandTag, error) {
	return t.guarded(ctx, op, nil, sql, args...)
}

// writeReturning is write for a statement with a RETURNING clause: its one
// row is scanned into dest.
func (t *txn) writeReturning(ctx context.Context, op string, dest []any, sql string, args ...any) error {
	_, err := t.guarded(ctx, op, dest, sql, args...)
	return err
}

func (t *txn) guarded(ctx context.Context, op string, dest []any, sql string, args ...any) (pgconn.CommandTag, error) {
	b := &pgx.Batch{}
	b.Queue("SAVEPOINT w")
	b.Queue(sql, args...)
	b.Queue("RELEASE SAVEPOINT w")
	br := t.tx.SendBatch(ctx, b)
	_, spErr := br.Exec()
	var tag pgconn.CommandTag
	var err error
	if dest != nil {
		err = br.QueryRow().Scan(dest...)
	} else {
		tag, err = br.Exec()
	}
	_, relErr := br.Exec()
	closeErr := br.Close()
	if err = errors.Join(spErr, err, relErr, closeErr); err == nil {
		return tag, nil
	}
	if spErr == nil {
		// The statement failed after the savepoint was made: undo it alone.
		if _, rbErr := t.tx.Exec(context.WithoutCancel(ctx), "ROLLBACK TO SAVEPOINT w; RELEASE SAVEPOINT w"); rbErr != nil {
			return tag, errors.Join(wrapErr(op, err), wrapErr(op+": roll back to savepoint", rbErr))
		}
	}
	return tag, wrapErr(op, firstCause(err))
}

// firstCause is the first of the errors errors.Join combined (the one
// that failed the pipeline; the rest only echo it).
func firstCause(err error) error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		if errs := j.Unwrap(); len(errs) > 0 {
			return errs[0]
		}
	}
	return err
}

// oneRow turns the result of an UPDATE or DELETE of one row by key into nil,
// or ErrNotFound when no row matched.
func oneRow(op, notFound string, tag pgconn.CommandTag, err error) error {
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("%s: %s: %w", op, notFound, store.ErrNotFound)
	}
	return nil
}

// Times are BIGINT nanoseconds since the epoch (years 1678 to 2262), as in
// the SQLite store.
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

func toNullNanos(field string, t *time.Time) (*int64, error) {
	if t == nil {
		return nil, nil
	}
	n, err := toNanos(field, *t)
	if err != nil {
		return nil, err
	}
	return &n, nil
}

func fromNanos(n int64) time.Time { return time.Unix(0, n).UTC() }

func fromNullNanos(n *int64) *time.Time {
	if n == nil {
		return nil
	}
	t := fromNanos(*n)
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

// insertRunner inserts r with id, or with the identity's next value when
// id is nil, and sets r.ID.
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
	if id != nil {
		r.ID = *id
		_, err := t.write(ctx, fmt.Sprintf("%s %q", op, r.Name),
			"INSERT INTO runners (id, name, token_hash, constraints, created_at, revoked_at) VALUES ($1, $2, $3, $4, $5, $6)",
			*id, r.Name, r.TokenHash, string(cj), created, revoked)
		return err
	}
	return t.writeReturning(ctx, fmt.Sprintf("%s %q", op, r.Name), []any{&r.ID},
		"INSERT INTO runners (name, token_hash, constraints, created_at, revoked_at) VALUES ($1, $2, $3, $4, $5) RETURNING id",
		r.Name, r.TokenHash, string(cj), created, revoked)
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
	if err := t.insertRunner(ctx, r, &id); err != nil {
		return err
	}
	// An explicit id does not move the identity's sequence: move it past,
	// so CreateRunner never hands out an imported id. (Sequences ignore
	// rollbacks: an import that fails leaves a gap, not a clash.)
	_, err := t.tx.Exec(ctx, `SELECT setval(pg_get_serial_sequence('runners', 'id'),
		GREATEST($1, coalesce(pg_sequence_last_value(pg_get_serial_sequence('runners', 'id')::regclass), 0)))`, id)
	return wrapErr(op+": advance the id sequence", err)
}

func scanRunner(row pgx.Row) (store.Runner, error) {
	var (
		r       store.Runner
		cj      string
		created int64
		revoked *int64
	)
	if err := row.Scan(&r.ID, &r.Name, &r.TokenHash, &cj, &created, &revoked); err != nil {
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
	r, err := scanRunner(t.tx.QueryRow(ctx, "SELECT "+runnerColumns+" FROM runners WHERE id = $1", id))
	if errors.Is(err, pgx.ErrNoRows) {
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
	r, err := scanRunner(t.tx.QueryRow(ctx, "SELECT "+runnerColumns+" FROM runners WHERE token_hash = $1", h))
	if errors.Is(err, pgx.ErrNoRows) {
		return store.Runner{}, fmt.Errorf("runner by token hash: %w", store.ErrNotFound)
	}
	if err != nil {
		return store.Runner{}, wrapErr("get runner by token hash", err)
	}
	return r, nil
}

func (t *txn) ListRunners(ctx context.Context) ([]store.Runner, error) {
	rows, err := t.tx.Query(ctx, "SELECT "+runnerColumns+" FROM runners ORDER BY id")
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
	return out, wrapErr("list runners", rows.Err())
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
	tag, err := t.write(ctx, op, "UPDATE runners SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL", n, id)
	return oneRow(op, "no active runner with that id", tag, err)
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
		retire, expire    *int64
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
	_, err = t.write(ctx, op, `
		INSERT INTO signing_keys
			(issuer, kid, algorithm, public_jwk, sealed_private_key, created_at, activate_at, retire_at, expire_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		k.Issuer, k.KID, k.Algorithm, k.PublicJWK, k.SealedPrivateKey, created, activate, retire, expire)
	return err
}

func (t *txn) ListSigningKeys(ctx context.Context, issuer string) ([]store.SigningKey, error) {
	return t.listSigningKeys(ctx, "list signing keys of "+issuer, "WHERE issuer = $1 ORDER BY activate_at, kid", issuer)
}

func (t *txn) ListAllSigningKeys(ctx context.Context) ([]store.SigningKey, error) {
	return t.listSigningKeys(ctx, "list all signing keys", "ORDER BY issuer, activate_at, kid")
}

func (t *txn) listSigningKeys(ctx context.Context, op, where string, args ...any) ([]store.SigningKey, error) {
	rows, err := t.tx.Query(ctx, `
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
			retire, expire    *int64
		)
		if err := rows.Scan(&k.Issuer, &k.KID, &k.Algorithm, &k.PublicJWK, &k.SealedPrivateKey,
			&created, &activate, &retire, &expire); err != nil {
			return nil, wrapErr(op, err)
		}
		k.CreatedAt, k.ActivateAt = fromNanos(created), fromNanos(activate)
		k.RetireAt, k.ExpireAt = fromNullNanos(retire), fromNullNanos(expire)
		out = append(out, k)
	}
	return out, wrapErr(op, rows.Err())
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
	tag, err := t.write(ctx, op, "UPDATE signing_keys SET retire_at = $1, expire_at = $2 WHERE issuer = $3 AND kid = $4",
		retire, expire, issuer, kid)
	return oneRow(op, "no such key", tag, err)
}

func (t *txn) PostponeSigningKeyActivation(ctx context.Context, issuer, kid string, activateAt time.Time) error {
	op := fmt.Sprintf("postpone signing key %s#%s", issuer, kid)
	if err := t.writable(op); err != nil {
		return err
	}
	at, err := toNanos("ActivateAt", activateAt)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	var current int64
	err = t.tx.QueryRow(ctx, "SELECT activate_at FROM signing_keys WHERE issuer = $1 AND kid = $2", issuer, kid).Scan(&current)
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("%s: no such key: %w", op, store.ErrNotFound)
	}
	if err != nil {
		return wrapErr(op, err)
	}
	if at < current {
		return fmt.Errorf("%s: activation can only move later", op)
	}
	tag, err := t.write(ctx, op, "UPDATE signing_keys SET activate_at = $1 WHERE issuer = $2 AND kid = $3", at, issuer, kid)
	return oneRow(op, "no such key", tag, err)
}

func (t *txn) DeleteSigningKey(ctx context.Context, issuer, kid string) error {
	op := fmt.Sprintf("delete signing key %s#%s", issuer, kid)
	if err := t.writable(op); err != nil {
		return err
	}
	tag, err := t.write(ctx, op, "DELETE FROM signing_keys WHERE issuer = $1 AND kid = $2", issuer, kid)
	return oneRow(op, "no such key", tag, err)
}

// Access keys.

const accessKeyColumns = "id, user_name, sealed_secret, status, created_at"

func scanAccessKey(row pgx.Row) (store.AccessKey, error) {
	var k store.AccessKey
	var created int64
	if err := row.Scan(&k.ID, &k.UserName, &k.SealedSecret, &k.Status, &created); err != nil {
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
	_, err = t.write(ctx, op, "INSERT INTO access_keys ("+accessKeyColumns+") VALUES ($1, $2, $3, $4, $5)",
		k.ID, k.UserName, k.SealedSecret, k.Status, created)
	return err
}

func (t *txn) GetAccessKey(ctx context.Context, id string) (store.AccessKey, error) {
	k, err := scanAccessKey(t.tx.QueryRow(ctx, "SELECT "+accessKeyColumns+" FROM access_keys WHERE id = $1", id))
	if errors.Is(err, pgx.ErrNoRows) {
		return store.AccessKey{}, fmt.Errorf("access key: %w", store.ErrNotFound)
	}
	if err != nil {
		return store.AccessKey{}, wrapErr("get access key", err)
	}
	return k, nil
}

func (t *txn) ListAccessKeys(ctx context.Context, userName string) ([]store.AccessKey, error) {
	return t.listAccessKeys(ctx, "WHERE user_name = $1 ORDER BY created_at, id", userName)
}

func (t *txn) ListAllAccessKeys(ctx context.Context) ([]store.AccessKey, error) {
	return t.listAccessKeys(ctx, "ORDER BY id")
}

func (t *txn) listAccessKeys(ctx context.Context, where string, args ...any) ([]store.AccessKey, error) {
	rows, err := t.tx.Query(ctx, "SELECT "+accessKeyColumns+" FROM access_keys "+where, args...)
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

func (t *txn) SetAccessKeyStatus(ctx context.Context, id, status string) error {
	op := "set access key status " + id
	if err := t.writable(op); err != nil {
		return err
	}
	if status != "Active" && status != "Inactive" {
		return fmt.Errorf("%s: status %q is not Active or Inactive", op, status)
	}
	tag, err := t.write(ctx, op, "UPDATE access_keys SET status = $1 WHERE id = $2", status, id)
	return oneRow(op, "no such access key", tag, err)
}

func (t *txn) DeleteAccessKey(ctx context.Context, id string) error {
	op := "delete access key " + id
	if err := t.writable(op); err != nil {
		return err
	}
	tag, err := t.write(ctx, op, "DELETE FROM access_keys WHERE id = $1", id)
	return oneRow(op, "no such access key", tag, err)
}

// IAM records.

func iamOp(verb, kind, key string) string { return verb + " IAM " + kind + " " + key }

func checkIAMRecord(op string, r *store.IAMRecord) error {
	switch {
	case r.Kind == "" || r.Key == "":
		return fmt.Errorf("%s: kind and key must be set", op)
	case !json.Valid(r.Body):
		return fmt.Errorf("%s: body is not JSON", op)
	}
	return nil
}

// bumpIAMGeneration runs after the record's own write succeeded; a failure
// here (a serialization failure on the counter's row) leaves the record
// written in the transaction, which fn then fails and Update reruns.
func (t *txn) bumpIAMGeneration(ctx context.Context, op string) error {
	_, err := t.tx.Exec(ctx, "UPDATE iam_generation SET value = value + 1 WHERE id = 1")
	return wrapErr(op+": bump generation", err)
}

func (t *txn) CreateIAMRecord(ctx context.Context, r *store.IAMRecord) error {
	op := iamOp("create", r.Kind, r.Key)
	if err := t.writable(op); err != nil {
		return err
	}
	if err := checkIAMRecord(op, r); err != nil {
		return err
	}
	if _, err := t.write(ctx, op, "INSERT INTO iam_records (kind, key, body) VALUES ($1, $2, $3)", r.Kind, r.Key, r.Body); err != nil {
		return err
	}
	return t.bumpIAMGeneration(ctx, op)
}

func (t *txn) UpdateIAMRecord(ctx context.Context, r *store.IAMRecord) error {
	op := iamOp("update", r.Kind, r.Key)
	if err := t.writable(op); err != nil {
		return err
	}
	if err := checkIAMRecord(op, r); err != nil {
		return err
	}
	tag, err := t.write(ctx, op, "UPDATE iam_records SET body = $1 WHERE kind = $2 AND key = $3", r.Body, r.Kind, r.Key)
	if err := oneRow(op, "no such record", tag, err); err != nil {
		return err
	}
	return t.bumpIAMGeneration(ctx, op)
}

func (t *txn) GetIAMRecord(ctx context.Context, kind, key string) (store.IAMRecord, error) {
	r := store.IAMRecord{Kind: kind, Key: key}
	err := t.tx.QueryRow(ctx, "SELECT body FROM iam_records WHERE kind = $1 AND key = $2", kind, key).Scan(&r.Body)
	if errors.Is(err, pgx.ErrNoRows) {
		return store.IAMRecord{}, fmt.Errorf("%s: %w", iamOp("get", kind, key), store.ErrNotFound)
	}
	if err != nil {
		return store.IAMRecord{}, wrapErr(iamOp("get", kind, key), err)
	}
	return r, nil
}

func (t *txn) DeleteIAMRecord(ctx context.Context, kind, key string) error {
	op := iamOp("delete", kind, key)
	if err := t.writable(op); err != nil {
		return err
	}
	tag, err := t.write(ctx, op, "DELETE FROM iam_records WHERE kind = $1 AND key = $2", kind, key)
	if err := oneRow(op, "no such record", tag, err); err != nil {
		return err
	}
	return t.bumpIAMGeneration(ctx, op)
}

func (t *txn) ListIAMRecords(ctx context.Context, kind, keyPrefix string) ([]store.IAMRecord, error) {
	op := "list IAM " + kind
	// key >= prefix lets PostgreSQL range-scan the primary key; the
	// columns are COLLATE "C", so both the range and starts_with compare
	// bytes, as SQLite does.
	rows, err := t.tx.Query(ctx,
		"SELECT key, body FROM iam_records WHERE kind = $1 AND key >= $2 AND starts_with(key, $2) ORDER BY key",
		kind, keyPrefix)
	if err != nil {
		return nil, wrapErr(op, err)
	}
	defer rows.Close()
	var out []store.IAMRecord
	for rows.Next() {
		r := store.IAMRecord{Kind: kind}
		if err := rows.Scan(&r.Key, &r.Body); err != nil {
			return nil, wrapErr(op, err)
		}
		out = append(out, r)
	}
	return out, wrapErr(op, rows.Err())
}

func (t *txn) ListAllIAMRecords(ctx context.Context) ([]store.IAMRecord, error) {
	const op = "list all IAM records"
	rows, err := t.tx.Query(ctx, "SELECT kind, key, body FROM iam_records ORDER BY kind, key")
	if err != nil {
		return nil, wrapErr(op, err)
	}
	defer rows.Close()
	var out []store.IAMRecord
	for rows.Next() {
		var r store.IAMRecord
		if err := rows.Scan(&r.Kind, &r.Key, &r.Body); err != nil {
			return nil, wrapErr(op, err)
		}
		out = append(out, r)
	}
	return out, wrapErr(op, rows.Err())
}

func (t *txn) CountIAMRecords(ctx context.Context, kind string) (int, error) {
	var n int
	err := t.tx.QueryRow(ctx, "SELECT count(*) FROM iam_records WHERE kind = $1", kind).Scan(&n)
	return n, wrapErr("count IAM "+kind, err)
}

func (t *txn) IAMGeneration(ctx context.Context) (uint64, error) {
	var n int64
	err := t.tx.QueryRow(ctx, "SELECT value FROM iam_generation WHERE id = 1").Scan(&n)
	return uint64(n), wrapErr("IAM generation", err)
}

// Secrets at rest.

// sealedColumn is one table's sealed values, as Reseal walks them.
type sealedColumn struct {
	what   string // for messages
	query  string // selects the row's key parts and the sealed value, in key order
	update string // sets the sealed value ($1) of the row with the key parts ($2, …)
	// aad names the record from its key parts.
	aad func(key []string) string
}

// sealedColumns lists every sealed column in the schema; a migration that
// adds one adds it here (the conformance suite checks the counts).
var sealedColumns = []sealedColumn{
	{"signing keys", "SELECT issuer, kid, sealed_private_key FROM signing_keys ORDER BY issuer, kid",
		"UPDATE signing_keys SET sealed_private_key = $1 WHERE issuer = $2 AND kid = $3",
		func(k []string) string { return store.SigningKeyAAD(k[0], k[1]) }},
	{"access keys", "SELECT id, sealed_secret FROM access_keys ORDER BY id",
		"UPDATE access_keys SET sealed_secret = $1 WHERE id = $2",
		func(k []string) string { return store.AccessKeyAAD(k[0]) }},
	{"KMS keys", "SELECT id, sealed_material FROM kms_keys ORDER BY id",
		"UPDATE kms_keys SET sealed_material = $1 WHERE id = $2",
		func(k []string) string { return store.KMSKeyAAD(k[0]) }},
}

// Reseal runs inside a savepoint, so it is all or nothing by itself: if fn
// fails part way, the values already replaced are restored even when the
// caller goes on to commit the surrounding transaction.
func (t *txn) Reseal(ctx context.Context, fn func(aad string, sealed []byte) ([]byte, error)) (n int, err error) {
	const op = "reseal"
	if err := t.writable(op); err != nil {
		return 0, err
	}
	if _, err := t.tx.Exec(ctx, "SAVEPOINT reseal"); err != nil {
		return 0, wrapErr(op, err)
	}
	defer func() {
		if err != nil {
			n = 0
			if _, rbErr := t.tx.Exec(context.WithoutCancel(ctx), "ROLLBACK TO SAVEPOINT reseal; RELEASE SAVEPOINT reseal"); rbErr != nil {
				err = errors.Join(err, wrapErr(op+": roll back", rbErr))
			}
			return
		}
		if _, err = t.tx.Exec(ctx, "RELEASE SAVEPOINT reseal"); err != nil {
			n, err = 0, wrapErr(op, err)
		}
	}()
	for _, col := range sealedColumns {
		type sealedRow struct {
			key    []string
			sealed []byte
		}
		// Read everything first: the values are few and small, and the
		// connection cannot run the updates while a cursor is open on it.
		rows, err := t.tx.Query(ctx, col.query)
		if err != nil {
			return 0, wrapErr(op+": read "+col.what, err)
		}
		var all []sealedRow
		for rows.Next() {
			vals, err := rows.Values()
			if err != nil {
				rows.Close()
				return 0, wrapErr(op+": read "+col.what, err)
			}
			var r sealedRow
			for _, v := range vals[:len(vals)-1] {
				r.key = append(r.key, v.(string))
			}
			r.sealed, _ = vals[len(vals)-1].([]byte)
			all = append(all, r)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return 0, wrapErr(op+": read "+col.what, err)
		}
		for _, r := range all {
			if err := ctx.Err(); err != nil {
				return 0, err
			}
			aad := col.aad(r.key)
			resealed, err := fn(aad, r.sealed)
			if err != nil {
				// The AAD names the record, not its contents: safe to report.
				return 0, fmt.Errorf("%s %s: %w", op, aad, err)
			}
			if len(resealed) == 0 {
				return 0, fmt.Errorf("%s %s: callback returned an empty value", op, aad)
			}
			args := []any{resealed}
			for _, k := range r.key {
				args = append(args, k)
			}
			if _, err := t.tx.Exec(ctx, col.update, args...); err != nil {
				return 0, wrapErr(op+" "+aad, err)
			}
			n++
		}
	}
	return n, nil
}
