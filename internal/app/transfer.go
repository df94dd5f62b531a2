package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/oidcfed/oidcfed/internal/store/transfer"
)

// Export writes the whole store to path ("-": w), from one snapshot: it
// may run beside a server. The file is created with mode 0600 and never
// overwrites one: it holds what the database holds (secrets sealed).
func Export(ctx context.Context, o Options, path string, w io.Writer, now func() time.Time) (transfer.Summary, error) {
	st, err := OpenAuditStore(ctx, o) // an existing store, no master key needed
	if err != nil {
		return transfer.Summary{}, err
	}
	defer st.Close()
	// The embedded store's audit records are in its journal; PostgreSQL's
	// are read in the export's snapshot.
	var records transfer.AuditSource
	if o.StoreURL == "" {
		j, closeJournal, err := auditBackend(o, st, false)
		if err != nil {
			return transfer.Summary{}, err
		}
		defer closeJournal()
		records = j
	}
	if path == "-" {
		return transfer.Export(ctx, st, records, w, now())
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return transfer.Summary{}, fmt.Errorf("export file: %w", err)
	}
	sum, err := transfer.Export(ctx, st, records, f, now())
	if err == nil {
		err = f.Sync()
	}
	if err = errors.Join(err, f.Close()); err != nil {
		_ = os.Remove(path)
		return transfer.Summary{}, err
	}
	return sum, nil
}

// Import reads an export into the store o names, which must be empty (a
// new database: no server may have started on it). SQLite's data
// directory is locked meanwhile, as a server would lock it.
func Import(ctx context.Context, o Options, path string) (transfer.Summary, error) {
	if o.StoreURL == "" {
		if err := os.MkdirAll(o.DataDir, 0o700); err != nil {
			return transfer.Summary{}, fmt.Errorf("create data directory: %w", err)
		}
		lk, err := LockDataDir(o.DataDir)
		if err != nil {
			return transfer.Summary{}, fmt.Errorf("data directory %s: %w", o.DataDir, err)
		}
		defer lk.Unlock()
	}
	if _, err := os.Stat(path); err != nil {
		return transfer.Summary{}, fmt.Errorf("import file: %w", err)
	}
	st, err := o.openStore(ctx)
	if err != nil {
		return transfer.Summary{}, err
	}
	defer st.Close()
	return transfer.Import(ctx, st, func() (io.ReadCloser, error) { return os.Open(path) })
}
