package keys

import (
	"crypto"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"
	secpecdsa "github.com/decred/dcrd/dcrec/secp256k1/v4/ecdsa"
)

// KMS's ECC_SECG_P256K1 keys. The standard library has no secp256k1, so
// the curve comes from decred's implementation; what Go's x509 cannot
// encode (the private key, the public key's SubjectPublicKeyInfo) is
// encoded here.

// Secp256k1PublicKey is an ECC_SECG_P256K1 public key.
type Secp256k1PublicKey struct{ key *secp256k1.PublicKey }

// VerifyASN1 checks a DER (ASN.1) ECDSA signature over digest.
func (p *Secp256k1PublicKey) VerifyASN1(digest, sig []byte) bool {
	s, err := secpecdsa.ParseDERSignature(sig)
	return err == nil && s.Verify(digest, p.key)
}

// secp256k1Signer signs digests with RFC 6979 nonces, returning DER.
type secp256k1Signer struct{ key *secp256k1.PrivateKey }

func (s *secp256k1Signer) Public() crypto.PublicKey {
	return &Secp256k1PublicKey{key: s.key.PubKey()}
}

func (s *secp256k1Signer) Sign(_ io.Reader, digest []byte, _ crypto.SignerOpts) ([]byte, error) {
	return secpecdsa.Sign(s.key, digest).Serialize(), nil
}

// secp256k1Material marks sealed secp256k1 material: the 32-byte scalar
// after this prefix (PKCS#8 has no encoding Go reads for the curve).
const secp256k1Material = "oidcfed-secp256k1:"

var (
	oidECPublicKey = asn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1}
	oidSecp256k1   = asn1.ObjectIdentifier{1, 3, 132, 0, 10}
)

// MarshalKMSPublicKey is a KMS key's public key as DER
// SubjectPublicKeyInfo (id-ecPublicKey with the secp256k1 OID and an
// uncompressed point, for ECC_SECG_P256K1).
func MarshalKMSPublicKey(pub crypto.PublicKey) ([]byte, error) {
	p, ok := pub.(*Secp256k1PublicKey)
	if !ok {
		return x509.MarshalPKIXPublicKey(pub)
	}
	type algorithm struct {
		Algorithm  asn1.ObjectIdentifier
		Parameters asn1.ObjectIdentifier
	}
	return asn1.Marshal(struct {
		Algorithm algorithm
		PublicKey asn1.BitString
	}{algorithm{oidECPublicKey, oidSecp256k1}, asn1.BitString{Bytes: p.key.SerializeUncompressed(), BitLength: 65 * 8}})
}

// ParseSecp256k1PublicKey reads MarshalKMSPublicKey's secp256k1 form.
func ParseSecp256k1PublicKey(der []byte) (*Secp256k1PublicKey, error) {
	var spki struct {
		Algorithm struct {
			Algorithm  asn1.ObjectIdentifier
			Parameters asn1.ObjectIdentifier
		}
		PublicKey asn1.BitString
	}
	if rest, err := asn1.Unmarshal(der, &spki); err != nil || len(rest) != 0 {
		return nil, errors.New("not a SubjectPublicKeyInfo")
	}
	if !spki.Algorithm.Algorithm.Equal(oidECPublicKey) || !spki.Algorithm.Parameters.Equal(oidSecp256k1) {
		return nil, errors.New("not a secp256k1 key")
	}
	k, err := secp256k1.ParsePubKey(spki.PublicKey.Bytes)
	if err != nil {
		return nil, fmt.Errorf("secp256k1 point: %w", err)
	}
	return &Secp256k1PublicKey{key: k}, nil
}
