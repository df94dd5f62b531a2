// Package api serves the KMS JSON 1.1 API (X-Amz-Target TrentService.*)
// over the kms package: every request signed, authorized as KMS combines a
// key policy with IAM, audited, and answered with KMS's errors.
package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/oidcfed/oidcfed/internal/audit"
	"github.com/oidcfed/oidcfed/internal/awsproto"
	"github.com/oidcfed/oidcfed/internal/httpx"
	"github.com/oidcfed/oidcfed/internal/iam/policy"
	"github.com/oidcfed/oidcfed/internal/kms"
	"github.com/oidcfed/oidcfed/internal/sigv4"
	"github.com/oidcfed/oidcfed/internal/sts"
)

// TargetPrefix is KMS's X-Amz-Target prefix.
const TargetPrefix = "TrentService"

// MaxBody bounds a request: the largest member is a key policy (32 KB).
const MaxBody = 256 << 10

// Options configure a Handler.
type Options struct {
	Service *kms.Service
	// Auth authenticates (SigV4) and authorizes (IAM) callers.
	Auth *sts.Service
	// Audit records every request; nil runs without.
	Audit           audit.Recorder
	Account, Region string
	KeyCache        *sigv4.KeyCache
	Log             *slog.Logger
}

// Handler serves KMS.
type Handler struct {
	svc     *kms.Service
	auth    *sts.Service
	audit   audit.Recorder
	account string
	region  string
	cache   *sigv4.KeyCache
	log     *slog.Logger

	// Made once, never modified: the regions a signature may be scoped
	// to, and the kms:CallerAccount condition value.
	regions       []string
	callerAccount []string
}

// NewHandler returns the KMS endpoint.
func NewHandler(o Options) *Handler {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	return &Handler{svc: o.Service, auth: o.Auth, audit: o.Audit, account: o.Account, region: o.Region, cache: o.KeyCache, log: o.Log,
		regions: []string{o.Region}, callerAccount: []string{o.Account}}
}

// statuses is the KMS protocol's table: each error code's HTTP status.
var statuses = map[kms.ErrorCode]int{
	kms.CodeInternal:          http.StatusInternalServerError,
	kms.CodeDependencyTimeout: http.StatusServiceUnavailable,
	kms.CodeKeyUnavailable:    http.StatusInternalServerError,
}

func toAWS(err error) *awsproto.Error {
	var ke *kms.Error
	if errors.As(err, &ke) {
		status, ok := statuses[ke.Code]
		if !ok {
			status = http.StatusBadRequest
		}
		return awsproto.NewError(status, string(ke.Code), ke.Message).WithCause(ke.Cause)
	}
	var ae *awsproto.Error
	if errors.As(err, &ae) {
		return ae
	}
	return awsproto.NewError(http.StatusInternalServerError, string(kms.CodeInternal), "").WithCause(err)
}

// call is one request on its way through an operation.
type call struct {
	ctx    context.Context
	caller *sts.Caller
	body   []byte
	ip     string
	ev     *audit.Event

	// keyContext is the condition-key map keyContext lent the request;
	// ServeHTTP gives it back once the operation has returned.
	keyContext map[string][]string
}

// keyContexts recycles the condition-key maps of key operations. Sized for
// all of a request's keys (about twenty), such a map was the largest
// allocation of a KMS Sign past the signature itself. A map is only read
// while its request authorizes (policy evaluation keeps neither the map nor
// the request; a denial's trace copies values, which are never pooled), and
// it is cleared before it is lent again.
var keyContexts sync.Pool

type operation func(h *Handler, c *call) (any, error)

var operations map[string]operation

func init() {
	operations = map[string]operation{
		"CreateKey":           (*Handler).createKey,
		"DescribeKey":         (*Handler).describeKey,
		"ListKeys":            (*Handler).listKeys,
		"GetPublicKey":        (*Handler).getPublicKey,
		"Sign":                (*Handler).sign,
		"Verify":              (*Handler).verify,
		"CreateAlias":         (*Handler).createAlias,
		"UpdateAlias":         (*Handler).updateAlias,
		"DeleteAlias":         (*Handler).deleteAlias,
		"ListAliases":         (*Handler).listAliases,
		"EnableKey":           (*Handler).enableKey,
		"DisableKey":          (*Handler).disableKey,
		"ScheduleKeyDeletion": (*Handler).scheduleKeyDeletion,
		"CancelKeyDeletion":   (*Handler).cancelKeyDeletion,
		"GetKeyPolicy":        (*Handler).getKeyPolicy,
		"PutKeyPolicy":        (*Handler).putKeyPolicy,
		"ListKeyPolicies":     (*Handler).listKeyPolicies,
		"TagResource":         (*Handler).tagResource,
		"UntagResource":       (*Handler).untagResource,
		"ListResourceTags":    (*Handler).listResourceTags,

		"Encrypt":                         (*Handler).encrypt,
		"Decrypt":                         (*Handler).decrypt,
		"ReEncrypt":                       (*Handler).reEncrypt,
		"GenerateDataKey":                 (*Handler).generateDataKey,
		"GenerateDataKeyWithoutPlaintext": (*Handler).generateDataKeyWithoutPlaintext,
		"GenerateRandom":                  (*Handler).generateRandom,
		"GenerateMac":                     (*Handler).generateMac,
		"VerifyMac":                       (*Handler).verifyMac,
	}
}

// readOnly operations, as CloudTrail marks them.
func readOnly(op string) bool {
	switch op {
	case "DescribeKey", "ListKeys", "GetPublicKey", "ListAliases", "GetKeyPolicy", "ListKeyPolicies", "ListResourceTags", "Sign", "Verify",
		"Encrypt", "Decrypt", "ReEncrypt", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext", "GenerateRandom", "GenerateMac", "VerifyMac":
		return true
	}
	return false
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	requestID := awsproto.NewRequestID()
	// Headers by their canonical keys: Header.Get canonicalizes its
	// argument on every call.
	op := strings.TrimPrefix(firstValue(r.Header["X-Amz-Target"]), TargetPrefix+".")
	ip := httpx.RemoteIP(r)
	ev := &audit.Event{EventSource: audit.SourceKMS, EventName: audit.Value(op, 128), AWSRegion: h.region, SourceIPAddress: ip,
		UserAgent: audit.Value(firstValue(r.Header["User-Agent"]), 1024), RequestID: requestID, ReadOnly: readOnly(op), RecipientAccountID: h.account,
		UserIdentity: audit.UserIdentity{Type: "Unknown"}}
	if h.audit != nil {
		// Only an audited request carries its event for domain code to
		// fill in (who the caller is, a denial's trace).
		r = r.WithContext(audit.WithEvent(r.Context(), ev))
	}
	fail := func(e *awsproto.Error) {
		ev.Fail(e.Code, e.Message, errors.Unwrap(e))
		level := slog.LevelInfo
		if e.HTTPStatus >= 500 {
			level = slog.LevelError
		}
		h.log.Log(r.Context(), level, "kms request refused", "aws_request_id", requestID, "code", e.Code, "status", e.HTTPStatus, "cause", errors.Unwrap(e))
		if !h.record(r, ev) {
			e = awsproto.InternalFailure()
		}
		awsproto.WriteJSONError(w, requestID, e)
	}
	body, err := awsproto.ReadBody(r, MaxBody)
	if err != nil {
		fail(awsproto.AsError(err))
		return
	}
	caller, aerr := h.auth.Authenticate(r, body, "kms", h.regions, h.cache)
	if aerr != nil {
		fail(awsproto.JSONAuthError(aerr))
		return
	}
	fn, ok := operations[op]
	if !ok {
		fail(awsproto.NewError(http.StatusBadRequest, "UnknownOperationException", ""))
		return
	}
	c := &call{ctx: r.Context(), caller: caller, body: body, ip: ip, ev: ev}
	resp, err := fn(h, c)
	c.returnKeyContext()
	if err != nil {
		fail(toAWS(err))
		return
	}
	var out []byte
	if a, ok := resp.(jsonAppender); ok {
		out = a.appendJSON(make([]byte, 0, 256))
	} else if out, err = json.Marshal(resp); err != nil {
		fail(toAWS(err))
		return
	}
	if !h.record(r, ev) {
		awsproto.WriteJSONError(w, requestID, awsproto.InternalFailure())
		return
	}
	awsproto.WriteJSONResponse(w, requestID, out)
}

// jsonAppender is a response that writes its own JSON, byte for byte as
// json.Marshal would (fastjson.go).
type jsonAppender interface{ appendJSON(dst []byte) []byte }

// firstValue is what http.Header.Get returns for the values of a key.
func firstValue(values []string) string {
	if len(values) == 0 {
		return ""
	}
	return values[0]
}

func (h *Handler) record(r *http.Request, ev *audit.Event) bool {
	return audit.Commit(r.Context(), h.audit, ev, h.log)
}

// decode reads an operation's JSON request. Type mismatches are KMS's
// SerializationException; unknown members are ignored, as AWS does.
func decode(c *call, v any) error {
	if len(bytes.TrimSpace(c.body)) == 0 {
		return nil
	}
	if err := json.Unmarshal(c.body, v); err != nil {
		return &kms.Error{Code: kms.CodeSerialization, Message: "", Cause: err}
	}
	return nil
}

// denied is KMS's AccessDeniedException, in IAM's message form.
func (h *Handler) denied(c *call, action, resource, why string, cause error) error {
	return &kms.Error{Code: kms.CodeAccessDenied, Message: "User: " + h.auth.CallerARN(c.caller) + " is not authorized to perform: " +
		action + " on resource: " + resource + " " + why, Cause: cause}
}

// authorizeIAM is for operations on no key (CreateKey, ListKeys,
// ListAliases): the caller's IAM policies decide, on resource "*".
func (h *Handler) authorizeIAM(c *call, action string, reqCtx map[string][]string) error {
	if e := h.auth.Authorize(c.ctx, c.caller, action, "*", h.context(c, reqCtx)); e != nil {
		return &kms.Error{Code: kms.CodeAccessDenied, Message: e.Message, Cause: errors.Unwrap(e)}
	}
	return nil
}

// context adds the request's global condition keys.
func (h *Handler) context(c *call, reqCtx map[string][]string) map[string][]string {
	if reqCtx == nil {
		reqCtx = map[string][]string{}
	}
	if c.ip != "" {
		reqCtx["aws:sourceip"] = []string{c.ip}
	}
	reqCtx["kms:calleraccount"] = h.callerAccount
	return reqCtx
}

// returnKeyContext gives the map keyContext lent back, emptied: no key of
// one caller may reach another's request.
func (c *call) returnKeyContext() {
	if m := c.keyContext; m != nil {
		c.keyContext = nil
		clear(m)
		keyContexts.Put(m)
	}
}

// keyContext lends an operation an empty condition-key map for
// authorizeKey, from keyContexts or made with room for n keys of its own
// and all that authorizeKey adds, so that it need not grow. It is the
// request's until the operation returns.
func (h *Handler) keyContext(c *call, n int) map[string][]string {
	const authorizeKeyAdds = 5 // kms:keyspec, kms:keyusage, kms:requestalias, aws:sourceip, kms:calleraccount
	if c.keyContext != nil {
		// A second key in one request (ReEncrypt): a map of its own.
		return make(map[string][]string, n+authorizeKeyAdds+h.auth.RequestContextSize(c.caller))
	}
	if m, ok := keyContexts.Get().(map[string][]string); ok {
		c.keyContext = m
	} else {
		c.keyContext = make(map[string][]string, n+authorizeKeyAdds+h.auth.RequestContextSize(c.caller))
	}
	return c.keyContext
}

// authorizeKey decides action on a key as KMS does: the key policy must
// allow it — to the caller itself, or to the caller's account, in which
// case the caller's IAM (identity and session) policies must allow it
// too — and no explicit deny may apply anywhere. reqCtx (nil for none) is
// the operation's own condition keys, in a map made for this request and
// keyed lower-case: it is completed into the request's whole context.
func (h *Handler) authorizeKey(c *call, action string, r *kms.Resolved, reqCtx map[string][]string) error {
	if reqCtx == nil {
		reqCtx = h.keyContext(c, 0)
	}
	values := []string{r.Key.KeySpec, r.Key.KeyUsage, r.Alias} // one allocation for the three
	reqCtx["kms:keyspec"] = values[0:1:1]
	reqCtx["kms:keyusage"] = values[1:2:2]
	if r.Alias != "" {
		reqCtx["kms:requestalias"] = values[2:3:3]
	}
	if r.Policy == nil {
		return h.denied(c, action, r.Key.ARN, "because no resource-based policy allows the "+action+" action", errors.New("key policy does not parse"))
	}
	// One context for both decisions, the key policy's and IAM's, built in
	// reqCtx itself.
	pc := h.auth.AddRequestContext(c.caller, h.context(c, reqCtx))
	principal := h.auth.CallerARN(c.caller)
	req := &policy.Request{Principal: policy.Principal{Type: policy.PrincipalAWS, ID: principal}, Action: action, Resource: r.Key.ARN, Context: pc}
	switch policy.EvaluateResource(req, r.Policy) {
	case policy.ResourceDeny:
		return h.denied(c, action, r.Key.ARN, "with an explicit deny in a resource-based policy", errors.New("key policy denies"))
	case policy.ResourceNoAllow:
		return h.denied(c, action, r.Key.ARN, "because no resource-based policy allows the "+action+" action", errors.New("key policy does not allow"))
	case policy.ResourceAllowsPrincipal:
		if c.caller.Session == nil || (c.caller.Session.Policy == "" && len(c.caller.Session.PolicyARNs) == 0) {
			return nil
		}
		// A session's own policies still bound what the key policy grants
		// its role (AWS: session policies limit resource-based grants to
		// the role ARN); the identity check below applies them.
	}
	if e := h.auth.AuthorizeWith(c.ctx, c.caller, action, r.Key.ARN, "", pc); e != nil {
		return &kms.Error{Code: kms.CodeAccessDenied, Message: e.Message, Cause: errors.Unwrap(e)}
	}
	return nil
}

// resolve finds the key a KeyId names and records it in the event.
func (h *Handler) resolve(c *call, keyID string) (*kms.Resolved, error) {
	if keyID == "" {
		return nil, &kms.Error{Code: kms.CodeValidation, Message: "1 validation error detected: Value null at 'keyId' failed to satisfy constraint: Member must not be null"}
	}
	if len(keyID) > 2048 {
		return nil, &kms.Error{Code: kms.CodeValidation, Message: "1 validation error detected: Value at 'keyId' failed to satisfy constraint: Member must have length less than or equal to 2048"}
	}
	r, err := h.svc.Resolve(c.ctx, keyID)
	if err != nil {
		return nil, err
	}
	c.ev.Resources = []audit.Resource{{AccountID: h.account, Type: "AWS::KMS::Key", ARN: r.Key.ARN}}
	return r, nil
}

// epoch is a Date as the JSON protocol writes it: seconds, with a fraction.
func epoch(t time.Time) float64 { return float64(t.UnixMilli()) / 1000 }

// lockoutSafe is KMS's policy lockout safety check: a key policy being set
// by a caller must still let that caller change it (kms:PutKeyPolicy),
// directly or through its account, unless the caller bypasses the check.
func (h *Handler) lockoutSafe(c *call, doc, keyARN string) error {
	p, err := policy.ParseResourcePolicy([]byte(doc))
	if err != nil {
		return nil // the document's own errors are reported when it is set
	}
	pc := h.auth.RequestContext(c.caller, h.context(c, nil))
	req := &policy.Request{Principal: policy.Principal{Type: policy.PrincipalAWS, ID: h.auth.CallerARN(c.caller)}, Action: "kms:PutKeyPolicy",
		Resource: keyARN, Context: pc}
	switch policy.EvaluateResource(req, p) {
	case policy.ResourceAllowsAccount, policy.ResourceAllowsPrincipal:
		return nil
	}
	return &kms.Error{Code: kms.CodeMalformedPolicy, Message: "The new key policy will not allow you to update the key policy in the future."}
}
