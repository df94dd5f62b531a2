package iam

import (
	"context"
	"slices"

	"github.com/oidcfed/oidcfed/internal/iam/policy"
	"github.com/oidcfed/oidcfed/internal/store"
)

// Roles and users share tags, inline policies and attached managed
// policies, and IAM gives both the same actions over them (TagRole and
// TagUser, PutRolePolicy and PutUserPolicy, ...). They are written once,
// here, over an identity: the shared part of either, as pointers into the
// record being modified.

// MaxInlineUserPolicySize is the aggregate quota of a user's inline
// policies (a role's is policy.MaxInlineRolePolicySize).
const MaxInlineUserPolicySize = 2048

// identityKind is what the shared operations need to know about roles or
// users.
type identityKind struct {
	noun        string // "role", "user": messages and quota names
	nameMember  string // "roleName", "userName": validation messages
	nameMax     int    // name length limit
	inlineLimit int    // aggregate inline policy quota
	quota       string // attached-policy quota name
}

var (
	roleKind = identityKind{noun: "role", nameMember: "roleName", nameMax: 64, inlineLimit: policy.MaxInlineRolePolicySize, quota: "PoliciesPerRole"}
	userKind = identityKind{noun: "user", nameMember: "userName", nameMax: 128, inlineLimit: MaxInlineUserPolicySize, quota: "PoliciesPerUser"}
)

type identity struct {
	name    string
	inline  *[]NamedPolicy
	managed *[]string
	tags    *[]Tag
}

// modifyIdentity runs fn on a stored role or user inside a transaction.
func (m *Manager) modifyIdentity(ctx context.Context, k identityKind, name string, fn func(tx store.Tx, id identity) error) error {
	if k.noun == roleKind.noun {
		return m.modifyRole(ctx, name, func(tx store.Tx, r *Role) error {
			return fn(tx, identity{r.Name, &r.InlinePolicies, &r.ManagedPolicyARNs, &r.Tags})
		})
	}
	return m.modifyUser(ctx, name, func(tx store.Tx, u *User) error {
		return fn(tx, identity{u.Name, &u.InlinePolicies, &u.ManagedPolicyARNs, &u.Tags})
	})
}

func (m *Manager) tag(ctx context.Context, k identityKind, name string, tags []Tag) error {
	var v validation
	v.tags(tags)
	if err := v.err(); err != nil {
		return err
	}
	return m.modifyIdentity(ctx, k, name, func(_ store.Tx, id identity) error {
		*id.tags = mergeTags(*id.tags, tags)
		return checkTagCount(*id.tags)
	})
}

func (m *Manager) untag(ctx context.Context, k identityKind, name string, keys []string) error {
	return m.modifyIdentity(ctx, k, name, func(_ store.Tx, id identity) error {
		*id.tags = removeTags(*id.tags, keys)
		return nil
	})
}

// putPolicy adds or replaces an inline policy, keeping the aggregate under
// the kind's quota.
func (m *Manager) putPolicy(ctx context.Context, k identityKind, name, policyName, doc string) error {
	if err := validateInline(k.nameMember, name, policyName, doc, k.nameMax); err != nil {
		return err
	}
	return m.modifyIdentity(ctx, k, name, func(_ store.Tx, id identity) (err error) {
		*id.inline, err = putInline(*id.inline, policyName, doc, k.noun, id.name, k.inlineLimit)
		return err
	})
}

func (m *Manager) deletePolicy(ctx context.Context, k identityKind, name, policyName string) error {
	return m.modifyIdentity(ctx, k, name, func(_ store.Tx, id identity) error {
		i := slices.IndexFunc(*id.inline, func(p NamedPolicy) bool { return p.Name == policyName })
		if i < 0 {
			return ierr(CodeNoSuchEntity, "The %s policy with name %s cannot be found.", k.noun, policyName)
		}
		*id.inline = slices.Delete(*id.inline, i, i+1)
		return nil
	})
}

// attachPolicy records arn on the identity and in the policy's attachment
// record, checking the policy exists and the identity's quota. Attaching
// twice is a no-op, as on IAM.
func (m *Manager) attachPolicy(ctx context.Context, k identityKind, name, arn string) error {
	return m.modifyIdentity(ctx, k, name, func(tx store.Tx, id identity) error {
		if slices.Contains(*id.managed, arn) {
			return nil
		}
		if err := m.policyExists(ctx, tx, arn); err != nil {
			return err
		}
		if len(*id.managed) >= MaxPoliciesPerEntity {
			return errQuota(k.quota, MaxPoliciesPerEntity)
		}
		*id.managed = append(*id.managed, arn)
		return editAttachments(ctx, tx, arn, func(a *Attachments) {
			*a.of(k) = append(*a.of(k), id.name)
		})
	})
}

func (m *Manager) detachPolicy(ctx context.Context, k identityKind, name, arn string) error {
	return m.modifyIdentity(ctx, k, name, func(tx store.Tx, id identity) error {
		i := slices.Index(*id.managed, arn)
		if i < 0 {
			return errNoSuchPolicy(arn)
		}
		*id.managed = slices.Delete(*id.managed, i, i+1)
		return editAttachments(ctx, tx, arn, func(a *Attachments) {
			*a.of(k) = slices.DeleteFunc(*a.of(k), func(n string) bool { return n == id.name })
		})
	})
}

// of is the list of a kind's names in a policy's attachments.
func (a *Attachments) of(k identityKind) *[]string {
	if k.noun == roleKind.noun {
		return &a.Roles
	}
	return &a.Users
}

// The IAM API's actions, one pair per shared operation.

// TagRole adds or replaces a role's tags.
func (m *Manager) TagRole(ctx context.Context, name string, tags []Tag) error {
	return m.tag(ctx, roleKind, name, tags)
}

// TagUser adds or replaces a user's tags.
func (m *Manager) TagUser(ctx context.Context, name string, tags []Tag) error {
	return m.tag(ctx, userKind, name, tags)
}

// UntagRole removes a role's tags by key.
func (m *Manager) UntagRole(ctx context.Context, name string, keys []string) error {
	return m.untag(ctx, roleKind, name, keys)
}

// UntagUser removes a user's tags by key.
func (m *Manager) UntagUser(ctx context.Context, name string, keys []string) error {
	return m.untag(ctx, userKind, name, keys)
}

// PutRolePolicy adds or replaces a role's inline policy.
func (m *Manager) PutRolePolicy(ctx context.Context, roleName, policyName, doc string) error {
	return m.putPolicy(ctx, roleKind, roleName, policyName, doc)
}

// PutUserPolicy adds or replaces a user's inline policy.
func (m *Manager) PutUserPolicy(ctx context.Context, userName, policyName, doc string) error {
	return m.putPolicy(ctx, userKind, userName, policyName, doc)
}

// DeleteRolePolicy removes a role's inline policy.
func (m *Manager) DeleteRolePolicy(ctx context.Context, roleName, policyName string) error {
	return m.deletePolicy(ctx, roleKind, roleName, policyName)
}

// DeleteUserPolicy removes a user's inline policy.
func (m *Manager) DeleteUserPolicy(ctx context.Context, userName, policyName string) error {
	return m.deletePolicy(ctx, userKind, userName, policyName)
}

// AttachRolePolicy attaches a managed policy to a role.
func (m *Manager) AttachRolePolicy(ctx context.Context, roleName, arn string) error {
	return m.attachPolicy(ctx, roleKind, roleName, arn)
}

// AttachUserPolicy attaches a managed policy to a user.
func (m *Manager) AttachUserPolicy(ctx context.Context, userName, arn string) error {
	return m.attachPolicy(ctx, userKind, userName, arn)
}

// DetachRolePolicy detaches a managed policy from a role.
func (m *Manager) DetachRolePolicy(ctx context.Context, roleName, arn string) error {
	return m.detachPolicy(ctx, roleKind, roleName, arn)
}

// DetachUserPolicy detaches a managed policy from a user.
func (m *Manager) DetachUserPolicy(ctx context.Context, userName, arn string) error {
	return m.detachPolicy(ctx, userKind, userName, arn)
}
