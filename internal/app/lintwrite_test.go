package app_test

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/oidcfed/oidcfed/internal/app"
)

// TestLintOnWrite: with lint_on_write deny, the aws CLI's CreateRole,
// UpdateAssumeRolePolicy, PutRolePolicy and AttachRolePolicy are refused
// with MalformedPolicyDocument naming the finding, and nothing is stored;
// a clean trust goes through. With warn the same writes succeed and their
// audit events carry the findings.
func TestLintOnWrite(t *testing.T) {
	for _, mode := range []string{"deny", "warn"} {
		t.Run(mode, func(t *testing.T) {
			hermeticEnv(t)
			dir := t.TempDir()
			s := startDev(t, dir, "127.0.0.1:0", func(o *app.Options) { o.NoDemo = true; o.LintOnWrite = mode })
			env := app.ReadEnvFile(filepath.Join(dir, app.DevEnvFileName))
			w := &stsWorld{testServer: s, home: t.TempDir()}
			writeFile(t, filepath.Join(w.home, "config"), []byte("[default]\ncli_follow_urlparam = false\n"), 0o600)
			root := []string{"AWS_ACCESS_KEY_ID=" + env["AWS_ACCESS_KEY_ID"], "AWS_SECRET_ACCESS_KEY=" + env["AWS_SECRET_ACCESS_KEY"], "ISSUER=" + w.Issuer}
			host := strings.TrimPrefix(w.Issuer, "http://")
			trust := func(cond string) string {
				return `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"arn:aws:iam::000000000000:oidc-provider/` + host +
					`"},"Action":"sts:AssumeRoleWithWebIdentity","Condition":` + cond + `}]}`
			}
			aud := `"` + host + `:aud":"` + w.Issuer + `"`
			clean := trust(`{"StringEquals":{` + aud + `,"` + host + `:sub":"project_path:mygroup/app:ref_type:branch:ref:main"}}`)
			noSub := trust(`{"StringEquals":{` + aud + `}}`)
			anyRef := trust(`{"StringEquals":{` + aud + `},"StringLike":{"` + host + `:sub":"project_path:mygroup/app:*"}}`)
			const signPolicy = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:Sign","Resource":"*"}]}`
			if _, errOut, err := w.bash(t, `set -e
aws iam create-open-id-connect-provider --url "$ISSUER" --client-id-list "$ISSUER" >/dev/null
aws iam create-role --role-name clean --assume-role-policy-document "$CLEAN" >/dev/null
aws iam create-role --role-name any-ref --assume-role-policy-document "$ANYREF" >/dev/null`,
				append(slices.Clone(root), "CLEAN="+clean, "ANYREF="+anyRef)...); err != nil {
				t.Fatalf("setup: %v %s", err, errOut)
			}
			cases := []struct {
				name, script, finding, check string
			}{
				{"CreateRole without sub", `aws iam create-role --role-name open --assume-role-policy-document "$NOSUB"`, "OIDC001 no-sub-condition",
					`aws iam get-role --role-name open`},
				{"UpdateAssumeRolePolicy dropping sub", `aws iam update-assume-role-policy --role-name clean --policy-document "$NOSUB"`, "OIDC001 no-sub-condition",
					`test "$(aws iam get-role --role-name clean --query Role.AssumeRolePolicyDocument --output json | grep -c ':sub')" = 0`},
				{"PutRolePolicy letting any ref sign", `aws iam put-role-policy --role-name any-ref --policy-name sign --policy-document "$SIGN"`, "OIDC003 wildcard-ref-on-privileged-role",
					`aws iam get-role-policy --role-name any-ref --policy-name sign`},
				{"AttachRolePolicy letting any ref push images", `aws iam attach-role-policy --role-name any-ref --policy-arn arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPowerUser`, "OIDC003 wildcard-ref-on-privileged-role",
					`aws iam list-attached-role-policies --role-name any-ref --query 'AttachedPolicies[0].PolicyName' --output text | grep -q PowerUser`},
			}
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					envs := append(slices.Clone(root), "NOSUB="+noSub, "SIGN="+signPolicy)
					_, errOut, err := w.bash(t, tc.script, envs...)
					_, _, stored := w.bash(t, tc.check, envs...)
					if mode == "deny" {
						want := "(MalformedPolicyDocument) when calling the "
						if err == nil || !strings.Contains(errOut, want) || !strings.Contains(errOut, "fails lint check "+tc.finding) {
							t.Fatalf("deny: %v %s\nwant %s... %s", err, errOut, want, tc.finding)
						}
						if stored == nil {
							t.Errorf("a refused write was stored")
						}
						return
					}
					if err != nil {
						t.Fatalf("warn refused the write: %s", errOut)
					}
					if stored != nil {
						t.Errorf("the write is not stored")
					}
				})
			}
			// A clean trust is never refused.
			if _, errOut, err := w.bash(t, `aws iam create-role --role-name clean2 --assume-role-policy-document "$CLEAN"`, append(slices.Clone(root), "CLEAN="+clean)...); err != nil {
				t.Fatalf("clean trust refused: %s", errOut)
			}
			if mode != "warn" {
				return
			}
			out, errOut, err := w.bash(t, `aws cloudtrail lookup-events --lookup-attributes AttributeKey=EventName,AttributeValue=CreateRole --query 'Events[].CloudTrailEvent' --output json`, root...)
			if err != nil {
				t.Fatalf("lookup-events: %v %s", err, errOut)
			}
			var raw []string
			if err := json.Unmarshal([]byte(out), &raw); err != nil {
				t.Fatal(err)
			}
			found := false
			for _, r := range raw {
				if strings.Contains(r, `"roleName":"open"`) && strings.Contains(r, `"id":"OIDC001"`) {
					found = true
				}
			}
			if !found {
				t.Errorf("no CreateRole event for role open records OIDC001: %s", out)
			}
		})
	}
}
