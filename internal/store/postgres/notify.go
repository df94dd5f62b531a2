package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/oidcfed/oidcfed/internal/store"
)

// errNotListening is Ping's error while a Watch has lost its connection: the
// database answers, but this process would not hear of changes to what it
// caches.
var errNotListening = errors.New("postgres store: not listening for changes (reconnecting)")

// Watch timing. An idle listening connection is probed every
// watchProbeEvery, so a connection that died silently (a host gone, a
// firewall dropping the session) is noticed within seconds rather than
// after TCP keepalive gives up; reconnection backs off from
// watchRetryMin to watchRetryMax.
const (
	watchProbeEvery = 10 * time.Second
	watchProbeLimit = 5 * time.Second
	watchRetryMin   = 100 * time.Millisecond
	watchRetryMax   = 2 * time.Second
)

// channel is the notification channel of this store's schema; the
// triggers of migration 0001 notify it.
func (s *Store) channel() string { return "oidcfed_" + s.schema }

// Watch implements store.Notifier with LISTEN on a connection of its own.
func (s *Store) Watch(ctx context.Context, changed func(store.Topic)) error {
	s.watchers.Add(1)
	s.deaf.Add(1) // deaf until the first LISTEN succeeds
	defer s.watchers.Add(-1)
	listening := false
	setListening := func(on bool) {
		if on != listening {
			listening = on
			if on {
				s.deaf.Add(-1)
			} else {
				s.deaf.Add(1)
			}
		}
	}
	defer func() {
		if !listening {
			s.deaf.Add(-1)
		}
	}()
	all := func() {
		for _, t := range store.Topics {
			changed(t)
		}
	}
	retry := watchRetryMin
	for {
		heard, err := s.listen(ctx, func() { setListening(true); all() }, changed)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if listening {
			// Whatever was committed from now until we listen again is
			// missed: forget it all at once, so requests meanwhile read
			// the database (or fail with it) rather than trust a cache.
			setListening(false)
			all()
		}
		if heard {
			retry = watchRetryMin
		}
		_ = err // the next attempt tells; Ping reports the outage
		t := time.NewTimer(retry)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		retry = min(2*retry, watchRetryMax)
	}
}

// listen connects, LISTENs, calls ready, then relays notifications until
// the connection fails or ctx ends. heard reports whether it got as far as
// listening.
func (s *Store) listen(ctx context.Context, ready func(), changed func(store.Topic)) (heard bool, err error) {
	conn, err := s.connect(ctx)
	if err != nil {
		return false, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{s.channel()}.Sanitize()); err != nil {
		return false, err
	}
	// A server holds the servers' lock shared for as long as it listens
	// (the session ends with the connection): LockOutServers cannot take
	// it while one runs.
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock_shared($1, hashtext($2))", lockClass, s.serversLockName()); err != nil {
		return false, err
	}
	defer func() {
		// Released at once on the way out (the server is stopping), rather
		// than when PostgreSQL notices the session is gone.
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		defer cancel()
		_, _ = conn.Exec(uctx, "SELECT pg_advisory_unlock_shared($1, hashtext($2))", lockClass, s.serversLockName())
	}()
	// From here on every commit is reported; what came before is not.
	ready()
	for {
		wctx, cancel := context.WithTimeout(ctx, watchProbeEvery)
		n, err := conn.WaitForNotification(wctx)
		quiet := errors.Is(wctx.Err(), context.DeadlineExceeded)
		cancel()
		switch {
		case err == nil:
			changed(store.Topic(n.Payload))
			continue
		case ctx.Err() != nil:
			return true, ctx.Err()
		case !quiet || conn.PgConn().IsClosed():
			return true, err
		}
		// Quiet for a while: make sure the connection still works.
		pctx, cancel := context.WithTimeout(ctx, watchProbeLimit)
		_, err = conn.Exec(pctx, "SELECT 1")
		cancel()
		if err != nil {
			return true, err
		}
	}
}

// ErrServersRunning is LockOutServers' error while a server uses the store.
var ErrServersRunning = errors.New("a server is using the store")

func (s *Store) serversLockName() string { return "servers/" + s.schema }

// LockOutServers takes the lock every running server holds shared (on
// the connection Watch listens on), so it succeeds only while no server
// uses the store, and keeps servers from starting to listen until unlock
// is called. `admin rotate-master-key` holds it: a server left running
// would go on sealing new secrets under the old master key.
func (s *Store) LockOutServers(ctx context.Context) (unlock func(), err error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, s.errorf("connect: %w", err)
	}
	// A server killed a moment ago holds the lock until PostgreSQL has
	// ended its session: try for a second before calling it running.
	var ok bool
	for deadline := time.Now().Add(time.Second); ; {
		if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1, hashtext($2))", lockClass, s.serversLockName()).Scan(&ok); err != nil {
			conn.Release()
			return nil, s.errorf("%w", wrapErr("lock out servers", err))
		}
		if ok || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !ok {
		conn.Release()
		return nil, ErrServersRunning
	}
	return func() {
		_, _ = conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1, hashtext($2))", lockClass, s.serversLockName())
		conn.Release()
	}, nil
}
