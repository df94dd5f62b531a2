package api

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/oidcfed/oidcfed/internal/audit"
	"github.com/oidcfed/oidcfed/internal/ecr"
	"github.com/oidcfed/oidcfed/internal/iam"
	"github.com/oidcfed/oidcfed/internal/store/sqlite"
	"github.com/oidcfed/oidcfed/internal/sts"
)

// newTestHandler is a handler over a fresh store, for the account root.
func newTestHandler(tb testing.TB) *Handler {
	tb.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(tb.TempDir(), "db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	now := func() time.Time { return time.Unix(1_800_000_000, 0) }
	dir, err := iam.NewStatic("000000000000", "us-east-1", nil, nil)
	if err != nil {
		tb.Fatal(err)
	}
	svc, err := ecr.New(ecr.Options{Store: st, Dir: tb.TempDir(), Account: "000000000000", Region: "us-east-1", RegistryHost: "registry.test", Now: now})
	if err != nil {
		tb.Fatal(err)
	}
	tokens, err := ecr.NewTokens(bytes.Repeat([]byte{1}, 32), "000000000000")
	if err != nil {
		tb.Fatal(err)
	}
	h := NewHandler(Options{Service: svc, Auth: sts.NewService(dir, nil, nil, now, nil), Tokens: tokens,
		Downloads: ecr.NewDownloadURLs(bytes.Repeat([]byte{2}, 32), "http://registry.test"), ProxyEndpoint: "http://registry.test"})
	if _, err := svc.CreateRepository(ctx, ecr.CreateRepositoryInput{Name: "app"}); err != nil {
		tb.Fatal(err)
	}
	return h
}

// FuzzECRRequest runs every operation on arbitrary request bodies, as the
// account root: each answers or refuses with one of ECR's 4xx errors
// (never a server error, never a panic), and every answer encodes.
//
//	go test -fuzz FuzzECRRequest ./internal/ecr/api/
func FuzzECRRequest(f *testing.F) {
	h := newTestHandler(f)
	ops := make([]string, 0, len(operations))
	for op := range operations {
		ops = append(ops, op)
	}
	slices.Sort(ops)
	for i, seed := range []string{
		`{}`, ``, `{"repositoryName":"app"}`, `{"repositoryName":"app","imageIds":[{"imageTag":"v1"},{}]}`,
		`{"repositoryName":"app","layerDigests":["sha256:00",""],"layerDigest":"x:y"}`, `{"repositoryName":7}`, `[`,
		`{"repositoryName":"new/repo","imageTagMutability":"IMMUTABLE_WITH_EXCLUSION","imageTagMutabilityExclusionFilters":[{"filterType":"WILDCARD","filter":"dev*"}]}`,
		`{"repositoryName":"app","policyText":"{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Deny\",\"Principal\":\"*\",\"Action\":\"ecr:*\"}]}"}`,
		`{"registryIds":["000000000000"],"maxResults":1001,"nextToken":"%%"}`, `{"repositoryNames":["app","../x"]}`,
		`{"repositoryName":"app","filter":{"tagStatus":"TAGGED"},"maxResults":1}`, `{"repositoryName":"app","force":true}`,
	} {
		f.Add(uint8(i), []byte(seed))
	}
	f.Fuzz(func(t *testing.T, op uint8, body []byte) {
		name := ops[int(op)%len(ops)]
		c := &call{ctx: context.Background(), caller: &sts.Caller{Root: true}, accessKeyID: "AKIAEXAMPLE", body: body, ev: &audit.Event{}}
		resp, err := operations[name](h, c)
		if err != nil {
			if e := toAWS(err); e.HTTPStatus != 400 {
				t.Fatalf("%s %q: %v", name, body, err)
			}
			return
		}
		if _, err := json.Marshal(resp); err != nil {
			t.Fatalf("%s: answer does not encode: %v", name, err)
		}
	})
}
