package ecr

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

func testTokens(t testing.TB, account string, fill byte) *Tokens {
	t.Helper()
	tk, err := NewTokens(bytes.Repeat([]byte{fill}, 32), account)
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

func TestTokenRoundTrip(t *testing.T) {
	tk := testTokens(t, "000000000000", 1)
	now := time.Unix(1_800_000_000, 0)
	caller := []byte("the caller, encoded")
	pw, err := tk.Seal(caller, now.Add(TokenLifetime))
	if err != nil {
		t.Fatal(err)
	}
	// aws ecr get-login-password splits base64("AWS:" + pw) on ':'.
	if strings.ContainsAny(pw, ":+/= \n") {
		t.Fatalf("password %q holds a character the clients would mangle", pw)
	}
	got, exp, err := tk.Open(pw, now.Add(time.Hour))
	if err != nil || !bytes.Equal(got, caller) || !exp.Equal(now.Add(TokenLifetime)) {
		t.Fatalf("Open: %q %v %v", got, exp, err)
	}
	other, _ := tk.Seal(caller, now.Add(TokenLifetime))
	if other == pw {
		t.Fatal("two passwords for the same caller are equal: no nonce")
	}
}

func TestTokenRefusals(t *testing.T) {
	tk := testTokens(t, "000000000000", 1)
	now := time.Unix(1_800_000_000, 0)
	pw, err := tk.Seal([]byte("caller"), now.Add(TokenLifetime))
	if err != nil {
		t.Fatal(err)
	}
	flip := func(s string, i int) string {
		b := []byte(s)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}
	for _, tc := range []struct {
		name     string
		tokens   *Tokens
		password string
		at       time.Time
		want     error
	}{
		{"expired", tk, pw, now.Add(TokenLifetime), ErrTokenExpired},
		{"expiry edited", tk, flip(pw, 5), now, ErrTokenInvalid},
		{"ciphertext edited", tk, flip(pw, len(pw)-3), now, ErrTokenInvalid},
		{"another master key", testTokens(t, "000000000000", 2), pw, now, ErrTokenInvalid},
		{"another account", testTokens(t, "111111111111", 1), pw, now, ErrTokenInvalid},
		{"empty", tk, "", now, ErrTokenInvalid},
		{"not base64url", tk, "a:b", now, ErrTokenInvalid},
		{"padded", tk, pw + "=", now, ErrTokenInvalid},
		{"too long", tk, strings.Repeat("A", MaxPasswordLength+1), now, ErrTokenInvalid},
		{"truncated", tk, pw[:20], now, ErrTokenInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, err := tc.tokens.Open(tc.password, tc.at); !errors.Is(err, tc.want) {
				t.Fatalf("Open: %v, want %v", err, tc.want)
			}
		})
	}
}

// FuzzOpenPassword: any password opens or is refused as invalid or
// expired; none panics, and only sealed ones open.
func FuzzOpenPassword(f *testing.F) {
	tk := testTokens(f, "000000000000", 1)
	now := time.Unix(1_800_000_000, 0)
	pw, _ := tk.Seal([]byte("caller"), now.Add(time.Hour))
	f.Add(pw)
	f.Add("")
	f.Add("AQAAAABrSc8AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
	f.Fuzz(func(t *testing.T, s string) {
		caller, _, err := tk.Open(s, now)
		switch {
		case err == nil && string(caller) != "caller":
			t.Fatalf("a password not sealed here opened: %q", s)
		case err != nil && !errors.Is(err, ErrTokenInvalid) && !errors.Is(err, ErrTokenExpired):
			t.Fatalf("unexpected error class: %v", err)
		}
	})
}
