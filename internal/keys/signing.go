package keys

import (
	"bytes"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"
	"github.com/go-jose/go-jose/v4"
)

// Signing algorithms the issuer can use.
const (
	RS256 = "RS256" // RSA-2048, PKCS#1 v1.5, SHA-256: GitLab's choice
	ES256 = "ES256" // P-256 ECDSA, SHA-256
)

// GenerateSigningKey creates a fresh private key for alg.
func GenerateSigningKey(alg string) (crypto.Signer, error) {
	switch alg {
	case RS256:
		return rsa.GenerateKey(rand.Reader, 2048)
	case ES256:
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	default:
		return nil, fmt.Errorf("unsupported signing algorithm %q (want RS256 or ES256)", alg)
	}
}

// MarshalPrivateKey encodes a signer's private key as PKCS#8 DER, the form
// that is sealed and stored. Callers should clear the result after sealing.
func MarshalPrivateKey(s crypto.Signer) ([]byte, error) {
	return x509.MarshalPKCS8PrivateKey(s)
}

// ParsePrivateKey decodes PKCS#8 DER and checks it suits alg.
func ParsePrivateKey(der []byte, alg string) (crypto.Signer, error) {
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("parse private key: %w", err)
	}
	signer, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("private key of type %T cannot sign", k)
	}
	if err := checkAlgorithm(signer.Public(), alg); err != nil {
		return nil, err
	}
	return signer, nil
}

func checkAlgorithm(pub crypto.PublicKey, alg string) error {
	switch p := pub.(type) {
	case *rsa.PublicKey:
		if alg == RS256 && p.N.BitLen() >= 2048 {
			return nil
		}
	case *ecdsa.PublicKey:
		if alg == ES256 && p.Curve == elliptic.P256() {
			return nil
		}
	}
	return fmt.Errorf("key of type %T does not match algorithm %s", pub, alg)
}

// Thumbprint is the RFC 7638 SHA-256 JWK thumbprint of pub, base64url
// without padding: the kid GitLab uses for its CI signing key.
func Thumbprint(pub crypto.PublicKey) (string, error) {
	jwk := jose.JSONWebKey{Key: pub}
	sum, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(sum), nil
}

// PublicJWK renders pub as the JWK a JWKS publishes: kty and key parameters,
// kid (the thumbprint), use "sig" and alg.
func PublicJWK(pub crypto.PublicKey, alg string) (jwkJSON []byte, kid string, err error) {
	if err := checkAlgorithm(pub, alg); err != nil {
		return nil, "", err
	}
	kid, err = Thumbprint(pub)
	if err != nil {
		return nil, "", err
	}
	jwk := jose.JSONWebKey{Key: pub, KeyID: kid, Algorithm: alg, Use: "sig"}
	jwkJSON, err = json.Marshal(jwk)
	return jwkJSON, kid, err
}

// GenerateKMSKey creates private key material for a KMS asymmetric key
// spec (ECC_NIST_P256/P384/P521, RSA_2048/3072/4096).
func GenerateKMSKey(spec string) (crypto.Signer, error) {
	switch spec {
	case "ECC_NIST_P256":
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "ECC_NIST_P384":
		return ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case "ECC_NIST_P521":
		return ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	case "ECC_SECG_P256K1":
		k, err := secp256k1.GeneratePrivateKeyFromRand(rand.Reader)
		if err != nil {
			return nil, err
		}
		return &secp256k1Signer{key: k}, nil
	case "RSA_2048":
		return rsa.GenerateKey(rand.Reader, 2048)
	case "RSA_3072":
		return rsa.GenerateKey(rand.Reader, 3072)
	case "RSA_4096":
		return rsa.GenerateKey(rand.Reader, 4096)
	}
	return nil, fmt.Errorf("no key material for key spec %q", spec)
}

// MarshalKMSKey encodes a KMS signing key's material for sealing: PKCS#8,
// or a marked scalar for secp256k1. Callers clear the result after
// sealing.
func MarshalKMSKey(s crypto.Signer) ([]byte, error) {
	if k, ok := s.(*secp256k1Signer); ok {
		return append([]byte(secp256k1Material), k.key.Serialize()...), nil
	}
	return x509.MarshalPKCS8PrivateKey(s)
}

// ParseKMSKey decodes a KMS key's material (MarshalKMSKey's forms).
func ParseKMSKey(der []byte) (crypto.Signer, error) {
	if scalar, ok := bytes.CutPrefix(der, []byte(secp256k1Material)); ok {
		if len(scalar) != 32 {
			return nil, fmt.Errorf("secp256k1 key material of %d bytes", len(scalar))
		}
		return &secp256k1Signer{key: secp256k1.PrivKeyFromBytes(scalar)}, nil
	}
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("parse KMS key material: %w", err)
	}
	signer, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("KMS key material of type %T cannot sign", k)
	}
	return signer, nil
}

// KMSSymmetricKeySize is a SYMMETRIC_DEFAULT key's AES-256 material size.
const KMSSymmetricKeySize = 32

// GenerateKMSSecret creates n bytes of secret key material (AES-256 for
// SYMMETRIC_DEFAULT, an HMAC key for HMAC_*).
func GenerateKMSSecret(n int) ([]byte, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	return b, nil
}

// NewKMSAEAD is the AES-256-GCM cipher of a SYMMETRIC_DEFAULT key.
func NewKMSAEAD(material []byte) (cipher.AEAD, error) {
	if len(material) != KMSSymmetricKeySize {
		return nil, fmt.Errorf("symmetric key material of %d bytes", len(material))
	}
	block, err := aes.NewCipher(material)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}
