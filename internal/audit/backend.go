package audit

import (
	"context"
	"time"

	"github.com/oidcfed/oidcfed/internal/store"
)

// Backend keeps the audit records: Log appends to it; lookups, the CLI,
// verification and pruning read it. Two kinds exist: the store itself
// (StoreBackend: PostgreSQL, where replicas share the records) and the
// journal (Journal: segment files next to the embedded store, where a
// commit is one write and one data sync rather than a database
// transaction).
type Backend interface {
	// Append makes records durable, all or none.
	Append(ctx context.Context, records []store.AuditRecord) error
	// Query lists records matching q (store.AuditQuery's order and limit).
	Query(ctx context.Context, q store.AuditQuery) ([]store.AuditRecord, error)
	// Chains describes every writer's chain, ordered by writer.
	Chains(ctx context.Context) ([]store.AuditChainInfo, error)
	// Chain returns up to limit records of writer with Seq ≥ from, in order.
	Chain(ctx context.Context, writer string, from uint64, limit int) ([]store.AuditRecord, error)
	// Prune removes records older than before, keeping each chain
	// verifiable from where it now starts; it returns how many went.
	Prune(ctx context.Context, before time.Time) (int64, error)
}

// StoreBackend keeps audit records in st's audit tables.
func StoreBackend(st store.Store) Backend { return storeBackend{st} }

type storeBackend struct{ st store.Store }

func (b storeBackend) Append(ctx context.Context, records []store.AuditRecord) error {
	if a, ok := b.st.(store.AuditAppender); ok {
		return a.AppendAuditRecords(ctx, records)
	}
	return b.st.Update(ctx, func(tx store.Tx) error { return tx.AppendAuditRecords(ctx, records) })
}

func (b storeBackend) Query(ctx context.Context, q store.AuditQuery) (out []store.AuditRecord, err error) {
	err = b.st.View(ctx, func(tx store.Tx) (err error) {
		out, err = tx.QueryAuditRecords(ctx, q)
		return err
	})
	return out, err
}

func (b storeBackend) Chains(ctx context.Context) (out []store.AuditChainInfo, err error) {
	err = b.st.View(ctx, func(tx store.Tx) (err error) {
		out, err = tx.AuditChains(ctx)
		return err
	})
	return out, err
}

func (b storeBackend) Chain(ctx context.Context, writer string, from uint64, limit int) (out []store.AuditRecord, err error) {
	err = b.st.View(ctx, func(tx store.Tx) (err error) {
		out, err = tx.AuditChain(ctx, writer, from, limit)
		return err
	})
	return out, err
}

func (b storeBackend) Prune(ctx context.Context, before time.Time) (n int64, err error) {
	err = b.st.Update(ctx, func(tx store.Tx) (err error) {
		n, err = tx.PruneAuditRecords(ctx, before)
		return err
	})
	return n, err
}
