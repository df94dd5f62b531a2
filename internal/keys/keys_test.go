package keys

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func randomKey(t *testing.T) *MasterKey {
	t.Helper()
	raw := make([]byte, MasterKeySize)
	_, _ = rand.Read(raw)
	k, err := NewMasterKey(raw)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestSealOpen(t *testing.T) {
	k1, k2 := randomKey(t), randomKey(t)
	s1 := NewSealer(k1)
	secret := []byte("-----BEGIN PRIVATE KEY----- not really")
	sealed, err := s1.Seal(secret, "record-a")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, secret) {
		t.Fatal("sealed value contains the plaintext")
	}
	if id, ok := SealedKeyID(sealed); !ok || id != k1.ID() {
		t.Fatalf("SealedKeyID = %q %v, want %s", id, ok, k1.ID())
	}
	got, err := s1.Open(sealed, "record-a")
	if err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("Open = %q, %v", got, err)
	}
	flip := func(i int) []byte {
		c := bytes.Clone(sealed)
		c[i] ^= 1
		return c
	}
	cases := []struct {
		name   string
		sealer *Sealer
		value  []byte
		aad    string
	}{
		{"wrong record (aad)", s1, sealed, "record-b"},
		{"wrong master key", NewSealer(k2), sealed, "record-a"},
		{"tampered ciphertext", s1, flip(len(sealed) - 1), "record-a"},
		{"tampered nonce", s1, flip(14), "record-a"},
		{"tampered key id", s1, flip(5), "record-a"},
		{"truncated", s1, sealed[:20], "record-a"},
		{"not sealed", s1, secret, "record-a"},
		{"empty", s1, nil, "record-a"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, err := tc.sealer.Open(tc.value, tc.aad)
			if !errors.Is(err, ErrUnseal) || out != nil {
				t.Fatalf("Open = %q, %v; want ErrUnseal", out, err)
			}
			if strings.Contains(err.Error(), string(secret)) {
				t.Fatal("error echoes the secret")
			}
		})
	}
	// Rotation: a ring opens both, seals under the new key.
	ring := NewSealer(k2, k1)
	resealed, err := ring.Reseal("record-a", sealed)
	if err != nil {
		t.Fatal(err)
	}
	if id, _ := SealedKeyID(resealed); id != k2.ID() {
		t.Fatalf("resealed under %s, want %s", id, k2.ID())
	}
	if got, err := NewSealer(k2).Open(resealed, "record-a"); err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("open resealed: %q %v", got, err)
	}
}

func TestMasterKeyNeverPrinted(t *testing.T) {
	raw := bytes.Repeat([]byte{0xab}, MasterKeySize)
	k, _ := NewMasterKey(raw)
	for _, s := range []string{fmt.Sprint(k), fmt.Sprintf("%v %+v %#v %s", k, k, k, k)} {
		if strings.Contains(s, "abab") || strings.Contains(s, "\xab\xab") {
			t.Fatalf("master key printed: %q", s)
		}
	}
}

func TestLoadMasterKeyFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, data []byte, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	hex64 := strings.Repeat("0f", 32)
	cases := []struct {
		name    string
		path    string
		wantErr error
	}{
		{"raw 32 bytes", write("raw", bytes.Repeat([]byte{7}, 32), 0o600), nil},
		{"hex with newline", write("hex", []byte(hex64+"\n"), 0o600), nil},
		{"hex without newline, 0400", write("hex2", []byte(hex64), 0o400), nil},
		{"missing", filepath.Join(dir, "nope"), ErrMasterKeyMissing},
		{"31 bytes", write("short", bytes.Repeat([]byte{7}, 31), 0o600), ErrMasterKeyMalformed},
		{"33 bytes", write("long", bytes.Repeat([]byte{7}, 33), 0o600), ErrMasterKeyMalformed},
		{"62 hex chars", write("shorthex", []byte(hex64[:62]), 0o600), ErrMasterKeyMalformed},
		{"non-hex text", write("text", []byte(strings.Repeat("zz", 32)), 0o600), ErrMasterKeyMalformed},
		{"empty", write("empty", nil, 0o600), ErrMasterKeyMalformed},
		{"hex with CRLF", write("crlf", []byte(hex64+"\r\n"), 0o600), nil},
		{"raw 32 bytes, mostly text but one non-printable byte", write("rawmixed", append([]byte(strings.Repeat("a", 31)), 0x00), 0o600), nil},
		// 32 bytes of text are a passphrase or a truncated hex key, not 256
		// random bits.
		{"31-char passphrase and newline", write("pass", []byte(strings.Repeat("p", 31)+"\n"), 0o600), ErrMasterKeyMalformed},
		{"32 hex chars without newline", write("hex32", []byte(hex64[:32]), 0o600), ErrMasterKeyMalformed},
		{"32 printable chars", write("print", []byte("correct horse battery staple 123"), 0o600), ErrMasterKeyMalformed},
		{"32 tabs and spaces", write("ws", bytes.Repeat([]byte(" \t"), 16), 0o600), ErrMasterKeyMalformed},
		{"exactly 1 KiB", write("1k", bytes.Repeat([]byte{'a'}, MaxMasterKeyFileSize), 0o600), ErrMasterKeyMalformed},
		{"over 1 KiB", write("big", append([]byte(hex64+"\n"), bytes.Repeat([]byte{'\n'}, MaxMasterKeyFileSize)...), 0o600), ErrMasterKeyMalformed},
		{"group readable", write("g", []byte(hex64), 0o640), ErrMasterKeyPermissive},
		{"world readable", write("w", []byte(hex64), 0o604), ErrMasterKeyPermissive},
		{"directory", dir, ErrMasterKeyMalformed},
	}
	// A sparse file of 1 GiB: reading it would allocate a gigabyte, so a
	// quick ErrMasterKeyMalformed shows the size check came first.
	huge := write("huge", nil, 0o600)
	if err := os.Truncate(huge, 1<<30); err != nil {
		t.Fatal(err)
	}
	cases = append(cases, struct {
		name    string
		path    string
		wantErr error
	}{"sparse 1 GiB file is never read", huge, ErrMasterKeyMalformed})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			k, err := LoadMasterKeyFile(tc.path)
			if tc.wantErr == nil {
				if err != nil || k == nil {
					t.Fatalf("err = %v", err)
				}
				return
			}
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if strings.Contains(err.Error(), hex64) || strings.Contains(err.Error(), hex64[:32]) || strings.Contains(err.Error(), "ppppp") {
				t.Fatal("error echoes key material")
			}
		})
	}
}

// TestLoadMasterKeyFileTextAdvice: refusing 32 bytes of text must tell the
// operator what a valid key looks like.
func TestLoadMasterKeyFileTextAdvice(t *testing.T) {
	p := filepath.Join(t.TempDir(), "master.key")
	if err := os.WriteFile(p, []byte(strings.Repeat("s", 31)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := LoadMasterKeyFile(p)
	if !errors.Is(err, ErrMasterKeyMalformed) {
		t.Fatalf("err = %v, want ErrMasterKeyMalformed", err)
	}
	for _, want := range []string{"64 hex characters", "32 random bytes", p} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func TestCreateMasterKeyFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "sub", "master.key")
	k, err := CreateMasterKeyFile(p)
	if err != nil {
		t.Fatal(err)
	}
	info, _ := os.Stat(p)
	if info.Mode().Perm() != 0o600 {
		t.Fatalf("mode %o", info.Mode().Perm())
	}
	loaded, err := LoadMasterKeyFile(p)
	if err != nil || loaded.ID() != k.ID() {
		t.Fatalf("reload: %v", err)
	}
	if _, err := CreateMasterKeyFile(p); err == nil {
		t.Fatal("overwrote an existing key file")
	}
}

// TestCreateMasterKeyFileSyncs: the key file is synced with its content
// before it is closed, then its directory is synced, so a crash right after
// secrets are sealed under the key cannot lose the key; a failed sync
// leaves no key file behind.
func TestCreateMasterKeyFileSyncs(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "master.key")
	var synced []string
	fsync = func(f *os.File) error {
		info, err := f.Stat()
		if err != nil {
			return err
		}
		if info.Mode().IsRegular() {
			// Synced while still open and with its whole content.
			if info.Size() != 2*MasterKeySize+1 {
				t.Errorf("key file synced with %d bytes", info.Size())
			}
		}
		synced = append(synced, f.Name())
		return f.Sync()
	}
	t.Cleanup(func() { fsync = (*os.File).Sync })
	if _, err := CreateMasterKeyFile(p); err != nil {
		t.Fatal(err)
	}
	// The key is synced under a temporary name in the same directory
	// (then linked to p, so p never appears half-written), then the
	// directory.
	if len(synced) != 2 || filepath.Dir(synced[0]) != dir || !strings.HasPrefix(filepath.Base(synced[0]), ".master-key-") || synced[1] != dir {
		t.Fatalf("synced %q, want a temporary key file in %s, then the directory", synced, dir)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Fatalf("the directory holds %d entries, want the key file alone", len(entries))
	}

	for _, tc := range []struct {
		name   string
		failOn string // the path whose sync fails
	}{
		{"file sync fails", "temporary"},
		{"directory sync fails", dir},
	} {
		t.Run(tc.name, func(t *testing.T) {
			target := filepath.Join(dir, "a.key")
			fsync = func(f *os.File) error {
				if f.Name() == tc.failOn || tc.failOn == "temporary" && strings.HasPrefix(filepath.Base(f.Name()), ".master-key-") {
					return errors.New("injected EIO")
				}
				return f.Sync()
			}
			if _, err := CreateMasterKeyFile(target); err == nil || !strings.Contains(err.Error(), "injected EIO") {
				t.Fatalf("err = %v, want the sync failure", err)
			}
			if _, err := os.Stat(target); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("a key file whose sync failed was left behind (stat: %v)", err)
			}
		})
	}
}

// TestRenameMasterKeyFile: the rename is followed by a sync of the
// directory that now names the key.
func TestRenameMasterKeyFile(t *testing.T) {
	dir := t.TempDir()
	from, to := filepath.Join(dir, "master.key.new"), filepath.Join(dir, "master.key")
	k, err := CreateMasterKeyFile(from)
	if err != nil {
		t.Fatal(err)
	}
	var synced []string
	fsync = func(f *os.File) error {
		synced = append(synced, f.Name())
		return f.Sync()
	}
	t.Cleanup(func() { fsync = (*os.File).Sync })
	if err := RenameMasterKeyFile(from, to); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(synced, []string{dir}) {
		t.Fatalf("synced %q, want the directory %s", synced, dir)
	}
	if got, err := LoadMasterKeyFile(to); err != nil || got.ID() != k.ID() {
		t.Fatalf("renamed key: %v", err)
	}
	if err := RenameMasterKeyFile(from, to); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("renaming a missing file: %v", err)
	}
}

// TestThumbprintRFC7638 checks the kid against the worked example of
// RFC 7638 §3.1.
func TestThumbprintRFC7638(t *testing.T) {
	n := "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
	nb, _ := base64.RawURLEncoding.DecodeString(n)
	pub := &rsa.PublicKey{N: new(big.Int).SetBytes(nb), E: 65537}
	got, err := Thumbprint(pub)
	if err != nil {
		t.Fatal(err)
	}
	if want := "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"; got != want {
		t.Fatalf("thumbprint %s, want %s", got, want)
	}
}

func TestSigningKeys(t *testing.T) {
	for _, alg := range []string{RS256, ES256} {
		t.Run(alg, func(t *testing.T) {
			s, err := GenerateSigningKey(alg)
			if err != nil {
				t.Fatal(err)
			}
			der, err := MarshalPrivateKey(s)
			if err != nil {
				t.Fatal(err)
			}
			back, err := ParsePrivateKey(der, alg)
			if err != nil {
				t.Fatal(err)
			}
			jwkJSON, kid, err := PublicJWK(back.Public(), alg)
			if err != nil {
				t.Fatal(err)
			}
			var jwk map[string]any
			_ = json.Unmarshal(jwkJSON, &jwk)
			if jwk["kid"] != kid || jwk["alg"] != alg || jwk["use"] != "sig" || jwk["d"] != nil {
				t.Fatalf("jwk = %v", jwk)
			}
		})
	}
	if _, err := GenerateSigningKey("HS256"); err == nil {
		t.Fatal("HS256 accepted")
	}
	ec, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if _, _, err := PublicJWK(ec.Public(), ES256); err == nil {
		t.Fatal("P-384 key accepted for ES256")
	}
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	if _, _, err := PublicJWK(small.Public(), RS256); err == nil {
		t.Fatal("RSA-1024 accepted")
	}
}
