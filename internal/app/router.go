package app

import (
	"net/http"
	"strings"

	"github.com/oidcfed/oidcfed/internal/awsproto"
	"github.com/oidcfed/oidcfed/internal/sigv4"
	"github.com/oidcfed/oidcfed/internal/sts"
)

// awsRouter sends a request at the server root to the AWS-compatible
// service it is for, so one AWS_ENDPOINT_URL serves every client:
//
//   - X-Amz-Target names a JSON-protocol service by what precedes its last
//     dot ("TrentService" is KMS, "com.amazonaws.cloudtrail.v20131101.
//     CloudTrail_20131101" CloudTrail);
//   - otherwise a SigV4 credential scope (Authorization header or presigned
//     X-Amz-Credential) names the service ("sts", "iam");
//   - an unsigned Query request is STS (AssumeRoleWithWebIdentity is
//     unsigned by design).
//
// The body is not read here: dispatch looks at headers and the URL only.
type awsRouter struct {
	query map[string]http.Handler // credential-scope service → Query-protocol handler
	json  map[string]http.Handler // X-Amz-Target prefix → JSON-protocol handler
}

func (rt *awsRouter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// Headers are read by their canonical keys directly: Header.Get would
	// canonicalize the constant again on every request.
	if target := firstValue(r.Header["X-Amz-Target"]); target != "" {
		// The operation follows the last dot: "TrentService.Sign" (KMS),
		// "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents".
		prefix := target[:max(0, strings.LastIndexByte(target, '.'))]
		if h, ok := rt.json[prefix]; ok {
			h.ServeHTTP(w, r)
			return
		}
		awsproto.WriteJSONError(w, awsproto.NewRequestID(), awsproto.NewError(http.StatusBadRequest, "UnknownOperationException", ""))
		return
	}
	service := "sts"
	if h := firstValue(r.Header["Authorization"]); h != "" {
		if auth, err := sigv4.ParseAuthorization(h); err == nil {
			service = auth.Credential.Service
		}
	} else if cred := r.URL.Query().Get("X-Amz-Credential"); cred != "" {
		if parts := strings.Split(cred, "/"); len(parts) == 5 {
			service = parts[3]
		}
	}
	if h, ok := rt.query[service]; ok {
		h.ServeHTTP(w, r)
		return
	}
	// A malformed Authorization header falls through to STS above (which
	// answers IncompleteSignature); a well-formed scope for a service this
	// server does not run yet gets a plain answer.
	awsproto.WriteQueryError(w, sts.Namespace, awsproto.NewRequestID(), awsproto.NewError(http.StatusBadRequest,
		"InvalidAction", "This endpoint does not serve the "+strings.ToUpper(truncate(service, 32))+" API"))
}

// firstValue is what http.Header.Get returns for the values of a key.
func firstValue(values []string) string {
	if len(values) == 0 {
		return ""
	}
	return values[0]
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
