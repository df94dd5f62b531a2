package policy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
	"unique"
	"unsafe"

	"github.com/go-json-experiment/json/jsontext"
)

// maxDepth bounds JSON nesting. A valid policy nests five deep (document, Statement list,
// statement, Condition, operator, value list); the margin only lets the error say "syntax".
const maxDepth = 16

// Parse parses and validates the grammar common to every kind of policy, under the largest
// default quota (an inline role policy's). Use ParseKind for a kind's own rules and quota.
func Parse(doc []byte) (*Policy, error) {
	return ParseWithLimit(doc, MaxInlineRolePolicySize)
}

// ParseKind parses under kind's default quota and checks kind's rules (Validate).
func ParseKind(doc []byte, kind Kind) (*Policy, error) {
	p, err := ParseWithLimit(doc, kind.MaxSize())
	if err != nil {
		return nil, err
	}
	if err := p.Validate(kind); err != nil {
		return nil, err
	}
	return p, nil
}

// ParseWithLimit parses with a size quota of max characters (max <= 0: only the service
// model's MaxDocumentChars). Size is counted as IAM counts it: characters, JSON whitespace
// outside strings excluded. Over quota → *LimitError; anything else wrong → *MalformedError.
//
// JSON is read strictly: duplicate member names anywhere are an error (AWS silently keeps
// one of two "StringEquals" blocks, dropping a condition; refusing is the safe reading),
// invalid UTF-8 is an error, and so is anything after the document.
func ParseWithLimit(doc []byte, max int) (*Policy, error) {
	return parse(doc, max, false)
}

// ParseResourcePolicy parses a resource policy (a KMS key policy) under
// its quota and checks its rules. Unlike IAM's documents, a resource
// policy's Sid may be any text ("Enable IAM User Permissions" is the
// default KMS key policy's).
func ParseResourcePolicy(doc []byte) (*Policy, error) {
	p, err := parse(doc, MaxKeyPolicySize, true)
	if err != nil {
		return nil, err
	}
	if err := p.Validate(ResourcePolicy); err != nil {
		return nil, err
	}
	return p, nil
}

// ParseRepositoryPolicy parses an ECR repository policy under its quota
// and checks its rules: as a resource policy's, but Resource may be left
// out.
func ParseRepositoryPolicy(doc []byte) (*Policy, error) {
	p, err := parse(doc, MaxRepositoryPolicySize, true)
	if err != nil {
		return nil, err
	}
	if err := p.Validate(RepositoryPolicy); err != nil {
		return nil, err
	}
	return p, nil
}

func parse(doc []byte, max int, anySid bool) (*Policy, error) {
	if len(doc) > 4*MaxDocumentChars { // cheap bound before counting: ≤ 4 bytes per character
		return nil, &LimitError{Size: utf8.RuneCount(doc), Limit: quota(max)}
	}
	if n := policySize(doc); n > quota(max) {
		return nil, &LimitError{Size: n, Limit: quota(max)}
	}
	root, err := decodeTree(doc)
	if err != nil {
		return nil, malformed(msgSyntax)
	}
	return buildPolicy(root, anySid)
}

func quota(max int) int {
	if max <= 0 || max > MaxDocumentChars {
		return MaxDocumentChars
	}
	return max
}

// policySize counts characters other than JSON whitespace outside strings.
func policySize(doc []byte) int {
	n, inString, escaped := 0, false, false
	for _, c := range doc {
		if c&0xC0 == 0x80 { // UTF-8 continuation byte: part of the previous character
			continue
		}
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			continue
		}
		n++
	}
	return n
}

// node is a decoded JSON value that keeps object member order (conditions are traced in
// document order) and tells strings from numbers and booleans.
type node struct {
	kind    jsontext.Kind
	text    string // string value, or raw number/true/false
	members []member
	items   []node
}

type member struct {
	name  string
	value node
}

// intern returns the one shared copy of s. Parsed policies live as long as
// the roles, users and policies holding them, often thousands at once, and
// much of their text repeats across documents (element names, operators,
// condition keys, provider ARNs, actions): sharing it keeps the retained
// heap, and so the collector's work under load, to what is distinct.
// Unused strings are dropped from the table by the collector.
//
// What is as often particular to one document (statement ids, condition
// values: a project's path, a repository's name) goes to the statement's
// arena instead: a new string interned costs the table three objects and a
// weak pointer the collector visits on every cycle, where the arena holds
// all of a statement's in one object.
func intern(s string) string { return unique.Make(s).Value() }

func decodeTree(doc []byte) (node, error) {
	// jsontext's defaults are the strictness we want: duplicate names and invalid UTF-8 fail.
	dec := jsontext.NewDecoder(bytes.NewReader(doc))
	n, err := decodeNode(dec, 0)
	if err != nil {
		return node{}, err
	}
	if _, err := dec.ReadToken(); err != io.EOF {
		return node{}, errors.New("trailing data after the document")
	}
	return n, nil
}

func decodeNode(dec *jsontext.Decoder, depth int) (node, error) {
	if depth > maxDepth {
		return node{}, errors.New("nested too deeply")
	}
	tok, err := dec.ReadToken()
	if err != nil {
		return node{}, err
	}
	n := node{kind: tok.Kind()}
	switch n.kind {
	case '{':
		for dec.PeekKind() != '}' {
			tok, err := dec.ReadToken()
			if err != nil {
				return node{}, err
			}
			name := intern(tok.String()) // before the next read invalidates tok
			v, err := decodeNode(dec, depth+1)
			if err != nil {
				return node{}, err
			}
			n.members = append(n.members, member{name: name, value: v})
		}
		if _, err := dec.ReadToken(); err != nil {
			return node{}, err
		}
	case '[':
		for dec.PeekKind() != ']' {
			v, err := decodeNode(dec, depth+1)
			if err != nil {
				return node{}, err
			}
			n.items = append(n.items, v)
		}
		if _, err := dec.ReadToken(); err != nil {
			return node{}, err
		}
	case 'n':
	default:
		n.text = tok.String() // interned or copied to an arena where kept (a policy Id, rare, as it is)
	}
	if n.kind == 0 {
		return node{}, errors.New("invalid token")
	}
	return n, nil
}

// strings returns a string-or-list-of-strings element, each string
// interned; ok is false for any other shape, including an empty list (AWS
// rejects "Resource": null and an element that names nothing). A list of
// one is one[:] when one is given (an array inside the object that keeps
// the list: one object fewer).
func (n node) strings(one *[1]string) ([]string, bool) {
	switch n.kind {
	case '"':
		if one != nil {
			one[0] = intern(n.text)
			return one[:], true
		}
		return []string{intern(n.text)}, true
	case '[':
		if len(n.items) == 0 {
			return nil, false
		}
		if len(n.items) == 1 && one != nil && n.items[0].kind == '"' {
			one[0] = intern(n.items[0].text)
			return one[:], true
		}
		out := make([]string, 0, len(n.items))
		for _, it := range n.items {
			if it.kind != '"' {
				return nil, false
			}
			out = append(out, intern(it.text))
		}
		return out, true
	}
	return nil, false
}

// arena holds a statement's strings that are seldom shared with other
// documents (see intern) in one allocation. Its buffer is sized once and
// never grows, so the strings handed out stay valid and never change.
type arena struct{ buf []byte }

// add returns a copy of s in the arena (a copy of its own should the
// arena be full, which a size counted from the same document rules out).
func (a *arena) add(s string) string {
	if s == "" {
		return ""
	}
	if a == nil || cap(a.buf)-len(a.buf) < len(s) {
		return strings.Clone(s)
	}
	start := len(a.buf)
	a.buf = append(a.buf, s...)
	return unsafe.String(&a.buf[start], len(s))
}

// arenaSize is what a statement's arena holds: its Sid and its condition
// values.
func arenaSize(n *node) int {
	size := 0
	for i := range n.members {
		m := &n.members[i]
		switch m.name {
		case "Sid":
			size += len(m.value.text)
		case "Condition":
			for j := range m.value.members {
				for k := range m.value.members[j].value.members {
					v := &m.value.members[j].value.members[k].value
					size += len(v.text)
					for l := range v.items {
						size += len(v.items[l].text)
					}
				}
			}
		}
	}
	return size
}

// scalars is strings() for condition values, which may also be written as JSON numbers or
// booleans ("aws:MultiFactorAuthAge": 3600, "aws:SecureTransport": false); they are kept as
// their JSON text, which is what IAM compares.
// appendScalars appends n's values (n itself, or the items of an array of
// them), copied to ar, to dst.
func (n node) appendScalars(dst []string, ar *arena) ([]string, bool) {
	isScalar := func(k jsontext.Kind) bool { return k == '"' || k == '0' || k == 't' || k == 'f' }
	if isScalar(n.kind) {
		return append(dst, ar.add(n.text)), true
	}
	if n.kind != '[' || len(n.items) == 0 {
		return dst, false
	}
	for _, it := range n.items {
		if !isScalar(it.kind) {
			return dst, false
		}
		dst = append(dst, ar.add(it.text))
	}
	return dst, true
}

func buildPolicy(root node, anySid bool) (*Policy, error) {
	if root.kind != '{' {
		return nil, malformed(msgSyntax)
	}
	var head Policy // Version and Id, until the statements are counted
	var stmts *node
	for i := range root.members {
		m := &root.members[i]
		switch m.name {
		case "Version":
			if m.value.kind != '"' {
				return nil, malformed(msgSyntax)
			}
			head.Version = intern(m.value.text)
		case "Id":
			if m.value.kind != '"' {
				return nil, malformed(msgSyntax)
			}
			head.ID = m.value.text
		case "Statement":
			stmts = &m.value
		default:
			// Element names are case-sensitive: "statement" or "Condition" at the top level
			// is an unknown element, not a synonym.
			return nil, malformed(msgSyntax)
		}
	}
	switch head.Version {
	case "", Version2008:
	case Version2012:
		head.variables = true
	default:
		// Confirmed against AWS (LocalStack's snapshot of CreatePolicy
		// with Version 2013-10-17).
		return nil, malformed(msgSyntax)
	}
	if stmts == nil {
		return nil, malformed(msgSyntax)
	}
	var list []node
	switch stmts.kind {
	case '{':
		list = []node{*stmts}
	case '[':
		list = stmts.items
	default:
		return nil, malformed(msgSyntax)
	}
	if len(list) == 0 {
		return nil, malformed(msgSyntax)
	}
	// A policy of one statement (every role's trust policy, as a rule)
	// is allocated with its statement list and the statement (with its
	// Principal), one object for all.
	var p *Policy
	var first *statementWithPrincipal
	if len(list) == 1 {
		all := &struct {
			Policy
			one [1]*Statement
			statementWithPrincipal
		}{Policy: head}
		p, first = &all.Policy, &all.statementWithPrincipal
		p.Statements = all.one[:0]
	} else {
		p = new(Policy)
		*p = head
		p.Statements = make([]*Statement, 0, len(list))
	}
	sids := make(map[string]bool, len(list))
	for i := range list {
		s, err := buildStatement(&list[i], p.variables, anySid, first)
		if err != nil {
			return nil, err
		}
		if s.Sid != "" {
			if sids[s.Sid] {
				// Wording recalled from IAM, unconfirmed.
				return nil, malformed("Statement IDs (SID) in a single policy must be unique.")
			}
			sids[s.Sid] = true
		}
		p.Statements = append(p.Statements, s)
		for _, ps := range []*Principals{s.Principal, s.NotPrincipal} {
			if ps != nil && (ps.Any || slices.ContainsFunc(ps.AWS, func(v string) bool { return !isAccountPrincipal(v) })) {
				p.namesPrincipals = true
			}
		}
	}
	return p, nil
}

// statementWithPrincipal is a statement allocated with its Principal, one
// object for the two (parsed trust policies live as long as their cached
// roles).
type statementWithPrincipal struct {
	Statement
	principal Principals
}

// buildStatement builds n's statement, in into when given (a zero value
// allocated with the policy).
func buildStatement(n *node, vars, anySid bool, into *statementWithPrincipal) (*Statement, error) {
	if n.kind != '{' {
		return nil, malformed(msgSyntax)
	}
	var s *Statement
	var principal *Principals
	switch {
	case into != nil:
		s, principal = &into.Statement, &into.principal
	case slices.ContainsFunc(n.members, func(m member) bool { return m.name == "Principal" }):
		both := &statementWithPrincipal{}
		s, principal = &both.Statement, &both.principal
	default:
		s = &Statement{}
	}
	ar := &arena{buf: make([]byte, 0, arenaSize(n))}
	var cond *node
	hasEffect := false
	for i := range n.members {
		m := &n.members[i]
		var err error
		switch m.name {
		case "Sid":
			if m.value.kind != '"' {
				return nil, malformed(msgSyntax)
			}
			s.Sid = ar.add(m.value.text)
			if !anySid && !isAlnum(s.Sid) {
				// Wording recalled from IAM (identity and trust policies), unconfirmed.
				return nil, malformed("Statement IDs (SID) must be alpha-numeric. Check that your input satisfies the regular expression [0-9A-Za-z]*")
			}
		case "Effect":
			if m.value.kind != '"' {
				return nil, malformed(msgSyntax)
			}
			switch m.value.text {
			case "Allow":
				s.Effect = EffectAllow
			case "Deny":
				s.Effect = EffectDeny
			default:
				// Unconfirmed wording.
				return nil, malformed("Invalid effect: " + m.value.text)
			}
			hasEffect = true
		case "Principal":
			s.Principal, err = buildPrincipals(&m.value, principal)
		case "NotPrincipal":
			s.NotPrincipal, err = buildPrincipals(&m.value, nil)
		case "Action":
			s.Action, err = actionList(&m.value)
		case "NotAction":
			s.NotAction, err = actionList(&m.value)
		case "Resource":
			s.Resource, err = resourceList(&m.value)
		case "NotResource":
			s.NotResource, err = resourceList(&m.value)
		case "Condition":
			cond = &m.value
		default:
			return nil, malformed(msgSyntax)
		}
		if err != nil {
			return nil, err
		}
	}
	if !hasEffect {
		return nil, malformed("Missing required field Effect") // unconfirmed wording
	}
	if s.Principal != nil && s.NotPrincipal != nil ||
		s.Action != nil && s.NotAction != nil ||
		s.Resource != nil && s.NotResource != nil {
		return nil, malformed(msgSyntax)
	}
	if s.Action == nil && s.NotAction == nil {
		return nil, malformed("Policy statement must contain actions.") // unconfirmed wording
	}
	if s.NotPrincipal != nil && s.Effect == EffectAllow {
		// AWS supports NotPrincipal only with Deny; an Allow with it grants to the whole world
		// but the listed principals. Unconfirmed wording.
		return nil, malformed("NotPrincipal is supported only with Effect Deny")
	}
	acts := s.Action
	if acts == nil {
		acts = s.NotAction
	}
	if shared, ok := commonActions[singleAction(s.Action)]; ok {
		s.Action, s.actions = shared.list, shared.compiled
	} else {
		for _, a := range acts {
			// Actions are never variables; compile with vars=false so "${" stays literal.
			s.actions = append(s.actions, compileTemplate(a, false))
		}
	}
	res := s.Resource
	if res == nil {
		res = s.NotResource
	}
	for _, r := range res {
		s.resources = append(s.resources, compileTemplate(r, vars))
	}
	if cond != nil {
		var err error
		if s.Conditions, err = buildConditions(cond, vars, ar); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// commonActions are single-action lists so frequent (every role's trust
// policy has one) that one shared copy, never written, serves every
// statement with that exact Action: two objects fewer per cached role.
var commonActions = func() map[string]compiledActions {
	m := map[string]compiledActions{}
	for _, a := range []string{"sts:AssumeRoleWithWebIdentity", "sts:AssumeRole", "sts:AssumeRoleWithSAML", "sts:TagSession"} {
		m[a] = compiledActions{list: []string{a}, compiled: []template{compileTemplate(a, false)}}
	}
	return m
}()

type compiledActions struct {
	list     []string
	compiled []template
}

// singleAction is list's one action, or "" when it has not exactly one.
func singleAction(list []string) string {
	if len(list) == 1 {
		return list[0]
	}
	return ""
}

func isAlnum(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return false
		}
	}
	return true
}

// actionList checks each action is "*" or "service:action": the service prefix is a plain
// name and the action part may use wildcards.
func actionList(n *node) ([]string, error) {
	list, ok := n.strings(nil)
	if !ok {
		return nil, malformed(msgSyntax)
	}
	for _, a := range list {
		if a == "*" {
			continue
		}
		service, name, found := strings.Cut(a, ":")
		if !found || service == "" || name == "" {
			// Unconfirmed wording (IAM names the offending action in its message).
			return nil, malformed("Invalid action: " + a)
		}
		if strings.Contains(name, ":") {
			return nil, malformed(msgActionColons)
		}
		if strings.ContainsAny(service, "*? \t\r\n") {
			// Unconfirmed wording.
			return nil, malformed("Vendor " + service + " is not valid")
		}
	}
	return list, nil
}

// resourceList accepts "*" or an ARN ("arn:" and at least six components). AWS answers a
// string that is not an ARN with "must be in ARN format" and an "arn:" with too few
// components (arn:aws:s3::bucket) with "legacy parsing" (both seen in LocalStack's
// snapshots of AWS).
func resourceList(n *node) ([]string, error) {
	list, ok := n.strings(nil)
	if !ok {
		return nil, malformed(msgSyntax)
	}
	for _, r := range list {
		if r == "*" {
			continue
		}
		if !strings.HasPrefix(r, "arn:") {
			return nil, malformed("Resource " + r + " must be in ARN format or \"*\".")
		}
		if _, ok := arnSegments(r); !ok {
			return nil, malformed(msgLegacyParse)
		}
	}
	return list, nil
}

func invalidPrincipal(typ, value string) error {
	// Wording as reported from IAM: Invalid principal in policy: "AWS":"arn:..."
	return malformed(fmt.Sprintf("Invalid principal in policy: %s:%s", strconv.Quote(typ), strconv.Quote(value)))
}

// buildPrincipals fills p (a new Principals when nil).
func buildPrincipals(n *node, p *Principals) (*Principals, error) {
	if p == nil {
		p = &Principals{}
	}
	if n.kind == '"' {
		if n.text != "*" {
			return nil, malformed("Invalid principal in policy")
		}
		*p = Principals{Any: true}
		return p, nil
	}
	if n.kind != '{' || len(n.members) == 0 {
		return nil, malformed("Invalid principal in policy")
	}
	one := &p.one // for the first list of one
	for i := range n.members {
		m := &n.members[i]
		list, ok := m.value.strings(one)
		if !ok {
			return nil, malformed("Invalid principal in policy")
		}
		if len(list) == 1 && one != nil {
			one = nil
		}
		for _, v := range list {
			if !validPrincipal(m.name, v) {
				return nil, invalidPrincipal(m.name, v)
			}
		}
		switch m.name {
		case "AWS":
			p.AWS = list
		case "Federated":
			p.Federated = list
		case "Service":
			p.Service = list
		case "CanonicalUser":
			p.CanonicalUser = list
		default:
			return nil, invalidPrincipal(m.name, list[0])
		}
	}
	return p, nil
}

func validPrincipal(typ, v string) bool {
	if v == "" || strings.ContainsAny(v, " \t\r\n") {
		return false
	}
	switch typ {
	case "AWS":
		if v == "*" || isAccountID(v) {
			return true
		}
		seg, ok := arnSegments(v)
		return ok && seg[0] == "arn" && seg[2] != "" && seg[5] != "" && !strings.ContainsAny(v, "*?")
	case "Federated", "Service":
		return !strings.ContainsAny(v, "?") && (v == "*" || !strings.Contains(v, "*"))
	case "CanonicalUser":
		return len(v) == 64 && isHex(v)
	}
	return true // unknown types are reported by the caller with their name
}

func isAccountID(s string) bool {
	if len(s) != 12 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// allocConditions returns n zero conditions, an empty list with room for
// pointers to them and an empty list with room for nv values, in one
// object when n and nv are small (trust policies test one to three keys,
// with one or two values each).
func allocConditions(n, nv int) ([]Condition, []*Condition, []string) {
	switch {
	case n == 1 && nv <= 2:
		b := &struct {
			c [1]Condition
			p [1]*Condition
			v [2]string
		}{}
		return b.c[:], b.p[:0], b.v[:0:nv]
	case n == 2 && nv <= 4:
		b := &struct {
			c [2]Condition
			p [2]*Condition
			v [4]string
		}{}
		return b.c[:], b.p[:0], b.v[:0:nv]
	case n == 3 && nv <= 6:
		b := &struct {
			c [3]Condition
			p [3]*Condition
			v [6]string
		}{}
		return b.c[:], b.p[:0], b.v[:0:nv]
	}
	c, p := allocConditionsOnly(n)
	return c, p, make([]string, 0, nv)
}

// allocConditionsOnly is allocConditions for the conditions and their
// list only.
func allocConditionsOnly(n int) ([]Condition, []*Condition) {
	switch n {
	case 1:
		b := &struct {
			c [1]Condition
			p [1]*Condition
		}{}
		return b.c[:], b.p[:0]
	case 2:
		b := &struct {
			c [2]Condition
			p [2]*Condition
		}{}
		return b.c[:], b.p[:0]
	case 3:
		b := &struct {
			c [3]Condition
			p [3]*Condition
		}{}
		return b.c[:], b.p[:0]
	}
	return make([]Condition, n), make([]*Condition, 0, n)
}

func buildConditions(n *node, vars bool, ar *arena) ([]*Condition, error) {
	if n.kind != '{' {
		return nil, malformed(msgSyntax)
	}
	// All of the block's conditions in one array: parsed policies live as
	// long as the cached roles that hold them, and the collector's work on
	// every cycle grows with the number of objects.
	// Their values share one array too, each condition's a full slice of
	// it (so nothing appended to one can reach the next).
	total, totalValues := 0, 0
	for i := range n.members {
		if v := &n.members[i].value; v.kind == '{' {
			total += len(v.members)
			for j := range v.members {
				totalValues += max(1, len(v.members[j].value.items))
			}
		}
	}
	all, out, allValues := allocConditions(total, totalValues)
	for i := range n.members {
		opm := &n.members[i]
		op, ok := parseOperator(opm.name)
		if !ok {
			// Unconfirmed wording.
			return nil, malformed("Invalid Condition type : " + opm.name)
		}
		if opm.value.kind != '{' || len(opm.value.members) == 0 {
			return nil, malformed(msgSyntax)
		}
		for j := range opm.value.members {
			km := &opm.value.members[j]
			start := len(allValues)
			allValues, ok = km.value.appendScalars(allValues, ar)
			if !ok || km.name == "" {
				return nil, malformed(msgSyntax)
			}
			values := allValues[start:len(allValues):len(allValues)]
			c := &all[len(out)]
			if err := initCondition(c, opm.name, op, km.name, values, vars); err != nil {
				return nil, err
			}
			out = append(out, c)
		}
	}
	return out, nil
}

// Validate checks the rules of kind on top of the common grammar.
func (p *Policy) Validate(kind Kind) error {
	for _, s := range p.Statements {
		hasPrincipal := s.Principal != nil || s.NotPrincipal != nil
		hasResource := s.Resource != nil || s.NotResource != nil
		switch kind {
		case TrustPolicy:
			if !hasPrincipal {
				return malformed("Missing required field Principal") // unconfirmed wording
			}
			if hasResource {
				return malformed("Has prohibited field Resource") // recalled, unconfirmed
			}
		case ResourcePolicy:
			if !hasPrincipal {
				return malformed("Missing required field Principal") // unconfirmed wording
			}
			if !hasResource {
				return malformed("Policy statement must contain resources.") // unconfirmed wording
			}
		case RepositoryPolicy:
			if !hasPrincipal {
				return malformed("Missing required field Principal") // unconfirmed wording
			}
		case IdentityPolicy, SessionPolicy:
			if hasPrincipal {
				return malformed("Policy document should not specify a principal.") // recalled
			}
			if !hasResource {
				return malformed("Policy statement must contain resources.") // unconfirmed wording
			}
		default:
			return fmt.Errorf("policy: unknown kind %v", kind)
		}
	}
	return nil
}

// Size is a document's size as IAM counts it against its quotas:
// characters, JSON whitespace outside strings excluded.
func Size(doc []byte) int { return policySize(doc) }
