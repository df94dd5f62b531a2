package policy

import (
	"testing"
	"time"
)

// The trust decision STS makes on every AssumeRoleWithWebIdentity: the seeds' group role
// (StringEquals aud + StringLike sub) against a matching token.
func benchTrust(b *testing.B) (*Policy, *Request) {
	p := mustParse(b, TrustPolicy, trustGroupLike)
	req := gitlabIdentity("project_path:mygroup/myproject:ref_type:branch:ref:main").Request("sts:AssumeRoleWithWebIdentity")
	if !Evaluate(req, p).Allowed {
		b.Fatal("benchmark request denied")
	}
	return p, req
}

func BenchmarkEvaluateTrustPolicy(b *testing.B) {
	p, req := benchTrust(b)
	b.ReportAllocs()
	for b.Loop() {
		if !EvaluateTrust(req, p).Allowed {
			b.Fatal("denied")
		}
	}
}

func BenchmarkEvaluateTrustPolicyWithTrace(b *testing.B) {
	p, req := benchTrust(b)
	b.ReportAllocs()
	for b.Loop() {
		if d, _ := EvaluateTrace(req, p); !d.Allowed {
			b.Fatal("denied")
		}
	}
}

func BenchmarkParseTrustPolicy(b *testing.B) {
	doc := []byte(trustGroupLike)
	b.ReportAllocs()
	b.SetBytes(int64(len(doc)))
	for b.Loop() {
		if _, err := ParseKind(doc, TrustPolicy); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkThawTrustPolicy is what a cached role's trust policy costs each
// request that reads it (Frozen), beside BenchmarkParseTrustPolicy's parse.
//
//	go test -run '^$' -bench 'ThawTrustPolicy|ParseTrustPolicy' ./internal/iam/policy/
func BenchmarkThawTrustPolicy(b *testing.B) {
	f := Freeze(mustParse(b, TrustPolicy, trustGroupLike))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.Thaw(); err != nil {
			b.Fatal(err)
		}
	}
}

// TestEvaluateDoesNotAllocate pins the "trace costs nothing unless asked for" promise.
func TestEvaluateDoesNotAllocate(t *testing.T) {
	p := mustParse(t, TrustPolicy, trustGroupLike)
	req := gitlabIdentity("project_path:mygroup/myproject:ref_type:branch:ref:main").Request("sts:AssumeRoleWithWebIdentity")
	if n := testing.AllocsPerRun(100, func() { EvaluateTrust(req, p) }); n != 0 {
		t.Errorf("Evaluate allocates %v times per run", n)
	}
}

// BenchmarkTraceOverEvaluate interleaves batches of both calls in one loop, so machine noise
// hits both alike, and reports the cost of asking for a trace as the ratio trace/plain.
func BenchmarkTraceOverEvaluate(b *testing.B) {
	p, req := benchTrust(b)
	const batch = 32
	var plain, traced time.Duration
	for b.Loop() {
		t0 := time.Now()
		for range batch {
			EvaluateTrust(req, p)
		}
		t1 := time.Now()
		for range batch {
			EvaluateTrace(req, p)
		}
		t2 := time.Now()
		plain += t1.Sub(t0)
		traced += t2.Sub(t1)
	}
	b.ReportMetric(float64(plain.Nanoseconds())/float64(b.N*batch), "plain-ns/op")
	b.ReportMetric(float64(traced.Nanoseconds())/float64(b.N*batch), "trace-ns/op")
	b.ReportMetric(float64(traced)/float64(plain), "trace/plain")
}
