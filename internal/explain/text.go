package explain

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// WriteJSON writes r as indented JSON (the API's and `--format json`'s
// shape).
func WriteJSON(w io.Writer, r *Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

var marks = map[Status]string{Pass: "pass", Fail: "FAIL", Skip: "skip"}

// WriteText writes r for a person: each step, each trust statement and
// condition, the decision with the error a client would get, then hints.
func WriteText(w io.Writer, r *Report) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Explaining %s on %s\n", r.Action, r.RoleARN)
	if r.Subject != "" {
		fmt.Fprintf(&b, "sub: %s\n", r.Subject)
	}
	switch {
	case r.Hypothetical:
		b.WriteString("(hypothetical claims: no token, key or signature checked)\n")
	case r.Unverified:
		b.WriteString("(the token failed verification; trust steps use its unverified claims)\n")
	}
	b.WriteString("\n")
	for _, st := range r.Steps {
		fmt.Fprintf(&b, "[%s] %-9s %s\n", marks[st.Status], st.Name, stepSummary(st))
		if st.Cause != "" {
			fmt.Fprintf(&b, "         cause: %s\n", st.Cause)
		}
		for _, f := range st.Facts {
			fmt.Fprintf(&b, "         %s: %s\n", f.Name, f.Value)
		}
		for _, s := range st.Statements {
			writeStatement(&b, s)
		}
	}
	b.WriteString("\n")
	if r.Allowed {
		b.WriteString("Decision: ALLOWED\n")
	} else {
		b.WriteString("Decision: DENIED")
		if r.Error != nil {
			fmt.Fprintf(&b, " — the API answers %s (HTTP %d): %s", r.Error.Code, r.Error.HTTPStatus, r.Error.Message)
		}
		b.WriteString("\n")
	}
	if len(r.Hints) > 0 {
		b.WriteString("\nHints:\n")
		for _, h := range r.Hints {
			fmt.Fprintf(&b, "  [%s] %s\n    fix: %s\n", h.ID, h.Message, h.Fix)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func stepSummary(st Step) string {
	if st.Action != "" {
		return st.Action + ": " + st.Summary
	}
	return st.Summary
}

func writeStatement(b *strings.Builder, s Statement) {
	verdict := "applies"
	if !s.Matched {
		verdict = "does not apply: " + s.Reason
	}
	if s.Decided {
		verdict += " (decided)"
	}
	fmt.Fprintf(b, "         statement %s %s: %s\n", statementLabel(s.Index, s.Sid), s.Effect, verdict)
	for _, c := range s.Conditions {
		mark := map[string]string{"true": "pass", "false": "FAIL"}[c.Result]
		if mark == "" {
			mark = "skip"
		}
		fmt.Fprintf(b, "           [%s] %s %s\n", mark, c.Operator, c.Key)
		fmt.Fprintf(b, "                  expected: %s\n", quoteAll(c.Expected))
		switch {
		case c.Result == "not evaluated":
		case c.KeyPresent:
			fmt.Fprintf(b, "                  actual:   %s\n", quoteAll(c.Actual))
		default:
			b.WriteString("                  actual:   (key missing from the request)\n")
		}
		if c.Note != "" {
			fmt.Fprintf(b, "                  note:     %s\n", c.Note)
		}
	}
}
