package postgres_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/oidcfed/oidcfed/internal/store"
	"github.com/oidcfed/oidcfed/internal/store/postgres"
	"github.com/oidcfed/oidcfed/internal/store/postgres/pgtest"
)

// heard collects what a Watch reports.
type heard struct {
	mu     sync.Mutex
	topics []store.Topic
	signal chan struct{}
}

func newHeard() *heard { return &heard{signal: make(chan struct{}, 1)} }

func (h *heard) changed(t store.Topic) {
	h.mu.Lock()
	h.topics = append(h.topics, t)
	h.mu.Unlock()
	select {
	case h.signal <- struct{}{}:
	default:
	}
}

// take returns and forgets what was heard so far.
func (h *heard) take() []store.Topic {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := h.topics
	h.topics = nil
	return out
}

// waitFor waits until every topic in want has been heard (since the last
// take), or fails after limit.
func (h *heard) waitFor(t *testing.T, limit time.Duration, want ...store.Topic) []store.Topic {
	t.Helper()
	deadline := time.After(limit)
	var got []store.Topic
	for {
		got = append(got, h.take()...)
		missing := slices.DeleteFunc(slices.Clone(want), func(w store.Topic) bool { return slices.Contains(got, w) })
		if len(missing) == 0 {
			return got
		}
		select {
		case <-h.signal:
		case <-deadline:
			t.Fatalf("within %v heard %q, missing %q", limit, got, missing)
		}
	}
}

func watch(t *testing.T, s *postgres.Store) *heard {
	t.Helper()
	h := newHeard()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Watch(ctx, h.changed) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != context.Canceled {
			t.Errorf("Watch returned %v, want context.Canceled", err)
		}
	})
	return h
}

// TestWatchHearsOtherProcesses: a change committed through one Store (as
// another replica would) reaches a Watch on another within moments, with
// the topic of what changed; a rolled-back change and a store in another
// schema are not heard.
func TestWatchHearsOtherProcesses(t *testing.T) {
	dsn := pgtest.NewSchema(t)
	a, b := openAt(t, dsn), openAt(t, dsn)
	other := openAt(t, pgtest.NewSchema(t))
	h := watch(t, a)
	// Listening starts by reporting everything: nothing before it is known.
	h.waitFor(t, 10*time.Second, store.Topics...)

	tests := []struct {
		name  string
		write func(ctx context.Context, tx store.Tx) error
		want  store.Topic
	}{
		{"runner", func(ctx context.Context, tx store.Tx) error {
			return tx.CreateRunner(ctx, &store.Runner{Name: "r", TokenHash: []byte("h"), CreatedAt: t0})
		}, store.TopicRunners},
		{"signing key", func(ctx context.Context, tx store.Tx) error {
			return tx.CreateSigningKey(ctx, &store.SigningKey{Issuer: "https://i", KID: "k", Algorithm: "ES256",
				PublicJWK: []byte("{}"), SealedPrivateKey: []byte("s"), CreatedAt: t0, ActivateAt: t0})
		}, store.TopicSigningKeys},
		{"access key", func(ctx context.Context, tx store.Tx) error {
			return tx.CreateAccessKey(ctx, &store.AccessKey{ID: "AKIA1", SealedSecret: []byte("s"), Status: "Active", CreatedAt: t0})
		}, store.TopicAccessKeys},
		{"IAM record", func(ctx context.Context, tx store.Tx) error {
			return tx.CreateIAMRecord(ctx, &store.IAMRecord{Kind: "role", Key: "r", Body: []byte("{}")})
		}, store.TopicIAM},
		{"KMS key", func(ctx context.Context, tx store.Tx) error {
			return tx.CreateKMSKey(ctx, &store.KMSKey{ID: "k", Body: []byte("{}"), SealedMaterial: []byte("s")})
		}, store.TopicKMS},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// Neither a rolled-back write nor one in another schema...
			_ = b.Update(t.Context(), func(tx store.Tx) error {
				if err := tc.write(t.Context(), tx); err != nil {
					return err
				}
				return context.Canceled
			})
			if err := other.Update(t.Context(), func(tx store.Tx) error { return tc.write(t.Context(), tx) }); err != nil {
				t.Fatal(err)
			}
			// ...but a committed one is heard.
			start := time.Now()
			if err := b.Update(t.Context(), func(tx store.Tx) error { return tc.write(t.Context(), tx) }); err != nil {
				t.Fatal(err)
			}
			got := h.waitFor(t, time.Second, tc.want)
			t.Logf("heard %q %v after the commit", got, time.Since(start))
			if len(got) != 1 {
				t.Errorf("heard %q, want only %q", got, tc.want)
			}
		})
	}
}

// TestWatchSurvivesRestart: when PostgreSQL goes away, Watch reports every
// topic (caches must go), Ping fails while it cannot listen, and once the
// database is back Watch listens again — reporting every topic once more —
// and changes are heard as before, all without reopening the Store.
func TestWatchSurvivesRestart(t *testing.T) {
	srv := pgtest.StartServer(t)
	dsn := srv.NewSchema(t)
	s := openAt(t, dsn)
	h := watch(t, s)
	h.waitFor(t, 10*time.Second, store.Topics...)
	waitPing := func(ok bool) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
			err := s.Ping(ctx)
			cancel()
			if (err == nil) == ok {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("Ping = %v after 20s, want ok=%v", err, ok)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitPing(true)

	srv.Stop(t)
	h.waitFor(t, 10*time.Second, store.Topics...)
	waitPing(false)

	srv.Start(t)
	h.waitFor(t, 20*time.Second, store.Topics...)
	waitPing(true)
	other := openAt(t, dsn)
	if err := other.Update(t.Context(), func(tx store.Tx) error {
		return tx.CreateRunner(t.Context(), &store.Runner{Name: "after", TokenHash: []byte("h2"), CreatedAt: t0})
	}); err != nil {
		t.Fatal(err)
	}
	h.waitFor(t, time.Second, store.TopicRunners)
	// The store's own pool recovered too.
	if err := s.Update(t.Context(), func(tx store.Tx) error {
		return tx.CreateRunner(t.Context(), &store.Runner{Name: "again", TokenHash: []byte("h3"), CreatedAt: t0})
	}); err != nil {
		t.Errorf("Update after the restart: %v", err)
	}
}

// TestLockOutServers: the lock `admin rotate-master-key` takes is refused
// while a server listens, and, once taken, keeps servers from listening
// (so from being ready) until it is released.
func TestLockOutServers(t *testing.T) {
	dsn := pgtest.NewSchema(t)
	server, admin := openAt(t, dsn), openAt(t, dsn)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	h := newHeard()
	go func() { done <- server.Watch(ctx, h.changed) }()
	h.waitFor(t, 10*time.Second, store.Topics...)
	if _, err := admin.LockOutServers(t.Context()); !errors.Is(err, postgres.ErrServersRunning) {
		t.Fatalf("LockOutServers with a server listening: %v, want ErrServersRunning", err)
	}
	cancel()
	<-done

	unlock, err := admin.LockOutServers(t.Context())
	if err != nil {
		t.Fatalf("LockOutServers with no server: %v", err)
	}
	go func() { done <- server.Watch(t.Context(), h.changed) }()
	time.Sleep(300 * time.Millisecond)
	if err := server.Ping(t.Context()); err == nil {
		t.Error("a server is ready while the servers are locked out")
	}
	if got := h.take(); len(got) != 0 {
		t.Errorf("a server locked out reported %q: it listens", got)
	}
	unlock()
	h.waitFor(t, 10*time.Second, store.Topics...)
	if err := server.Ping(t.Context()); err != nil {
		t.Errorf("Ping once the lock is released: %v", err)
	}
}
