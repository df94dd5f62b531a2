package api

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/oidcfed/oidcfed/internal/awsproto"
	"github.com/oidcfed/oidcfed/internal/iam"
	"github.com/oidcfed/oidcfed/internal/iam/policy"
)

func noSuchRole(name string) *awsproto.Error {
	return awsproto.NewError(http.StatusNotFound, "NoSuchEntity", "The role with name "+name+" cannot be found.")
}

// role resolves RoleName and authorizes action on it, on the role's real
// ARN (with its path) when it exists. AccessDenied comes before
// NoSuchEntity, so a caller without the permission learns nothing about
// which roles exist.
func (h *Handler) role(req *request, action string) (*iam.Role, *awsproto.Error) {
	name, e := h.roleName(req, action)
	if e != nil {
		return nil, e
	}
	r, err := h.m.RoleWithDocuments(req.ctx, name)
	if errors.Is(err, iam.ErrNoSuchEntity) {
		return nil, noSuchRole(name).WithCause(err)
	}
	if err != nil {
		return nil, toAWS(err)
	}
	return r, nil
}

// roleName reads RoleName and authorizes action on the role it names.
func (h *Handler) roleName(req *request, action string) (string, *awsproto.Error) {
	name, e := required(req.v, "RoleName", "roleName")
	if e != nil {
		return "", e
	}
	// The message names the role the same way whether it exists or not,
	// so a denial does not tell which roles exist.
	resource := h.arn("role/" + name)
	if r, err := h.m.RoleByName(req.ctx, name); err == nil {
		resource = r.ARN
		req.resourceTags(r.Tags)
	}
	return name, h.authorize(req, action, resource, "role "+name)
}

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
		writeTags(x, r.Tags, false)
		x.Start("RoleLastUsed")
		x.End("RoleLastUsed")
	}
}

func (h *Handler) createRole(req *request, x *awsproto.XMLWriter) *awsproto.Error {
	name, path, tagList, e := h.creation(req, "iam:CreateRole", "RoleName", "roleName", "role")
	if e != nil {
		return e
	}
	in := iam.RoleInput{Name: name, Path: path, TrustPolicy: req.v.Get("AssumeRolePolicyDocument"), Description: req.v.Get("Description"), Tags: tagList}
	if raw, ok := req.v.Lookup("MaxSessionDuration"); ok {
		n, err := strconv.Atoi(raw)
		if err != nil || n == 0 {
			n = -1 // out of range: reported by the manager's validation
		}
		in.MaxSessionDuration = n
	}
	maxSession := time.Hour
	if in.MaxSessionDuration > 0 {
		maxSession = time.Duration(in.MaxSessionDuration) * time.Second
	}
	// A new role has no permissions yet.
	if e := h.lintRole(req, name, in.TrustPolicy, maxSession, []*policy.Policy{}); e != nil {
		return e
	}
	r, cerr := h.m.CreateRole(req.ctx, in)
	if cerr != nil {
		return toAWS(cerr)
	}
	x.Start("Role")
	writeRole(x, r, false)
	writeTags(x, r.Tags, false)
	x.End("Role")
	return nil
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

func (h *Handler) listRoles(req *request, x *awsproto.XMLWriter) *awsproto.Error {
	if e := h.authorize(req, "iam:ListRoles", h.arn("role/*"), ""); e != nil {
		return e
	}
	all, err := h.m.ListRoles(req.ctx)
	if err != nil {
		return toAWS(err)
	}
	prefix := pathPrefix(req.v)
	roles := all[:0:0]
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

func (h *Handler) updateRole(req *request, _ *awsproto.XMLWriter) *awsproto.Error {
	name, e := h.roleName(req, "iam:UpdateRole")
	if e != nil {
		return e
	}
	var description *string
	if d, ok := req.v.Lookup("Description"); ok {
		description = &d
	}
	var maxSession *int
	if raw, ok := req.v.Lookup("MaxSessionDuration"); ok {
		n, err := strconv.Atoi(raw)
		if err != nil {
			n = -1
		}
		maxSession = &n
	}
	return toAWS(h.m.UpdateRole(req.ctx, name, description, maxSession))
}

func (h *Handler) updateAssumeRolePolicy(req *request) *awsproto.Error {
	name, e := h.roleName(req, "iam:UpdateAssumeRolePolicy")
	if e != nil {
		return e
	}
	doc, e := required(req.v, "PolicyDocument", "policyDocument")
	if e != nil {
		return e
	}
	if h.lintMode != LintOff {
		if r, err := h.m.RoleWithDocuments(req.ctx, name); err == nil {
			if e := h.lintRole(req, r.Name, doc, r.MaxSessionDuration, h.rolePermissions(req.ctx, r, "", "", "")); e != nil {
				return e
			}
		}
	}
	return toAWS(h.m.UpdateAssumeRolePolicy(req.ctx, name, doc))
}

func (h *Handler) deleteRole(req *request) *awsproto.Error {
	name, e := h.roleName(req, "iam:DeleteRole")
	if e != nil {
		return e
	}
	return toAWS(h.m.DeleteRole(req.ctx, name))
}
