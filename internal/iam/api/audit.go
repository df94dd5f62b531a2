package api

import (
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/oidcfed/oidcfed/internal/audit"
	"github.com/oidcfed/oidcfed/internal/awsproto"
)

// RecordTo makes the handler record every request in rec before it
// answers (nil: no audit log).
func (h *Handler) RecordTo(rec audit.Recorder) { h.audit = rec }

// record commits ev; false when it could not be, and the request must
// then fail with InternalFailure. A write the request made is committed by
// then: the client is told it failed, and the secret of a new access key
// is never sent.
func (h *Handler) record(r *http.Request, ev *audit.Event) bool {
	return audit.Commit(r.Context(), h.audit, ev, h.log)
}

// maxAuditValue bounds a request value copied into an event (see the sts
// package's twin): documents are at most 6,144 characters (managed) and
// names far less.
const maxAuditValue = 10 << 10

// maxAuditParameters bounds how many parameters an event lists.
const maxAuditParameters = 200

func auditValue(s string) string { return audit.Value(s, maxAuditValue) }

// requestParameters is the request's parameters as CloudTrail lists them:
// names in lower camel case ("roleName", "assumeRolePolicyDocument"),
// list members flattened as sent ("tags.member.1.key"). IAM requests carry
// no secrets.
func requestParameters(v awsproto.Values) map[string]any {
	out := map[string]any{}
	for _, name := range v.Names() {
		if name == "Action" || name == "Version" || len(out) == maxAuditParameters {
			continue
		}
		out[lowerCamel(auditValue(name))] = auditValue(v.Get(name))
	}
	return out
}

// lowerCamel lower-cases the first letter of each dotted part.
func lowerCamel(name string) string {
	b := []byte(name)
	start := true
	for i, c := range b {
		if start && c < utf8.RuneSelf {
			b[i] = byte(unicode.ToLower(rune(c)))
		}
		start = c == '.'
	}
	return string(b)
}

// resources names the entities a request is about, for lookups by
// resource name (as CloudTrail's event history indexes them): the role,
// user, managed policy or OIDC provider its parameters name.
func resources(account string, v awsproto.Values) []audit.Resource {
	var out []audit.Resource
	add := func(typ, arn string) {
		out = append(out, audit.Resource{AccountID: account, Type: typ, ARN: auditValue(arn)})
	}
	if n := v.Get("RoleName"); n != "" {
		add("AWS::IAM::Role", "arn:aws:iam::"+account+":role/"+n)
	}
	if n := v.Get("UserName"); n != "" {
		add("AWS::IAM::User", "arn:aws:iam::"+account+":user/"+n)
	}
	if arn := v.Get("PolicyArn"); arn != "" {
		add("AWS::IAM::Policy", arn)
	} else if n := v.Get("PolicyName"); n != "" && v.Action() == "CreatePolicy" {
		add("AWS::IAM::Policy", "arn:aws:iam::"+account+":policy"+v.Get("Path")+n)
	}
	if arn := v.Get("PolicySourceArn"); strings.Contains(arn, ":user/") {
		add("AWS::IAM::User", arn)
	} else if strings.Contains(arn, ":role/") {
		add("AWS::IAM::Role", arn)
	}
	if arn := v.Get("OpenIDConnectProviderArn"); arn != "" {
		add("AWS::IAM::OIDCProvider", arn)
	}
	return out
}
