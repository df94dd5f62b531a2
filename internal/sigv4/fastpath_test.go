package sigv4

import (
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"strings"
	"testing"
	"time"
)

// The hand-written date parsers must accept exactly what time.Parse accepts, with the same
// time: they replace it on every request.
func TestParseDigitsDateMatchesTimeParse(t *testing.T) {
	dates := []string{"20130524", "20240229", "20230229", "19000229", "20000229", "00000101", "99991231",
		"20131324", "20130024", "20130500", "20130532", "20130431", "2013052", "201305244", "2013-5-2",
		"+2130524", "2013052a", "        ", "", "２０１３0524"}
	for y := 1999; y <= 2001; y++ {
		for m := 0; m <= 13; m++ {
			for d := 0; d <= 32; d++ {
				dates = append(dates, pad(y, 4)+pad(m, 2)+pad(d, 2))
			}
		}
	}
	for _, s := range dates {
		want, err := time.Parse("20060102", s)
		wantOK := err == nil && len(s) == 8
		got, ok := parseDigitsDate(s)
		if ok != wantOK || ok && !got.Equal(want) || ok && got.Location() != want.Location() {
			t.Errorf("parseDigitsDate(%q) = %v, %v; time.Parse: %v, %v", s, got, ok, want, err)
		}
	}
	times := []string{"20130524T000000Z", "20130524T235959Z", "20130524T240000Z", "20130524T236000Z", "20130524T235960Z",
		"20130524T000000", "20130524 000000Z", "20130524T000000z", "20130524T00000Z", "20130524T000000.5Z",
		"20130229T120000Z", "20120229T120000Z", "20130524T1200000", "2013052T4120000Z", "20130524T12:00:0"}
	for h := 0; h <= 24; h += 6 {
		for m := 0; m <= 60; m += 15 {
			for sec := 0; sec <= 61; sec += 59 {
				times = append(times, "20130524T"+pad(h, 2)+pad(m, 2)+pad(sec, 2)+"Z")
			}
		}
	}
	for _, s := range times {
		want, err := time.Parse(amzDateFormat, s)
		wantOK := err == nil && len(s) == len(amzDateFormat)
		got, ok := parseDigitsDateTime(s)
		if ok != wantOK || ok && !got.Equal(want) || ok && got.Location() != want.Location() {
			t.Errorf("parseDigitsDateTime(%q) = %v, %v; time.Parse: %v, %v", s, got, ok, want, err)
		}
	}
}

func pad(n, width int) string { return fmt.Sprintf("%0*d", width, n) }

// hmacSHA256Sum is crypto/hmac's HMAC-SHA256, on the stack and past it.
func TestHMACSHA256SumMatchesCryptoHMAC(t *testing.T) {
	key := deriveSigningKey(testSecret, "20130524", "us-east-1", "sts")
	for _, n := range []int{0, 1, 55, 56, 63, 64, 119, 120, 300, maxStackStringToSign - 1, maxStackStringToSign, maxStackStringToSign + 1, 4096} {
		msg := []byte(strings.Repeat("AWS4-HMAC-SHA256\n", n/17+1)[:n])
		m := hmac.New(sha256.New, key[:])
		m.Write(msg)
		if got := hmacSHA256Sum(key, msg); !hmac.Equal(got[:], m.Sum(nil)) {
			t.Errorf("length %d: hmacSHA256Sum differs from crypto/hmac", n)
		}
	}
}
