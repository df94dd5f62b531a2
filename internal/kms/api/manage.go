package api

import (
	"github.com/oidcfed/oidcfed/internal/audit"
	"slices"
	"strconv"
	"strings"

	"github.com/oidcfed/oidcfed/internal/kms"
)

// page cuts a listing at Marker (the last name of the previous page) and
// Limit, KMS's paging.
func page[T any](items []T, name func(T) string, marker string, limit *int, def, max int) ([]T, string, error) {
	n := def
	if limit != nil {
		if *limit < 1 || *limit > max {
			return nil, "", &kms.Error{Code: kms.CodeValidation, Message: "1 validation error detected: Value '" + strconv.Itoa(*limit) +
				"' at 'limit' failed to satisfy constraint: Member must have value less than or equal to " + strconv.Itoa(max)}
		}
		n = *limit
	}
	start := 0
	if marker != "" {
		i := slices.IndexFunc(items, func(t T) bool { return name(t) > marker })
		if !slices.ContainsFunc(items, func(t T) bool { return name(t) == marker }) {
			return nil, "", &kms.Error{Code: kms.CodeInvalidMarker, Message: "Invalid marker"} // unconfirmed wording
		}
		if i < 0 {
			i = len(items)
		}
		start = i
	}
	end := min(len(items), start+n)
	next := ""
	if end < len(items) {
		next = name(items[end-1])
	}
	return items[start:end], next, nil
}

func listResponse(key string, items any, next string) map[string]any {
	out := map[string]any{key: items, "Truncated": next != ""}
	if next != "" {
		out["NextMarker"] = next
	}
	return out
}

func (h *Handler) listKeys(c *call) (any, error) {
	var in struct {
		Limit  *int
		Marker string
	}
	if err := decode(c, &in); err != nil {
		return nil, err
	}
	if err := h.authorizeIAM(c, "kms:ListKeys", nil); err != nil {
		return nil, err
	}
	keys, err := h.svc.Keys(c.ctx)
	if err != nil {
		return nil, err
	}
	got, next, err := page(keys, func(k *kms.Key) string { return k.ID }, in.Marker, in.Limit, 100, 1000)
	if err != nil {
		return nil, err
	}
	entries := make([]map[string]string, 0, len(got))
	for _, k := range got {
		entries = append(entries, map[string]string{"KeyId": k.ID, "KeyArn": k.ARN})
	}
	return listResponse("Keys", entries, next), nil
}

func (h *Handler) listAliases(c *call) (any, error) {
	var in struct {
		KeyID  string `json:"KeyId"`
		Limit  *int
		Marker string
	}
	if err := decode(c, &in); err != nil {
		return nil, err
	}
	aliases, err := h.svc.Aliases(c.ctx)
	if err != nil {
		return nil, err
	}
	if in.KeyID != "" {
		c.ev.RequestParameters = map[string]any{"keyId": audit.Value(in.KeyID, 2048)}
		if strings.HasPrefix(in.KeyID, "alias/") || strings.Contains(in.KeyID, ":alias/") {
			return nil, &kms.Error{Code: kms.CodeInvalidArn, Message: "Invalid keyId " + audit.Value(in.KeyID, 2048)} // unconfirmed wording
		}
		r, err := h.resolve(c, in.KeyID)
		if err != nil {
			return nil, err
		}
		if err := h.authorizeKey(c, "kms:ListAliases", r, nil); err != nil {
			return nil, err
		}
		aliases = slices.DeleteFunc(aliases, func(a kms.Alias) bool { return a.KeyID != r.Key.ID })
	} else if err := h.authorizeIAM(c, "kms:ListAliases", nil); err != nil {
		return nil, err
	}
	got, next, err := page(aliases, func(a kms.Alias) string { return a.Name }, in.Marker, in.Limit, 50, 100)
	if err != nil {
		return nil, err
	}
	entries := make([]map[string]any, 0, len(got))
	for _, a := range got {
		entries = append(entries, map[string]any{"AliasName": a.Name, "AliasArn": h.svc.AliasARN(a.Name), "TargetKeyId": a.KeyID,
			"CreationDate": epoch(a.CreatedAt), "LastUpdatedDate": epoch(a.UpdatedAt)})
	}
	return listResponse("Aliases", entries, next), nil
}

type aliasRequest struct {
	AliasName   string
	TargetKeyID string `json:"TargetKeyId"`
}

// aliasAuthorized checks action on the alias (IAM, on the alias ARN) and
// on the key (key policy and IAM), as KMS requires for alias changes.
func (h *Handler) aliasAuthorized(c *call, action, alias string, r *kms.Resolved) error {
	if err := h.auth.Authorize(c.ctx, c.caller, action, h.svc.AliasARN(alias), h.context(c, nil)); err != nil {
		return &kms.Error{Code: kms.CodeAccessDenied, Message: err.Message}
	}
	return h.authorizeKey(c, action, r, nil)
}

func (h *Handler) createAlias(c *call) (any, error) {
	var in aliasRequest
	if err := decode(c, &in); err != nil {
		return nil, err
	}
	c.ev.RequestParameters = map[string]any{"aliasName": audit.Value(in.AliasName, 256), "targetKeyId": audit.Value(in.TargetKeyID, 2048)}
	if in.AliasName == "" || in.TargetKeyID == "" {
		return nil, &kms.Error{Code: kms.CodeValidation, Message: "AliasName and TargetKeyId are required."} // unconfirmed wording
	}
	r, err := h.svc.Resolve(c.ctx, in.TargetKeyID)
	if err == nil && (strings.HasPrefix(in.TargetKeyID, "alias/") || strings.Contains(in.TargetKeyID, ":alias/")) {
		err = &kms.Error{Code: kms.CodeValidation, Message: "Aliases must refer to keys. Not aliases"} // recalled, unconfirmed
	}
	if err != nil {
		return nil, err
	}
	if err := h.aliasAuthorized(c, "kms:CreateAlias", in.AliasName, r); err != nil {
		return nil, err
	}
	return struct{}{}, h.svc.CreateAlias(c.ctx, in.AliasName, r)
}

func (h *Handler) updateAlias(c *call) (any, error) {
	var in aliasRequest
	if err := decode(c, &in); err != nil {
		return nil, err
	}
	c.ev.RequestParameters = map[string]any{"aliasName": audit.Value(in.AliasName, 256), "targetKeyId": audit.Value(in.TargetKeyID, 2048)}
	r, err := h.svc.Resolve(c.ctx, in.TargetKeyID)
	if err != nil {
		return nil, err
	}
	if err := h.aliasAuthorized(c, "kms:UpdateAlias", in.AliasName, r); err != nil {
		return nil, err
	}
	return struct{}{}, h.svc.UpdateAlias(c.ctx, in.AliasName, r)
}

func (h *Handler) deleteAlias(c *call) (any, error) {
	var in aliasRequest
	if err := decode(c, &in); err != nil {
		return nil, err
	}
	c.ev.RequestParameters = map[string]any{"aliasName": audit.Value(in.AliasName, 256)}
	r, err := h.svc.Resolve(c.ctx, in.AliasName)
	if err != nil {
		return nil, err
	}
	if err := h.aliasAuthorized(c, "kms:DeleteAlias", in.AliasName, r); err != nil {
		return nil, err
	}
	return struct{}{}, h.svc.DeleteAlias(c.ctx, in.AliasName)
}

func (h *Handler) enableKey(c *call) (any, error) {
	var in keyRequest
	r, err := h.keyOp(c, "kms:EnableKey", &in, func() string { return in.KeyID }, nil)
	if err != nil {
		return nil, err
	}
	return struct{}{}, h.svc.SetEnabled(c.ctx, r, true)
}

func (h *Handler) disableKey(c *call) (any, error) {
	var in keyRequest
	r, err := h.keyOp(c, "kms:DisableKey", &in, func() string { return in.KeyID }, nil)
	if err != nil {
		return nil, err
	}
	return struct{}{}, h.svc.SetEnabled(c.ctx, r, false)
}

func (h *Handler) scheduleKeyDeletion(c *call) (any, error) {
	var in struct {
		KeyID               string `json:"KeyId"`
		PendingWindowInDays *int
	}
	r, err := h.keyOp(c, "kms:ScheduleKeyDeletion", &in, func() string { return in.KeyID }, nil)
	if err != nil {
		return nil, err
	}
	k, err := h.svc.ScheduleDeletion(c.ctx, r, in.PendingWindowInDays)
	if err != nil {
		return nil, err
	}
	return map[string]any{"KeyId": k.ARN, "DeletionDate": epoch(*k.DeletionDate), "KeyState": k.State, "PendingWindowInDays": k.PendingWindowInDays}, nil
}

func (h *Handler) cancelKeyDeletion(c *call) (any, error) {
	var in keyRequest
	r, err := h.keyOp(c, "kms:CancelKeyDeletion", &in, func() string { return in.KeyID }, nil)
	if err != nil {
		return nil, err
	}
	if err := h.svc.CancelDeletion(c.ctx, r); err != nil {
		return nil, err
	}
	return map[string]any{"KeyId": r.Key.ARN}, nil
}

func (h *Handler) getKeyPolicy(c *call) (any, error) {
	var in struct {
		KeyID      string `json:"KeyId"`
		PolicyName string
	}
	r, err := h.keyOp(c, "kms:GetKeyPolicy", &in, func() string { return in.KeyID }, nil)
	if err != nil {
		return nil, err
	}
	if in.PolicyName != "" && in.PolicyName != "default" {
		return nil, &kms.Error{Code: kms.CodeNotFound, Message: "No such policy exists"} // recalled, unconfirmed
	}
	return map[string]any{"Policy": r.Key.Policy, "PolicyName": "default"}, nil
}

func (h *Handler) putKeyPolicy(c *call) (any, error) {
	var in struct {
		KeyID                          string `json:"KeyId"`
		PolicyName                     string
		Policy                         string
		BypassPolicyLockoutSafetyCheck bool
	}
	r, err := h.keyOp(c, "kms:PutKeyPolicy", &in, func() string { return in.KeyID }, nil)
	if err != nil {
		return nil, err
	}
	c.ev.RequestParameters["policyName"] = firstOf(in.PolicyName, "default")
	if in.Policy != "" && !in.BypassPolicyLockoutSafetyCheck {
		if err := h.lockoutSafe(c, in.Policy, r.Key.ARN); err != nil {
			return nil, err
		}
	}
	return struct{}{}, h.svc.PutPolicy(c.ctx, r, in.PolicyName, in.Policy)
}

func (h *Handler) listKeyPolicies(c *call) (any, error) {
	var in keyRequest
	if _, err := h.keyOp(c, "kms:ListKeyPolicies", &in, func() string { return in.KeyID }, nil); err != nil {
		return nil, err
	}
	return map[string]any{"PolicyNames": []string{"default"}, "Truncated": false}, nil
}

func (h *Handler) tagResource(c *call) (any, error) {
	var in struct {
		KeyID string `json:"KeyId"`
		Tags  []kms.Tag
	}
	r, err := h.keyOp(c, "kms:TagResource", &in, func() string { return in.KeyID }, nil)
	if err != nil {
		return nil, err
	}
	return struct{}{}, h.svc.Tag(c.ctx, r, in.Tags)
}

func (h *Handler) untagResource(c *call) (any, error) {
	var in struct {
		KeyID   string `json:"KeyId"`
		TagKeys []string
	}
	r, err := h.keyOp(c, "kms:UntagResource", &in, func() string { return in.KeyID }, nil)
	if err != nil {
		return nil, err
	}
	return struct{}{}, h.svc.Untag(c.ctx, r, in.TagKeys)
}

func (h *Handler) listResourceTags(c *call) (any, error) {
	var in keyRequest
	r, err := h.keyOp(c, "kms:ListResourceTags", &in, func() string { return in.KeyID }, nil)
	if err != nil {
		return nil, err
	}
	tags := r.Key.Tags
	if tags == nil {
		tags = []kms.Tag{}
	}
	return map[string]any{"Tags": tags, "Truncated": false}, nil
}
