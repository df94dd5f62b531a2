package api

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/oidcfed/oidcfed/internal/awsproto"
	"github.com/oidcfed/oidcfed/internal/iam"
	"github.com/oidcfed/oidcfed/internal/iam/policy"
)

// IAM's policy simulator: SimulateCustomPolicy evaluates policies passed as
// strings, SimulatePrincipalPolicy those of a user or role (plus any passed
// as strings), for every pair of ActionNames and ResourceArns, with the
// condition keys of ContextEntries. Nothing is stored.
//
// What AWS leaves unsaid and is decided here (each decision is also named
// where it is made):
//   - SourcePolicyType is "IAM Policy" for identity policies and "Resource
//     Policy" for the ResourcePolicy, as AWS answers in practice, not the
//     service model's enum (user, role, aws-managed, ...), which AWS does not
//     send;
//   - MatchedStatements: for allowed and explicitDeny, the statements that
//     decided each policy set (resource policy, identity policies,
//     permissions boundary, in that order) — a set's Deny statements when it
//     denies, else its Allow statements; none for implicitDeny;
//   - MissingContextValues lists the keys every statement reads (see
//     policy.Policy.ContextKeys), not only those about the action.

// Source policy types as AWS's simulator reports them.
const (
	sourceIdentity = "IAM Policy"
	sourceResource = "Resource Policy"
)

// Context key types (ContextKeyType): each scalar type and its list form.
var contextKeyTypes = []string{"string", "stringList", "numeric", "numericList", "boolean", "booleanList",
	"ip", "ipList", "binary", "binaryList", "date", "dateList"}

// simPolicy is one policy of a simulation with what its results show.
type simPolicy struct {
	id, typ string // SourcePolicyId, SourcePolicyType
	p       *policy.Policy
	spans   []policy.Span
}

// simulation is one parsed simulation request.
type simulation struct {
	identity  []*simPolicy
	boundary  *simPolicy
	resource  *simPolicy
	actions   []string
	resources []string // "*" when the request names none
	context   policy.Context
	caller    string // the resource policy's principal (CallerArn)
	account   string // the caller's account
	owner     string // ResourceOwner's account ("" when not given)
	missing   []string
}

func (h *Handler) simulateCustomPolicy(req *request, x *awsproto.XMLWriter) *awsproto.Error {
	sim, e := h.simulationInput(req, true)
	if e != nil {
		return e
	}
	if e := h.authorize(req, "iam:SimulateCustomPolicy", "*", ""); e != nil {
		return e
	}
	if e := sim.parsePolicies(req); e != nil {
		return e
	}
	if e := sim.resourcePolicyCaller(req, h.m.Account(), ""); e != nil {
		return e
	}
	return sim.write(req, x)
}

func (h *Handler) simulatePrincipalPolicy(req *request, x *awsproto.XMLWriter) *awsproto.Error {
	source, e := required(req.v, "PolicySourceArn", "policySourceArn")
	if e != nil {
		return e
	}
	if len(source) < 20 || len(source) > 2048 {
		return awsproto.ValidationError("1 validation error detected: Value '" + source + "' at 'policySourceArn' failed to satisfy constraint: Member must have length between 20 and 2048")
	}
	sim, e := h.simulationInput(req, false)
	if e != nil {
		return e
	}
	kind, name, e := h.policySource(source)
	if e != nil {
		return e
	}
	// The entity is looked up before the caller is authorized only for its
	// tags (aws:ResourceTag); whether it exists is told after.
	var principal []*simPolicy
	var lookupErr error
	var userARN string
	switch kind {
	case "user":
		u, err := h.m.UserByName(req.ctx, name)
		if err == nil && u.ARN != source {
			err = iam.ErrNoSuchEntity
		}
		if lookupErr = err; err == nil {
			req.resourceTags(u.Tags)
			principal, lookupErr = h.principalPolicies(req, u.InlinePolicies, u.ManagedPolicyARNs)
			userARN = u.ARN
		}
	case "role":
		r, err := h.m.RoleWithDocuments(req.ctx, name)
		if err == nil && r.ARN != source {
			err = iam.ErrNoSuchEntity
		}
		if lookupErr = err; err == nil {
			req.resourceTags(r.Tags)
			principal, lookupErr = h.principalPolicies(req, r.InlinePolicies, r.ManagedPolicyARNs)
		}
	default:
		lookupErr = iam.ErrNoSuchEntity // no groups here
	}
	if e := h.authorize(req, "iam:SimulatePrincipalPolicy", source, ""); e != nil {
		return e
	}
	if errors.Is(lookupErr, iam.ErrNoSuchEntity) {
		return awsproto.NewError(http.StatusNotFound, "NoSuchEntity", "The "+kind+" with name "+name+" cannot be found.").WithCause(lookupErr)
	}
	if lookupErr != nil {
		return toAWS(lookupErr)
	}
	sim.identity = principal
	if e := sim.parsePolicies(req); e != nil {
		return e
	}
	if e := sim.resourcePolicyCaller(req, h.m.Account(), userARN); e != nil {
		return e
	}
	return sim.write(req, x)
}

// policySource splits a PolicySourceArn into the kind of entity and its
// name, refusing what names no user, group or role of this account with
// IAM's messages.
func (h *Handler) policySource(arn string) (kind, name string, e *awsproto.Error) {
	unclear := awsproto.NewError(http.StatusBadRequest, "InvalidInput", "Invalid Entity Arn: "+arn+" does not clearly define entity type and name.")
	parts := strings.SplitN(arn, ":", 6)
	if !iam.ValidARN(arn) || parts[2] != "iam" {
		return "", "", unclear
	}
	if parts[4] != h.m.Account() {
		return "", "", awsproto.NewError(http.StatusBadRequest, "InvalidInput", "Invalid Policy Source Arn: caller's account "+h.m.Account()+" does not have access to policies in account "+parts[4])
	}
	kind, rest, ok := strings.Cut(parts[5], "/")
	name = rest[strings.LastIndexByte(rest, '/')+1:]
	if !ok || name == "" || kind != "user" && kind != "role" && kind != "group" {
		return "", "", unclear
	}
	return kind, name, nil
}

// principalPolicies are a user's or role's inline policies, then its
// attached managed policies, each named as IAM's simulator names it: by
// policy name.
func (h *Handler) principalPolicies(req *request, inline []iam.NamedPolicy, managed []string) ([]*simPolicy, error) {
	var out []*simPolicy
	add := func(id, doc string, p *policy.Policy) error {
		sp, err := newSimPolicy(id, sourceIdentity, doc, p)
		if err != nil {
			return err
		}
		out = append(out, sp)
		return nil
	}
	for i := range inline {
		p, err := inline[i].Parsed()
		if err != nil {
			return nil, err
		}
		if err := add(inline[i].Name, inline[i].Document, p); err != nil {
			return nil, err
		}
	}
	for _, arn := range managed {
		mp, err := h.m.PolicyByARN(req.ctx, arn)
		if errors.Is(err, iam.ErrNoSuchEntity) {
			continue // detached while we read
		}
		if err != nil {
			return nil, err
		}
		p, err := mp.Default()
		if err != nil {
			return nil, err
		}
		if err := add(mp.Name, mp.DefaultDocument(), p); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// simulationInput reads and checks what both actions share, short of
// parsing the policies: the refusals that need no authorization.
func (h *Handler) simulationInput(req *request, custom bool) (*simulation, *awsproto.Error) {
	v := req.v
	sim := &simulation{}
	docs, e := stringList(v, "PolicyInputList")
	if e != nil {
		return nil, e
	}
	if custom && len(docs) == 0 {
		return nil, awsproto.ValidationError("1 validation error detected: Value null at 'policyInputList' failed to satisfy constraint: Member must not be null")
	}
	boundary, e := stringList(v, "PermissionsBoundaryPolicyInputList")
	if e != nil {
		return nil, e
	}
	for _, l := range []struct {
		member string
		docs   []string
	}{{"policyInputList", docs}, {"permissionsBoundaryPolicyInputList", boundary}} {
		for _, d := range l.docs {
			if d == "" {
				return nil, awsproto.ValidationError("1 validation error detected: Value at '" + l.member + "' failed to satisfy constraint: Member must satisfy constraint: [Member must have length greater than or equal to 1]")
			}
		}
	}
	if sim.actions, e = stringList(v, "ActionNames"); e != nil {
		return nil, e
	}
	if len(sim.actions) == 0 {
		return nil, awsproto.ValidationError("1 validation error detected: Value null at 'actionNames' failed to satisfy constraint: Member must not be null")
	}
	for _, a := range sim.actions {
		if len(a) < 3 || len(a) > 128 {
			return nil, awsproto.ValidationError("1 validation error detected: Value '[" + strings.Join(sim.actions, ", ") + "]' at 'actionNames' failed to satisfy constraint: Member must satisfy constraint: [Member must have length less than or equal to 128, Member must have length greater than or equal to 3]")
		}
	}
	if sim.resources, e = stringList(v, "ResourceArns"); e != nil {
		return nil, e
	}
	for _, r := range sim.resources {
		if len(r) < 1 || len(r) > 2048 {
			return nil, awsproto.ValidationError("1 validation error detected: Value at 'resourceArns' failed to satisfy constraint: Member must satisfy constraint: [Member must have length less than or equal to 2048, Member must have length greater than or equal to 1]")
		}
	}
	if len(sim.resources) == 0 {
		sim.resources = []string{"*"}
	}
	for _, p := range []struct{ param, member string }{{"ResourcePolicy", "resourcePolicy"}, {"ResourceOwner", "resourceOwner"}, {"CallerArn", "callerArn"}} {
		if s, ok := v.Lookup(p.param); ok && s == "" {
			return nil, awsproto.ValidationError("1 validation error detected: Value '' at '" + p.member + "' failed to satisfy constraint: Member must have length greater than or equal to 1")
		}
	}
	if sim.context, e = contextEntries(v); e != nil {
		return nil, e
	}
	// MaxItems and Marker are checked here, before any work; write pages.
	if _, _, _, e := page(v, 0); e != nil && e.Code == "ValidationError" {
		return nil, e
	}
	return sim, nil
}

// parsePolicies parses PolicyInputList, PermissionsBoundaryPolicyInputList
// and ResourcePolicy, and checks what needs the caller to have been
// authorized (the documents, the names).
func (s *simulation) parsePolicies(req *request) *awsproto.Error {
	v := req.v
	docs, _ := stringList(v, "PolicyInputList")
	for i, d := range docs {
		sp, e := parseSimPolicy(d, "PolicyInputList."+strconv.Itoa(i+1), sourceIdentity, policy.IdentityPolicy)
		if e != nil {
			return e
		}
		s.identity = append(s.identity, sp)
	}
	boundary, _ := stringList(v, "PermissionsBoundaryPolicyInputList")
	if len(boundary) > 1 {
		return awsproto.NewError(http.StatusBadRequest, "InvalidInput", "The list of Permissions Boundary policies cannot exceed 1 items.")
	}
	if len(boundary) == 1 {
		sp, e := parseSimPolicy(boundary[0], "PermissionsBoundaryPolicyInputList.1", sourceIdentity, policy.IdentityPolicy)
		if e != nil {
			return e
		}
		s.boundary = sp
	}
	if doc, ok := v.Lookup("ResourcePolicy"); ok {
		sp, e := parseSimPolicy(doc, "ResourcePolicy", sourceResource, policy.ResourcePolicy)
		if e != nil {
			return e
		}
		s.resource = sp
	}
	if _, ok := v.Lookup("ResourceHandlingOption"); ok {
		// The option names EC2 scenarios (instance, image, volume...):
		// nothing here serves EC2, and ignoring it would change the
		// results' shape.
		return awsproto.NewError(http.StatusBadRequest, "InvalidInput", "ResourceHandlingOption is not supported by this server.")
	}
	for _, a := range s.actions {
		service, name, ok := strings.Cut(a, ":")
		if !ok || service == "" || name == "" || strings.Contains(name, ":") {
			// Unconfirmed wording.
			return awsproto.NewError(http.StatusBadRequest, "InvalidInput", "Invalid action name "+a+": an action is service:ActionName.")
		}
		if strings.ContainsAny(a, "*?") {
			// AWS's answer to "*" (seen); the model: no wildcards.
			return awsproto.NewError(http.StatusBadRequest, "InvalidInput", `Invalid Input Actions: "`+a+`" require different authorization information.`)
		}
	}
	for _, r := range s.resources {
		if r != "*" && !iam.ValidARN(r) {
			return awsproto.NewError(http.StatusBadRequest, "InvalidInput", "ResourceNames are not in a valid ARN format: "+r+".")
		}
	}
	if owner, ok := v.Lookup("ResourceOwner"); ok {
		parts := strings.SplitN(owner, ":", 6)
		if !iam.ValidARN(owner) || parts[2] != "iam" || parts[5] != "root" || !isAccountID(parts[4]) {
			// Unconfirmed wording.
			return awsproto.NewError(http.StatusBadRequest, "InvalidInput", "Invalid ResourceOwner "+owner+": it must be an account's ARN, arn:aws:iam::ACCOUNT-ID:root.")
		}
		s.owner = parts[4]
	}
	var keys []string
	for _, sp := range s.all() {
		keys = append(keys, sp.p.ContextKeys()...)
	}
	seen := map[string]bool{}
	for _, k := range keys {
		low := strings.ToLower(k)
		if vals, ok := s.context.Get(k); (!ok || len(vals) == 0) && !seen[low] {
			s.missing = append(s.missing, k)
		}
		seen[low] = true
	}
	return nil
}

// resourcePolicyCaller sets the principal a resource policy is evaluated
// for: CallerArn, else the simulated user (SimulatePrincipalPolicy on a
// user). AWS simulates resource policies for IAM users only.
func (s *simulation) resourcePolicyCaller(req *request, account, sourceUser string) *awsproto.Error {
	s.account = account
	caller, given := req.v.Lookup("CallerArn")
	if !given {
		caller = sourceUser
	}
	if caller == "" {
		if s.resource != nil {
			return awsproto.NewError(http.StatusBadRequest, "InvalidInput", "Invalid caller - Caller must be an IAM user in this context.")
		}
		return nil
	}
	parts := strings.SplitN(caller, ":", 6)
	if !iam.ValidARN(caller) || parts[2] != "iam" || !strings.HasPrefix(parts[5], "user/") || !isAccountID(parts[4]) {
		return awsproto.NewError(http.StatusBadRequest, "InvalidInput", "Invalid caller - Caller must be an IAM user in this context.")
	}
	s.caller, s.account = caller, parts[4]
	return nil
}

func parseSimPolicy(doc, id, typ string, kind policy.Kind) (*simPolicy, *awsproto.Error) {
	p, err := policy.ParseWithLimit([]byte(doc), 0)
	if err == nil {
		err = p.Validate(kind)
	}
	var le *policy.LimitError
	if errors.As(err, &le) {
		return nil, awsproto.ValidationError("1 validation error detected: Value at '" + lowerCamel(strings.TrimSuffix(id, ".1")) + "' failed to satisfy constraint: Member must have length less than or equal to 131072")
	}
	var me *policy.MalformedError
	if errors.As(err, &me) {
		// The service model lists no error for a bad document; IAM's
		// answer to one everywhere else is MalformedPolicyDocument.
		return nil, awsproto.NewError(http.StatusBadRequest, "MalformedPolicyDocument", me.Message).WithCause(err)
	}
	if err != nil {
		return nil, toAWS(err)
	}
	sp, err := newSimPolicy(id, typ, doc, p)
	if err != nil {
		return nil, toAWS(err)
	}
	return sp, nil
}

// newSimPolicy pairs parsed policy p with the positions of its statements
// in doc, its text.
func newSimPolicy(id, typ, doc string, p *policy.Policy) (*simPolicy, error) {
	spans, err := policy.StatementSpans([]byte(doc))
	if err != nil {
		return nil, err
	}
	if len(spans) != len(p.Statements) {
		return nil, fmt.Errorf("policy %s: %d statement positions for %d statements", id, len(spans), len(p.Statements))
	}
	return &simPolicy{id: id, typ: typ, p: p, spans: spans}, nil
}

func (s *simulation) all() []*simPolicy {
	out := append([]*simPolicy(nil), s.identity...)
	for _, sp := range []*simPolicy{s.boundary, s.resource} {
		if sp != nil {
			out = append(out, sp)
		}
	}
	return out
}

func isAccountID(s string) bool {
	if len(s) != 12 {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// contextEntries decodes ContextEntries.member.N.{ContextKeyName,
// ContextKeyType, ContextKeyValues.member.M} into the engine's context:
// names case-insensitive, a list type's values as a multi-valued key, each
// value checked against its type. Index rules are the Query protocol's
// (awsproto.Values.List): 1..N without gaps, canonical decimal.
func contextEntries(v awsproto.Values) (policy.Context, *awsproto.Error) {
	const prefix = "ContextEntries.member."
	type entry struct {
		name, typ         string
		hasName, hasType  bool
		values            map[int]string
		valuesListPresent bool
	}
	byIndex := map[int]*entry{}
	for _, k := range v.Names() {
		rest, ok := strings.CutPrefix(k, prefix)
		if !ok {
			if k == "ContextEntries" && v.Get(k) == "" {
				continue // botocore's empty list
			}
			if strings.HasPrefix(k, "ContextEntries.") {
				return nil, listError("Parameter " + strconv.Quote(k) + " is not a valid member of list ContextEntries.")
			}
			continue
		}
		idx, field, _ := strings.Cut(rest, ".")
		n, ok := listIndex(idx)
		if !ok {
			return nil, listError("Parameter " + strconv.Quote(k) + " has an invalid list index.")
		}
		en := byIndex[n]
		if en == nil {
			en = &entry{values: map[int]string{}}
			byIndex[n] = en
		}
		val := v.Get(k)
		switch {
		case field == "ContextKeyName":
			en.name, en.hasName = val, true
		case field == "ContextKeyType":
			en.typ, en.hasType = val, true
		case field == "ContextKeyValues" && val == "":
			en.valuesListPresent = true
		case strings.HasPrefix(field, "ContextKeyValues.member."):
			m, ok := listIndex(strings.TrimPrefix(field, "ContextKeyValues.member."))
			if !ok {
				return nil, listError("Parameter " + strconv.Quote(k) + " has an invalid list index.")
			}
			en.values[m] = val
		default:
			return nil, listError("Unknown field " + strconv.Quote(field) + " in a member of list ContextEntries.")
		}
	}
	ctx := make(policy.Context, len(byIndex))
	for n := 1; n <= len(byIndex); n++ {
		en := byIndex[n]
		if en == nil {
			return nil, listError("List ContextEntries has a gap: member " + strconv.Itoa(n) + " is missing.")
		}
		member := "contextEntries." + strconv.Itoa(n) + ".member."
		switch {
		case !en.hasName:
			return nil, awsproto.ValidationError("1 validation error detected: Value null at '" + member + "contextKeyName' failed to satisfy constraint: Member must not be null")
		case len(en.name) < 5 || len(en.name) > 256:
			return nil, awsproto.ValidationError("1 validation error detected: Value '" + en.name + "' at '" + member + "contextKeyName' failed to satisfy constraint: Member must have length between 5 and 256")
		case !en.hasType:
			return nil, awsproto.ValidationError("1 validation error detected: Value null at '" + member + "contextKeyType' failed to satisfy constraint: Member must not be null")
		case !contains(contextKeyTypes, en.typ):
			return nil, awsproto.ValidationError("1 validation error detected: Value '" + en.typ + "' at '" + member + "contextKeyType' failed to satisfy constraint: Member must satisfy enum value set: [" + strings.Join(contextKeyTypes, ", ") + "]")
		}
		values := make([]string, len(en.values))
		for m, val := range en.values {
			if m > len(en.values) {
				return nil, listError("List ContextEntries.member." + strconv.Itoa(n) + ".ContextKeyValues has a gap: member " + strconv.Itoa(m) + " of " + strconv.Itoa(len(en.values)) + ".")
			}
			values[m-1] = val
		}
		scalar, isList := strings.CutSuffix(en.typ, "List")
		if !isList && len(values) > 1 {
			// Unconfirmed wording: a single-valued type takes one value.
			return nil, awsproto.NewError(http.StatusBadRequest, "InvalidInput", "Context key "+en.name+" of type "+en.typ+" takes one value; "+strconv.Itoa(len(values))+" were given.")
		}
		for _, val := range values {
			if !policy.ValidContextValue(scalar, val) {
				// Unconfirmed wording.
				return nil, awsproto.NewError(http.StatusBadRequest, "InvalidInput", "Invalid value '"+val+"' for context key "+en.name+" of type "+en.typ+".")
			}
		}
		if _, dup := ctx.Get(en.name); dup {
			// Unconfirmed wording: two values for one key would leave the
			// simulation's answer to whichever came last.
			return nil, awsproto.NewError(http.StatusBadRequest, "InvalidInput", "Context key "+en.name+" is given more than once.")
		}
		ctx.Set(en.name, values...)
	}
	return ctx, nil
}

// listIndex is awsproto's rule for a list index: 1..MaxListMembers in
// canonical decimal.
func listIndex(s string) (int, bool) {
	if s == "" || len(s) > 4 || s[0] == '0' {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	return n, err == nil && n >= 1 && n <= awsproto.MaxListMembers && strconv.Itoa(n) == s
}

func listError(msg string) *awsproto.Error {
	return awsproto.InvalidParameterValue(msg).WithCause(awsproto.ErrMalformedList)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// decision is how one simulated request fared.
type decision struct {
	effect   string // allowed, explicitDeny, implicitDeny
	matched  []matchedStatement
	boundary *bool // allowed by the permissions boundary; nil without one
	// details is EvalDecisionDetails for a cross-account request: each
	// policy type's own decision.
	details [][2]string
}

type matchedStatement struct {
	sp *simPolicy
	i  int
}

// evaluate decides action on resource as AWS does within one account, or
// across accounts when the resource's owner is not the caller's: an
// explicit Deny anywhere wins; the permissions boundary must allow what the
// identity policies allow; a resource policy naming the caller itself
// grants on its own in the caller's account (an account principal defers
// to the identity policies); across accounts both sides must allow.
func (s *simulation) evaluate(action, resource string) decision {
	req := &policy.Request{Action: action, Resource: resource, Context: s.context}
	type setResult struct {
		d       policy.Decision
		matched []matchedStatement
	}
	run := func(req *policy.Request, set []*simPolicy) setResult {
		ps := make([]*policy.Policy, len(set))
		for i, sp := range set {
			ps[i] = sp.p
		}
		d, trace := policy.EvaluateTrace(req, ps...)
		want := policy.EffectAllow
		if d.Effect == policy.ExplicitDeny {
			want = policy.EffectDeny
		}
		var r setResult
		r.d = d
		for _, st := range trace {
			if st.Matched && st.Effect == want {
				r.matched = append(r.matched, matchedStatement{set[st.Policy], st.Statement})
			}
		}
		return r
	}
	identity := run(req, s.identity)
	var boundary, resourceSet *setResult
	if s.boundary != nil {
		b := run(req, []*simPolicy{s.boundary})
		boundary = &b
	}
	grant := policy.ResourceNoAllow
	if s.resource != nil {
		rreq := *req
		rreq.Principal = policy.Principal{Type: policy.PrincipalAWS, ID: s.caller}
		r := run(&rreq, []*simPolicy{s.resource})
		resourceSet = &r
		grant = policy.EvaluateResource(&rreq, s.resource.p)
	}
	identityAllows := identity.d.Allowed && (boundary == nil || boundary.d.Allowed)
	crossAccount := s.resource != nil && s.resourceOwner(resource) != s.account
	var out decision
	if boundary != nil {
		allowed := boundary.d.Allowed
		out.boundary = &allowed
	}
	denied := identity.d.Effect == policy.ExplicitDeny ||
		boundary != nil && boundary.d.Effect == policy.ExplicitDeny ||
		resourceSet != nil && resourceSet.d.Effect == policy.ExplicitDeny
	var allowed bool
	switch {
	case denied:
	case s.resource == nil:
		allowed = identityAllows
	case crossAccount:
		allowed = identityAllows && grant != policy.ResourceNoAllow
	default:
		allowed = identityAllows || grant == policy.ResourceAllowsPrincipal
	}
	switch {
	case denied:
		out.effect = "explicitDeny"
	case allowed:
		out.effect = "allowed"
	default:
		out.effect = "implicitDeny"
	}
	if out.effect != "implicitDeny" {
		for _, r := range []*setResult{resourceSet, &identity, boundary} {
			if r != nil {
				out.matched = append(out.matched, r.matched...)
			}
		}
	}
	if crossAccount {
		out.details = [][2]string{{sourceIdentity, wireDecision(identityAllows, identity.d.Effect == policy.ExplicitDeny || boundary != nil && boundary.d.Effect == policy.ExplicitDeny)},
			{sourceResource, wireDecision(grant != policy.ResourceNoAllow && grant != policy.ResourceDeny, grant == policy.ResourceDeny)}}
	}
	return out
}

func wireDecision(allowed, denied bool) string {
	switch {
	case denied:
		return "explicitDeny"
	case allowed:
		return "allowed"
	}
	return "implicitDeny"
}

// resourceOwner is the account owning resource: the one in its ARN, else
// ResourceOwner's, else the caller's.
func (s *simulation) resourceOwner(resource string) string {
	if parts := strings.SplitN(resource, ":", 6); len(parts) == 6 && parts[4] != "" {
		return parts[4]
	}
	if s.owner != "" {
		return s.owner
	}
	return s.account
}

// write evaluates the requested page of (action, resource) pairs, action
// by action, and writes the response. Only the page is evaluated: the
// number of pairs bounds nothing else.
func (s *simulation) write(req *request, x *awsproto.XMLWriter) *awsproto.Error {
	n := len(s.actions) * len(s.resources)
	from, to, next, e := page(req.v, n)
	if e != nil {
		return e
	}
	x.Start("EvaluationResults")
	for i := from; i < to; i++ {
		action, resource := s.actions[i/len(s.resources)], s.resources[i%len(s.resources)]
		s.writeResult(x, action, resource)
	}
	x.End("EvaluationResults")
	writeTruncation(x, next)
	return nil
}

func (s *simulation) writeResult(x *awsproto.XMLWriter, action, resource string) {
	d := s.evaluate(action, resource)
	x.Start("member")
	x.Element("EvalActionName", action)
	x.Element("EvalResourceName", resource)
	x.Element("EvalDecision", d.effect)
	writeMatched(x, d.matched)
	// With resources named, the missing keys are told per resource, and
	// EvalDecisionDetails is present (empty within one account).
	if resource == "*" {
		writeKeys(x, s.missing)
	} else {
		writeKeys(x, nil)
		writeDetails(x, d.details, true)
	}
	writeBoundary(x, d.boundary)
	if resource != "*" {
		x.Start("ResourceSpecificResults")
		x.Start("member")
		x.Element("EvalResourceName", resource)
		x.Element("EvalResourceDecision", d.effect)
		writeMatched(x, d.matched)
		writeKeys(x, s.missing)
		writeDetails(x, d.details, false)
		writeBoundary(x, d.boundary)
		x.End("member")
		x.End("ResourceSpecificResults")
	}
	x.End("member")
}

func writeMatched(x *awsproto.XMLWriter, matched []matchedStatement) {
	x.Start("MatchedStatements")
	for _, m := range matched {
		span := m.sp.spans[m.i]
		x.Start("member")
		x.Element("SourcePolicyId", m.sp.id)
		x.Element("SourcePolicyType", m.sp.typ)
		x.Start("StartPosition")
		x.Element("Line", strconv.Itoa(span.Start.Line))
		x.Element("Column", strconv.Itoa(span.Start.Column))
		x.End("StartPosition")
		x.Start("EndPosition")
		x.Element("Line", strconv.Itoa(span.End.Line))
		x.Element("Column", strconv.Itoa(span.End.Column))
		x.End("EndPosition")
		x.End("member")
	}
	x.End("MatchedStatements")
}

func writeKeys(x *awsproto.XMLWriter, keys []string) {
	x.Start("MissingContextValues")
	for _, k := range keys {
		x.Element("member", k)
	}
	x.End("MissingContextValues")
}

// writeDetails writes EvalDecisionDetails: always when always (the
// result of a simulation naming resources), else only when it has entries
// (a cross-account resource-specific result).
func writeDetails(x *awsproto.XMLWriter, details [][2]string, always bool) {
	if len(details) == 0 && !always {
		return
	}
	x.Start("EvalDecisionDetails")
	for _, d := range details {
		x.Start("entry")
		x.Element("key", d[0])
		x.Element("value", d[1])
		x.End("entry")
	}
	x.End("EvalDecisionDetails")
}

func writeBoundary(x *awsproto.XMLWriter, allowed *bool) {
	if allowed == nil {
		return
	}
	x.Start("PermissionsBoundaryDecisionDetail")
	x.Element("AllowedByPermissionsBoundary", strconv.FormatBool(*allowed))
	x.End("PermissionsBoundaryDecisionDetail")
}
