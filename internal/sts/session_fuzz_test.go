package sts

import (
	"encoding/base64"
	"encoding/binary"
	"reflect"
	"testing"
	"time"
)

// FuzzOpenSessionToken attacks both layers of Open. The token string goes
// to Open as a client would send it: it must be refused (or, for a seed
// that is a real token, accepted) without panicking. The payload bytes are
// sealed under the test key, as if the AEAD had been broken or our own
// encoder had a bug, so the decoder behind the authentication check is
// fuzzed too: whatever it accepts must survive re-encoding unchanged.
func FuzzOpenSessionToken(f *testing.F) {
	ring := testRing(f, testKey(1, "m"))
	k := ring.current
	const akid = "ASIAAAAAAAAAAAAAAAAA"
	sealPayload := func(payload []byte) string {
		buf := make([]byte, tokenHeaderLen)
		copy(buf, tokenMagic[:])
		buf[3] = tokenVersion
		binary.BigEndian.PutUint32(buf[4:8], k.generation)
		sealed := k.aead.Seal(buf, buf[8:tokenHeaderLen], payload, associatedData(buf[:tokenHeaderLen], akid))
		return base64.StdEncoding.EncodeToString(sealed)
	}
	for _, s := range []Session{webSession(), fullSession(), {IssuedAt: t0, Expiration: t0.Add(time.Hour)}} {
		c, err := ring.Seal(s)
		if err != nil {
			f.Fatal(err)
		}
		payload, _ := encodePayload(nil, &s)
		f.Add(c.SessionToken, payload)
	}
	f.Add("", []byte{})
	f.Add("b2Z0AQAAAAE=", []byte{1, 0, 0})
	f.Add("!!!!", []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, token string, payload []byte) {
		now := t0.Add(time.Minute)
		if s, err := ring.Open(akid, token, now); err == nil && s == nil {
			t.Fatal("nil session without error")
		}

		s, err := ring.Open(akid, sealPayload(payload), now)
		if err != nil {
			return
		}
		if s.SecretAccessKey == "" || s.AccessKeyID != akid {
			t.Fatalf("credentials not filled: %+v", s)
		}
		again := *s
		again.AccessKeyID, again.SecretAccessKey, again.KeyGeneration = "", "", 0
		re, err := encodePayload(nil, &again)
		if err != nil {
			if len(again.Policy) > maxPolicyBytes {
				t.Fatalf("decoder accepted a %d-byte policy", len(again.Policy))
			}
			return // e.g. lifetime beyond the year 1<<40 bound of re-encoding
		}
		back, err := decodePayload(re)
		if err != nil {
			t.Fatalf("re-encoded payload does not decode: %v", err)
		}
		back.AccessKeyID, back.SecretAccessKey, back.KeyGeneration = s.AccessKeyID, s.SecretAccessKey, s.KeyGeneration
		if !reflect.DeepEqual(back, s) {
			t.Fatalf("re-encoding changed the session:\n%+v\n%+v", back, s)
		}
	})
}
