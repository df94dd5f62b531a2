package sqlite

import (
	"context"
	"database/sql"
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

	"github.com/oidcfed/oidcfed/internal/store"
)

// Migrations are compiled into the binary so a deployed server can never
// run against a schema file set that does not match its code. They are named
// NNNN_description.sql, numbered from 1 without gaps, and never edited once
// released: a change is a new file.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

type migration struct {
	version int
	name    string // file name without .sql, recorded in schema_migrations
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

// dbState is what Open learns about a database file before trusting it.
type dbState struct {
	objects       int   // rows in sqlite_schema: tables, indexes, triggers, views
	hasMigrations bool  // a schema_migrations table exists
	appID         int64 // PRAGMA application_id
	versions      []int // schema_migrations.version, ascending
}

// errForeign marks a database that is intact SQLite but not an oidcfed
// store, as opposed to a file SQLite cannot read at all. Both are reported as
// store.ErrCorrupt.
var errForeign = errors.New("not an oidcfed database")

// version interprets st: the schema version the file is at (0 for a fresh
// database that Open may initialise) or why the file must not be touched.
func (st dbState) version(known int) (int, error) {
	if st.appID != 0 && st.appID != applicationID {
		return 0, fmt.Errorf("%w: application_id is %#x, oidcfed uses %#x", errForeign, st.appID, applicationID)
	}
	if !st.hasMigrations {
		if st.objects > 0 {
			// Some other program's database. Creating our tables next to
			// its would be the silent re-initialisation we never do.
			return 0, fmt.Errorf("%w: it has %d schema objects but no schema_migrations table", errForeign, st.objects)
		}
		return 0, nil
	}
	if st.appID != applicationID {
		return 0, fmt.Errorf("%w: it has a schema_migrations table but application_id %#x", errForeign, st.appID)
	}
	for i, v := range st.versions {
		if v != i+1 {
			return 0, fmt.Errorf("schema_migrations lists versions %v, want 1..%d without gaps", st.versions, len(st.versions))
		}
	}
	n := len(st.versions)
	if n == 0 && st.objects > 1 {
		return 0, errors.New("schema_migrations is empty but the database has other schema objects")
	}
	if n > known {
		return 0, fmt.Errorf("%w: the database is at version %d, this binary knows versions up to %d; refusing to start: upgrade oidcfed or restore a backup taken before the upgrade", ErrSchemaTooNew, n, known)
	}
	return n, nil
}

// querier is what inspect needs; both *sql.Tx and *sql.Conn have it.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

func inspect(ctx context.Context, q querier) (dbState, error) {
	var st dbState
	if err := q.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_schema").Scan(&st.objects); err != nil {
		return st, err
	}
	if err := q.QueryRowContext(ctx, "PRAGMA application_id").Scan(&st.appID); err != nil {
		return st, err
	}
	err := q.QueryRowContext(ctx,
		"SELECT count(*) > 0 FROM sqlite_schema WHERE type = 'table' AND name = 'schema_migrations'").
		Scan(&st.hasMigrations)
	if err != nil || !st.hasMigrations {
		return st, err
	}
	rows, err := q.QueryContext(ctx, "SELECT version FROM schema_migrations ORDER BY version")
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

// quickCheck runs PRAGMA quick_check, which reads every page and checks the
// b-tree structure (but not index contents, which integrity_check would and
// which costs much more). It returns the problems found, at most a few.
func quickCheck(ctx context.Context, q querier) ([]string, error) {
	rows, err := q.QueryContext(ctx, "PRAGMA quick_check(5)")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var problems []string
	for rows.Next() {
		var msg string
		if err := rows.Scan(&msg); err != nil {
			return nil, err
		}
		// One row may hold several problems, one per line, under a
		// "*** in database main ***" heading; keep the problems only, so the
		// error stays on one line.
		for line := range strings.Lines(msg) {
			line = strings.TrimSpace(line)
			if line != "ok" && line != "" && !strings.HasPrefix(line, "***") {
				problems = append(problems, line)
			}
		}
	}
	return problems, rows.Err()
}

// corrupt builds the error Open returns for a file it will not use. It names
// the file and says what was (not) done, because the operator reading it has
// to go and deal with that file.
func (s *Store) corrupt(cause error) error {
	return fmt.Errorf("sqlite store %s: %w: %w; the store was NOT re-initialised, refusing to start: restore it from a backup or move it aside",
		s.path, store.ErrCorrupt, cause)
}

// init checks that the file is an intact oidcfed database (or empty), turns
// on WAL and brings the schema up to date.
func (s *Store) init(ctx context.Context, readerDSN string) error {
	ms, err := loadMigrations()
	if err != nil {
		return fmt.Errorf("sqlite store: embedded migrations: %w", err)
	}

	// Look before writing anything. The probe runs on a query_only
	// connection and issues only reads, so a file that turns out not to be
	// ours is left byte-for-byte as it was. (Switching to WAL, below,
	// rewrites the header and would have "converted" a foreign database.)
	if err := s.probe(ctx, readerDSN, len(ms)); err != nil {
		return err
	}

	// Changing the journal mode needs an exclusive lock, and SQLite fails
	// at once with SQLITE_BUSY, without waiting, when another connection
	// (another process opening the same fresh file) is in the way: retry.
	if err := store.RetryConflicts(ctx, func() error { return s.enableWAL(ctx) }); err != nil {
		return err
	}

	// Another process may be opening the same fresh file right now; the
	// migration transaction re-reads the version under the write lock, and
	// a lost race surfaces as a conflict that is retried.
	if err := store.RetryConflicts(ctx, func() error { return s.migrate(ctx, ms) }); err != nil {
		return err
	}
	return nil
}

// probe runs on a connection of its own, closed afterwards, rather than on
// the reader pool: a connection that has seen the file in rollback-journal
// mode keeps reporting that mode until its next read, and the pool's
// connections should all start out knowing the file is in WAL mode.
// enableWAL switches the file to WAL mode, which is persistent: a no-op on
// every Open but the first.
func (s *Store) enableWAL(ctx context.Context) error {
	var mode string
	if err := s.w.QueryRowContext(ctx, "PRAGMA journal_mode = WAL").Scan(&mode); err != nil {
		return s.openErr("enable WAL", err)
	}
	if !strings.EqualFold(mode, "wal") {
		return fmt.Errorf("sqlite store %s: journal mode is %q after asking for WAL (is the file on a filesystem without shared memory support?)", s.path, mode)
	}
	return nil
}

func (s *Store) probe(ctx context.Context, readerDSN string, known int) error {
	db, err := sql.Open("sqlite", readerDSN)
	if err != nil {
		return fmt.Errorf("sqlite store %s: %w", s.path, err)
	}
	defer db.Close()
	tx, err := db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return s.openErr("open", err)
	}
	defer tx.Rollback()

	problems, err := quickCheck(ctx, tx)
	if err != nil {
		return s.openErr("check integrity", err)
	}
	if len(problems) > 0 {
		return s.corrupt(fmt.Errorf("integrity check failed: %s", strings.Join(problems[:min(len(problems), 5)], "; ")))
	}
	st, err := inspect(ctx, tx)
	if err != nil {
		return s.openErr("read schema", err)
	}
	if _, err := st.version(known); err != nil {
		return s.versionErr(err)
	}
	return nil
}

func (s *Store) versionErr(err error) error {
	if errors.Is(err, ErrSchemaTooNew) {
		return fmt.Errorf("sqlite store %s: %w", s.path, err)
	}
	return s.corrupt(err)
}

// openErr wraps a failure while opening: corruption reported by SQLite (not
// a database, malformed image) becomes the ErrCorrupt refusal, anything else
// keeps its cause.
func (s *Store) openErr(op string, err error) error {
	switch sentinel := classify(err); {
	case sentinel == store.ErrCorrupt:
		return s.corrupt(err)
	case sentinel != nil:
		// ErrConflict in particular: RetryConflicts must see it.
		return fmt.Errorf("sqlite store %s: %s: %w: %w", s.path, op, sentinel, err)
	}
	return fmt.Errorf("sqlite store %s: %s: %w", s.path, op, err)
}

func (s *Store) migrate(ctx context.Context, ms []migration) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return s.openErr("begin migration", err)
	}
	defer tx.Rollback()

	st, err := inspect(ctx, tx)
	if err != nil {
		return s.openErr("read schema", err)
	}
	cur, err := st.version(len(ms))
	if err != nil {
		return s.versionErr(err)
	}
	s.migratedFrom, s.migratedTo = cur, len(ms)
	if cur == len(ms) {
		return nil
	}
	if !st.hasMigrations {
		// application_id lives in the file header but is written through
		// the pager, so it commits or rolls back with the rest.
		_, err := tx.ExecContext(ctx, `
			CREATE TABLE schema_migrations (
				version    INTEGER PRIMARY KEY,
				name       TEXT    NOT NULL,
				applied_at INTEGER NOT NULL
			) STRICT;
			PRAGMA application_id = `+strconv.Itoa(applicationID))
		if err != nil {
			return s.openErr("create schema_migrations", err)
		}
	}
	now := time.Now().UnixNano()
	for _, m := range ms[cur:] {
		if _, err := tx.ExecContext(ctx, m.sql); err != nil {
			return s.openErr("migration "+m.name, err)
		}
		if _, err := tx.ExecContext(ctx,
			"INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
			m.version, m.name, now); err != nil {
			return s.openErr("record migration "+m.name, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return s.openErr("commit migrations", err)
	}
	return nil
}
