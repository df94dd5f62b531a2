package app

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/oidcfed/oidcfed/internal/store"
	"github.com/oidcfed/oidcfed/internal/store/postgres"
	"github.com/oidcfed/oidcfed/internal/store/sqlite"
)

// openStore opens the configured store, migrating its schema: PostgreSQL
// when StoreURL is set, else the SQLite file in DataDir (created if absent).
func (o *Options) openStore(ctx context.Context) (store.Store, error) {
	if o.StoreURL != "" {
		if !postgres.IsURL(o.StoreURL) {
			return nil, fmt.Errorf("store %s: want a postgres:// URL", postgres.Redact(o.StoreURL))
		}
		return postgres.Open(ctx, postgres.Config{URL: o.StoreURL, PasswordFile: o.StorePasswordFile, MaxConns: int32(o.StoreMaxConns)})
	}
	if o.DataDir == "" {
		return nil, errors.New("no data directory: pass --data or set data_dir in the config")
	}
	if err := os.MkdirAll(o.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	return sqlite.Open(ctx, filepath.Join(o.DataDir, StoreFileName))
}

// describeStore names the store for logs and messages, without credentials.
func (o *Options) describeStore() string {
	if o.StoreURL != "" {
		return "postgres " + postgres.Redact(o.StoreURL)
	}
	return "sqlite " + filepath.Join(o.DataDir, StoreFileName)
}

// Migrate brings the store's schema up to date, as every server and admin
// command does when it opens the store, and says what it did. Operators run
// it (`oidcfed migrate`) before rolling out a new version to replicas that
// share a PostgreSQL database, so the first replica to start does not
// migrate under the others' feet; it needs no master key.
func Migrate(ctx context.Context, o Options) (string, error) {
	st, err := o.openStore(ctx)
	if err != nil {
		return "", err
	}
	defer st.Close()
	var from, to int
	where := o.describeStore()
	switch s := st.(type) {
	case *postgres.Store:
		from, to = s.Migrated()
		where = "postgres " + s.Where()
	case *sqlite.Store:
		from, to = s.Migrated()
	}
	if from == to {
		return fmt.Sprintf("%s: schema up to date (version %d)", where, to), nil
	}
	return fmt.Sprintf("%s: schema migrated from version %d to %d", where, from, to), nil
}

// OpenAuditStore opens the store to read its audit log: no master key is
// needed (events hold no secrets), and a data directory without a store
// is an error, not a new store.
func OpenAuditStore(ctx context.Context, o Options) (store.Store, error) {
	if o.StoreURL == "" {
		path := filepath.Join(o.DataDir, StoreFileName)
		if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("no store at %s (wrong --data, --store or --config?): %w", path, err)
		}
	}
	return o.openStore(ctx)
}

// LockOutServers makes sure no server uses the store until release is
// called, for `admin rotate-master-key`: SQLite's data directory lock, or
// on PostgreSQL the lock every running replica holds shared. It fails with
// ErrDataDirLocked while a server runs.
func LockOutServers(ctx context.Context, o Options) (release func(), err error) {
	if o.StoreURL == "" {
		lk, err := LockDataDir(o.DataDir)
		if err != nil {
			return nil, err
		}
		return func() { _ = lk.Unlock() }, nil
	}
	st, err := o.openStore(ctx)
	if err != nil {
		return nil, err
	}
	pg, ok := st.(*postgres.Store)
	if !ok {
		st.Close()
		return nil, fmt.Errorf("store %s cannot lock out servers", o.describeStore())
	}
	unlock, err := pg.LockOutServers(ctx)
	if errors.Is(err, postgres.ErrServersRunning) {
		err = fmt.Errorf("%w (a replica is using %s)", ErrDataDirLocked, o.describeStore())
	}
	if err != nil {
		st.Close()
		return nil, err
	}
	return func() { unlock(); st.Close() }, nil
}
