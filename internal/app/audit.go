package app

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/oidcfed/oidcfed/internal/audit"
	"github.com/oidcfed/oidcfed/internal/store"
)

// auditPruneInterval is how often events past the retention are pruned.
const auditPruneInterval = time.Hour

// startAudit opens the audit log (nil with NoAudit) and returns what
// closes it: commit what is queued, then close the file sink.
func startAudit(o Options, st store.Store, log *slog.Logger) (*audit.Log, func(), error) {
	if o.NoAudit {
		log.Warn("audit log disabled: calls are answered without being recorded")
		return nil, func() {}, nil
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
			return nil, nil, fmt.Errorf("audit file: %w", err)
		}
		sink, closeSink = f, func() { _ = f.Close() }
	}
	l, err := audit.New(audit.Options{Store: st, JSONL: sink, Now: o.clock(), Log: log})
	if err != nil {
		closeSink()
		return nil, nil, err
	}
	log.Info("audit log open", "writer", l.Writer(), "file", o.AuditFile)
	return l, func() { l.Close(); closeSink() }, nil
}

// pruneAudit removes events older than retention, hourly, until ctx ends.
func pruneAudit(ctx context.Context, st store.Store, retention time.Duration, now func() time.Time, log *slog.Logger) {
	prune := func() {
		var n int64
		err := st.Update(ctx, func(tx store.Tx) (err error) {
			n, err = tx.PruneAuditRecords(ctx, now().Add(-retention))
			return err
		})
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

// clock is the configured clock, time.Now by default.
func (o *Options) clock() func() time.Time {
	if o.Now != nil {
		return o.Now
	}
	return time.Now
}
