package sts

import (
	"context"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/oidcfed/oidcfed/internal/iam"
	"github.com/oidcfed/oidcfed/internal/iam/policy"
)

// referenceRequestContext is RequestContext as it was before principals
// were kept per session: the new one must build exactly this.
func referenceRequestContext(s *Service, c *Caller, reqCtx map[string][]string) policy.Context {
	pc := make(policy.Context, len(reqCtx)+12)
	for k, v := range reqCtx {
		pc.Set(k, v...)
	}
	pc.Set("aws:principalaccount", s.dir.Account())
	switch {
	case c.Root:
		pc.Set("aws:principalarn", "arn:aws:iam::"+s.dir.Account()+":root")
		pc.Set("aws:principaltype", "Account")
	case c.User != nil:
		u := c.User
		pc.Set("aws:principalarn", u.ARN)
		pc.Set("aws:principaltype", "User")
		pc.Set("aws:username", u.Name)
		pc.Set("aws:userid", u.ID)
		for _, t := range u.Tags {
			pc.Set("aws:PrincipalTag/"+t.Key, t.Value)
		}
	default:
		sess := c.Session
		pc.Set("aws:principalarn", sess.RoleARN)
		pc.Set("aws:principaltype", "AssumedRole")
		pc.Set("aws:userid", sess.RoleID+":"+sess.SessionName)
		for _, t := range sess.Tags {
			pc.Set("aws:PrincipalTag/"+t.Key, t.Value)
		}
		if sess.SourceIdentity != "" {
			pc.Set("aws:sourceidentity", sess.SourceIdentity)
		}
		if sess.ProviderARN != "" {
			pc.Set("aws:federatedprovider", sess.ProviderARN)
			if _, prov, ok := strings.Cut(sess.ProviderARN, ":oidc-provider/"); ok {
				pc.Set(prov+":sub", sess.Subject)
				pc.Set(prov+":aud", sess.Audience)
			}
		}
	}
	now := s.now()
	pc.Set("aws:currenttime", now.UTC().Format("2006-01-02T15:04:05Z"))
	pc.Set("aws:epochtime", strconv.FormatInt(now.Unix(), 10))
	pc.Set("aws:requestedregion", s.dir.Region())
	return pc
}

func TestRequestContextAsBefore(t *testing.T) {
	static, err := iam.NewStatic("123456789012", "eu-west-1", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 21, 12, 0, 0, 0, time.FixedZone("CET", 3600))
	clock := func() time.Time { return now }
	ring := testRing(t, testKey(1, "m"))
	svc := NewService(static, nil, ring, clock, nil)
	web := fullSession()
	web.ProviderARN = "arn:aws:iam::123456789012:oidc-provider/GitLab.Example.com/Path"
	web.Tags = append(web.Tags, Tag{"MiXeD", "v"})
	user := &iam.User{Name: "alice", ID: "AIDAEXAMPLE", ARN: "arn:aws:iam::123456789012:user/ci/alice",
		Tags: []iam.Tag{{Key: "Team", Value: "Blue"}}}
	callers := map[string]*Caller{
		"root":         {Root: true},
		"user":         {User: user},
		"web session":  {Session: &web},
		"bare session": {Session: &Session{RoleARN: "arn:aws:iam::123456789012:role/a/b/r", RoleID: "AROAX", SessionName: "s"}},
	}
	reqCtx := map[string][]string{"kms:signingalgorithm": {"ECDSA_SHA_256"}, "KMS:MessageType": {"DIGEST"},
		"aws:principaltype": {"overridden by the principal's"}}
	for name, c := range callers {
		t.Run(name, func(t *testing.T) {
			for range 2 { // the second time from the caches
				want := referenceRequestContext(svc, c, reqCtx)
				if got := svc.RequestContext(c, reqCtx); !reflect.DeepEqual(got, want) {
					t.Fatalf("RequestContext\n got %v\nwant %v", got, want)
				}
				own := policy.Context{}
				for k, v := range reqCtx {
					own.Set(k, v...)
				}
				if got := svc.AddRequestContext(c, own); !reflect.DeepEqual(got, want) {
					t.Fatalf("AddRequestContext\n got %v\nwant %v", got, want)
				}
				if got := svc.RequestContextSize(c); got != len(want)-2 {
					t.Errorf("RequestContextSize %d for %d keys", got, len(want)-2)
				}
				wantARN := map[string]string{"root": "arn:aws:iam::123456789012:root", "user": user.ARN,
					"web session":  "arn:aws:sts::123456789012:assumed-role/gitlab-deploy/gitlab-ci-42-1001",
					"bare session": "arn:aws:sts::123456789012:assumed-role/r/s"}[name]
				if got := svc.CallerARN(c); got != wantARN {
					t.Errorf("CallerARN %q, want %q", got, wantARN)
				}
			}
		})
	}
	// The time keys follow the clock from one second to the next.
	c := callers["web session"]
	for _, d := range []time.Duration{time.Millisecond, 999 * time.Millisecond, time.Second, time.Hour} {
		now = time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC).Add(d)
		if got, want := svc.RequestContext(c, nil), referenceRequestContext(svc, c, nil); !reflect.DeepEqual(got, want) {
			t.Fatalf("at %v\n got %v\nwant %v", now, got, want)
		}
	}

	// A session authenticated through its token has its principal kept with
	// the cached token: the same for every request, and as built afresh.
	creds, err := ring.Seal(web)
	if err != nil {
		t.Fatal(err)
	}
	now = web.IssuedAt.Add(time.Minute)
	lookup := func() *Caller {
		_, principal, err := svc.lookupCredentials(context.Background(), creds.AccessKeyID, creds.SessionToken)
		if err != nil {
			t.Fatal(err)
		}
		return principal.(*Caller)
	}
	first, second := lookup(), lookup()
	if first.principal == nil || first.principal != second.principal {
		t.Fatal("a cached session's principal is not reused")
	}
	if !reflect.DeepEqual(first.principal, svc.newPrincipal(&Caller{Session: second.Session})) {
		t.Fatal("a cached principal differs from one built afresh")
	}
}
