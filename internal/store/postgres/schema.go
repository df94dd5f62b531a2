package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/oidcfed/oidcfed/internal/store"
)

// Migrations are compiled into the binary, named NNNN_description.sql,
// numbered from 1 without gaps, and never edited once released.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

type migration struct {
	version int
	name    string
	sql     string
}

var loadMigrations = sync.OnceValues(func() ([]migration, error) {
	return parseMigrations(migrationFiles, "migrations")
})

func parseMigrations(fsys fs.FS, dir string) ([]migration, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, err
	}
	var ms []migration
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".sql")
		if !ok || e.IsDir() {
			continue
		}
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %s: name must start with a positive number and '_'", e.Name())
		}
		b, err := fs.ReadFile(fsys, path.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: name, sql: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	for i, m := range ms {
		if m.version != i+1 {
			return nil, fmt.Errorf("migration %s: versions must run 1, 2, 3... without gaps or repeats", m.name)
		}
	}
	if len(ms) == 0 {
		return nil, errors.New("no migrations embedded")
	}
	return ms, nil
}

// migrationsMarker is the comment on schema_migrations that says an oidcfed
// store owns the schema (SQLite's application_id, for PostgreSQL).
const migrationsMarker = "oidcfed schema migrations"

// lockClass is the first key of the advisory locks the store takes ("oidf");
// the second is derived from the schema name, so stores in different
// schemas of one database do not wait for each other.
const lockClass = 0x6f696466

// schemaState is what Open learns about the schema before trusting it.
type schemaState struct {
	tables        int   // tables in the schema, schema_migrations included
	hasMigrations bool  // a schema_migrations table exists
	marked        bool  // it carries migrationsMarker
	versions      []int // schema_migrations.version, ascending
}

// version interprets st: the schema's version (0 for an empty schema Open
// may initialise) or why it must not be touched.
func (st schemaState) version(known int) (int, error) {
	if !st.hasMigrations {
		if st.tables > 0 {
			return 0, fmt.Errorf("%w: not an oidcfed database: the schema has %d tables but no schema_migrations", store.ErrCorrupt, st.tables)
		}
		return 0, nil
	}
	if !st.marked {
		return 0, fmt.Errorf("%w: not an oidcfed database: its schema_migrations table is some other program's", store.ErrCorrupt)
	}
	for i, v := range st.versions {
		if v != i+1 {
			return 0, fmt.Errorf("%w: schema_migrations lists versions %v, want 1..%d without gaps", store.ErrCorrupt, st.versions, len(st.versions))
		}
	}
	n := len(st.versions)
	if n > known {
		return 0, fmt.Errorf("%w: the database is at version %d, this binary knows versions up to %d; refusing to start: upgrade oidcfed or restore a backup taken before the upgrade", ErrSchemaTooNew, n, known)
	}
	return n, nil
}

type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

func inspect(ctx context.Context, q querier, schema string) (schemaState, error) {
	var st schemaState
	var comment *string
	err := q.QueryRow(ctx, `
		SELECT (SELECT count(*) FROM pg_tables WHERE schemaname = $1),
		       to_regclass(quote_ident($1) || '.schema_migrations') IS NOT NULL,
		       obj_description(to_regclass(quote_ident($1) || '.schema_migrations'), 'pg_class')`, schema).
		Scan(&st.tables, &st.hasMigrations, &comment)
	if err != nil || !st.hasMigrations {
		return st, err
	}
	st.marked = comment != nil && *comment == migrationsMarker
	if !st.marked {
		return st, nil
	}
	rows, err := q.Query(ctx, "SELECT version FROM "+pgx.Identifier{schema, "schema_migrations"}.Sanitize()+" ORDER BY version")
	if err != nil {
		return st, err
	}
	defer rows.Close()
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			return st, err
		}
		st.versions = append(st.versions, v)
	}
	return st, rows.Err()
}

// init learns the schema, then brings it up to date under an advisory
// lock: replicas starting at once against a fresh database migrate it
// once, the others wait and find it done.
func (s *Store) init(ctx context.Context) error {
	ms, err := loadMigrations()
	if err != nil {
		return fmt.Errorf("postgres store: embedded migrations: %w", err)
	}
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return s.errorf("connect: %w", err)
	}
	defer conn.Release()
	var schema *string
	if err := conn.QueryRow(ctx, "SELECT current_schema()").Scan(&schema); err != nil {
		return s.errorf("%w", wrapErr("read the current schema", err))
	}
	if schema == nil {
		return s.errorf("the search_path names no existing schema: create it, or fix search_path in the database URL")
	}
	s.schema = *schema
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1, hashtext($2))", lockClass, s.schema); err != nil {
		return s.errorf("%w", wrapErr("lock for migration", err))
	}
	defer func() {
		_, _ = conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1, hashtext($2))", lockClass, s.schema)
	}()
	st, err := inspect(ctx, conn, s.schema)
	if err != nil {
		return s.errorf("%w", wrapErr("read schema", err))
	}
	cur, err := st.version(len(ms))
	if err != nil {
		return s.errorf("schema %s: %w; the store was NOT re-initialised", s.schema, err)
	}
	s.migratedFrom, s.migratedTo = cur, len(ms)
	if cur == len(ms) {
		return nil
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		return s.errorf("%w", wrapErr("begin migration", err))
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if !st.hasMigrations {
		if _, err := tx.Exec(ctx, `
			CREATE TABLE schema_migrations (
				version    INTEGER PRIMARY KEY,
				name       TEXT    NOT NULL,
				applied_at BIGINT  NOT NULL
			);
			COMMENT ON TABLE schema_migrations IS '`+migrationsMarker+`'`); err != nil {
			return s.errorf("%w", wrapErr("create schema_migrations", err))
		}
	}
	now := time.Now().UnixNano()
	for _, m := range ms[cur:] {
		if _, err := tx.Exec(ctx, m.sql); err != nil {
			return s.errorf("%w", wrapErr("migration "+m.name, err))
		}
		if _, err := tx.Exec(ctx, "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
			m.version, m.name, now); err != nil {
			return s.errorf("%w", wrapErr("record migration "+m.name, err))
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return s.errorf("%w", wrapErr("commit migrations", err))
	}
	return nil
}

// Migrated says which schema version Open found and which it left: equal
// when there was nothing to do.
func (s *Store) Migrated() (from, to int) { return s.migratedFrom, s.migratedTo }

// Schema is the PostgreSQL schema the store's tables are in.
func (s *Store) Schema() string { return s.schema }

// Pool is the connection pool, for tests that inspect the database.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }
