package api

import (
	"context"
	"net/http"

	"github.com/oidcfed/oidcfed/internal/awsproto"
	"github.com/oidcfed/oidcfed/internal/iam"
)

// IAM gives roles and users the same actions over their tags, inline
// policies and attached managed policies (TagRole/TagUser,
// PutRolePolicy/PutUserPolicy, ...). They are served once, here, from one
// description per kind.

// identityView is what the read actions show of a role or a user.
type identityView struct {
	name    string
	tags    []iam.Tag
	inline  []iam.NamedPolicy
	managed []string
}

type identityKind struct {
	noun      string // "Role", "User": in action names and parameters (RoleName)
	lowerNoun string // "role": in messages
	// name reads the kind's name parameter and authorizes action on it.
	name func(h *Handler, req *request, action string) (string, *awsproto.Error)
	// load is name, then the entity itself (NoSuchEntity if missing).
	load func(h *Handler, req *request, action string) (identityView, *awsproto.Error)

	tag          func(m *iam.Manager, ctx context.Context, name string, tags []iam.Tag) error
	untag        func(m *iam.Manager, ctx context.Context, name string, keys []string) error
	putPolicy    func(m *iam.Manager, ctx context.Context, name, policyName, doc string) error
	deletePolicy func(m *iam.Manager, ctx context.Context, name, policyName string) error
	attach       func(m *iam.Manager, ctx context.Context, name, arn string) error
	detach       func(m *iam.Manager, ctx context.Context, name, arn string) error
}

var (
	roleKind = &identityKind{
		noun: "Role", lowerNoun: "role",
		name: (*Handler).roleName,
		load: func(h *Handler, req *request, action string) (identityView, *awsproto.Error) {
			r, e := h.role(req, action)
			if e != nil {
				return identityView{}, e
			}
			return identityView{r.Name, r.Tags, r.InlinePolicies, r.ManagedPolicyARNs}, nil
		},
		tag: (*iam.Manager).TagRole, untag: (*iam.Manager).UntagRole,
		putPolicy: (*iam.Manager).PutRolePolicy, deletePolicy: (*iam.Manager).DeleteRolePolicy,
		attach: (*iam.Manager).AttachRolePolicy, detach: (*iam.Manager).DetachRolePolicy,
	}
	userKind = &identityKind{
		noun: "User", lowerNoun: "user",
		name: (*Handler).userName,
		load: func(h *Handler, req *request, action string) (identityView, *awsproto.Error) {
			u, e := h.user(req, action)
			if e != nil {
				return identityView{}, e
			}
			return identityView{u.Name, u.Tags, u.InlinePolicies, u.ManagedPolicyARNs}, nil
		},
		tag: (*iam.Manager).TagUser, untag: (*iam.Manager).UntagUser,
		putPolicy: (*iam.Manager).PutUserPolicy, deletePolicy: (*iam.Manager).DeleteUserPolicy,
		attach: (*iam.Manager).AttachUserPolicy, detach: (*iam.Manager).DetachUserPolicy,
	}
)

// register adds the kind's ten actions.
func (k *identityKind) register(actions map[string]action) {
	n := k.noun
	actions["Tag"+n] = write(func(h *Handler, req *request) *awsproto.Error {
		list, e := tags(req.v)
		if e != nil {
			return e
		}
		req.requestTags(list)
		name, e := k.name(h, req, "iam:Tag"+n)
		if e != nil {
			return e
		}
		return toAWS(k.tag(h.m, req.ctx, name, list))
	})
	actions["Untag"+n] = write(func(h *Handler, req *request) *awsproto.Error {
		keys, e := stringList(req.v, "TagKeys")
		if e != nil {
			return e
		}
		req.set("aws:TagKeys", keys...)
		name, e := k.name(h, req, "iam:Untag"+n)
		if e != nil {
			return e
		}
		return toAWS(k.untag(h.m, req.ctx, name, keys))
	})
	actions["List"+n+"Tags"] = read(func(h *Handler, req *request, x *awsproto.XMLWriter) *awsproto.Error {
		id, e := k.load(h, req, "iam:List"+n+"Tags")
		if e != nil {
			return e
		}
		return writeTagPage(x, req.v, id.tags)
	})
	actions["Put"+n+"Policy"] = write(func(h *Handler, req *request) *awsproto.Error {
		name, e := k.name(h, req, "iam:Put"+n+"Policy")
		if e != nil {
			return e
		}
		if k == roleKind {
			if e := h.lintRoleWrite(req, name, req.v.Get("PolicyName"), req.v.Get("PolicyDocument"), ""); e != nil {
				return e
			}
		}
		return toAWS(k.putPolicy(h.m, req.ctx, name, req.v.Get("PolicyName"), req.v.Get("PolicyDocument")))
	})
	actions["Get"+n+"Policy"] = read(func(h *Handler, req *request, x *awsproto.XMLWriter) *awsproto.Error {
		id, e := k.load(h, req, "iam:Get"+n+"Policy")
		if e != nil {
			return e
		}
		policyName, e := required(req.v, "PolicyName", "policyName")
		if e != nil {
			return e
		}
		for _, p := range id.inline {
			if p.Name == policyName {
				x.Element(n+"Name", id.name)
				x.Element("PolicyName", p.Name)
				x.Element("PolicyDocument", policyDocument(p.Document))
				return nil
			}
		}
		return awsproto.NewError(http.StatusNotFound, "NoSuchEntity", "The "+k.lowerNoun+" policy with name "+policyName+" cannot be found.")
	})
	actions["List"+n+"Policies"] = read(func(h *Handler, req *request, x *awsproto.XMLWriter) *awsproto.Error {
		id, e := k.load(h, req, "iam:List"+n+"Policies")
		if e != nil {
			return e
		}
		return writeNamePage(x, req.v, id.inline)
	})
	actions["Delete"+n+"Policy"] = write(func(h *Handler, req *request) *awsproto.Error {
		name, e := k.name(h, req, "iam:Delete"+n+"Policy")
		if e != nil {
			return e
		}
		policyName, e := required(req.v, "PolicyName", "policyName")
		if e != nil {
			return e
		}
		return toAWS(k.deletePolicy(h.m, req.ctx, name, policyName))
	})
	for verb, apply := range map[string]func(m *iam.Manager, ctx context.Context, name, arn string) error{"Attach": k.attach, "Detach": k.detach} {
		actions[verb+n+"Policy"] = write(func(h *Handler, req *request) *awsproto.Error {
			arn, e := required(req.v, "PolicyArn", "policyArn")
			if e != nil {
				return e
			}
			req.set("iam:PolicyARN", arn)
			name, e := k.name(h, req, "iam:"+verb+n+"Policy")
			if e != nil {
				return e
			}
			if verb == "Attach" && k == roleKind {
				if e := h.lintRoleWrite(req, name, "", "", arn); e != nil {
					return e
				}
			}
			return toAWS(apply(h.m, req.ctx, name, arn))
		})
	}
	actions["ListAttached"+n+"Policies"] = read(func(h *Handler, req *request, x *awsproto.XMLWriter) *awsproto.Error {
		id, e := k.load(h, req, "iam:ListAttached"+n+"Policies")
		if e != nil {
			return e
		}
		return writeAttachedPage(x, req.v, id.managed)
	})
}
