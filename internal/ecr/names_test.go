package ecr

import (
	"errors"
	"strings"
	"testing"
)

func TestRepositoryNames(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"ab", true},
		{"mygroup/myproject", true},
		{"a.b_c__d-e--f/g9", true},
		{"kfuse/ui", true},
		{strings.Repeat("a", 256), true},
		{"a", false},                      // shorter than 2
		{strings.Repeat("a", 257), false}, // longer than 256
		{"A/b", false},                    // upper case
		{"../etc", false},                 // traversal
		{"a/../b", false},
		{"a/./b", false},
		{"a//b", false},
		{"/ab", false},
		{"ab/", false},
		{"a\\b", false},
		{"a\x00b", false},
		{"a b", false},
		{"a..b", false},
		{"a._b", false},
		{"-ab", false},
		{"ab-", false},
		{"a%2fb", false},
		{"ab\n", false},
	} {
		if got := ValidRepositoryName(tc.name); got != tc.ok {
			t.Errorf("ValidRepositoryName(%q) = %v, want %v", tc.name, got, tc.ok)
		}
	}
}

func TestCheckRepositoryNameErrors(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		code     ErrorCode
		message  string
	}{
		{"missing", "", CodeValidation, "1 validation error detected: Value null at 'repositoryName' failed to satisfy constraint: Member must not be null"},
		{"short", "a", CodeValidation, "1 validation error detected: Value 'a' at 'repositoryName' failed to satisfy constraint: Member must have length greater than or equal to 2"},
		{"long", strings.Repeat("a", 257), CodeValidation, "1 validation error detected: Value at 'repositoryName' failed to satisfy constraint: Member must have length less than or equal to 256"},
		{"pattern", "../etc", CodeInvalidParameter, "Invalid parameter at 'repositoryName' failed to satisfy constraint: 'must satisfy regular expression '(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*''"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var e *Error
			if err := CheckRepositoryName(tc.in); !errors.As(err, &e) || e.Code != tc.code || e.Message != tc.message {
				t.Fatalf("got %v, want %s: %s", err, tc.code, tc.message)
			}
		})
	}
}

func TestTagsAndDigests(t *testing.T) {
	for _, tc := range []struct {
		tag string
		ok  bool
	}{
		{"v1", true}, {"latest", true}, {"_x", true}, {"V1.2-rc_3", true}, {strings.Repeat("a", 128), true},
		{"", false}, {".x", false}, {"-x", false}, {"a/b", false}, {"a:b", false}, {strings.Repeat("a", 129), false}, {"sha256:" + strings.Repeat("a", 64), false},
	} {
		if got := ValidTag(tc.tag); got != tc.ok {
			t.Errorf("ValidTag(%q) = %v, want %v", tc.tag, got, tc.ok)
		}
	}
	good := "sha256:" + strings.Repeat("0a", 32)
	for _, tc := range []struct {
		d  string
		ok bool
	}{
		{good, true},
		{"sha256:" + strings.Repeat("A", 64), false},
		{"sha256:" + strings.Repeat("a", 63), false},
		{"sha512:" + strings.Repeat("a", 128), false},
		{"sha256:../" + strings.Repeat("a", 61), false},
		{"", false},
	} {
		if got := ValidDigest(tc.d); got != tc.ok {
			t.Errorf("ValidDigest(%q) = %v, want %v", tc.d, got, tc.ok)
		}
	}
	if !WellFormedDigest("sha512:ABC") || WellFormedDigest("sha256") || WellFormedDigest("sha256:xyz") {
		t.Error("WellFormedDigest does not follow the model's pattern")
	}
}

func TestWildcardMatch(t *testing.T) {
	for _, tc := range []struct {
		pattern, s string
		ok         bool
	}{
		{"latest", "latest", true}, {"latest", "latest2", false}, {"dev-*", "dev-1", true}, {"dev-*", "dev-", true},
		{"*-rc", "1.0-rc", true}, {"*-rc", "1.0-rc1", false}, {"a*b*c", "axxbyyc", true}, {"a*b*c", "axxbyy", false}, {"*", "", true},
		// A hostile filter (63 stars, the 128-character limit) against the
		// longest tag: a backtracking matcher would not finish.
		{strings.Repeat("a*", 63) + "b", strings.Repeat("a", 128), false},
	} {
		if got := wildcardMatch(tc.pattern, tc.s); got != tc.ok {
			t.Errorf("wildcardMatch(%q, %q) = %v", tc.pattern, tc.s, got)
		}
	}
}
