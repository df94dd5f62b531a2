package issuer

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oidcfed/oidcfed/internal/store"
)

// viewCounter counts the store's read transactions.
type viewCounter struct {
	store.Store
	views atomic.Int64
}

func (c *viewCounter) View(ctx context.Context, fn func(store.Tx) error) error {
	c.views.Add(1)
	return c.Store.View(ctx, fn)
}

// TestRunnerCache: with CacheRunners, an active runner's token is read from
// the store once; InvalidateRunners (what a replica does when the store
// reports a change to runners) makes the next call read again, so a
// revocation is seen; unknown tokens are never cached.
func TestRunnerCache(t *testing.T) {
	ctx := context.Background()
	st := &viewCounter{Store: newTestStore(t)}
	clk := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	iss := newTestIssuer(t, Config{}, st, newTestSealer(t), clk)
	token, r, err := iss.CreateRunner(ctx, "ci", nil)
	if err != nil {
		t.Fatal(err)
	}
	auth := func() (int64, error) {
		before := st.views.Load()
		_, err := iss.Authenticate(ctx, token)
		return st.views.Load() - before, err
	}
	steps := []struct {
		name      string
		before    func()
		wantReads int64
		wantErr   error
	}{
		{"uncached: reads every time", nil, 1, nil},
		{"uncached again", nil, 1, nil},
		{"cached: first read", iss.CacheRunners, 1, nil},
		{"cached: from memory", nil, 0, nil},
		{"revoked elsewhere, not yet told: still cached", func() {
			if err := st.Update(ctx, func(tx store.Tx) error { return tx.RevokeRunner(ctx, r.ID, clk.Now()) }); err != nil {
				t.Fatal(err)
			}
		}, 0, nil},
		{"told: reads and refuses", iss.InvalidateRunners, 1, ErrUnauthorized},
		{"revoked runners are not cached", nil, 1, ErrUnauthorized},
	}
	for _, step := range steps {
		if step.before != nil {
			step.before()
		}
		reads, err := auth()
		if reads != step.wantReads || !errors.Is(err, step.wantErr) {
			t.Errorf("%s: %d reads, err %v; want %d, %v", step.name, reads, err, step.wantReads, step.wantErr)
		}
	}
	for range 3 {
		before := st.views.Load()
		if _, err := iss.Authenticate(ctx, RunnerTokenPrefix+"unknown"); !errors.Is(err, ErrUnauthorized) {
			t.Fatalf("unknown token: %v", err)
		}
		if st.views.Load() == before {
			t.Error("an unknown token was answered from the cache")
		}
	}
}
