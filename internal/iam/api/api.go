// Package api serves the IAM Query API. This first slice answers the read
// actions over the IAM directory (config-declared entities today): roles,
// their inline and attached policies, and OIDC providers. Every call is
// signed (SigV4, service "iam") and authorized by the caller's
// identity-based policies; the write actions arrive with store-backed
// entities.
package api

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/oidcfed/oidcfed/internal/awsproto"
	"github.com/oidcfed/oidcfed/internal/iam"
	"github.com/oidcfed/oidcfed/internal/sigv4"
	"github.com/oidcfed/oidcfed/internal/sts"
)

// Namespace is the IAM Query protocol's XML namespace.
const Namespace = "https://iam.amazonaws.com/doc/2010-05-08/"

// APIVersion is IAM's only API version.
const APIVersion = "2010-05-08"

// Handler serves IAM.
type Handler struct {
	dir     iam.Directory
	auth    *sts.Service
	regions []string
	cache   *sigv4.KeyCache
	log     *slog.Logger
}

// NewHandler serves dir's entities, authenticating and authorizing callers
// through auth. IAM is global: requests are signed for us-east-1, or for
// the server's region when a client signs with its configured one (as
// botocore does against a custom endpoint).
func NewHandler(dir iam.Directory, auth *sts.Service, cache *sigv4.KeyCache, log *slog.Logger) *Handler {
	regions := []string{"us-east-1"}
	if r := dir.Region(); r != "us-east-1" {
		regions = append(regions, r)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Handler{dir: dir, auth: auth, regions: regions, cache: cache, log: log}
}

// request is one parsed, authenticated call.
type request struct {
	ctx    context.Context
	caller *sts.Caller
	v      awsproto.Values
}

type action func(h *Handler, req *request, x *awsproto.XMLWriter) *awsproto.Error

var actions = map[string]action{
	"GetRole":                    (*Handler).getRole,
	"ListRoles":                  (*Handler).listRoles,
	"GetRolePolicy":              (*Handler).getRolePolicy,
	"ListRolePolicies":           (*Handler).listRolePolicies,
	"ListAttachedRolePolicies":   (*Handler).listAttachedRolePolicies,
	"GetOpenIDConnectProvider":   (*Handler).getOpenIDConnectProvider,
	"ListOpenIDConnectProviders": (*Handler).listOpenIDConnectProviders,
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	requestID := awsproto.NewRequestID()
	fail := func(e *awsproto.Error) {
		h.log.InfoContext(r.Context(), "iam request refused", "aws_request_id", requestID, "code", e.Code, "cause", errors.Unwrap(e))
		awsproto.WriteQueryError(w, Namespace, requestID, e)
	}
	body, err := awsproto.ReadBody(r, sts.MaxBody)
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
	if name == "" {
		fail(awsproto.MissingAction())
		return
	}
	act, ok := actions[name]
	if !ok || v.Version() != APIVersion {
		fail(awsproto.InvalidAction(name, v.Version()))
		return
	}
	var x awsproto.XMLWriter
	if e := act(h, &request{ctx: r.Context(), caller: caller, v: v}, &x); e != nil {
		fail(e)
		return
	}
	awsproto.WriteQueryResponse(w, Namespace, name, requestID, func(out *awsproto.XMLWriter) { out.Raw(x.Bytes()) })
}

// authorize asks the policy engine whether the caller may do action on
// resource.
func (h *Handler) authorize(req *request, action, resource string) *awsproto.Error {
	return h.auth.Authorize(req.ctx, req.caller, action, resource, nil)
}

func noSuchRole(name string) *awsproto.Error {
	return awsproto.NewError(http.StatusNotFound, "NoSuchEntity", "The role with name "+name+" cannot be found.")
}

func required(v awsproto.Values, param, member string) (string, *awsproto.Error) {
	s, ok := v.Lookup(param)
	if !ok || s == "" {
		return "", awsproto.ValidationError("1 validation error detected: Value null at '" + member + "' failed to satisfy constraint: Member must not be null")
	}
	return s, nil
}

// role resolves RoleName and authorizes action on it, on the role's real
// ARN (with its path) when it exists. AccessDenied comes before
// NoSuchEntity, so a caller without the permission learns nothing about
// which roles exist.
func (h *Handler) role(req *request, action string) (*iam.Role, *awsproto.Error) {
	name, e := required(req.v, "RoleName", "roleName")
	if e != nil {
		return nil, e
	}
	r, err := h.dir.RoleByName(req.ctx, name)
	resource := iam.RoleARN(h.dir.Account(), "/", name)
	if err == nil {
		resource = r.ARN
	}
	if e := h.authorize(req, action, resource); e != nil {
		return nil, e
	}
	if err != nil {
		return nil, noSuchRole(name)
	}
	return r, nil
}

// policyDocument is how IAM returns policy documents: URL-encoded JSON
// (botocore decodes it; the CLI prints the object).
func policyDocument(doc string) string {
	return strings.ReplaceAll(url.QueryEscape(doc), "+", "%20")
}

func isoTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

func writeRole(x *awsproto.XMLWriter, r *iam.Role, full bool) {
	x.Element("Path", r.Path)
	x.Element("RoleName", r.Name)
	x.Element("RoleId", r.ID)
	x.Element("Arn", r.ARN)
	x.Element("CreateDate", isoTime(r.CreateDate))
	x.Element("AssumeRolePolicyDocument", policyDocument(r.TrustPolicy))
	x.OptElement("Description", r.Description)
	if r.MaxSessionDuration > 0 {
		x.Element("MaxSessionDuration", strconv.Itoa(int(r.MaxSessionDuration/time.Second)))
	}
	if full {
		x.Start("RoleLastUsed")
		x.End("RoleLastUsed")
	}
}

func (h *Handler) getRole(req *request, x *awsproto.XMLWriter) *awsproto.Error {
	r, e := h.role(req, "iam:GetRole")
	if e != nil {
		return e
	}
	x.Start("Role")
	writeRole(x, r, true)
	x.End("Role")
	return nil
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

func (h *Handler) listRoles(req *request, x *awsproto.XMLWriter) *awsproto.Error {
	if e := h.authorize(req, "iam:ListRoles", "arn:aws:iam::"+h.dir.Account()+":role/*"); e != nil {
		return e
	}
	all, err := h.dir.ListRoles(req.ctx)
	if err != nil {
		return awsproto.InternalFailure().WithCause(err)
	}
	prefix := req.v.Get("PathPrefix")
	var roles []*iam.Role
	for _, r := range all {
		if strings.HasPrefix(r.Path, prefix) {
			roles = append(roles, r)
		}
	}
	from, to, next, e := page(req.v, len(roles))
	if e != nil {
		return e
	}
	x.Start("Roles")
	for _, r := range roles[from:to] {
		x.Start("member")
		writeRole(x, r, false)
		x.End("member")
	}
	x.End("Roles")
	writeTruncation(x, next)
	return nil
}

func (h *Handler) getRolePolicy(req *request, x *awsproto.XMLWriter) *awsproto.Error {
	r, e := h.role(req, "iam:GetRolePolicy")
	if e != nil {
		return e
	}
	name, e := required(req.v, "PolicyName", "policyName")
	if e != nil {
		return e
	}
	for _, p := range r.InlinePolicies {
		if p.Name == name {
			x.Element("RoleName", r.Name)
			x.Element("PolicyName", p.Name)
			x.Element("PolicyDocument", policyDocument(p.Document))
			return nil
		}
	}
	return awsproto.NewError(http.StatusNotFound, "NoSuchEntity", fmt.Sprintf("The role policy with name %s cannot be found.", name))
}

func (h *Handler) listRolePolicies(req *request, x *awsproto.XMLWriter) *awsproto.Error {
	r, e := h.role(req, "iam:ListRolePolicies")
	if e != nil {
		return e
	}
	from, to, next, e := page(req.v, len(r.InlinePolicies))
	if e != nil {
		return e
	}
	x.Start("PolicyNames")
	for _, p := range r.InlinePolicies[from:to] {
		x.Element("member", p.Name)
	}
	x.End("PolicyNames")
	writeTruncation(x, next)
	return nil
}

func (h *Handler) listAttachedRolePolicies(req *request, x *awsproto.XMLWriter) *awsproto.Error {
	r, e := h.role(req, "iam:ListAttachedRolePolicies")
	if e != nil {
		return e
	}
	prefix := req.v.Get("PathPrefix")
	var arns []string
	for _, a := range r.ManagedPolicyARNs {
		if _, path, ok := strings.Cut(a, ":policy"); ok && strings.HasPrefix(path, prefix) {
			arns = append(arns, a)
		}
	}
	from, to, next, e := page(req.v, len(arns))
	if e != nil {
		return e
	}
	x.Start("AttachedPolicies")
	for _, a := range arns[from:to] {
		x.Start("member")
		x.Element("PolicyName", a[strings.LastIndexByte(a, '/')+1:])
		x.Element("PolicyArn", a)
		x.End("member")
	}
	x.End("AttachedPolicies")
	writeTruncation(x, next)
	return nil
}

func (h *Handler) getOpenIDConnectProvider(req *request, x *awsproto.XMLWriter) *awsproto.Error {
	arn, e := required(req.v, "OpenIDConnectProviderArn", "openIDConnectProviderArn")
	if e != nil {
		return e
	}
	if e := h.authorize(req, "iam:GetOpenIDConnectProvider", arn); e != nil {
		return e
	}
	p, err := h.dir.OIDCProviderByARN(req.ctx, arn)
	if err != nil {
		// Wording unconfirmed.
		return awsproto.NewError(http.StatusNotFound, "NoSuchEntity", "OpenIDConnect Provider not found for arn "+arn)
	}
	// IAM returns the URL without its scheme.
	x.Element("Url", iam.ProviderConditionPrefix(p.URL))
	x.Start("ClientIDList")
	for _, c := range p.ClientIDs {
		x.Element("member", c)
	}
	x.End("ClientIDList")
	x.Start("ThumbprintList")
	for _, tp := range p.Thumbprints {
		x.Element("member", tp)
	}
	x.End("ThumbprintList")
	x.Element("CreateDate", isoTime(p.CreateDate))
	return nil
}

func (h *Handler) listOpenIDConnectProviders(req *request, x *awsproto.XMLWriter) *awsproto.Error {
	if e := h.authorize(req, "iam:ListOpenIDConnectProviders", "arn:aws:iam::"+h.dir.Account()+":oidc-provider/*"); e != nil {
		return e
	}
	ps, err := h.dir.ListOIDCProviders(req.ctx)
	if err != nil {
		return awsproto.InternalFailure().WithCause(err)
	}
	x.Start("OpenIDConnectProviderList")
	for _, p := range ps {
		x.Start("member")
		x.Element("Arn", p.ARN)
		x.End("member")
	}
	x.End("OpenIDConnectProviderList")
	return nil
}
