package keys

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/hex"
	"testing"
)

func TestDeriveKey(t *testing.T) {
	raw := bytes.Repeat([]byte{7}, MasterKeySize)
	k, err := NewMasterKey(raw)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := NewMasterKey(bytes.Repeat([]byte{8}, MasterKeySize))

	// Independent computation: root = AES-256-CTR keystream from counter
	// block nonce||2 (GCM's first data block), then HKDF-SHA256.
	block, _ := aes.NewCipher(raw)
	iv := append(bytes.Clone(deriveNonce), 0, 0, 0, 2)
	root := make([]byte, 32)
	cipher.NewCTR(block, iv).XORKeyStream(root, root)
	want, _ := hkdf.Key(sha256.New, root, nil, "purpose a", 32)

	tests := []struct {
		name string
		got  []byte
		want []byte
		same bool
	}{
		{"matches AES-CTR root + HKDF", k.DeriveKey("purpose a"), want, true},
		{"deterministic", k.DeriveKey("purpose a"), k.DeriveKey("purpose a"), true},
		{"info separates", k.DeriveKey("purpose a"), k.DeriveKey("purpose b"), false},
		{"master key separates", k.DeriveKey("purpose a"), other.DeriveKey("purpose a"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if len(tt.got) != DerivedKeySize {
				t.Fatalf("%d bytes", len(tt.got))
			}
			if bytes.Equal(tt.got, tt.want) != tt.same {
				t.Errorf("got %s, other %s, want same=%v", hex.EncodeToString(tt.got), hex.EncodeToString(tt.want), tt.same)
			}
		})
	}
}
