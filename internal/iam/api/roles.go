package api

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/oidcfed/oidcfed/internal/awsproto"
	"github.com/oidcfed/oidcfed/internal/iam"
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
	name, e := required(req.v, "RoleName", "roleName")
	if e != nil {
		return e
	}
	path := req.v.Get("Path")
	if path == "" {
		path = "/"
	}
	tagList, e := tags(req.v)
	if e != nil {
		return e
	}
	req.requestTags(tagList)
	if e := h.authorize(req, "iam:CreateRole", h.arn("role"+path+name), ""); e != nil {
		return e
	}
	if _, ok := req.v.Lookup("PermissionsBoundary"); ok {
		return awsproto.NewError(http.StatusBadRequest, "InvalidInput", "Permissions boundaries are not supported by this server.")
	}
	in := iam.RoleInput{Name: name, Path: path, TrustPolicy: req.v.Get("AssumeRolePolicyDocument"), Description: req.v.Get("Description"), Tags: tagList}
	if raw, ok := req.v.Lookup("MaxSessionDuration"); ok {
		n, err := strconv.Atoi(raw)
		if err != nil || n == 0 {
			n = -1 // out of range: reported by the manager's validation
		}
		in.MaxSessionDuration = n
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
	return toAWS(h.m.UpdateAssumeRolePolicy(req.ctx, name, doc))
}

func (h *Handler) deleteRole(req *request) *awsproto.Error {
	name, e := h.roleName(req, "iam:DeleteRole")
	if e != nil {
		return e
	}
	return toAWS(h.m.DeleteRole(req.ctx, name))
}

func (h *Handler) tagRole(req *request) *awsproto.Error {
	tagList, e := tags(req.v)
	if e != nil {
		return e
	}
	req.requestTags(tagList)
	name, e := h.roleName(req, "iam:TagRole")
	if e != nil {
		return e
	}
	return toAWS(h.m.TagRole(req.ctx, name, tagList))
}

func (h *Handler) untagRole(req *request) *awsproto.Error {
	keys, e := stringList(req.v, "TagKeys")
	if e != nil {
		return e
	}
	req.set("aws:TagKeys", keys...)
	name, e := h.roleName(req, "iam:UntagRole")
	if e != nil {
		return e
	}
	return toAWS(h.m.UntagRole(req.ctx, name, keys))
}

func (h *Handler) listRoleTags(req *request, x *awsproto.XMLWriter) *awsproto.Error {
	r, e := h.role(req, "iam:ListRoleTags")
	if e != nil {
		return e
	}
	return writeTagPage(x, req.v, r.Tags)
}

func (h *Handler) putRolePolicy(req *request) *awsproto.Error {
	name, e := h.roleName(req, "iam:PutRolePolicy")
	if e != nil {
		return e
	}
	return toAWS(h.m.PutRolePolicy(req.ctx, name, req.v.Get("PolicyName"), req.v.Get("PolicyDocument")))
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
	return inlinePolicy(x, r.InlinePolicies, "RoleName", r.Name, name, "The role policy with name "+name+" cannot be found.")
}

func (h *Handler) listRolePolicies(req *request, x *awsproto.XMLWriter) *awsproto.Error {
	r, e := h.role(req, "iam:ListRolePolicies")
	if e != nil {
		return e
	}
	return writeNamePage(x, req.v, r.InlinePolicies)
}

func (h *Handler) deleteRolePolicy(req *request) *awsproto.Error {
	name, e := h.roleName(req, "iam:DeleteRolePolicy")
	if e != nil {
		return e
	}
	policyName, e := required(req.v, "PolicyName", "policyName")
	if e != nil {
		return e
	}
	return toAWS(h.m.DeleteRolePolicy(req.ctx, name, policyName))
}

func (h *Handler) attachRolePolicy(req *request) *awsproto.Error {
	arn, e := required(req.v, "PolicyArn", "policyArn")
	if e != nil {
		return e
	}
	req.set("iam:PolicyARN", arn)
	name, e := h.roleName(req, "iam:AttachRolePolicy")
	if e != nil {
		return e
	}
	return toAWS(h.m.AttachRolePolicy(req.ctx, name, arn))
}

func (h *Handler) detachRolePolicy(req *request) *awsproto.Error {
	arn, e := required(req.v, "PolicyArn", "policyArn")
	if e != nil {
		return e
	}
	req.set("iam:PolicyARN", arn)
	name, e := h.roleName(req, "iam:DetachRolePolicy")
	if e != nil {
		return e
	}
	return toAWS(h.m.DetachRolePolicy(req.ctx, name, arn))
}

func (h *Handler) listAttachedRolePolicies(req *request, x *awsproto.XMLWriter) *awsproto.Error {
	r, e := h.role(req, "iam:ListAttachedRolePolicies")
	if e != nil {
		return e
	}
	return writeAttachedPage(x, req.v, r.ManagedPolicyARNs)
}
