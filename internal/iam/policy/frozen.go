package policy

import (
	"encoding/binary"
	"errors"
)

// Frozen is a parsed Policy kept as one string, for policies that live as
// long as the entity caching them. The collector marks every cached
// *Policy, and scans all its objects, on every cycle: with 10,000 cached
// roles their trust policies were two thirds of the collector's work per
// cycle under load (BenchmarkCachedRoleLookup), the main cost of the
// 10,000-role server over a 10-role one (scripts/load-roles). A string has
// no pointers to scan. Thaw rebuilds the Policy on use, in a handful of
// allocations and no parsing: its strings are substrings of the frozen
// one, which they keep alive.
//
// The frozen form keeps every field of the Policy, so the thawed policy is
// the parsed one (TestFreezeRoundTrip, FuzzFreeze) and one evaluator
// serves both. Policies with what it does not encode (typed condition
// values, policy variables) are not frozen (Freeze returns "").
type Frozen string

const frozenFormat = 1

// Freeze returns p's frozen form, or "" when p has typed condition values
// (Numeric, Date, IpAddress, Binary) or policy variables, which the frozen
// form does not encode.
func Freeze(p *Policy) Frozen {
	var counts frozenCounts
	for _, s := range p.Statements {
		if !counts.statement(s) {
			return ""
		}
	}
	w := frozenWriter{b: make([]byte, 0, 512)}
	w.b = append(w.b, frozenFormat)
	w.uint(uint64(len(p.Statements)))
	w.uint(uint64(counts.principals))
	w.uint(uint64(counts.strings))
	w.uint(uint64(counts.conditions))
	w.uint(uint64(counts.templates))
	w.str(p.Version)
	w.str(p.ID)
	w.bool(p.variables)
	w.bool(p.namesPrincipals)
	for _, s := range p.Statements {
		w.str(s.Sid)
		w.uint(uint64(s.Effect))
		w.principals(s.Principal)
		w.principals(s.NotPrincipal)
		w.list(s.Action)
		w.list(s.NotAction)
		w.list(s.Resource)
		w.list(s.NotResource)
		w.conditions(s.Conditions)
		w.templates(s.actions)
		w.templates(s.resources)
	}
	return Frozen(w.b)
}

// frozenCounts sizes Thaw's shared backing arrays.
type frozenCounts struct{ principals, strings, conditions, templates int }

// statement counts s, reporting false when the frozen form cannot keep it.
func (c *frozenCounts) statement(s *Statement) bool {
	for _, p := range []*Principals{s.Principal, s.NotPrincipal} {
		if p != nil {
			c.principals++
			c.strings += len(p.AWS) + len(p.Federated) + len(p.Service) + len(p.CanonicalUser)
		}
	}
	c.strings += len(s.Action) + len(s.NotAction) + len(s.Resource) + len(s.NotResource)
	for _, cond := range s.Conditions {
		if cond.typed != nil || cond.values != nil || cond.hasVariables {
			return false
		}
		c.conditions++
		c.strings += len(cond.Values)
		if !globsAreValues(cond) {
			c.strings += len(cond.globs)
		}
	}
	for _, ts := range [][]template{s.actions, s.resources} {
		for _, t := range ts {
			if t.parts != nil {
				return false
			}
		}
		c.templates += len(ts)
	}
	return true
}

type frozenWriter struct{ b []byte }

func (w *frozenWriter) uint(n uint64) { w.b = binary.AppendUvarint(w.b, n) }

func (w *frozenWriter) str(s string) {
	w.uint(uint64(len(s)))
	w.b = append(w.b, s...)
}

func (w *frozenWriter) bool(v bool) {
	if v {
		w.b = append(w.b, 1)
	} else {
		w.b = append(w.b, 0)
	}
}

// count writes n plus one, or 0 for a nil slice: a nil list and an empty
// one differ (an absent element is not an empty one). It reports whether
// the elements follow.
func (w *frozenWriter) count(n int, isNil bool) bool {
	if isNil {
		w.uint(0)
		return false
	}
	w.uint(uint64(n) + 1)
	return true
}

func (w *frozenWriter) list(l []string) {
	if w.count(len(l), l == nil) {
		w.strs(l)
	}
}

func (w *frozenWriter) strs(l []string) {
	for _, s := range l {
		w.str(s)
	}
}

func (w *frozenWriter) principals(p *Principals) {
	if p == nil {
		w.bool(false)
		return
	}
	w.bool(true)
	w.bool(p.Any)
	w.list(p.AWS)
	w.list(p.Federated)
	w.list(p.Service)
	w.list(p.CanonicalUser)
	w.str(p.one[0])
}

func (w *frozenWriter) conditions(cs []*Condition) {
	if !w.count(len(cs), cs == nil) {
		return
	}
	for _, c := range cs {
		w.str(c.Operator)
		w.str(c.Key)
		w.list(c.Values)
		w.b = append(w.b, byte(c.op.family), byte(c.op.cmp), byte(c.op.set))
		w.bool(c.op.negated)
		w.bool(c.op.ifExists)
		w.str(c.keyLow)
		w.globs(c)
	}
}

// globsAreValues reports whether c.globs is c.Values (the parser shares
// the slice when no value needed escaping).
func globsAreValues(c *Condition) bool {
	return c.globs != nil && c.Values != nil && len(c.globs) == len(c.Values) && (len(c.globs) == 0 || &c.globs[0] == &c.Values[0])
}

// globs writes c.globs: 0 for none, 1 when they are c.Values (no value
// needed escaping, and the parser shares the slice), else the list's
// length plus two.
func (w *frozenWriter) globs(c *Condition) {
	switch {
	case c.globs == nil:
		w.uint(0)
	case globsAreValues(c):
		w.uint(1)
	default:
		w.uint(uint64(len(c.globs)) + 2)
		w.strs(c.globs)
	}
}

func (w *frozenWriter) templates(ts []template) {
	if !w.count(len(ts), ts == nil) {
		return
	}
	for _, t := range ts {
		w.str(t.raw)
		w.str(t.glob)
		w.bool(t.literal)
	}
}

// errFrozen is Thaw's error for a string Freeze did not make.
var errFrozen = errors.New("policy: not a frozen policy")

// Thaw rebuilds the Policy f was frozen from.
func (f Frozen) Thaw() (*Policy, error) {
	r := frozenReader{s: string(f)}
	if r.byte() != frozenFormat {
		return nil, errFrozen
	}
	n := r.count()
	principals := make([]Principals, r.count())
	strs := make([]string, r.count())
	conds := make([]Condition, r.count())
	tmpls := make([]template, r.count())
	if r.err != nil {
		return nil, r.err
	}
	p := new(Policy)
	p.Version = r.str()
	p.ID = r.str()
	p.variables = r.bool()
	p.namesPrincipals = r.bool()
	stmts := make([]Statement, n)
	p.Statements = make([]*Statement, n)
	condPtrs := make([]*Condition, len(conds))
	r.strs, r.conds, r.condPtrs, r.tmpls, r.principals = strs, conds, condPtrs, tmpls, principals
	for i := range stmts {
		s := &stmts[i]
		s.Sid = r.str()
		s.Effect = Effect(r.uint())
		s.Principal = r.principalsOf()
		s.NotPrincipal = r.principalsOf()
		s.Action = r.list()
		s.NotAction = r.list()
		s.Resource = r.list()
		s.NotResource = r.list()
		s.Conditions = r.conditions()
		s.actions = r.templates()
		s.resources = r.templates()
		p.Statements[i] = s
	}
	if r.err != nil || r.i != len(r.s) {
		return nil, errFrozen
	}
	return p, nil
}

// frozenReader reads a frozen policy, handing out its strings as
// substrings and its slices from the shared backing arrays, each capped
// at its own length so that no append can reach a neighbour.
type frozenReader struct {
	s   string
	i   int
	err error

	strs       []string
	conds      []Condition
	condPtrs   []*Condition
	tmpls      []template
	principals []Principals
}

func (r *frozenReader) fail() {
	r.err = errFrozen
	r.i = len(r.s)
}

func (r *frozenReader) byte() byte {
	if r.i >= len(r.s) {
		r.fail()
		return 0
	}
	r.i++
	return r.s[r.i-1]
}

func (r *frozenReader) bool() bool { return r.byte() == 1 }

func (r *frozenReader) uint() uint64 {
	var n uint64
	for shift := 0; shift < 64; shift += 7 {
		b := r.byte()
		n |= uint64(b&0x7f) << shift
		if b < 0x80 {
			return n
		}
	}
	r.fail()
	return 0
}

// count reads a length no larger than the string could hold.
func (r *frozenReader) count() int {
	n := r.uint()
	if n > uint64(len(r.s)) {
		r.fail()
		return 0
	}
	return int(n)
}

func (r *frozenReader) str() string {
	n := r.count()
	if r.err != nil || n > len(r.s)-r.i {
		r.fail()
		return ""
	}
	r.i += n
	return r.s[r.i-n : r.i]
}

// take returns the next n elements of *backing, capped at n.
func take[T any](r *frozenReader, backing *[]T, n int) []T {
	if n > len(*backing) {
		r.fail()
		return nil
	}
	out := (*backing)[:n:n]
	*backing = (*backing)[n:]
	return out
}

// strings reads n strings into the next n elements of r.strs.
func (r *frozenReader) strings(n int) []string {
	out := take(r, &r.strs, n)
	for i := range out {
		out[i] = r.str()
	}
	return out
}

func (r *frozenReader) list() []string {
	n := r.count()
	if n == 0 || r.err != nil {
		return nil
	}
	return r.strings(n - 1)
}

func (r *frozenReader) principalsOf() *Principals {
	if !r.bool() {
		return nil
	}
	one := take(r, &r.principals, 1)
	if one == nil {
		return nil
	}
	p := &one[0]
	p.Any = r.bool()
	p.AWS = r.list()
	p.Federated = r.list()
	p.Service = r.list()
	p.CanonicalUser = r.list()
	p.one[0] = r.str()
	return p
}

func (r *frozenReader) conditions() []*Condition {
	n := r.count()
	if n == 0 || r.err != nil {
		return nil
	}
	cs := take(r, &r.conds, n-1)
	out := take(r, &r.condPtrs, n-1)
	for i := range cs {
		c := &cs[i]
		c.Operator = r.str()
		c.Key = r.str()
		c.Values = r.list()
		c.op.family = family(r.byte())
		c.op.cmp = comparison(r.byte())
		c.op.set = setQualifier(r.byte())
		c.op.negated = r.bool()
		c.op.ifExists = r.bool()
		c.keyLow = r.str()
		switch g := r.count(); g {
		case 0:
		case 1:
			c.globs = c.Values
		default:
			c.globs = r.strings(g - 2)
		}
		if i < len(out) {
			out[i] = c
		}
	}
	return out
}

func (r *frozenReader) templates() []template {
	n := r.count()
	if n == 0 || r.err != nil {
		return nil
	}
	ts := take(r, &r.tmpls, n-1)
	for i := range ts {
		ts[i].raw = r.str()
		ts[i].glob = r.str()
		ts[i].literal = r.bool()
	}
	return ts
}
