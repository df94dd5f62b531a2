// Package postgres is oidcfed's shared store: a PostgreSQL database that
// several server replicas use at once, reached through pgx's pool.
//
// Concurrency model. Update runs its closure in a SERIALIZABLE transaction:
// PostgreSQL then guarantees that concurrent transactions commit as if one
// ran after the other, or fails one with a serialization failure (SQLSTATE
// 40001) or, where locks cross, a deadlock (40P01). Both are reported as
// store.ErrConflict, and Update reruns the whole closure through
// store.RetryConflicts, so read-check-write closures (a key rotation decided
// by whichever replica gets there first, an IAM quota check) act once, as on
// SQLite whose single writer serialises them outright. View runs in a
// REPEATABLE READ READ ONLY transaction: one snapshot for all its reads, and
// it never waits for or blocks a writer.
//
// A write that fails (a unique key taken, say) must leave the transaction
// usable, as it does on SQLite, so each write statement that can fail runs
// under a savepoint sent in the same round trip (see txn.write).
//
// Replicas cache what they read on the hot path. Triggers notify the channel
// oidcfed_<schema> with a store.Topic on every committed change to a cached
// table, and Watch relays those notifications; see Watch for what happens
// when the listening connection is lost.
//
// Schema. Migrations are embedded and applied by Open under an advisory lock,
// so replicas starting together migrate once. The tables live in the first
// schema of the connection's search_path (public unless the DSN sets
// search_path), which lets one database hold several stores (the tests give
// each test its own schema). A schema holding tables that are not an oidcfed
// store is refused with store.ErrCorrupt, never "repaired".
package postgres

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/oidcfed/oidcfed/internal/store"
)

// Config is how to reach the database.
type Config struct {
	// URL is a postgres:// (or postgresql://) URL or a libpq key=value
	// string. Pool settings may ride along as pgxpool reads them
	// (pool_max_conns=…), and libpq's (sslmode, connect_timeout,
	// search_path, …) are honoured.
	URL string
	// PasswordFile, when set, holds the password (one line); it wins over
	// one in URL. Without either, libpq's PGPASSWORD and ~/.pgpass apply.
	PasswordFile string
	// MaxConns caps the pool (default: what the URL says, else 10).
	MaxConns int32
	// ConnectTimeout bounds each connection attempt (default: the URL's
	// connect_timeout, else 5 s).
	ConnectTimeout time.Duration
	// StatementTimeout bounds each statement on the server (default 30 s;
	// the URL's statement_timeout wins): a request must not hang on a lock
	// forever, whatever its context says.
	StatementTimeout time.Duration
}

// defaultMaxConns: a replica's concurrent store work is the audit log's one
// committing transaction, cache misses and admin traffic; the hot path is
// served from caches, so a small pool suffices and leaves the database's
// connection budget to the other replicas.
const defaultMaxConns = 10

// Redact returns url with its password replaced by "xxxxx", for logs and
// error messages: DSN passwords are never logged.
func Redact(dsn string) string {
	scheme, rest, isURL := strings.Cut(dsn, "://")
	if !isURL {
		// key=value form: blank out password=…
		fields := strings.Fields(dsn)
		for i, f := range fields {
			if k, _, ok := strings.Cut(f, "="); ok && strings.EqualFold(k, "password") {
				fields[i] = k + "=xxxxx"
			}
		}
		return strings.Join(fields, " ")
	}
	// By hand rather than with url.Parse, which gives up on the very
	// URLs whose errors get logged (a bad port, say).
	authority, tail := rest, ""
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		authority, tail = rest[:i], rest[i:]
	}
	if at := strings.LastIndexByte(authority, '@'); at >= 0 {
		if user, _, hasPW := strings.Cut(authority[:at], ":"); hasPW {
			authority = user + ":xxxxx" + authority[at:]
		}
	}
	if base, query, ok := strings.Cut(tail, "?"); ok {
		params := strings.Split(query, "&")
		for i, p := range params {
			if k, _, ok := strings.Cut(p, "="); ok && strings.EqualFold(k, "password") {
				params[i] = k + "=xxxxx"
			}
		}
		tail = base + "?" + strings.Join(params, "&")
	}
	return scheme + "://" + authority + tail
}

// IsURL reports whether s names a PostgreSQL database (postgres:// or
// postgresql://), as --store and the config's store.url take it.
func IsURL(s string) bool {
	return strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://")
}

// Store is an oidcfed database in PostgreSQL. It implements store.Store and
// store.Notifier and is safe for concurrent use by many goroutines and many
// processes.
type Store struct {
	pool   *pgxpool.Pool
	schema string // where the tables are; names the notification channel
	where  string // host:port/database, for messages (no credentials)

	migratedFrom, migratedTo int // see Migrated

	// watchers counts running Watch calls, deaf those of them that are
	// not listening right now: Ping fails while any is deaf.
	watchers, deaf atomic.Int32
}

var (
	_ store.Store    = (*Store)(nil)
	_ store.Notifier = (*Store)(nil)
)

// ErrSchemaTooNew is returned by Open when a newer oidcfed migrated the
// database. Nothing is changed: upgrade the binary.
var ErrSchemaTooNew = errors.New("store: database schema is newer than this binary")

// Open connects, checks that the schema is an oidcfed store (or empty) and
// applies the migrations this binary has that the database lacks. A
// database that is unreachable fails Open (bounded by ConnectTimeout): a
// server does not start without its store.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	pc, err := poolConfig(cfg)
	if err != nil {
		return nil, err
	}
	s := &Store{where: describe(pc.ConnConfig)}
	if s.pool, err = pgxpool.NewWithConfig(ctx, pc); err != nil {
		return nil, s.errorf("connect: %w", err)
	}
	if err := s.init(ctx); err != nil {
		s.pool.Close()
		return nil, err
	}
	return s, nil
}

func poolConfig(cfg Config) (*pgxpool.Config, error) {
	if cfg.URL == "" {
		return nil, errors.New("postgres store: no database URL")
	}
	pc, err := pgxpool.ParseConfig(cfg.URL)
	if err != nil {
		// pgx's message quotes the string it could not parse: keep the
		// password out of it.
		return nil, fmt.Errorf("postgres store %s: parse the database URL: %w", Redact(cfg.URL), scrub(err, cfg.URL))
	}
	if cfg.PasswordFile != "" {
		b, err := os.ReadFile(cfg.PasswordFile)
		if err != nil {
			return nil, fmt.Errorf("postgres store: password file: %w", err)
		}
		pw, _, _ := strings.Cut(string(b), "\n")
		pc.ConnConfig.Password = strings.TrimRight(pw, "\r")
	}
	switch {
	case cfg.MaxConns > 0:
		pc.MaxConns = cfg.MaxConns
	case !strings.Contains(cfg.URL, "pool_max_conns"):
		pc.MaxConns = defaultMaxConns
	}
	switch {
	case cfg.ConnectTimeout > 0:
		pc.ConnConfig.ConnectTimeout = cfg.ConnectTimeout
	case pc.ConnConfig.ConnectTimeout == 0:
		pc.ConnConfig.ConnectTimeout = 5 * time.Second
	}
	if pc.ConnConfig.RuntimeParams == nil {
		pc.ConnConfig.RuntimeParams = map[string]string{}
	}
	if _, ok := pc.ConnConfig.RuntimeParams["statement_timeout"]; !ok {
		st := cfg.StatementTimeout
		if st <= 0 {
			st = 30 * time.Second
		}
		pc.ConnConfig.RuntimeParams["statement_timeout"] = fmt.Sprint(st.Milliseconds())
	}
	// A transaction left open by a crashed or stuck client must not hold
	// its locks (and the rows it read for SERIALIZABLE) for ever.
	if _, ok := pc.ConnConfig.RuntimeParams["idle_in_transaction_session_timeout"]; !ok {
		pc.ConnConfig.RuntimeParams["idle_in_transaction_session_timeout"] = "60000"
	}
	if _, ok := pc.ConnConfig.RuntimeParams["application_name"]; !ok {
		pc.ConnConfig.RuntimeParams["application_name"] = "oidcfed"
	}
	// Idle connections are checked every few seconds, so after the
	// database restarts the pool has replaced its dead connections before
	// most requests would have tried one.
	if !strings.Contains(cfg.URL, "pool_health_check_period") {
		pc.HealthCheckPeriod = 5 * time.Second
	}
	return pc, nil
}

// scrub replaces the URL (and its password) in err's text, for errors of
// pgx's parser, which quote their input.
func scrub(err error, dsn string) error {
	msg := err.Error()
	if strings.Contains(msg, dsn) {
		msg = strings.ReplaceAll(msg, dsn, Redact(dsn))
	}
	if u, perr := url.Parse(dsn); perr == nil {
		if pw, ok := u.User.Password(); ok && pw != "" {
			msg = strings.ReplaceAll(msg, pw, "xxxxx")
		}
	}
	return errors.New(msg)
}

// describe names the database for messages: host:port/database, never the
// user's password.
func describe(cc *pgx.ConnConfig) string {
	return fmt.Sprintf("%s:%d/%s", cc.Host, cc.Port, cc.Database)
}

func (s *Store) errorf(format string, args ...any) error {
	return fmt.Errorf("postgres store %s: "+format, append([]any{s.where}, args...)...)
}

// Where names the database (host:port/database and schema) without
// credentials, for logs.
func (s *Store) Where() string { return s.where + " schema " + s.schema }

// View implements store.Store: a REPEATABLE READ READ ONLY transaction, so
// every read in fn sees one snapshot. Writes fail.
func (s *Store) View(ctx context.Context, fn func(store.Tx) error) error {
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return wrapErr("begin read transaction", err)
	}
	// Nothing to commit; ending the transaction returns the connection.
	defer tx.Rollback(context.WithoutCancel(ctx))
	return fn(&txn{tx: tx, readOnly: true})
}

// Update implements store.Store: fn runs in a SERIALIZABLE transaction,
// rerun from the start when PostgreSQL reports a serialization failure or
// a deadlock.
func (s *Store) Update(ctx context.Context, fn func(store.Tx) error) error {
	return store.RetryConflicts(ctx, func() error { return s.update(ctx, fn) })
}

func (s *Store) update(ctx context.Context, fn func(store.Tx) error) error {
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.Serializable})
	if err != nil {
		return wrapErr("begin write transaction", err)
	}
	// Always roll back unless committed, also when fn panics. Without
	// cancellation: a cancelled request must still release its locks.
	defer tx.Rollback(context.WithoutCancel(ctx))
	if err := fn(&txn{tx: tx}); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return wrapErr("commit", err)
	}
	return nil
}

// Ping implements store.Store: one round trip on a pooled connection, to
// a table only an oidcfed store has, so /readyz fails while the database
// is down or the schema is gone, and passes again once it is back.
func (s *Store) Ping(ctx context.Context) error {
	var one int
	if err := s.pool.QueryRow(ctx, "SELECT 1 FROM schema_migrations LIMIT 1").Scan(&one); err != nil {
		return wrapErr("ping", err)
	}
	if s.deaf.Load() > 0 {
		return errNotListening
	}
	return nil
}

// Close implements store.Store.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// Listen on a connection of its own: LISTEN holds a session, which a pooled
// connection handed back to the pool would lose.
func (s *Store) connect(ctx context.Context) (*pgx.Conn, error) {
	return pgx.ConnectConfig(ctx, s.pool.Config().ConnConfig.Copy())
}

// classify maps a PostgreSQL error to the store sentinel it stands for, or
// nil.
func classify(err error) error {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return nil
	}
	switch pe.Code {
	case "23505": // unique_violation
		return store.ErrAlreadyExists
	case "23503": // foreign_key_violation: the key an alias names is gone
		return store.ErrNotFound
	case "40001", "40P01": // serialization_failure, deadlock_detected
		return store.ErrConflict
	case "XX001", "XX002": // data_corrupted, index_corrupted
		return store.ErrCorrupt
	}
	return nil
}

// wrapErr adds what was being done to a driver error and, when the error
// means one, the store sentinel. PostgreSQL's messages name constraints,
// tables and columns; the detail that would quote key values (DETAIL:
// Key (token_hash)=(…) already exists) is never included.
func wrapErr(op string, err error) error {
	if err == nil {
		return nil
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		// Drop Detail: it quotes the offending values, which may be a
		// token hash or a sealed key.
		short := fmt.Errorf("%s (SQLSTATE %s)", pe.Message, pe.Code)
		if sentinel := classify(err); sentinel != nil {
			return fmt.Errorf("%s: %w: %w", op, sentinel, short)
		}
		return fmt.Errorf("%s: %w", op, short)
	}
	return fmt.Errorf("%s: %w", op, err)
}
