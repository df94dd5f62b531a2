package app

import (
	"context"
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
const (
	memoryAllowance  = 24 << 20
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
