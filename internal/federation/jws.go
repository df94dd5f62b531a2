package federation

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"fmt"
	"math/big"
	"strings"
	"unsafe"

	_ "crypto/sha256" // RS256/ES256
	_ "crypto/sha512" // RS384/RS512/ES384/ES512
)

// MaxTokenLength is AWS's limit on the WebIdentityToken parameter, checked before anything
// else looks at the token.
const MaxTokenLength = 20000

// maxKIDLength caps the kid: it is only ever a map key into the provider's JWKS, never a
// path or query, but an unbounded one would still be copied into logs.
const maxKIDLength = 256

type keyKind uint8

const (
	kindRSA keyKind = iota + 1
	kindEC
)

// algorithm is one entry of the allow-list. The verifier, never the token, decides which
// key type an algorithm may use: kind and curve are checked against the JWKS key.
type algorithm struct {
	name  string
	hash  crypto.Hash
	kind  keyKind
	curve elliptic.Curve // EC only
	size  int            // EC only: bytes per coordinate, so a signature is 2*size
}

var (
	algRS256 = &algorithm{name: "RS256", hash: crypto.SHA256, kind: kindRSA}
	algRS384 = &algorithm{name: "RS384", hash: crypto.SHA384, kind: kindRSA}
	algRS512 = &algorithm{name: "RS512", hash: crypto.SHA512, kind: kindRSA}
	algES256 = &algorithm{name: "ES256", hash: crypto.SHA256, kind: kindEC, curve: elliptic.P256(), size: 32}
	algES384 = &algorithm{name: "ES384", hash: crypto.SHA384, kind: kindEC, curve: elliptic.P384(), size: 48}
	algES512 = &algorithm{name: "ES512", hash: crypto.SHA512, kind: kindEC, curve: elliptic.P521(), size: 66}
)

// lookupAlg compares case-sensitively: "rs256", "None", "nOnE" are all simply unknown.
func lookupAlg(name string) *algorithm {
	switch name {
	case "RS256":
		return algRS256
	case "RS384":
		return algRS384
	case "RS512":
		return algRS512
	case "ES256":
		return algES256
	case "ES384":
		return algES384
	case "ES512":
		return algES512
	}
	return nil
}

// headerRefused lists header parameters whose mere presence rejects the token: keys
// carried by the token (the verifier picks keys from the provider's JWKS only, and never
// dereferences a URL from a token), critical extensions (we implement none, RFC 7515
// §4.1.11), unencoded payloads (RFC 7797), nested JWTs, and JWE parameters.
var headerRefused = [...]string{"jwk", "jku", "x5u", "x5c", "crit", "b64", "cty", "enc", "zip", "epk"}

// decodedJWS is a compact JWS whose structure has been checked but whose signature has
// not.
type decodedJWS struct {
	alg          *algorithm
	kid          string
	hasKID       bool
	header       map[string]any
	claims       map[string]any
	signingInput []byte // header.payload, exactly as received
	signature    []byte
}

// decodeJWS checks everything about a compact JWS that does not need a key. It is the
// hot path and runs on attacker input, so it measures before it splits: the length first,
// then the number of dots, and only then does it allocate.
func decodeJWS(token string) (*decodedJWS, *TokenError) {
	if len(token) > MaxTokenLength {
		return nil, &TokenError{Code: ValidationError, Message: msgTooLong, Cause: ErrTokenTooLong}
	}
	if len(token) < 4 {
		return nil, &TokenError{Code: ValidationError, Message: msgTooShort, Cause: fmt.Errorf("%w: token shorter than 4 characters", ErrMalformed)}
	}
	// Exactly two dots: three segments for JWS. JWE (four dots), JWS JSON serialization
	// and "Bearer " prefixes all fail here or in the base64url decoding below.
	if strings.Count(token, ".") != 2 {
		return nil, malformed("not three segments")
	}
	d1 := strings.IndexByte(token, '.')
	d2 := d1 + 1 + strings.IndexByte(token[d1+1:], '.')
	if d1 == 0 || d2 == d1+1 || d2 == len(token)-1 {
		return nil, malformed("empty segment")
	}

	// Canonical base64url only. The standard decoder (8 characters a step, several times
	// faster than a table loop) already refuses '=', '+', '/', spaces and other bytes, and
	// Strict() refuses stray trailing bits; it silently skips CR and LF, so those are
	// refused here first.
	if strings.IndexByte(token, '\r') >= 0 || strings.IndexByte(token, '\n') >= 0 {
		return nil, malformed("CR or LF in token")
	}
	// No copy of the token: src is a read-only view of its bytes (base64
	// decoding and hashing only read), and one buffer holds all three
	// decoded segments. Tokens are up to 16 KB and arrive on every STS
	// call, so each copy is garbage the collector pays for under load.
	src := unsafe.Slice(unsafe.StringData(token), len(token))
	buf := make([]byte, base64.RawURLEncoding.DecodedLen(len(token)))
	hb, err := decodeStd(buf, src[:d1])
	if err != nil {
		return nil, malformed("header: " + err.Error())
	}
	pb, err := decodeStd(buf[len(hb):], src[d1+1:d2])
	if err != nil {
		return nil, malformed("payload: " + err.Error())
	}
	sig, err := decodeStd(buf[len(hb)+len(pb):], src[d2+1:])
	if err != nil {
		return nil, malformed("signature: " + err.Error())
	}

	// The decoded header and payload as one string without a copy: buf is
	// never written again (the signature's bytes are only read), so the
	// strings the JSON parser slices from it stay as decoded.
	decoded := unsafe.String(unsafe.SliceData(buf), len(hb)+len(pb))
	header, err := parseJSONObject(decoded[:len(hb)])
	if err != nil {
		return nil, malformed("header: " + err.Error())
	}
	algName, ok := header["alg"].(string)
	if !ok {
		return nil, invalid(msgMalformed, fmt.Errorf("%w: alg missing or not a string", ErrAlgorithm))
	}
	alg := lookupAlg(algName)
	if alg == nil {
		return nil, invalid(msgMalformed, fmt.Errorf("%w: %.32q", ErrAlgorithm, algName))
	}
	for _, name := range headerRefused {
		if _, present := header[name]; present {
			return nil, invalid(msgMalformed, fmt.Errorf("%w: %s", ErrHeader, name))
		}
	}
	j := &decodedJWS{alg: alg, header: header, signingInput: src[:d2], signature: sig}
	if v, present := header["kid"]; present {
		kid, ok := v.(string)
		if !ok || kid == "" || len(kid) > maxKIDLength {
			return nil, malformed("kid not a string of 1..256 bytes")
		}
		j.kid, j.hasKID = kid, true
	}
	if typ, present := header["typ"]; present {
		if _, ok := typ.(string); !ok {
			return nil, malformed("typ not a string")
		}
	}
	// RFC 7518 §3.4: an ECDSA JWS signature is R||S, each exactly the curve's size. DER
	// or trimmed forms are refused rather than normalised.
	if alg.kind == kindEC && len(sig) != 2*alg.size {
		return nil, invalid(msgSignature, fmt.Errorf("%w: %s signature of %d bytes", ErrSignature, alg.name, len(sig)))
	}

	claims, err := parseJSONObject(decoded[len(hb):])
	if err != nil {
		return nil, malformed("payload: " + err.Error())
	}
	j.claims = claims
	return j, nil
}

func decodeStd(dst, src []byte) ([]byte, error) {
	n, err := strictB64.Decode(dst, src)
	if err != nil {
		return nil, err
	}
	return dst[:n:n], nil
}

var strictB64 = base64.RawURLEncoding.Strict()

// decodeB64 decodes one canonical base64url value (JWKS members) into a new slice, by
// the same rules as the token's segments.
func decodeB64(s string) ([]byte, error) {
	if strings.IndexByte(s, '\r') >= 0 || strings.IndexByte(s, '\n') >= 0 {
		return nil, fmt.Errorf("CR or LF in base64url")
	}
	return strictB64.DecodeString(s)
}

// verifySignature checks j's signature with key, which must be of the algorithm's own
// type (and curve): an RSA key never verifies an ES* token nor the reverse, and no
// symmetric algorithm exists here at all.
func (j *decodedJWS) verifySignature(key *jwk) error {
	h := j.alg.hash.New()
	h.Write(j.signingInput)
	var digest [64]byte
	sum := h.Sum(digest[:0])
	switch j.alg.kind {
	case kindRSA:
		if key.rsa == nil {
			return fmt.Errorf("%w: %s token, key %q is not RSA", ErrSignature, j.alg.name, key.kid)
		}
		if err := rsa.VerifyPKCS1v15(key.rsa, j.alg.hash, sum, j.signature); err != nil {
			return fmt.Errorf("%w: %v", ErrSignature, err)
		}
		return nil
	case kindEC:
		if key.ec == nil || key.ec.Curve != j.alg.curve {
			return fmt.Errorf("%w: %s token, key %q is not on its curve", ErrSignature, j.alg.name, key.kid)
		}
		r := new(big.Int).SetBytes(j.signature[:j.alg.size])
		s := new(big.Int).SetBytes(j.signature[j.alg.size:])
		// ecdsa.Verify rejects r or s of zero or ≥ n; a high S is valid (RFC 7518 does
		// not require low S) and is accepted.
		if !ecdsa.Verify(key.ec, sum, r, s) {
			return fmt.Errorf("%w: ECDSA", ErrSignature)
		}
		return nil
	}
	return fmt.Errorf("%w: unknown key kind", ErrSignature)
}
