package federation

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzDecodeJWS: the decoder never panics, stays bounded, and anything it accepts is
// canonical — re-encoding its parts gives back the token byte for byte — with an allowed
// algorithm, no refused header, and JSON that encoding/json also calls valid.
// Seeds live in testdata/fuzz/FuzzDecodeJWS. Run: go test -fuzz FuzzDecodeJWS -fuzztime 60s
func FuzzDecodeJWS(f *testing.F) {
	f.Add("eyJhbGciOiJSUzI1NiIsImtpZCI6ImsifQ.eyJzdWIiOiJ4In0.AAAA")
	f.Fuzz(func(t *testing.T, token string) {
		j, terr := decodeJWS(token)
		if terr != nil {
			if j != nil {
				t.Fatal("both a result and an error")
			}
			if terr.Code != InvalidIdentityToken && terr.Code != ValidationError {
				t.Fatalf("decode error with code %s", terr.Code)
			}
			return
		}
		if len(token) > MaxTokenLength {
			t.Fatal("accepted an over-long token")
		}
		parts := strings.Split(token, ".")
		if len(parts) != 3 {
			t.Fatalf("accepted %d segments", len(parts))
		}
		for _, p := range parts {
			raw, err := base64.RawURLEncoding.Strict().DecodeString(p)
			if err != nil || base64.RawURLEncoding.EncodeToString(raw) != p {
				t.Fatalf("accepted non-canonical segment %q", p)
			}
		}
		hdr, _ := base64.RawURLEncoding.DecodeString(parts[0])
		payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
		for _, doc := range [][]byte{hdr, payload} {
			if !json.Valid(doc) || !utf8.Valid(doc) {
				t.Fatalf("accepted invalid JSON %q", doc)
			}
		}
		if lookupAlg(j.alg.name) == nil {
			t.Fatalf("accepted alg %q", j.alg.name)
		}
		for _, name := range headerRefused {
			if _, ok := j.header[name]; ok {
				t.Fatalf("accepted header %q", name)
			}
		}
		if string(j.signingInput) != parts[0]+"."+parts[1] {
			t.Fatal("signing input is not the received text")
		}
		if j.alg.kind == kindEC && len(j.signature) != 2*j.alg.size {
			t.Fatal("accepted an ECDSA signature of the wrong size")
		}
	})
}

// FuzzParseJSONObject: the strict reader accepts only what encoding/json accepts, and
// never two names that are equal or case variants of each other.
func FuzzParseJSONObject(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":1}`, `{"a":1,"A":2}`, `{"ſ":1,"S":2}`, `{"a":[{"b":null}],"c":"\ud83d\ude00"}`, `{"a":"\ud800"}`, `{"n":-0.5e+10}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := parseJSONObject(s)
		if err != nil {
			return
		}
		if !json.Valid([]byte(s)) || !utf8.ValidString(s) {
			t.Fatalf("accepted invalid JSON %q", s)
		}
		seen := map[string]string{}
		for k := range m {
			f := foldName(k)
			if prev, dup := seen[f]; dup {
				t.Fatalf("accepted case variants %q and %q", prev, k)
			}
			seen[f] = k
			if !utf8.ValidString(k) {
				t.Fatalf("invalid UTF-8 name %q", k)
			}
		}
		for k := range m {
			for k2 := range m {
				if k != k2 && strings.EqualFold(k, k2) {
					t.Fatalf("accepted EqualFold names %q and %q", k, k2)
				}
			}
		}
	})
}
