package api

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/oidcfed/oidcfed/internal/audit"
	"github.com/oidcfed/oidcfed/internal/awsproto"
	"github.com/oidcfed/oidcfed/internal/iam"
	"github.com/oidcfed/oidcfed/internal/iam/lint"
	"github.com/oidcfed/oidcfed/internal/iam/policy"
)

// Lint on write (beyond AWS, opt-in): the trust policies a write would
// leave in place are linted (internal/iam/lint) before the write is made.
// warn records the findings in the call's audit event and the log and lets
// the write through; deny refuses, with MalformedPolicyDocument naming the
// finding, any write that would leave a finding at or above the threshold.
// CreateRole and UpdateAssumeRolePolicy change the trust itself;
// PutRolePolicy and AttachRolePolicy change what the role may do, which
// decides whether wildcard refs in its trust are dangerous.

// LintMode is the lint_on_write setting.
type LintMode int

const (
	LintOff LintMode = iota
	LintWarn
	LintDeny
)

// ParseLintMode reads "off", "warn" or "deny" ("" is off).
func ParseLintMode(s string) (LintMode, error) {
	switch s {
	case "", "off":
		return LintOff, nil
	case "warn":
		return LintWarn, nil
	case "deny":
		return LintDeny, nil
	}
	return LintOff, fmt.Errorf("lint_on_write %q: want off, warn or deny", s)
}

// LintOnWrite sets the mode, and for deny the least severity refused.
func (h *Handler) LintOnWrite(mode LintMode, failOn lint.Severity) {
	h.lintMode, h.lintFailOn = mode, failOn
}

// lintRole lints the role name would have after the write: trust (its
// document), maxSession, and permissions (nil: read the role's own).
func (h *Handler) lintRole(req *request, name, trust string, maxSession time.Duration, permissions []*policy.Policy) *awsproto.Error {
	if h.lintMode == LintOff {
		return nil
	}
	var providers []lint.Provider
	if list, err := h.m.ListOIDCProviders(req.ctx); err == nil {
		for _, p := range list {
			providers = append(providers, lint.Provider{ARN: p.ARN, URL: p.URL, ClientIDs: p.ClientIDs})
		}
	}
	findings, err := lint.Trust(lint.Input{Trust: trust, Account: h.m.Account(), Providers: providers,
		Role: lint.Role{Name: name, MaxSessionDuration: maxSession, Permissions: permissions}})
	if err != nil && len(findings) == 0 {
		return nil // not a valid document: the write's own validation answers
	}
	if len(findings) == 0 {
		return nil
	}
	if ev := audit.FromContext(req.ctx); ev != nil {
		for _, f := range findings {
			ev.OIDCFed.Lint = append(ev.OIDCFed.Lint, audit.LintFinding{ID: f.ID, Name: f.Name, Severity: f.Severity.String(), Message: audit.Value(f.Message, 1024)})
		}
	}
	h.log.WarnContext(req.ctx, "trust policy lint findings", "role", name, "findings", len(findings), "worst", lint.Max(findings).String())
	if h.lintMode != LintDeny {
		return nil
	}
	for _, f := range findings {
		if f.Severity >= h.lintFailOn {
			return awsproto.NewError(http.StatusBadRequest, "MalformedPolicyDocument", fmt.Sprintf(
				"The trust policy fails lint check %s %s (%s): %s Fix: %s", f.ID, f.Name, f.Severity, f.Message, f.Fix))
		}
	}
	return nil
}

// rolePermissions parses a role's identity policies as they would be after
// putting inline policy (putName, putDoc) or attaching attachARN; an
// unreadable policy makes the permissions unknown (nil).
func (h *Handler) rolePermissions(ctx context.Context, r *iam.Role, putName, putDoc, attachARN string) []*policy.Policy {
	perms := []*policy.Policy{}
	add := func(doc string) bool {
		p, err := policy.ParseKind([]byte(doc), policy.IdentityPolicy)
		if err != nil {
			return false
		}
		perms = append(perms, p)
		return true
	}
	for _, in := range r.InlinePolicies {
		if in.Name != putName && !add(in.Document) {
			return nil
		}
	}
	if putDoc != "" && !add(putDoc) {
		return nil
	}
	arns := r.ManagedPolicyARNs
	if attachARN != "" {
		arns = append(arns[:len(arns):len(arns)], attachARN)
	}
	for _, arn := range arns {
		mp, err := h.m.PolicyByARN(ctx, arn)
		if err != nil || !add(mp.DefaultDocument()) {
			return nil
		}
	}
	return perms
}

// lintRoleWrite lints role name's trust as it would stand after putting
// an inline policy or attaching a managed one.
func (h *Handler) lintRoleWrite(req *request, name, putName, putDoc, attachARN string) *awsproto.Error {
	if h.lintMode == LintOff {
		return nil
	}
	r, err := h.m.RoleWithDocuments(req.ctx, name)
	if err != nil {
		return nil // the write itself answers NoSuchEntity
	}
	return h.lintRole(req, r.Name, r.TrustPolicy, r.MaxSessionDuration, h.rolePermissions(req.ctx, r, putName, putDoc, attachARN))
}
