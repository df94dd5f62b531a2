// Package registry is the OCI distribution side of the ECR registry: the
// /v2/ API docker, crane and cosign push to and pull from, behind ECR's
// authentication (Basic auth with the password GetAuthorizationToken
// hands out) and authorization (each request mapped to the ECR action it
// is, on the repository's ARN, decided by the IAM policy engine with the
// repository's policy). Refusals are the distribution spec's errors:
// UNAUTHORIZED with a Basic challenge, DENIED, NAME_UNKNOWN, and so on.
//
// Blob reads are served by go-containerregistry's registry over the ecr
// package's blob store. Manifests, tags and upload sessions are the ecr
// package's, because that registry keeps them in memory (it is built for
// tests): ECR's API reads and deletes the same images, they survive a
// restart, and uploads stream to disk with bounded size and count.
package registry

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	ggcr "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/oidcfed/oidcfed/internal/audit"
	"github.com/oidcfed/oidcfed/internal/ecr"
	"github.com/oidcfed/oidcfed/internal/httpx"
	"github.com/oidcfed/oidcfed/internal/sts"
)

// Authorizer decides a caller's action on a repository; r is nil when
// the repository does not exist. The ECR API's handler is one, so the API
// and the registry decide alike.
type Authorizer interface {
	Authorize(ctx context.Context, c *sts.Caller, action, name string, r *ecr.Repository, ip string) error
}

// Options configure a Handler.
type Options struct {
	Service    *ecr.Service
	Auth       *sts.Service
	Tokens     *ecr.Tokens
	Downloads  *ecr.DownloadURLs
	Authorizer Authorizer
	// Realm is the registry's URL (the proxyEndpoint), named in the Basic
	// challenge.
	Realm string
	// Audit records every request; nil runs without.
	Audit audit.Recorder
	Log   *slog.Logger
	// TransferTimeout bounds a blob download or upload request, beyond
	// the server's usual request timeouts; 0 means an hour.
	TransferTimeout time.Duration
}

// Handler serves /v2/.
type Handler struct {
	o     Options
	blobs http.Handler
}

// New returns the registry handler; mount it at /v2/.
func New(o Options) *Handler {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.TransferTimeout <= 0 {
		o.TransferTimeout = time.Hour
	}
	return &Handler{o: o, blobs: BlobReader(o.Service)}
}

// BlobReader is go-containerregistry's registry serving blob reads (GET
// and HEAD, with ranges) from svc's blob store. It checks nothing: the
// Handler calls it only for a blob the repository links, for a caller
// allowed to read it. Exported for the benchmark that compares the
// Handler with the bare library.
func BlobReader(svc *ecr.Service) http.Handler {
	return ggcr.New(ggcr.WithBlobHandler(blobStore{svc}), ggcr.Logger(log.New(io.Discard, "", 0)))
}

// blobStore is the ecr blob store as go-containerregistry's BlobHandler.
type blobStore struct{ svc *ecr.Service }

func (b blobStore) Stat(_ context.Context, _ string, h v1.Hash) (int64, error) {
	size, err := b.svc.Blobs().Size(h.String())
	if errors.Is(err, ecr.ErrBlobMissing) {
		return 0, ggcr.ErrNotFound
	}
	return size, err
}

func (b blobStore) Get(_ context.Context, _ string, h v1.Hash) (io.ReadCloser, error) {
	f, err := b.svc.Blobs().Open(h.String())
	if errors.Is(err, ecr.ErrBlobMissing) {
		return nil, ggcr.ErrNotFound
	}
	return f, err
}

// regError is a distribution-spec error.
type regError struct {
	status        int
	code, message string
	cause         error // for the log and the audit trail
	header        http.Header
}

func (e *regError) Error() string { return e.code + ": " + e.message }

func newError(status int, code, message string) *regError {
	return &regError{status: status, code: code, message: message}
}

func (e *regError) because(cause error) *regError {
	e.cause = cause
	return e
}

func writeError(w http.ResponseWriter, e *regError) {
	for k, v := range e.header {
		w.Header()[k] = v
	}
	body, _ := json.Marshal(map[string]any{"errors": []map[string]string{{"code": e.code, "message": e.message}}})
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(e.status)
	_, _ = w.Write(body)
}

// unauthorized is a 401 with ECR's Basic challenge.
func (h *Handler) unauthorized(message string, cause error) *regError {
	e := newError(http.StatusUnauthorized, "UNAUTHORIZED", message).because(cause)
	e.header = http.Header{"Www-Authenticate": {`Basic realm="` + h.o.Realm + `",service="ecr.amazonaws.com"`}}
	return e
}

// Messages of authentication failures (ECR's wording for the expired
// token is quoted by docker users; the others are unconfirmed).
const (
	msgAuthRequired = "authentication required"
	msgExpired      = "Your authorization token has expired. Reauthenticate and try again."
	msgInvalid      = "Your authorization token is invalid. Reauthenticate and try again."
)

// authenticate reads the Basic credentials: user AWS, and a password
// GetAuthorizationToken made that has not expired.
func (h *Handler) authenticate(r *http.Request) (*sts.Caller, string, *regError) {
	hdr := r.Header.Get("Authorization")
	if hdr == "" {
		return nil, "", h.unauthorized(msgAuthRequired, errors.New("no credentials"))
	}
	scheme, value, _ := strings.Cut(hdr, " ")
	if !strings.EqualFold(scheme, "Basic") || len(value) > 2*ecr.MaxPasswordLength {
		return nil, "", h.unauthorized(msgAuthRequired, errors.New("not Basic credentials"))
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(value))
	if err != nil {
		return nil, "", h.unauthorized(msgInvalid, errors.New("basic credentials are not base64"))
	}
	user, password, ok := strings.Cut(string(raw), ":")
	if !ok || user != "AWS" {
		return nil, "", h.unauthorized(msgInvalid, errors.New("user is not AWS"))
	}
	encoded, _, err := h.o.Tokens.Open(password, h.o.Service.Now())
	if errors.Is(err, ecr.ErrTokenExpired) {
		return nil, "", h.unauthorized(msgExpired, err)
	}
	if err != nil {
		return nil, "", h.unauthorized(msgInvalid, err)
	}
	caller, akid, err := h.o.Auth.UnmarshalCaller(r.Context(), encoded)
	if err != nil {
		return nil, "", h.unauthorized(msgInvalid, err)
	}
	return caller, akid, nil
}

// request is one registry request on its way.
type request struct {
	w    http.ResponseWriter
	r    *http.Request
	rt   route
	ev   *audit.Event
	repo *ecr.Repository
	// caller is nil for a download URL's request.
	caller *sts.Caller
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Docker-Distribution-API-Version", "registry/2.0")
	rt := parseRoute(r.URL.Path)
	switch rt.kind {
	case kindUnknown:
		writeError(w, newError(http.StatusNotFound, "NAME_UNKNOWN", "The requested path is not a registry endpoint"))
		return
	case kindBase:
		// The version check: authentication only, nothing read, nothing
		// recorded (clients ping it before every session).
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			writeError(w, newError(http.StatusMethodNotAllowed, "UNSUPPORTED", "The operation is unsupported."))
			return
		}
		if _, _, e := h.authenticate(r); e != nil {
			writeError(w, e)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", "2")
		_, _ = io.WriteString(w, "{}")
		return
	case kindCatalog:
		h.catalog(w, r)
		return
	}
	acts := actions(r.Method, rt, r.URL.Query().Has("digest"))
	if acts == nil {
		writeError(w, newError(http.StatusMethodNotAllowed, "UNSUPPORTED", "The operation is unsupported."))
		return
	}
	ev := &audit.Event{EventSource: audit.SourceECR, EventName: strings.TrimPrefix(acts[0], "ecr:"), AWSRegion: h.o.Service.Region(),
		SourceIPAddress: httpx.RemoteIP(r), UserAgent: audit.Value(r.UserAgent(), 1024), RequestID: httpx.RequestID(r.Context()),
		ReadOnly: readOnly(acts[0]), RecipientAccountID: h.o.Service.Account(), UserIdentity: audit.UserIdentity{Type: "Unknown"},
		RequestParameters: map[string]any{"repositoryName": audit.Value(rt.name, 256)}}
	if ev.RequestID == "" {
		ev.RequestID = newRequestID()
	}
	if rt.ref != "" {
		ev.RequestParameters[refParameter(rt)] = audit.Value(rt.ref, 128)
	}
	if h.o.Audit != nil {
		r = r.WithContext(audit.WithEvent(r.Context(), ev))
	}
	req := &request{w: w, r: r, rt: rt, ev: ev}
	if e := h.admit(req, acts); e != nil {
		h.fail(req, e)
		return
	}
	var e *regError
	switch rt.kind {
	case kindManifest:
		e = h.manifest(req)
	case kindBlob:
		e = h.blob(req)
	case kindUploads:
		e = h.startUpload(req)
	case kindUpload:
		e = h.upload(req)
	case kindTags:
		e = h.tags(req)
	case kindReferrers:
		e = h.referrers(req)
	}
	if e != nil {
		h.fail(req, e)
	}
}

// refParameter names a route's reference in the audit event.
func refParameter(rt route) string {
	switch {
	case rt.kind == kindManifest && ecr.ValidDigest(rt.ref):
		return "imageDigest"
	case rt.kind == kindManifest:
		return "imageTag"
	case rt.kind == kindUpload:
		return "uploadId"
	case rt.kind == kindReferrers:
		return "imageDigest"
	}
	return "layerDigest"
}

// admit authenticates the request (or its download URL), checks the
// repository name, authorizes every action on the repository and finds
// it. Authorization comes before existence, so a caller who may not act
// on a name learns nothing about it.
func (h *Handler) admit(req *request, acts []string) *regError {
	r, rt := req.r, req.rt
	if !ecr.ValidRepositoryName(rt.name) {
		return newError(http.StatusBadRequest, "NAME_INVALID", "Invalid repository name")
	}
	req.ev.Resources = []audit.Resource{{AccountID: h.o.Service.Account(), Type: "AWS::ECR::Repository", ARN: h.o.Service.ARN(rt.name)}}
	repo, err := h.o.Service.Repository(r.Context(), rt.name)
	var ee *ecr.Error
	if err != nil && !(errors.As(err, &ee) && ee.Code == ecr.CodeRepositoryNotFound) {
		return internal(err)
	}
	if rt.kind == kindBlob && r.Method == http.MethodGet && r.URL.Query().Has(ecr.DownloadSignatureParam) {
		// A URL from GetDownloadUrlForLayer: whoever holds it may
		// download, as with ECR's presigned URLs.
		if err := h.o.Downloads.Check(rt.name, rt.ref, r.URL.Query(), h.o.Service.Now()); err != nil || repo == nil {
			return newError(http.StatusForbidden, "DENIED", "The download URL is invalid or has expired").because(err) // unconfirmed wording
		}
		req.ev.AdditionalEventData = map[string]any{"downloadUrl": true}
		req.repo = repo
		return nil
	}
	caller, akid, e := h.authenticate(r)
	if e != nil {
		return e
	}
	h.o.Auth.NoteCaller(r.Context(), caller, akid)
	for _, a := range acts {
		if err := h.o.Authorizer.Authorize(r.Context(), caller, a, rt.name, repo, httpx.RemoteIP(r)); err != nil {
			if errors.As(err, &ee) && ee.Code == ecr.CodeAccessDenied {
				return newError(http.StatusForbidden, "DENIED", ee.Message).because(ee.Cause)
			}
			return internal(err)
		}
	}
	if repo == nil {
		return newError(http.StatusNotFound, "NAME_UNKNOWN", ecr.ErrRepositoryNotFound(rt.name, h.o.Service.Account()).Message)
	}
	req.repo, req.caller = repo, caller
	return nil
}

func internal(err error) *regError {
	return newError(http.StatusInternalServerError, "UNKNOWN", "internal error").because(err)
}

// fail records and answers a refusal.
func (h *Handler) fail(req *request, e *regError) {
	level := slog.LevelInfo
	if e.status >= 500 {
		level = slog.LevelError
	}
	h.o.Log.Log(req.r.Context(), level, "registry request refused", "code", e.code, "status", e.status, "event", req.ev.EventName, "cause", e.cause)
	req.ev.Fail(e.code, e.message, e.cause)
	if !h.commit(req) {
		e = internal(nil)
	}
	writeError(req.w, e)
}

// commit records the request's event; false when it could not be, and the
// request must fail without answering what it did.
func (h *Handler) commit(req *request) bool {
	return audit.Commit(req.r.Context(), h.o.Audit, req.ev, h.o.Log)
}

// extendDeadlines gives a blob transfer TransferTimeout from now, beyond
// the server's request timeouts.
func (h *Handler) extendDeadlines(w http.ResponseWriter) {
	rc := http.NewResponseController(w)
	at := time.Now().Add(h.o.TransferTimeout)
	_ = rc.SetReadDeadline(at)
	_ = rc.SetWriteDeadline(at)
}

// ecrError maps a domain error to its registry error.
func ecrError(err error, notFound *regError) *regError {
	var ee *ecr.Error
	if !errors.As(err, &ee) {
		return internal(err)
	}
	switch ee.Code {
	case ecr.CodeRepositoryNotFound:
		return newError(http.StatusNotFound, "NAME_UNKNOWN", ee.Message)
	case ecr.CodeImageNotFound:
		return newError(http.StatusNotFound, "MANIFEST_UNKNOWN", ee.Message)
	case ecr.CodeLayersNotFound:
		if notFound != nil {
			return notFound
		}
		return newError(http.StatusBadRequest, "MANIFEST_BLOB_UNKNOWN", ee.Message)
	case ecr.CodeReferencedImagesNotFound:
		return newError(http.StatusBadRequest, "MANIFEST_BLOB_UNKNOWN", ee.Message)
	case ecr.CodeImageDigestDoesNotMatch:
		return newError(http.StatusBadRequest, "DIGEST_INVALID", ee.Message)
	case ecr.CodeImageTagAlreadyExists:
		return newError(http.StatusBadRequest, "TAG_INVALID", ee.Message)
	case ecr.CodeInvalidParameter:
		return newError(http.StatusBadRequest, "MANIFEST_INVALID", ee.Message)
	case ecr.CodeImageReferencedByManifest:
		return newError(http.StatusConflict, "DENIED", ee.Message)
	}
	return internal(err)
}

// newRequestID is an event id for requests the server's middleware did
// not name (tests that mount the handler alone).
func newRequestID() string { return fmt.Sprintf("%x", time.Now().UnixNano()) }

// location is the path of name's blob, manifest or upload.
func location(name, kind, ref string) string { return "/v2/" + name + "/" + kind + "/" + ref }

// linkNext is a Link header for the next page of a listing at path.
func linkNext(path string, n int, last string) string {
	q := url.Values{"n": {strconv.Itoa(n)}, "last": {last}}
	return "<" + path + "?" + q.Encode() + `>; rel="next"`
}
