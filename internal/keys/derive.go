package keys

import (
	"crypto/hkdf"
	"crypto/sha256"
)

// DerivedKeySize is the length of DeriveKey's output.
const DerivedKeySize = 32

// deriveNonce is the one GCM nonce DeriveKey uses; Seal draws its nonces at
// random, so a seal reusing it has a probability of 2^-96.
var deriveNonce = func() []byte {
	sum := sha256.Sum256([]byte("oidcfed master key derivation root v1"))
	return sum[:12]
}()

// DeriveKey returns a 32-byte key for one purpose, named by info, derived
// from the master key with HKDF-SHA256. Callers get independent keys for
// independent purposes (the STS session keys, ...) without ever seeing the
// master key, and a rotated master key rotates every derived key with it.
//
// MasterKey keeps only its AES-GCM instance, not the raw bytes, so the
// HKDF input is a 32-byte root computed with the master key as a PRF: the
// AES-CTR keystream GCM produces under a fixed nonce (two AES blocks on
// counters no Seal uses with this nonce), never revealed. HKDF then
// separates purposes by info.
func (k *MasterKey) DeriveKey(info string) []byte {
	var zero [DerivedKeySize]byte
	root := k.gcm.Seal(nil, deriveNonce, zero[:], nil)[:DerivedKeySize]
	defer clear(root)
	out, err := hkdf.Key(sha256.New, root, nil, info, DerivedKeySize)
	if err != nil {
		// Only a keyLength over 255*32 bytes fails.
		panic(err)
	}
	return out
}
