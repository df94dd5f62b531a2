package api

import (
	"net/http"
	"strings"

	"github.com/oidcfed/oidcfed/internal/audit"
	"github.com/oidcfed/oidcfed/internal/awsproto"
	"github.com/oidcfed/oidcfed/internal/iam"
)

func noSuchUser(name string) *awsproto.Error {
	return awsproto.NewError(http.StatusNotFound, "NoSuchEntity", "The user with name "+name+" cannot be found.")
}

// userName reads UserName and authorizes action on the user it names.
func (h *Handler) userName(req *request, action string) (string, *awsproto.Error) {
	name, e := required(req.v, "UserName", "userName")
	if e != nil {
		return "", e
	}
	resource := h.arn("user/" + name)
	if u, err := h.m.UserByName(req.ctx, name); err == nil {
		resource = u.ARN
		req.resourceTags(u.Tags)
	}
	return name, h.authorize(req, action, resource, "user "+name)
}

func (h *Handler) user(req *request, action string) (*iam.User, *awsproto.Error) {
	name, e := h.userName(req, action)
	if e != nil {
		return nil, e
	}
	u, err := h.m.UserByName(req.ctx, name)
	if err != nil {
		return nil, noSuchUser(name).WithCause(err)
	}
	return u, nil
}

func writeUser(x *awsproto.XMLWriter, u *iam.User, withTags bool) {
	x.Element("Path", u.Path)
	x.Element("UserName", u.Name)
	x.Element("UserId", u.ID)
	x.Element("Arn", u.ARN)
	x.Element("CreateDate", isoTime(u.CreateDate))
	if withTags {
		writeTags(x, u.Tags, false)
	}
}

func (h *Handler) createUser(req *request, x *awsproto.XMLWriter) *awsproto.Error {
	name, path, tagList, e := h.creation(req, "iam:CreateUser", "UserName", "userName", "user")
	if e != nil {
		return e
	}
	u, err := h.m.CreateUser(req.ctx, name, path, tagList)
	if err != nil {
		return toAWS(err)
	}
	x.Start("User")
	writeUser(x, u, true)
	x.End("User")
	return nil
}

// getUser without UserName describes the caller (an IAM user, or the
// account root).
func (h *Handler) getUser(req *request, x *awsproto.XMLWriter) *awsproto.Error {
	if _, ok := req.v.Lookup("UserName"); !ok {
		switch {
		case req.caller.User != nil:
			u := req.caller.User
			if e := h.authorize(req, "iam:GetUser", u.ARN, "user "+u.Name); e != nil {
				return e
			}
			x.Start("User")
			writeUser(x, req.caller.User, true)
			x.End("User")
			return nil
		case req.caller.Root:
			x.Start("User")
			x.Element("UserId", h.m.Account())
			x.Element("Arn", h.arn("root"))
			x.Element("CreateDate", "1970-01-01T00:00:00Z")
			x.End("User")
			return nil
		}
		return awsproto.ValidationError("Must specify userName when calling with non-User credentials")
	}
	u, e := h.user(req, "iam:GetUser")
	if e != nil {
		return e
	}
	x.Start("User")
	writeUser(x, u, true)
	x.End("User")
	return nil
}

func (h *Handler) listUsers(req *request, x *awsproto.XMLWriter) *awsproto.Error {
	if e := h.authorize(req, "iam:ListUsers", h.arn("user/*"), ""); e != nil {
		return e
	}
	all, err := h.m.ListUsers(req.ctx)
	if err != nil {
		return toAWS(err)
	}
	prefix := pathPrefix(req.v)
	var users []*iam.User
	for _, u := range all {
		if strings.HasPrefix(u.Path, prefix) {
			users = append(users, u)
		}
	}
	from, to, next, e := page(req.v, len(users))
	if e != nil {
		return e
	}
	x.Start("Users")
	for _, u := range users[from:to] {
		x.Start("member")
		writeUser(x, u, false)
		x.End("member")
	}
	x.End("Users")
	writeTruncation(x, next)
	return nil
}

func (h *Handler) deleteUser(req *request) *awsproto.Error {
	name, e := h.userName(req, "iam:DeleteUser")
	if e != nil {
		return e
	}
	return toAWS(h.m.DeleteUser(req.ctx, name))
}

// accessKeyUser is the user an access-key action is about: UserName, or
// the calling user when it is omitted (as IAM does).
func (h *Handler) accessKeyUser(req *request, action string) (string, *awsproto.Error) {
	if _, ok := req.v.Lookup("UserName"); !ok && req.caller.User != nil {
		u := req.caller.User
		req.resourceTags(u.Tags)
		return u.Name, h.authorize(req, action, u.ARN, "user "+u.Name)
	}
	return h.userName(req, action)
}

func (h *Handler) createAccessKey(req *request, x *awsproto.XMLWriter) *awsproto.Error {
	name, e := h.accessKeyUser(req, "iam:CreateAccessKey")
	if e != nil {
		return e
	}
	k, secret, err := h.m.CreateAccessKey(req.ctx, name)
	if err != nil {
		return toAWS(err)
	}
	if ev := audit.FromContext(req.ctx); ev != nil {
		// As CloudTrail records it: the key's id, never its secret.
		ev.ResponseElements = map[string]any{"accessKey": map[string]string{
			"userName": k.UserName, "accessKeyId": k.ID, "status": k.Status, "createDate": isoTime(k.CreatedAt)}}
	}
	x.Start("AccessKey")
	x.Element("UserName", k.UserName)
	x.Element("AccessKeyId", k.ID)
	x.Element("Status", k.Status)
	x.Element("SecretAccessKey", secret)
	x.Element("CreateDate", isoTime(k.CreatedAt))
	x.End("AccessKey")
	return nil
}

func (h *Handler) listAccessKeys(req *request, x *awsproto.XMLWriter) *awsproto.Error {
	name, e := h.accessKeyUser(req, "iam:ListAccessKeys")
	if e != nil {
		return e
	}
	keys, err := h.m.ListAccessKeys(req.ctx, name)
	if err != nil {
		return toAWS(err)
	}
	from, to, next, e := page(req.v, len(keys))
	if e != nil {
		return e
	}
	x.Start("AccessKeyMetadata")
	for _, k := range keys[from:to] {
		x.Start("member")
		x.Element("UserName", k.UserName)
		x.Element("AccessKeyId", k.ID)
		x.Element("Status", k.Status)
		x.Element("CreateDate", isoTime(k.CreatedAt))
		x.End("member")
	}
	x.End("AccessKeyMetadata")
	writeTruncation(x, next)
	return nil
}

func (h *Handler) updateAccessKey(req *request) *awsproto.Error {
	name, e := h.accessKeyUser(req, "iam:UpdateAccessKey")
	if e != nil {
		return e
	}
	id, e := required(req.v, "AccessKeyId", "accessKeyId")
	if e != nil {
		return e
	}
	status, e := required(req.v, "Status", "status")
	if e != nil {
		return e
	}
	return toAWS(h.m.UpdateAccessKey(req.ctx, name, id, status))
}

func (h *Handler) deleteAccessKey(req *request) *awsproto.Error {
	name, e := h.accessKeyUser(req, "iam:DeleteAccessKey")
	if e != nil {
		return e
	}
	id, e := required(req.v, "AccessKeyId", "accessKeyId")
	if e != nil {
		return e
	}
	return toAWS(h.m.DeleteAccessKey(req.ctx, name, id))
}

// getAccountAuthorizationDetails lists every user, role and managed
// policy in use with their policies (no groups exist here).
func (h *Handler) getAccountAuthorizationDetails(req *request, x *awsproto.XMLWriter) *awsproto.Error {
	if e := h.authorize(req, "iam:GetAccountAuthorizationDetails", "*", ""); e != nil {
		return e
	}
	filters, e := stringList(req.v, "Filter")
	if e != nil {
		return e
	}
	want := func(f string) bool {
		if len(filters) == 0 {
			return true
		}
		for _, x := range filters {
			if x == f {
				return true
			}
		}
		return false
	}
	var items []func()
	if want("User") {
		users, err := h.m.ListUsers(req.ctx)
		if err != nil {
			return toAWS(err)
		}
		for _, u := range users {
			items = append(items, func() {
				x.Start("member")
				writeUser(x, u, false)
				writeInlineList(x, "UserPolicyList", u.InlinePolicies)
				x.Start("GroupList")
				x.End("GroupList")
				writeAttachedList(x, u.ManagedPolicyARNs)
				writeTags(x, u.Tags, false)
				x.End("member")
			})
		}
	}
	nUsers := len(items)
	if want("Role") {
		roles, err := h.m.ListRoles(req.ctx)
		if err != nil {
			return toAWS(err)
		}
		for _, r := range roles {
			items = append(items, func() {
				x.Start("member")
				x.Element("Path", r.Path)
				x.Element("RoleName", r.Name)
				x.Element("RoleId", r.ID)
				x.Element("Arn", r.ARN)
				x.Element("CreateDate", isoTime(r.CreateDate))
				x.Element("AssumeRolePolicyDocument", policyDocument(r.TrustPolicy))
				x.Start("InstanceProfileList")
				x.End("InstanceProfileList")
				writeInlineList(x, "RolePolicyList", r.InlinePolicies)
				writeAttachedList(x, r.ManagedPolicyARNs)
				writeTags(x, r.Tags, false)
				x.Start("RoleLastUsed")
				x.End("RoleLastUsed")
				x.End("member")
			})
		}
	}
	nRoles := len(items)
	if want("LocalManagedPolicy") || want("AWSManagedPolicy") {
		scope := "All"
		switch {
		case !want("AWSManagedPolicy"):
			scope = "Local"
		case !want("LocalManagedPolicy"):
			scope = "AWS"
		}
		// AWS managed policies appear only when attached somewhere.
		policies, err := h.m.ListPolicies(req.ctx, scope, false)
		if err != nil {
			return toAWS(err)
		}
		for _, p := range policies {
			if p.AWSManaged && p.AttachmentCount == 0 {
				continue
			}
			items = append(items, func() {
				x.Start("member")
				writePolicy(x, p, p.AttachmentCount, false)
				x.Start("PolicyVersionList")
				for i := len(p.Versions) - 1; i >= 0; i-- {
					x.Start("member")
					writeVersion(x, p, &p.Versions[i], true)
					x.End("member")
				}
				x.End("PolicyVersionList")
				x.End("member")
			})
		}
	}
	from, to, next, e := page(req.v, len(items))
	if e != nil {
		return e
	}
	section := func(name string, lo, hi int) {
		x.Start(name)
		for i := max(lo, from); i < min(hi, to); i++ {
			items[i]()
		}
		x.End(name)
	}
	section("UserDetailList", 0, nUsers)
	x.Start("GroupDetailList")
	x.End("GroupDetailList")
	section("RoleDetailList", nUsers, nRoles)
	section("Policies", nRoles, len(items))
	writeTruncation(x, next)
	return nil
}

func writeInlineList(x *awsproto.XMLWriter, name string, list []iam.NamedPolicy) {
	x.Start(name)
	for _, p := range list {
		x.Start("member")
		x.Element("PolicyName", p.Name)
		x.Element("PolicyDocument", policyDocument(p.Document))
		x.End("member")
	}
	x.End(name)
}

func writeAttachedList(x *awsproto.XMLWriter, arns []string) {
	x.Start("AttachedManagedPolicies")
	for _, a := range arns {
		x.Start("member")
		x.Element("PolicyName", a[strings.LastIndexByte(a, '/')+1:])
		x.Element("PolicyArn", a)
		x.End("member")
	}
	x.End("AttachedManagedPolicies")
}
