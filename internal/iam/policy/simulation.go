package policy

import (
	"bytes"
	"errors"
	"net/netip"
	"strings"
	"unicode/utf8"

	"github.com/go-json-experiment/json/jsontext"
)

// What IAM's policy simulator (SimulateCustomPolicy, SimulatePrincipalPolicy)
// reports beyond a decision: where each statement that decided lies in its
// document, and which condition keys the policies read that the simulation
// did not supply.

// Position is a place in a policy document as the simulator reports it:
// 1-based line and column, columns counted in characters.
type Position struct {
	Line, Column int
}

// Span is where a statement lies in its document.
type Span struct {
	Start, End Position
}

// StatementSpans returns the span of each statement of doc, in the order of
// Policy.Statements. The positions are the ones AWS's simulator reports,
// which are those of its streaming JSON reader rather than of the braces:
// End is just past the statement's closing brace; Start is where the reader
// stood before reading the statement — just past the "[" for the first
// statement of a list, just past the previous statement's "}" for the others
// (the comma is read with the next value), and just past the "{" when
// Statement is a single object (the reader takes the value's first
// character along with the colon). Checked against AWS's own outputs: the
// CLI reference's simulate-custom-policy example ({"Version":...,
// "Statement":{...}} → 1:38–1:167) and a published S3 bucket policy whose
// two statements AWS placed at 1:38–1:248 and 1:248–1:470.
//
// doc must be a document Parse accepts; anything else is an error.
func StatementSpans(doc []byte) ([]Span, error) {
	dec := jsontext.NewDecoder(bytes.NewReader(doc))
	if tok, err := dec.ReadToken(); err != nil || tok.Kind() != '{' {
		return nil, errors.New("policy: not a JSON object")
	}
	var offsets [][2]int64
	for dec.PeekKind() != '}' {
		name, err := dec.ReadToken()
		if err != nil {
			return nil, err
		}
		if name.String() != "Statement" {
			if err := dec.SkipValue(); err != nil {
				return nil, err
			}
			continue
		}
		switch dec.PeekKind() {
		case '[':
			if _, err := dec.ReadToken(); err != nil {
				return nil, err
			}
			for dec.PeekKind() != ']' {
				start := dec.InputOffset()
				if err := dec.SkipValue(); err != nil {
					return nil, err
				}
				offsets = append(offsets, [2]int64{start, dec.InputOffset()})
			}
			if _, err := dec.ReadToken(); err != nil {
				return nil, err
			}
		case '{':
			// Past the colon and the whitespace around it, the brace.
			after := dec.InputOffset()
			brace := after + int64(bytes.IndexByte(doc[after:], '{'))
			if err := dec.SkipValue(); err != nil {
				return nil, err
			}
			offsets = append(offsets, [2]int64{brace + 1, dec.InputOffset()})
		default:
			return nil, errors.New("policy: Statement is neither an object nor a list")
		}
	}
	spans := make([]Span, len(offsets))
	at := positionCounter{doc: doc, pos: Position{Line: 1, Column: 1}}
	for i, o := range offsets {
		spans[i] = Span{Start: at.advance(o[0]), End: at.advance(o[1])}
	}
	return spans, nil
}

// positionCounter turns increasing byte offsets into positions, scanning
// the document once. A line ends at "\n", "\r\n" or a lone "\r".
type positionCounter struct {
	doc []byte
	off int64
	pos Position
}

func (c *positionCounter) advance(to int64) Position {
	for c.off < to {
		r, size := utf8.DecodeRune(c.doc[c.off:])
		switch {
		case r == '\n', r == '\r' && (int(c.off)+1 >= len(c.doc) || c.doc[c.off+1] != '\n'):
			c.pos.Line++
			c.pos.Column = 1
		case r == '\r': // the "\n" that follows ends the line
		default:
			c.pos.Column++
		}
		c.off += int64(size)
	}
	return c.pos
}

// ContextKeys returns the condition keys p reads: every condition's key and
// every policy variable its Resource, NotResource and condition values use,
// in document order, each once (compared case-insensitively; the first
// spelling is kept). It lists the keys of every statement, not only of those
// about a given action, because that is what AWS's simulator reports as
// MissingContextValues (an issue against boto3, #3111, shows a key used only
// by an s3:GetObject statement reported for an s3:ListBucket simulation, and
// AWS answering that this is the expected behaviour).
func (p *Policy) ContextKeys() []string {
	var keys []string
	seen := map[string]bool{}
	add := func(key string) {
		low := strings.ToLower(key)
		if !seen[low] {
			seen[low] = true
			keys = append(keys, key)
		}
	}
	addVariables := func(templates []template) {
		for _, t := range templates {
			for _, part := range t.parts {
				if part.kind == partVariable {
					add(part.text)
				}
			}
		}
	}
	for _, s := range p.Statements {
		addVariables(s.resources)
		for _, c := range s.Conditions {
			add(c.Key)
			addVariables(c.values)
		}
	}
	return keys
}

// ValidContextValue reports whether value is a well-formed request value of
// the simulator's ContextKeyType typ, in its single-valued form ("string",
// "numeric", "boolean", "ip", "binary", "date"): a value the condition
// operators of that type can compare. Unknown types are not valid.
func ValidContextValue(typ, value string) bool {
	switch typ {
	case "string":
		return true
	case "numeric":
		_, ok := parseNumber(value)
		return ok
	case "boolean":
		return strings.EqualFold(value, "true") || strings.EqualFold(value, "false")
	case "ip":
		// A request has one source address, never a range.
		_, err := netip.ParseAddr(strings.TrimSpace(value))
		return err == nil
	case "binary":
		_, ok := parseBinary(value)
		return ok
	case "date":
		_, ok := parseDate(value)
		return ok
	}
	return false
}
