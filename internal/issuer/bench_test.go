package issuer

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"testing"
	"time"

	"github.com/oidcfed/oidcfed/internal/keys"
	"github.com/oidcfed/oidcfed/internal/store"
)

// The targets are ratios measured in one run:
//   go test -run '^$' -bench 'Mint|Bare' -cpu 1 ./internal/issuer/
// RS256: BenchmarkMintRS256 within 10 % of BenchmarkBareRSA2048Sign.
// ES256: BenchmarkMintES256 at ≥ 10,000 tokens/s on one core (≤ 100 µs/op),
// with BenchmarkBareP256Sign as its floor.

func benchIssuer(b *testing.B, alg string) *Issuer {
	b.Helper()
	clk := &fakeClock{t: time.Now()}
	return newTestIssuer(b, Config{Algorithm: alg}, newTestStore(b), newTestSealer(b), clk)
}

func benchMint(b *testing.B, alg string) {
	iss := benchIssuer(b, alg)
	runner := &store.Runner{ID: 1, Constraints: map[string][]string{"project_path": {"mygroup/*"}}}
	req := &MintRequest{Audience: Audience{"https://gitlab.example.com"}, ProjectPath: "mygroup/myproject", Ref: "main"}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, _, err := iss.Mint(runner, req); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMintRS256(b *testing.B) { benchMint(b, keys.RS256) }
func BenchmarkMintES256(b *testing.B) { benchMint(b, keys.ES256) }

// BenchmarkBareRSA2048Sign is the floor: one PKCS#1 v1.5 signature over a
// SHA-256 digest of a token-sized payload.
func BenchmarkBareRSA2048Sign(b *testing.B) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		b.Fatal(err)
	}
	benchBareSign(b, k)
}

func BenchmarkBareP256Sign(b *testing.B) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	benchBareSign(b, k)
}

func benchBareSign(b *testing.B, k crypto.Signer) {
	payload := make([]byte, 900) // a base64 header.payload of a GitLab token
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		sum := sha256.Sum256(payload)
		if _, err := k.Sign(rand.Reader, sum[:], crypto.SHA256); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMintOverBareRS256 alternates one mint and one bare RSA-2048
// signature in the same loop and reports their cost ratio (mint/bare), so
// machine noise hits both sides alike. The target is ≤ 1.10.
func BenchmarkMintOverBareRS256(b *testing.B) {
	iss := benchIssuer(b, keys.RS256)
	bare, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		b.Fatal(err)
	}
	runner := &store.Runner{ID: 1, Constraints: map[string][]string{"project_path": {"mygroup/*"}}}
	req := &MintRequest{Audience: Audience{"https://gitlab.example.com"}, ProjectPath: "mygroup/myproject", Ref: "main"}
	payload := make([]byte, 900)
	var mintTime, bareTime time.Duration
	for b.Loop() {
		t0 := time.Now()
		if _, _, err := iss.Mint(runner, req); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		sum := sha256.Sum256(payload)
		if _, err := bare.Sign(rand.Reader, sum[:], crypto.SHA256); err != nil {
			b.Fatal(err)
		}
		mintTime += t1.Sub(t0)
		bareTime += time.Since(t1)
	}
	b.ReportMetric(float64(mintTime)/float64(bareTime), "mint/bare")
}
