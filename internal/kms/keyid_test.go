package kms

import (
	"regexp"
	"testing"
)

// isKeyID accepts exactly what the key id pattern does.
func TestIsKeyIDMatchesPattern(t *testing.T) {
	re := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	for _, id := range []string{
		"1234abcd-12ab-34cd-56ef-1234567890ab", "00000000-0000-0000-0000-000000000000", "ffffffff-ffff-ffff-ffff-ffffffffffff",
		"1234ABCD-12ab-34cd-56ef-1234567890ab", "1234abcd-12ab-34cd-56ef-1234567890a", "1234abcd-12ab-34cd-56ef-1234567890abc",
		"1234abcd112ab-34cd-56ef-1234567890ab", "1234abcd-12ab-34cd-56ef_1234567890ab", "1234abcg-12ab-34cd-56ef-1234567890ab",
		"1234abcd-12ab-34cd-56ef-1234567890a\n", "-234abcd-12ab-34cd-56ef-1234567890ab", "", "alias/x",
		"1234abcd-12ab-34cd-56ef-1234567890é", "1234abcd-12ab-34cd-56e--1234567890ab", "1234abcd-12ab-34cd-56ef-12345678-0ab",
	} {
		if got, want := isKeyID(id), re.MatchString(id); got != want {
			t.Errorf("isKeyID(%q) = %v, want %v", id, got, want)
		}
	}
}

func FuzzIsKeyID(f *testing.F) {
	re := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	f.Add("1234abcd-12ab-34cd-56ef-1234567890ab")
	f.Fuzz(func(t *testing.T, id string) {
		if got, want := isKeyID(id), re.MatchString(id); got != want {
			t.Fatalf("isKeyID(%q) = %v, want %v", id, got, want)
		}
	})
}
