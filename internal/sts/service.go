package sts

import (
	"context"
	"crypto/cipher"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/oidcfed/oidcfed/internal/audit"
	"github.com/oidcfed/oidcfed/internal/awsproto"
	"github.com/oidcfed/oidcfed/internal/federation"
	"github.com/oidcfed/oidcfed/internal/iam"
	"github.com/oidcfed/oidcfed/internal/iam/policy"
	"github.com/oidcfed/oidcfed/internal/sigv4"
)

// Namespace is the STS Query protocol's XML namespace.
const Namespace = "https://sts.amazonaws.com/doc/2011-06-15/"

// Service implements the STS actions on top of the IAM directory, the
// web-identity verifier, the policy engine and the session keyring.
type Service struct {
	dir      iam.Directory
	verifier *federation.Verifier
	keyring  *SessionKeyring
	// accessKeys resolves long-term keys; nil accepts none.
	accessKeys AccessKeySource
	now        func() time.Time
	log        *slog.Logger

	// Session policies parsed, by document text: a session's Policy is
	// decoded afresh from its token on every request it signs. Bounded:
	// when full it starts over. (Stored documents travel parsed with their
	// IAM entities.)
	policyMu sync.RWMutex
	policies map[string]*policy.Policy

	// authzMessages seals encoded authorization messages; nil when they
	// are off (the default, as on AWS's IAM, KMS and STS).
	authzMessages cipher.AEAD

	clock atomic.Pointer[clockKeys] // this second's time condition keys (principal.go)

	// credentials is lookupCredentials as a sigv4.CredentialSource, made
	// once rather than as a method value on every request.
	credentials sigv4.CredentialSource
}

// maxParsedPolicies bounds the session-policy cache.
const maxParsedPolicies = 1024

// NewService wires a Service. now may be nil (time.Now).
func NewService(dir iam.Directory, verifier *federation.Verifier, keyring *SessionKeyring, now func() time.Time, log *slog.Logger) *Service {
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Service{dir: dir, verifier: verifier, keyring: keyring, now: now, log: log, policies: map[string]*policy.Policy{}}
	s.credentials = sigv4.CredentialSourceFunc(s.lookupCredentials)
	return s
}

// AssumeRoleWithWebIdentityInput is the action's parameters.
type AssumeRoleWithWebIdentityInput struct {
	RoleARN          string
	RoleSessionName  string
	WebIdentityToken string
	ProviderID       string
	Policy           string
	PolicyARNs       []string
	DurationSeconds  *int64
	// SourceIP is the caller's address, for aws:SourceIp.
	SourceIP string
}

// AssumeRoleWithWebIdentityOutput is the action's result.
type AssumeRoleWithWebIdentityOutput struct {
	Credentials      Credentials
	Subject          string
	AssumedRoleID    string
	AssumedRoleARN   string
	Provider         string
	Audience         string
	SourceIdentity   string
	PackedPolicySize *int
}

// Validation patterns from the STS model (botocore sts/2011-06-15).
var (
	sessionNameRE = regexp.MustCompile(`^[\w+=,.@-]*$`)
	arnTypeRE     = regexp.MustCompile(`^[\x{0009}\x{000A}\x{000D}\x{0020}-\x{007E}\x{0085}\x{00A0}-\x{D7FF}\x{E000}-\x{FFFD}\x{10000}-\x{10FFFF}]+$`)
	policyCharsRE = regexp.MustCompile(`^[\x{0009}\x{000A}\x{000D}\x{0020}-\x{00FF}]+$`)
)

// validationErrors collects constraint violations the way AWS's request
// validation reports them: "N validation error(s) detected: a; b".
type validationErrors []string

func (v *validationErrors) add(format string, args ...any) {
	*v = append(*v, fmt.Sprintf(format, args...))
}

func (v validationErrors) err() *awsproto.Error {
	if len(v) == 0 {
		return nil
	}
	noun := "error"
	if len(v) > 1 {
		noun = "errors"
	}
	return awsproto.ValidationError(fmt.Sprintf("%d validation %s detected: %s", len(v), noun, strings.Join(v, "; ")))
}

func (in *AssumeRoleWithWebIdentityInput) validate() *awsproto.Error {
	var v validationErrors
	v.common(in.RoleARN, in.RoleSessionName, in.Policy, in.PolicyARNs, in.DurationSeconds)
	// The token is sensitive: its value is never echoed.
	switch n := len(in.WebIdentityToken); {
	case in.WebIdentityToken == "":
		v.add("Value null at 'webIdentityToken' failed to satisfy constraint: Member must not be null")
	case n < 4:
		v.add("Value at 'webIdentityToken' failed to satisfy constraint: Member must have length greater than or equal to 4")
	case n > 20000:
		v.add("Value at 'webIdentityToken' failed to satisfy constraint: Member must have length less than or equal to 20000")
	}
	return v.err()
}

// common checks the parameters AssumeRole and AssumeRoleWithWebIdentity
// share, with the STS model's constraints and AWS's wording.
func (v *validationErrors) common(roleARN, sessionName, sessionPolicy string, policyARNs []string, duration *int64) {
	switch n := utf8.RuneCountInString(roleARN); {
	case roleARN == "":
		v.add("Value null at 'roleArn' failed to satisfy constraint: Member must not be null")
	case n < 20:
		v.add("Value '%s' at 'roleArn' failed to satisfy constraint: Member must have length greater than or equal to 20", roleARN)
	case n > 2048:
		v.add("Value at 'roleArn' failed to satisfy constraint: Member must have length less than or equal to 2048")
	case !arnTypeRE.MatchString(roleARN):
		v.add("Value at 'roleArn' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\u0009\\u000A\\u000D\\u0020-\\u007E\\u0085\\u00A0-\\uD7FF\\uE000-\\uFFFD\\u10000-\\u10FFFF]+")
	}
	switch n := utf8.RuneCountInString(sessionName); {
	case sessionName == "":
		v.add("Value null at 'roleSessionName' failed to satisfy constraint: Member must not be null")
	case !sessionNameRE.MatchString(sessionName):
		v.add("Value '%s' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*", truncateValue(sessionName))
	case n < 2:
		v.add("Value '%s' at 'roleSessionName' failed to satisfy constraint: Member must have length greater than or equal to 2", sessionName)
	case n > 64:
		v.add("Value '%s' at 'roleSessionName' failed to satisfy constraint: Member must have length less than or equal to 64", truncateValue(sessionName))
	}
	if d := duration; d != nil {
		switch {
		case *d < 900:
			v.add("Value '%d' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to 900", *d)
		case *d > 43200:
			v.add("Value '%d' at 'durationSeconds' failed to satisfy constraint: Member must have value less than or equal to 43200", *d)
		}
	}
	if sessionPolicy != "" {
		switch n := utf8.RuneCountInString(sessionPolicy); {
		case n > 2048:
			v.add("Value at 'policy' failed to satisfy constraint: Member must have length less than or equal to 2048")
		case !policyCharsRE.MatchString(sessionPolicy):
			v.add("Value at 'policy' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\u0009\\u000A\\u000D\\u0020-\\u00FF]+")
		}
	}
	if len(policyARNs) > 10 {
		v.add("Value at 'policyArns' failed to satisfy constraint: Member must have length less than or equal to 10")
	}
	for i, arn := range policyARNs {
		if n := utf8.RuneCountInString(arn); n < 20 || n > 2048 {
			v.add("Value at 'policyArns.%d.member.arn' failed to satisfy constraint: Member must have length between 20 and 2048", i+1)
		}
	}
}

func truncateValue(s string) string {
	if utf8.RuneCountInString(s) > 100 {
		return string([]rune(s)[:100])
	}
	return s
}

// Errors the action answers with, as AWS words them (aws-sts-iam.md §2).
var (
	errNotAuthorizedWebIdentity = func() *awsproto.Error {
		return awsproto.NewError(http.StatusForbidden, "AccessDenied", "Not authorized to perform sts:AssumeRoleWithWebIdentity")
	}
	errDurationOverRoleMax = func() *awsproto.Error {
		return awsproto.ValidationError("The requested DurationSeconds exceeds the MaxSessionDuration set for this role.")
	}
)

// Claims AWS reads from a web-identity token beyond the registered ones.
const (
	claimSourceIdentity = "https://aws.amazon.com/source_identity"
	claimTags           = "https://aws.amazon.com/tags"
)

// AssumeRoleWithWebIdentity verifies the token, evaluates the role's trust
// policy and issues temporary credentials. Every failure is an
// *awsproto.Error carrying AWS's code, status and message; the cause, for
// the log, is wrapped inside it.
func (s *Service) AssumeRoleWithWebIdentity(ctx context.Context, in *AssumeRoleWithWebIdentityInput) (*AssumeRoleWithWebIdentityOutput, error) {
	if err := in.validate(); err != nil {
		return nil, err
	}
	if in.ProviderID != "" {
		// ProviderId is for OAuth 2.0 access tokens of Amazon and Facebook
		// only; with an OIDC ID token AWS refuses it.
		return nil, awsproto.InvalidParameterValue("ProviderId is not supported for OpenID Connect identity tokens")
	}
	// Tokens read from files (web_identity_token_file, file://) end in a
	// newline when written with echo, and the SDKs send them as read; the
	// seeds' scripts do exactly that against AWS. Surrounding whitespace is
	// dropped here; inside the token the decoder stays strict.
	token := strings.Trim(in.WebIdentityToken, " \t\r\n")
	noteToken(ctx, token)
	verified, err := s.verifier.Verify(ctx, token)
	if err != nil {
		return nil, tokenError(err)
	}
	noteWebIdentity(ctx, verified)
	role, err := s.dir.RoleByARN(ctx, in.RoleARN)
	if err != nil {
		return nil, errNotAuthorizedWebIdentity().WithCause(fmt.Errorf("role %s: %w", in.RoleARN, err))
	}
	provider, err := s.dir.OIDCProviderByURL(ctx, verified.Provider.URL)
	if err != nil {
		return nil, errNotAuthorizedWebIdentity().WithCause(fmt.Errorf("provider %s vanished: %w", verified.Provider.URL, err))
	}
	if ev := audit.FromContext(ctx); ev != nil {
		ev.UserIdentity.IdentityProvider = provider.ARN
		ev.UserIdentity.PrincipalID = provider.ARN + ":" + verified.Audience + ":" + verified.Claims.Subject
	}
	if !slices.Contains(provider.ClientIDs, verified.Audience) {
		// The verifier's provider set can trail the directory by one
		// change; the directory is the authority on audiences.
		return nil, awsproto.NewError(http.StatusBadRequest, "InvalidIdentityToken", "Incorrect token audience").WithCause(fmt.Errorf("audience %q no longer registered for %s", verified.Audience, provider.ARN))
	}
	trust, err := role.Trust()
	if err != nil {
		return nil, errNotAuthorizedWebIdentity().WithCause(fmt.Errorf("role %s trust policy: %w", role.ARN, err))
	}
	now := s.now()
	ti, terr := webIdentityTrustInput(provider, verified.Audience, &verified.Claims, in, s.dir.Region(), now, trust)
	if terr != nil {
		return nil, terr
	}
	sourceIdentity, tags, transitive := ti.sourceIdentity, ti.tags, ti.transitive
	for _, action := range ti.actions {
		req := ti.request(action)
		if d := policy.EvaluateTrust(req, trust); !d.Allowed {
			if audit.FromContext(ctx) != nil {
				_, trace := policy.EvaluateTrace(req, trust)
				noteDecision(ctx, []string{"trust policy of " + role.ARN}, trace)
			}
			return nil, errNotAuthorizedWebIdentity().WithCause(fmt.Errorf("trust policy of %s does not allow %s for sub %q", role.ARN, action, verified.Claims.Subject))
		}
	}
	duration := time.Hour
	if in.DurationSeconds != nil {
		duration = time.Duration(*in.DurationSeconds) * time.Second
	}
	if duration > role.MaxSessionDuration && role.MaxSessionDuration > 0 {
		return nil, errDurationOverRoleMax()
	}
	if in.Policy != "" {
		if _, err := policy.ParseKind([]byte(in.Policy), policy.SessionPolicy); err != nil {
			return nil, malformedPolicy(err)
		}
	}
	session := Session{
		RoleARN:           role.ARN,
		RoleID:            role.ID,
		SessionName:       in.RoleSessionName,
		SourceIdentity:    sourceIdentity,
		ProviderARN:       provider.ARN,
		Subject:           verified.Claims.Subject,
		Audience:          verified.Audience,
		Policy:            in.Policy,
		PolicyARNs:        in.PolicyARNs,
		Tags:              tags,
		TransitiveTagKeys: transitive,
		IssuedAt:          now,
		Expiration:        now.Add(duration),
	}
	creds, err := s.keyring.Seal(session)
	if err != nil {
		return nil, sealError(err)
	}
	out := &AssumeRoleWithWebIdentityOutput{
		Credentials:    creds,
		Subject:        verified.Claims.Subject,
		AssumedRoleID:  role.ID + ":" + in.RoleSessionName,
		AssumedRoleARN: assumedRoleARN(s.dir.Account(), role.Name, in.RoleSessionName),
		Provider:       provider.ARN,
		Audience:       verified.Audience,
		SourceIdentity: sourceIdentity,
	}
	if in.Policy != "" || len(in.PolicyARNs) > 0 {
		size := packedPolicySize(in.Policy, in.PolicyARNs)
		out.PackedPolicySize = &size
	}
	s.log.InfoContext(ctx, "AssumeRoleWithWebIdentity", "role", role.ARN, "session", in.RoleSessionName,
		"sub", verified.Claims.Subject, "provider", provider.ARN, "expires", session.Expiration)
	return out, nil
}

// trustInput is what a role's trust policy is evaluated on for a
// web-identity token: the condition keys, and the actions the call needs
// (sts:TagSession and sts:SetSourceIdentity too when the token asks for
// them). The request path and explanations build it alike, so an
// explanation decides exactly as the call would.
type trustInput struct {
	wi             policy.WebIdentity
	actions        []string
	tags           []Tag
	transitive     []string
	sourceIdentity string
}

// webIdentityTrustInput is what the trust policy sees of a verified
// token. With trust, only the claims trust can test become condition keys
// (claim_condition_keys: all); without, every claim does (explain).
func webIdentityTrustInput(provider *iam.OIDCProvider, audience string, claims *federation.Claims, in *AssumeRoleWithWebIdentityInput, region string, now time.Time, trust *policy.Policy) (trustInput, *awsproto.Error) {
	var ti trustInput
	if raw, present := claims.Raw[claimSourceIdentity]; present {
		// Same rules as AssumeRole's SourceIdentity parameter; a claim that
		// breaks them is the token's fault (wording unconfirmed).
		si, ok := raw.(string)
		if !ok || !sourceIdentityRE.MatchString(si) || utf8.RuneCountInString(si) < 2 || utf8.RuneCountInString(si) > 64 {
			return ti, awsproto.NewError(http.StatusBadRequest, "InvalidIdentityToken", "The https://aws.amazon.com/source_identity claim is not a valid source identity")
		}
		ti.sourceIdentity = si
	}
	ti.wi = policy.WebIdentity{
		ProviderARN:     provider.ARN,
		ProviderKey:     iam.ProviderConditionPrefix(provider.URL),
		Audience:        audience,
		TokenAudiences:  claims.Audience,
		Subject:         claims.Subject,
		AMR:             claims.AMR,
		IssuedAt:        claims.IssuedAt,
		CurrentTime:     now,
		SourceIP:        in.SourceIP,
		RequestedRegion: region,
		RoleSessionName: in.RoleSessionName,
		SourceIdentity:  ti.sourceIdentity,
	}
	if provider.AllClaimConditionKeys {
		ti.wi.Claims = claimConditionValues(claims.Raw, ti.wi.ProviderKey+":", trust)
	}
	ti.actions = []string{"sts:AssumeRoleWithWebIdentity"}
	if raw, ok := claims.Raw[claimTags]; ok {
		var terr *awsproto.Error
		if ti.tags, ti.transitive, terr = sessionTagsFromClaim(raw); terr != nil {
			return ti, terr
		}
		ti.actions = append(ti.actions, "sts:TagSession")
	}
	if ti.sourceIdentity != "" {
		ti.actions = append(ti.actions, "sts:SetSourceIdentity")
	}
	return ti, nil
}

// request is the trust-policy request for action.
func (ti *trustInput) request(action string) *policy.Request {
	req := ti.wi.Request(action)
	addRequestTags(req.Context, ti.tags, ti.transitive)
	return req
}

// addRequestTags exposes session tags to the trust policy as AWS does:
// aws:RequestTag/<key>, the list aws:TagKeys, and sts:TransitiveTagKeys.
func addRequestTags(c policy.Context, tags []Tag, transitive []string) {
	if len(tags) == 0 {
		return
	}
	keys := make([]string, 0, len(tags))
	for _, t := range tags {
		c.Set("aws:RequestTag/"+t.Key, t.Value)
		keys = append(keys, t.Key)
	}
	c.Set("aws:TagKeys", keys...)
	if len(transitive) > 0 {
		c.Set("sts:TransitiveTagKeys", transitive...)
	}
}

// parsedSession parses a session policy, through the cache.
func (s *Service) parsedSession(doc string) (*policy.Policy, error) {
	s.policyMu.RLock()
	p, ok := s.policies[doc]
	s.policyMu.RUnlock()
	if ok {
		return p, nil
	}
	p, err := policy.ParseWithLimit([]byte(doc), 0)
	if err == nil {
		err = p.Validate(policy.SessionPolicy)
	}
	if err != nil {
		return nil, err
	}
	s.policyMu.Lock()
	if len(s.policies) >= maxParsedPolicies {
		s.policies = map[string]*policy.Policy{}
	}
	s.policies[doc] = p
	s.policyMu.Unlock()
	return p, nil
}

// assumedRoleARN is arn:aws:sts::<account>:assumed-role/<role name>/<session>
// (no role path, as AWS writes it).
func assumedRoleARN(account, roleName, session string) string {
	return "arn:aws:sts::" + account + ":assumed-role/" + roleName + "/" + session
}

// packedPolicySize approximates AWS's percentage of the packed session
// policy budget; AWS's packing is not public, so this is the plain size
// against the 2,048-character limit.
func packedPolicySize(policy string, arns []string) int {
	n := len(policy)
	for _, a := range arns {
		n += len(a)
	}
	return min(100, (n*100+2047)/2048)
}

// claimConditionValues renders every string, number and boolean claim
// (and lists of them) as condition-key values, for providers that opted in
// to claim_condition_keys: all. With trust, only the claims it tests (as
// prefix+name) are rendered: a GitLab token has some thirty claims, a
// trust policy tests two or three, and rendering them all was a fifth of
// what a request allocated.
func claimConditionValues(raw map[string]any, prefix string, trust *policy.Policy) map[string][]string {
	out := map[string][]string{}
	for name, v := range raw {
		if strings.Contains(name, "://") {
			continue // AWS's namespaced claims are not condition keys
		}
		if trust != nil && !trust.UsesKey(prefix, name) {
			continue
		}
		switch x := v.(type) {
		case string:
			out[name] = []string{x}
		case bool:
			out[name] = []string{strconv.FormatBool(x)}
		case federation.Number:
			out[name] = []string{x.String()}
		case []any:
			var vals []string
			for _, e := range x {
				if str, ok := e.(string); ok {
					vals = append(vals, str)
				}
			}
			if len(vals) > 0 {
				out[name] = vals
			}
		}
	}
	return out
}

// sealError maps a failure to seal a session. A session too large for a
// token is the caller's (or the token's) doing: PackedPolicyTooLarge, as
// AWS answers when session policies and tags overflow (wording
// unconfirmed), not a retryable 500.
func sealError(err error) *awsproto.Error {
	if errors.Is(err, ErrSessionTooLarge) {
		return awsproto.NewError(http.StatusBadRequest, "PackedPolicyTooLarge",
			"Packed policy consumes more than 100% of allotted space, please use smaller policy.").WithCause(err)
	}
	return awsproto.AsError(err)
}

// tokenError maps a verifier failure to STS's answer.
func tokenError(err error) *awsproto.Error {
	var te *federation.TokenError
	if !errors.As(err, &te) {
		return awsproto.InternalFailure().WithCause(err)
	}
	status := http.StatusBadRequest
	return awsproto.NewError(status, string(te.Code), te.Message).WithCause(err)
}

// malformedPolicy maps a session policy parse failure.
func malformedPolicy(err error) *awsproto.Error {
	var me *policy.MalformedError
	msg := "Syntax errors in policy."
	if errors.As(err, &me) {
		msg = me.Message
	}
	return awsproto.NewError(http.StatusBadRequest, "MalformedPolicyDocument", msg).WithCause(err)
}
