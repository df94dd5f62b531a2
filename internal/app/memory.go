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
// roles cached that is ~80 MB of RSS. A soft memory limit of twice the
// live heap, never below minMemoryLimit, keeps GOGC=400's behaviour for
// small heaps and Go's default headroom (GOGC=100) for large ones, so the
// limit never makes the collector thrash.
const (
	minMemoryLimit     = 24 << 20
	memoryTunePeriod   = 5 * time.Second
	memoryLimitPerLive = 2
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
		debug.SetMemoryLimit(max(minMemoryLimit, memoryLimitPerLive*live))
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
