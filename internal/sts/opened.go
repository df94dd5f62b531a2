package sts

import (
	"sync"
	"sync/atomic"
	"time"
)

// openedTokens remembers session tokens that have been opened, so that a
// session signing request after request (a CI job's cosign, a deploy
// script) is authenticated and decrypted once rather than on every
// request: base64, AES-GCM and the payload decoding were a tenth of a KMS
// Sign's overhead.
//
// Why this is safe:
//   - An entry is made only after the full Open succeeded: the token was
//     authentic (AEAD) for exactly the access key id it is stored with.
//     Forged tokens never enter, so only holders of real tokens can
//     compete for room.
//   - A hit requires the very same token string and the same access key
//     id; anything else goes the full way (and fails as before).
//   - Expiry is checked against the caller's clock on every hit, exactly
//     as Open does; an expired entry is dropped when met, and each
//     insertion looks at a few entries (Go map order is random) and drops
//     the expired ones, so dead tokens do not pile up.
//   - No secret is held: the secret access key is derived again from the
//     access key id on every use (two AES blocks), and the token itself is
//     what the client sends with every request, useless without the
//     secret.
//   - The keyring's keys never change after construction, so an entry can
//     never outlive the key that opened it.
//   - It is bounded by bytes (an estimate of each entry's memory), and a
//     full cache evicts arbitrary entries (Go map order): no bookkeeping,
//     constant work per insertion, and no input grows it past the bound.
//
// Cached sessions are shared and must not be modified: Open hands out a
// copy of the struct, the request authentication (open) the cached struct
// itself, which no one writes to, and their slices are never written to
// (appends reallocate: decodePayload makes them with len == cap).
type openedTokens struct {
	mu       sync.RWMutex
	m        map[string]*openedToken // by token
	bytes    int
	maxBytes int
}

type openedToken struct {
	accessKeyID string
	id          [10]byte // the access key id's random bytes
	key         *sessionKey
	session     Session // SecretAccessKey empty; shared by the session's requests, never modified
	size        int

	// principal is the session's, built at its first use (principal.go).
	principal atomic.Pointer[principal]
}

// maxOpenedTokenBytes bounds the cache: about 1,000 usual web-identity
// sessions (a ~650-character token and its ~400-byte payload), or 140
// sessions of the largest token.
const maxOpenedTokenBytes = 2 << 20

// openedTokenOverhead is an entry's fixed cost: its struct, map slot and
// the principal's slice headers.
const openedTokenOverhead = 512

// expiredLookPerPut is how many entries an insertion checks for expiry.
const expiredLookPerPut = 8

func newOpenedTokens(maxBytes int) *openedTokens {
	return &openedTokens{m: make(map[string]*openedToken), maxBytes: maxBytes}
}

func (c *openedTokens) get(token string) *openedToken {
	c.mu.RLock()
	o := c.m[token]
	c.mu.RUnlock()
	return o
}

// put remembers an opened session and returns its entry (nil if it is
// too large to keep); s itself is not kept.
func (c *openedTokens) put(token, accessKeyID string, id [10]byte, k *sessionKey, s *Session, payloadBytes int, now time.Time) *openedToken {
	// The entry's memory, estimated: the token, the decoded session (about
	// the payload's size), the principal built from it later (about as
	// much again) and fixed overhead.
	size := len(token) + 2*payloadBytes + openedTokenOverhead
	if size > c.maxBytes {
		return nil
	}
	o := &openedToken{accessKeyID: accessKeyID, id: id, key: k, session: *s, size: size}
	o.session.SecretAccessKey = "" // never kept: derived again at each use
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.m[token]; ok {
		c.bytes -= old.size
		delete(c.m, token)
	}
	looked := 0
	for t, e := range c.m {
		if looked++; looked > expiredLookPerPut {
			break
		}
		if !now.Before(e.session.Expiration) {
			c.bytes -= e.size
			delete(c.m, t)
		}
	}
	for t, e := range c.m {
		if c.bytes+size <= c.maxBytes {
			break
		}
		c.bytes -= e.size
		delete(c.m, t)
	}
	c.m[token] = o
	c.bytes += size
	return o
}

// drop forgets token if it still maps to o.
func (c *openedTokens) drop(token string, o *openedToken) {
	c.mu.Lock()
	if c.m[token] == o {
		c.bytes -= o.size
		delete(c.m, token)
	}
	c.mu.Unlock()
}
