package sts

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/oidcfed/oidcfed/internal/iam"
	"github.com/oidcfed/oidcfed/internal/iam/policy"
)

func messageService(t testing.TB, now *time.Time) *Service {
	t.Helper()
	dir, err := iam.NewStatic("123456789012", "us-east-1", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	s := NewService(dir, nil, nil, func() time.Time { return *now }, nil)
	if err := s.EncodeAuthorizationMessages(bytes.Repeat([]byte{7}, 32)); err != nil {
		t.Fatal(err)
	}
	return s
}

// TestAuthorizationMessageLifetime: a message opens until it expires, and
// not under another account's binding or once altered.
func TestAuthorizationMessageLifetime(t *testing.T) {
	now := time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)
	s := messageService(t, &now)
	caller := &Caller{Root: true}
	req := &policy.Request{Action: "iam:ListRoles", Resource: "*", Context: policy.Context{"aws:username": {"bob"}}}
	blob := s.encodeDenial(caller, req, policy.Decision{Effect: policy.ImplicitDeny, Policy: -1, Statement: -1}, nil, nil)
	if blob == "" || len(blob) > maxEncodedMessage {
		t.Fatalf("blob of %d characters", len(blob))
	}
	plain, err := s.openMessage(blob)
	if err != nil || !strings.Contains(plain, `"action":"iam:ListRoles"`) || !strings.Contains(plain, `"key":"aws:username"`) {
		t.Fatalf("open: %v %s", err, plain)
	}
	now = now.Add(authorizationMessageTTL + time.Second)
	if _, err := s.openMessage(blob); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("after the lifetime: %v", err)
	}
}

// TestAuthorizationMessageBounded: however large the request context, the
// blob stays within EncodedMessage's 10,240 characters.
func TestAuthorizationMessageBounded(t *testing.T) {
	now := time.Now()
	s := messageService(t, &now)
	ctx := policy.Context{}
	for i := range 500 {
		ctx.Set("aws:PrincipalTag/k"+strings.Repeat("x", i%50)+string(rune('a'+i%26)), strings.Repeat("v", 200))
	}
	blob := s.encodeDenial(&Caller{Root: true}, &policy.Request{Action: "kms:Sign", Resource: "*", Context: ctx},
		policy.Decision{Effect: policy.ImplicitDeny, Policy: -1, Statement: -1}, nil, nil)
	if blob == "" || len(blob) > maxEncodedMessage {
		t.Fatalf("blob of %d characters", len(blob))
	}
}

// FuzzAuthorizationMessage: any EncodedMessage is refused or opened,
// never a panic.
func FuzzAuthorizationMessage(f *testing.F) {
	now := time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)
	s := messageService(f, &now)
	f.Add(s.encodeDenial(&Caller{Root: true}, &policy.Request{Action: "a:b"}, policy.Decision{Policy: -1, Statement: -1}, nil, nil))
	f.Add("")
	f.Add("AAAA")
	f.Add("!!")
	f.Fuzz(func(t *testing.T, encoded string) {
		_, _ = s.openMessage(encoded)
	})
}
