package sigv4

import (
	"context"
	"testing"
	"time"
)

// BenchmarkVerifyHeader: a GetCallerIdentity as the aws CLI sends it with temporary credentials
// (POST form body, session token, six signed headers), header-signed, verified with the signing key cached (the steady
// state: one derivation per key and day) and derived on every request.
// Anchors (performance-anchors.md): 3.8 µs cached, 6.2 µs derived.
func BenchmarkVerifyHeader(b *testing.B) {
	for _, c := range []struct {
		name  string
		cache *KeyCache
	}{{"cached", NewKeyCache(1024)}, {"derived", nil}} {
		b.Run(c.name, func(b *testing.B) {
			r := sdkSign(b, temp, "us-east-1", "sts", signTime, gcBody, nil)
			opts := stsOptions(signTime)
			opts.KeyCache = c.cache
			body := []byte(gcBody)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Verify(context.Background(), r, body, opts); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkVerifyDerivedOverCached interleaves both sides in one loop, so machine noise hits
// both alike, and reports derived/cached.
func BenchmarkVerifyDerivedOverCached(b *testing.B) {
	r := sdkSign(b, temp, "us-east-1", "sts", signTime, gcBody, nil)
	cached := stsOptions(signTime)
	cached.KeyCache = NewKeyCache(1024)
	derived := stsOptions(signTime)
	body := []byte(gcBody)
	var tc, td time.Duration
	for b.Loop() {
		t0 := time.Now()
		if _, err := Verify(context.Background(), r, body, cached); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if _, err := Verify(context.Background(), r, body, derived); err != nil {
			b.Fatal(err)
		}
		tc += t1.Sub(t0)
		td += time.Since(t1)
	}
	b.ReportMetric(float64(td)/float64(tc), "derived/cached")
	b.ReportMetric(float64(tc.Nanoseconds())/float64(b.N), "cached-ns/op")
	b.ReportMetric(float64(td.Nanoseconds())/float64(b.N), "derived-ns/op")
}

func BenchmarkVerifyPresigned(b *testing.B) {
	r := sdkPresign(b, temp, signTime, "900")
	opts := stsOptions(signTime)
	opts.KeyCache = NewKeyCache(1024)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Verify(context.Background(), r, nil, opts); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseAuthorization(b *testing.B) {
	h := sdkSign(b, temp, "us-east-1", "sts", signTime, gcBody, nil).Header.Get("Authorization")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseAuthorization(h); err != nil {
			b.Fatal(err)
		}
	}
}
