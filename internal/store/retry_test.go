package store

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

// recorder is a retryPolicy.sleep that does not sleep, so the schedule can be
// checked without spending wall-clock time.
type recorder struct {
	delays []time.Duration
	// cancel, when set, is called at the given sleep (1-based) to simulate
	// the caller's deadline passing during the backoff.
	cancelAt int
	cancel   context.CancelFunc
}

func (r *recorder) sleep(ctx context.Context, d time.Duration) error {
	r.delays = append(r.delays, d)
	if r.cancel != nil && len(r.delays) == r.cancelAt {
		r.cancel()
	}
	return ctx.Err()
}

func TestRetryConflicts(t *testing.T) {
	errOther := errors.New("some other failure")
	conflict := fmt.Errorf("commit: %w", ErrConflict)

	tests := []struct {
		name string
		// results are what fn returns on successive calls; the last one
		// repeats once they run out.
		results   []error
		cancelAt  int // cancel the context at this sleep (0: never)
		wantCalls int
		wantIs    []error // the returned error must match each of these
		wantNil   bool
	}{
		{
			name:      "success first time",
			results:   []error{nil},
			wantCalls: 1,
			wantNil:   true,
		},
		{
			name:      "non-conflict error is not retried",
			results:   []error{errOther},
			wantCalls: 1,
			wantIs:    []error{errOther},
		},
		{
			name:      "conflicts then success",
			results:   []error{conflict, conflict, conflict, nil},
			wantCalls: 4,
			wantNil:   true,
		},
		{
			name:      "conflict then other error stops",
			results:   []error{conflict, errOther},
			wantCalls: 2,
			wantIs:    []error{errOther},
		},
		{
			name:      "budget spent returns the conflict",
			results:   []error{conflict},
			wantCalls: 10,
			wantIs:    []error{ErrConflict},
		},
		{
			name:      "context ends during backoff",
			results:   []error{conflict},
			cancelAt:  3,
			wantCalls: 3,
			wantIs:    []error{context.Canceled},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			rec := &recorder{cancelAt: tc.cancelAt}
			if tc.cancelAt > 0 {
				rec.cancel = cancel
			}
			p := defaultRetry
			p.sleep = rec.sleep

			calls := 0
			err := p.run(ctx, func() error {
				r := tc.results[min(calls, len(tc.results)-1)]
				calls++
				return r
			})

			if calls != tc.wantCalls {
				t.Errorf("fn called %d times, want %d", calls, tc.wantCalls)
			}
			if tc.wantNil && err != nil {
				t.Fatalf("err = %v, want nil", err)
			}
			for _, target := range tc.wantIs {
				if !errors.Is(err, target) {
					t.Errorf("err = %v, want errors.Is(err, %v)", err, target)
				}
			}
			if errors.Is(err, context.Canceled) && errors.Is(err, ErrConflict) {
				// A cancelled retry must not look like a spent budget.
				t.Errorf("err = %v matches both context.Canceled and ErrConflict", err)
			}
			if len(rec.delays) != max(0, calls-1) && tc.cancelAt == 0 {
				t.Errorf("slept %d times for %d calls", len(rec.delays), calls)
			}
		})
	}
}

// TestRetryConflictsSchedule checks the backoff: each delay lies within the
// equal-jitter window [nominal/2, nominal] of a nominal delay that starts at
// base, doubles, and is capped.
func TestRetryConflictsSchedule(t *testing.T) {
	rec := &recorder{}
	p := defaultRetry
	p.sleep = rec.sleep
	_ = p.run(t.Context(), func() error { return ErrConflict })

	if got, want := len(rec.delays), p.attempts-1; got != want {
		t.Fatalf("slept %d times, want %d", got, want)
	}
	nominal := p.base
	for i, d := range rec.delays {
		if d < nominal/2 || d > nominal {
			t.Errorf("delay %d = %v, want within [%v, %v]", i, d, nominal/2, nominal)
		}
		nominal = min(nominal*2, p.max)
	}
}

func TestRetryConflictsJitter(t *testing.T) {
	// Two callers that collide must not retry in lock step: over many runs
	// the first delay must take more than one value.
	seen := map[time.Duration]bool{}
	for range 50 {
		rec := &recorder{}
		p := defaultRetry
		p.attempts = 2
		p.sleep = rec.sleep
		_ = p.run(t.Context(), func() error { return ErrConflict })
		seen[rec.delays[0]] = true
	}
	if len(seen) < 2 {
		t.Errorf("50 first delays took %d distinct values, want jitter", len(seen))
	}
}

func TestRetryConflictsContextAlreadyDone(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	called := false
	err := RetryConflicts(ctx, func() error { called = true; return nil })
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
	if called {
		t.Error("fn was called with a done context")
	}
}

// TestRetryConflictsRealClock runs the exported function on the real clock:
// a deadline shorter than the backoff schedule must cut the retries short.
func TestRetryConflictsRealClock(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	start := time.Now()
	calls := 0
	err := RetryConflicts(ctx, func() error { calls++; return ErrConflict })
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want context.DeadlineExceeded", err)
	}
	if calls < 2 || calls >= defaultRetry.attempts {
		t.Errorf("fn called %d times, want a few retries before the deadline", calls)
	}
	if el := time.Since(start); el > time.Second {
		t.Errorf("took %v, the deadline was not honoured", el)
	}
}
