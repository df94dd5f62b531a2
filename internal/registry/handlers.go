package registry

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/oidcfed/oidcfed/internal/audit"
	"github.com/oidcfed/oidcfed/internal/ecr"
	"github.com/oidcfed/oidcfed/internal/httpx"
)

func (h *Handler) manifest(req *request) *regError {
	w, r, name, ref := req.w, req.r, req.rt.name, req.rt.ref
	if !ecr.ValidDigest(ref) && !ecr.ValidTag(ref) {
		if r.Method == http.MethodPut {
			return newError(http.StatusBadRequest, "TAG_INVALID", "Invalid image tag") // unconfirmed wording
		}
		return newError(http.StatusNotFound, "MANIFEST_UNKNOWN", h.o.Service.ErrImageNotFound(name, "", ref).Message)
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		img, err := h.o.Service.Image(r.Context(), name, ref)
		if err != nil {
			return ecrError(err, nil)
		}
		if !h.commit(req) {
			return internal(nil)
		}
		w.Header().Set("Content-Type", img.MediaType)
		w.Header().Set("Content-Length", strconv.Itoa(len(img.Manifest)))
		w.Header().Set("Docker-Content-Digest", img.Digest)
		w.Header().Set("Etag", `"`+img.Digest+`"`)
		w.WriteHeader(http.StatusOK)
		if r.Method == http.MethodGet {
			_, _ = w.Write(img.Manifest)
		}
		return nil
	case http.MethodPut:
		if r.ContentLength > ecr.MaxManifestSize {
			return newError(http.StatusRequestEntityTooLarge, "SIZE_INVALID", "The manifest is larger than "+strconv.Itoa(ecr.MaxManifestSize)+" bytes")
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, ecr.MaxManifestSize+1))
		if err != nil {
			return newError(http.StatusBadRequest, "MANIFEST_INVALID", "The manifest could not be read").because(err)
		}
		if len(body) > ecr.MaxManifestSize {
			return newError(http.StatusRequestEntityTooLarge, "SIZE_INVALID", "The manifest is larger than "+strconv.Itoa(ecr.MaxManifestSize)+" bytes")
		}
		img, err := h.o.Service.PutManifest(r.Context(), req.repo, ref, r.Header.Get("Content-Type"), body)
		if err != nil {
			var ee *ecr.Error
			if errors.As(err, &ee) && ee.Code == ecr.CodeInvalidParameter && !ecr.ValidDigest(ref) && !ecr.ValidTag(ref) {
				return newError(http.StatusBadRequest, "TAG_INVALID", ee.Message)
			}
			return ecrError(err, nil)
		}
		req.ev.ResponseElements = map[string]any{"image": map[string]any{"imageDigest": img.Digest, "imageManifestMediaType": img.MediaType}}
		if !h.commit(req) {
			return internal(nil)
		}
		w.Header().Set("Location", location(name, "manifests", img.Digest))
		w.Header().Set("Docker-Content-Digest", img.Digest)
		if img.Subject != "" {
			w.Header().Set("OCI-Subject", img.Subject)
		}
		w.WriteHeader(http.StatusCreated)
		return nil
	case http.MethodDelete:
		var err error
		if ecr.ValidDigest(ref) {
			err = h.o.Service.DeleteImage(r.Context(), name, ref)
		} else {
			err = h.o.Service.Untag(r.Context(), name, ref)
		}
		if err != nil {
			return ecrError(err, nil)
		}
		if !h.commit(req) {
			return internal(nil)
		}
		w.WriteHeader(http.StatusAccepted)
		return nil
	}
	return newError(http.StatusMethodNotAllowed, "UNSUPPORTED", "The operation is unsupported.")
}

var errBlobUnknown = newError(http.StatusNotFound, "BLOB_UNKNOWN", "blob unknown to registry")

func (h *Handler) blob(req *request) *regError {
	r, name, digest := req.r, req.rt.name, req.rt.ref
	if !ecr.ValidDigest(digest) {
		if ecr.WellFormedDigest(digest) {
			return errBlobUnknown
		}
		return newError(http.StatusBadRequest, "DIGEST_INVALID", "provided digest did not match uploaded content")
	}
	if _, err := h.o.Service.BlobLink(r.Context(), name, digest); err != nil {
		return ecrError(err, errBlobUnknown)
	}
	if _, err := h.o.Service.Blobs().Size(digest); err != nil {
		return internal(err) // linked but missing: the data directory lost a file
	}
	if !h.commit(req) {
		return internal(nil)
	}
	if r.Method == http.MethodGet {
		h.extendDeadlines(req.w)
	}
	// Only the path and Range reach the library: the query (a download
	// URL's signature) is ours.
	r2 := r.Clone(r.Context())
	r2.URL.RawQuery = ""
	h.blobs.ServeHTTP(req.w, r2)
	return nil
}

// startUpload is POST /v2/<name>/blobs/uploads/: a monolithic upload
// (?digest=), a cross-repository mount (?mount=&from=), or a new session.
func (h *Handler) startUpload(req *request) *regError {
	w, r, name := req.w, req.r, req.rt.name
	q := r.URL.Query()
	if q.Has("digest") {
		digest := q.Get("digest")
		if !ecr.ValidDigest(digest) {
			return newError(http.StatusBadRequest, "DIGEST_INVALID", "The digest is not a sha256 digest")
		}
		h.extendDeadlines(w)
		size, err := h.o.Service.Uploads().Put(digest, r.Body)
		if e := uploadError(err, nil); e != nil {
			return e
		}
		return h.blobCreated(req, digest, size)
	}
	if from, digest := q.Get("from"), q.Get("mount"); from != "" && ecr.ValidRepositoryName(from) && ecr.ValidDigest(digest) {
		// The caller must be allowed to read the blob where it is; when it
		// is not (or the blob is not there), the spec says start a
		// session instead.
		if src, err := h.o.Service.Repository(r.Context(), from); err == nil &&
			h.o.Authorizer.Authorize(r.Context(), req.caller, "ecr:GetDownloadUrlForLayer", from, src, httpx.RemoteIP(r)) == nil {
			if l, err := h.o.Service.BlobLink(r.Context(), from, digest); err == nil {
				req.ev.RequestParameters["mountFrom"] = from
				return h.blobCreated(req, digest, l.Size)
			}
		}
	}
	id, err := h.o.Service.Uploads().Start(name)
	if err != nil {
		return uploadError(err, nil)
	}
	req.ev.ResponseElements = map[string]any{"uploadId": id}
	if !h.commit(req) {
		_ = h.o.Service.Uploads().Cancel(id, name)
		return internal(nil)
	}
	w.Header().Set("Location", location(name, "blobs/uploads", id))
	w.Header().Set("Docker-Upload-UUID", id)
	w.Header().Set("Range", "0-0")
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusAccepted)
	return nil
}

// blobCreated links a stored blob into the request's repository and
// answers 201.
func (h *Handler) blobCreated(req *request, digest string, size int64) *regError {
	if err := h.o.Service.LinkBlob(req.r.Context(), req.rt.name, digest, size); err != nil {
		return ecrError(err, nil)
	}
	req.ev.ResponseElements = map[string]any{"layerDigest": digest, "layerSize": size}
	if !h.commit(req) {
		return internal(nil)
	}
	req.w.Header().Set("Location", location(req.rt.name, "blobs", digest))
	req.w.Header().Set("Docker-Content-Digest", digest)
	req.w.Header().Set("Content-Length", "0")
	req.w.WriteHeader(http.StatusCreated)
	return nil
}

// uploadError maps an upload failure; rangeHeader, when set, is the
// session's state for a 416.
func uploadError(err error, rangeHeader func() string) *regError {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ecr.ErrUploadUnknown):
		return newError(http.StatusNotFound, "BLOB_UPLOAD_UNKNOWN", "blob upload unknown to registry")
	case errors.Is(err, ecr.ErrUploadBusy):
		return newError(http.StatusConflict, "BLOB_UPLOAD_INVALID", "another request is writing to this upload")
	case errors.Is(err, ecr.ErrTooManyUploads):
		return newError(http.StatusTooManyRequests, "TOOMANYREQUESTS", "too many uploads in progress; try again later")
	case errors.Is(err, ecr.ErrBlobTooLarge):
		return newError(http.StatusRequestEntityTooLarge, "SIZE_INVALID", "the blob is larger than this registry accepts").because(err)
	case errors.Is(err, ecr.ErrDigestMismatch):
		return newError(http.StatusBadRequest, "DIGEST_INVALID", "provided digest did not match uploaded content").because(err)
	case errors.Is(err, ecr.ErrUploadRange):
		e := newError(http.StatusRequestedRangeNotSatisfiable, "BLOB_UPLOAD_INVALID", "the content range does not continue the upload")
		if rangeHeader != nil {
			e.header = http.Header{"Range": {rangeHeader()}}
		}
		return e
	}
	// A body that broke off mid-way (the client went away): what was
	// written stays, and the client may resume.
	return newError(http.StatusBadRequest, "BLOB_UPLOAD_INVALID", "the upload could not be read").because(err)
}

// rangeOf is the Range header of an upload holding size bytes.
func rangeOf(size int64) string {
	if size == 0 {
		return "0-0"
	}
	return "0-" + strconv.FormatInt(size-1, 10)
}

// parseContentRange reads a chunk's Content-Range, "start-end"; -1 when
// absent.
func parseContentRange(v string) (int64, bool) {
	if v == "" {
		return -1, true
	}
	v = strings.TrimPrefix(v, "bytes ")
	a, b, ok := strings.Cut(v, "-")
	start, err1 := strconv.ParseInt(a, 10, 64)
	end, err2 := strconv.ParseInt(b, 10, 64)
	if !ok || err1 != nil || err2 != nil || start < 0 || end < start {
		return 0, false
	}
	return start, true
}

func (h *Handler) upload(req *request) *regError {
	w, r, name, id := req.w, req.r, req.rt.name, req.rt.ref
	ups := h.o.Service.Uploads()
	if !ecr.ValidUploadID(id) {
		return uploadError(ecr.ErrUploadUnknown, nil)
	}
	state := func(size int64) {
		w.Header().Set("Location", location(name, "blobs/uploads", id))
		w.Header().Set("Docker-Upload-UUID", id)
		w.Header().Set("Range", rangeOf(size))
		w.Header().Set("Content-Length", "0")
	}
	switch r.Method {
	case http.MethodPatch:
		start, ok := parseContentRange(r.Header.Get("Content-Range"))
		if !ok {
			return newError(http.StatusRequestedRangeNotSatisfiable, "BLOB_UPLOAD_INVALID", "the Content-Range header is not start-end")
		}
		h.extendDeadlines(w)
		size, err := ups.Append(id, name, start, r.Body)
		if e := uploadError(err, func() string { return rangeOf(size) }); e != nil {
			return e
		}
		req.ev.ResponseElements = map[string]any{"lastByteReceived": size - 1}
		if !h.commit(req) {
			return internal(nil)
		}
		state(size)
		w.WriteHeader(http.StatusAccepted)
		return nil
	case http.MethodPut:
		digest := r.URL.Query().Get("digest")
		if !ecr.ValidDigest(digest) {
			return newError(http.StatusBadRequest, "DIGEST_INVALID", "The digest is not a sha256 digest")
		}
		req.ev.RequestParameters["layerDigest"] = digest
		h.extendDeadlines(w)
		size, err := ups.Finish(id, name, digest, r.Body)
		if e := uploadError(err, nil); e != nil {
			return e
		}
		return h.blobCreated(req, digest, size)
	case http.MethodGet:
		size, err := ups.Size(id, name)
		if e := uploadError(err, nil); e != nil {
			return e
		}
		if !h.commit(req) {
			return internal(nil)
		}
		state(size)
		w.WriteHeader(http.StatusNoContent)
		return nil
	case http.MethodDelete:
		if e := uploadError(ups.Cancel(id, name), nil); e != nil {
			return e
		}
		if !h.commit(req) {
			return internal(nil)
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	return newError(http.StatusMethodNotAllowed, "UNSUPPORTED", "The operation is unsupported.")
}

// maxPage bounds a tags or catalog page.
const maxPage = 1000

// pageParams reads ?n= and ?last=.
func pageParams(r *http.Request) (int, string, *regError) {
	q := r.URL.Query()
	n := maxPage
	if v := q.Get("n"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 0 {
			return 0, "", newError(http.StatusBadRequest, "PAGINATION_NUMBER_INVALID", "invalid number of results requested")
		}
		n = min(n, maxPage)
	}
	return n, q.Get("last"), nil
}

// pageOf cuts sorted names after last, n of them; more says whether
// others follow.
func pageOf(names []string, n int, last string) (page []string, more bool) {
	i, _ := slices.BinarySearch(names, last)
	if i < len(names) && names[i] == last {
		i++
	}
	if last == "" {
		i = 0
	}
	end := min(len(names), i+n)
	return names[i:end], end < len(names)
}

func writeJSON(w http.ResponseWriter, contentType string, v any) {
	body, _ := json.Marshal(v)
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

func (h *Handler) tags(req *request) *regError {
	n, last, e := pageParams(req.r)
	if e != nil {
		return e
	}
	tags, err := h.o.Service.Tags(req.r.Context(), req.rt.name)
	if err != nil {
		return internal(err)
	}
	names := make([]string, len(tags))
	for i, t := range tags {
		names[i] = t.Tag
	}
	page, more := pageOf(names, n, last)
	if !h.commit(req) {
		return internal(nil)
	}
	if more && len(page) > 0 {
		req.w.Header().Set("Link", linkNext(location(req.rt.name, "tags", "list"), n, page[len(page)-1]))
	}
	if page == nil {
		page = []string{}
	}
	writeJSON(req.w, "application/json", map[string]any{"name": req.rt.name, "tags": page})
	return nil
}

func (h *Handler) referrers(req *request) *regError {
	digest := req.rt.ref
	if !ecr.ValidDigest(digest) {
		return newError(http.StatusBadRequest, "DIGEST_INVALID", "The digest is not a sha256 digest")
	}
	artifactType := req.r.URL.Query().Get("artifactType")
	imgs, err := h.o.Service.Referrers(req.r.Context(), req.rt.name, digest, artifactType)
	if err != nil {
		return internal(err)
	}
	type descriptor struct {
		MediaType    string `json:"mediaType"`
		Digest       string `json:"digest"`
		Size         int    `json:"size"`
		ArtifactType string `json:"artifactType,omitempty"`
	}
	manifests := make([]descriptor, 0, len(imgs))
	for _, img := range imgs {
		full, err := h.o.Service.Image(req.r.Context(), req.rt.name, img.Digest)
		if err != nil {
			return internal(err)
		}
		manifests = append(manifests, descriptor{MediaType: img.MediaType, Digest: img.Digest, Size: len(full.Manifest), ArtifactType: img.ArtifactType})
	}
	if !h.commit(req) {
		return internal(nil)
	}
	if artifactType != "" {
		req.w.Header().Set("OCI-Filters-Applied", "artifactType")
	}
	writeJSON(req.w, ecr.MediaTypeOCIIndex, map[string]any{"schemaVersion": 2, "mediaType": ecr.MediaTypeOCIIndex, "manifests": manifests})
	return nil
}

// catalog is GET /v2/_catalog (ECR does not serve it; here it lists the
// repositories the caller may describe, ecr:DescribeRepositories on each).
func (h *Handler) catalog(w http.ResponseWriter, r *http.Request) {
	ev := &audit.Event{EventSource: audit.SourceECR, EventName: "DescribeRepositories", AWSRegion: h.o.Service.Region(),
		SourceIPAddress: httpx.RemoteIP(r), UserAgent: audit.Value(r.UserAgent(), 1024), RequestID: httpx.RequestID(r.Context()),
		ReadOnly: true, RecipientAccountID: h.o.Service.Account(), UserIdentity: audit.UserIdentity{Type: "Unknown"}}
	if ev.RequestID == "" {
		ev.RequestID = newRequestID()
	}
	if h.o.Audit != nil {
		r = r.WithContext(audit.WithEvent(r.Context(), ev))
	}
	req := &request{w: w, r: r, ev: ev}
	if r.Method != http.MethodGet {
		h.fail(req, newError(http.StatusMethodNotAllowed, "UNSUPPORTED", "The operation is unsupported."))
		return
	}
	caller, akid, e := h.authenticate(r)
	if e != nil {
		h.fail(req, e)
		return
	}
	h.o.Auth.NoteCaller(r.Context(), caller, akid)
	n, last, e := pageParams(r)
	if e != nil {
		h.fail(req, e)
		return
	}
	repos, err := h.o.Service.Repositories(r.Context())
	if err != nil {
		h.fail(req, internal(err))
		return
	}
	var names []string
	for _, repo := range repos {
		if h.o.Authorizer.Authorize(r.Context(), caller, "ecr:DescribeRepositories", repo.Name, repo, httpx.RemoteIP(r)) == nil {
			names = append(names, repo.Name)
		}
	}
	page, more := pageOf(names, n, last)
	if !h.commit(req) {
		writeError(w, internal(nil))
		return
	}
	if more && len(page) > 0 {
		w.Header().Set("Link", linkNext("/v2/_catalog", n, page[len(page)-1]))
	}
	if page == nil {
		page = []string{}
	}
	writeJSON(w, "application/json", map[string]any{"repositories": page})
}
