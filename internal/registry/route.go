package registry

import (
	"net/http"
	"strings"
)

// kind is which OCI distribution endpoint a request is for.
type kind int

const (
	kindUnknown   kind = iota
	kindBase           // /v2/
	kindCatalog        // /v2/_catalog
	kindManifest       // /v2/<name>/manifests/<reference>
	kindBlob           // /v2/<name>/blobs/<digest>
	kindUploads        // /v2/<name>/blobs/uploads/
	kindUpload         // /v2/<name>/blobs/uploads/<id>
	kindTags           // /v2/<name>/tags/list
	kindReferrers      // /v2/<name>/referrers/<digest>
)

// route is a parsed registry path. name and ref are as the path has them
// (unvalidated: parseRoute only splits).
type route struct {
	kind kind
	name string
	ref  string // reference, digest or upload id
}

// maxPath bounds the paths parsed: a 256-character name, a 128-character
// tag or a digest, and the fixed parts.
const maxPath = 1024

// parseRoute splits a registry path (the server mux has already cleaned
// it: no "." or ".." segments, no doubled slashes). Endpoint words are
// matched from the end, as a repository name may itself hold them
// ("a/blobs" is a valid name).
func parseRoute(path string) route {
	rest, ok := strings.CutPrefix(path, "/v2/")
	if !ok {
		if path == "/v2" {
			return route{kind: kindBase}
		}
		return route{}
	}
	switch {
	case rest == "":
		return route{kind: kindBase}
	case rest == "_catalog":
		return route{kind: kindCatalog}
	case len(path) > maxPath:
		return route{}
	}
	seg := strings.Split(rest, "/")
	n := len(seg)
	name := func(k int) string { return strings.Join(seg[:n-k], "/") }
	switch {
	case n >= 4 && seg[n-3] == "blobs" && seg[n-2] == "uploads":
		if seg[n-1] == "" {
			return route{kind: kindUploads, name: name(3)}
		}
		return route{kind: kindUpload, name: name(3), ref: seg[n-1]}
	case n >= 3 && seg[n-2] == "blobs" && seg[n-1] == "uploads":
		return route{kind: kindUploads, name: name(2)}
	case n >= 3 && seg[n-2] == "manifests":
		return route{kind: kindManifest, name: name(2), ref: seg[n-1]}
	case n >= 3 && seg[n-2] == "blobs":
		return route{kind: kindBlob, name: name(2), ref: seg[n-1]}
	case n >= 3 && seg[n-2] == "tags" && seg[n-1] == "list":
		return route{kind: kindTags, name: name(2)}
	case n >= 3 && seg[n-2] == "referrers":
		return route{kind: kindReferrers, name: name(2), ref: seg[n-1]}
	}
	return route{}
}

// actions are the ECR actions a request needs on its repository, the
// first naming its audit event. A monolithic upload (POST with a digest)
// is a whole upload at once.
func actions(method string, rt route, hasDigest bool) []string {
	switch rt.kind {
	case kindManifest:
		switch method {
		case http.MethodGet, http.MethodHead:
			return []string{"ecr:BatchGetImage"}
		case http.MethodPut:
			return []string{"ecr:PutImage"}
		case http.MethodDelete:
			return []string{"ecr:BatchDeleteImage"}
		}
	case kindBlob:
		switch method {
		case http.MethodGet:
			return []string{"ecr:GetDownloadUrlForLayer"}
		case http.MethodHead:
			return []string{"ecr:BatchCheckLayerAvailability"}
		}
	case kindUploads:
		if method == http.MethodPost {
			if hasDigest {
				return []string{"ecr:InitiateLayerUpload", "ecr:UploadLayerPart", "ecr:CompleteLayerUpload"}
			}
			return []string{"ecr:InitiateLayerUpload"}
		}
	case kindUpload:
		switch method {
		case http.MethodPatch:
			return []string{"ecr:UploadLayerPart"}
		case http.MethodPut:
			return []string{"ecr:CompleteLayerUpload"}
		case http.MethodGet, http.MethodDelete:
			// Reading or cancelling an upload's state is part of the
			// upload (our choice; ECR does not document it).
			return []string{"ecr:InitiateLayerUpload"}
		}
	case kindTags:
		if method == http.MethodGet {
			return []string{"ecr:ListImages"}
		}
	case kindReferrers:
		if method == http.MethodGet {
			return []string{"ecr:BatchGetImage"}
		}
	}
	return nil
}

// readOnly actions, as CloudTrail marks their events.
func readOnly(action string) bool {
	switch action {
	case "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability", "ecr:ListImages", "ecr:DescribeRepositories":
		return true
	}
	return false
}
