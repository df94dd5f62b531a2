package sqlite_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oidcfed/oidcfed/internal/store"
	"github.com/oidcfed/oidcfed/internal/store/sqlite"
	"github.com/oidcfed/oidcfed/internal/store/storetest"
)

func newStore(t *testing.T) store.Store {
	t.Helper()
	return openAt(t, filepath.Join(t.TempDir(), "oidcfed.db"))
}

func openAt(t testing.TB, path string) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func TestConformance(t *testing.T)  { storetest.RunTests(t, newStore) }
func TestTransactions(t *testing.T) { storetest.RunTransactionTests(t, newStore) }
func TestConcurrency(t *testing.T)  { storetest.RunConcurrencyTests(t, newStore) }

var t0 = time.Date(2026, 3, 14, 15, 9, 26, 535897932, time.UTC)

// fill writes enough records to span many pages, so that truncating the
// file loses tables and not just free space.
func fill(t *testing.T, s store.Store, n int) {
	t.Helper()
	err := s.Update(t.Context(), func(tx store.Tx) error {
		for i := range n {
			r := &store.Runner{
				Name:        fmt.Sprintf("runner-%04d", i),
				TokenHash:   []byte(fmt.Sprintf("token-hash-%04d-%s", i, strings.Repeat("x", 20))),
				Constraints: map[string][]string{"repository": {fmt.Sprintf("org/repo-%d-*", i)}},
				CreatedAt:   t0,
			}
			if err := tx.CreateRunner(t.Context(), r); err != nil {
				return err
			}
			k := &store.SigningKey{
				Issuer: "https://issuer.example", KID: fmt.Sprintf("kid-%04d", i), Algorithm: "ES256",
				PublicJWK:        []byte(`{"kty":"EC"}`),
				SealedPrivateKey: bytes.Repeat([]byte{byte(i)}, 120),
				CreatedAt:        t0, ActivateAt: t0,
			}
			if err := tx.CreateSigningKey(t.Context(), k); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("fill: %v", err)
	}
}

func TestReopenKeepsData(t *testing.T) {
	path := filepath.Join(t.TempDir(), "oidcfed.db")
	s, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	revoked := t0.Add(time.Hour)
	r := &store.Runner{Name: "ci", TokenHash: []byte("hash"), CreatedAt: t0, RevokedAt: &revoked,
		Constraints: map[string][]string{"ref": {"refs/heads/*"}}}
	err = s.Update(t.Context(), func(tx store.Tx) error { return tx.CreateRunner(t.Context(), r) })
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// Calls after Close fail.
	if err := s.Ping(t.Context()); err == nil {
		t.Error("Ping after Close succeeded")
	}
	if err := s.View(t.Context(), func(store.Tx) error { return nil }); err == nil {
		t.Error("View after Close succeeded")
	}

	for i := range 2 { // twice: reopening an up-to-date store migrates nothing
		s2 := openAt(t, path)
		err = s2.View(t.Context(), func(tx store.Tx) error {
			got, err := tx.GetRunner(t.Context(), r.ID)
			if err != nil {
				return err
			}
			if got.Name != "ci" || !got.CreatedAt.Equal(t0) || got.RevokedAt == nil || !got.RevokedAt.Equal(revoked) ||
				len(got.Constraints["ref"]) != 1 {
				t.Errorf("reopen %d: runner = %+v", i, got)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("reopen %d: %v", i, err)
		}
		if err := s2.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// sqliteHeader is the 16-byte magic every SQLite 3 database starts with.
const sqliteHeader = "SQLite format 3\x00"

func TestCorruptFilesRefused(t *testing.T) {
	// realDB builds a genuine oidcfed store with data and returns its bytes.
	realDB := func(t *testing.T) []byte {
		path := filepath.Join(t.TempDir(), "real.db")
		s, err := sqlite.Open(t.Context(), path)
		if err != nil {
			t.Fatal(err)
		}
		fill(t, s, 300)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) < 16*4096 {
			t.Fatalf("real database is only %d bytes; fill more so truncation bites", len(b))
		}
		return b
	}
	// foreignDB builds a valid SQLite database some other program wrote.
	foreignDB := func(t *testing.T, schema string) []byte {
		path := filepath.Join(t.TempDir(), "foreign.db")
		db, err := sql.Open("sqlite", path)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(schema); err != nil {
			t.Fatal(err)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	garbage := make([]byte, 8192)
	for i := range garbage {
		garbage[i] = byte(i*7919 + i/3)
	}

	tests := []struct {
		name    string
		content func(t *testing.T) []byte
		wantIn  string // the error must also mention this
	}{
		{"garbage bytes", func(*testing.T) []byte { return garbage }, ""},
		{"text file", func(*testing.T) []byte { return []byte("listen: :8080\nissuer: https://x\n") }, ""},
		{"one byte", func(*testing.T) []byte { return []byte{0} }, ""},
		{"sqlite magic then garbage", func(*testing.T) []byte {
			return append([]byte(sqliteHeader), garbage...)
		}, ""},
		{"real db truncated to half", func(t *testing.T) []byte {
			b := realDB(t)
			return b[:len(b)/2]
		}, ""},
		{"real db truncated to one page", func(t *testing.T) []byte { return realDB(t)[:4096] }, ""},
		{"real db truncated inside the header", func(t *testing.T) []byte { return realDB(t)[:50] }, ""},
		{"real db with a page overwritten", func(t *testing.T) []byte {
			b := realDB(t)
			copy(b[3*4096:4*4096], garbage)
			return b
		}, ""},
		{"foreign sqlite db", func(t *testing.T) []byte {
			return foreignDB(t, "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO users VALUES (1, 'alice')")
		}, "schema_migrations"},
		{"foreign db with our table names", func(t *testing.T) []byte {
			return foreignDB(t, "CREATE TABLE runners (id INTEGER PRIMARY KEY); CREATE TABLE signing_keys (kid TEXT)")
		}, "schema_migrations"},
		{"foreign db that has a schema_migrations table", func(t *testing.T) []byte {
			// Rails, golang-migrate and friends use the same table name.
			return foreignDB(t, "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, dirty INTEGER); INSERT INTO schema_migrations VALUES (20240101, 0)")
		}, "application_id"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "oidcfed.db")
			want := tc.content(t)
			if err := os.WriteFile(path, want, 0o600); err != nil {
				t.Fatal(err)
			}

			s, err := sqlite.Open(t.Context(), path)
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded on a file that is not an intact oidcfed store")
			}
			if !errors.Is(err, store.ErrCorrupt) {
				t.Errorf("err = %v, want errors.Is(err, store.ErrCorrupt)", err)
			}
			t.Logf("Open: %v", err)
			msg := err.Error()
			for _, w := range []string{path, "NOT re-initialised", "restore it from a backup or move it aside", tc.wantIn} {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not mention %q", msg, w)
				}
			}

			got, rerr := os.ReadFile(path)
			if rerr != nil {
				t.Fatal(rerr)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("Open changed the refused file (%d bytes before, %d after)", len(want), len(got))
			}
			// No WAL or shared-memory files left next to it either.
			entries, _ := os.ReadDir(dir)
			if len(entries) != 1 {
				var names []string
				for _, e := range entries {
					names = append(names, e.Name())
				}
				t.Errorf("directory holds %v after the refused Open, want only oidcfed.db", names)
			}
		})
	}
}

func TestEmptyOrAbsentFileInitialised(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, path string)
	}{
		{"absent", func(*testing.T, string) {}},
		{"empty file", func(t *testing.T, path string) {
			if err := os.WriteFile(path, nil, 0o600); err != nil {
				t.Fatal(err)
			}
		}},
		{"absent in a missing directory", func(*testing.T, string) {}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if tc.name == "absent in a missing directory" {
				dir = filepath.Join(dir, "data", "oidcfed")
			}
			path := filepath.Join(dir, "oidcfed.db")
			tc.setup(t, path)
			s := openAt(t, path)
			if err := s.Ping(t.Context()); err != nil {
				t.Fatalf("Ping: %v", err)
			}
		})
	}
}

func TestNewerSchemaRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "oidcfed.db")
	s, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()

	// What a future oidcfed would leave behind.
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	_, err = db.Exec(`CREATE TABLE future (x INTEGER);
		INSERT INTO schema_migrations (version, name, applied_at)
		SELECT max(version) + 1, 'from_the_future', 0 FROM schema_migrations`)
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(path)

	s, err = sqlite.Open(t.Context(), path)
	if err == nil {
		s.Close()
		t.Fatal("Open succeeded on a database from a newer oidcfed")
	}
	t.Logf("Open: %v", err)
	if !errors.Is(err, sqlite.ErrSchemaTooNew) {
		t.Errorf("err = %v, want ErrSchemaTooNew", err)
	}
	if errors.Is(err, store.ErrCorrupt) {
		t.Errorf("err = %v: a newer schema is not corruption", err)
	}
	// The database is one version past the newest migration this binary
	// embeds, whatever that is.
	for _, w := range []string{path, "versions up to", "upgrade"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not mention %q", err, w)
		}
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Error("Open changed the file it refused")
	}
}

func TestFileModes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	path := filepath.Join(dir, "oidcfed.db")
	s := openAt(t, path)
	// Write something so the WAL exists.
	err := s.Update(t.Context(), func(tx store.Tx) error {
		return tx.CreateRunner(t.Context(), &store.Runner{Name: "x", TokenHash: []byte("h"), CreatedAt: t0})
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path string
		want os.FileMode
	}{
		{dir, 0o700 | os.ModeDir},
		{path, 0o600},
		{path + "-wal", 0o600},
		{path + "-shm", 0o600},
	}
	for _, tc := range tests {
		t.Run(filepath.Base(tc.path), func(t *testing.T) {
			fi, err := os.Stat(tc.path)
			if err != nil {
				t.Fatal(err)
			}
			if got := fi.Mode(); got != tc.want {
				t.Errorf("mode = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestWALMode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "oidcfed.db")
	openAt(t, path)
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var mode string
	if err := db.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil {
		t.Fatal(err)
	}
	if mode != "wal" {
		t.Errorf("journal_mode = %q, want wal", mode)
	}
}

// TestTwoHandlesSameFile: two Stores on one file, as two server processes
// would have, write concurrently; every write lands and both see all of
// them.
func TestTwoHandlesSameFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "oidcfed.db")
	stores := []*sqlite.Store{openAt(t, path), openAt(t, path)}
	const perStore, workers = 20, 3
	var wg sync.WaitGroup
	for si, s := range stores {
		for w := range workers {
			wg.Go(func() {
				for i := range perStore {
					r := &store.Runner{
						Name:      fmt.Sprintf("s%d-w%d-%d", si, w, i),
						TokenHash: []byte(fmt.Sprintf("hash-s%d-w%d-%d", si, w, i)),
						CreatedAt: t0,
					}
					if err := s.Update(t.Context(), func(tx store.Tx) error { return tx.CreateRunner(t.Context(), r) }); err != nil {
						t.Errorf("store %d: %v", si, err)
						return
					}
				}
			})
		}
	}
	wg.Wait()
	for si, s := range stores {
		err := s.View(t.Context(), func(tx store.Tx) error {
			rs, err := tx.ListRunners(t.Context())
			if len(rs) != 2*workers*perStore {
				t.Errorf("store %d sees %d runners, want %d", si, len(rs), 2*workers*perStore)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		path string
	}{
		{"empty path", ""},
		{"path is a directory", dir},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := sqlite.Open(t.Context(), tc.path)
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded")
			}
			if errors.Is(err, store.ErrCorrupt) {
				t.Errorf("err = %v: not a corruption", err)
			}
		})
	}
}

func BenchmarkGetRunnerByTokenHash(b *testing.B) {
	s := openAt(b, filepath.Join(b.TempDir(), "oidcfed.db"))
	ctx := context.Background()
	const n = 1000
	hashes := make([][]byte, n)
	err := s.Update(ctx, func(tx store.Tx) error {
		for i := range n {
			hashes[i] = []byte(fmt.Sprintf("%032d", i))
			r := &store.Runner{Name: fmt.Sprint("r", i), TokenHash: hashes[i], CreatedAt: t0,
				Constraints: map[string][]string{"repository": {"org/*"}, "ref": {"refs/heads/main"}}}
			if err := tx.CreateRunner(ctx, r); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Run("serial", func(b *testing.B) {
		i := 0
		for b.Loop() {
			h := hashes[i%n]
			i++
			err := s.View(ctx, func(tx store.Tx) error {
				_, err := tx.GetRunnerByTokenHash(ctx, h)
				return err
			})
			if err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				h := hashes[i%n]
				i++
				err := s.View(ctx, func(tx store.Tx) error {
					_, err := tx.GetRunnerByTokenHash(ctx, h)
					return err
				})
				if err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

func BenchmarkCreateRunner(b *testing.B) {
	s := openAt(b, filepath.Join(b.TempDir(), "oidcfed.db"))
	ctx := context.Background()
	i := 0
	for b.Loop() {
		r := &store.Runner{Name: fmt.Sprint("r", i), TokenHash: []byte(fmt.Sprintf("%032d", i)), CreatedAt: t0,
			Constraints: map[string][]string{"repository": {"org/*"}}}
		i++
		if err := s.Update(ctx, func(tx store.Tx) error { return tx.CreateRunner(ctx, r) }); err != nil {
			b.Fatal(err)
		}
	}
}
