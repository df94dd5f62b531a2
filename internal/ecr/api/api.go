// Package api serves the ECR JSON 1.1 API (X-Amz-Target
// AmazonEC2ContainerRegistry_V20150921.*) over the ecr package: every
// request signed, authorized as ECR combines a repository policy with IAM,
// audited, and answered with ECR's errors. Its Authorize decides the
// registry's requests too, so the API and the registry agree.
package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/oidcfed/oidcfed/internal/audit"
	"github.com/oidcfed/oidcfed/internal/awsproto"
	"github.com/oidcfed/oidcfed/internal/ecr"
	"github.com/oidcfed/oidcfed/internal/httpx"
	"github.com/oidcfed/oidcfed/internal/iam/policy"
	"github.com/oidcfed/oidcfed/internal/sigv4"
	"github.com/oidcfed/oidcfed/internal/sts"
)

// TargetPrefix is ECR's X-Amz-Target prefix.
const TargetPrefix = "AmazonEC2ContainerRegistry_V20150921"

// MaxBody bounds a request: the largest member is a repository policy
// (10,240 characters) or a list of 100 image ids.
const MaxBody = 256 << 10

// Options configure a Handler.
type Options struct {
	Service *ecr.Service
	// Auth authenticates (SigV4) and authorizes (IAM) callers.
	Auth *sts.Service
	// Tokens seals registry passwords.
	Tokens *ecr.Tokens
	// Downloads signs GetDownloadUrlForLayer's URLs.
	Downloads *ecr.DownloadURLs
	// ProxyEndpoint is the registry's URL as GetAuthorizationToken
	// answers it (what docker and crane log in to).
	ProxyEndpoint string
	// Audit records every request; nil runs without.
	Audit    audit.Recorder
	KeyCache *sigv4.KeyCache
	Log      *slog.Logger
}

// Handler serves ECR.
type Handler struct {
	svc       *ecr.Service
	auth      *sts.Service
	tokens    *ecr.Tokens
	downloads *ecr.DownloadURLs
	proxy     string
	audit     audit.Recorder
	cache     *sigv4.KeyCache
	log       *slog.Logger
}

// NewHandler returns the ECR endpoint.
func NewHandler(o Options) *Handler {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	return &Handler{svc: o.Service, auth: o.Auth, tokens: o.Tokens, downloads: o.Downloads, proxy: o.ProxyEndpoint, audit: o.Audit, cache: o.KeyCache, log: o.Log}
}

// statuses is the ECR protocol's table: each error code's HTTP status
// (every other code is a 400).
var statuses = map[ecr.ErrorCode]int{
	ecr.CodeServer: http.StatusInternalServerError,
}

func toAWS(err error) *awsproto.Error {
	var ee *ecr.Error
	if errors.As(err, &ee) {
		status, ok := statuses[ee.Code]
		if !ok {
			status = http.StatusBadRequest
		}
		return awsproto.NewError(status, string(ee.Code), ee.Message).WithCause(ee.Cause)
	}
	var ae *awsproto.Error
	if errors.As(err, &ae) {
		return ae
	}
	return awsproto.NewError(http.StatusInternalServerError, string(ecr.CodeServer), "").WithCause(err)
}

// call is one request on its way through an operation.
type call struct {
	ctx         context.Context
	caller      *sts.Caller
	accessKeyID string
	body        []byte
	ip          string
	ev          *audit.Event
}

type operation func(h *Handler, c *call) (any, error)

var operations map[string]operation

func init() {
	operations = map[string]operation{
		"GetAuthorizationToken":       (*Handler).getAuthorizationToken,
		"CreateRepository":            (*Handler).createRepository,
		"DescribeRepositories":        (*Handler).describeRepositories,
		"DeleteRepository":            (*Handler).deleteRepository,
		"SetRepositoryPolicy":         (*Handler).setRepositoryPolicy,
		"GetRepositoryPolicy":         (*Handler).getRepositoryPolicy,
		"DeleteRepositoryPolicy":      (*Handler).deleteRepositoryPolicy,
		"ListImages":                  (*Handler).listImages,
		"DescribeImages":              (*Handler).describeImages,
		"BatchGetImage":               (*Handler).batchGetImage,
		"BatchDeleteImage":            (*Handler).batchDeleteImage,
		"BatchCheckLayerAvailability": (*Handler).batchCheckLayerAvailability,
		"GetDownloadUrlForLayer":      (*Handler).getDownloadURLForLayer,
	}
}

// readOnly operations, as CloudTrail marks them.
func readOnly(op string) bool {
	switch op {
	case "GetAuthorizationToken", "DescribeRepositories", "GetRepositoryPolicy", "ListImages", "DescribeImages", "BatchGetImage",
		"BatchCheckLayerAvailability", "GetDownloadUrlForLayer":
		return true
	}
	return false
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	requestID := awsproto.NewRequestID()
	op := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), TargetPrefix+".")
	ev := &audit.Event{EventSource: audit.SourceECR, EventName: audit.Value(op, 128), AWSRegion: h.svc.Region(), SourceIPAddress: httpx.RemoteIP(r),
		UserAgent: audit.Value(r.UserAgent(), 1024), RequestID: requestID, ReadOnly: readOnly(op), RecipientAccountID: h.svc.Account(),
		UserIdentity: audit.UserIdentity{Type: "Unknown"}}
	if h.audit != nil {
		r = r.WithContext(audit.WithEvent(r.Context(), ev))
	}
	fail := func(e *awsproto.Error) {
		ev.Fail(e.Code, e.Message, errors.Unwrap(e))
		level := slog.LevelInfo
		if e.HTTPStatus >= 500 {
			level = slog.LevelError
		}
		h.log.Log(r.Context(), level, "ecr request refused", "aws_request_id", requestID, "code", e.Code, "status", e.HTTPStatus, "cause", errors.Unwrap(e))
		if !audit.Commit(r.Context(), h.audit, ev, h.log) {
			e = awsproto.InternalFailure()
		}
		awsproto.WriteJSONError(w, requestID, e)
	}
	body, err := awsproto.ReadBody(r, MaxBody)
	if err != nil {
		fail(awsproto.AsError(err))
		return
	}
	caller, aerr := h.auth.Authenticate(r, body, "ecr", []string{h.svc.Region()}, h.cache)
	if aerr != nil {
		fail(awsproto.JSONAuthError(aerr))
		return
	}
	fn, ok := operations[op]
	if !ok {
		fail(awsproto.NewError(http.StatusBadRequest, string(ecr.CodeUnknownOperation), ""))
		return
	}
	c := &call{ctx: r.Context(), caller: caller, accessKeyID: accessKeyID(r), body: body, ip: httpx.RemoteIP(r), ev: ev}
	resp, err := fn(h, c)
	if err != nil {
		fail(toAWS(err))
		return
	}
	out, err := json.Marshal(resp)
	if err != nil {
		fail(toAWS(err))
		return
	}
	if !audit.Commit(r.Context(), h.audit, ev, h.log) {
		awsproto.WriteJSONError(w, requestID, awsproto.InternalFailure())
		return
	}
	awsproto.WriteJSONResponse(w, requestID, out)
}

// accessKeyID is the access key a verified request was signed with.
func accessKeyID(r *http.Request) string {
	if a, err := sigv4.ParseAuthorization(r.Header.Get("Authorization")); err == nil {
		return a.Credential.AccessKeyID
	}
	id, _, _ := strings.Cut(r.URL.Query().Get("X-Amz-Credential"), "/")
	return id
}

// decode reads an operation's JSON request. Type mismatches are the JSON
// protocol's SerializationException; unknown members are ignored, as AWS
// does.
func decode(c *call, v any) error {
	if len(bytes.TrimSpace(c.body)) == 0 {
		return nil
	}
	if err := json.Unmarshal(c.body, v); err != nil {
		return &ecr.Error{Code: ecr.CodeSerialization, Message: "", Cause: err}
	}
	return nil
}

// epoch is a timestamp as the JSON protocol writes it: seconds, with a
// fraction.
func epoch(t time.Time) float64 { return float64(t.UnixMilli()) / 1000 }

var registryIDRE = regexp.MustCompile(`^[0-9]{12}$`)

// checkRegistry checks a request's registryId: the model's pattern, and
// this server's account (the only registry it serves: another is one
// whose repositories it has not got).
func (h *Handler) checkRegistry(registryID, repo string) error {
	if registryID == "" {
		return nil
	}
	if !registryIDRE.MatchString(registryID) {
		return &ecr.Error{Code: ecr.CodeValidation, Message: "1 validation error detected: Value '" + audit.Value(registryID, 64) +
			"' at 'registryId' failed to satisfy constraint: Member must satisfy regular expression pattern: [0-9]{12}"}
	}
	if registryID != h.svc.Account() {
		return ecr.ErrRepositoryNotFound(repo, registryID)
	}
	return nil
}

// requestContext is the request's condition-key context.
func (h *Handler) requestContext(c *sts.Caller, ip string) policy.Context {
	reqCtx := map[string][]string{}
	if ip != "" {
		reqCtx["aws:sourceip"] = []string{ip}
	}
	return h.auth.RequestContext(c, reqCtx)
}

// Authorize decides action on a repository as ECR does (for the API and
// the registry alike): an explicit Deny in the repository policy or in the
// caller's IAM policies refuses; otherwise the caller's IAM policies (and
// session policies) must allow the action on the repository ARN, or the
// repository policy must allow it to the caller itself (a repository
// policy naming the account only delegates to IAM). r is the repository,
// nil when it does not exist (IAM alone decides, so a caller who may not
// act on a name learns nothing about it). The error is ECR's
// AccessDeniedException in IAM's wording.
func (h *Handler) Authorize(ctx context.Context, c *sts.Caller, action, name string, r *ecr.Repository, ip string) error {
	arn := h.svc.ARN(name)
	pc := h.requestContext(c, ip)
	grant := policy.ResourceNoAllow
	if r != nil && r.ParsedPolicy() != nil {
		req := &policy.Request{Principal: policy.Principal{Type: policy.PrincipalAWS, ID: h.auth.CallerARN(c)}, Action: action, Resource: arn, Context: pc}
		grant = policy.EvaluateResource(req, r.ParsedPolicy())
		if grant == policy.ResourceDeny {
			return &ecr.Error{Code: ecr.CodeAccessDenied, Message: "User: " + h.auth.CallerARN(c) + " is not authorized to perform: " + action +
				" on resource: " + arn + " with an explicit deny in a resource-based policy", Cause: errors.New("repository policy denies")}
		}
	}
	e := h.auth.AuthorizeWith(ctx, c, action, arn, "", pc)
	if e == nil {
		return nil
	}
	if grant == policy.ResourceAllowsPrincipal && !errors.Is(e, sts.ErrExplicitDeny) &&
		(c.Session == nil || (c.Session.Policy == "" && len(c.Session.PolicyARNs) == 0)) {
		// The repository policy grants the caller (or its role) itself. A
		// session's own policies would still bound a grant to its role;
		// such sessions need their IAM policies to allow, as checked above.
		return nil
	}
	return &ecr.Error{Code: ecr.CodeAccessDenied, Message: e.Message, Cause: errors.Unwrap(e)}
}

// authorizeIAM is for operations on no repository (GetAuthorizationToken):
// the caller's IAM policies decide, on resource "*".
func (h *Handler) authorizeIAM(c *call, action string) error {
	if e := h.auth.AuthorizeWith(c.ctx, c.caller, action, "*", "", h.requestContext(c.caller, c.ip)); e != nil {
		return &ecr.Error{Code: ecr.CodeAccessDenied, Message: e.Message, Cause: errors.Unwrap(e)}
	}
	return nil
}

// repository looks name up for an operation on it and authorizes action:
// authorization first, so a caller refused the action cannot learn
// whether the repository exists.
func (h *Handler) repository(c *call, action, registryID, name string) (*ecr.Repository, error) {
	if err := ecr.CheckRepositoryName(name); err != nil {
		return nil, err
	}
	c.ev.Resources = []audit.Resource{{AccountID: h.svc.Account(), Type: "AWS::ECR::Repository", ARN: h.svc.ARN(name)}}
	if err := h.checkRegistry(registryID, name); err != nil {
		return nil, err
	}
	r, err := h.svc.Repository(c.ctx, name)
	var ee *ecr.Error
	if err != nil && !(errors.As(err, &ee) && ee.Code == ecr.CodeRepositoryNotFound) {
		return nil, err
	}
	if aerr := h.Authorize(c.ctx, c.caller, action, name, r, c.ip); aerr != nil {
		return nil, aerr
	}
	return r, err
}
