package app_test

import (
	"context"
	"encoding/xml"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	ststypes "github.com/aws/aws-sdk-go-v2/service/sts/types"
	"github.com/aws/smithy-go"

	"github.com/oidcfed/oidcfed/internal/app"
	"github.com/oidcfed/oidcfed/internal/iam"
)

// TestChainedAuthorization pins AWS's same-account rules for a role
// session assuming another role: which principal the granting trust
// statement names decides whether the caller's identity policy is needed;
// the caller's session policy always caps it (PolicyArns fail closed until
// managed policies exist); web-identity keys stay visible to chained trust
// policies, so negated conditions cannot pass on a missing key.
func TestChainedAuthorization(t *testing.T) {
	hermeticEnv(t)
	listen := freeAddr(t)
	issuerURL := "http://" + listen
	const acct = "000000000000"
	role := func(n string) string { return "arn:aws:iam::" + acct + ":role/" + n }
	prov := iam.ProviderConditionPrefix(issuerURL)
	callerTrust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"` + iam.ProviderARN(acct, issuerURL) +
		`"},"Action":"sts:AssumeRoleWithWebIdentity"}]}`
	s := startDev(t, t.TempDir(), listen, func(o *app.Options) {
		o.Roles = []iam.Role{
			{Name: "caller", TrustPolicy: callerTrust, MaxSessionDuration: time.Hour, InlinePolicies: []iam.NamedPolicy{{Name: "chain",
				Document: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Resource":["` + role("chain-account") + `","` + role("chain-notlike") + `"]}]}`}}},
			{Name: "chain-role-named", TrustPolicy: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"` + role("caller") + `"},"Action":"sts:AssumeRole"}]}`},
			{Name: "chain-account", TrustPolicy: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"` + acct + `"},"Action":"sts:AssumeRole"}]}`},
			{Name: "chain-mixed", TrustPolicy: `{"Version":"2012-10-17","Statement":[` +
				`{"Effect":"Allow","Principal":{"AWS":"` + role("caller") + `"},"Action":"sts:TagSession"},` +
				`{"Effect":"Allow","Principal":{"AWS":"` + acct + `"},"Action":"sts:AssumeRole"}]}`},
			{Name: "chain-notlike", TrustPolicy: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"` + acct +
				`"},"Action":"sts:AssumeRole","Condition":{"StringNotLike":{"` + prov + `:sub":"project_path:evil/*"}}}]}`},
		}
	})
	assumeWeb := func(t *testing.T, project string, extra url.Values) aws.CredentialsProvider {
		tok, _ := mintJSON(t, s.URL, s.Token, map[string]any{"aud": issuerURL, "project_path": project, "ref": "main"})
		form := url.Values{"Action": {"AssumeRoleWithWebIdentity"}, "Version": {"2011-06-15"}, "RoleArn": {role("caller")},
			"RoleSessionName": {"web"}, "WebIdentityToken": {tok}}
		for k, v := range extra {
			form[k] = v
		}
		resp := do(t, http.MethodPost, s.URL+"/", http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}, []byte(form.Encode()))
		var out struct {
			Result struct {
				Credentials struct{ AccessKeyId, SecretAccessKey, SessionToken string }
			} `xml:"AssumeRoleWithWebIdentityResult"`
		}
		if resp.Status != http.StatusOK || xml.Unmarshal(resp.Body, &out) != nil {
			t.Fatalf("assume caller: %d %s", resp.Status, resp.Body)
		}
		c := out.Result.Credentials
		return credentials.NewStaticCredentialsProvider(c.AccessKeyId, c.SecretAccessKey, c.SessionToken)
	}
	denyAll := url.Values{"Policy": {`{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*"}]}`}}
	arnOnly := url.Values{"PolicyArns.member.1.arn": {"arn:aws:iam::aws:policy/ReadOnlyAccess"}}
	cases := []struct {
		name    string
		project string
		session url.Values
		target  string
		allowed bool
	}{
		{"trust names the caller's role", "good/p", nil, "chain-role-named", true},
		{"... but a deny-all session policy still caps it", "good/p", denyAll, "chain-role-named", false},
		{"... and a session with only PolicyArns grants nothing yet", "good/p", arnOnly, "chain-role-named", false},
		{"account trust plus the caller's identity policy", "good/p", nil, "chain-account", true},
		{"... capped by a deny-all session policy", "good/p", denyAll, "chain-account", false},
		{"... and by a PolicyArns-only session", "good/p", arnOnly, "chain-account", false},
		{"the role is named only in a TagSession statement", "good/p", nil, "chain-mixed", false},
		{"negated sub condition, good project", "good/p", nil, "chain-notlike", true},
		{"negated sub condition, the excluded project", "evil/p", nil, "chain-notlike", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			creds := assumeWeb(t, tc.project, tc.session)
			client := sts.New(sts.Options{Region: "us-east-1", BaseEndpoint: aws.String(s.URL), Credentials: creds})
			_, err := client.AssumeRole(context.Background(), &sts.AssumeRoleInput{RoleArn: aws.String(role(tc.target)), RoleSessionName: aws.String("chained")})
			if tc.allowed {
				if err != nil {
					t.Fatalf("AssumeRole: %v", err)
				}
				return
			}
			var apiErr smithy.APIError
			if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "AccessDenied" ||
				apiErr.ErrorMessage() != "User: arn:aws:sts::"+acct+":assumed-role/caller/web is not authorized to perform: sts:AssumeRole on resource: "+role(tc.target) {
				t.Fatalf("err = %v, want AWS's AccessDenied", err)
			}
		})
	}
	t.Run("unsupported AssumeRole parameters are refused, not ignored", func(t *testing.T) {
		client := sts.New(sts.Options{Region: "us-east-1", BaseEndpoint: aws.String(s.URL), Credentials: assumeWeb(t, "good/p", nil)})
		_, err := client.AssumeRole(context.Background(), &sts.AssumeRoleInput{RoleArn: aws.String(role("chain-role-named")),
			RoleSessionName: aws.String("tagged"), Tags: []ststypes.Tag{{Key: aws.String("k"), Value: aws.String("v")}}})
		var apiErr smithy.APIError
		if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "InvalidParameterValue" || !strings.Contains(apiErr.ErrorMessage(), "Tags") {
			t.Fatalf("err = %v", err)
		}
	})
}

// TestSTSParameterEdges: an empty Policy, a session too large for a token,
// and a bad source_identity claim get 4xx answers, never a retryable 500.
func TestSTSParameterEdges(t *testing.T) {
	w := newSTSWorld(t)
	tok := w.mint(t, basicRequest(w.Issuer))
	post := func(form url.Values) httpResult {
		return do(t, http.MethodPost, w.URL+"/", http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}, []byte(form.Encode()))
	}
	base := func() url.Values {
		return url.Values{"Action": {"AssumeRoleWithWebIdentity"}, "Version": {"2011-06-15"}, "RoleArn": {w.ciRole}, "RoleSessionName": {"edge"}, "WebIdentityToken": {tok}}
	}
	longARNs := base()
	for i := 1; i <= 10; i++ {
		longARNs.Set("PolicyArns.member."+strconv.Itoa(i)+".arn", "arn:aws:iam::000000000000:policy/"+strings.Repeat("p", 1990))
	}
	emptyPolicy := base()
	emptyPolicy.Set("Policy", "")
	badSI := base()
	c := w.idp.claims("repo:ok", time.Now(), time.Hour)
	c["https://aws.amazon.com/source_identity"] = "has spaces"
	badSI.Set("RoleArn", w.fakeRole)
	badSI.Set("WebIdentityToken", w.idp.sign(t, "RS256", w.idp.kid, c))
	cases := []struct {
		name   string
		form   url.Values
		status int
		code   string
	}{
		{"empty Policy", emptyPolicy, 400, "ValidationError"},
		{"session too large for a token", longARNs, 400, "PackedPolicyTooLarge"},
		{"invalid source_identity claim", badSI, 400, "InvalidIdentityToken"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp := post(tc.form)
			var env stsErrorXML
			if err := xml.Unmarshal(resp.Body, &env); err != nil || resp.Status != tc.status || env.Error.Code != tc.code {
				t.Fatalf("%d %s, want %d %s", resp.Status, resp.Body, tc.status, tc.code)
			}
		})
	}
}
