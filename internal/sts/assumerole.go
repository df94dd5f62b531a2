package sts

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/oidcfed/oidcfed/internal/awsproto"
	"github.com/oidcfed/oidcfed/internal/iam"
	"github.com/oidcfed/oidcfed/internal/iam/policy"
)

// AssumeRoleInput is AssumeRole's parameters.
type AssumeRoleInput struct {
	RoleARN         string
	RoleSessionName string
	Policy          string
	PolicyARNs      []string
	DurationSeconds *int64
	SourceIdentity  string
	ExternalID      string
	SourceIP        string
}

// AssumeRoleOutput is AssumeRole's result.
type AssumeRoleOutput struct {
	Credentials      Credentials
	AssumedRoleID    string
	AssumedRoleARN   string
	SourceIdentity   string
	PackedPolicySize *int
}

var (
	sourceIdentityRE = regexp.MustCompile(`^[\w+=,.@-]*$`)
	externalIDRE     = regexp.MustCompile(`^[\w+=,.@:/-]*$`)
)

// chainLimit is AWS's cap on a session obtained by role chaining (any
// AssumeRole made with role-session credentials).
const chainLimit = time.Hour

func (in *AssumeRoleInput) validate() *awsproto.Error {
	var v validationErrors
	v.common(in.RoleARN, in.RoleSessionName, in.Policy, in.PolicyARNs, in.DurationSeconds)
	if in.SourceIdentity != "" {
		switch n := utf8.RuneCountInString(in.SourceIdentity); {
		case !sourceIdentityRE.MatchString(in.SourceIdentity):
			v.add("Value '%s' at 'sourceIdentity' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*", truncateValue(in.SourceIdentity))
		case n < 2 || n > 64:
			v.add("Value '%s' at 'sourceIdentity' failed to satisfy constraint: Member must have length between 2 and 64", truncateValue(in.SourceIdentity))
		}
	}
	if in.ExternalID != "" {
		switch n := utf8.RuneCountInString(in.ExternalID); {
		case !externalIDRE.MatchString(in.ExternalID):
			v.add("Value at 'externalId' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@:\\/-]*")
		case n < 2 || n > 1224:
			v.add("Value at 'externalId' failed to satisfy constraint: Member must have length between 2 and 1224")
		}
	}
	return v.err()
}

// notAuthorizedAssumeRole is AWS's AccessDenied for AssumeRole, naming the
// caller and the role.
func notAuthorizedAssumeRole(caller, role string) *awsproto.Error {
	return awsproto.NewError(http.StatusForbidden, "AccessDenied",
		fmt.Sprintf("User: %s is not authorized to perform: sts:AssumeRole on resource: %s", caller, role))
}

// assumer is who calls AssumeRole: a role session (role chaining) or an
// IAM user, reduced to what the decision and the new session need.
type assumer struct {
	arn          string // as the trust policy and messages name it
	principalARN string // aws:PrincipalArn
	roleARN      string // the caller's role (sessions only)
	kind, userID string
	chained      bool
	session      *Session // sessions only
	tags         []Tag
}

func (s *Service) assumerOf(c *Caller) assumer {
	if u := c.User; u != nil {
		a := assumer{arn: u.ARN, principalARN: u.ARN, kind: "User", userID: u.ID}
		for _, t := range u.Tags {
			a.tags = append(a.tags, Tag{Key: t.Key, Value: t.Value})
		}
		return a
	}
	sess := c.Session
	_, roleName := roleNameFromARN(sess.RoleARN)
	return assumer{
		arn: assumedRoleARN(s.dir.Account(), roleName, sess.SessionName), principalARN: sess.RoleARN, roleARN: sess.RoleARN,
		kind: "AssumedRole", userID: sess.RoleID + ":" + sess.SessionName, chained: true, session: sess, tags: sess.Tags,
	}
}

// AssumeRole issues credentials for another role to a caller holding role
// session credentials (role chaining, capped at one hour as on AWS) or an
// IAM user's access key. The target's trust policy must allow the caller;
// unless it names the caller (the session, or the user) explicitly, the
// caller's own permissions (its identity policies, capped by a session's
// session policies) must allow sts:AssumeRole on the target too, as within
// one AWS account.
func (s *Service) AssumeRole(ctx context.Context, c *Caller, in *AssumeRoleInput) (*AssumeRoleOutput, error) {
	if err := in.validate(); err != nil {
		return nil, err
	}
	account := s.dir.Account()
	who := s.assumerOf(c)
	callerARN := who.arn
	duration := time.Hour
	if in.DurationSeconds != nil {
		duration = time.Duration(*in.DurationSeconds) * time.Second
	}
	if who.chained && duration > chainLimit {
		return nil, awsproto.ValidationError("The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.")
	}
	role, err := s.dir.RoleByARN(ctx, in.RoleARN)
	if err != nil {
		return nil, notAuthorizedAssumeRole(callerARN, in.RoleARN).WithCause(err)
	}
	if !who.chained && role.MaxSessionDuration > 0 && duration > role.MaxSessionDuration {
		return nil, errDurationOverRoleMax()
	}
	trust, err := role.Trust()
	if err != nil {
		return nil, notAuthorizedAssumeRole(callerARN, role.ARN).WithCause(err)
	}
	now := s.now()
	caller := who.session
	if caller == nil {
		caller = &Session{} // a user brings no session state to carry over
	}
	sourceIdentity := caller.SourceIdentity
	if in.SourceIdentity != "" {
		if sourceIdentity != "" && sourceIdentity != in.SourceIdentity {
			// Once set, a source identity follows the chain unchanged.
			return nil, notAuthorizedAssumeRole(callerARN, role.ARN).WithCause(fmt.Errorf("source identity %q cannot change to %q", sourceIdentity, in.SourceIdentity))
		}
		sourceIdentity = in.SourceIdentity
	}
	// Transitive session tags follow the chain (AssumeRole's own Tags
	// parameter is not supported yet).
	var tags []Tag
	for _, t := range caller.Tags {
		if slices.ContainsFunc(caller.TransitiveTagKeys, func(k string) bool { return strings.EqualFold(k, t.Key) }) {
			tags = append(tags, t)
		}
	}
	reqCtx := policy.Context{}
	set := func(k string, v ...string) {
		if len(v) > 0 && v[0] != "" {
			reqCtx.Set(k, v...)
		}
	}
	set("aws:PrincipalArn", who.principalARN)
	set("aws:PrincipalAccount", account)
	set("aws:PrincipalType", who.kind)
	set("aws:userid", who.userID)
	set("aws:SourceIdentity", caller.SourceIdentity)
	set("aws:FederatedProvider", caller.ProviderARN)
	set("aws:CurrentTime", now.UTC().Format("2006-01-02T15:04:05Z"))
	set("aws:EpochTime", strconv.FormatInt(now.Unix(), 10))
	set("aws:SourceIp", in.SourceIP)
	set("aws:RequestedRegion", s.dir.Region())
	set("sts:RoleSessionName", in.RoleSessionName)
	set("sts:SourceIdentity", in.SourceIdentity)
	set("sts:ExternalId", in.ExternalID)
	// After a web-identity assumption AWS carries the token's aud and sub
	// into later requests (aws-sts-iam.md §5.2); a chained trust policy
	// testing them must see them, or negated operators would pass.
	if caller.ProviderARN != "" {
		if _, prov, ok := strings.Cut(caller.ProviderARN, ":oidc-provider/"); ok {
			set(prov+":sub", caller.Subject)
			set(prov+":aud", caller.Audience)
		}
	}
	for _, t := range who.tags {
		set("aws:PrincipalTag/"+t.Key, t.Value)
	}
	addRequestTags(reqCtx, tags, caller.TransitiveTagKeys)
	principal := policy.Principal{Type: policy.PrincipalAWS, ID: callerARN}
	actions := []string{"sts:AssumeRole"}
	if in.SourceIdentity != "" && caller.SourceIdentity == "" {
		actions = append(actions, "sts:SetSourceIdentity")
	}
	var identity, sessionPolicies []*policy.Policy
	if u := c.User; u != nil {
		identity, err = s.identityPolicies(ctx, u.InlinePolicies, u.ManagedPolicyARNs)
	} else {
		identity, sessionPolicies, err = s.callerPolicies(ctx, who.session)
	}
	if err != nil {
		return nil, notAuthorizedAssumeRole(callerARN, role.ARN).WithCause(err)
	}
	for _, action := range actions {
		req := &policy.Request{Principal: principal, Action: action, Resource: role.ARN, Context: reqCtx}
		if err := authorizeChained(req, trust, identity, sessionPolicies, who.roleARN, callerARN); err != nil {
			return nil, notAuthorizedAssumeRole(callerARN, role.ARN).WithCause(fmt.Errorf("%s: %w", action, err))
		}
	}
	if in.Policy != "" {
		if _, err := policy.ParseKind([]byte(in.Policy), policy.SessionPolicy); err != nil {
			return nil, malformedPolicy(err)
		}
	}
	session := Session{
		Tags: tags, TransitiveTagKeys: caller.TransitiveTagKeys,
		RoleARN: role.ARN, RoleID: role.ID, SessionName: in.RoleSessionName, SourceIdentity: sourceIdentity,
		ProviderARN: caller.ProviderARN, Subject: caller.Subject, Audience: caller.Audience,
		Policy: in.Policy, PolicyARNs: in.PolicyARNs, IssuedAt: now, Expiration: now.Add(duration),
	}
	creds, err := s.keyring.Seal(session)
	if err != nil {
		return nil, sealError(err)
	}
	out := &AssumeRoleOutput{
		Credentials: creds, AssumedRoleID: role.ID + ":" + in.RoleSessionName,
		AssumedRoleARN: assumedRoleARN(account, role.Name, in.RoleSessionName), SourceIdentity: sourceIdentity,
	}
	if in.Policy != "" || len(in.PolicyARNs) > 0 {
		size := packedPolicySize(in.Policy, in.PolicyARNs)
		out.PackedPolicySize = &size
	}
	s.log.InfoContext(ctx, "AssumeRole", "caller", callerARN, "role", role.ARN, "session", in.RoleSessionName, "expires", session.Expiration)
	return out, nil
}

// authorizeChained applies AWS's same-account rules to a role-session
// caller assuming a role (aws-sts-iam.md §6.1):
//   - the target's trust policy must allow; which principal its granting
//     statement names decides what else is needed:
//   - the caller's session ARN: nothing more (a session-level grant);
//   - the caller's role ARN: the session policy still caps it;
//   - the account (or anything wider): the caller's identity policies
//     must allow too, capped by its session policy;
//   - an explicit Deny in the caller's identity or session policies
//     always wins.
func authorizeChained(req *policy.Request, trust *policy.Policy, identity, session []*policy.Policy, roleARN, sessionARN string) error {
	d := policy.EvaluateTrust(&policy.Request{Principal: req.Principal, Action: req.Action, Context: req.Context}, trust)
	if !d.Allowed {
		return fmt.Errorf("trust policy does not allow it")
	}
	named := grantNames(trust, d.Statement, roleARN, sessionARN)
	id := policy.Evaluate(req, identity...)
	if id.Effect == policy.ExplicitDeny {
		return fmt.Errorf("denied by the caller's identity policy")
	}
	if len(session) > 0 {
		sd := policy.Evaluate(req, session...)
		if sd.Effect == policy.ExplicitDeny {
			return fmt.Errorf("denied by the caller's session policy")
		}
		if named != namedSession && !sd.Allowed {
			return fmt.Errorf("not allowed by the caller's session policy")
		}
	}
	if named == namedAccount && !id.Allowed {
		return fmt.Errorf("no identity policy of the caller allows it")
	}
	return nil
}

type grantee int

const (
	namedAccount grantee = iota
	namedRole
	namedSession
)

// grantNames says whom the granting trust statement names: the caller's
// session, its role, or only the account (or a wildcard).
func grantNames(trust *policy.Policy, statement int, roleARN, sessionARN string) grantee {
	if statement < 0 || statement >= len(trust.Statements) {
		return namedAccount
	}
	st := trust.Statements[statement]
	if st.Principal == nil {
		return namedAccount
	}
	if slices.Contains(st.Principal.AWS, sessionARN) {
		return namedSession
	}
	if slices.Contains(st.Principal.AWS, roleARN) {
		return namedRole
	}
	return namedAccount
}

// callerPolicies returns the caller role's identity policies (inline and
// attached managed) and the session policies the caller's session was
// created with (its Policy and PolicyArns). A session policy ARN that no
// longer resolves grants nothing; the session still counts as having
// session policies, so it fails closed.
func (s *Service) callerPolicies(ctx context.Context, caller *Session) (identity, session []*policy.Policy, err error) {
	role, err := s.dir.RoleByARN(ctx, caller.RoleARN)
	if err != nil {
		return nil, nil, fmt.Errorf("caller role %s: %w", caller.RoleARN, err)
	}
	if role.ID != caller.RoleID {
		// A role deleted and created again under the same name is another
		// role (AWS ties sessions to the unique id): the old sessions get
		// none of the new role's permissions.
		return nil, nil, fmt.Errorf("caller role %s was replaced (id %s, session's %s)", caller.RoleARN, role.ID, caller.RoleID)
	}
	if identity, err = s.identityPolicies(ctx, role.InlinePolicies, role.ManagedPolicyARNs); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", role.ARN, err)
	}
	if caller.Policy != "" {
		// Decoded afresh from the token on every request: looked up by
		// content only, not by where the string lives.
		p, err := s.parsedSession(caller.Policy)
		if err != nil {
			return nil, nil, err
		}
		session = append(session, p)
	}
	for _, arn := range caller.PolicyARNs {
		mp, err := s.dir.PolicyByARN(ctx, arn)
		if errors.Is(err, iam.ErrNoSuchEntity) {
			session = append(session, &policy.Policy{}) // present, grants nothing
			continue
		}
		if err != nil {
			return nil, nil, fmt.Errorf("session policy %s: %w", arn, err)
		}
		p, err := mp.Default()
		if err != nil {
			return nil, nil, fmt.Errorf("session policy %s: %w", arn, err)
		}
		session = append(session, p)
	}
	return identity, session, nil
}

// identityPolicies parses an identity's inline policies and the default
// versions of its attached managed policies. A managed policy deleted
// behind an attachment grants nothing.
func (s *Service) identityPolicies(ctx context.Context, inline []iam.NamedPolicy, managed []string) ([]*policy.Policy, error) {
	out := make([]*policy.Policy, 0, len(inline)+len(managed))
	for i := range inline {
		ip := &inline[i]
		p, err := ip.Parsed()
		if err != nil {
			return nil, fmt.Errorf("inline policy %s: %w", ip.Name, err)
		}
		out = append(out, p)
	}
	for _, arn := range managed {
		mp, err := s.dir.PolicyByARN(ctx, arn)
		if errors.Is(err, iam.ErrNoSuchEntity) {
			continue
		}
		if err != nil {
			// Not knowing a policy could drop its Deny: refuse instead.
			return nil, fmt.Errorf("managed policy %s: %w", arn, err)
		}
		p, err := mp.Default()
		if err != nil {
			return nil, fmt.Errorf("managed policy %s: %w", arn, err)
		}
		out = append(out, p)
	}
	return out, nil
}
