package api

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/oidcfed/oidcfed/internal/awsproto"
	"github.com/oidcfed/oidcfed/internal/iam"
)

// policyARN reads PolicyArn, checks its shape and authorizes action on it.
func (h *Handler) policyARN(req *request, action string) (string, *awsproto.Error) {
	arn, e := required(req.v, "PolicyArn", "policyArn")
	if e != nil {
		return "", e
	}
	if !iam.ValidARN(arn) {
		return "", awsproto.NewError(http.StatusBadRequest, "ValidationError", "ARN "+arn+" is not valid.")
	}
	if p, err := h.m.PolicyByARN(req.ctx, arn); err == nil {
		req.resourceTags(p.Tags)
	}
	return arn, h.authorize(req, action, arn, "policy "+arn)
}

func (h *Handler) policy(req *request, action string) (*iam.ManagedPolicy, *awsproto.Error) {
	arn, e := h.policyARN(req, action)
	if e != nil {
		return nil, e
	}
	p, err := h.m.PolicyByARN(req.ctx, arn)
	if err != nil {
		return nil, awsproto.NewError(http.StatusNotFound, "NoSuchEntity", "Policy "+arn+" was not found.").WithCause(err)
	}
	return p, nil
}

func writePolicy(x *awsproto.XMLWriter, p *iam.ManagedPolicy, attachments int, withTags bool) {
	x.Element("PolicyName", p.Name)
	x.Element("PolicyId", p.ID)
	x.Element("Arn", p.ARN)
	x.Element("Path", p.Path)
	x.Element("DefaultVersionId", p.DefaultVersionID)
	x.Element("AttachmentCount", strconv.Itoa(attachments))
	x.Element("PermissionsBoundaryUsageCount", "0")
	x.Element("IsAttachable", "true")
	x.OptElement("Description", p.Description)
	x.Element("CreateDate", isoTime(p.CreateDate))
	x.Element("UpdateDate", isoTime(p.UpdateDate))
	if withTags {
		writeTags(x, p.Tags, false)
	}
}

func writeVersion(x *awsproto.XMLWriter, p *iam.ManagedPolicy, v *iam.PolicyVersion, withDocument bool) {
	if withDocument {
		x.Element("Document", policyDocument(v.Document))
	}
	x.Element("VersionId", v.VersionID)
	x.Element("IsDefaultVersion", strconv.FormatBool(v.VersionID == p.DefaultVersionID))
	x.Element("CreateDate", isoTime(v.CreateDate))
}

func (h *Handler) createPolicy(req *request, x *awsproto.XMLWriter) *awsproto.Error {
	name, path, tagList, e := h.creation(req, "iam:CreatePolicy", "PolicyName", "policyName", "policy")
	if e != nil {
		return e
	}
	p, err := h.m.CreatePolicy(req.ctx, name, path, req.v.Get("PolicyDocument"), req.v.Get("Description"), tagList)
	if err != nil {
		return toAWS(err)
	}
	x.Start("Policy")
	writePolicy(x, p, 0, true)
	x.End("Policy")
	return nil
}

func (h *Handler) attachmentCount(req *request, arn string) (int, *awsproto.Error) {
	a, err := h.m.PolicyAttachments(req.ctx, arn)
	if err != nil {
		return 0, toAWS(err)
	}
	return len(a.Roles) + len(a.Users), nil
}

func (h *Handler) getPolicy(req *request, x *awsproto.XMLWriter) *awsproto.Error {
	p, e := h.policy(req, "iam:GetPolicy")
	if e != nil {
		return e
	}
	n, e := h.attachmentCount(req, p.ARN)
	if e != nil {
		return e
	}
	x.Start("Policy")
	writePolicy(x, p, n, true)
	x.End("Policy")
	return nil
}

func (h *Handler) listPolicies(req *request, x *awsproto.XMLWriter) *awsproto.Error {
	if e := h.authorize(req, "iam:ListPolicies", h.arn("policy/*"), ""); e != nil {
		return e
	}
	scope := req.v.Get("Scope")
	switch scope {
	case "", "All", "AWS", "Local":
	default:
		return awsproto.ValidationError("1 validation error detected: Value '" + scope + "' at 'scope' failed to satisfy constraint: Member must satisfy enum value set: [All, AWS, Local]")
	}
	onlyAttached, e := optionalBool(req.v, "OnlyAttached", "onlyAttached")
	if e != nil {
		return e
	}
	if u := req.v.Get("PolicyUsageFilter"); u == "PermissionsBoundary" {
		// No permissions boundaries here: nothing is used as one.
		scope = "none"
	}
	all, err := h.m.ListPolicies(req.ctx, scope, onlyAttached)
	if err != nil {
		return toAWS(err)
	}
	if scope == "none" {
		all = nil
	}
	prefix := pathPrefix(req.v)
	var list []*iam.ManagedPolicy
	for _, p := range all {
		if strings.HasPrefix(p.Path, prefix) {
			list = append(list, p)
		}
	}
	from, to, next, e := page(req.v, len(list))
	if e != nil {
		return e
	}
	x.Start("Policies")
	for _, p := range list[from:to] {
		x.Start("member")
		writePolicy(x, p, p.AttachmentCount, false)
		x.End("member")
	}
	x.End("Policies")
	writeTruncation(x, next)
	return nil
}

func (h *Handler) deletePolicy(req *request) *awsproto.Error {
	arn, e := h.policyARN(req, "iam:DeletePolicy")
	if e != nil {
		return e
	}
	return toAWS(h.m.DeletePolicy(req.ctx, arn))
}

func (h *Handler) createPolicyVersion(req *request, x *awsproto.XMLWriter) *awsproto.Error {
	arn, e := h.policyARN(req, "iam:CreatePolicyVersion")
	if e != nil {
		return e
	}
	setDefault, e := optionalBool(req.v, "SetAsDefault", "setAsDefault")
	if e != nil {
		return e
	}
	v, err := h.m.CreatePolicyVersion(req.ctx, arn, req.v.Get("PolicyDocument"), setDefault)
	if err != nil {
		return toAWS(err)
	}
	x.Start("PolicyVersion")
	x.Element("VersionId", v.VersionID)
	x.Element("IsDefaultVersion", strconv.FormatBool(setDefault))
	x.Element("CreateDate", isoTime(v.CreateDate))
	x.End("PolicyVersion")
	return nil
}

func (h *Handler) getPolicyVersion(req *request, x *awsproto.XMLWriter) *awsproto.Error {
	arn, e := h.policyARN(req, "iam:GetPolicyVersion")
	if e != nil {
		return e
	}
	p, v, err := h.m.PolicyVersionByID(req.ctx, arn, req.v.Get("VersionId"))
	if err != nil {
		return toAWS(err)
	}
	x.Start("PolicyVersion")
	writeVersion(x, p, v, true)
	x.End("PolicyVersion")
	return nil
}

func (h *Handler) listPolicyVersions(req *request, x *awsproto.XMLWriter) *awsproto.Error {
	p, e := h.policy(req, "iam:ListPolicyVersions")
	if e != nil {
		return e
	}
	// Newest first, as IAM lists them.
	versions := make([]*iam.PolicyVersion, 0, len(p.Versions))
	for i := len(p.Versions) - 1; i >= 0; i-- {
		versions = append(versions, &p.Versions[i])
	}
	from, to, next, e := page(req.v, len(versions))
	if e != nil {
		return e
	}
	x.Start("Versions")
	for _, v := range versions[from:to] {
		x.Start("member")
		writeVersion(x, p, v, false)
		x.End("member")
	}
	x.End("Versions")
	writeTruncation(x, next)
	return nil
}

func (h *Handler) setDefaultPolicyVersion(req *request) *awsproto.Error {
	arn, e := h.policyARN(req, "iam:SetDefaultPolicyVersion")
	if e != nil {
		return e
	}
	return toAWS(h.m.SetDefaultPolicyVersion(req.ctx, arn, req.v.Get("VersionId")))
}

func (h *Handler) deletePolicyVersion(req *request) *awsproto.Error {
	arn, e := h.policyARN(req, "iam:DeletePolicyVersion")
	if e != nil {
		return e
	}
	return toAWS(h.m.DeletePolicyVersion(req.ctx, arn, req.v.Get("VersionId")))
}

func (h *Handler) listEntitiesForPolicy(req *request, x *awsproto.XMLWriter) *awsproto.Error {
	arn, e := h.policyARN(req, "iam:ListEntitiesForPolicy")
	if e != nil {
		return e
	}
	if _, err := h.m.PolicyByARN(req.ctx, arn); err != nil {
		return awsproto.NewError(http.StatusNotFound, "NoSuchEntity", "Policy "+arn+" does not exist or is not attachable.").WithCause(err)
	}
	filter := req.v.Get("EntityFilter")
	switch filter {
	case "", "User", "Role", "Group", "LocalManagedPolicy", "AWSManagedPolicy":
	default:
		return awsproto.ValidationError("1 validation error detected: Value '" + filter + "' at 'entityFilter' failed to satisfy constraint: Member must satisfy enum value set: [User, Role, Group, LocalManagedPolicy, AWSManagedPolicy]")
	}
	a, err := h.m.PolicyAttachments(req.ctx, arn)
	if err != nil {
		return toAWS(err)
	}
	type entity struct{ role, name, id string }
	var list []entity
	prefix := pathPrefix(req.v)
	if filter == "" || filter == "Role" {
		for _, n := range a.Roles {
			if r, err := h.m.RoleByName(req.ctx, n); err == nil && strings.HasPrefix(r.Path, prefix) {
				list = append(list, entity{"role", r.Name, r.ID})
			}
		}
	}
	if filter == "" || filter == "User" {
		for _, n := range a.Users {
			if u, err := h.m.UserByName(req.ctx, n); err == nil && strings.HasPrefix(u.Path, prefix) {
				list = append(list, entity{"user", u.Name, u.ID})
			}
		}
	}
	from, to, next, e := page(req.v, len(list))
	if e != nil {
		return e
	}
	x.Start("PolicyGroups")
	x.End("PolicyGroups")
	x.Start("PolicyUsers")
	for _, en := range list[from:to] {
		if en.role == "user" {
			x.Start("member")
			x.Element("UserName", en.name)
			x.Element("UserId", en.id)
			x.End("member")
		}
	}
	x.End("PolicyUsers")
	x.Start("PolicyRoles")
	for _, en := range list[from:to] {
		if en.role == "role" {
			x.Start("member")
			x.Element("RoleName", en.name)
			x.Element("RoleId", en.id)
			x.End("member")
		}
	}
	x.End("PolicyRoles")
	writeTruncation(x, next)
	return nil
}
