package federation

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// A hand-written JSON reader instead of encoding/json: Go's v1 decoder keeps the last of
// duplicate names, matches names case-insensitively and replaces invalid UTF-8 with U+FFFD
// (security.md §1.9, §1.16), and both v1 and v2 cost several times what the token path can
// afford. This one parses each header and payload exactly once into the one structure that
// both verification and the policy engine read, so there is no parser differential.
//
// Values: map[string]any, []any, string, json.Number (the literal text, so 9007199254740993
// stays exact), bool, nil.

// maxJSONDepth bounds nesting. Real ID tokens nest at most three deep
// (https://aws.amazon.com/tags → principal_tags → key → array).
const maxJSONDepth = 16

var (
	errJSONSyntax    = errors.New("invalid JSON")
	errJSONDepth     = errors.New("JSON nested too deeply")
	errJSONDuplicate = errors.New("duplicate JSON member name")
	errJSONUTF8      = errors.New("invalid UTF-8 in JSON")
	errJSONNotObject = errors.New("JSON value is not an object")
)

type jsonParser struct {
	s   string
	i   int
	err error
}

// maxObjectHint caps the size given to a top-level map up front: a claim
// set has a few dozen members, a JWKS one.
const maxObjectHint = 64

// parseJSONObject parses s, which must hold exactly one JSON object and nothing but
// whitespace around it.
func parseJSONObject(s string) (map[string]any, error) {
	p := jsonParser{s: s}
	p.skipWS()
	if p.i >= len(p.s) || p.s[p.i] != '{' {
		return nil, errJSONNotObject
	}
	// Every member's name ends in `":` (no encoder of tokens or JWKS puts
	// space before the colon), so their count bounds the top level's
	// members: a map sized from it never grows, and is no larger than it
	// need be. (The document's length over a guessed member size sized a
	// GitLab claim set of 25 members for 32, a table twice the size:
	// 1 KB more of garbage in every request.) The count is capped: `":`
	// inside a string counts too, and a hostile token or JWKS made of it
	// must not buy a map sized for thousands of members; past the cap the
	// map grows as members actually arrive.
	v := p.parseObject(1, min(strings.Count(s, `":`), maxObjectHint))
	if p.err != nil {
		return nil, p.err
	}
	p.skipWS()
	if p.i != len(p.s) {
		return nil, errJSONSyntax
	}
	return v, nil
}

func (p *jsonParser) fail(err error) {
	if p.err == nil {
		p.err = err
	}
	// Jump to the end so every loop stops at once.
	p.i = len(p.s)
}

func (p *jsonParser) skipWS() {
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *jsonParser) parseValue(depth int) any {
	p.skipWS()
	if p.i >= len(p.s) {
		p.fail(errJSONSyntax)
		return nil
	}
	switch c := p.s[p.i]; {
	case c == '{':
		return p.parseObject(depth+1, 0)
	case c == '[':
		return p.parseArray(depth + 1)
	case c == '"':
		return p.parseString()
	case c == 't':
		return p.literal("true", true)
	case c == 'f':
		return p.literal("false", false)
	case c == 'n':
		return p.literal("null", nil)
	case c == '-' || (c >= '0' && c <= '9'):
		return p.parseNumber()
	default:
		p.fail(errJSONSyntax)
		return nil
	}
}

func (p *jsonParser) literal(word string, v any) any {
	if strings.HasPrefix(p.s[p.i:], word) {
		p.i += len(word)
		return v
	}
	p.fail(errJSONSyntax)
	return nil
}

// parseObject reads an object; hint sizes the map (growing a map costs more than
// guessing).
func (p *jsonParser) parseObject(depth, hint int) map[string]any {
	if depth > maxJSONDepth {
		p.fail(errJSONDepth)
		return nil
	}
	p.i++ // '{'
	m := make(map[string]any, max(hint, 8))
	// folded holds the case-folded form of every name that is not already its own fold,
	// allocated only when such a name appears (real tokens have none).
	var folded map[string]struct{}
	p.skipWS()
	if p.i < len(p.s) && p.s[p.i] == '}' {
		p.i++
		return m
	}
	for p.err == nil {
		p.skipWS()
		if p.i >= len(p.s) || p.s[p.i] != '"' {
			p.fail(errJSONSyntax)
			return nil
		}
		name := p.parseString()
		if p.err != nil {
			return nil
		}
		if _, dup := m[name]; dup {
			p.fail(errJSONDuplicate)
			return nil
		}
		// Case-variant duplicates ("sub" and "SUB") are rejected too: another parser
		// matching names case-insensitively would read a different claim set.
		f := foldName(name)
		if f != name {
			if _, dup := m[f]; dup {
				p.fail(errJSONDuplicate)
				return nil
			}
			if folded == nil {
				folded = make(map[string]struct{})
			}
			if _, dup := folded[f]; dup {
				p.fail(errJSONDuplicate)
				return nil
			}
			folded[f] = struct{}{}
		} else if folded != nil {
			if _, dup := folded[f]; dup {
				p.fail(errJSONDuplicate)
				return nil
			}
		}
		p.skipWS()
		if p.i >= len(p.s) || p.s[p.i] != ':' {
			p.fail(errJSONSyntax)
			return nil
		}
		p.i++
		v := p.parseValue(depth)
		if p.err != nil {
			return nil
		}
		m[name] = v
		p.skipWS()
		if p.i >= len(p.s) {
			p.fail(errJSONSyntax)
			return nil
		}
		switch p.s[p.i] {
		case ',':
			p.i++
		case '}':
			p.i++
			return m
		default:
			p.fail(errJSONSyntax)
			return nil
		}
	}
	return nil
}

func (p *jsonParser) parseArray(depth int) []any {
	if depth > maxJSONDepth {
		p.fail(errJSONDepth)
		return nil
	}
	p.i++ // '['
	a := make([]any, 0, 4)
	p.skipWS()
	if p.i < len(p.s) && p.s[p.i] == ']' {
		p.i++
		return a
	}
	for p.err == nil {
		v := p.parseValue(depth)
		if p.err != nil {
			return nil
		}
		a = append(a, v)
		p.skipWS()
		if p.i >= len(p.s) {
			p.fail(errJSONSyntax)
			return nil
		}
		switch p.s[p.i] {
		case ',':
			p.i++
		case ']':
			p.i++
			return a
		default:
			p.fail(errJSONSyntax)
			return nil
		}
	}
	return nil
}

// parseString reads a string starting at the opening quote. Strings without escapes are
// returned as substrings of the input (no copy).
func (p *jsonParser) parseString() string {
	start := p.i + 1
	j := start
	ascii := true
	for j < len(p.s) {
		c := p.s[j]
		if c == '"' {
			raw := p.s[start:j]
			if !ascii && !utf8.ValidString(raw) {
				p.fail(errJSONUTF8)
				return ""
			}
			p.i = j + 1
			return raw
		}
		if c == '\\' {
			return p.parseEscapedString(start)
		}
		if c < 0x20 {
			p.fail(errJSONSyntax)
			return ""
		}
		if c >= 0x80 {
			ascii = false
		}
		j++
	}
	p.fail(errJSONSyntax)
	return ""
}

func (p *jsonParser) parseEscapedString(start int) string {
	var b strings.Builder
	j := start
	for j < len(p.s) {
		c := p.s[j]
		switch {
		case c == '"':
			p.i = j + 1
			return b.String()
		case c < 0x20:
			p.fail(errJSONSyntax)
			return ""
		case c == '\\':
			if j+1 >= len(p.s) {
				p.fail(errJSONSyntax)
				return ""
			}
			j++
			switch p.s[j] {
			case '"', '\\', '/':
				b.WriteByte(p.s[j])
				j++
			case 'b':
				b.WriteByte('\b')
				j++
			case 'f':
				b.WriteByte('\f')
				j++
			case 'n':
				b.WriteByte('\n')
				j++
			case 'r':
				b.WriteByte('\r')
				j++
			case 't':
				b.WriteByte('\t')
				j++
			case 'u':
				r, ok := hex4(p.s, j+1)
				if !ok {
					p.fail(errJSONSyntax)
					return ""
				}
				j += 5
				if utf16.IsSurrogate(r) {
					// A lone surrogate is not a Unicode scalar value: reject it
					// rather than substitute U+FFFD as encoding/json does.
					if j+1 >= len(p.s) || p.s[j] != '\\' || p.s[j+1] != 'u' {
						p.fail(errJSONUTF8)
						return ""
					}
					r2, ok := hex4(p.s, j+2)
					if !ok {
						p.fail(errJSONSyntax)
						return ""
					}
					r = utf16.DecodeRune(r, r2)
					if r == utf8.RuneError {
						p.fail(errJSONUTF8)
						return ""
					}
					j += 6
				}
				b.WriteRune(r)
			default:
				p.fail(errJSONSyntax)
				return ""
			}
		case c < utf8.RuneSelf:
			b.WriteByte(c)
			j++
		default:
			r, size := utf8.DecodeRuneInString(p.s[j:])
			if r == utf8.RuneError && size <= 1 {
				p.fail(errJSONUTF8)
				return ""
			}
			b.WriteString(p.s[j : j+size])
			j += size
		}
	}
	p.fail(errJSONSyntax)
	return ""
}

func hex4(s string, i int) (rune, bool) {
	if i+4 > len(s) {
		return 0, false
	}
	var r rune
	for k := range 4 {
		c := s[i+k]
		var d byte
		switch {
		case c >= '0' && c <= '9':
			d = c - '0'
		case c >= 'a' && c <= 'f':
			d = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(d)
	}
	return r, true
}

// parseNumber checks the RFC 8259 number grammar and keeps the literal text.
func (p *jsonParser) parseNumber() json.Number {
	s, start, j := p.s, p.i, p.i
	if j < len(s) && s[j] == '-' {
		j++
	}
	switch {
	case j < len(s) && s[j] == '0':
		j++
	case j < len(s) && s[j] >= '1' && s[j] <= '9':
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
		}
	default:
		p.fail(errJSONSyntax)
		return ""
	}
	if j < len(s) && s[j] == '.' {
		j++
		d := j
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		if j == d {
			p.fail(errJSONSyntax)
			return ""
		}
	}
	if j < len(s) && (s[j] == 'e' || s[j] == 'E') {
		j++
		if j < len(s) && (s[j] == '+' || s[j] == '-') {
			j++
		}
		d := j
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		if j == d {
			p.fail(errJSONSyntax)
			return ""
		}
	}
	p.i = j
	return json.Number(s[start:j])
}

// foldName returns the case-fold key of a member name: two names are case variants of
// each other exactly when their keys are equal (the equivalence strings.EqualFold uses).
// Names already in folded form — all real claim names — are returned without allocating.
func foldName(s string) string {
	canonical := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= utf8.RuneSelf || (c >= 'A' && c <= 'Z') {
			canonical = false
			break
		}
	}
	if canonical {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		b.WriteRune(foldRune(r))
	}
	return b.String()
}

// foldRune maps r to one representative of its simple case-folding orbit: the ASCII
// lower-case letter if the orbit has one (so "s", "S" and "ſ" all give "s", and names
// that are already lower-case ASCII are their own key), otherwise the smallest rune.
func foldRune(r rune) rune {
	lowest := r
	for f := r; ; {
		if f >= 'a' && f <= 'z' {
			return f
		}
		if f < lowest {
			lowest = f
		}
		if f = unicode.SimpleFold(f); f == r {
			return lowest
		}
	}
}

// numericDate reads a JWT NumericDate claim (RFC 7519 §2). AWS models timestamps as
// integers; fractional seconds are truncated but anything that is not a finite JSON number
// within ±2^53 (strings, booleans, 1e400, 1e30) is refused rather than rounded.
func numericDate(v any) (int64, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	s := string(n)
	if i, err := strconv.ParseInt(s, 10, 64); err == nil {
		if i > maxSafeInt || i < -maxSafeInt {
			return 0, false
		}
		return i, true
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f != f || f > maxSafeInt || f < -maxSafeInt {
		return 0, false
	}
	return int64(f), true
}

const maxSafeInt = 1<<53 - 1
