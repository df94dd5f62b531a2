package app

import (
	"context"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/oidcfed/oidcfed/internal/issuer"
	"github.com/oidcfed/oidcfed/internal/store"
)

// Replicas. Servers sharing a PostgreSQL database cache what their requests
// read — runners, access keys, IAM entities, KMS keys, the key schedule —
// so the hot path waits on the database only for the audit write. The
// store reports every committed change (store.Notifier, LISTEN/NOTIFY) and
// watchChanges drops what the change makes stale, within milliseconds of
// the commit on every replica; a replica that cannot listen drops
// everything and reports not ready until it listens again.

// replicaCaches is what watchChanges refreshes.
type replicaCaches struct {
	handlers *awsHandlers
	issuer   *issuer.Issuer
	changes  *prometheus.CounterVec
}

// watchChanges relays the store's change notifications to the caches
// until ctx ends. Dropping a cache is immediate; what needs the store
// again (the provider set the token verifier holds, the key schedule) is
// re-read by refresher goroutines, so a slow store never holds up the
// notifications behind it.
func watchChanges(ctx context.Context, n store.Notifier, c replicaCaches, log *slog.Logger) {
	providers := refresher(ctx, func(ctx context.Context) { c.handlers.iamManager.ReloadProviders(ctx) })
	schedule := refresher(ctx, func(ctx context.Context) {
		if err := c.issuer.Reload(ctx); err != nil && ctx.Err() == nil {
			// The maintenance loop reloads on its own schedule too.
			log.Warn("reload of the key schedule after a change failed", "err", err)
		}
	})
	err := n.Watch(ctx, func(t store.Topic) {
		c.changes.WithLabelValues(string(t)).Inc()
		switch t {
		case store.TopicIAM:
			c.handlers.iamManager.Invalidate()
			providers()
		case store.TopicKMS:
			c.handlers.kmsService.Invalidate()
		case store.TopicAccessKeys:
			if c.handlers.accessKeys != nil {
				c.handlers.accessKeys.invalidate()
			}
		case store.TopicRunners:
			c.issuer.InvalidateRunners()
		case store.TopicSigningKeys:
			schedule()
		}
	})
	if ctx.Err() == nil {
		log.Error("watching the store for changes stopped", "err", err)
	}
}

// refresher runs fn in a goroutine of its own each time the returned kick
// is called, coalescing kicks that come while it runs into one more run.
func refresher(ctx context.Context, fn func(context.Context)) (kick func()) {
	kicks := make(chan struct{}, 1)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-kicks:
				fn(ctx)
			}
		}
	}()
	return func() {
		select {
		case kicks <- struct{}{}:
		default:
		}
	}
}

// countingStore counts transactions for /metrics, where an operator (and
// the replica tests) can see that requests are served from caches:
// oidcfed_store_transactions_total{kind="view"|"update"}.
type countingStore struct {
	store.Store
	views, updates prometheus.Counter
}

func newCountingStore(st store.Store, reg prometheus.Registerer) *countingStore {
	v := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "oidcfed_store_transactions_total",
		Help: "Store transactions begun: view (read) or update (write; retries of one update count once).",
	}, []string{"kind"})
	reg.MustRegister(v)
	return &countingStore{Store: st, views: v.WithLabelValues("view"), updates: v.WithLabelValues("update")}
}

func (c *countingStore) View(ctx context.Context, fn func(store.Tx) error) error {
	c.views.Inc()
	return c.Store.View(ctx, fn)
}

func (c *countingStore) Update(ctx context.Context, fn func(store.Tx) error) error {
	c.updates.Inc()
	return c.Store.Update(ctx, fn)
}

// AppendAuditRecords keeps the store's faster path for the audit log
// (store.AuditAppender) visible through the wrapper; it counts as an update.
func (c *countingStore) AppendAuditRecords(ctx context.Context, records []store.AuditRecord) error {
	c.updates.Inc()
	if a, ok := c.Store.(store.AuditAppender); ok {
		return a.AppendAuditRecords(ctx, records)
	}
	return c.Store.Update(ctx, func(tx store.Tx) error { return tx.AppendAuditRecords(ctx, records) })
}

func newChangesCounter(reg prometheus.Registerer) *prometheus.CounterVec {
	v := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "oidcfed_store_changes_total",
		Help: "Change notifications heard from the shared store, by topic (every topic once more after each reconnection).",
	}, []string{"topic"})
	reg.MustRegister(v)
	return v
}
