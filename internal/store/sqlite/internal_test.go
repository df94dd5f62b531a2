package sqlite

import (
	"context"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/oidcfed/oidcfed/internal/store"
)

var t0 = time.Date(2026, 3, 14, 15, 9, 26, 535897932, time.UTC)

func openTest(t *testing.T, busy time.Duration) *Store {
	t.Helper()
	s, err := open(t.Context(), filepath.Join(t.TempDir(), "oidcfed.db"), busy)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// rawConn opens a connection to the store's file that bypasses the Store,
// as another process would.
func rawConn(t *testing.T, s *Store) *sql.Conn {
	t.Helper()
	db, err := sql.Open("sqlite", dsn(s.path, 0, false))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	c, err := db.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestDBStateVersion(t *testing.T) {
	tests := []struct {
		name    string
		st      dbState
		known   int
		want    int
		wantErr error // nil: no error; errForeign and ErrSchemaTooNew are checked with errors.Is
		anyErr  bool
	}{
		{name: "fresh", st: dbState{}, known: 1, want: 0},
		{name: "current", st: dbState{objects: 5, hasMigrations: true, appID: applicationID, versions: []int{1}}, known: 1, want: 1},
		{name: "behind", st: dbState{objects: 5, hasMigrations: true, appID: applicationID, versions: []int{1}}, known: 3, want: 1},
		{name: "ahead", st: dbState{objects: 5, hasMigrations: true, appID: applicationID, versions: []int{1, 2}}, known: 1, wantErr: ErrSchemaTooNew},
		{name: "foreign tables", st: dbState{objects: 2}, known: 1, wantErr: errForeign},
		{name: "foreign application id, no tables", st: dbState{appID: 42}, known: 1, wantErr: errForeign},
		{name: "foreign application id", st: dbState{objects: 3, hasMigrations: true, appID: 42, versions: []int{1}}, known: 1, wantErr: errForeign},
		{name: "someone else's schema_migrations", st: dbState{objects: 1, hasMigrations: true, versions: []int{20240101}}, known: 1, wantErr: errForeign},
		{name: "gap in versions", st: dbState{objects: 5, hasMigrations: true, appID: applicationID, versions: []int{1, 3}}, known: 3, anyErr: true},
		{name: "empty schema_migrations with tables", st: dbState{objects: 4, hasMigrations: true, appID: applicationID}, known: 1, anyErr: true},
		{name: "empty schema_migrations alone", st: dbState{objects: 1, hasMigrations: true, appID: applicationID}, known: 1, want: 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.st.version(tc.known)
			switch {
			case tc.wantErr != nil:
				if !errors.Is(err, tc.wantErr) {
					t.Errorf("err = %v, want %v", err, tc.wantErr)
				}
			case tc.anyErr:
				if err == nil {
					t.Errorf("version = %d, want an error", got)
				}
			case err != nil:
				t.Errorf("err = %v", err)
			case got != tc.want:
				t.Errorf("version = %d, want %d", got, tc.want)
			}
		})
	}
}

func TestParseMigrations(t *testing.T) {
	file := func(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s)} }
	tests := []struct {
		name      string
		files     fstest.MapFS
		wantNames []string
		wantErr   bool
	}{
		{"ordered by number", fstest.MapFS{
			"m/0002_b.sql": file("B"), "m/0001_a.sql": file("A"), "m/0010_c.sql": file("C"),
			"m/0003_x.sql": file("X"), "m/0004_y.sql": file("Y"), "m/0005_z.sql": file("Z"),
			"m/0006_z.sql": file("Z"), "m/0007_z.sql": file("Z"), "m/0008_z.sql": file("Z"), "m/0009_z.sql": file("Z"),
			"m/README.md": file("ignored"),
		}, []string{"0001_a", "0002_b", "0003_x", "0004_y", "0005_z", "0006_z", "0007_z", "0008_z", "0009_z", "0010_c"}, false},
		{"gap", fstest.MapFS{"m/0001_a.sql": file(""), "m/0003_c.sql": file("")}, nil, true},
		{"repeat", fstest.MapFS{"m/0001_a.sql": file(""), "m/001_b.sql": file("")}, nil, true},
		{"not starting at 1", fstest.MapFS{"m/0002_a.sql": file("")}, nil, true},
		{"bad name", fstest.MapFS{"m/init.sql": file("")}, nil, true},
		{"zero", fstest.MapFS{"m/0000_a.sql": file("")}, nil, true},
		{"none", fstest.MapFS{"m/README.md": file("")}, nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ms, err := parseMigrations(tc.files, "m")
			if tc.wantErr {
				if err == nil {
					t.Errorf("parsed %d migrations, want an error", len(ms))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, m := range ms {
				names = append(names, m.name)
			}
			if fmt.Sprint(names) != fmt.Sprint(tc.wantNames) {
				t.Errorf("names = %v, want %v", names, tc.wantNames)
			}
		})
	}
}

func TestEmbeddedMigrations(t *testing.T) {
	ms, err := loadMigrations()
	if err != nil {
		t.Fatal(err)
	}
	s := openTest(t, defaultBusyTimeout)
	var n int
	var appID int64
	if err := s.r.QueryRowContext(t.Context(), "SELECT count(*) FROM schema_migrations").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if err := s.r.QueryRowContext(t.Context(), "PRAGMA application_id").Scan(&appID); err != nil {
		t.Fatal(err)
	}
	if n != len(ms) || appID != applicationID {
		t.Errorf("schema_migrations has %d rows (want %d), application_id %#x (want %#x)", n, len(ms), appID, applicationID)
	}
}

// TestConcurrentFirstOpen: several processes starting at once on a fresh
// file all succeed and migrate it exactly once.
func TestConcurrentFirstOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "oidcfed.db")
	const n = 4
	stores := make([]*Store, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { stores[i], errs[i] = Open(t.Context(), path) })
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Errorf("Open %d: %v", i, errs[i])
			continue
		}
		defer stores[i].Close()
	}
	if errs[0] == nil {
		var rows int
		if err := stores[0].r.QueryRowContext(t.Context(), "SELECT count(*) FROM schema_migrations").Scan(&rows); err != nil {
			t.Fatal(err)
		}
		if ms, _ := loadMigrations(); rows != len(ms) {
			t.Errorf("schema_migrations has %d rows, want %d", rows, len(ms))
		}
	}
}

// TestReaderConnectionsAreQueryOnly: even bypassing the Tx methods' own
// check, SQLite refuses writes on the connections View uses.
func TestReaderConnectionsAreQueryOnly(t *testing.T) {
	s := openTest(t, defaultBusyTimeout)
	_, err := s.r.ExecContext(t.Context(),
		"INSERT INTO runners (name, token_hash, created_at) VALUES ('x', x'01', 1)")
	if err == nil {
		t.Fatal("write on a reader connection succeeded")
	}
	if !strings.Contains(err.Error(), "readonly") {
		t.Errorf("err = %v, want SQLite's read-only refusal", err)
	}
}

// TestUpdateTakesWriteLockUpFront: an Update holds the write lock from its
// start (BEGIN IMMEDIATE), before it has written anything, so it can never
// be the transaction that fails to upgrade a read lock.
func TestUpdateTakesWriteLockUpFront(t *testing.T) {
	s := openTest(t, defaultBusyTimeout)
	other := rawConn(t, s)
	if _, err := other.ExecContext(t.Context(), "PRAGMA busy_timeout = 0"); err != nil {
		t.Fatal(err)
	}
	err := s.Update(t.Context(), func(store.Tx) error {
		// Nothing written yet, but another writer is already locked out.
		_, err := other.ExecContext(t.Context(), "BEGIN IMMEDIATE")
		if err == nil {
			other.ExecContext(t.Context(), "ROLLBACK")
			return errors.New("another connection could begin a write transaction")
		}
		if !errors.Is(classify(err), store.ErrConflict) {
			return fmt.Errorf("other writer got %v, want SQLITE_BUSY", err)
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
}

// TestBusyIsConflictAndRetried: when another process holds the write lock
// for longer than the busy timeout, the attempt fails with ErrConflict and
// Update retries until the lock is free.
func TestBusyIsConflictAndRetried(t *testing.T) {
	s := openTest(t, 10*time.Millisecond)
	other := rawConn(t, s)
	if _, err := other.ExecContext(t.Context(), "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}

	// A single attempt reports the conflict.
	err := s.update(t.Context(), func(store.Tx) error { return nil })
	if !errors.Is(err, store.ErrConflict) {
		t.Fatalf("update with the lock held elsewhere: err = %v, want ErrConflict", err)
	}

	// Update keeps retrying and gets through once the lock is released.
	go func() {
		time.Sleep(60 * time.Millisecond)
		other.ExecContext(context.Background(), "ROLLBACK")
	}()
	calls := 0
	err = s.Update(t.Context(), func(tx store.Tx) error {
		calls++
		return tx.CreateRunner(t.Context(), &store.Runner{Name: "x", TokenHash: []byte("h"), CreatedAt: t0})
	})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	if calls != 1 {
		// fn only runs once BEGIN IMMEDIATE has succeeded.
		t.Errorf("fn ran %d times, want 1", calls)
	}
}

func TestTimeValidation(t *testing.T) {
	s := openTest(t, defaultBusyTimeout)
	tests := []struct {
		name    string
		created time.Time
		revoked *time.Time
	}{
		{"zero CreatedAt", time.Time{}, nil},
		{"CreatedAt before 1678", time.Date(1600, 1, 1, 0, 0, 0, 0, time.UTC), nil},
		{"CreatedAt after 2262", time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC), nil},
		{"zero RevokedAt", t0, &time.Time{}},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := s.Update(t.Context(), func(tx store.Tx) error {
				return tx.CreateRunner(t.Context(), &store.Runner{
					Name: fmt.Sprint("r", i), TokenHash: []byte{byte(i + 1)}, CreatedAt: tc.created, RevokedAt: tc.revoked,
				})
			})
			if err == nil {
				t.Error("CreateRunner accepted a time that cannot be stored")
			}
		})
	}
	err := s.View(t.Context(), func(tx store.Tx) error {
		rs, err := tx.ListRunners(t.Context())
		if len(rs) != 0 {
			t.Errorf("%d runners stored", len(rs))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestErrorsDoNotLeakSecrets: token hashes and sealed bytes never appear in
// error text, in raw or hex form, whatever goes wrong.
func TestErrorsDoNotLeakSecrets(t *testing.T) {
	s := openTest(t, defaultBusyTimeout)
	hash := []byte("TOKENHASH-0123456789abcdef-SECRET")
	sealed := []byte("SEALED-PRIVATE-KEY-SECRET")
	key := &store.SigningKey{Issuer: "https://i.example", KID: "k", Algorithm: "ES256",
		PublicJWK: []byte("{}"), SealedPrivateKey: sealed, CreatedAt: t0, ActivateAt: t0}
	err := s.Update(t.Context(), func(tx store.Tx) error {
		if err := tx.CreateRunner(t.Context(), &store.Runner{Name: "a", TokenHash: hash, CreatedAt: t0}); err != nil {
			return err
		}
		return tx.CreateSigningKey(t.Context(), key)
	})
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		fn   func(tx store.Tx) error
	}{
		{"duplicate token hash", func(tx store.Tx) error {
			return tx.CreateRunner(t.Context(), &store.Runner{Name: "b", TokenHash: hash, CreatedAt: t0})
		}},
		{"unknown token hash", func(tx store.Tx) error {
			_, err := tx.GetRunnerByTokenHash(t.Context(), append([]byte("x"), hash...))
			return err
		}},
		{"duplicate key", func(tx store.Tx) error { return tx.CreateSigningKey(t.Context(), key) }},
		{"reseal callback fails", func(tx store.Tx) error {
			_, err := tx.Reseal(t.Context(), func(string, []byte) ([]byte, error) { return nil, errors.New("kms down") })
			return err
		}},
		{"reseal returns nothing", func(tx store.Tx) error {
			_, err := tx.Reseal(t.Context(), func(string, []byte) ([]byte, error) { return nil, nil })
			return err
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := s.Update(t.Context(), tc.fn)
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			for _, secret := range [][]byte{hash, sealed} {
				if strings.Contains(msg, string(secret)) || strings.Contains(strings.ToLower(msg), hex.EncodeToString(secret)) {
					t.Errorf("error %q reveals a secret", msg)
				}
			}
		})
	}
}

// TestConnectionSettings checks the per-connection settings the DSN asks for
// actually took effect on each pool.
func TestConnectionSettings(t *testing.T) {
	s := openTest(t, defaultBusyTimeout)
	tests := []struct {
		pool   string
		db     *sql.DB
		pragma string
		want   string
	}{
		{"writer", s.w, "journal_mode", "wal"},
		{"writer", s.w, "synchronous", "2"}, // FULL: the audit log's durability
		{"writer", s.w, "foreign_keys", "1"},
		{"writer", s.w, "busy_timeout", "5000"},
		{"writer", s.w, "query_only", "0"},
		{"writer", s.w, "cache_size", "-512"}, // KiB; RSS, see dsn
		{"reader", s.r, "journal_mode", "wal"},
		{"reader", s.r, "cache_size", "-256"},
		{"reader", s.r, "foreign_keys", "1"},
		{"reader", s.r, "busy_timeout", "5000"},
		{"reader", s.r, "query_only", "1"},
	}
	for _, tc := range tests {
		t.Run(tc.pool+"/"+tc.pragma, func(t *testing.T) {
			var got string
			if err := tc.db.QueryRowContext(t.Context(), "PRAGMA "+tc.pragma).Scan(&got); err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("PRAGMA %s = %s, want %s", tc.pragma, got, tc.want)
			}
		})
	}
}

// TestAwkwardPaths: characters that mean something in a URI must not change
// which file is opened.
func TestAwkwardPaths(t *testing.T) {
	tests := []struct{ name, dir, file string }{
		{"question mark", "a?mode=ro", "oidcfed.db"},
		{"hash", "b#frag", "oidc#fed.db"},
		{"percent escapes", "c%20d%3F", "x%00.db"},
		{"spaces and unicode", "my data ✓", "store file.db"},
		{"relative path", "", "relative.db"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), tc.dir, tc.file)
			if tc.dir == "" {
				t.Chdir(filepath.Dir(path))
				path = tc.file
			}
			s, err := Open(t.Context(), path)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			abs, _ := filepath.Abs(path)
			if s.Path() != abs {
				t.Errorf("Path() = %q, want %q", s.Path(), abs)
			}
			if fi, err := os.Stat(abs); err != nil || fi.Size() == 0 {
				t.Errorf("database not written at %s: %v", abs, err)
			}
			entries, _ := os.ReadDir(filepath.Dir(abs))
			for _, e := range entries {
				if !strings.HasPrefix(e.Name(), filepath.Base(abs)) {
					t.Errorf("stray file %q next to the database", e.Name())
				}
			}
		})
	}
}
