package sts_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/oidcfed/oidcfed/internal/iam"
	"github.com/oidcfed/oidcfed/internal/store/sqlite"
	"github.com/oidcfed/oidcfed/internal/sts"
)

// authorizeWorld is a role with 10 attached customer managed policies of
// 10 statements each (mixed actions, resources and conditions), stored in
// a real SQLite store behind the IAM manager, and a session of it.
func authorizeWorld(tb testing.TB) (*sts.Service, *sts.Caller) {
	tb.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(tb.TempDir(), "bench.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = st.Close() })
	static, _ := iam.NewStatic("000000000000", "us-east-1", nil, nil)
	m := iam.NewManager(iam.ManagerOptions{Static: static, Store: st})
	trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::000000000000:root"},"Action":"sts:AssumeRole"}]}`
	if _, err := m.CreateRole(ctx, iam.RoleInput{Name: "bench", TrustPolicy: trust}); err != nil {
		tb.Fatal(err)
	}
	for p := range 10 {
		var stmts []string
		for s := range 10 {
			stmts = append(stmts, fmt.Sprintf(`{"Sid":"S%d","Effect":"Allow","Action":["ecr:Describe%d*","kms:Get%d"],"Resource":"arn:aws:ecr:us-east-1:000000000000:repository/team-%d-%d/*","Condition":{"StringEquals":{"aws:PrincipalTag/team":"t%d"},"IpAddress":{"aws:SourceIp":"10.%d.0.0/16"}}}`, s, s, s, p, s, p, s))
		}
		doc := `{"Version":"2012-10-17","Statement":[` + strings.Join(stmts, ",") + `]}`
		pol, err := m.CreatePolicy(ctx, fmt.Sprintf("p%d", p), "/", doc, "", nil)
		if err != nil {
			tb.Fatal(err)
		}
		if err := m.AttachRolePolicy(ctx, "bench", pol.ARN); err != nil {
			tb.Fatal(err)
		}
	}
	r, err := m.RoleByName(ctx, "bench")
	if err != nil {
		tb.Fatal(err)
	}
	svc := sts.NewService(m, nil, nil, func() time.Time { return time.Unix(1_800_000_000, 0) }, nil)
	caller := &sts.Caller{Session: &sts.Session{RoleARN: r.ARN, RoleID: r.ID, SessionName: "s",
		Tags: []sts.Tag{{Key: "team", Value: "t9"}}}}
	return svc, caller
}

// BenchmarkAuthorize10x10: one authorization decision for a role session
// with 10 attached policies of 10 statements each, none of which allows
// the request, so every statement is evaluated (the bound:
// ≤ 20 µs).
func BenchmarkAuthorize10x10(b *testing.B) {
	svc, caller := authorizeWorld(b)
	ctx := context.Background()
	ip := map[string][]string{"aws:SourceIp": {"10.9.1.2"}}
	// Warm the caches the way a running server has them.
	if e := svc.Authorize(ctx, caller, "ecr:DescribeImages", "arn:aws:ecr:us-east-1:000000000000:repository/x", ip); e == nil {
		b.Fatal("allowed")
	}
	b.ReportAllocs()
	for b.Loop() {
		if e := svc.Authorize(ctx, caller, "ecr:DescribeImages", "arn:aws:ecr:us-east-1:000000000000:repository/x", ip); e == nil {
			b.Fatal("allowed")
		}
	}
}

// TestAuthorize10x10Decides checks the benchmark's world decides as meant:
// the last statement of the last policy allows its own request.
func TestAuthorize10x10Decides(t *testing.T) {
	svc, caller := authorizeWorld(t)
	ip := map[string][]string{"aws:SourceIp": {"10.9.1.2"}}
	if e := svc.Authorize(t.Context(), caller, "ecr:Describe9Images", "arn:aws:ecr:us-east-1:000000000000:repository/team-9-9/app", ip); e != nil {
		t.Fatalf("denied: %v", e)
	}
	if e := svc.Authorize(t.Context(), caller, "ecr:Describe9Images", "arn:aws:ecr:us-east-1:000000000000:repository/team-9-9/app", map[string][]string{"aws:SourceIp": {"192.0.2.1"}}); e == nil {
		t.Fatal("allowed from outside the source range")
	}
}
