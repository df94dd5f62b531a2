package sts

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/oidcfed/oidcfed/internal/audit"
	"github.com/oidcfed/oidcfed/internal/awsproto"
	"github.com/oidcfed/oidcfed/internal/httpx"
	"github.com/oidcfed/oidcfed/internal/iam"
	"github.com/oidcfed/oidcfed/internal/iam/policy"
	"github.com/oidcfed/oidcfed/internal/sigv4"
)

// MaxBody bounds an STS request body. AWS's own limit is larger (10 MB);
// nothing an STS call carries comes near 1 MB (a token is at most 20,000
// characters, a session policy 2,048).
const MaxBody = 1 << 20

// APIVersion is the only STS version there is.
const APIVersion = "2011-06-15"

// HandlerOptions configure the STS HTTP endpoint.
type HandlerOptions struct {
	// Region is the region STS signs and answers for.
	Region string
	// KeyCache caches SigV4 signing keys; nil derives them per request.
	KeyCache *sigv4.KeyCache
	// Log receives request failures with their causes.
	Log *slog.Logger
	// Audit records every request before it is answered; nil runs
	// without an audit log.
	Audit audit.Recorder
}

// Handler serves the STS Query API (POST form bodies and GET query strings).
type Handler struct {
	svc  *Service
	opts HandlerOptions
}

// NewHandler returns the HTTP endpoint for svc.
func NewHandler(svc *Service, opts HandlerOptions) *Handler {
	if opts.Log == nil {
		opts.Log = svc.log
	}
	return &Handler{svc: svc, opts: opts}
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ev, r := h.startEvent(r, awsproto.NewRequestID())
	// The body is read once: the Query parser and (for signed actions) the
	// SigV4 payload hash both need it.
	body, err := awsproto.ReadBody(r, MaxBody)
	if err != nil {
		h.fail(w, r, ev, awsproto.AsError(err))
		return
	}
	values, err := awsproto.ParseRequest(r, body)
	if err != nil {
		h.fail(w, r, ev, awsproto.AsError(err))
		return
	}
	action := values.Action()
	ev.EventName = auditValue(action)
	if action == "" {
		h.fail(w, r, ev, awsproto.MissingAction())
		return
	}
	if v := values.Version(); v != APIVersion {
		h.fail(w, r, ev, awsproto.InvalidAction(action, v))
		return
	}
	if p, ok := values.Lookup("Policy"); ok && p == "" {
		h.fail(w, r, ev, awsproto.ValidationError("1 validation error detected: Value '' at 'policy' failed to satisfy constraint: Member must have length greater than or equal to 1"))
		return
	}
	switch action {
	case "AssumeRoleWithWebIdentity":
		// Unsigned by design (the token is the credential): any signature
		// the caller added is ignored, as the model's noAuth says.
		h.assumeRoleWithWebIdentity(w, r, ev, values)
	case "GetCallerIdentity":
		h.getCallerIdentity(w, r, ev, body)
	case "AssumeRole":
		h.assumeRole(w, r, ev, body, values)
	case "DecodeAuthorizationMessage":
		h.decodeAuthorizationMessage(w, r, ev, body, values)
	default:
		h.fail(w, r, ev, awsproto.InvalidAction(action, values.Version()))
	}
}

func (h *Handler) assumeRoleWithWebIdentity(w http.ResponseWriter, r *http.Request, ev *audit.Event, v awsproto.Values) {
	in := &AssumeRoleWithWebIdentityInput{
		RoleARN:          v.Get("RoleArn"),
		RoleSessionName:  v.Get("RoleSessionName"),
		WebIdentityToken: v.Get("WebIdentityToken"),
		ProviderID:       v.Get("ProviderId"),
		Policy:           v.Get("Policy"),
		SourceIP:         httpx.RemoteIP(r),
	}
	ev.UserIdentity.Type = "WebIdentityUser"
	ev.Resources = roleResource(h.svc.dir.Account(), in.RoleARN)
	var perr *awsproto.Error
	in.DurationSeconds, in.PolicyARNs, perr = sessionParams(v)
	ev.RequestParameters = assumeParameters(in.RoleARN, in.RoleSessionName, in.Policy, in.PolicyARNs, in.DurationSeconds)
	if perr != nil {
		h.fail(w, r, ev, perr)
		return
	}
	out, err := h.svc.AssumeRoleWithWebIdentity(r.Context(), in)
	if err != nil {
		h.fail(w, r, ev, awsproto.AsError(err))
		return
	}
	ev.ResponseElements = assumedResponse(out.Credentials, out.AssumedRoleID, out.AssumedRoleARN, out.SourceIdentity, out.PackedPolicySize)
	ev.ResponseElements["subjectFromWebIdentityToken"] = out.Subject
	ev.ResponseElements["provider"] = out.Provider
	ev.ResponseElements["audience"] = out.Audience
	// Keys are fetched over TLS checked against the system's CAs (what
	// AWS calls its trust store), never pinned by thumbprint.
	ev.AdditionalEventData = map[string]any{"identityProviderConnectionVerificationMethod": "IAMTrustStore"}
	h.succeed(w, r, ev, "AssumeRoleWithWebIdentity", func(x *awsproto.XMLWriter) {
		writeCredentials(x, out.Credentials)
		x.Element("SubjectFromWebIdentityToken", out.Subject)
		x.Start("AssumedRoleUser")
		x.Element("AssumedRoleId", out.AssumedRoleID)
		x.Element("Arn", out.AssumedRoleARN)
		x.End("AssumedRoleUser")
		if out.PackedPolicySize != nil {
			x.Element("PackedPolicySize", strconv.Itoa(*out.PackedPolicySize))
		}
		x.Element("Provider", out.Provider)
		x.Element("Audience", out.Audience)
		x.OptElement("SourceIdentity", out.SourceIdentity)
	})
}

// Caller is who signed a request: a role session (temporary credentials)
// or the account's root user (its long-term access key).
type Caller struct {
	// Session is nil for long-term keys. It never holds the secret access
	// key (only the signature check needs it), and it may be shared with
	// the session's other requests: read it, never modify it.
	Session *Session
	User    *iam.User // an IAM user's long-term key
	Root    bool

	// principal is set by Authenticate (principal.go); nil in a Caller
	// made elsewhere, which then has its principal built at each use.
	principal *principal
}

// sessionParams reads the DurationSeconds and PolicyArns parameters both
// assume actions take.
func sessionParams(v awsproto.Values) (*int64, []string, *awsproto.Error) {
	var duration *int64
	if raw, ok := v.Lookup("DurationSeconds"); ok {
		d, err := strconv.ParseInt(raw, 10, 64)
		if err != nil {
			return nil, nil, awsproto.ValidationError("1 validation error detected: Value '" + truncateValue(raw) + "' at 'durationSeconds' failed to satisfy constraint: Member must be an integer")
		}
		duration = &d
	}
	members, err := v.Structs("PolicyArns", "arn")
	if err != nil {
		return nil, nil, awsproto.AsError(err)
	}
	var arns []string
	for _, m := range members {
		arns = append(arns, m["arn"])
	}
	return duration, arns, nil
}

// authenticate verifies the request's SigV4 signature and returns who
// signed it.
func (h *Handler) authenticate(r *http.Request, body []byte) (*Caller, *awsproto.Error) {
	return h.svc.Authenticate(r, body, "sts", []string{h.opts.Region}, h.opts.KeyCache)
}

func (h *Handler) assumeRole(w http.ResponseWriter, r *http.Request, ev *audit.Event, body []byte, v awsproto.Values) {
	caller, aerr := h.authenticate(r, body)
	if aerr != nil {
		h.fail(w, r, ev, aerr)
		return
	}
	// Parameters AWS acts on that this server does not implement yet are
	// refused rather than ignored: ignoring Tags, say, would let a session
	// through that AWS would deny for want of sts:TagSession.
	for _, name := range v.Names() {
		for _, unsupported := range []string{"Tags.", "TransitiveTagKeys.", "SerialNumber", "TokenCode", "ProvidedContexts."} {
			if name == unsupported || strings.HasPrefix(name, unsupported) {
				h.fail(w, r, ev, awsproto.InvalidParameterValue("The AssumeRole parameter "+strings.TrimSuffix(unsupported, ".")+" is not supported by this server"))
				return
			}
		}
	}
	in := &AssumeRoleInput{
		RoleARN:         v.Get("RoleArn"),
		RoleSessionName: v.Get("RoleSessionName"),
		Policy:          v.Get("Policy"),
		SourceIdentity:  v.Get("SourceIdentity"),
		ExternalID:      v.Get("ExternalId"),
		SourceIP:        httpx.RemoteIP(r),
	}
	ev.Resources = roleResource(h.svc.dir.Account(), in.RoleARN)
	var perr *awsproto.Error
	in.DurationSeconds, in.PolicyARNs, perr = sessionParams(v)
	ev.RequestParameters = assumeParameters(in.RoleARN, in.RoleSessionName, in.Policy, in.PolicyARNs, in.DurationSeconds)
	if in.ExternalID != "" {
		ev.RequestParameters["externalId"] = auditValue(in.ExternalID)
	}
	if in.SourceIdentity != "" {
		ev.RequestParameters["sourceIdentity"] = auditValue(in.SourceIdentity)
	}
	if perr != nil {
		h.fail(w, r, ev, perr)
		return
	}
	if caller.Root {
		// AWS refuses role assumption with root credentials outright.
		h.fail(w, r, ev, awsproto.NewError(http.StatusForbidden, "AccessDenied", "Roles may not be assumed by root accounts."))
		return
	}
	out, err := h.svc.AssumeRole(r.Context(), caller, in)
	if err != nil {
		h.fail(w, r, ev, awsproto.AsError(err))
		return
	}
	ev.ResponseElements = assumedResponse(out.Credentials, out.AssumedRoleID, out.AssumedRoleARN, out.SourceIdentity, out.PackedPolicySize)
	h.succeed(w, r, ev, "AssumeRole", func(x *awsproto.XMLWriter) {
		writeCredentials(x, out.Credentials)
		x.Start("AssumedRoleUser")
		x.Element("AssumedRoleId", out.AssumedRoleID)
		x.Element("Arn", out.AssumedRoleARN)
		x.End("AssumedRoleUser")
		if out.PackedPolicySize != nil {
			x.Element("PackedPolicySize", strconv.Itoa(*out.PackedPolicySize))
		}
		x.OptElement("SourceIdentity", out.SourceIdentity)
	})
}

func (h *Handler) decodeAuthorizationMessage(w http.ResponseWriter, r *http.Request, ev *audit.Event, body []byte, v awsproto.Values) {
	caller, aerr := h.authenticate(r, body)
	if aerr != nil {
		h.fail(w, r, ev, aerr)
		return
	}
	// The message itself is not recorded: it is the privileged detail the
	// decode is gated for, and the denial it came from is already audited.
	decoded, aerr := h.svc.DecodeAuthorizationMessage(r.Context(), caller, v.Get("EncodedMessage"))
	if aerr != nil {
		h.fail(w, r, ev, aerr)
		return
	}
	h.succeed(w, r, ev, "DecodeAuthorizationMessage", func(x *awsproto.XMLWriter) {
		x.Element("DecodedMessage", decoded)
	})
}

func writeCredentials(x *awsproto.XMLWriter, c Credentials) {
	x.Start("Credentials")
	x.Element("AccessKeyId", c.AccessKeyID)
	x.Element("SecretAccessKey", c.SecretAccessKey)
	x.Element("SessionToken", c.SessionToken)
	x.Element("Expiration", c.Expiration.UTC().Format(time.RFC3339))
	x.End("Credentials")
}

func (h *Handler) getCallerIdentity(w http.ResponseWriter, r *http.Request, ev *audit.Event, body []byte) {
	caller, aerr := h.authenticate(r, body)
	if aerr != nil {
		h.fail(w, r, ev, aerr)
		return
	}
	account := h.svc.dir.Account()
	if caller.Root {
		h.succeed(w, r, ev, "GetCallerIdentity", func(x *awsproto.XMLWriter) {
			x.Element("UserId", account)
			x.Element("Account", account)
			x.Element("Arn", "arn:aws:iam::"+account+":root")
		})
		return
	}
	if u := caller.User; u != nil {
		h.succeed(w, r, ev, "GetCallerIdentity", func(x *awsproto.XMLWriter) {
			x.Element("UserId", u.ID)
			x.Element("Account", account)
			x.Element("Arn", u.ARN)
		})
		return
	}
	sess := caller.Session
	_, roleName := roleNameFromARN(sess.RoleARN)
	h.succeed(w, r, ev, "GetCallerIdentity", func(x *awsproto.XMLWriter) {
		x.Element("UserId", sess.RoleID+":"+sess.SessionName)
		x.Element("Account", h.svc.dir.Account())
		x.Element("Arn", assumedRoleARN(h.svc.dir.Account(), roleName, sess.SessionName))
	})
}

// Authenticate verifies a request's SigV4 signature for service (scoped to
// one of regions) and returns who signed it: a role session or the
// account root. Every signed API of the server authenticates through it.
func (s *Service) Authenticate(r *http.Request, body []byte, service string, regions []string, cache *sigv4.KeyCache) (*Caller, *awsproto.Error) {
	res, err := sigv4.Verify(r.Context(), r, body, sigv4.Options{
		Service:     service,
		Regions:     regions,
		Credentials: s.credentials,
		Now:         s.now,
		KeyCache:    cache,
	})
	if err != nil {
		return nil, sigv4Error(err)
	}
	caller := res.Principal.(*Caller)
	s.noteCaller(r.Context(), caller, res.AccessKeyID)
	return caller, nil
}

// CallerARN is how AWS names the caller in messages and policies.
func (s *Service) CallerARN(c *Caller) string {
	return s.principalOf(c).arn
}

// Authorize decides whether caller may perform action on resource with
// its identity-based permissions, as every signed API of the server asks:
// the root user may do anything; an IAM user needs an Allow in its inline
// or attached policies and no explicit Deny; a role session needs the same
// of its role's policies and, when it has session policies, an Allow in
// those too. The error is AWS's AccessDenied; resourceLabel, when set, is
// how the message names the resource ("role NAME"), as IAM words it.
func (s *Service) Authorize(ctx context.Context, c *Caller, action, resource string, reqCtx map[string][]string) *awsproto.Error {
	return s.AuthorizeLabelled(ctx, c, action, resource, "", reqCtx)
}

// AuthorizeLabelled is Authorize with the resource named as resourceLabel
// in the denial message.
func (s *Service) AuthorizeLabelled(ctx context.Context, c *Caller, action, resource, resourceLabel string, reqCtx map[string][]string) *awsproto.Error {
	if c.Root {
		return nil
	}
	return s.AuthorizeWith(ctx, c, action, resource, resourceLabel, s.RequestContext(c, reqCtx))
}

// RequestContext is the condition-key context of a request by c: reqCtx
// (the service's own keys), the global keys (time, region, account) and
// the principal's (ARN, type, tags, and a web-identity session's provider,
// sub and aud). Services that also evaluate a resource policy (KMS key
// policies) build it once for both decisions.
func (s *Service) RequestContext(c *Caller, reqCtx map[string][]string) policy.Context {
	p := s.principalOf(c)
	pc := make(policy.Context, len(reqCtx)+contextSize(p))
	for k, v := range reqCtx {
		pc.Set(k, v...)
	}
	return s.addRequestContext(pc, p)
}

// AddRequestContext is RequestContext building in reqCtx itself, which the
// caller hands over (and may size with RequestContextSize): one map per
// request instead of two. Its keys must be lower-case already, as
// policy.Context.Set stores them.
func (s *Service) AddRequestContext(c *Caller, reqCtx policy.Context) policy.Context {
	return s.addRequestContext(reqCtx, s.principalOf(c))
}

// RequestContextSize is how many keys AddRequestContext adds for c.
func (s *Service) RequestContextSize(c *Caller) int { return contextSize(s.principalOf(c)) }

// AuthorizeWith is AuthorizeLabelled with the context already built
// (RequestContext).
func (s *Service) AuthorizeWith(ctx context.Context, c *Caller, action, resource, resourceLabel string, pc policy.Context) *awsproto.Error {
	if c.Root {
		return nil
	}
	if resourceLabel == "" {
		resourceLabel = resource
	}
	deny := func(explicit bool, cause error) *awsproto.Error {
		why := "because no identity-based policy allows the " + action + " action"
		if explicit {
			why = "with an explicit deny in an identity-based policy"
		}
		return awsproto.NewError(http.StatusForbidden, "AccessDenied", fmt.Sprintf(
			"User: %s is not authorized to perform: %s on resource: %s %s",
			s.CallerARN(c), action, resourceLabel, why)).WithCause(cause)
	}
	var identity, session []*policy.Policy
	var err error
	if u := c.User; u != nil {
		identity, err = s.identityPolicies(ctx, u.InlinePolicies, u.ManagedPolicyARNs)
	} else {
		identity, session, err = s.callerPolicies(ctx, c.Session)
	}
	if err != nil {
		return deny(false, err)
	}
	req := &policy.Request{Principal: policy.Principal{Type: policy.PrincipalAWS, ID: s.CallerARN(c)}, Action: action, Resource: resource, Context: pc}
	if d := policy.EvaluateSession(req, identity, session); !d.Allowed {
		if audit.FromContext(ctx) != nil {
			_, trace := policy.EvaluateSessionTrace(req, identity, session)
			noteDecision(ctx, policyLabels(len(identity), len(session)), trace)
		}
		cause := fmt.Errorf("identity/session policies decide %v", d.Effect)
		if d.Effect == policy.ExplicitDeny {
			cause = fmt.Errorf("%w: identity/session policies decide %v", ErrExplicitDeny, d.Effect)
		}
		e := deny(d.Effect == policy.ExplicitDeny, cause)
		if blob := s.encodeDenial(c, req, d, identity, session); blob != "" {
			e.Message += " Encoded authorization failure message: " + blob
		}
		return e
	}
	return nil
}

// ErrExplicitDeny is in the chain of an AuthorizeWith refusal that an
// explicit Deny decided (services that also weigh a resource policy must
// not let it override one).
var ErrExplicitDeny = errors.New("explicit deny")

// AccessKeySource resolves long-term access keys (AKIA...): the secret and
// whose key it is. ok is false for unknown or inactive keys.
type AccessKeySource interface {
	AccessKey(ctx context.Context, id string) (secret, userName string, ok bool, err error)
}

// UseAccessKeys lets long-term keys sign requests (the account root's key
// today; IAM users' with the IAM API).
func (s *Service) UseAccessKeys(src AccessKeySource) { s.accessKeys = src }

// lookupCredentials is the SigV4 credential source: temporary credentials
// are opened from their session token (nothing is looked up in a store);
// long-term keys come from the AccessKeySource.
func (s *Service) lookupCredentials(ctx context.Context, accessKeyID, sessionToken string) (sigv4.Credentials, any, error) {
	if strings.HasPrefix(accessKeyID, "AKIA") && s.accessKeys != nil {
		secret, user, ok, err := s.accessKeys.AccessKey(ctx, accessKeyID)
		switch {
		case err != nil:
			return sigv4.Credentials{}, nil, err
		case !ok:
			return sigv4.Credentials{}, nil, sigv4.ErrUnknownAccessKey
		case user != "":
			u, err := s.dir.UserByName(ctx, user)
			if err != nil {
				return sigv4.Credentials{}, nil, sigv4.ErrUnknownAccessKey
			}
			return sigv4.Credentials{AccessKeyID: accessKeyID, SecretAccessKey: secret}, s.withPrincipal(&Caller{User: u}), nil
		}
		return sigv4.Credentials{AccessKeyID: accessKeyID, SecretAccessKey: secret}, s.withPrincipal(&Caller{Root: true}), nil
	}
	if !strings.HasPrefix(accessKeyID, "ASIA") {
		return sigv4.Credentials{}, nil, sigv4.ErrUnknownAccessKey
	}
	if sessionToken == "" {
		return sigv4.Credentials{}, nil, sigv4.ErrInvalidSessionToken
	}
	sess, secret, opened, err := s.keyring.open(accessKeyID, sessionToken, s.now())
	switch {
	case errors.Is(err, ErrExpiredToken):
		return sigv4.Credentials{}, nil, sigv4.ErrExpiredToken
	case err != nil:
		return sigv4.Credentials{}, nil, errors.Join(sigv4.ErrInvalidSessionToken, err)
	}
	return sigv4.Credentials{AccessKeyID: accessKeyID, SecretAccessKey: secret, SessionToken: sessionToken},
		&Caller{Session: sess, principal: s.sessionPrincipal(sess, opened)}, nil
}

// roleNameFromARN splits arn:aws:iam::<acct>:role/<path><name>.
func roleNameFromARN(arn string) (path, name string) {
	rest := arn[strings.Index(arn, ":role/")+len(":role"):]
	i := strings.LastIndexByte(rest, '/')
	return rest[:i+1], rest[i+1:]
}

// sigv4Error maps the verifier's typed errors to the envelope.
func sigv4Error(err error) *awsproto.Error {
	var se *sigv4.Error
	if errors.As(err, &se) {
		return awsproto.NewError(se.Status, se.Code, se.Message).WithCause(err)
	}
	return awsproto.InternalFailure().WithCause(err)
}

// fail writes e and logs its cause (never a credential: causes are built
// without request values that could carry one).
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, ev *audit.Event, e *awsproto.Error) {
	level := slog.LevelInfo
	if e.HTTPStatus >= 500 {
		level = slog.LevelError
	}
	h.opts.Log.Log(r.Context(), level, "sts request refused", "aws_request_id", ev.RequestID, "code", e.Code,
		"status", e.HTTPStatus, "cause", errors.Unwrap(e))
	ev.Fail(e.Code, e.Message, errors.Unwrap(e))
	if !h.record(r, ev) {
		e = awsproto.InternalFailure()
	}
	awsproto.WriteQueryError(w, Namespace, ev.RequestID, e)
}
