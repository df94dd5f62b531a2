package store

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"
)

// retryPolicy is the schedule RetryConflicts follows. It is a value rather
// than constants so the unit tests can run the loop with a recording sleep
// instead of the wall clock.
type retryPolicy struct {
	attempts int           // total calls of fn, the first included
	base     time.Duration // nominal delay after the first conflict
	max      time.Duration // cap on the nominal delay
	// sleep waits d or until ctx is done, whichever is first.
	sleep func(ctx context.Context, d time.Duration) error
}

// defaultRetry is sized for SQLite and PostgreSQL alike: a conflict means
// another transaction on the same rows committed first, which is over in
// well under a millisecond for the small transactions oidcfed runs, so the
// first retry comes quickly. Ten attempts with the delay doubling from 2ms
// (capped at 250ms) give up after roughly half a second of waiting in total,
// long enough to ride out a burst of contention but short enough that a
// request handler does not hang on a store that is persistently locked.
var defaultRetry = retryPolicy{
	attempts: 10,
	base:     2 * time.Millisecond,
	max:      250 * time.Millisecond,
	sleep:    sleepCtx,
}

// RetryConflicts calls fn until it returns something other than an error
// wrapping ErrConflict, at most a bounded number of times, waiting a
// jittered, exponentially growing delay between attempts. Backends wrap
// each whole transaction attempt in it, so fn must begin and end its own
// transaction and be safe to repeat.
//
// It returns fn's last error unchanged when it is not a conflict. When the
// attempts are spent it returns the last conflict (still matching
// ErrConflict). When ctx ends first it returns an error wrapping ctx.Err()
// (and not ErrConflict), without calling fn again.
func RetryConflicts(ctx context.Context, fn func() error) error {
	return defaultRetry.run(ctx, fn)
}

func (p retryPolicy) run(ctx context.Context, fn func() error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	delay := p.base
	for attempt := 1; ; attempt++ {
		err := fn()
		if err == nil || !errors.Is(err, ErrConflict) {
			return err
		}
		if attempt >= p.attempts {
			return fmt.Errorf("gave up after %d attempts: %w", attempt, err)
		}
		// Equal jitter: wait between half and all of the nominal delay, so
		// writers that collided once do not collide again in lock step,
		// while the wait still grows with every conflict.
		d := delay/2 + rand.N(delay/2+1)
		if ctxErr := p.sleep(ctx, d); ctxErr != nil {
			// The caller's deadline ended the retries, not the conflict:
			// wrap the context error and keep the conflict as text only, so
			// callers do not mistake this for a spent retry budget.
			return fmt.Errorf("%w (while retrying after: %v)", ctxErr, err)
		}
		delay = min(delay*2, p.max)
	}
}

// sleepCtx waits d, or until ctx is done, in which case it returns ctx.Err().
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
