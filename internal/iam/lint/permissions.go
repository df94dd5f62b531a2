package lint

import (
	"slices"
	"strings"

	"github.com/oidcfed/oidcfed/internal/iam/policy"
)

// writeVerbs: an action whose name begins with one of these changes state or reaches
// another role. This is a name-based approximation of IAM's Write and Permissions-management
// access levels (which oidcfed does not carry for every service): ecr:PutImage,
// ecr:BatchDeleteImage, ecr:CompleteLayerUpload, s3:PutObject, s3:DeleteObject,
// iam:CreateRole, iam:PassRole, sts:AssumeRole, lambda:InvokeFunction, ... are in; Get*,
// List*, Describe*, BatchGet*, kms:Verify, kms:Decrypt and kms:GenerateDataKey are not.
var writeVerbs = []string{
	"Add", "AssumeRole", "Associate", "Attach", "BatchDelete", "BatchPut", "BatchWrite",
	"Complete", "Copy", "Create", "Delete", "Deregister", "Detach", "Disable", "Enable",
	"Import", "Initiate", "Invoke", "Modify", "Pass", "Publish", "Put", "Register", "Remove",
	"Replace", "Replicate", "Reset", "Restore", "Revoke", "Rotate", "Run", "Schedule", "Send",
	"Set", "Start", "Stop", "Tag", "Terminate", "Untag", "Update", "Upload", "Write",
}

// signActions produce a signature or MAC with a key the role can use.
var signActions = []string{"kms:Sign", "kms:GenerateMac", "signer:StartSigningJob", "signer:SignPayload"}

// readActions are named like writes but only read (AWS's ReadOnlyAccess grants them).
var readActions = map[string]bool{
	"logs:startquery": true, "logs:stopquery": true, "logs:startlivetail": true, "logs:stoplivetail": true,
	"xray:starttraceretrieval": true, "servicequotas:startquotautilizationreport": true,
	"devops-guru:startcostestimation": true, "s3express:createsession": true,
}

// CanWriteOrSign reports whether some Allow statement of perms grants an action that writes
// (writeVerbs) or signs (signActions): "*", a service-wide wildcard such as "s3:*", a pattern
// whose literal part starts with a write verb ("s3:Put*"), one matching a sign action
// ("kms:Sign", "kms:S*"), or any NotAction. It returns the first such action as written, for
// messages. Resources, conditions and Deny statements are not considered: this says "worth
// worrying about", it does not prove access.
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
	if pattern == "*" || slices.ContainsFunc(signActions, func(a string) bool { return globFold(pattern, a) }) {
		return true
	}
	_, name, ok := strings.Cut(pattern, ":")
	if !ok || readActions[strings.ToLower(pattern)] {
		return false
	}
	literal := name
	if w := wildcardAt(name); w >= 0 {
		literal = name[:w]
	}
	if literal == "" {
		return true // "s3:*", "kms:*Key": every action of the service
	}
	return slices.ContainsFunc(writeVerbs, func(verb string) bool { return hasPrefixFold(literal, verb) })
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}
