// Package sqlite is oidcfed's embedded store: one SQLite database file,
// reached through the pure-Go modernc.org/sqlite driver so the binary needs
// no cgo.
//
// Concurrency model. SQLite allows one writer at a time per file, and a
// transaction that starts as a reader and later tries to write can fail
// with SQLITE_BUSY no matter how long it waits (it would have to upgrade a
// lock another writer is queued behind). So the Store keeps two pools:
//
//   - a writer pool of exactly one connection whose transactions start with
//     BEGIN IMMEDIATE, taking the write lock up front. Writers in this
//     process queue in database/sql for that connection (honouring ctx);
//     writers in other processes wait in SQLite's busy handler, and if that
//     times out the attempt is reported as store.ErrConflict and retried.
//   - a reader pool of several connections with PRAGMA query_only set. In
//     WAL mode readers never wait for the writer and always see the last
//     committed snapshot, so View never queues behind Update.
//
// Corruption policy. A file that is not an oidcfed database is never
// "repaired" by re-creating the schema: that would silently throw away the
// operator's runners and signing keys. Open reports store.ErrCorrupt and
// leaves the file exactly as it found it.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/oidcfed/oidcfed/internal/store"

	// The driver registers itself as "sqlite".
	_ "modernc.org/sqlite"
)

// busyTimeout is how long a statement waits for a lock held by another
// connection before SQLite gives up with SQLITE_BUSY. Within one process the
// single writer connection means only other processes (or another Store on
// the same file) ever make us wait; five seconds covers a checkpoint or a
// slow disk without hanging a request forever.
const defaultBusyTimeout = 5 * time.Second

// applicationID is written to the database header (PRAGMA application_id)
// so that a file can be recognised as an oidcfed store by `file(1)` and by
// Open, independently of its tables. ASCII "oidf".
const applicationID = 0x6f696466

// minDBSize is the smallest SQLite database file: one page of the smallest
// page size.
const minDBSize = 512

// ErrSchemaTooNew is returned by Open when the database was migrated by a
// newer oidcfed than this binary. The file is left untouched: running an old
// binary against a newer schema could misread or damage records it does not
// know about, so the operator must upgrade the binary (or restore a backup
// taken before the upgrade).
var ErrSchemaTooNew = errors.New("store: database schema is newer than this binary")

// Store is an oidcfed database in one SQLite file. It implements store.Store
// and is safe for concurrent use; several Stores (in this process or others)
// may open the same file.
type Store struct {
	path string
	w    *sql.DB // writer: one connection, BEGIN IMMEDIATE
	r    *sql.DB // readers: several query_only connections

	migratedFrom, migratedTo int // see Migrated
}

var _ store.Store = (*Store)(nil)

// Open opens the store at path, creating it (mode 0600, and its directory
// with mode 0700 if that does not exist) when the file is absent or empty,
// and applying any migrations this binary has that the file lacks.
//
// It refuses, with an error wrapping store.ErrCorrupt, a file that exists
// but is not an intact oidcfed database, and with ErrSchemaTooNew one whose
// schema a newer oidcfed wrote. In both cases the file is not modified.
func Open(ctx context.Context, path string) (*Store, error) {
	return open(ctx, path, defaultBusyTimeout)
}

// open is Open with the busy timeout as a parameter, so tests can make lock
// waits run out quickly.
func open(ctx context.Context, path string, busyTimeout time.Duration) (*Store, error) {
	if path == "" {
		return nil, errors.New("sqlite store: empty database path")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("sqlite store %s: %w", path, err)
	}
	s := &Store{path: abs}
	size, err := prepareFile(abs)
	if err != nil {
		return nil, fmt.Errorf("sqlite store %s: %w", abs, err)
	}
	if size > 0 && size < minDBSize {
		// SQLite itself would not say so: it reads a 1-byte file as an
		// empty database (a work-around for an old OS X bug) and would
		// happily initialise it.
		return nil, s.corrupt(fmt.Errorf("its size (%d bytes) is below that of the smallest SQLite database (%d)", size, minDBSize))
	}

	// sql.Open only validates its arguments; connections are made on first
	// use, which matters below: nothing touches the file until probe has
	// decided it is ours.
	readerDSN := dsn(abs, busyTimeout, true)
	if s.r, err = sql.Open("sqlite", readerDSN); err != nil {
		return nil, fmt.Errorf("sqlite store %s: %w", abs, err)
	}
	readers := max(4, runtime.GOMAXPROCS(0))
	s.r.SetMaxOpenConns(readers)
	s.r.SetMaxIdleConns(readers)
	if s.w, err = sql.Open("sqlite", dsn(abs, busyTimeout, false)); err != nil {
		s.r.Close()
		return nil, fmt.Errorf("sqlite store %s: %w", abs, err)
	}
	// One writer connection for the Store's whole life: SQLite serialises
	// writers anyway, and queueing in database/sql (which honours ctx) is
	// cheaper and fairer than spinning in the busy handler.
	s.w.SetMaxOpenConns(1)
	s.w.SetMaxIdleConns(1)

	if err := s.init(ctx, readerDSN); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// prepareFile makes sure the directory exists and, when the database file
// does not, creates it with mode 0600 so SQLite (which would use 0644) never
// creates it world-readable. SQLite gives the -wal and -shm files the
// database file's mode.
//
// It deliberately never opens an existing file: with POSIX advisory locks,
// closing any descriptor of a file drops every lock this process holds on
// it, so peeking at a database another Store in this process has open
// would silently break that Store's locking.
func prepareFile(path string) (size int64, err error) {
	dir := filepath.Dir(path)
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return 0, fmt.Errorf("create data directory: %w", err)
		}
	} else if err != nil {
		return 0, fmt.Errorf("data directory: %w", err)
	}

	fi, err := os.Stat(path)
	switch {
	case err == nil:
		if !fi.Mode().IsRegular() {
			return 0, fmt.Errorf("not a regular file (%s)", fi.Mode().Type())
		}
		return fi.Size(), nil
	case !errors.Is(err, fs.ErrNotExist):
		return 0, err
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return 0, nil // another process created it first; it initialises it or we do
	}
	if err != nil {
		return 0, fmt.Errorf("create database file: %w", err)
	}
	return 0, f.Close()
}

// dsn builds the driver's data source name for path. The path is given as
// an escaped file: URI so that a '?' or '#' in a directory name cannot be
// taken for the start of the parameters.
func dsn(path string, busyTimeout time.Duration, reader bool) string {
	p := filepath.ToSlash(path)
	if !strings.HasPrefix(p, "/") {
		p = "/" + p // Windows drive letter: file:///C:/...
	}
	q := url.Values{}
	// mode=rw: never let SQLite create the file (prepareFile did, with the
	// right mode); a database deleted under a running server is an error,
	// not a fresh empty store.
	q.Set("mode", "rw")
	q.Set("_busy_timeout", strconv.FormatInt(busyTimeout.Milliseconds(), 10))
	q.Set("_foreign_keys", "on")
	// Writes are FULL: every commit is on disk before Update returns, as
	// the audit log promises (an event is durable before its response is
	// sent); the audit log's group commit shares one sync among many
	// requests. Readers never commit anything.
	if reader {
		q.Set("_synchronous", "NORMAL")
	} else {
		q.Set("_synchronous", "FULL")
	}
	// Double-quoted strings are identifiers, never string literals.
	q.Set("_dqs", "0")
	// Defensive mode refuses the few statements (writable_schema and the
	// like) that can corrupt the file on purpose.
	q.Set("_defensive", "1")
	if reader {
		// Belt and braces for View: Tx methods refuse writes themselves,
		// and query_only makes SQLite refuse them too.
		q.Set("_query_only", "on")
		// 256 KiB of page cache per reader and 512 KiB for the writer
		// instead of SQLite's 2 MiB each: hot records are cached above the
		// store (IAM entities; runners' lookups are point reads) and the
		// OS caches the file. At 2 MiB the readers were a fifth of a small
		// server's RSS; with 10,000 roles created and read, 512 KiB readers
		// and a 2 MiB writer still held 3.6 MB more than these sizes do,
		// RSS the memory limit now gives the collector instead
		// (scripts/load-roles).
		q.Add("_pragma", "cache_size(-256)")
	} else {
		q.Set("_txlock", "immediate")
		q.Add("_pragma", "cache_size(-512)")
	}
	u := url.URL{Scheme: "file", Path: p, RawQuery: q.Encode()}
	return u.String()
}

// Migrated says which schema version Open found and which it left: equal
// when there was nothing to do.
func (s *Store) Migrated() (from, to int) { return s.migratedFrom, s.migratedTo }

// Path is the absolute path of the database file.
func (s *Store) Path() string { return s.path }

// View implements store.Store. fn runs on a reader connection, inside one
// read transaction, so all its reads see the same committed snapshot; writes
// fail. It may be called from inside an Update's fn (it does not need the
// writer), but it will not see that Update's uncommitted writes.
func (s *Store) View(ctx context.Context, fn func(store.Tx) error) error {
	tx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return wrapErr("begin read transaction", err)
	}
	// A read transaction has nothing to commit; ending it releases the
	// snapshot so checkpoints can make progress.
	defer tx.Rollback()
	return fn(&txn{tx: tx, readOnly: true})
}

// Update implements store.Store. fn runs in a BEGIN IMMEDIATE transaction on
// the single writer connection; a conflict (the write lock could not be had
// within the busy timeout) reruns it via store.RetryConflicts.
//
// fn must not call Update on the same Store: the writer connection is busy
// with the outer transaction, so the inner call would wait until ctx ends.
func (s *Store) Update(ctx context.Context, fn func(store.Tx) error) error {
	return store.RetryConflicts(ctx, func() error { return s.update(ctx, fn) })
}

func (s *Store) update(ctx context.Context, fn func(store.Tx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return wrapErr("begin write transaction", err)
	}
	// Always roll back unless committed, including when fn panics: a
	// transaction left open would hold the only writer connection forever.
	defer tx.Rollback()
	if err := fn(&txn{tx: tx}); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return wrapErr("commit", err)
	}
	return nil
}

// Ping implements store.Store. It reads the schema_migrations table through
// a reader connection: that proves the file is still there and readable
// without queueing behind a long write transaction.
func (s *Store) Ping(ctx context.Context) error {
	var one int
	err := s.r.QueryRowContext(ctx, "SELECT 1 FROM schema_migrations LIMIT 1").Scan(&one)
	if err != nil {
		return wrapErr("ping", err)
	}
	return nil
}

// Close implements store.Store. The writer is closed last: the last
// connection to close checkpoints the WAL into the database file.
func (s *Store) Close() error {
	var errs []error
	if s.r != nil {
		errs = append(errs, s.r.Close())
	}
	if s.w != nil {
		errs = append(errs, s.w.Close())
	}
	return errors.Join(errs...)
}
