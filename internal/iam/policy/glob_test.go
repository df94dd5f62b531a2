package policy

import (
	"regexp"
	"strings"
	"testing"
)

func TestGlobMatch(t *testing.T) {
	cases := []struct {
		pattern, s string
		fold, want bool
	}{
		{"", "", false, true},
		{"", "a", false, false},
		{"*", "", false, true},
		{"*", "anything/at:all", false, true},
		{"a*b*c", "aXbYc", false, true},
		{"a*b*c", "aXbY", false, false},
		{"a?c", "abc", false, true},
		{"a?c", "ac", false, false},
		{"**a", "bba", false, true},
		{"*a*", "bbb", false, false},
		{"S3:Get*", "s3:getobject", true, true},
		{"S3:Get*", "s3:getobject", false, false},
		{`\*`, "*", false, true},
		{`\*`, "x", false, false},
		{`a\\`, `a\`, false, true},
		{"?", "é", false, true},
		{"??", "é", false, false},
		{"*?x", "éx", false, true},
		{"*é", "aé", false, true},
	}
	for _, tc := range cases {
		if got := globMatch(tc.pattern, tc.s, tc.fold); got != tc.want {
			t.Errorf("globMatch(%q, %q, %v) = %v, want %v", tc.pattern, tc.s, tc.fold, got, tc.want)
		}
	}
}

// globRegexp is the obvious reference implementation of StringLike.
func globRegexp(pattern string) *regexp.Regexp {
	var b strings.Builder
	b.WriteString(`^(?s:`)
	for _, r := range pattern {
		switch r {
		case '*':
			b.WriteString(`.*`)
		case '?':
			b.WriteString(`.`)
		default:
			b.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	b.WriteString(`)$`)
	return regexp.MustCompile(b.String())
}

func FuzzGlobMatch(f *testing.F) {
	f.Add("project_path:mygroup/*", "project_path:mygroup/x:ref_type:branch:ref:main")
	f.Add("a*b?c*", "aXbYcZ")
	f.Add("*?*?", "é")
	f.Fuzz(func(t *testing.T, pattern, s string) {
		if strings.Contains(pattern, `\`) || !utf8Valid(pattern) || !utf8Valid(s) {
			return
		}
		if got, want := globMatch(pattern, s, false), globRegexp(pattern).MatchString(s); got != want {
			t.Fatalf("globMatch(%q, %q) = %v, regexp says %v", pattern, s, got, want)
		}
	})
}

func utf8Valid(s string) bool { return strings.ToValidUTF8(s, "\uFFFD") == s }

func TestArnMatch(t *testing.T) {
	cases := []struct {
		pattern, value string
		want           bool
	}{
		{"arn:aws:iam::*:role/x", "arn:aws:iam::1:role/x", true},
		{"arn:aws:iam::*:role/*", "arn:aws:iam::1:role/a/b:c", true},
		{"arn:*:iam::1:*", "arn:aws-cn:iam::1:user/u", true},
		{"arn:aws:iam::1:*", "arn:aws:sts::1:assumed-role/r/s", false},
		{"arn:aws:*", "arn:aws:iam::1:role/x", false},
		{"*", "arn:aws:iam::1:role/x", true},
		{"*", "not-an-arn", false},
	}
	for _, tc := range cases {
		if got := arnMatch(tc.pattern, tc.value); got != tc.want {
			t.Errorf("arnMatch(%q, %q) = %v, want %v", tc.pattern, tc.value, got, tc.want)
		}
	}
}
