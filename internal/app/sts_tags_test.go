package app_test

import (
	"encoding/xml"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestSessionTagsFromToken: tags in the token's https://aws.amazon.com/tags
// claim need sts:TagSession in the trust policy and are visible to it as
// aws:RequestTag/<key>; a malformed claim is the token's fault.
func TestSessionTagsFromToken(t *testing.T) {
	w := newSTSWorld(t)
	now := time.Now()
	tagged := func(tags any) string {
		c := w.idp.claims("repo:ok", now, time.Hour)
		c["https://aws.amazon.com/tags"] = tags
		return w.idp.sign(t, "RS256", w.idp.kid, c)
	}
	good := map[string]any{"principal_tags": map[string]any{"Project": []any{"Automation"}}, "transitive_tag_keys": []any{"Project"}}
	cases := []struct {
		name, role, token string
		status            int
		code, message     string
	}{
		{"tags allowed by sts:TagSession and a RequestTag condition", "fake-tagging-role", tagged(good), 200, "", ""},
		{"tags without sts:TagSession in the trust policy", "fake-role", tagged(good), 403, "AccessDenied", "Not authorized to perform sts:AssumeRoleWithWebIdentity"},
		{"a tag value the trust policy does not accept", "fake-tagging-role",
			tagged(map[string]any{"principal_tags": map[string]any{"Project": []any{"Other"}}}), 403, "AccessDenied", "Not authorized to perform sts:AssumeRoleWithWebIdentity"},
		{"tags claim is not an object", "fake-tagging-role", tagged("Project=Automation"), 400, "InvalidIdentityToken", "The https://aws.amazon.com/tags claim must be an object"},
		{"two values for one tag", "fake-tagging-role",
			tagged(map[string]any{"principal_tags": map[string]any{"Project": []any{"a", "b"}}}), 400, "InvalidIdentityToken", `Session tag "Project" must have exactly one value`},
		{"transitive key that is not a tag", "fake-tagging-role",
			tagged(map[string]any{"principal_tags": map[string]any{"Project": []any{"Automation"}}, "transitive_tag_keys": []any{"Team"}}), 400, "InvalidIdentityToken", "transitive_tag_keys must name principal tags"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp := do(t, http.MethodPost, w.URL+"/", http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}, []byte(url.Values{
				"Action": {"AssumeRoleWithWebIdentity"}, "Version": {"2011-06-15"}, "RoleArn": {"arn:aws:iam::000000000000:role/" + tc.role},
				"RoleSessionName": {"tags"}, "WebIdentityToken": {tc.token}}.Encode()))
			if resp.Status != tc.status {
				t.Fatalf("status %d %s, want %d", resp.Status, resp.Body, tc.status)
			}
			if tc.code == "" {
				return
			}
			var env stsErrorXML
			if err := xml.Unmarshal(resp.Body, &env); err != nil || env.Error.Code != tc.code || !strings.HasPrefix(env.Error.Message, tc.message) {
				t.Fatalf("body %s, want %s %q", resp.Body, tc.code, tc.message)
			}
		})
	}
}
