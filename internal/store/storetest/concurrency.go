package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/oidcfed/oidcfed/internal/store"
)

// RunConcurrencyTests runs tests that race goroutines against one store.
// They check outcomes (no lost update, exactly one winner, consistent
// snapshots), not timing, so they pass or fail the same with or without the
// race detector; they are sized to take well under a second each.
func RunConcurrencyTests(t *testing.T, newStore func(t *testing.T) store.Store) {
	runAll(t, newStore, []testCase{
		{"NoLostUpdates", testNoLostUpdates},
		{"UniqueRace", testUniqueRace},
		{"ParallelCreates", testParallelCreates},
		{"ConsistentSnapshots", testConsistentSnapshots},
		{"ReadersNotBlockedByWriter", testReadersNotBlocked},
		{"CheckThenWriteOnce", testCheckThenWriteOnce},
	})
}

// race runs fn(i) for i in [0, n) on n goroutines released together, to
// make them collide as much as possible.
func race(n int, fn func(i int)) {
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			fn(i)
		})
	}
	close(start)
	wg.Wait()
}

// testNoLostUpdates: goroutines each read a value and write it back plus
// one, many times. Every increment must survive: the backend either
// serialises the transactions or detects the conflict and reruns fn. The
// value is a key's RetireAt, the one mutable field a Tx offers.
func testNoLostUpdates(t *testing.T, s store.Store) {
	const (
		iss        = "https://issuer.example"
		workers    = 4
		increments = 10
	)
	createKey(t, s, func() *store.SigningKey {
		k := newKey(iss, "counter", t0)
		k.RetireAt = ptr(t0)
		return k
	}())
	errs := make(chan error, workers*increments)
	race(workers, func(int) {
		for range increments {
			errs <- s.Update(t.Context(), func(tx store.Tx) error {
				ks, err := tx.ListSigningKeys(t.Context(), iss)
				if err != nil {
					return err
				}
				if len(ks) != 1 || ks[0].RetireAt == nil {
					return errors.New("counter key missing")
				}
				next := ks[0].RetireAt.Add(time.Second)
				return tx.UpdateSigningKeySchedule(t.Context(), iss, "counter", &next, nil)
			})
		}
	})
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("increment: %v", err)
		}
	}
	ks := listKeys(t, s, iss)
	if len(ks) != 1 || ks[0].RetireAt == nil {
		t.Fatal("counter key missing")
	}
	if got, want := ks[0].RetireAt.Sub(t0), time.Duration(workers*increments)*time.Second; got != want {
		t.Errorf("counter = %v, want %v: %d increments lost", got, want, (want-got)/time.Second)
	}
}

// testUniqueRace: many goroutines claim the same unique key at once; exactly
// one wins and every other gets ErrAlreadyExists (not a conflict error, not
// a duplicate row).
func testUniqueRace(t *testing.T, s store.Store) {
	const n = 12
	tests := []struct {
		name   string
		runner func(i int) *store.Runner
	}{
		{"active runner name", func(int) *store.Runner { return newRunner("contested") }},
		{"token hash", func(i int) *store.Runner {
			r := newRunner(fmt.Sprint("holder-", i))
			r.TokenHash = tokenHash("the same token")
			return r
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			errs := make([]error, n)
			race(n, func(i int) {
				r := tc.runner(i)
				errs[i] = s.Update(t.Context(), func(tx store.Tx) error { return tx.CreateRunner(t.Context(), r) })
			})
			wins := 0
			for i, err := range errs {
				switch {
				case err == nil:
					wins++
				case !errors.Is(err, store.ErrAlreadyExists):
					t.Errorf("goroutine %d: err = %v, want nil or ErrAlreadyExists", i, err)
				}
			}
			if wins != 1 {
				t.Errorf("%d of %d concurrent creates succeeded, want exactly 1", wins, n)
			}
		})
	}
	if rs := listRunners(t, s); len(rs) != 2 {
		t.Errorf("%d runners stored, want one per race", len(rs))
	}
	key := newKey("https://i.example", "kid", t0)
	errs := make([]error, n)
	race(n, func(i int) {
		errs[i] = s.Update(t.Context(), func(tx store.Tx) error { return tx.CreateSigningKey(t.Context(), key) })
	})
	wins := 0
	for _, err := range errs {
		if err == nil {
			wins++
		} else if !errors.Is(err, store.ErrAlreadyExists) {
			t.Errorf("concurrent CreateSigningKey: %v", err)
		}
	}
	if wins != 1 {
		t.Errorf("%d concurrent CreateSigningKey with one kid succeeded, want 1", wins)
	}
}

func testParallelCreates(t *testing.T, s store.Store) {
	const workers, each = 6, 8
	ids := make([][]int64, workers)
	race(workers, func(w int) {
		for i := range each {
			r := newRunner(fmt.Sprintf("w%d-%d", w, i))
			if err := s.Update(t.Context(), func(tx store.Tx) error { return tx.CreateRunner(t.Context(), r) }); err != nil {
				t.Errorf("create %s: %v", r.Name, err)
				return
			}
			ids[w] = append(ids[w], r.ID)
		}
	})
	seen := map[int64]bool{}
	for _, ws := range ids {
		for _, id := range ws {
			if seen[id] {
				t.Errorf("id %d assigned twice", id)
			}
			seen[id] = true
		}
	}
	if rs := listRunners(t, s); len(rs) != workers*each {
		t.Errorf("%d runners stored, want %d", len(rs), workers*each)
	}
}

// testConsistentSnapshots: a writer commits runners in pairs, pausing
// between the two inserts of each pair; readers running meanwhile must only
// ever see whole pairs, the same count on every read within one View, and a
// count that never goes backwards.
func testConsistentSnapshots(t *testing.T, s store.Store) {
	const pairs, readers = 15, 3
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		defer close(done)
		for i := range pairs {
			err := s.Update(t.Context(), func(tx store.Tx) error {
				if err := tx.CreateRunner(t.Context(), newRunner(fmt.Sprint("a", i))); err != nil {
					return err
				}
				time.Sleep(time.Millisecond) // widen the window for readers
				return tx.CreateRunner(t.Context(), newRunner(fmt.Sprint("b", i)))
			})
			if err != nil {
				t.Errorf("writer: %v", err)
				return
			}
		}
	})
	for r := range readers {
		wg.Go(func() {
			last, views := 0, 0
			for {
				select {
				case <-done:
					if views == 0 {
						t.Logf("reader %d finished before reading", r)
					}
					return
				default:
				}
				err := s.View(t.Context(), func(tx store.Tx) error {
					a, err := tx.ListRunners(t.Context())
					if err != nil {
						return err
					}
					b, err := tx.ListRunners(t.Context())
					if err != nil {
						return err
					}
					switch {
					case len(a)%2 != 0:
						t.Errorf("reader %d saw %d runners: half a transaction", r, len(a))
					case len(a) != len(b):
						t.Errorf("reader %d saw %d then %d runners in one View", r, len(a), len(b))
					case len(a) < last:
						t.Errorf("reader %d saw %d runners after %d", r, len(a), last)
					}
					last = len(a)
					return nil
				})
				if err != nil {
					t.Errorf("reader %d: %v", r, err)
					return
				}
				views++
				// Leave the CPU to the writer now and then: on a small
				// machine, spinning readers would only slow the test down.
				time.Sleep(100 * time.Microsecond)
			}
		})
	}
	wg.Wait()
	if rs := listRunners(t, s); len(rs) != 2*pairs {
		t.Errorf("%d runners at the end, want %d", len(rs), 2*pairs)
	}
}

// testReadersNotBlockedByWriter: while an Update is in progress (fn is
// running and holds whatever locks the backend takes), View must still
// complete.
func testReadersNotBlocked(t *testing.T, s store.Store) {
	createRunner(t, s, newRunner("existing"))
	// inside is buffered so the writer's non-blocking send cannot miss.
	inside, release := make(chan struct{}, 1), make(chan struct{})
	writerDone := make(chan error, 1)
	go func() {
		writerDone <- s.Update(t.Context(), func(tx store.Tx) error {
			if err := tx.CreateRunner(t.Context(), newRunner("pending")); err != nil {
				return err
			}
			select {
			case inside <- struct{}{}: // first attempt only
			default:
			}
			<-release
			return nil
		})
	}()
	select {
	case <-inside:
	case <-time.After(blockedAfter):
		close(release)
		t.Fatal("writer never started")
	}

	readerDone := make(chan int, 1)
	go func() {
		n := -1
		_ = s.View(t.Context(), func(tx store.Tx) error {
			rs, err := tx.ListRunners(t.Context())
			n = len(rs)
			return err
		})
		readerDone <- n
	}()
	select {
	case n := <-readerDone:
		if n != 1 {
			t.Errorf("reader saw %d runners during the write, want 1 (the committed one)", n)
		}
	case <-time.After(blockedAfter):
		t.Error("View blocked behind an open Update")
	}
	close(release)
	if err := <-writerDone; err != nil {
		t.Fatalf("writer: %v", err)
	}
}

// testCheckThenWriteOnce: closures that read, decide and write — "create a
// key unless the issuer has one", as every replica's key maintenance does —
// act once however many run at the same moment, each with its own kid so
// no unique key stops the extra ones. The backend must serialise them or
// fail all but one with a conflict and rerun them (which then decide
// otherwise).
func testCheckThenWriteOnce(t *testing.T, s store.Store) {
	const iss, n = "https://issuer.example", 8
	created := make([]bool, n)
	race(n, func(i int) {
		err := s.Update(t.Context(), func(tx store.Tx) error {
			created[i] = false
			ks, err := tx.ListSigningKeys(t.Context(), iss)
			if err != nil || len(ks) > 0 {
				return err
			}
			created[i] = true
			return tx.CreateSigningKey(t.Context(), newKey(iss, fmt.Sprint("kid-", i), t0))
		})
		if err != nil {
			t.Errorf("goroutine %d: %v", i, err)
		}
	})
	wins := 0
	for _, c := range created {
		if c {
			wins++
		}
	}
	if ks := listKeys(t, s, iss); len(ks) != 1 || wins != 1 {
		t.Errorf("%d keys stored, %d closures committed a create; want 1 and 1", len(ks), wins)
	}
}
