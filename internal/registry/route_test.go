package registry

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/oidcfed/oidcfed/internal/ecr"
)

func TestParseRoute(t *testing.T) {
	d := "sha256:" + strings.Repeat("ab", 32)
	for _, tc := range []struct {
		path string
		want route
	}{
		{"/v2/", route{kind: kindBase}},
		{"/v2", route{kind: kindBase}},
		{"/v2/_catalog", route{kind: kindCatalog}},
		{"/v2/app/manifests/v1", route{kindManifest, "app", "v1"}},
		{"/v2/team/app/manifests/" + d, route{kindManifest, "team/app", d}},
		{"/v2/team/app/blobs/" + d, route{kindBlob, "team/app", d}},
		{"/v2/team/app/blobs/uploads/", route{kind: kindUploads, name: "team/app"}},
		{"/v2/team/app/blobs/uploads", route{kind: kindUploads, name: "team/app"}},
		{"/v2/team/app/blobs/uploads/abc", route{kindUpload, "team/app", "abc"}},
		{"/v2/team/app/tags/list", route{kind: kindTags, name: "team/app"}},
		{"/v2/team/app/referrers/" + d, route{kindReferrers, "team/app", d}},
		// Endpoint words inside a name: matched from the end.
		{"/v2/a/blobs/manifests/v1", route{kindManifest, "a/blobs", "v1"}},
		{"/v2/a/manifests/b/tags/list", route{kind: kindTags, name: "a/manifests/b"}},
		// Not endpoints.
		{"/v2/app", route{}},
		{"/v2/app/tags", route{}},
		{"/v2/app/unknown/x", route{}},
		{"/v3/app/manifests/v1", route{}},
		{"/v2/" + strings.Repeat("a/", 600) + "manifests/v1", route{}},
	} {
		if got := parseRoute(tc.path); got != tc.want {
			t.Errorf("parseRoute(%q) = %+v, want %+v", tc.path, got, tc.want)
		}
	}
}

// TestActions pins the ECR action each request is authorized as.
func TestActions(t *testing.T) {
	for _, tc := range []struct {
		method    string
		kind      kind
		hasDigest bool
		want      []string
	}{
		{http.MethodGet, kindManifest, false, []string{"ecr:BatchGetImage"}},
		{http.MethodHead, kindManifest, false, []string{"ecr:BatchGetImage"}},
		{http.MethodPut, kindManifest, false, []string{"ecr:PutImage"}},
		{http.MethodDelete, kindManifest, false, []string{"ecr:BatchDeleteImage"}},
		{http.MethodGet, kindBlob, false, []string{"ecr:GetDownloadUrlForLayer"}},
		{http.MethodHead, kindBlob, false, []string{"ecr:BatchCheckLayerAvailability"}},
		{http.MethodDelete, kindBlob, false, nil},
		{http.MethodPost, kindUploads, false, []string{"ecr:InitiateLayerUpload"}},
		{http.MethodPost, kindUploads, true, []string{"ecr:InitiateLayerUpload", "ecr:UploadLayerPart", "ecr:CompleteLayerUpload"}},
		{http.MethodPatch, kindUpload, false, []string{"ecr:UploadLayerPart"}},
		{http.MethodPut, kindUpload, true, []string{"ecr:CompleteLayerUpload"}},
		{http.MethodGet, kindTags, false, []string{"ecr:ListImages"}},
		{http.MethodGet, kindReferrers, false, []string{"ecr:BatchGetImage"}},
		{http.MethodPost, kindManifest, false, nil},
	} {
		if got := actions(tc.method, route{kind: tc.kind}, tc.hasDigest); !slices.Equal(got, tc.want) {
			t.Errorf("%s %v: %q, want %q", tc.method, tc.kind, got, tc.want)
		}
	}
}

func TestContentRangeAndPages(t *testing.T) {
	for _, tc := range []struct {
		in    string
		start int64
		ok    bool
	}{
		{"", -1, true}, {"0-9", 0, true}, {"10-19", 10, true}, {"bytes 5-9", 5, true},
		{"9-0", 0, false}, {"-1-3", 0, false}, {"a-b", 0, false}, {"5", 0, false}, {"5-", 0, false},
	} {
		start, ok := parseContentRange(tc.in)
		if ok != tc.ok || (ok && start != tc.start) {
			t.Errorf("parseContentRange(%q) = %d %v", tc.in, start, ok)
		}
	}
	names := []string{"a", "b", "c", "d"}
	for _, tc := range []struct {
		n    int
		last string
		want []string
		more bool
	}{
		{10, "", names, false}, {2, "", []string{"a", "b"}, true}, {2, "b", []string{"c", "d"}, false},
		{2, "bb", []string{"c", "d"}, false}, {0, "", []string{}, true}, {5, "z", []string{}, false},
	} {
		got, more := pageOf(names, tc.n, tc.last)
		if !slices.Equal(got, tc.want) || more != tc.more {
			t.Errorf("pageOf(%d, %q) = %q %v", tc.n, tc.last, got, more)
		}
	}
}

// FuzzParseRoute: whatever the path, a route's name and reference are
// what the path holds, and a name that reaches the store is one ECR
// accepts.
func FuzzParseRoute(f *testing.F) {
	for _, p := range []string{"/v2/", "/v2/a/b/manifests/v1", "/v2/a/blobs/uploads/", "/v2/a/blobs/uploads/x", "/v2/a/referrers/sha256:00", "/v2/../x/tags/list", "/v2//manifests/x"} {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, path string) {
		rt := parseRoute(path)
		if rt.kind == kindUnknown || rt.kind == kindBase || rt.kind == kindCatalog {
			return
		}
		if !strings.HasPrefix(path, "/v2/"+rt.name+"/") {
			t.Fatalf("name %q is not the path's %q", rt.name, path)
		}
		if ecr.ValidRepositoryName(rt.name) && (strings.Contains(rt.name, "..") || strings.HasPrefix(rt.name, "/")) {
			t.Fatalf("a traversing name passed: %q", rt.name)
		}
		if rt.ref != "" && !strings.HasSuffix(path, "/"+rt.ref) {
			t.Fatalf("reference %q is not the path's last segment %q", rt.ref, path)
		}
	})
}
