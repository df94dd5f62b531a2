package ecr

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"time"
)

// Authorization tokens: the registry password GetAuthorizationToken hands
// out (base64("AWS:" + password) in authorizationToken). The password is
// stateless: the caller it stands for (sts.MarshalCaller's encoding) and
// its expiry, sealed with AES-256-GCM under a key derived from the master
// key, so any replica holding the master key can check it and nothing is
// stored per token. It is base64url without padding: no ':' (aws ecr
// get-login-password splits the token on ':') and nothing docker, crane
// or a shell would mangle.

// TokenKeyInfo names the derived key that seals registry passwords.
const TokenKeyInfo = "oidcfed ecr authorization token v1"

// TokenLifetime is how long a registry password is valid, as on ECR (at
// most: never past the expiry of the credentials that obtained it).
const TokenLifetime = 12 * time.Hour

// MaxPasswordLength bounds the passwords Open reads. A session with a
// full session policy and tags makes about 6 KB; anything longer is not
// one of ours.
const MaxPasswordLength = 10 << 10

const tokenVersion = 1

// Errors of Open. Clients are told only that a password is expired or not
// valid; which check failed is for the log.
var (
	ErrTokenInvalid = errors.New("invalid registry password")
	ErrTokenExpired = errors.New("expired registry password")
)

// Tokens seals and opens registry passwords.
type Tokens struct {
	aead    cipher.AEAD
	account string
}

// NewTokens returns a sealer under key (32 bytes, derived with
// TokenKeyInfo); passwords are bound to account.
func NewTokens(key []byte, account string) (*Tokens, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Tokens{aead: aead, account: account}, nil
}

// header: version (1 byte) | expiry (8 bytes, big-endian Unix seconds) |
// nonce (12 bytes); the version and expiry are authenticated as
// associated data with the account.
const tokenHeaderLen = 1 + 8 + 12

func (t *Tokens) aad(header []byte) []byte {
	return append([]byte(TokenKeyInfo+"|"+t.account+"|"), header[:9]...)
}

// Seal makes a password standing for caller until expires.
func (t *Tokens) Seal(caller []byte, expires time.Time) (string, error) {
	if expires.Unix() <= 0 {
		return "", errors.New("password expiry not set")
	}
	buf := make([]byte, tokenHeaderLen, tokenHeaderLen+len(caller)+t.aead.Overhead())
	buf[0] = tokenVersion
	binary.BigEndian.PutUint64(buf[1:9], uint64(expires.Unix()))
	_, _ = rand.Read(buf[9:tokenHeaderLen]) // crypto/rand.Read never fails (Go 1.24+)
	buf = t.aead.Seal(buf, buf[9:tokenHeaderLen], caller, t.aad(buf))
	out := base64.RawURLEncoding.EncodeToString(buf)
	if len(out) > MaxPasswordLength {
		return "", errors.New("caller too large for a registry password")
	}
	return out, nil
}

// Open checks a password and returns the caller it stands for and when it
// expires. Errors wrap ErrTokenInvalid or ErrTokenExpired.
func (t *Tokens) Open(password string, now time.Time) (caller []byte, expires time.Time, err error) {
	if len(password) > MaxPasswordLength {
		return nil, time.Time{}, errors.Join(ErrTokenInvalid, errors.New("too long"))
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(password)
	if err != nil {
		return nil, time.Time{}, errors.Join(ErrTokenInvalid, errors.New("not base64url"))
	}
	if len(raw) < tokenHeaderLen+t.aead.Overhead() || raw[0] != tokenVersion {
		return nil, time.Time{}, errors.Join(ErrTokenInvalid, errors.New("not an oidcfed registry password"))
	}
	caller, err = t.aead.Open(nil, raw[9:tokenHeaderLen], raw[tokenHeaderLen:], t.aad(raw))
	if err != nil {
		return nil, time.Time{}, errors.Join(ErrTokenInvalid, errors.New("forged, tampered, another account's or sealed under another master key"))
	}
	exp := binary.BigEndian.Uint64(raw[1:9])
	if exp > 1<<40 {
		return nil, time.Time{}, errors.Join(ErrTokenInvalid, errors.New("expiry out of range"))
	}
	expires = time.Unix(int64(exp), 0).UTC()
	if !now.Before(expires) {
		return nil, expires, errors.Join(ErrTokenExpired, errors.New("expired at "+expires.Format(time.RFC3339)))
	}
	return caller, expires, nil
}
