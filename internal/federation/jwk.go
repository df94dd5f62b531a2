package federation

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"errors"
	"fmt"
	"math/big"
)

// Bounds on what a JWKS may make us do (security.md §1.7, §2).
const (
	// maxJWKSKeys: AWS reportedly reads at most 100 keys of a JWKS; entries past the
	// first 100 are ignored, so a huge set costs bounded work.
	maxJWKSKeys = 100
	minRSABits  = 2048
	// maxRSABits: verification cost grows with the square of the modulus; a 16k-bit key
	// would let an issuer (or whoever controls its JWKS) slow every request.
	maxRSABits = 8192
)

// jwk is one usable verification key from a provider's JWKS.
type jwk struct {
	kid string
	alg string // optional; when set it must equal the token's alg
	rsa *rsa.PublicKey
	ec  *ecdsa.PublicKey
}

// keySet is a parsed JWKS. Keys are looked up by exact kid; kids that appear more than
// once are ambiguous and unusable (Wycheproof rejectsDuplicateKid).
type keySet struct {
	byKID map[string]*jwk
	noKID []*jwk // keys without a kid, usable only by tokens without one
	// skipped counts entries dropped as unusable, for logs.
	skipped int
}

// parseJWKS parses a JWKS document. Bad individual keys are skipped, never fatal: one
// odd key must not take the whole provider down. It fails only if the document is not a
// JWKS at all.
func parseJWKS(body string) (*keySet, error) {
	doc, err := parseJSONObject(body)
	if err != nil {
		return nil, fmt.Errorf("JWKS: %w", err)
	}
	arr, ok := doc["keys"].([]any)
	if !ok {
		return nil, errors.New("JWKS: keys is not an array")
	}
	ks := &keySet{byKID: make(map[string]*jwk, len(arr))}
	ambiguous := map[string]bool{}
	for i, v := range arr {
		if i >= maxJWKSKeys {
			ks.skipped += len(arr) - i
			break
		}
		obj, ok := v.(map[string]any)
		if !ok {
			ks.skipped++
			continue
		}
		k, err := parseJWK(obj)
		if err != nil {
			ks.skipped++
			continue
		}
		if k.kid == "" {
			ks.noKID = append(ks.noKID, k)
			continue
		}
		if ambiguous[k.kid] {
			ks.skipped++
			continue
		}
		if _, dup := ks.byKID[k.kid]; dup {
			delete(ks.byKID, k.kid)
			ambiguous[k.kid] = true
			ks.skipped += 2
			continue
		}
		ks.byKID[k.kid] = k
	}
	return ks, nil
}

// lookup returns the key for a token, or nil.
func (ks *keySet) lookup(j *decodedJWS) *jwk {
	if ks == nil {
		return nil
	}
	if j.hasKID {
		return ks.byKID[j.kid]
	}
	// Without a kid, only an unambiguous single candidate of the right type will do.
	var found *jwk
	for _, k := range ks.noKID {
		if k.fits(j.alg) {
			if found != nil {
				return nil
			}
			found = k
		}
	}
	return found
}

// fits reports whether k may verify alg: same key type, same curve, and, when the JWK
// names an alg, the same alg.
func (k *jwk) fits(alg *algorithm) bool {
	if k.alg != "" && k.alg != alg.name {
		return false
	}
	switch alg.kind {
	case kindRSA:
		return k.rsa != nil
	case kindEC:
		return k.ec != nil && k.ec.Curve == alg.curve
	}
	return false
}

func parseJWK(obj map[string]any) (*jwk, error) {
	k := &jwk{}
	if v, present := obj["kid"]; present {
		s, ok := v.(string)
		if !ok || len(s) > maxKIDLength {
			return nil, errors.New("bad kid")
		}
		k.kid = s
	}
	if v, present := obj["use"]; present {
		if s, ok := v.(string); !ok || s != "sig" {
			return nil, errors.New("use is not sig")
		}
	}
	if v, present := obj["key_ops"]; present {
		ops, ok := v.([]any)
		if !ok || !containsString(ops, "verify") {
			return nil, errors.New("key_ops lacks verify")
		}
	}
	if v, present := obj["alg"]; present {
		s, ok := v.(string)
		if !ok || lookupAlg(s) == nil {
			return nil, errors.New("alg not allowed")
		}
		k.alg = s
	}
	kty, _ := obj["kty"].(string)
	switch kty {
	case "RSA":
		pub, err := parseRSAJWK(obj)
		if err != nil {
			return nil, err
		}
		if k.alg != "" && lookupAlg(k.alg).kind != kindRSA {
			return nil, errors.New("alg does not match kty")
		}
		k.rsa = pub
	case "EC":
		pub, err := parseECJWK(obj)
		if err != nil {
			return nil, err
		}
		if k.alg != "" && lookupAlg(k.alg).curve != pub.Curve {
			return nil, errors.New("alg does not match crv")
		}
		k.ec = pub
	default:
		return nil, errors.New("unsupported kty")
	}
	return k, nil
}

func parseRSAJWK(obj map[string]any) (*rsa.PublicKey, error) {
	nb, err := b64Member(obj, "n")
	if err != nil {
		return nil, err
	}
	eb, err := b64Member(obj, "e")
	if err != nil {
		return nil, err
	}
	n := new(big.Int).SetBytes(nb)
	if bits := n.BitLen(); bits < minRSABits || bits > maxRSABits {
		return nil, fmt.Errorf("RSA modulus of %d bits", bits)
	}
	if len(eb) == 0 || len(eb) > 4 {
		return nil, errors.New("RSA exponent size")
	}
	var e uint64
	for _, b := range eb {
		e = e<<8 | uint64(b)
	}
	// e odd, 3 ≤ e < 2^31 (e=1 makes every "signature" verify).
	if e < 3 || e >= 1<<31 || e%2 == 0 {
		return nil, fmt.Errorf("RSA exponent %d", e)
	}
	return &rsa.PublicKey{N: n, E: int(e)}, nil
}

func parseECJWK(obj map[string]any) (*ecdsa.PublicKey, error) {
	crv, _ := obj["crv"].(string)
	var curve elliptic.Curve
	var size int
	switch crv {
	case "P-256":
		curve, size = elliptic.P256(), 32
	case "P-384":
		curve, size = elliptic.P384(), 48
	case "P-521":
		curve, size = elliptic.P521(), 66
	default:
		return nil, errors.New("unsupported crv")
	}
	x, err := b64Member(obj, "x")
	if err != nil {
		return nil, err
	}
	y, err := b64Member(obj, "y")
	if err != nil {
		return nil, err
	}
	if len(x) != size || len(y) != size {
		return nil, errors.New("EC coordinate size")
	}
	point := make([]byte, 0, 1+2*size)
	point = append(point, 4)
	point = append(point, x...)
	point = append(point, y...)
	// ParseUncompressedPublicKey refuses points not on the curve (invalid-curve attacks).
	pub, err := ecdsa.ParseUncompressedPublicKey(curve, point)
	if err != nil {
		return nil, err
	}
	return pub, nil
}

func b64Member(obj map[string]any, name string) ([]byte, error) {
	s, ok := obj[name].(string)
	if !ok || s == "" {
		return nil, fmt.Errorf("%s missing", name)
	}
	return decodeB64(s)
}

func containsString(a []any, s string) bool {
	for _, v := range a {
		if v == s {
			return true
		}
	}
	return false
}
