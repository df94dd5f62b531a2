package app

import (
	"context"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// Memory tuning for `serve` when the operator sets neither GOGC nor
// GOMEMLIMIT. GOGC=400 keeps the collector from running dozens of times a
// second while the live heap is a few megabytes (it halves the unloaded
// p99), but lets the heap grow to five times what is live: with 10,000
// roles cached that is ~70 MB of RSS. So a soft memory limit caps the
// runtime's memory at the live heap plus a fixed allowance: the collector
// then runs about as often with 10,000 roles cached as with 10 (the room
// for new requests' garbage is the same), and only the marking of the
// larger live heap costs more. (A limit proportional to the live heap, as
// this was first, left a 10,000-role server a third of the room a small
// one had, and the collector ran three times as often.) The allowance
// includes the runtime's own ~10 MB of stacks and metadata.
//
// Its size is what RSS allows a 10,000-role server under its 64 MB target:
// the collector's cost there is its frequency times the marking of the
// cached roles (15-18 ms of CPU a cycle against 3 ms with 10 roles when
// this was sized; 9.7 ms once a cached role was five objects rather than
// eleven), so every MB of room is latency under load (scripts/load-roles,
// gctrace). 20 MB left a 10,000-role server about 8 MB of room, ~19
// collections a second at 5,000 req/s, 12-22 % slower under load than a
// 10-role one; SQLite's smaller page caches then freed 3.6 MB of its RSS,
// and 24 MB (about 12 MB of room, 11-12 collections a second) kept it at
// 57-61 MB; 26 MB measured up to 63.4 MB, too close to the target. Since
// trust policies are cached frozen (three objects and ~0.9 KB a role, was
// five and ~1.3 KB), 24 MB left it at 57 MB, and 27 MB spends that room
// again on fewer collections.
const (
	memoryAllowance  = 27 << 20
	memoryTunePeriod = 5 * time.Second
)

// tuneMemory adjusts the soft memory limit until ctx ends.
func tuneMemory(ctx context.Context) {
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	set := func() {
		metrics.Read(sample)
		live := int64(0)
		if sample[0].Value.Kind() == metrics.KindUint64 {
			live = int64(sample[0].Value.Uint64())
		}
		debug.SetMemoryLimit(live + memoryAllowance)
	}
	set()
	t := time.NewTicker(memoryTunePeriod)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			set()
		}
	}
}

// spareProcForSync raises GOMAXPROCS by one and returns what restores it.
// The audit journal's commit blocks its thread in fdatasync for 0.2-0.5
// ms, nearly back to back under load, and a goroutine in a system call
// keeps its P until the runtime's monitor takes it back (after 20 µs to
// 10 ms, depending on how idle it has been), so with GOMAXPROCS equal to
// the CPUs one CPU's worth of requests waits behind the sync, and the
// commit's goroutine then waits for a P again when its sync returns. With
// one P to spare, measured with 16 connections on 2 CPUs in 4 paired
// rounds: audited 6,720 → 8,070 req/s, while the unaudited server (no
// sync to wait for) is no faster with the extra P (13,690 → 13,080).
func spareProcForSync() (restore func()) {
	n := runtime.GOMAXPROCS(0)
	runtime.GOMAXPROCS(n + 1)
	return func() { runtime.GOMAXPROCS(n) }
}
