package policy

import (
	"strings"
	"unicode/utf8"
)

// Patterns are kept in an "escaped glob" form: '*' and '?' are wildcards and '\' makes the next
// byte literal. IAM patterns have no escape character of their own, so a policy's text only
// needs its backslashes doubled; the form exists so that ${*} and ${?} and the values of
// substituted variables can stand for literal '*' and '?' (a token claim such as a sub holding
// '*' must never become a wildcard).

// escapeGlob doubles backslashes, keeping '*' and '?' as wildcards.
func escapeGlob(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	return strings.ReplaceAll(s, `\`, `\\`)
}

// appendLiteral appends s so that every character of it matches only itself.
func appendLiteral(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\', '*', '?':
			b = append(b, '\\', c)
		default:
			b = append(b, c)
		}
	}
	return b
}

// globMatch reports whether s matches the whole escaped-glob pattern. '*' matches any run of
// characters, '/' and ':' included (IAM's StringLike and Resource semantics); '?' matches
// exactly one character (a UTF-8 rune, not a byte). fold compares ASCII letters without case,
// which is all action names need. The single-star backtracking keeps it O(len(p)·len(s))
// worst case, without recursion, so hostile patterns cannot blow the stack.
func globMatch(p, s string, fold bool) bool {
	pi, si := 0, 0
	starP, starS := -1, 0
	for si < len(s) {
		if pi < len(p) {
			switch c := p[pi]; c {
			case '*':
				for pi+1 < len(p) && p[pi+1] == '*' {
					pi++
				}
				if pi+1 == len(p) {
					return true // a trailing star takes whatever is left
				}
				starP, starS = pi, si
				pi++
				continue
			case '?':
				_, w := utf8.DecodeRuneInString(s[si:])
				si += w
				pi++
				continue
			case '\\':
				if pi+1 < len(p) && p[pi+1] == s[si] {
					pi += 2
					si++
					continue
				}
			default:
				if c == s[si] || (fold && asciiLower(c) == asciiLower(s[si])) {
					pi++
					si++
					continue
				}
			}
		}
		if starP < 0 {
			return false
		}
		// Let the last star swallow one more character and retry from there.
		_, w := utf8.DecodeRuneInString(s[starS:])
		starS += w
		si = starS
		pi = starP + 1
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}

func asciiLower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + ('a' - 'A')
	}
	return c
}

// arnSegments splits an ARN into its six components (arn, partition, service, region,
// account, resource); the resource keeps any further colons. ok is false for anything with
// fewer than five colons.
func arnSegments(s string) (seg [6]string, ok bool) {
	for i := 0; i < 5; i++ {
		j := strings.IndexByte(s, ':')
		if j < 0 {
			return seg, false
		}
		seg[i], s = s[:j], s[j+1:]
	}
	seg[5] = s
	return seg, true
}

// arnMatch is ArnLike/ArnEquals: component-wise glob, case-sensitive, so a '*' in the region
// cannot swallow the account. A pattern without any colon (a bare "*") is one glob over the
// whole value; one with colons but fewer than six components matches nothing (letting its last
// '*' swallow the remaining components would undo the per-component rule). A value that is
// not an ARN never matches.
func arnMatch(pattern, value string) bool {
	vs, ok := arnSegments(value)
	if !ok {
		return false
	}
	ps, ok := arnSegments(pattern)
	if !ok {
		return !strings.Contains(pattern, ":") && globMatch(pattern, value, false)
	}
	for i := range ps {
		if !globMatch(ps[i], vs[i], false) {
			return false
		}
	}
	return true
}

// MatchStringLike reports whether value matches pattern as IAM's
// StringLike reads it ('*' any run of characters, '?' one character),
// with the engine's matcher: its cost is bounded by the lengths
// whatever the pattern, so callers matching user-supplied wildcards
// (ECR tag filters, explanations) need no matcher of their own.
func MatchStringLike(pattern, value string) bool {
	return globMatch(escapeGlob(pattern), value, false)
}
