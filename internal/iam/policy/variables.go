package policy

import "strings"

// A template is one policy string (a Resource entry, an Action, a condition value) compiled
// once at parse time. Without variables it is just its text; with them (Version 2012-10-17
// only) it is a list of parts rendered against the request context at evaluation.
type template struct {
	raw     string
	glob    string  // raw in escaped-glob form; valid when parts == nil
	parts   []tpart // nil: no variables
	literal bool    // no wildcard and no variable: plain comparison will do
}

type tpartKind uint8

const (
	partLiteral  tpartKind = iota // policy text; wildcards stay wildcards
	partVariable                  // ${key} or ${key, 'default'}
	partEscape                    // ${*} ${?} ${$}: a literal character
)

type tpart struct {
	kind       tpartKind
	text       string // literal text, the escaped character, or the key as written
	keyLow     string
	def        string
	hasDefault bool
}

// compileTemplate parses s; variables are recognised only when vars (Version 2012-10-17), so a
// 2008-10-17 policy keeps "${aws:username}" as literal text, as AWS does.
func compileTemplate(s string, vars bool) template {
	t := template{raw: s, glob: escapeGlob(s), literal: !strings.ContainsAny(s, "*?")}
	if !vars || !strings.Contains(s, "${") {
		return t
	}
	var parts []tpart
	rest := s
	for {
		i := strings.Index(rest, "${")
		if i < 0 {
			break
		}
		j := strings.IndexByte(rest[i:], '}')
		if j < 0 {
			break // an unterminated "${" is plain text
		}
		body := rest[i+2 : i+j]
		part, ok := parseVariable(body)
		if !ok {
			// Not a variable reference: keep "${" literal and look further on.
			parts = appendLiteralPart(parts, rest[:i+2])
			rest = rest[i+2:]
			continue
		}
		parts = appendLiteralPart(parts, rest[:i])
		parts = append(parts, part)
		rest = rest[i+j+1:]
	}
	parts = appendLiteralPart(parts, rest)
	for _, p := range parts {
		if p.kind != partLiteral {
			t.parts, t.literal = parts, false
			break
		}
	}
	return t
}

func appendLiteralPart(parts []tpart, s string) []tpart {
	if s == "" {
		return parts
	}
	if n := len(parts); n > 0 && parts[n-1].kind == partLiteral {
		parts[n-1].text += s
		return parts
	}
	return append(parts, tpart{kind: partLiteral, text: s})
}

// parseVariable parses the inside of ${...}: "*", "?", "$", "key" or "key, 'default'".
func parseVariable(body string) (tpart, bool) {
	switch body {
	case "*", "?", "$":
		return tpart{kind: partEscape, text: body}, true
	}
	key, def, hasDefault := body, "", false
	if k, d, found := strings.Cut(body, ","); found {
		d = strings.TrimSpace(d)
		if len(d) < 2 || d[0] != '\'' || d[len(d)-1] != '\'' {
			return tpart{}, false
		}
		key, def, hasDefault = k, d[1:len(d)-1], true
	}
	key = strings.TrimSpace(key)
	if key == "" || strings.ContainsAny(key, " \t\r\n${}") {
		return tpart{}, false
	}
	return tpart{kind: partVariable, text: key, keyLow: strings.ToLower(key), def: def, hasDefault: hasDefault}, true
}

// render substitutes the variables. glob selects the escaped-glob form (for Like-style
// matching: substituted values and escapes become literal characters) over plain text (for
// Equals-style matching). A variable whose key is absent, or multi-valued (no single value to
// substitute), takes its default; without one the template is unresolved (ok false): the
// Resource entry holding it matches nothing, the condition holding it is false (true when
// negated). missing names the first unresolved key.
func (t *template) render(ctx Context, glob bool) (s string, missing string, ok bool) {
	if t.parts == nil {
		if glob {
			return t.glob, "", true
		}
		return t.raw, "", true
	}
	b := make([]byte, 0, len(t.raw)+32)
	for i := range t.parts {
		p := &t.parts[i]
		var lit string
		switch p.kind {
		case partLiteral:
			if glob {
				b = append(b, escapeGlob(p.text)...)
			} else {
				b = append(b, p.text...)
			}
			continue
		case partEscape:
			lit = p.text
		case partVariable:
			v, present := ctx.lookup(p.keyLow, p.text)
			switch {
			case present && len(v) == 1:
				lit = v[0]
			case p.hasDefault:
				lit = p.def
			default:
				return "", p.text, false
			}
		}
		if glob {
			b = appendLiteral(b, lit)
		} else {
			b = append(b, lit...)
		}
	}
	return string(b), "", true
}
