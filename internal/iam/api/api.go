// Package api serves the IAM Query API over the iam.Manager: OIDC
// providers, roles, managed policies and their versions, users and their
// access keys, inline policies and attachments. Every call is signed
// (SigV4, service "iam") and authorized by the caller's identity-based
// policies before it reads or changes anything.
package api

import (
	"context"
	"encoding/base64"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/oidcfed/oidcfed/internal/audit"
	"github.com/oidcfed/oidcfed/internal/awsproto"
	"github.com/oidcfed/oidcfed/internal/httpx"
	"github.com/oidcfed/oidcfed/internal/iam"
	"github.com/oidcfed/oidcfed/internal/iam/lint"
	"github.com/oidcfed/oidcfed/internal/sigv4"
	"github.com/oidcfed/oidcfed/internal/sts"
)

// Namespace is the IAM Query protocol's XML namespace.
const Namespace = "https://iam.amazonaws.com/doc/2010-05-08/"

// APIVersion is IAM's only API version.
const APIVersion = "2010-05-08"

// MaxBody bounds a request body: a managed policy document (6,144
// characters, URL-encoded up to 9 bytes each) fits with room to spare.
const MaxBody = 256 << 10

// Handler serves IAM.
type Handler struct {
	m       *iam.Manager
	auth    *sts.Service
	regions []string
	cache   *sigv4.KeyCache
	log     *slog.Logger
	audit   audit.Recorder

	lintMode   LintMode      // lint_on_write
	lintFailOn lint.Severity // the least severity lint_on_write: deny refuses
}

// NewHandler serves m's entities, authenticating and authorizing callers
// through auth. IAM is global: requests are signed for us-east-1, or for
// the server's region when a client signs with its configured one (as
// botocore does against a custom endpoint).
func NewHandler(m *iam.Manager, auth *sts.Service, cache *sigv4.KeyCache, log *slog.Logger) *Handler {
	regions := []string{"us-east-1"}
	if r := m.Region(); r != "us-east-1" {
		regions = append(regions, r)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Handler{m: m, auth: auth, regions: regions, cache: cache, log: log}
}

// request is one parsed, authenticated call.
type request struct {
	ctx    context.Context
	caller *sts.Caller
	v      awsproto.Values
	// cond holds the request's condition keys beyond the caller's own
	// (aws:SourceIp, iam:PolicyARN, aws:RequestTag/..., aws:ResourceTag/...).
	cond map[string][]string
}

// set adds a condition key for the authorization of this request.
func (r *request) set(key string, values ...string) {
	if r.cond == nil {
		r.cond = map[string][]string{}
	}
	r.cond[key] = values
}

// requestTags exposes tags a request sets as aws:RequestTag/* and
// aws:TagKeys.
func (r *request) requestTags(tags []iam.Tag) {
	if len(tags) == 0 {
		return
	}
	keys := make([]string, 0, len(tags))
	for _, t := range tags {
		r.set("aws:RequestTag/"+t.Key, t.Value)
		keys = append(keys, t.Key)
	}
	r.set("aws:TagKeys", keys...)
}

// resourceTags exposes the target entity's tags as aws:ResourceTag/*
// (and IAM's older iam:ResourceTag/*).
func (r *request) resourceTags(tags []iam.Tag) {
	for _, t := range tags {
		r.set("aws:ResourceTag/"+t.Key, t.Value)
		r.set("iam:ResourceTag/"+t.Key, t.Value)
	}
}

// action answers one IAM action. It writes its result members to x; an
// action with no output members returns empty == true.
type action func(h *Handler, req *request, x *awsproto.XMLWriter) (empty bool, e *awsproto.Error)

// read wraps an action that always has output.
func read(f func(h *Handler, req *request, x *awsproto.XMLWriter) *awsproto.Error) action {
	return func(h *Handler, req *request, x *awsproto.XMLWriter) (bool, *awsproto.Error) {
		return false, f(h, req, x)
	}
}

// write wraps an action without output members.
func write(f func(h *Handler, req *request) *awsproto.Error) action {
	return func(h *Handler, req *request, _ *awsproto.XMLWriter) (bool, *awsproto.Error) { return true, f(h, req) }
}

var actions map[string]action

func init() {
	actions = map[string]action{
		// OIDC providers.
		"CreateOpenIDConnectProvider":             read((*Handler).createOpenIDConnectProvider),
		"GetOpenIDConnectProvider":                read((*Handler).getOpenIDConnectProvider),
		"ListOpenIDConnectProviders":              read((*Handler).listOpenIDConnectProviders),
		"DeleteOpenIDConnectProvider":             write((*Handler).deleteOpenIDConnectProvider),
		"AddClientIDToOpenIDConnectProvider":      write((*Handler).addClientID),
		"RemoveClientIDFromOpenIDConnectProvider": write((*Handler).removeClientID),
		"UpdateOpenIDConnectProviderThumbprint":   write((*Handler).updateThumbprint),
		"TagOpenIDConnectProvider":                write((*Handler).tagOpenIDConnectProvider),
		"UntagOpenIDConnectProvider":              write((*Handler).untagOpenIDConnectProvider),
		"ListOpenIDConnectProviderTags":           read((*Handler).listOpenIDConnectProviderTags),
		// Roles.
		"CreateRole":             read((*Handler).createRole),
		"GetRole":                read((*Handler).getRole),
		"ListRoles":              read((*Handler).listRoles),
		"UpdateRole":             read((*Handler).updateRole),
		"UpdateAssumeRolePolicy": write((*Handler).updateAssumeRolePolicy),
		"DeleteRole":             write((*Handler).deleteRole),
		// Managed policies.
		"CreatePolicy":            read((*Handler).createPolicy),
		"GetPolicy":               read((*Handler).getPolicy),
		"ListPolicies":            read((*Handler).listPolicies),
		"DeletePolicy":            write((*Handler).deletePolicy),
		"CreatePolicyVersion":     read((*Handler).createPolicyVersion),
		"GetPolicyVersion":        read((*Handler).getPolicyVersion),
		"ListPolicyVersions":      read((*Handler).listPolicyVersions),
		"SetDefaultPolicyVersion": write((*Handler).setDefaultPolicyVersion),
		"DeletePolicyVersion":     write((*Handler).deletePolicyVersion),
		"ListEntitiesForPolicy":   read((*Handler).listEntitiesForPolicy),
		// Users.
		"CreateUser":      read((*Handler).createUser),
		"GetUser":         read((*Handler).getUser),
		"ListUsers":       read((*Handler).listUsers),
		"DeleteUser":      write((*Handler).deleteUser),
		"CreateAccessKey": read((*Handler).createAccessKey),
		"ListAccessKeys":  read((*Handler).listAccessKeys),
		"UpdateAccessKey": write((*Handler).updateAccessKey),
		"DeleteAccessKey": write((*Handler).deleteAccessKey),
		// Tags, inline and attached policies of roles and users: see
		// identities.go.
		// Account.
		"GetAccountAuthorizationDetails": read((*Handler).getAccountAuthorizationDetails),
		// The policy simulator: see simulate.go.
		"SimulateCustomPolicy":    read((*Handler).simulateCustomPolicy),
		"SimulatePrincipalPolicy": read((*Handler).simulatePrincipalPolicy),
	}
	for _, k := range []*identityKind{roleKind, userKind} {
		k.register(actions)
	}
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	requestID := awsproto.NewRequestID()
	// IAM is global: CloudTrail records its events in us-east-1.
	ev := &audit.Event{EventSource: audit.SourceIAM, AWSRegion: "us-east-1", SourceIPAddress: httpx.RemoteIP(r),
		UserAgent: auditValue(r.UserAgent()), RequestID: requestID, RecipientAccountID: h.m.Account(),
		UserIdentity: audit.UserIdentity{Type: "Unknown"}}
	r = r.WithContext(audit.WithEvent(r.Context(), ev))
	fail := func(e *awsproto.Error) {
		level := slog.LevelInfo
		if e.HTTPStatus >= 500 {
			level = slog.LevelError
		}
		h.log.Log(r.Context(), level, "iam request refused", "aws_request_id", requestID, "code", e.Code, "status", e.HTTPStatus, "cause", errors.Unwrap(e))
		ev.Fail(e.Code, e.Message, errors.Unwrap(e))
		if !h.record(r, ev) {
			e = awsproto.InternalFailure()
		}
		awsproto.WriteQueryError(w, Namespace, requestID, e)
	}
	body, err := awsproto.ReadBody(r, MaxBody)
	if err != nil {
		fail(awsproto.AsError(err))
		return
	}
	v, err := awsproto.ParseRequest(r, body)
	if err != nil {
		fail(awsproto.AsError(err))
		return
	}
	caller, aerr := h.auth.Authenticate(r, body, "iam", h.regions, h.cache)
	if aerr != nil {
		fail(aerr)
		return
	}
	name := v.Action()
	ev.EventName = auditValue(name)
	ev.ReadOnly = strings.HasPrefix(name, "Get") || strings.HasPrefix(name, "List") || strings.HasPrefix(name, "Simulate")
	ev.RequestParameters = requestParameters(v)
	ev.Resources = resources(h.m.Account(), v)
	var x awsproto.XMLWriter
	empty, e := h.dispatch(r.Context(), caller, v, &x, httpx.RemoteIP(r))
	if e != nil {
		fail(e)
		return
	}
	if !h.record(r, ev) {
		awsproto.WriteQueryError(w, Namespace, requestID, awsproto.InternalFailure())
		return
	}
	if empty {
		awsproto.WriteQueryEmptyResponse(w, Namespace, name, requestID)
		return
	}
	awsproto.WriteQueryResponse(w, Namespace, name, requestID, func(out *awsproto.XMLWriter) { out.Raw(x.Bytes()) })
}

// dispatch runs the action v names for an authenticated caller.
func (h *Handler) dispatch(ctx context.Context, caller *sts.Caller, v awsproto.Values, x *awsproto.XMLWriter, ip string) (empty bool, e *awsproto.Error) {
	name := v.Action()
	if name == "" {
		return false, awsproto.MissingAction()
	}
	act, ok := actions[name]
	if !ok || v.Version() != APIVersion {
		return false, awsproto.InvalidAction(name, v.Version())
	}
	req := &request{ctx: ctx, caller: caller, v: v}
	if ip != "" {
		req.set("aws:SourceIp", ip)
	}
	return act(h, req, x)
}

// statuses is the IAM protocol's table: each domain error code's HTTP
// status (the code and message go to the client as the domain wrote them).
var statuses = map[iam.ErrorCode]int{
	iam.CodeNoSuchEntity:            http.StatusNotFound,
	iam.CodeEntityAlreadyExists:     http.StatusConflict,
	iam.CodeLimitExceeded:           http.StatusConflict,
	iam.CodeDeleteConflict:          http.StatusConflict,
	iam.CodeMalformedPolicyDocument: http.StatusBadRequest,
	iam.CodeInvalidInput:            http.StatusBadRequest,
	iam.CodeUnmodifiableEntity:      http.StatusBadRequest,
	iam.CodePolicyNotAttachable:     http.StatusBadRequest,
	iam.CodeValidationError:         http.StatusBadRequest,
}

// toAWS maps a manager error to the wire; anything unexpected is a 500
// whose cause only the log sees.
func toAWS(err error) *awsproto.Error {
	if err == nil {
		return nil
	}
	var ie *iam.Error
	if errors.As(err, &ie) {
		if status, ok := statuses[ie.Code]; ok {
			return awsproto.NewError(status, string(ie.Code), ie.Message).WithCause(err)
		}
	}
	var ae *awsproto.Error
	if errors.As(err, &ae) {
		return ae
	}
	return awsproto.NewError(http.StatusInternalServerError, "ServiceFailure", "Request processing has failed due to an unknown error, exception or failure.").WithCause(err)
}

// authorize asks the policy engine whether the caller may do action on
// resource; label is how a denial names the resource ("role NAME" for an
// existing role, as IAM words it; the ARN otherwise).
func (h *Handler) authorize(req *request, action, resource, label string) *awsproto.Error {
	return h.auth.AuthorizeLabelled(req.ctx, req.caller, action, resource, label, req.cond)
}

// sourceIP is the caller's address for aws:SourceIp (no proxy headers
// are trusted).

func (h *Handler) arn(resource string) string {
	return "arn:aws:iam::" + h.m.Account() + ":" + resource
}

// creation reads what the Create* actions of roles, users and policies
// share — the new entity's name, its path ("/" by default) and its tags —
// and authorizes action on the ARN it will have (resource + path + name).
// A PermissionsBoundary is refused: not implemented, and ignoring it would
// grant more than asked.
func (h *Handler) creation(req *request, action, nameParam, member, resource string) (name, path string, tagList []iam.Tag, e *awsproto.Error) {
	if name, e = required(req.v, nameParam, member); e != nil {
		return "", "", nil, e
	}
	if path = req.v.Get("Path"); path == "" {
		path = "/"
	}
	if tagList, e = tags(req.v); e != nil {
		return "", "", nil, e
	}
	req.requestTags(tagList)
	if e := h.authorize(req, action, h.arn(resource+path+name), ""); e != nil {
		return "", "", nil, e
	}
	if _, ok := req.v.Lookup("PermissionsBoundary"); ok {
		return "", "", nil, awsproto.NewError(http.StatusBadRequest, "InvalidInput", "Permissions boundaries are not supported by this server.")
	}
	return name, path, tagList, nil
}

func required(v awsproto.Values, param, member string) (string, *awsproto.Error) {
	s, ok := v.Lookup(param)
	if !ok || s == "" {
		return "", awsproto.ValidationError("1 validation error detected: Value null at '" + member + "' failed to satisfy constraint: Member must not be null")
	}
	return s, nil
}

func optionalBool(v awsproto.Values, param, member string) (bool, *awsproto.Error) {
	raw, ok := v.Lookup(param)
	if !ok || raw == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(raw)
	if err != nil {
		return false, awsproto.ValidationError("1 validation error detected: Value '" + raw + "' at '" + member + "' failed to satisfy constraint: Member must be a boolean")
	}
	return b, nil
}

func stringList(v awsproto.Values, name string) ([]string, *awsproto.Error) {
	l, err := v.List(name)
	if err != nil {
		return nil, awsproto.AsError(err)
	}
	return l, nil
}

func tags(v awsproto.Values) ([]iam.Tag, *awsproto.Error) {
	members, err := v.Structs("Tags", "Key", "Value")
	if err != nil {
		return nil, awsproto.AsError(err)
	}
	out := make([]iam.Tag, 0, len(members))
	for _, m := range members {
		out = append(out, iam.Tag{Key: m["Key"], Value: m["Value"]})
	}
	return out, nil
}

// policyDocument is how IAM returns policy documents: URL-encoded JSON
// (botocore decodes it; the CLI prints the object).
func policyDocument(doc string) string {
	return strings.ReplaceAll(url.QueryEscape(doc), "+", "%20")
}

func isoTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

func writeTags(x *awsproto.XMLWriter, tags []iam.Tag, always bool) {
	if len(tags) == 0 && !always {
		return
	}
	x.Start("Tags")
	for _, t := range tags {
		x.Start("member")
		x.Element("Key", t.Key)
		x.Element("Value", t.Value)
		x.End("member")
	}
	x.End("Tags")
}

// page applies Marker/MaxItems pagination to n items: it returns the
// window and the marker for the next page ("" when this is the last).
func page(v awsproto.Values, n int) (from, to int, next string, e *awsproto.Error) {
	maxItems := 100
	if raw, ok := v.Lookup("MaxItems"); ok {
		m, err := strconv.Atoi(raw)
		if err != nil || m < 1 || m > 1000 {
			return 0, 0, "", awsproto.ValidationError("1 validation error detected: Value '" + raw + "' at 'maxItems' failed to satisfy constraint: Member must have value between 1 and 1000")
		}
		maxItems = m
	}
	if marker, ok := v.Lookup("Marker"); ok {
		raw, err := base64.RawURLEncoding.DecodeString(marker)
		i, err2 := strconv.Atoi(string(raw))
		if err != nil || err2 != nil || i < 0 || i > n {
			return 0, 0, "", awsproto.NewError(http.StatusBadRequest, "InvalidInput", "Invalid Marker.")
		}
		from = i
	}
	to = min(n, from+maxItems)
	if to < n {
		next = base64.RawURLEncoding.EncodeToString([]byte(strconv.Itoa(to)))
	}
	return from, to, next, nil
}

func writeTruncation(x *awsproto.XMLWriter, next string) {
	x.Element("IsTruncated", strconv.FormatBool(next != ""))
	x.OptElement("Marker", next)
}

// pathPrefix reads PathPrefix ("/" when absent).
func pathPrefix(v awsproto.Values) string {
	if p := v.Get("PathPrefix"); p != "" {
		return p
	}
	return "/"
}

func writeTagPage(x *awsproto.XMLWriter, v awsproto.Values, tags []iam.Tag) *awsproto.Error {
	from, to, next, e := page(v, len(tags))
	if e != nil {
		return e
	}
	writeTags(x, tags[from:to], true)
	writeTruncation(x, next)
	return nil
}

func writeNamePage(x *awsproto.XMLWriter, v awsproto.Values, list []iam.NamedPolicy) *awsproto.Error {
	from, to, next, e := page(v, len(list))
	if e != nil {
		return e
	}
	x.Start("PolicyNames")
	for _, p := range list[from:to] {
		x.Element("member", p.Name)
	}
	x.End("PolicyNames")
	writeTruncation(x, next)
	return nil
}

func writeAttachedPage(x *awsproto.XMLWriter, v awsproto.Values, arns []string) *awsproto.Error {
	prefix := pathPrefix(v)
	var kept []string
	for _, a := range arns {
		if _, path, ok := strings.Cut(a, ":policy"); ok && strings.HasPrefix(path, prefix) {
			kept = append(kept, a)
		}
	}
	from, to, next, e := page(v, len(kept))
	if e != nil {
		return e
	}
	x.Start("AttachedPolicies")
	for _, a := range kept[from:to] {
		x.Start("member")
		x.Element("PolicyName", a[strings.LastIndexByte(a, '/')+1:])
		x.Element("PolicyArn", a)
		x.End("member")
	}
	x.End("AttachedPolicies")
	writeTruncation(x, next)
	return nil
}
