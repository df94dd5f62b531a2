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
