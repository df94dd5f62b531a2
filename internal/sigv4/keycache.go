package sigv4

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"sync"
)

// KeyCache holds derived signing keys. A signing key depends only on the secret, the scope date,
// region and service, so one derivation (four HMACs) serves a credential all day. Entries are
// keyed by a SHA-256 of the secret, never the secret itself, and the cache is bounded: when full,
// an arbitrary entry is evicted (Go map iteration order), which needs no bookkeeping and cannot be
// steered into unbounded growth by requests. Safe for concurrent use; the zero value is not usable.
type KeyCache struct {
	mu  sync.Mutex
	max int
	m   map[keyCacheKey][sha256.Size]byte
}

type keyCacheKey struct {
	secret  [sha256.Size]byte
	date    string
	region  string
	service string
}

// NewKeyCache returns a cache of at most max signing keys (max < 1 means 1).
func NewKeyCache(max int) *KeyCache {
	if max < 1 {
		max = 1
	}
	return &KeyCache{max: max, m: make(map[keyCacheKey][sha256.Size]byte)}
}

// Len reports the number of cached keys.
func (c *KeyCache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}

func (c *KeyCache) get(secret, date, region, service string) [sha256.Size]byte {
	k := keyCacheKey{secret: sumString(secret), date: date, region: region, service: service}
	c.mu.Lock()
	key, ok := c.m[k]
	c.mu.Unlock()
	if ok {
		return key
	}
	key = deriveSigningKey(secret, date, region, service)
	c.mu.Lock()
	if len(c.m) >= c.max {
		for old := range c.m {
			delete(c.m, old)
			break
		}
	}
	c.m[k] = key
	c.mu.Unlock()
	return key
}

// sumString is SHA-256 of s; secrets of the usual length (40 characters)
// are hashed from a stack copy, where []byte(s) would allocate.
func sumString(s string) [sha256.Size]byte {
	var buf [64]byte
	if len(s) <= len(buf) {
		return sha256.Sum256(buf[:copy(buf[:], s)])
	}
	return sha256.Sum256([]byte(s))
}

// deriveSigningKey is the SigV4 HMAC chain:
// kDate = HMAC("AWS4"+secret, date), kRegion, kService, kSigning = HMAC(kService, "aws4_request").
func deriveSigningKey(secret, date, region, service string) [sha256.Size]byte {
	k := hmacSHA256([]byte("AWS4"+secret), date)
	k = hmacSHA256(k, region)
	k = hmacSHA256(k, service)
	k = hmacSHA256(k, terminator)
	return [sha256.Size]byte(k)
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

// hmacSHA256Sum is HMAC-SHA256(key, msg) (RFC 2104) computed in stack buffers: crypto/hmac
// allocates two hash states and two pads per call, which showed on every signed request. The
// message is the string to sign, bounded by maxStackStringToSign; a longer one (which the
// parsers do not let through) takes crypto/hmac.
func hmacSHA256Sum(key [sha256.Size]byte, msg []byte) [sha256.Size]byte {
	const blockSize = 64 // SHA-256's; a 32-byte key is zero-padded to it
	if len(msg) > maxStackStringToSign {
		// Copies: what crypto/hmac is given escapes, and only this path should allocate.
		k := key
		m := hmac.New(sha256.New, k[:])
		m.Write(bytes.Clone(msg))
		return [sha256.Size]byte(m.Sum(nil))
	}
	var inner [blockSize + maxStackStringToSign]byte
	for i := range blockSize {
		inner[i] = 0x36
	}
	for i, b := range key {
		inner[i] ^= b
	}
	n := copy(inner[blockSize:], msg)
	innerSum := sha256.Sum256(inner[:blockSize+n])
	var outer [blockSize + sha256.Size]byte
	for i := range blockSize {
		outer[i] = 0x5c
	}
	for i, b := range key {
		outer[i] ^= b
	}
	copy(outer[blockSize:], innerSum[:])
	return sha256.Sum256(outer[:])
}
