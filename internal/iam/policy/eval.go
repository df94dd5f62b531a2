package policy

import "strings"

// Context holds a request's condition keys and their values. Key names are case-insensitive
// (IAM's rule; a trust policy spelling "GITLAB.example.com:SUB" still means the sub): lookups
// try the lower-cased name first, so callers should store keys lower-cased (Set does) to keep
// evaluation free of scans. A key present with no values is treated as missing, except that
// ForAllValues finds it empty (true either way).
type Context map[string][]string

// Set stores values under the lower-cased key.
func (c Context) Set(key string, values ...string) { c[strings.ToLower(key)] = values }

// Get looks key up case-insensitively.
func (c Context) Get(key string) ([]string, bool) { return c.lookup(strings.ToLower(key), key) }

func (c Context) lookup(keyLow, key string) ([]string, bool) {
	if v, ok := c[keyLow]; ok {
		return v, true
	}
	if v, ok := c[key]; ok {
		return v, true
	}
	for k, v := range c {
		if strings.EqualFold(k, key) {
			return v, true
		}
	}
	return nil, false
}

// PrincipalType is the kind of caller, matching the keys of a Principal element.
type PrincipalType uint8

const (
	PrincipalNone          PrincipalType = iota // no principal (identity-policy evaluation)
	PrincipalAWS                                // an IAM user, role, assumed-role session or account
	PrincipalFederated                          // a web-identity provider: ID is its ARN
	PrincipalService                            // an AWS service, e.g. ec2.amazonaws.com
	PrincipalCanonicalUser                      // an S3 canonical user id
)

// Principal is who makes the request, as trust (resource-based) policies see it.
type Principal struct {
	Type PrincipalType
	ID   string // an ARN, provider ARN, service name or canonical user id
}

// Request is what is being authorized. Context carries every condition key, including the
// global ones (aws:CurrentTime, aws:SourceIp, ...): the engine reads no clock.
type Request struct {
	Principal Principal
	Action    string // "service:Action"
	Resource  string // an ARN; "" when the action has no resource (trust policies)
	Context   Context
	// PrincipalItself, for resource policies: a principal entry naming an
	// account (its id or :root ARN) does not match, only entries naming
	// the principal or, for a role session, its role. See EvaluateResource.
	PrincipalItself bool
}

// DecisionEffect is the outcome of an evaluation.
type DecisionEffect uint8

const (
	ImplicitDeny DecisionEffect = iota // no statement allows (the default)
	Allow                              // a statement allows and none denies
	ExplicitDeny                       // a Deny statement applies: nothing overrides it
)

func (e DecisionEffect) String() string {
	switch e {
	case Allow:
		return "Allow"
	case ExplicitDeny:
		return "ExplicitDeny"
	}
	return "ImplicitDeny"
}

// Decision is the result of an evaluation. Policy and Statement index the statement that
// decided (the first Deny that applied, else the first Allow); both are -1 on ImplicitDeny.
// Session says Policy indexes the session policies (EvaluateSession).
type Decision struct {
	Allowed   bool
	Effect    DecisionEffect
	Policy    int
	Statement int
	Session   bool
}

// StatementTrace records how one statement fared.
type StatementTrace struct {
	Policy    int // index into the policies passed (identity first, then session, for sessions)
	Session   bool
	Statement int
	Sid       string
	Effect    Effect
	Matched   bool
	// Failed names the first element that did not match ("Principal", "NotPrincipal",
	// "Action", "NotAction", "Resource", "NotResource", "Condition"); "" when Matched.
	Failed    string
	Reason    string
	Condition *ConditionTrace // the failing condition, when Failed == "Condition"
}

// ConditionTrace is one evaluated condition: what the policy expected and what the request had.
type ConditionTrace struct {
	Operator   string
	Key        string
	Expected   []string // policy values; variables substituted (Like-style: literal * ? as \* \?)
	Actual     []string // request values; nil when the key is missing
	KeyPresent bool
	Reason     string // set when the condition could not be evaluated (unresolved variable)
}

// Evaluate decides req against policies as one set (explicit Deny > Allow > implicit deny). A
// statement with a Principal or NotPrincipal applies only to a matching req.Principal, so the
// same call evaluates trust policies. Nil policies are skipped. It allocates nothing unless a
// policy variable has to be substituted.
func Evaluate(req *Request, policies ...*Policy) Decision {
	return evaluate(req, policies, false, nil)
}

// EvaluateTrace is Evaluate plus a trace of every statement (evaluation does not stop at the
// first Deny, so the trace is complete).
func EvaluateTrace(req *Request, policies ...*Policy) (Decision, []StatementTrace) {
	trace := make([]StatementTrace, 0, countStatements(policies))
	d := evaluate(req, policies, false, &trace)
	return d, trace
}

// EvaluateTrust evaluates a role's trust policy for an sts:AssumeRole* request. It is Evaluate
// on one policy, named for the call sites.
func EvaluateTrust(req *Request, trust *Policy) Decision { return Evaluate(req, trust) }

// EvaluateSession authorizes a request made with a session's credentials: effective
// permissions are the intersection of the identity policies (the role's inline and managed
// policies) and, when any were passed at AssumeRole* time, the session policies. An explicit
// Deny in either set wins; with session policies, both sets must allow.
func EvaluateSession(req *Request, identity, session []*Policy) Decision {
	return evaluateSession(req, identity, session, nil)
}

// EvaluateSessionTrace is EvaluateSession with a trace; session statements are marked Session
// and indexed within the session policies.
func EvaluateSessionTrace(req *Request, identity, session []*Policy) (Decision, []StatementTrace) {
	trace := make([]StatementTrace, 0, countStatements(identity)+countStatements(session))
	d := evaluateSession(req, identity, session, &trace)
	return d, trace
}

func countStatements(policies []*Policy) int {
	n := 0
	for _, p := range policies {
		if p != nil {
			n += len(p.Statements)
		}
	}
	return n
}

func evaluateSession(req *Request, identity, session []*Policy, trace *[]StatementTrace) Decision {
	id := evaluate(req, identity, false, trace)
	if id.Effect == ExplicitDeny && trace == nil {
		return id
	}
	if len(session) == 0 {
		return id
	}
	sess := evaluate(req, session, true, trace)
	switch {
	case id.Effect == ExplicitDeny:
		return id
	case sess.Effect == ExplicitDeny:
		return sess
	case id.Allowed && sess.Allowed:
		return id
	}
	return Decision{Effect: ImplicitDeny, Policy: -1, Statement: -1}
}

func evaluate(req *Request, policies []*Policy, session bool, trace *[]StatementTrace) Decision {
	d := Decision{Effect: ImplicitDeny, Policy: -1, Statement: -1}
	for pi, p := range policies {
		if p == nil {
			continue
		}
		for si, s := range p.Statements {
			var st *StatementTrace
			if trace != nil {
				*trace = append(*trace, StatementTrace{Policy: pi, Session: session, Statement: si, Sid: s.Sid, Effect: s.Effect})
				st = &(*trace)[len(*trace)-1]
			}
			if !s.applies(req, p.variables, st) {
				continue
			}
			switch {
			case s.Effect == EffectDeny && d.Effect != ExplicitDeny:
				d = Decision{Effect: ExplicitDeny, Policy: pi, Statement: si, Session: session}
				if trace == nil {
					return d
				}
			case s.Effect == EffectAllow && d.Effect == ImplicitDeny:
				d = Decision{Allowed: true, Effect: Allow, Policy: pi, Statement: si, Session: session}
			}
		}
	}
	return d
}

// applies reports whether every element of s matches req. tr, when not nil, receives the
// first element that failed and why.
func (s *Statement) applies(req *Request, vars bool, tr *StatementTrace) bool {
	// The reason is assembled only when tracing: building it for every
	// statement that does not apply was most of an untraced decision's cost.
	fail := func(element string, reason ...string) bool {
		if tr != nil {
			tr.Failed, tr.Reason = element, strings.Join(reason, "")
		}
		return false
	}
	if s.Principal != nil && !s.Principal.matchesFor(req) {
		return fail("Principal", "principal ", req.Principal.ID, " is not listed")
	}
	if s.NotPrincipal != nil && s.NotPrincipal.names(req.Principal) {
		return fail("NotPrincipal", "principal ", req.Principal.ID, " is excluded")
	}
	if matchAny(s.actions, req.Action) == (s.NotAction != nil) {
		if s.NotAction != nil {
			return fail("NotAction", "action ", req.Action, " is excluded")
		}
		return fail("Action", "action ", req.Action, " is not listed")
	}
	if s.resources != nil {
		matched, missing := matchResources(s.resources, req, vars)
		switch {
		case matched && s.NotResource != nil:
			return fail("NotResource", "resource ", req.Resource, " is excluded")
		case !matched && s.NotResource == nil && missing != "":
			return fail("Resource", "resource ", req.Resource, " is not listed (policy variable ${", missing, "} has no value)")
		case !matched && s.NotResource == nil:
			return fail("Resource", "resource ", req.Resource, " is not listed")
		}
	}
	for _, c := range s.Conditions {
		if tr == nil {
			if !c.test(req.Context, vars, nil) {
				return false
			}
			continue
		}
		// Filled on the stack; only a failing condition's trace is kept (and copied out).
		var ct ConditionTrace
		if !c.test(req.Context, vars, &ct) {
			kept := ct
			tr.Condition = &kept
			return fail("Condition", "condition ", c.Operator, " on ", c.Key, " is not satisfied")
		}
	}
	if tr != nil {
		tr.Matched = true
	}
	return true
}

// matchAny matches an action case-insensitively against Action/NotAction patterns.
func matchAny(patterns []template, action string) bool {
	for i := range patterns {
		p := &patterns[i]
		if p.literal && strings.EqualFold(p.raw, action) || !p.literal && globMatch(p.glob, action, true) {
			return true
		}
	}
	return false
}

// matchResources matches the resource (case-sensitively) against Resource/NotResource entries
// with variables substituted. An entry whose variable has no value matches no resource (as
// AWS documents for both Resource and NotResource: a NotResource entry that cannot be
// resolved excludes nothing); missing names the first such variable.
func matchResources(patterns []template, req *Request, vars bool) (matched bool, missing string) {
	for i := range patterns {
		p := &patterns[i]
		if p.literal {
			matched = matched || p.raw == req.Resource
			continue
		}
		pattern := p.glob
		if vars && p.parts != nil {
			var unresolved string
			var ok bool
			if pattern, unresolved, ok = p.render(req.Context, true); !ok {
				if missing == "" {
					missing = unresolved
				}
				continue
			}
		}
		if globMatch(pattern, req.Resource, false) {
			matched = true
		}
	}
	return matched, missing
}

// matches reports whether the request principal is one of ps. "*" matches everyone; a
// type's "*" ({"AWS": "*"}) matches every principal of that type (IAM documents {"AWS": "*"}
// as equal to "*" for resource policies; restricting it to AWS principals here keeps it from
// admitting web identities to a trust policy, the narrower reading). An account ("123456789012"
// or its :root ARN) matches every AWS principal in that account, and a role ARN matches the
// sessions of that role.
func (ps *Principals) matches(p Principal) bool {
	if ps.Any {
		return true
	}
	var list []string
	switch p.Type {
	case PrincipalAWS:
		for _, v := range ps.AWS {
			if v == "*" || v == p.ID || awsPrincipalCovers(v, p.ID) {
				return true
			}
		}
		return false
	case PrincipalFederated:
		list = ps.Federated
	case PrincipalService:
		list = ps.Service
	case PrincipalCanonicalUser:
		list = ps.CanonicalUser
	default:
		return false
	}
	for _, v := range list {
		if v == "*" || v == p.ID {
			return true
		}
	}
	return false
}

// matchesFor is matches, without account entries when the request asks
// for the principal itself.
func (ps *Principals) matchesFor(req *Request) bool {
	if !req.PrincipalItself || req.Principal.Type != PrincipalAWS {
		return ps.matches(req.Principal)
	}
	if ps.Any {
		return true // "*" names everyone, directly
	}
	for _, v := range ps.AWS {
		if v == "*" || v == req.Principal.ID || !isAccountPrincipal(v) && awsPrincipalCovers(v, req.Principal.ID) {
			return true
		}
	}
	return false
}

// names reports whether a NotPrincipal element names p itself. Unlike Principal, an entry
// naming an account or a role does not stand for the principals in it: AWS documents
// NotPrincipal ["arn:aws:iam::444455556666:user/Bob", "arn:aws:iam::444455556666:root"] with
// Deny as denying every principal except Bob (the account's other users included), and
// [session, role, account] as denying all but that one session (IAM User Guide,
// "AWS JSON policy elements: NotPrincipal").
func (ps *Principals) names(p Principal) bool {
	if ps.Any {
		return true
	}
	var list []string
	switch p.Type {
	case PrincipalAWS:
		list = ps.AWS
		for _, v := range list {
			// An account id names the account's root user, as its :root ARN does.
			if seg, ok := arnSegments(p.ID); ok && isAccountID(v) && seg[2] == "iam" && seg[5] == "root" && seg[4] == v {
				return true
			}
		}
	case PrincipalFederated:
		list = ps.Federated
	case PrincipalService:
		list = ps.Service
	case PrincipalCanonicalUser:
		list = ps.CanonicalUser
	default:
		return false
	}
	for _, v := range list {
		if v == "*" || v == p.ID {
			return true
		}
	}
	return false
}

// isAccountPrincipal: v names a whole account (its id or :root ARN).
func isAccountPrincipal(v string) bool {
	if isAccountID(v) {
		return true
	}
	seg, ok := arnSegments(v)
	return ok && seg[2] == "iam" && seg[5] == "root"
}

// ResourceGrant is how a resource policy decides a request.
type ResourceGrant int

const (
	// ResourceNoAllow: no statement allows (an implicit deny).
	ResourceNoAllow ResourceGrant = iota
	// ResourceDeny: an explicit Deny applies.
	ResourceDeny
	// ResourceAllowsAccount: allowed through the principal's account, so
	// the principal's own identity policies must allow too (KMS key
	// policies delegating to IAM).
	ResourceAllowsAccount
	// ResourceAllowsPrincipal: a statement names the principal (or its
	// role) itself: no identity policy is needed.
	ResourceAllowsPrincipal
)

// EvaluateResource decides req against a resource policy (a KMS key
// policy), telling an Allow given to the principal itself from one given
// to its account.
func EvaluateResource(req *Request, p *Policy) ResourceGrant {
	d := Evaluate(req, p)
	switch {
	case d.Effect == ExplicitDeny:
		return ResourceDeny
	case !d.Allowed:
		return ResourceNoAllow
	}
	if !p.namesPrincipals {
		return ResourceAllowsAccount // only accounts are named (the default key policy)
	}
	itself := *req
	itself.PrincipalItself = true
	if Evaluate(&itself, p).Allowed {
		return ResourceAllowsPrincipal
	}
	return ResourceAllowsAccount
}

// awsPrincipalCovers: policy entry v (account id, account root ARN or role ARN) covers caller
// ARN id.
func awsPrincipalCovers(v, id string) bool {
	caller, ok := arnSegments(id)
	if !ok {
		return false
	}
	if isAccountID(v) {
		return caller[4] == v
	}
	entry, ok := arnSegments(v)
	if !ok || entry[1] != caller[1] || entry[4] != caller[4] {
		return false
	}
	if entry[2] == "iam" && entry[5] == "root" {
		return true
	}
	// arn:P:iam::A:role/path/Name covers arn:P:sts::A:assumed-role/Name/session.
	if entry[2] == "iam" && caller[2] == "sts" && strings.HasPrefix(entry[5], "role/") {
		name := entry[5][strings.LastIndexByte(entry[5], '/')+1:]
		rest, ok := strings.CutPrefix(caller[5], "assumed-role/")
		if !ok {
			return false
		}
		roleName, _, found := strings.Cut(rest, "/")
		return found && roleName == name
	}
	return false
}
