package policy

import (
	"bytes"
	"encoding/base64"
	"math"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
)

type family uint8

const (
	famString family = iota
	famStringIgnoreCase
	famStringLike
	famNumeric
	famDate
	famBool
	famBinary
	famIP
	famArn
	famNull
)

type comparison uint8

const (
	cmpEq comparison = iota
	cmpLt
	cmpLe
	cmpGt
	cmpGe
)

type setQualifier uint8

const (
	setNone setQualifier = iota
	setForAllValues
	setForAnyValue
)

// operator is a parsed condition operator name such as "ForAnyValue:StringNotLikeIfExists".
type operator struct {
	family   family
	cmp      comparison
	negated  bool
	ifExists bool
	set      setQualifier
}

type baseOperator struct {
	family  family
	cmp     comparison
	negated bool
}

var baseOperators = map[string]baseOperator{
	"StringEquals":              {famString, cmpEq, false},
	"StringNotEquals":           {famString, cmpEq, true},
	"StringEqualsIgnoreCase":    {famStringIgnoreCase, cmpEq, false},
	"StringNotEqualsIgnoreCase": {famStringIgnoreCase, cmpEq, true},
	"StringLike":                {famStringLike, cmpEq, false},
	"StringNotLike":             {famStringLike, cmpEq, true},
	"NumericEquals":             {famNumeric, cmpEq, false},
	"NumericNotEquals":          {famNumeric, cmpEq, true},
	"NumericLessThan":           {famNumeric, cmpLt, false},
	"NumericLessThanEquals":     {famNumeric, cmpLe, false},
	"NumericGreaterThan":        {famNumeric, cmpGt, false},
	"NumericGreaterThanEquals":  {famNumeric, cmpGe, false},
	"DateEquals":                {famDate, cmpEq, false},
	"DateNotEquals":             {famDate, cmpEq, true},
	"DateLessThan":              {famDate, cmpLt, false},
	"DateLessThanEquals":        {famDate, cmpLe, false},
	"DateGreaterThan":           {famDate, cmpGt, false},
	"DateGreaterThanEquals":     {famDate, cmpGe, false},
	"Bool":                      {famBool, cmpEq, false},
	"BinaryEquals":              {famBinary, cmpEq, false},
	"IpAddress":                 {famIP, cmpEq, false},
	"NotIpAddress":              {famIP, cmpEq, true},
	"ArnEquals":                 {famArn, cmpEq, false},
	"ArnLike":                   {famArn, cmpEq, false},
	"ArnNotEquals":              {famArn, cmpEq, true},
	"ArnNotLike":                {famArn, cmpEq, true},
	"Null":                      {famNull, cmpEq, false},
}

// parseOperator splits "[ForAllValues:|ForAnyValue:]Base[IfExists]". Names are case-sensitive,
// as in IAM. Null takes no IfExists (it is about existence already).
func parseOperator(name string) (operator, bool) {
	var op operator
	rest := name
	if r, ok := strings.CutPrefix(rest, "ForAllValues:"); ok {
		op.set, rest = setForAllValues, r
	} else if r, ok := strings.CutPrefix(rest, "ForAnyValue:"); ok {
		op.set, rest = setForAnyValue, r
	}
	if r, ok := strings.CutSuffix(rest, "IfExists"); ok {
		op.ifExists, rest = true, r
	}
	base, ok := baseOperators[rest]
	if !ok || base.family == famNull && (op.ifExists || op.set != setNone) {
		return operator{}, false
	}
	op.family, op.cmp, op.negated = base.family, base.cmp, base.negated
	return op, true
}

// usesVariables: variables are substituted in the string and ARN operators' values only; the
// typed families compare values that were parsed (and validated) when the policy was.
func (f family) usesVariables() bool {
	return f == famString || f == famStringIgnoreCase || f == famStringLike || f == famArn
}

// initCondition fills c, which buildConditions allocates with the
// statement's other conditions in one array.
func initCondition(c *Condition, opName string, op operator, key string, values []string, vars bool) error {
	*c = Condition{Operator: opName, Key: key, Values: values, op: op, keyLow: strings.ToLower(key)}
	if op.family.usesVariables() {
		// Only what evaluation needs is kept: parsed policies are retained by
		// every cached role, so the escaped globs share Values unless one
		// differs, and templates are kept only when a value has variables.
		templates := make([]template, len(values))
		globs, copied := values, false
		for i, v := range values {
			templates[i] = compileTemplate(v, vars)
			if templates[i].parts != nil {
				c.hasVariables = true
			}
			if templates[i].glob != v {
				if !copied {
					globs, copied = slices.Clone(values), true
				}
				globs[i] = templates[i].glob
			}
		}
		if op.family == famStringLike || op.family == famArn {
			c.globs = globs
		}
		if c.hasVariables {
			c.values = templates
		}
		return nil
	}
	var typed typedValues
	for _, v := range values {
		var ok bool
		switch op.family {
		case famNumeric:
			var f float64
			f, ok = parseNumber(v)
			typed.numbers = append(typed.numbers, f)
		case famDate:
			var t time.Time
			t, ok = parseDate(v)
			typed.dates = append(typed.dates, t)
		case famIP:
			var p netip.Prefix
			p, ok = parsePrefix(v)
			typed.prefixes = append(typed.prefixes, p)
		case famBinary:
			var b []byte
			b, ok = parseBinary(v)
			typed.binaries = append(typed.binaries, b)
		case famBool, famNull:
			// IAM accepts any text here; a value other than true/false just never matches.
			ok = true
		}
		if !ok {
			// Unconfirmed wording: a value the operator cannot compare is refused up front
			// rather than silently never matching (or, negated, always matching).
			return malformed("Invalid value " + strconv.Quote(v) + " for condition operator " + opName)
		}
	}
	if op.family != famBool && op.family != famNull {
		c.typed = &typed
	}
	return nil
}

func parseNumber(s string) (float64, bool) {
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	return f, err == nil && !math.IsNaN(f) && !math.IsInf(f, 0)
}

// dateLayouts are the ISO 8601 forms IAM documents (the W3C profile, NOTE-datetime) and SDKs
// produce; epoch seconds are handled separately, and so a bare year (W3C's YYYY) reads as
// epoch seconds. A zone-less form is UTC.
var dateLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05Z0700",
	"2006-01-02T15:04Z07:00",
	"2006-01-02T15:04:05",
	"2006-01-02T15:04",
	"2006-01-02",
	"2006-01",
}

func parseDate(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, false
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n < -62135596800 || n > 253402300799 { // years 1..9999
			return time.Time{}, false
		}
		return time.Unix(n, 0).UTC(), true
	}
	for _, layout := range dateLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// parsePrefix takes a CIDR or a bare address (a /32 or /128). IPv4-mapped IPv6 is unmapped so
// "::ffff:10.0.0.1" and "10.0.0.1" are one address.
func parsePrefix(s string) (netip.Prefix, bool) {
	s = strings.TrimSpace(s)
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, false
		}
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		return p.Masked(), true
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, false
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), true
}

func parseBinary(s string) ([]byte, bool) {
	b, err := base64.StdEncoding.DecodeString(s)
	return b, err == nil
}

// valueState is how one request value fares against the policy values.
type valueState uint8

const (
	valueMatches      valueState = iota // some policy value matches it
	valueNoMatch                        // it is well-formed and no policy value matches it
	valueIncomparable                   // not a number/date/address/base64: satisfies neither form
)

// test evaluates one (operator, key) condition. Semantics:
//
//   - key missing or empty: ForAllValues → true (vacuous, as AWS documents); ForAnyValue →
//     false; no qualifier → false, but true for a negated operator; …IfExists → true (except
//     under ForAllValues, which is true anyway).
//   - ForAnyValue: some request value satisfies the operator (for a negated operator: some
//     request value matches none of the policy values).
//   - ForAllValues: every request value satisfies it.
//   - no qualifier on a multi-valued key (AWS documents single-valued operators for
//     single-valued keys only): a positive operator behaves as ForAnyValue (true if any value
//     matches, which is what AWS does for aud), a negated one as ForAllValues (true only if no
//     value matches any policy value). Both choices keep a negated guard from being bypassed
//     by adding an innocuous value.
//   - a request value the operator cannot read (NumericEquals on "abc") satisfies neither the
//     operator nor its negation.
//   - a policy variable with no value (and no default) is null: the condition holding it is
//     false, or true for a negated operator (IAM User Guide, "Policy variables with no
//     value").
func (c *Condition) test(ctx Context, vars bool, tr *ConditionTrace) bool {
	actual, present := ctx.lookup(c.keyLow, c.Key)
	present = present && len(actual) > 0
	if tr != nil {
		tr.Operator, tr.Key, tr.Expected, tr.KeyPresent = c.Operator, c.Key, c.Values, present
		if present {
			tr.Actual = actual
		}
	}
	if c.op.family == famNull {
		for _, v := range c.Values {
			if strings.EqualFold(v, "true") && !present || strings.EqualFold(v, "false") && present {
				return true
			}
		}
		return false
	}
	if !present {
		switch c.op.set {
		case setForAllValues:
			return true
		case setForAnyValue:
			return c.op.ifExists
		}
		return c.op.ifExists || c.op.negated
	}

	patterns, missing, ok := c.patterns(ctx, vars)
	if !ok {
		// A variable with no value is effectively null: "condition operators like
		// StringEquals or StringLike do not match", "inverted condition operators like
		// StringNotEquals or StringNotLike do match against a null value" (IAM User Guide,
		// "Policy variables with no value").
		if tr != nil {
			tr.Reason = "policy variable ${" + missing + "} has no value"
		}
		return c.op.negated
	}
	if tr != nil && c.hasVariables && vars {
		tr.Expected = patterns
	}

	forAll := c.op.set == setForAllValues || c.op.set == setNone && c.op.negated
	for _, v := range actual {
		satisfied := false
		switch c.compare(v, patterns) {
		case valueMatches:
			satisfied = !c.op.negated
		case valueNoMatch:
			satisfied = c.op.negated
		}
		if forAll && !satisfied {
			return false
		}
		if !forAll && satisfied {
			return true
		}
	}
	return forAll
}

// patterns returns the string/ARN policy values with variables substituted (Like-style
// families get the escaped-glob form). Without variables it returns a cached slice. ok is
// false when a variable has no value; missing names it.
func (c *Condition) patterns(ctx Context, vars bool) (out []string, missing string, ok bool) {
	if !c.op.family.usesVariables() {
		return nil, "", true
	}
	glob := c.op.family == famStringLike || c.op.family == famArn
	if !c.hasVariables || !vars {
		if glob {
			return c.globs, "", true
		}
		return c.Values, "", true
	}
	out = make([]string, len(c.values))
	for i := range c.values {
		if out[i], missing, ok = c.values[i].render(ctx, glob); !ok {
			return nil, missing, false
		}
	}
	return out, "", true
}

// compare says whether request value v matches any of the policy values.
func (c *Condition) compare(v string, patterns []string) valueState {
	switch c.op.family {
	case famString:
		for _, p := range patterns {
			if v == p {
				return valueMatches
			}
		}
		return valueNoMatch
	case famStringIgnoreCase:
		for _, p := range patterns {
			if strings.EqualFold(v, p) {
				return valueMatches
			}
		}
		return valueNoMatch
	case famStringLike:
		for _, p := range patterns {
			if globMatch(p, v, false) {
				return valueMatches
			}
		}
		return valueNoMatch
	case famArn:
		if _, ok := arnSegments(v); !ok {
			return valueIncomparable
		}
		for _, p := range patterns {
			if arnMatch(p, v) {
				return valueMatches
			}
		}
		return valueNoMatch
	case famNumeric:
		f, ok := parseNumber(v)
		if !ok {
			return valueIncomparable
		}
		for _, p := range c.typed.numbers {
			if compareOrdered(c.op.cmp, cmpFloat(f, p)) {
				return valueMatches
			}
		}
		return valueNoMatch
	case famDate:
		t, ok := parseDate(v)
		if !ok {
			return valueIncomparable
		}
		for _, p := range c.typed.dates {
			if compareOrdered(c.op.cmp, t.Compare(p)) {
				return valueMatches
			}
		}
		return valueNoMatch
	case famBool:
		if !strings.EqualFold(v, "true") && !strings.EqualFold(v, "false") {
			return valueIncomparable
		}
		for _, p := range c.Values {
			if strings.EqualFold(v, p) {
				return valueMatches
			}
		}
		return valueNoMatch
	case famBinary:
		b, ok := parseBinary(v)
		if !ok {
			return valueIncomparable
		}
		for _, p := range c.typed.binaries {
			if bytes.Equal(b, p) {
				return valueMatches
			}
		}
		return valueNoMatch
	case famIP:
		a, err := netip.ParseAddr(strings.TrimSpace(v))
		if err != nil {
			return valueIncomparable
		}
		a = a.Unmap()
		for _, p := range c.typed.prefixes {
			if p.Contains(a) {
				return valueMatches
			}
		}
		return valueNoMatch
	}
	return valueNoMatch
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// compareOrdered reports whether the request value (left) relates to the policy value as cmp
// asks, given their three-way comparison.
func compareOrdered(cmp comparison, order int) bool {
	switch cmp {
	case cmpEq:
		return order == 0
	case cmpLt:
		return order < 0
	case cmpLe:
		return order <= 0
	case cmpGt:
		return order > 0
	case cmpGe:
		return order >= 0
	}
	return false
}
