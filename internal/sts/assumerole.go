package sts

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/oidcfed/oidcfed/internal/awsproto"
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

// AssumeRole issues credentials for another role to a caller holding role
// session credentials (role chaining, capped at one hour as on AWS). The
// target's trust policy must allow the caller; unless it names the
// caller's role or session explicitly, the caller's own permissions
// (its role's inline policies, intersected with its session policy) must
// allow sts:AssumeRole on the target too, as within one AWS account.
func (s *Service) AssumeRole(ctx context.Context, caller *Session, in *AssumeRoleInput) (*AssumeRoleOutput, error) {
	if err := in.validate(); err != nil {
		return nil, err
	}
	account := s.dir.Account()
	_, callerRoleName := roleNameFromARN(caller.RoleARN)
	callerARN := assumedRoleARN(account, callerRoleName, caller.SessionName)
	duration := time.Hour
	if in.DurationSeconds != nil {
		duration = time.Duration(*in.DurationSeconds) * time.Second
	}
	if duration > chainLimit {
		return nil, awsproto.ValidationError("The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.")
	}
	role, err := s.dir.RoleByARN(ctx, in.RoleARN)
	if err != nil {
		return nil, notAuthorizedAssumeRole(callerARN, in.RoleARN).WithCause(err)
	}
	trust, err := s.parsedTrust(role.TrustPolicy)
	if err != nil {
		return nil, notAuthorizedAssumeRole(callerARN, role.ARN).WithCause(err)
	}
	now := s.now()
	sourceIdentity := caller.SourceIdentity
	if in.SourceIdentity != "" {
		if sourceIdentity != "" && sourceIdentity != in.SourceIdentity {
			// Once set, a source identity follows the chain unchanged.
			return nil, notAuthorizedAssumeRole(callerARN, role.ARN).WithCause(fmt.Errorf("source identity %q cannot change to %q", sourceIdentity, in.SourceIdentity))
		}
		sourceIdentity = in.SourceIdentity
	}
	reqCtx := policy.Context{}
	set := func(k string, v ...string) {
		if len(v) > 0 && v[0] != "" {
			reqCtx.Set(k, v...)
		}
	}
	set("aws:PrincipalArn", caller.RoleARN)
	set("aws:PrincipalAccount", account)
	set("aws:PrincipalType", "AssumedRole")
	set("aws:userid", caller.RoleID+":"+caller.SessionName)
	set("aws:SourceIdentity", caller.SourceIdentity)
	set("aws:FederatedProvider", caller.ProviderARN)
	set("aws:CurrentTime", now.UTC().Format("2006-01-02T15:04:05Z"))
	set("aws:EpochTime", strconv.FormatInt(now.Unix(), 10))
	set("aws:SourceIp", in.SourceIP)
	set("aws:RequestedRegion", s.dir.Region())
	set("sts:RoleSessionName", in.RoleSessionName)
	set("sts:SourceIdentity", in.SourceIdentity)
	set("sts:ExternalId", in.ExternalID)
	principal := policy.Principal{Type: policy.PrincipalAWS, ID: callerARN}
	actions := []string{"sts:AssumeRole"}
	if in.SourceIdentity != "" && caller.SourceIdentity == "" {
		actions = append(actions, "sts:SetSourceIdentity")
	}
	for _, action := range actions {
		if d := policy.EvaluateTrust(&policy.Request{Principal: principal, Action: action, Context: reqCtx}, trust); !d.Allowed {
			return nil, notAuthorizedAssumeRole(callerARN, role.ARN).WithCause(fmt.Errorf("trust policy of %s does not allow %s", role.ARN, action))
		}
	}
	if !namesPrincipal(trust, caller.RoleARN, callerARN) {
		allowed, err := s.callerMayAssume(ctx, caller, role.ARN, reqCtx)
		if err != nil {
			return nil, notAuthorizedAssumeRole(callerARN, role.ARN).WithCause(err)
		}
		if !allowed {
			return nil, notAuthorizedAssumeRole(callerARN, role.ARN).WithCause(fmt.Errorf("no identity policy of %s allows sts:AssumeRole on %s", caller.RoleARN, role.ARN))
		}
	}
	if in.Policy != "" {
		if _, err := policy.ParseKind([]byte(in.Policy), policy.SessionPolicy); err != nil {
			return nil, malformedPolicy(err)
		}
	}
	// Transitive session tags follow the chain (AssumeRole's own Tags
	// parameter is not supported yet).
	var tags []Tag
	for _, t := range caller.Tags {
		if slices.ContainsFunc(caller.TransitiveTagKeys, func(k string) bool { return strings.EqualFold(k, t.Key) }) {
			tags = append(tags, t)
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
		return nil, awsproto.AsError(err)
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

// namesPrincipal reports whether an Allow statement of the trust policy
// names the caller's role or session ARN itself (not just the account).
func namesPrincipal(trust *policy.Policy, roleARN, sessionARN string) bool {
	for _, st := range trust.Statements {
		if st.Effect != policy.EffectAllow || st.Principal == nil {
			continue
		}
		if slices.Contains(st.Principal.AWS, roleARN) || slices.Contains(st.Principal.AWS, sessionARN) {
			return true
		}
	}
	return false
}

// callerMayAssume evaluates the caller role's inline policies, intersected
// with its session policy, for sts:AssumeRole on the target. Managed
// policies are resolved once the IAM API stores them (a later issue);
// until then they grant nothing here.
func (s *Service) callerMayAssume(ctx context.Context, caller *Session, target string, reqCtx policy.Context) (bool, error) {
	role, err := s.dir.RoleByARN(ctx, caller.RoleARN)
	if err != nil {
		return false, fmt.Errorf("caller role %s: %w", caller.RoleARN, err)
	}
	var identity []*policy.Policy
	for _, ip := range role.InlinePolicies {
		p, err := policy.ParseKind([]byte(ip.Document), policy.IdentityPolicy)
		if err != nil {
			return false, fmt.Errorf("inline policy %s of %s: %w", ip.Name, role.ARN, err)
		}
		identity = append(identity, p)
	}
	var session []*policy.Policy
	if caller.Policy != "" {
		p, err := policy.ParseKind([]byte(caller.Policy), policy.SessionPolicy)
		if err != nil {
			return false, err
		}
		session = append(session, p)
	}
	_, callerRoleName := roleNameFromARN(caller.RoleARN)
	req := &policy.Request{
		Principal: policy.Principal{Type: policy.PrincipalAWS, ID: assumedRoleARN(s.dir.Account(), callerRoleName, caller.SessionName)},
		Action:    "sts:AssumeRole", Resource: target, Context: reqCtx,
	}
	return policy.EvaluateSession(req, identity, session).Allowed, nil
}
