package kms

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/oidcfed/oidcfed/internal/store/sqlite"
)

// testService is a Service over a fresh SQLite store with an identity
// "sealer" (sealing is the keys package's, tested there).
func testService(t testing.TB) *Service {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "kms.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	id := func(b []byte, _ string) ([]byte, error) { return append([]byte(nil), b...), nil }
	return New(Options{Store: st, Seal: id, Open: id, Account: "000000000000", Region: "us-east-1",
		Now: func() time.Time { return time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC) }})
}

func code(err error) ErrorCode {
	var ke *Error
	if errors.As(err, &ke) {
		return ke.Code
	}
	return ""
}

func TestResolveForms(t *testing.T) {
	s := testService(t)
	ctx := context.Background()
	k, err := s.CreateKey(ctx, CreateKeyInput{KeySpec: "ECC_NIST_P256", KeyUsage: UsageSignVerify})
	if err != nil {
		t.Fatal(err)
	}
	r, _ := s.Resolve(ctx, k.ID)
	if err := s.CreateAlias(ctx, "alias/app", r); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, keyID string
		want        ErrorCode
		alias       string
	}{
		{"key id", k.ID, "", ""},
		{"key ARN", k.ARN, "", ""},
		{"alias", "alias/app", "", "alias/app"},
		{"alias ARN", "arn:aws:kms:us-east-1:000000000000:alias/app", "", "alias/app"},
		{"other region", "arn:aws:kms:eu-west-1:000000000000:key/" + k.ID, CodeNotFound, ""},
		{"other account", "arn:aws:kms:us-east-1:111122223333:key/" + k.ID, CodeNotFound, ""},
		{"unknown alias", "alias/none", CodeNotFound, ""},
		{"not a uuid", "hello", CodeNotFound, ""},
		{"upper-case id", strings.ToUpper(k.ID), CodeNotFound, ""},
		{"not a kms ARN", "arn:aws:iam::000000000000:role/x", CodeNotFound, ""},
		{"empty", "", CodeNotFound, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, err := s.Resolve(ctx, tc.keyID)
			if code(err) != tc.want {
				t.Fatalf("Resolve(%q): %v, want %s", tc.keyID, err, tc.want)
			}
			if err == nil && (r.Key.ID != k.ID || r.Alias != tc.alias) {
				t.Fatalf("Resolve(%q) = %s via %q", tc.keyID, r.Key.ID, r.Alias)
			}
		})
	}
}

func TestSignVerifyEverySpec(t *testing.T) {
	s := testService(t)
	ctx := context.Background()
	for spec, algs := range signingAlgorithms {
		if spec == "RSA_4096" || spec == "RSA_3072" {
			continue // slow to generate; RSA_2048 covers the RSA paths
		}
		k, err := s.CreateKey(ctx, CreateKeyInput{KeySpec: spec, KeyUsage: UsageSignVerify})
		if err != nil {
			t.Fatal(err)
		}
		r, _ := s.Resolve(ctx, k.ID)
		for _, alg := range algs {
			t.Run(spec+"/"+alg, func(t *testing.T) {
				msg := []byte("message for " + alg)
				sig, err := s.Sign(r, msg, MessageRaw, alg)
				if err != nil {
					t.Fatal(err)
				}
				if err := s.Verify(r, msg, MessageRaw, alg, sig); err != nil {
					t.Fatalf("verify own signature: %v", err)
				}
				h := algorithms[alg].hash.New()
				h.Write(msg)
				if err := s.Verify(r, h.Sum(nil), MessageDigest, alg, sig); err != nil {
					t.Fatalf("verify as a digest: %v", err)
				}
				if err := s.Verify(r, []byte("another message"), MessageRaw, alg, sig); code(err) != CodeInvalidSignature {
					t.Fatalf("verify of another message: %v", err)
				}
			})
		}
	}
}

// FuzzResolveKeyID: any KeyId either resolves to the one key or is
// NotFoundException; nothing panics.
func FuzzResolveKeyID(f *testing.F) {
	for _, seed := range []string{"alias/app", "arn:aws:kms:us-east-1:000000000000:alias/app", "arn:aws:kms:::key/", "arn:", "alias/",
		"1234abcd-12ab-34cd-56ef-1234567890ab", "mrk-1234abcd12ab34cd56ef1234567890ab", "arn:aws:kms:us-east-1:000000000000:key/../x"} {
		f.Add(seed)
	}
	s := testService(f)
	ctx := context.Background()
	k, err := s.CreateKey(ctx, CreateKeyInput{KeySpec: "ECC_NIST_P256", KeyUsage: UsageSignVerify})
	if err != nil {
		f.Fatal(err)
	}
	r, _ := s.Resolve(ctx, k.ID)
	if err := s.CreateAlias(ctx, "alias/app", r); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, keyID string) {
		r, err := s.Resolve(ctx, keyID)
		if err != nil {
			if code(err) != CodeNotFound {
				t.Fatalf("Resolve(%q): %v", keyID, err)
			}
			return
		}
		if r.Key.ID != k.ID {
			t.Fatalf("Resolve(%q) found %s", keyID, r.Key.ID)
		}
	})
}

// FuzzSignInput: any message, message type and algorithm give a signature
// or a KMS error; nothing panics.
func FuzzSignInput(f *testing.F) {
	f.Add([]byte("hello"), "RAW", "ECDSA_SHA_256")
	f.Add(make([]byte, 32), "DIGEST", "ECDSA_SHA_256")
	f.Add(make([]byte, 48), "DIGEST", "ECDSA_SHA_384")
	f.Add([]byte{}, "", "RSASSA_PSS_SHA_256")
	f.Add(make([]byte, 4097), "RAW", "ECDSA_SHA_256")
	s := testService(f)
	ctx := context.Background()
	k, err := s.CreateKey(ctx, CreateKeyInput{KeySpec: "ECC_NIST_P256", KeyUsage: UsageSignVerify})
	if err != nil {
		f.Fatal(err)
	}
	r, _ := s.Resolve(ctx, k.ID)
	f.Fuzz(func(t *testing.T, msg []byte, messageType, alg string) {
		sig, err := s.Sign(r, msg, messageType, alg)
		if err != nil {
			if code(err) == "" {
				t.Fatalf("Sign: %v is not a KMS error", err)
			}
			return
		}
		if err := s.Verify(r, msg, messageType, alg, sig); err != nil {
			t.Fatalf("own signature: %v", err)
		}
	})
}

func TestEncryptDecrypt(t *testing.T) {
	s := testService(t)
	ctx := context.Background()
	mk := func() *Resolved {
		k, err := s.CreateKey(ctx, CreateKeyInput{})
		if err != nil {
			t.Fatal(err)
		}
		r, _ := s.Resolve(ctx, k.ID)
		return r
	}
	a, b := mk(), mk()
	ec := map[string]string{"app": "x"}
	blob, err := s.Encrypt(a, []byte("secret"), ec, "")
	if err != nil {
		t.Fatal(err)
	}
	flipped := append([]byte(nil), blob...)
	flipped[len(flipped)-1] ^= 1
	cases := []struct {
		name string
		key  *Resolved
		blob []byte
		ctx  map[string]string
		want ErrorCode
	}{
		{"round trip", a, blob, ec, ""},
		{"another context", a, blob, map[string]string{"app": "y"}, CodeInvalidCiphertext},
		{"no context", a, blob, nil, CodeInvalidCiphertext},
		{"another key", b, blob, ec, CodeIncorrectKey},
		{"tampered", a, flipped, ec, CodeInvalidCiphertext},
		{"truncated", a, blob[:20], ec, CodeInvalidCiphertext},
		{"not ours", a, []byte("AQICAHh...not a blob of ours at all......................................"), ec, CodeInvalidCiphertext},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.Decrypt(tc.key, tc.blob, tc.ctx)
			if code(err) != tc.want {
				t.Fatalf("Decrypt: %v, want %s", err, tc.want)
			}
			if err == nil && string(got) != "secret" {
				t.Fatalf("plaintext %q", got)
			}
		})
	}
}

// FuzzCiphertextBlob feeds arbitrary blobs to Decrypt: each is refused
// with InvalidCiphertextException or IncorrectKeyException, or (only the
// real one) decrypts; nothing panics.
func FuzzCiphertextBlob(f *testing.F) {
	s := testService(f)
	ctx := context.Background()
	k, err := s.CreateKey(ctx, CreateKeyInput{})
	if err != nil {
		f.Fatal(err)
	}
	r, _ := s.Resolve(ctx, k.ID)
	blob, err := s.Encrypt(r, []byte("secret"), nil, "")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(blob)
	f.Add([]byte{1})
	f.Add(append([]byte{1}, []byte("11111111-2222-4333-8444-555555555555")...))
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := s.Decrypt(r, b, nil)
		switch code(err) {
		case "":
			if string(got) != "secret" {
				t.Fatalf("a forged blob decrypted to %q", got)
			}
		case CodeInvalidCiphertext, CodeIncorrectKey:
		default:
			t.Fatalf("Decrypt: %v", err)
		}
	})
}

func TestMac(t *testing.T) {
	s := testService(t)
	ctx := context.Background()
	k, err := s.CreateKey(ctx, CreateKeyInput{KeySpec: "HMAC_256", KeyUsage: UsageGenerateVerifyMAC})
	if err != nil {
		t.Fatal(err)
	}
	r, _ := s.Resolve(ctx, k.ID)
	mac, err := s.GenerateMac(r, []byte("m"), "HMAC_SHA_256")
	if err != nil || len(mac) != 32 {
		t.Fatalf("GenerateMac: %x, %v", mac, err)
	}
	for _, tc := range []struct {
		name, msg, alg string
		mac            []byte
		want           ErrorCode
	}{
		{"valid", "m", "HMAC_SHA_256", mac, ""},
		{"other message", "n", "HMAC_SHA_256", mac, CodeInvalidMac},
		{"other algorithm", "m", "HMAC_SHA_384", mac, CodeInvalidKeyUsage},
		{"unknown algorithm", "m", "HMAC_MD5", mac, CodeValidation},
		{"empty message", "", "HMAC_SHA_256", mac, CodeValidation},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := s.VerifyMac(r, []byte(tc.msg), tc.alg, tc.mac); code(err) != tc.want {
				t.Fatalf("VerifyMac: %v, want %s", err, tc.want)
			}
		})
	}
}
