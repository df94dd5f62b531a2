package postgres_test

import (
	"context"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/oidcfed/oidcfed/internal/store"
	"github.com/oidcfed/oidcfed/internal/store/postgres"
	"github.com/oidcfed/oidcfed/internal/store/postgres/pgtest"
	"github.com/oidcfed/oidcfed/internal/store/storetest"
)

// newStore opens a store in a schema of its own on the test server.
func newStore(t *testing.T) store.Store {
	t.Helper()
	return openAt(t, pgtest.NewSchema(t))
}

func openAt(t testing.TB, dsn string) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(context.Background(), postgres.Config{URL: dsn})
	if err != nil {
		t.Fatalf("Open: %v", err)
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

// exec runs SQL on the schema of dsn outside any store.
func exec(t *testing.T, dsn, sql string, args ...any) {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(t.Context(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func TestReopenKeepsData(t *testing.T) {
	dsn := pgtest.NewSchema(t)
	s, err := postgres.Open(t.Context(), postgres.Config{URL: dsn})
	if err != nil {
		t.Fatal(err)
	}
	if from, to := s.Migrated(); from != 0 || to < 1 {
		t.Errorf("first Open migrated %d -> %d, want 0 -> the newest", from, to)
	}
	r := &store.Runner{Name: "ci", TokenHash: []byte("hash"), CreatedAt: t0}
	if err := s.Update(t.Context(), func(tx store.Tx) error { return tx.CreateRunner(t.Context(), r) }); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if err := s.Ping(t.Context()); err == nil {
		t.Error("Ping after Close succeeded")
	}
	for i := range 2 { // reopening an up-to-date store migrates nothing
		s2 := openAt(t, dsn)
		if from, to := s2.Migrated(); from != to {
			t.Errorf("reopen %d migrated %d -> %d", i, from, to)
		}
		err := s2.View(t.Context(), func(tx store.Tx) error {
			got, err := tx.GetRunner(t.Context(), r.ID)
			if err == nil && (got.Name != "ci" || !got.CreatedAt.Equal(t0)) {
				t.Errorf("reopen %d: runner = %+v", i, got)
			}
			return err
		})
		if err != nil {
			t.Fatalf("reopen %d: %v", i, err)
		}
	}
}

func TestForeignOrNewerSchemaRefused(t *testing.T) {
	tests := []struct {
		name    string
		setup   string // run on an empty schema, or on an oidcfed one with oidcfed set
		oidcfed bool
		want    error
		notWant error
	}{
		{name: "other program's tables", setup: "CREATE TABLE customers (id int)", want: store.ErrCorrupt},
		{name: "other program's schema_migrations",
			setup: "CREATE TABLE schema_migrations (version int)", want: store.ErrCorrupt},
		{name: "a gap in the versions", oidcfed: true,
			setup: "INSERT INTO schema_migrations (version, name, applied_at) VALUES (1000, 'x', 0)", want: store.ErrCorrupt},
		{name: "newer oidcfed", oidcfed: true,
			setup: "INSERT INTO schema_migrations (version, name, applied_at) SELECT max(version) + 1, 'from_the_future', 0 FROM schema_migrations",
			want:  postgres.ErrSchemaTooNew, notWant: store.ErrCorrupt},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dsn := pgtest.NewSchema(t)
			if tc.oidcfed {
				openAt(t, dsn).Close()
			}
			exec(t, dsn, tc.setup)
			s, err := postgres.Open(t.Context(), postgres.Config{URL: dsn})
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded")
			}
			t.Logf("Open: %v", err)
			if !errors.Is(err, tc.want) || (tc.notWant != nil && errors.Is(err, tc.notWant)) {
				t.Errorf("err = %v, want %v (and not %v)", err, tc.want, tc.notWant)
			}
			conn, err := pgx.Connect(t.Context(), dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close(context.Background())
			var runners bool
			if err := conn.QueryRow(t.Context(), "SELECT to_regclass('runners') IS NOT NULL").Scan(&runners); err != nil {
				t.Fatal(err)
			}
			if runners != tc.oidcfed {
				t.Errorf("a refused schema was changed (runners table exists: %v)", runners)
			}
		})
	}
}

// TestConcurrentFirstOpen: replicas starting together against an empty
// database all come up, and the schema is migrated once.
func TestConcurrentFirstOpen(t *testing.T) {
	dsn := pgtest.NewSchema(t)
	const n = 4
	errs := make(chan error, n)
	for range n {
		go func() {
			s, err := postgres.Open(t.Context(), postgres.Config{URL: dsn})
			if err == nil {
				s.Close()
			}
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Errorf("Open: %v", err)
		}
	}
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var rows, versions int
	if err := conn.QueryRow(t.Context(), "SELECT count(*), count(DISTINCT version) FROM schema_migrations").Scan(&rows, &versions); err != nil {
		t.Fatal(err)
	}
	if rows != versions || rows == 0 {
		t.Errorf("schema_migrations has %d rows for %d versions: migrated more than once", rows, versions)
	}
}

func TestSearchPathWithoutSchema(t *testing.T) {
	dsn := pgtest.WithSearchPath(t, pgtest.DSN(t), "no_such_schema_here")
	_, err := postgres.Open(t.Context(), postgres.Config{URL: dsn})
	if err == nil || !strings.Contains(err.Error(), "search_path") {
		t.Errorf("Open = %v, want an error about the search_path", err)
	}
}

func TestErrorsDoNotLeakSecrets(t *testing.T) {
	s := openAt(t, pgtest.NewSchema(t))
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
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := s.Update(t.Context(), tc.fn)
			if err == nil {
				t.Fatal("no error")
			}
			msg := strings.ToLower(err.Error())
			for _, secret := range [][]byte{hash, sealed} {
				if strings.Contains(msg, strings.ToLower(string(secret))) || strings.Contains(msg, hex.EncodeToString(secret)) {
					t.Errorf("error %q reveals a secret", msg)
				}
			}
		})
	}
}

func TestPasswordsNotInErrors(t *testing.T) {
	const pw = "s3cr3t-Pa55word"
	dir := t.TempDir()
	pwFile := filepath.Join(dir, "pw")
	if err := os.WriteFile(pwFile, []byte(pw+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		cfg  postgres.Config
	}{
		// Nothing listens on port 1: the connection is refused.
		{"password in the URL", postgres.Config{URL: "postgres://u:" + pw + "@127.0.0.1:1/db?sslmode=disable"}},
		{"password file", postgres.Config{URL: "postgres://u@127.0.0.1:1/db?sslmode=disable", PasswordFile: pwFile}},
		{"unparsable URL", postgres.Config{URL: "postgres://u:" + pw + "@127.0.0.1:notaport/db"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := postgres.Open(t.Context(), tc.cfg)
			if err == nil {
				t.Fatal("Open succeeded")
			}
			if strings.Contains(err.Error(), pw) {
				t.Errorf("error reveals the password: %v", err)
			}
		})
	}
}

func TestRedact(t *testing.T) {
	tests := []struct{ in, want string }{
		{"postgres://u:pw@h:5432/db?sslmode=disable", "postgres://u:xxxxx@h:5432/db?sslmode=disable"},
		{"postgres://u@h/db", "postgres://u@h/db"},
		{"postgres://u@h/db?password=pw", "postgres://u@h/db?password=xxxxx"},
		{"host=h user=u password=pw dbname=db", "host=h user=u password=xxxxx dbname=db"},
		{"postgres://u:pw@h:notaport/db", "postgres://u:xxxxx@h:notaport/db"},
		{"postgresql://u:p@ss@h", "postgresql://u:xxxxx@h"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			if got := postgres.Redact(tc.in); got != tc.want {
				t.Errorf("Redact = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestPoolSettings(t *testing.T) {
	dsn := pgtest.NewSchema(t)
	tests := []struct {
		name          string
		cfg           postgres.Config
		wantMax       int32
		wantStatement string
	}{
		{"defaults", postgres.Config{URL: dsn}, 10, "30s"},
		{"config", postgres.Config{URL: dsn, MaxConns: 3, StatementTimeout: 5 * time.Second}, 3, "5s"},
		{"URL wins for the server setting", postgres.Config{URL: dsn + "&pool_max_conns=7&statement_timeout=1500"}, 7, "1500ms"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := openAt(t, tc.cfg.URL)
			s.Close()
			s = func() *postgres.Store {
				s, err := postgres.Open(t.Context(), tc.cfg)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { s.Close() })
				return s
			}()
			if got := s.Pool().Config().MaxConns; got != tc.wantMax {
				t.Errorf("MaxConns = %d, want %d", got, tc.wantMax)
			}
			var got string
			if err := s.Pool().QueryRow(t.Context(), "SHOW statement_timeout").Scan(&got); err != nil {
				t.Fatal(err)
			}
			if got != tc.wantStatement {
				t.Errorf("statement_timeout = %s, want %s", got, tc.wantStatement)
			}
		})
	}
}

// TestDeadlockRetried: two writers lock the same two rows in opposite
// orders; PostgreSQL breaks the deadlock by failing one (40P01), and Update
// reruns it, so both commit.
func TestDeadlockRetried(t *testing.T) {
	s := openAt(t, pgtest.NewSchema(t))
	const iss = "https://issuer.example"
	for _, kid := range []string{"a", "b"} {
		err := s.Update(t.Context(), func(tx store.Tx) error {
			return tx.CreateSigningKey(t.Context(), &store.SigningKey{Issuer: iss, KID: kid, Algorithm: "ES256",
				PublicJWK: []byte("{}"), SealedPrivateKey: []byte("s"), CreatedAt: t0, ActivateAt: t0})
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	bump := func(tx store.Tx, kid string) error {
		return tx.UpdateSigningKeySchedule(t.Context(), iss, kid, &t0, nil)
	}
	// Each writer takes its first row, waits until the other has taken
	// its own (first attempt only), then asks for the other's.
	var firstLocks sync.WaitGroup
	firstLocks.Add(2)
	var once [2]sync.Once
	errs := make(chan error, 2)
	var attempts [2]int
	for i, order := range [][2]string{{"a", "b"}, {"b", "a"}} {
		go func() {
			errs <- s.Update(t.Context(), func(tx store.Tx) error {
				attempts[i]++
				if err := bump(tx, order[0]); err != nil {
					return err
				}
				once[i].Do(func() {
					firstLocks.Done()
					firstLocks.Wait()
				})
				return bump(tx, order[1])
			})
		}()
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Errorf("Update: %v", err)
		}
	}
	if attempts[0]+attempts[1] < 3 {
		t.Errorf("attempts %v: one writer should have been failed and rerun", attempts)
	}
}
