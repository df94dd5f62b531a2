package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/oidcfed/oidcfed/internal/awsproto"
	"github.com/oidcfed/oidcfed/internal/iam"
	"github.com/oidcfed/oidcfed/internal/store/sqlite"
	"github.com/oidcfed/oidcfed/internal/sts"
)

// FuzzIAMForm decodes arbitrary form bodies as IAM requests from the
// account root and runs them against a real store: every outcome is a
// success or an IAM error with a 4xx status — never a panic, never a 500
// (which would mean a decoder or validator let through what the domain
// cannot handle).
func FuzzIAMForm(f *testing.F) {
	for _, s := range []string{
		"Action=CreateRole&Version=2010-05-08&RoleName=r&AssumeRolePolicyDocument=%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22Principal%22%3A%7B%22AWS%22%3A%22*%22%7D%2C%22Action%22%3A%22sts%3AAssumeRole%22%7D%5D%7D",
		"Action=CreateOpenIDConnectProvider&Version=2010-05-08&Url=https%3A%2F%2Fa.example&ClientIDList.member.1=x&ThumbprintList.member.1=0000000000000000000000000000000000000000",
		"Action=CreatePolicy&Version=2010-05-08&PolicyName=p&PolicyDocument=%7B%7D&Tags.member.1.Key=k&Tags.member.1.Value=v",
		"Action=ListRoles&Version=2010-05-08&MaxItems=1&Marker=MQ",
		"Action=AttachRolePolicy&Version=2010-05-08&RoleName=r&PolicyArn=arn%3Aaws%3Aiam%3A%3Aaws%3Apolicy%2FReadOnlyAccess",
		"Action=UpdateRole&Version=2010-05-08&RoleName=r&MaxSessionDuration=x",
		"Action=ListPolicies&Version=2010-05-08&Scope=AWS&OnlyAttached=maybe",
		"Action=CreatePolicyVersion&Version=2010-05-08&PolicyArn=arn%3Aaws%3Aiam%3A%3A000000000000%3Apolicy%2Fp&PolicyDocument=%7B%7D&SetAsDefault=true",
		"Action=GetAccountAuthorizationDetails&Version=2010-05-08&Filter.member.1=Role",
		"Action=CreateUser&Version=2010-05-08&UserName=u&Path=%2Fa%2F",
		"Action=UntagRole&Version=2010-05-08&RoleName=r&TagKeys.member.2=k",
		"Action=SimulateCustomPolicy&Version=2010-05-08&PolicyInputList.member.1=%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%7B%22Effect%22%3A%22Allow%22%2C%22Action%22%3A%22s3%3A*%22%2C%22Resource%22%3A%22*%22%2C%22Condition%22%3A%7B%22IpAddress%22%3A%7B%22aws%3ASourceIp%22%3A%2210.0.0.0%2F8%22%7D%7D%7D%7D&ActionNames.member.1=s3%3AGetObject&ResourceArns.member.1=arn%3Aaws%3As3%3A%3A%3Ab%2Fk&ContextEntries.member.1.ContextKeyName=aws%3ASourceIp&ContextEntries.member.1.ContextKeyType=ip&ContextEntries.member.1.ContextKeyValues.member.1=10.1.2.3&MaxItems=1",
		"Action=SimulatePrincipalPolicy&Version=2010-05-08&PolicySourceArn=arn%3Aaws%3Aiam%3A%3A000000000000%3Arole%2Fr&ActionNames.member.1=sts%3AAssumeRole&ResourcePolicy=%7B%7D&CallerArn=arn%3Aaws%3Aiam%3A%3A000000000000%3Auser%2Fu",
	} {
		f.Add(s)
	}
	dir := f.TempDir()
	static, _ := iam.NewStatic("000000000000", "us-east-1", nil, nil)
	var (
		st   *sqlite.Store
		h    *Handler
		runs int
	)
	// A fresh store every few hundred inputs: entities pile up otherwise
	// and every list action slows the fuzzer to a crawl.
	fresh := func() {
		if st != nil {
			_ = st.Close()
		}
		var err error
		st, err = sqlite.Open(context.Background(), filepath.Join(dir, fmt.Sprintf("fuzz-%d.db", runs)))
		if err != nil {
			f.Fatal(err)
		}
		h = &Handler{m: iam.NewManager(iam.ManagerOptions{
			Static: static, Store: st, Now: func() time.Time { return time.Unix(1_800_000_000, 0) },
			Seal: func(p []byte, _ string) ([]byte, error) { return append([]byte("sealed:"), p...), nil },
		})}
	}
	fresh()
	f.Cleanup(func() { _ = st.Close() })
	root := &sts.Caller{Root: true}
	f.Fuzz(func(t *testing.T, body string) {
		if runs++; runs%256 == 0 {
			_ = os.Remove(filepath.Join(dir, fmt.Sprintf("fuzz-%d.db", runs-256)))
			fresh()
		}
		r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		raw, err := awsproto.ReadBody(r, MaxBody)
		if err != nil {
			return
		}
		v, err := awsproto.ParseRequest(r, raw)
		if err != nil {
			return
		}
		var x awsproto.XMLWriter
		_, e := h.dispatch(t.Context(), root, v, &x, "192.0.2.1")
		if e == nil {
			return
		}
		if e.HTTPStatus < 400 || e.HTTPStatus >= 500 || e.Code == "" || e.Message == "" {
			t.Fatalf("%q: %d %s %q (cause %v)", body, e.HTTPStatus, e.Code, e.Message, errors.Unwrap(e))
		}
	})
}

// FuzzContextEntries decodes arbitrary ContextEntries parameters: every
// outcome is a context or a 400 error, never a panic; a context holds one
// key per entry, each with at most as many values as were sent.
func FuzzContextEntries(f *testing.F) {
	for _, s := range []string{
		"ContextEntries.member.1.ContextKeyName=aws%3ACurrentTime&ContextEntries.member.1.ContextKeyType=date&ContextEntries.member.1.ContextKeyValues.member.1=2019-04-25T11%3A00%3A00Z",
		"ContextEntries.member.1.ContextKeyName=aws%3ATagKeys&ContextEntries.member.1.ContextKeyType=stringList&ContextEntries.member.1.ContextKeyValues.member.1=a&ContextEntries.member.1.ContextKeyValues.member.2=b",
		"ContextEntries.member.1.ContextKeyName=aws%3ASourceIp&ContextEntries.member.1.ContextKeyType=ipList&ContextEntries.member.1.ContextKeyValues.member.1=10.0.0.1&ContextEntries.member.2.ContextKeyName=aws%3AMultiFactorAuthAge&ContextEntries.member.2.ContextKeyType=numeric&ContextEntries.member.2.ContextKeyValues.member.1=3600",
		"ContextEntries.member.1.ContextKeyName=k%3Abin&ContextEntries.member.1.ContextKeyType=binaryList&ContextEntries.member.1.ContextKeyValues=",
		"ContextEntries.member.2.ContextKeyName=a%3Abcde&ContextEntries.member.1.ContextKeyType=boolean&ContextEntries.member.01.ContextKeyValues.member.1=true",
		"ContextEntries=",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		v, err := awsproto.ParseQueryString(body)
		if err != nil {
			return
		}
		ctx, e := contextEntries(v)
		if e != nil {
			if e.HTTPStatus != http.StatusBadRequest || e.Code == "" || e.Message == "" {
				t.Fatalf("%q: %d %s %q", body, e.HTTPStatus, e.Code, e.Message)
			}
			return
		}
		sent := 0
		for _, name := range v.Names() {
			if strings.HasPrefix(name, "ContextEntries.member.") {
				sent++
			}
		}
		values := 0
		for _, vals := range ctx {
			values += len(vals)
		}
		if len(ctx) > sent || values > sent {
			t.Fatalf("%q: %d keys and %d values from %d parameters", body, len(ctx), values, sent)
		}
	})
}
