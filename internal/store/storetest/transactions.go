package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/oidcfed/oidcfed/internal/store"
)

// blockedAfter is how long a test waits for an operation that must not be
// blocked before calling it a deadlock. Generous: a slow CI machine must not
// fail it, and a real deadlock fails it either way.
const blockedAfter = 10 * time.Second

// RunTransactionTests runs the tests of transaction semantics: isolation,
// retries, rollback and context handling.
func RunTransactionTests(t *testing.T, newStore func(t *testing.T) store.Store) {
	runAll(t, newStore, []testCase{
		{"ReadYourWrites", testReadYourWrites},
		{"UncommittedWritesInvisible", testUncommittedInvisible},
		{"ViewSnapshot", testViewSnapshot},
		{"FailedWriteDoesNotAbortTx", testFailedWriteRecoverable},
		{"UpdateRetriesConflicts", testUpdateRetriesConflicts},
		{"UpdateGivesUpOnPersistentConflict", testUpdateGivesUp},
		{"UpdateDoesNotRetryOtherErrors", testUpdateNoRetry},
		{"CancelledContext", testCancelledContext},
		{"UpdateRecoversFromPanic", testUpdatePanic},
	})
}

func testReadYourWrites(t *testing.T, s store.Store) {
	const iss = "https://issuer.example"
	update(t, s, func(tx store.Tx) error {
		ctx := t.Context()
		r := newRunner("ci")
		if err := tx.CreateRunner(ctx, r); err != nil {
			return err
		}
		steps := []struct {
			name  string
			check func() error
		}{
			{"GetRunner", func() error { _, err := tx.GetRunner(ctx, r.ID); return err }},
			{"GetRunnerByTokenHash", func() error { _, err := tx.GetRunnerByTokenHash(ctx, r.TokenHash); return err }},
			{"ListRunners", func() error {
				rs, err := tx.ListRunners(ctx)
				if err == nil && len(rs) != 1 {
					err = fmt.Errorf("%d runners", len(rs))
				}
				return err
			}},
			{"RevokeRunner then GetRunner", func() error {
				if err := tx.RevokeRunner(ctx, r.ID, t0); err != nil {
					return err
				}
				got, err := tx.GetRunner(ctx, r.ID)
				if err == nil && got.RevokedAt == nil {
					err = errors.New("revocation not visible")
				}
				return err
			}},
			{"CreateSigningKey then list", func() error {
				if err := tx.CreateSigningKey(ctx, newKey(iss, "k", t0)); err != nil {
					return err
				}
				ks, err := tx.ListSigningKeys(ctx, iss)
				if err == nil && len(ks) != 1 {
					err = fmt.Errorf("%d keys", len(ks))
				}
				return err
			}},
			{"schedule then list", func() error {
				if err := tx.UpdateSigningKeySchedule(ctx, iss, "k", ptr(t0), nil); err != nil {
					return err
				}
				ks, err := tx.ListSigningKeys(ctx, iss)
				if err == nil && (len(ks) != 1 || ks[0].RetireAt == nil) {
					err = errors.New("schedule not visible")
				}
				return err
			}},
			{"delete then list", func() error {
				if err := tx.DeleteSigningKey(ctx, iss, "k"); err != nil {
					return err
				}
				ks, err := tx.ListSigningKeys(ctx, iss)
				if err == nil && len(ks) != 0 {
					err = errors.New("deleted key still listed")
				}
				return err
			}},
		}
		for _, st := range steps {
			if err := st.check(); err != nil {
				t.Errorf("%s inside the writing transaction: %v", st.name, err)
			}
		}
		return nil
	})
}

func testUncommittedInvisible(t *testing.T, s store.Store) {
	errAbort := errors.New("abort")
	err := s.Update(t.Context(), func(tx store.Tx) error {
		if err := tx.CreateRunner(t.Context(), newRunner("pending")); err != nil {
			return err
		}
		// Another transaction (View needs no writer) must not see it yet.
		if rs := listRunners(t, s); len(rs) != 0 {
			t.Errorf("a concurrent View sees %d uncommitted runners", len(rs))
		}
		return errAbort
	})
	wantErrIs(t, "Update", err, errAbort)
}

func testViewSnapshot(t *testing.T, s store.Store) {
	createRunner(t, s, newRunner("before"))
	view(t, s, func(tx store.Tx) error {
		first, err := tx.ListRunners(t.Context())
		if err != nil {
			return err
		}
		// Commit a write while this View is open. It must not wait for the
		// View to end (readers do not block writers)...
		done := make(chan error, 1)
		go func() {
			done <- s.Update(context.WithoutCancel(t.Context()), func(tx store.Tx) error {
				return tx.CreateRunner(t.Context(), newRunner("during"))
			})
		}()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Update during a View: %v", err)
			}
		case <-time.After(blockedAfter):
			t.Fatal("Update blocked behind an open View")
		}
		// ...and the View keeps seeing the snapshot it started with.
		second, err := tx.ListRunners(t.Context())
		if err != nil {
			return err
		}
		if len(first) != 1 || len(second) != len(first) {
			t.Errorf("View saw %d then %d runners, want 1 both times", len(first), len(second))
		}
		return nil
	})
	if rs := listRunners(t, s); len(rs) != 2 {
		t.Errorf("a View after the write sees %d runners, want 2", len(rs))
	}
}

// testFailedWriteRecoverable: a write that fails with a sentinel error does
// not poison the transaction; fn may handle the error and carry on. (On
// PostgreSQL this needs a savepoint around each statement.)
func testFailedWriteRecoverable(t *testing.T, s store.Store) {
	existing := createRunner(t, s, newRunner("taken"))
	createKey(t, s, newKey("https://i.example", "k", t0))
	update(t, s, func(tx store.Tx) error {
		ctx := t.Context()
		dup := newRunner("taken")
		if err := tx.CreateRunner(ctx, dup); !errors.Is(err, store.ErrAlreadyExists) {
			t.Errorf("duplicate name: err = %v, want ErrAlreadyExists", err)
		}
		if err := tx.CreateSigningKey(ctx, newKey("https://i.example", "k", t0)); !errors.Is(err, store.ErrAlreadyExists) {
			t.Errorf("duplicate kid: err = %v, want ErrAlreadyExists", err)
		}
		if err := tx.RevokeRunner(ctx, existing.ID+100, t0); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("revoke unknown: err = %v, want ErrNotFound", err)
		}
		return tx.CreateRunner(ctx, newRunner("fallback"))
	})
	names := []string{}
	for _, r := range listRunners(t, s) {
		names = append(names, r.Name)
	}
	if want := []string{"taken", "fallback"}; !slices.Equal(names, want) {
		t.Errorf("runners = %v, want %v", names, want)
	}
}

func testUpdateRetriesConflicts(t *testing.T, s store.Store) {
	calls := 0
	update(t, s, func(tx store.Tx) error {
		calls++
		r := newRunner(fmt.Sprint("attempt-", calls))
		if err := tx.CreateRunner(t.Context(), r); err != nil {
			return err
		}
		if calls < 3 {
			// As a backend reports a lost race: the attempt's writes must
			// be discarded and fn run again from the start.
			return fmt.Errorf("simulated serialization failure: %w", store.ErrConflict)
		}
		return nil
	})
	if calls != 3 {
		t.Errorf("fn ran %d times, want 3", calls)
	}
	rs := listRunners(t, s)
	if len(rs) != 1 || rs[0].Name != "attempt-3" {
		t.Errorf("runners after retries = %d (first %q), want only attempt-3", len(rs), func() string {
			if len(rs) == 0 {
				return ""
			}
			return rs[0].Name
		}())
	}
}

func testUpdateGivesUp(t *testing.T, s store.Store) {
	calls := 0
	err := s.Update(t.Context(), func(tx store.Tx) error {
		calls++
		return store.ErrConflict
	})
	wantErrIs(t, "Update", err, store.ErrConflict)
	if calls < 2 || calls > 100 {
		t.Errorf("fn ran %d times, want a bounded number of retries", calls)
	}
}

func testUpdateNoRetry(t *testing.T, s store.Store) {
	tests := []struct {
		name string
		err  func(tx store.Tx) error
		want error
	}{
		{"ErrNotFound from a read", func(tx store.Tx) error {
			_, err := tx.GetRunner(t.Context(), 12345)
			return err
		}, store.ErrNotFound},
		{"ErrAlreadyExists", func(tx store.Tx) error {
			if err := tx.CreateRunner(t.Context(), newRunner("x")); err != nil {
				return err
			}
			return tx.CreateRunner(t.Context(), newRunner("x"))
		}, store.ErrAlreadyExists},
		{"caller's own error", func(store.Tx) error { return context.DeadlineExceeded }, context.DeadlineExceeded},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			calls := 0
			err := s.Update(t.Context(), func(tx store.Tx) error { calls++; return tc.err(tx) })
			wantErrIs(t, "Update", err, tc.want)
			if calls != 1 {
				t.Errorf("fn ran %d times, want 1", calls)
			}
		})
	}
	if rs := listRunners(t, s); len(rs) != 0 {
		t.Errorf("%d runners stored by failed Updates", len(rs))
	}
}

func testCancelledContext(t *testing.T, s store.Store) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	tests := []struct {
		name string
		run  func(fn func(store.Tx) error) error
	}{
		{"View", func(fn func(store.Tx) error) error { return s.View(ctx, fn) }},
		{"Update", func(fn func(store.Tx) error) error { return s.Update(ctx, fn) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.run(func(tx store.Tx) error {
				// Backends may or may not notice before fn; either way the
				// write must not commit.
				return tx.CreateRunner(ctx, newRunner("cancelled"))
			})
			if err == nil {
				t.Errorf("%s with a cancelled context succeeded", tc.name)
			}
		})
	}
	if rs := listRunners(t, s); len(rs) != 0 {
		t.Errorf("%d runners stored under a cancelled context", len(rs))
	}
	// The store is still usable afterwards.
	createRunner(t, s, newRunner("after"))
}

// testUpdatePanic: a panic in fn must not leave the transaction open (on
// SQLite that would hold the only writer connection for ever).
func testUpdatePanic(t *testing.T, s store.Store) {
	func() {
		defer func() {
			if recover() == nil {
				t.Error("panic in fn did not propagate")
			}
		}()
		_ = s.Update(t.Context(), func(tx store.Tx) error {
			if err := tx.CreateRunner(t.Context(), newRunner("panicked")); err != nil {
				return err
			}
			panic("boom")
		})
	}()
	done := make(chan error, 1)
	go func() {
		done <- s.Update(context.WithoutCancel(t.Context()), func(tx store.Tx) error {
			return tx.CreateRunner(t.Context(), newRunner("next"))
		})
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Update after a panic: %v", err)
		}
	case <-time.After(blockedAfter):
		t.Fatal("Update blocked after an earlier fn panicked")
	}
	rs := listRunners(t, s)
	if len(rs) != 1 || rs[0].Name != "next" {
		t.Errorf("runners = %d, want only the one created after the panic", len(rs))
	}
}
