package cli

import (
	"testing"
	"time"
)

func TestParseSince(t *testing.T) {
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		name, in string
		want     time.Time
		bad      bool
	}{
		{"duration", "90m", now.Add(-90 * time.Minute), false},
		{"hours", "24h", now.Add(-24 * time.Hour), false},
		{"time", "2026-11-01T00:00:00Z", time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), false},
		{"negative", "-1h", time.Time{}, true},
		{"words", "yesterday", time.Time{}, true},
		{"date only", "2026-11-01", time.Time{}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseSince(tc.in, now)
			if (err != nil) != tc.bad || !got.Equal(tc.want) {
				t.Fatalf("parseSince(%q) = %v, %v", tc.in, got, err)
			}
		})
	}
}
