package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/oidcfed/oidcfed/internal/audit"
	"github.com/oidcfed/oidcfed/internal/store"
)

// auditPruneInterval is how often events past the retention are pruned.
const auditPruneInterval = time.Hour

// AuditDirName is the audit journal's directory in the data directory:
// with the embedded store, audit records live there (audit.Journal), not
// in the database.
const AuditDirName = "audit"

// auditBackend is where the server keeps audit records: the journal
// beside the embedded store, or PostgreSQL's tables, which every replica
// shares. write opens the journal for writing (the server holds the data
// directory's lock).
func auditBackend(o Options, st store.Store, write bool) (audit.Backend, func(), error) {
	if o.StoreURL != "" {
		return audit.StoreBackend(st), func() {}, nil
	}
	j, err := audit.OpenJournal(filepath.Join(o.DataDir, AuditDirName), audit.JournalOptions{ReadOnly: !write})
	if err != nil {
		return nil, nil, err
	}
	return j, func() { _ = j.Close() }, nil
}

// startAudit opens the audit backend and log (nil with NoAudit) and
// returns what closes them: commit what is queued, then close the file
// sink and the backend.
func startAudit(ctx context.Context, o Options, st store.Store, log *slog.Logger) (*audit.Log, audit.Backend, func(), error) {
	backend, closeBackend, err := auditBackend(o, st, !o.NoAudit)
	if err != nil {
		return nil, nil, nil, err
	}
	if o.NoAudit {
		log.Warn("audit log disabled: calls are answered without being recorded")
		return nil, backend, closeBackend, nil
	}
	if j, ok := backend.(*audit.Journal); ok {
		if err := moveStoreAudit(ctx, st, j, log); err != nil {
			closeBackend()
			return nil, nil, nil, err
		}
	}
	var sink audit.Syncer
	closeSink := func() {}
	switch o.AuditFile {
	case "":
	case "-":
		sink = os.Stdout
	default:
		f, err := os.OpenFile(o.AuditFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			closeBackend()
			return nil, nil, nil, fmt.Errorf("audit file: %w", err)
		}
		sink, closeSink = f, func() { _ = f.Close() }
	}
	l, err := audit.New(audit.Options{Backend: backend, JSONL: sink, Now: o.clock(), Log: log})
	if err != nil {
		closeSink()
		closeBackend()
		return nil, nil, nil, err
	}
	log.Info("audit log open", "writer", l.Writer(), "file", o.AuditFile)
	return l, backend, func() { l.Close(); closeSink(); closeBackend() }, nil
}

// moveStoreAudit moves the audit records an earlier version kept in the
// embedded database into the journal, chains and prune anchors intact,
// then removes them from the database.
func moveStoreAudit(ctx context.Context, st store.Store, j *audit.Journal, log *slog.Logger) error {
	old := audit.StoreBackend(st)
	chains, err := old.Chains(ctx)
	if err != nil || len(chains) == 0 {
		return err
	}
	// A move that stopped before emptying the tables (a crash) is resumed
	// after what the journal already holds.
	have, err := j.Chains(ctx)
	if err != nil {
		return err
	}
	inJournal := map[string]uint64{}
	for _, c := range have {
		inJournal[c.Writer] = c.Last
	}
	var moved int64
	for _, c := range chains {
		if c.Anchor != nil {
			if err := j.SetAnchor(*c.Anchor); err != nil {
				return fmt.Errorf("move audit records to the journal: %w", err)
			}
		}
		for from := inJournal[c.Writer] + 1; ; {
			page, err := old.Chain(ctx, c.Writer, from, 1000)
			if err != nil {
				return fmt.Errorf("move audit records to the journal: %w", err)
			}
			if len(page) == 0 {
				break
			}
			if err := j.Append(ctx, page); err != nil {
				return fmt.Errorf("move audit records to the journal: %w", err)
			}
			moved += int64(len(page))
			from = page[len(page)-1].Seq + 1
		}
	}
	// Everything is in the journal: empty the tables (what pruning leaves
	// behind, anchors, is harmless there).
	if _, err := old.Prune(ctx, time.Unix(0, math.MaxInt64)); err != nil {
		return errors.Join(errors.New("audit records copied to the journal but not removed from the database"), err)
	}
	log.Info("audit records moved from the database to the journal", "records", moved)
	return nil
}

// pruneAudit removes events older than retention, hourly, until ctx ends.
func pruneAudit(ctx context.Context, b audit.Backend, retention time.Duration, now func() time.Time, log *slog.Logger) {
	prune := func() {
		n, err := b.Prune(ctx, now().Add(-retention))
		switch {
		case err != nil && ctx.Err() == nil:
			log.Error("audit prune failed", "cause", err)
		case n > 0:
			log.Info("audit events pruned", "removed", n, "retention", retention.String())
		}
	}
	prune()
	t := time.NewTicker(auditPruneInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			prune()
		}
	}
}

// OpenAuditBackend opens the audit records for reading beside a running
// server (`oidcfed audit`): the journal in the data directory, or the
// PostgreSQL store. No master key is needed.
func OpenAuditBackend(ctx context.Context, o Options) (audit.Backend, func(), error) {
	st, err := OpenAuditStore(ctx, o)
	if err != nil {
		return nil, nil, err
	}
	b, closeBackend, err := auditBackend(o, st, false)
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	return b, func() { closeBackend(); st.Close() }, nil
}

// clock is the configured clock, time.Now by default.
func (o *Options) clock() func() time.Time {
	if o.Now != nil {
		return o.Now
	}
	return time.Now
}
