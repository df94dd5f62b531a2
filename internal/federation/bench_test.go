package federation

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"slices"
	"testing"
	"time"
)

// The target is a ratio measured in one run:
//   go test -run '^$' -bench 'Verify|Bare' -cpu 1 ./internal/federation/
// the whole token path (BenchmarkVerifyRS256: decode, provider, audience, key lookup in a
// warm cache, signature, claims) at most 1.6× the bare RSA-2048 verify of the same token
// (BenchmarkBareRS256Verify). BenchmarkVerifyOverBareRS256 interleaves both and reports
// the ratio as verify/bare.

type benchSetup struct {
	v     *Verifier
	token string
	pub   *rsa.PublicKey
	input []byte
	sig   []byte
}

func newBenchSetup(b *testing.B) *benchSetup {
	b.Helper()
	key := newRSATestKey(b, "rsa-bench", 0)
	idp := newTestIdP(b, key)
	v := newTestVerifier(b, newTestClock(epoch), idp.provider())
	tok := mint(b, key, gitlabClaims(idp.url))
	if _, err := v.Verify(bg, tok); err != nil { // warm the cache
		b.Fatal(err)
	}
	h, p, s := splitToken(tok)
	sig, err := decodeB64(s)
	if err != nil {
		b.Fatal(err)
	}
	return &benchSetup{v: v, token: tok, pub: &key.priv.(*rsa.PrivateKey).PublicKey, input: []byte(h + "." + p), sig: sig}
}

func (s *benchSetup) bare(b *testing.B) {
	sum := sha256.Sum256(s.input)
	if err := rsa.VerifyPKCS1v15(s.pub, crypto.SHA256, sum[:], s.sig); err != nil {
		b.Fatal(err)
	}
}

func (s *benchSetup) verify(b *testing.B) {
	if _, err := s.v.Verify(bg, s.token); err != nil {
		b.Fatal(err)
	}
}

func BenchmarkVerifyRS256(b *testing.B) {
	s := newBenchSetup(b)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		s.verify(b)
	}
}

func BenchmarkBareRS256Verify(b *testing.B) {
	s := newBenchSetup(b)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		s.bare(b)
	}
}

func BenchmarkVerifyOverBareRS256(b *testing.B) {
	s := newBenchSetup(b)
	var verifyTimes, bareTimes []time.Duration
	for b.Loop() {
		t0 := time.Now()
		s.verify(b)
		t1 := time.Now()
		s.bare(b)
		verifyTimes = append(verifyTimes, t1.Sub(t0))
		bareTimes = append(bareTimes, time.Since(t1))
	}
	// Medians: on a shared 2-core machine a preemption lands on one side or the other
	// and moves a mean by tens of percent; the median of each side does not care.
	b.ReportMetric(float64(median(verifyTimes))/float64(median(bareTimes)), "verify/bare")
	b.ReportMetric(float64(sum(verifyTimes))/float64(sum(bareTimes)), "verify/bare-mean")
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

func sum(d []time.Duration) (t time.Duration) {
	for _, x := range d {
		t += x
	}
	return t
}

// BenchmarkDecodeJWS is the parsing share of the path alone.
func BenchmarkDecodeJWS(b *testing.B) {
	s := newBenchSetup(b)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := decodeJWS(s.token); err != nil {
			b.Fatal(err)
		}
	}
}
