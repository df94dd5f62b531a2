package sts

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/oidcfed/oidcfed/internal/awsproto"
)

// Credentials are temporary credentials as STS returns them.
type Credentials struct {
	AccessKeyID     string // ASIA + 16 characters of base32 (A-Z, 2-7), as AWS's
	SecretAccessKey string // 40 characters of standard base64, as AWS's
	SessionToken    string // base64 of the sealed session
	Expiration      time.Time
}

// MaxSessionTokenLength bounds the session tokens Seal makes and Open
// reads. A usual token is about 500 characters; this leaves room for a
// full 2,048-character policy, ten policy ARNs and a set of tags, while
// staying inside the 8 KB header line of common proxies (nginx's default
// large_client_header_buffers) once sent as X-Amz-Security-Token. AWS says
// only "make no assumptions about the maximum size" [model doc].
const MaxSessionTokenLength = 6144

// SessionKeySize is the size of a session key's secret.
const SessionKeySize = 32

// SessionKey is one generation of the key that seals session tokens.
type SessionKey struct {
	Generation uint32
	Secret     []byte // SessionKeySize bytes, from DeriveSessionKey in production
}

// SessionKeyInfo is the HKDF info that derives generation's session key
// from the master key.
func SessionKeyInfo(generation uint32) string {
	return "oidcfed sts session key v1 " + strconv.FormatUint(uint64(generation), 10)
}

// DeriveSessionKey derives generation's session key with derive, which is
// (*keys.MasterKey).DeriveKey in production: this package never sees the
// master key itself.
func DeriveSessionKey(derive func(info string) []byte, generation uint32) SessionKey {
	return SessionKey{Generation: generation, Secret: derive(SessionKeyInfo(generation))}
}

// SessionKeyring seals under its current session key and opens tokens
// sealed under any of its keys. Holding the previous generation as well
// lets a rotation leave live sessions working: rotate no more often than
// the longest session (12 hours), and drop a generation only once every
// token it sealed has expired.
type SessionKeyring struct {
	current *sessionKey
	keys    []*sessionKey
	opened  *openedTokens // tokens already opened (opened.go)
}

// sessionKey holds the two keys one generation's secret expands to: the
// AEAD key for tokens and the PRF key that derives secret access keys.
type sessionKey struct {
	generation uint32
	aead       cipher.AEAD
	secretPRF  cipher.Block
}

func newSessionKey(k SessionKey) (*sessionKey, error) {
	if len(k.Secret) != SessionKeySize {
		return nil, fmt.Errorf("session key generation %d: %d bytes, want %d", k.Generation, len(k.Secret), SessionKeySize)
	}
	// The secret is already uniform (HKDF output): Expand alone separates
	// the two uses.
	aeadKey, err := hkdf.Expand(sha256.New, k.Secret, "oidcfed sts session token aead", 32)
	if err != nil {
		return nil, err
	}
	prfKey, err := hkdf.Expand(sha256.New, k.Secret, "oidcfed sts secret access key", 32)
	if err != nil {
		return nil, err
	}
	prf, err := aes.NewCipher(prfKey)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(aeadKey)
	if err != nil {
		return nil, err
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &sessionKey{generation: k.Generation, aead: gcm, secretPRF: prf}, nil
}

// NewSessionKeyring seals under current and also opens tokens sealed under
// the older keys.
func NewSessionKeyring(current SessionKey, older ...SessionKey) (*SessionKeyring, error) {
	ring := &SessionKeyring{opened: newOpenedTokens(maxOpenedTokenBytes)}
	for i, k := range append([]SessionKey{current}, older...) {
		for _, have := range ring.keys {
			if have.generation == k.Generation {
				return nil, fmt.Errorf("session key generation %d given twice", k.Generation)
			}
		}
		sk, err := newSessionKey(k)
		if err != nil {
			return nil, err
		}
		if i == 0 {
			ring.current = sk
		}
		ring.keys = append(ring.keys, sk)
	}
	return ring, nil
}

// CurrentGeneration is the generation new tokens are sealed under.
func (r *SessionKeyring) CurrentGeneration() uint32 { return r.current.generation }

// Token layout: header | AEAD(payload) with the header and the access key
// id as associated data. Binding the access key id there means a token
// presented with any other access key id fails authentication, so the id
// need not travel inside the token.
//
//	magic       3 bytes   "oft": base64 turns it into the prefix "b2Z0"
//	version     1 byte    1
//	generation  4 bytes   big-endian session-key generation
//	nonce       12 bytes  random
const (
	tokenVersion   = 1
	tokenHeaderLen = 3 + 1 + 4 + 12
	accessKeyIDLen = 20
)

var tokenMagic = [3]byte{'o', 'f', 't'}

// accessKeyEncoding is the RFC 4648 base32 alphabet (A-Z, 2-7) AWS's
// access key ids are drawn from; 10 random bytes make exactly 16 characters.
var accessKeyEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// Errors of Seal and Open. Open's errors are *TokenError values wrapping
// ErrInvalidToken or ErrExpiredToken.
var (
	// ErrInvalidToken: malformed, forged, tampered, sealed under an unknown
	// key, or presented with another access key id. AWS answers all alike:
	// InvalidClientTokenId.
	ErrInvalidToken = errors.New("invalid session token")
	// ErrExpiredToken: authentic but past its Expiration: ExpiredToken.
	ErrExpiredToken = errors.New("expired session token")
	// ErrSessionTooLarge: the session does not fit MaxSessionTokenLength
	// (or its policy is over 4,096 bytes). STS handlers check AWS's own
	// limits first; PackedPolicyTooLarge is the nearest AWS answer.
	ErrSessionTooLarge = errors.New("session too large for a session token")
)

// TokenError says why Open refused a token: Err is the class clients see,
// Reason the detail for logs only (clients must not learn which check
// failed).
type TokenError struct {
	Err    error // ErrInvalidToken or ErrExpiredToken
	Reason string
}

func (e *TokenError) Error() string { return e.Err.Error() + ": " + e.Reason }

func (e *TokenError) Unwrap() error { return e.Err }

// APIError is the error as STS and IAM put it on the wire.
func (e *TokenError) APIError() *awsproto.Error {
	if errors.Is(e.Err, ErrExpiredToken) {
		return awsproto.ExpiredToken()
	}
	return awsproto.InvalidClientTokenID()
}

func invalid(reason string) error { return &TokenError{Err: ErrInvalidToken, Reason: reason} }

// Seal issues credentials for s: a fresh access key id, the secret access
// key derived from it, and s sealed into the session token. The access key
// and secret fields of s are ignored; IssuedAt and Expiration are the
// caller's (from its clock), truncated to the second.
//
// The secret is derived, not sealed: secret = base64(PRF_K(access key
// id)[:30]) under the generation's secret key K (see secretFor). The
// server recomputes it from the access key id whenever it verifies a
// signature, so the token stays 30 bytes shorter and never holds the secret
// in any form, and the secret is tied to the one access key id it was
// issued with.
func (r *SessionKeyring) Seal(s Session) (Credentials, error) {
	k := r.current
	var id [10]byte
	_, _ = rand.Read(id[:]) // crypto/rand.Read never fails (Go 1.24+)
	akid := "ASIA" + accessKeyEncoding.EncodeToString(id[:])

	plain, err := encodePayload(nil, &s)
	if err != nil {
		return Credentials{}, err
	}
	size := tokenHeaderLen + len(plain) + k.aead.Overhead()
	if base64.StdEncoding.EncodedLen(size) > MaxSessionTokenLength {
		return Credentials{}, ErrSessionTooLarge
	}
	buf := make([]byte, tokenHeaderLen, size)
	copy(buf, tokenMagic[:])
	buf[3] = tokenVersion
	binary.BigEndian.PutUint32(buf[4:8], k.generation)
	_, _ = rand.Read(buf[8:tokenHeaderLen])
	header := buf[:tokenHeaderLen]
	sealed := k.aead.Seal(buf, header[8:], plain, associatedData(header, akid))
	return Credentials{
		AccessKeyID:     akid,
		SecretAccessKey: k.secretFor(id),
		SessionToken:    base64.StdEncoding.EncodeToString(sealed),
		Expiration:      time.Unix(s.Expiration.Unix(), 0).UTC(),
	}, nil
}

// Open verifies a session token presented with accessKeyID and returns its
// session, with AccessKeyID, SecretAccessKey (for the SigV4 check) and
// KeyGeneration filled in. Expiry is checked against now on every call: a
// session is never valid at or after its Expiration.
func (r *SessionKeyring) Open(accessKeyID, sessionToken string, now time.Time) (*Session, error) {
	shared, secret, _, err := r.open(accessKeyID, sessionToken, now)
	if err != nil {
		return nil, err
	}
	s := *shared // the caller's own, to hold the secret
	s.SecretAccessKey = secret
	return &s, nil
}

// open is Open for authenticating requests. The session it returns has
// AccessKeyID and KeyGeneration filled in but not the secret, which comes
// apart (for the signature check only); when the token is cached it is the
// cached session itself, shared by the session's requests, and must not be
// modified. The token's cache entry comes too (nil when it is not cached),
// with what the session's later requests can reuse.
func (r *SessionKeyring) open(accessKeyID, sessionToken string, now time.Time) (s *Session, secret string, o *openedToken, err error) {
	if o := r.opened.get(sessionToken); o != nil && o.accessKeyID == accessKeyID {
		// This exact token was authentic for this access key id (opened.go),
		// which passed the checks below then; only the clock can have
		// changed the answer.
		if !now.Before(o.session.Expiration) {
			r.opened.drop(sessionToken, o)
			return nil, "", nil, expiredToken(o.session.Expiration)
		}
		return &o.session, o.key.secretFor(o.id), o, nil
	}
	id, ok := parseAccessKeyID(accessKeyID)
	if !ok {
		return nil, "", nil, invalid("access key id is not an ASIA id")
	}
	if len(sessionToken) > MaxSessionTokenLength {
		return nil, "", nil, invalid("token longer than " + strconv.Itoa(MaxSessionTokenLength))
	}
	// The decoder skips CR and LF; refusing them keeps one token, one
	// spelling.
	raw, err := base64.StdEncoding.Strict().DecodeString(sessionToken)
	if err != nil || strings.ContainsAny(sessionToken, "\r\n") {
		return nil, "", nil, invalid("token is not base64")
	}
	if len(raw) < tokenHeaderLen+16 || [3]byte(raw[:3]) != tokenMagic || raw[3] != tokenVersion {
		return nil, "", nil, invalid("not an oidcfed session token")
	}
	gen := binary.BigEndian.Uint32(raw[4:8])
	k := r.key(gen)
	if k == nil {
		return nil, "", nil, invalid("sealed under unknown session key generation " + strconv.FormatUint(uint64(gen), 10))
	}
	header := raw[:tokenHeaderLen]
	plain, err := k.aead.Open(raw[tokenHeaderLen:tokenHeaderLen], header[8:], raw[tokenHeaderLen:], associatedData(header, accessKeyID))
	if err != nil {
		return nil, "", nil, invalid("authentication failed: forged or tampered token, or another access key id")
	}
	s, err = decodePayload(plain)
	if err != nil {
		return nil, "", nil, invalid("authentic token with a malformed payload")
	}
	if !now.Before(s.Expiration) {
		return nil, "", nil, expiredToken(s.Expiration)
	}
	s.AccessKeyID = accessKeyID
	s.KeyGeneration = k.generation
	if o = r.opened.put(sessionToken, accessKeyID, id, k, s, len(plain), now); o != nil {
		s = &o.session
	}
	return s, k.secretFor(id), o, nil
}

func expiredToken(expiration time.Time) error {
	return &TokenError{Err: ErrExpiredToken, Reason: "expired at " + expiration.Format(time.RFC3339)}
}

func (r *SessionKeyring) key(gen uint32) *sessionKey {
	for _, k := range r.keys {
		if k.generation == gen {
			return k
		}
	}
	return nil
}

// secretFor derives the secret access key of accessKeyID: AES-256 under the
// generation's secret key, used as a PRF on two blocks that differ only in
// a counter byte, each holding the access key id's 10 random bytes. Two AES
// blocks cost tens of nanoseconds where an HMAC costs a microsecond, and
// every signed request pays for one.
func (k *sessionKey) secretFor(id [10]byte) string {
	// Encrypted in place: the block escapes through the cipher.Block
	// interface, so one buffer is one allocation instead of two.
	var b [32]byte
	b[0], b[16] = 1, 2
	copy(b[1:], id[:])
	copy(b[17:], id[:])
	k.secretPRF.Encrypt(b[:16], b[:16])
	k.secretPRF.Encrypt(b[16:], b[16:])
	return base64.StdEncoding.EncodeToString(b[:30])
}

func associatedData(header []byte, accessKeyID string) []byte {
	ad := make([]byte, 0, len(header)+len(accessKeyID))
	return append(append(ad, header...), accessKeyID...)
}

// parseAccessKeyID accepts what Seal makes, ASIA and 16 base32 characters,
// and returns the 10 random bytes they encode.
func parseAccessKeyID(s string) (id [10]byte, ok bool) {
	if len(s) != accessKeyIDLen || s[:4] != "ASIA" {
		return id, false
	}
	for i := 4; i < len(s); i++ {
		if c := s[i]; (c < 'A' || c > 'Z') && (c < '2' || c > '7') {
			return id, false
		}
	}
	// 16 characters of the alphabet are exactly 80 bits: this cannot fail.
	n, err := accessKeyEncoding.Decode(id[:], []byte(s[4:]))
	return id, err == nil && n == len(id)
}
