package kms

import (
	"bytes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/binary"
	"fmt"
	"hash"
	"slices"
	"sort"

	"github.com/oidcfed/oidcfed/internal/keys"
	"github.com/oidcfed/oidcfed/internal/store"
)

// Symmetric (SYMMETRIC_DEFAULT: AES-256-GCM) and HMAC keys.

const (
	UsageGenerateVerifyMAC = "GENERATE_VERIFY_MAC"
	specSymmetric          = "SYMMETRIC_DEFAULT"

	// MaxPlaintext is Encrypt's Plaintext limit; MaxDataKeyBytes
	// GenerateDataKey's and GenerateRandom's NumberOfBytes limit.
	MaxPlaintext    = 4096
	MaxDataKeyBytes = 1024
)

// macAlgorithms is each HMAC key spec's algorithm and key size.
var macAlgorithms = map[string]struct {
	alg  string
	size int
	hash func() hash.Hash
}{
	"HMAC_224": {"HMAC_SHA_224", 28, sha256.New224},
	"HMAC_256": {"HMAC_SHA_256", 32, sha256.New},
	"HMAC_384": {"HMAC_SHA_384", 48, sha512.New384},
	"HMAC_512": {"HMAC_SHA_512", 64, sha512.New},
}

// EncryptionAlgorithms are what the key encrypts with.
func (k *Key) EncryptionAlgorithms() []string {
	if k.KeySpec == specSymmetric {
		return []string{"SYMMETRIC_DEFAULT"}
	}
	return nil
}

// MacAlgorithms are what the key MACs with.
func (k *Key) MacAlgorithms() []string {
	if m, ok := macAlgorithms[k.KeySpec]; ok {
		return []string{m.alg}
	}
	return nil
}

// secretOf unseals a symmetric or HMAC key's material once per cached
// entry; symmetric keys get their AEAD ready.
func (e *entry) secretOf(s *Service) ([]byte, cipher.AEAD, error) {
	e.once.Do(func() {
		material, err := s.opts.Open(e.sealed, store.KMSKeyAAD(e.key.ID))
		if err != nil {
			e.err = fmt.Errorf("unseal KMS key %s: %w", e.key.ID, err)
			return
		}
		e.secret = material
		if e.key.KeySpec == specSymmetric {
			e.aead, e.err = keys.NewKMSAEAD(material)
		}
	})
	return e.secret, e.aead, e.err
}

// The ciphertext blob is self-describing, so Decrypt finds its key with
// no KeyId (as KMS's does):
//
//	version 0x01 | key id (36 bytes) | nonce (12) | AES-256-GCM ciphertext and tag
//
// The AAD binds the key id and the encryption context (pairs sorted by
// key, each length-prefixed), so a blob decrypts under no other key and
// no other context.
const (
	blobVersion   = 0x01
	blobKeyIDLen  = 36
	blobNonceLen  = 12
	blobHeaderLen = 1 + blobKeyIDLen + blobNonceLen
	blobTagLen    = 16
)

func blobAAD(keyID string, ctx map[string]string) []byte {
	keys := make([]string, 0, len(ctx))
	for k := range ctx {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b bytes.Buffer
	b.WriteString("oidcfed/kms-ciphertext/v1\x00")
	b.WriteString(keyID)
	put := func(s string) {
		var n [4]byte
		binary.BigEndian.PutUint32(n[:], uint32(len(s)))
		b.Write(n[:])
		b.WriteString(s)
	}
	for _, k := range keys {
		put(k)
		put(ctx[k])
	}
	return b.Bytes()
}

// BlobKeyID is the id of the key a ciphertext blob was made with; ok is
// false for anything that is not one of our blobs.
func BlobKeyID(blob []byte) (string, bool) {
	if len(blob) < blobHeaderLen+blobTagLen || blob[0] != blobVersion {
		return "", false
	}
	id := string(blob[1 : 1+blobKeyIDLen])
	if !isKeyID(id) {
		return "", false
	}
	return id, true
}

func invalidCiphertext() *Error {
	return &Error{Code: CodeInvalidCiphertext, Message: ""}
}

// checkContext applies KMS's limits to an encryption context.
func checkContext(ctx map[string]string) error {
	n := 0
	for k, v := range ctx {
		if k == "" {
			return newError(CodeValidation, "Encryption context keys must not be empty") // unconfirmed wording
		}
		n += len(k) + len(v)
	}
	if n > 8192 {
		return newError(CodeValidation, "Encryption context is too large") // unconfirmed wording
	}
	return nil
}

func (s *Service) symmetric(r *Resolved, op string) (cipher.AEAD, error) {
	if err := s.usable(r.Key); err != nil {
		return nil, err
	}
	if r.Key.KeySpec != specSymmetric || r.Key.KeyUsage != UsageEncryptDecrypt {
		return nil, newError(CodeInvalidKeyUsage, "%s key usage is %s which is not valid for %s.", r.Key.ARN, r.Key.KeyUsage, op) // unconfirmed wording
	}
	_, aead, err := r.entry.secretOf(s)
	return aead, err
}

// Encrypt seals plaintext under the key r names.
func (s *Service) Encrypt(r *Resolved, plaintext []byte, ctx map[string]string, algorithm string) ([]byte, error) {
	if len(plaintext) == 0 {
		return nil, validation("plaintext", "Member must have length greater than or equal to 1")
	}
	if len(plaintext) > MaxPlaintext {
		return nil, validation("plaintext", "Member must have length less than or equal to 4096")
	}
	if algorithm != "" && algorithm != "SYMMETRIC_DEFAULT" {
		if !slices.Contains([]string{"RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256", "SM2PKE"}, algorithm) {
			return nil, enumError("encryptionAlgorithm", algorithm, []string{"SYMMETRIC_DEFAULT", "RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256", "SM2PKE"})
		}
		return nil, newError(CodeInvalidKeyUsage, "Algorithm %s is incompatible with key spec %s.", algorithm, r.Key.KeySpec) // unconfirmed wording
	}
	if err := checkContext(ctx); err != nil {
		return nil, err
	}
	aead, err := s.symmetric(r, "Encrypt")
	if err != nil {
		return nil, err
	}
	blob := make([]byte, blobHeaderLen, blobHeaderLen+len(plaintext)+blobTagLen)
	blob[0] = blobVersion
	copy(blob[1:], r.Key.ID)
	if _, err := rand.Read(blob[1+blobKeyIDLen : blobHeaderLen]); err != nil {
		return nil, err
	}
	return aead.Seal(blob, blob[1+blobKeyIDLen:blobHeaderLen], plaintext, blobAAD(r.Key.ID, ctx)), nil
}

// Decrypt opens a blob with the key it names; r is the key the caller
// named (nil: the blob's own). A blob of another key is
// IncorrectKeyException; anything tampered, or another context,
// InvalidCiphertextException.
func (s *Service) Decrypt(r *Resolved, blob []byte, ctx map[string]string) ([]byte, error) {
	id, ok := BlobKeyID(blob)
	if !ok {
		return nil, invalidCiphertext()
	}
	if r.Key.ID != id {
		return nil, newError(CodeIncorrectKey, "The key ID in the request does not identify a CMK that can perform this operation.") // recalled
	}
	aead, err := s.symmetric(r, "Decrypt")
	if err != nil {
		return nil, err
	}
	plaintext, err := aead.Open(nil, blob[1+blobKeyIDLen:blobHeaderLen], blob[blobHeaderLen:], blobAAD(id, ctx))
	if err != nil {
		return nil, invalidCiphertext()
	}
	return plaintext, nil
}

// DataKeySize resolves GenerateDataKey's NumberOfBytes xor KeySpec.
func DataKeySize(numberOfBytes *int, keySpec string) (int, error) {
	switch {
	case numberOfBytes != nil && keySpec != "":
		return 0, newError(CodeValidation, "Please specify either number of bytes or key spec.") // recalled, unconfirmed
	case numberOfBytes != nil:
		if *numberOfBytes < 1 || *numberOfBytes > MaxDataKeyBytes {
			return 0, validation("numberOfBytes", "Member must have value less than or equal to 1024")
		}
		return *numberOfBytes, nil
	case keySpec == "AES_256":
		return 32, nil
	case keySpec == "AES_128":
		return 16, nil
	case keySpec != "":
		return 0, enumError("keySpec", keySpec, []string{"AES_256", "AES_128"})
	}
	return 0, newError(CodeValidation, "Please specify either number of bytes or key spec.") // recalled, unconfirmed
}

// GenerateMac computes the HMAC of message with the key r names.
func (s *Service) GenerateMac(r *Resolved, message []byte, algorithm string) ([]byte, error) {
	if err := s.usable(r.Key); err != nil {
		return nil, err
	}
	if len(message) == 0 {
		return nil, validation("message", "Member must have length greater than or equal to 1")
	}
	if len(message) > MaxMessage {
		return nil, validation("message", "Member must have length less than or equal to 4096")
	}
	all := []string{"HMAC_SHA_224", "HMAC_SHA_256", "HMAC_SHA_384", "HMAC_SHA_512"}
	if !slices.Contains(all, algorithm) {
		return nil, enumError("macAlgorithm", algorithm, all)
	}
	m, ok := macAlgorithms[r.Key.KeySpec]
	if !ok || r.Key.KeyUsage != UsageGenerateVerifyMAC {
		return nil, newError(CodeInvalidKeyUsage, "%s key usage is %s which is not valid for GenerateMac.", r.Key.ARN, r.Key.KeyUsage) // unconfirmed wording
	}
	if m.alg != algorithm {
		return nil, newError(CodeInvalidKeyUsage, "Algorithm %s is incompatible with key spec %s.", algorithm, r.Key.KeySpec) // unconfirmed wording
	}
	secret, _, err := r.entry.secretOf(s)
	if err != nil {
		return nil, err
	}
	h := hmac.New(m.hash, secret)
	h.Write(message)
	return h.Sum(nil), nil
}

// VerifyMac checks mac; a wrong one is KMSInvalidMacException, as KMS
// answers.
func (s *Service) VerifyMac(r *Resolved, message []byte, algorithm string, mac []byte) error {
	want, err := s.GenerateMac(r, message, algorithm)
	if err != nil {
		return err
	}
	if !hmac.Equal(want, mac) {
		return &Error{Code: CodeInvalidMac, Message: ""}
	}
	return nil
}
