package lint

import (
	"strings"

	"github.com/oidcfed/oidcfed/internal/iam/policy"
)

// writeOrSignVerbs: an action whose name begins with one of these changes state, produces a
// signature or MAC, or reaches another role. This is a name-based over-approximation of
// IAM's Write and Permissions-management access levels (which oidcfed does not carry for
// every service): kms:Sign, kms:GenerateMac, ecr:PutImage, ecr:BatchDeleteImage,
// ecr:CompleteLayerUpload, s3:PutObject, s3:DeleteObject, iam:CreateRole, iam:PassRole,
// sts:AssumeRole, lambda:InvokeFunction, ... are in; Get*, List*, Describe*, BatchGet*,
// kms:Verify, kms:Decrypt and kms:GenerateDataKey are not.
var writeOrSignVerbs = []string{
	"Add", "AssumeRole", "Associate", "Attach", "BatchDelete", "BatchPut", "BatchWrite",
	"Complete", "Copy", "Create", "Delete", "Deregister", "Detach", "Disable", "Enable",
	"GenerateMac", "Import", "Initiate", "Invoke", "Modify", "Pass", "Publish", "Put",
	"Register", "Remove", "Replace", "Replicate", "Reset", "Restore", "Revoke", "Rotate", "Run",
	"Schedule", "Send", "Set", "Sign", "Start", "Stop", "Tag", "Terminate", "Untag", "Update",
	"Upload", "Write",
}

// CanWriteOrSign reports whether some Allow statement of perms grants an action that writes
// or signs (see writeOrSignVerbs): "*", a service wildcard such as "s3:*", a pattern that can
// match a write verb ("s3:Put*", "ecr:Batch*") or any NotAction. It returns the first such
// action as written, for messages. Resources, conditions and Deny statements are not
// considered: this says "worth worrying about", it does not prove access.
func CanWriteOrSign(perms []*policy.Policy) (action string, ok bool) {
	for _, p := range perms {
		if p == nil {
			continue
		}
		for _, s := range p.Statements {
			if s.Effect != policy.EffectAllow {
				continue
			}
			if s.NotAction != nil {
				return "NotAction " + strings.Join(s.NotAction, ", "), true
			}
			for _, a := range s.Action {
				if writesOrSigns(a) {
					return a, true
				}
			}
		}
	}
	return "", false
}

func writesOrSigns(pattern string) bool {
	if pattern == "*" {
		return true
	}
	_, name, ok := strings.Cut(pattern, ":")
	if !ok {
		return false
	}
	w := wildcardAt(name)
	literal := name
	if w >= 0 {
		literal = name[:w]
	}
	for _, verb := range writeOrSignVerbs {
		if hasPrefixFold(literal, verb) {
			return true
		}
		// A wildcard after a shorter literal can complete the verb: "P*" covers "Put...".
		if w >= 0 && hasPrefixFold(verb, literal) {
			return true
		}
	}
	return false
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}
