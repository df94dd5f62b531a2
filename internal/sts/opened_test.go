package sts

import (
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"
)

// A token opened once is answered from the cache with the same session,
// and with the same refusals: the clock, the access key id and the token
// are checked as on the full path.
func TestOpenFromCache(t *testing.T) {
	ring := testRing(t, testKey(1, "m"))
	c, err := ring.Seal(fullSession())
	if err != nil {
		t.Fatal(err)
	}
	other, _ := ring.Seal(fullSession())
	now := t0.Add(time.Minute)
	first, err := ring.Open(c.AccessKeyID, c.SessionToken, now)
	if err != nil {
		t.Fatal(err)
	}
	if ring.opened.get(c.SessionToken) == nil {
		t.Fatal("an opened token is not cached")
	}
	if o := ring.opened.get(c.SessionToken); o.session.SecretAccessKey != "" {
		t.Fatal("the cache holds the secret access key")
	}
	second, err := ring.Open(c.AccessKeyID, c.SessionToken, now)
	if err != nil {
		t.Fatal(err)
	}
	if first == second || !reflect.DeepEqual(first, second) || second.SecretAccessKey != c.SecretAccessKey {
		t.Fatalf("cached open\n%+v\nfirst\n%+v", second, first)
	}
	// A caller changing its copy changes nobody else's.
	second.RoleARN, second.SecretAccessKey = "changed", "changed"
	if third, _ := ring.Open(c.AccessKeyID, c.SessionToken, now); !reflect.DeepEqual(first, third) {
		t.Fatalf("a caller's change reached the cache: %+v", third)
	}

	// The token with another session's access key id: refused as before,
	// and the entry stays for its own key.
	if s, err := ring.Open(other.AccessKeyID, c.SessionToken, now); s != nil || !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("another access key id: %v, %v", s, err)
	}
	if _, err := ring.Open(c.AccessKeyID, c.SessionToken, now); err != nil {
		t.Fatal(err)
	}

	// Expiry is exact: the last nanosecond opens, Expiration does not, and
	// the expired entry is gone.
	if _, err := ring.Open(c.AccessKeyID, c.SessionToken, t0.Add(time.Hour-time.Nanosecond)); err != nil {
		t.Fatalf("last valid nanosecond: %v", err)
	}
	s, err := ring.Open(c.AccessKeyID, c.SessionToken, t0.Add(time.Hour))
	var te *TokenError
	if s != nil || !errors.Is(err, ErrExpiredToken) || !errors.As(err, &te) || te.Reason == "" {
		t.Fatalf("at Expiration: %v, %v", s, err)
	}
	if ring.opened.get(c.SessionToken) != nil {
		t.Fatal("an expired token stays cached")
	}
	// An earlier clock (another replica's skew) still opens it afresh.
	if _, err := ring.Open(c.AccessKeyID, c.SessionToken, now); err != nil {
		t.Fatal(err)
	}
}

// Refused tokens never enter the cache.
func TestOpenCachesOnlyOpenedTokens(t *testing.T) {
	ring := testRing(t, testKey(1, "m"))
	c, _ := ring.Seal(webSession())
	if _, err := ring.Open(c.AccessKeyID, c.SessionToken, t0.Add(2*time.Hour)); !errors.Is(err, ErrExpiredToken) {
		t.Fatal(err)
	}
	if _, err := ring.Open(c.AccessKeyID, mutate(c.SessionToken, func(b []byte) { b[30] ^= 1 }), t0); !errors.Is(err, ErrInvalidToken) {
		t.Fatal(err)
	}
	if n := len(ring.opened.m); n != 0 {
		t.Fatalf("%d refused tokens cached", n)
	}
}

// The cache stays within its byte bound, evicting as it must.
func TestOpenedTokensBounded(t *testing.T) {
	ring := testRing(t, testKey(1, "m"))
	c, _ := ring.Seal(webSession())
	o, _ := ring.Open(c.AccessKeyID, c.SessionToken, t0)
	k := ring.current
	payload := 400
	token := func(prefix string, i int) string { return fmt.Sprintf("%s%03d", prefix, i) + c.SessionToken[5:] }
	size := newOpenedTokens(1<<20).put(token("x", 0), c.AccessKeyID, [10]byte{}, k, o, payload, t0).size
	if size < len(c.SessionToken)+2*payload {
		t.Fatalf("entry size %d under its token and payload", size)
	}
	cache := newOpenedTokens(10 * size)
	for i := range 25 {
		if cache.put(token("a", i), c.AccessKeyID, [10]byte{}, k, o, payload, t0) == nil || cache.get(token("a", i)) == nil {
			t.Fatalf("entry %d not kept", i)
		}
		if cache.bytes > cache.maxBytes || len(cache.m)*size != cache.bytes {
			t.Fatalf("after %d: %d entries, %d bytes of %d", i+1, len(cache.m), cache.bytes, cache.maxBytes)
		}
	}
	if len(cache.m) != 10 {
		t.Fatalf("%d entries where 10 fit", len(cache.m))
	}
	// The same token again replaces its entry.
	cache.put(token("a", 24), c.AccessKeyID, [10]byte{}, k, o, payload, t0)
	if len(cache.m) != 10 || cache.bytes != 10*size {
		t.Fatalf("%d entries, %d bytes", len(cache.m), cache.bytes)
	}
	// Insertions drop expired entries they come across: two are enough
	// here, each looking at eight.
	later := *o
	later.Expiration = o.Expiration.Add(time.Hour)
	for i := range 2 {
		cache.put(token("b", i), c.AccessKeyID, [10]byte{}, k, &later, payload, o.Expiration)
	}
	if len(cache.m) != 2 || cache.get(token("b", 0)) == nil || cache.get(token("b", 1)) == nil || cache.bytes != 2*size {
		t.Fatalf("%d entries, %d bytes: expired ones left", len(cache.m), cache.bytes)
	}
	// An entry larger than the whole cache is not kept.
	if cache.put("huge", c.AccessKeyID, [10]byte{}, k, o, cache.maxBytes, t0) != nil || cache.get("huge") != nil {
		t.Fatal("an entry over the bound was cached")
	}
}

// Concurrent opens of the same and of different tokens (run with -race).
func TestOpenConcurrent(t *testing.T) {
	ring := testRing(t, testKey(1, "m"))
	var creds []Credentials
	for range 4 {
		c, _ := ring.Seal(fullSession())
		creds = append(creds, c)
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				c := creds[(g+i)%len(creds)]
				s, err := ring.Open(c.AccessKeyID, c.SessionToken, t0.Add(time.Duration(i)*time.Second))
				if err != nil || s.SecretAccessKey != c.SecretAccessKey || len(s.Tags) != 3 {
					t.Errorf("open: %v, %+v", err, s)
					return
				}
			}
		})
	}
	wg.Wait()
}

// Request authentication shares the cached session and hands the secret
// over apart: a Caller's session never holds it.
func TestOpenSharedWithoutSecret(t *testing.T) {
	ring := testRing(t, testKey(1, "m"))
	c, _ := ring.Seal(fullSession())
	now := t0.Add(time.Minute)
	for i := range 2 { // the first open decodes, the second is a cache hit
		s, secret, o, err := ring.open(c.AccessKeyID, c.SessionToken, now)
		if err != nil || o == nil {
			t.Fatalf("open %d: %v", i, err)
		}
		if s != &o.session || s.SecretAccessKey != "" || secret != c.SecretAccessKey {
			t.Fatalf("open %d: shared %v, secret in the session %q, secret %v", i, s == &o.session, s.SecretAccessKey, secret == c.SecretAccessKey)
		}
		if s.AccessKeyID != c.AccessKeyID || s.KeyGeneration != 1 {
			t.Fatalf("open %d: %+v", i, s)
		}
	}
	opened, err := ring.Open(c.AccessKeyID, c.SessionToken, now)
	if err != nil || opened.SecretAccessKey != c.SecretAccessKey || opened == &ring.opened.get(c.SessionToken).session {
		t.Fatalf("Open: %v, %+v", err, opened)
	}
}
