package keys

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"testing"
)

// TestSecp256k1 round-trips an ECC_SECG_P256K1 key through its sealed
// material and its SubjectPublicKeyInfo, and checks its signatures.
func TestSecp256k1(t *testing.T) {
	signer, err := GenerateKMSKey("ECC_SECG_P256K1")
	if err != nil {
		t.Fatal(err)
	}
	material, err := MarshalKMSKey(signer)
	if err != nil {
		t.Fatal(err)
	}
	again, err := ParseKMSKey(material)
	if err != nil {
		t.Fatal(err)
	}
	der, err := MarshalKMSPublicKey(again.Public())
	if err != nil {
		t.Fatal(err)
	}
	der0, _ := MarshalKMSPublicKey(signer.Public())
	if !bytes.Equal(der, der0) {
		t.Fatal("the parsed key has another public key")
	}
	pub, err := ParseSecp256k1PublicKey(der)
	if err != nil {
		t.Fatal(err)
	}
	digest := sha256.Sum256([]byte("m"))
	sig, err := again.Sign(rand.Reader, digest[:], nil)
	if err != nil {
		t.Fatal(err)
	}
	if !pub.VerifyASN1(digest[:], sig) {
		t.Fatal("signature does not verify")
	}
	other := sha256.Sum256([]byte("n"))
	if pub.VerifyASN1(other[:], sig) {
		t.Fatal("signature verifies another digest")
	}
	for _, bad := range [][]byte{[]byte(secp256k1Material + "short"), []byte("not pkcs8")} {
		if _, err := ParseKMSKey(bad); err == nil {
			t.Errorf("ParseKMSKey(%q) accepted", bad)
		}
	}
}
