package iam_test

import (
	"fmt"
	"runtime"
	"runtime/metrics"
	"testing"
	"time"

	"github.com/oidcfed/oidcfed/internal/iam"
)

// BenchmarkCachedRoleLookup measures a cached role lookup and reports what
// each cached role keeps on the heap (heap-B/role, heap-objects/role):
// with 10,000 roles that retained heap is what the collector marks on
// every cycle under load (scripts/load-roles), at a cost that follows its
// objects and the pointer-holding bytes it scans; gc-µs/10k-roles is that cost,
// the CPU time a collection takes with the roles cached less without,
// scaled to 10,000 roles. Each role has its own trust policy, shaped like
// the load script's.
//
//	go test -run '^$' -bench CachedRoleLookup ./internal/iam/
func BenchmarkCachedRoleLookup(b *testing.B) {
	const n = 2000
	e := newEnv(b, false, nil)
	host := "127.0.0.1:8080"
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("load-%05d", i)
		trust := fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Sid":"Role%d","Effect":"Allow",`+
			`"Principal":{"Federated":"arn:aws:iam::000000000000:oidc-provider/%s"},"Action":"sts:AssumeRoleWithWebIdentity",`+
			`"Condition":{"StringEquals":{"%s:aud":"http://%s"},"StringLike":{"%s:sub":`+
			`["project_path:mygroup/myproject:ref_type:branch:ref:main","project_path:team-%d/*"]}}}]}`, i, host, host, host, host, i)
		if _, err := e.m.CreateRole(ctx, iam.RoleInput{Name: names[i], TrustPolicy: trust}); err != nil {
			b.Fatal(err)
		}
	}
	var before, after runtime.MemStats
	runtime.GC()
	gcWithout := gcCPU()
	runtime.ReadMemStats(&before)
	for _, name := range names {
		if _, err := e.m.RoleByName(ctx, name); err != nil {
			b.Fatal(err)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	gcWith := gcCPU()
	i := 0
	for b.Loop() {
		if _, err := e.m.RoleByName(ctx, names[i%n]); err != nil {
			b.Fatal(err)
		}
		i++
	}
	b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n, "heap-B/role")
	b.ReportMetric(float64(after.HeapObjects-before.HeapObjects)/n, "heap-objects/role")
	b.ReportMetric(float64(gcWith-gcWithout)/float64(time.Microsecond)*10000/n, "gc-µs/10k-roles")
	runtime.KeepAlive(e)
}

// gcCPU is the CPU time one forced collection takes, the mean of several.
func gcCPU() time.Duration {
	const runs = 20
	s := []metrics.Sample{{Name: "/cpu/classes/gc/total:cpu-seconds"}}
	metrics.Read(s)
	start := s[0].Value.Float64()
	for range runs {
		runtime.GC()
	}
	metrics.Read(s)
	return time.Duration((s[0].Value.Float64() - start) / runs * float64(time.Second))
}
