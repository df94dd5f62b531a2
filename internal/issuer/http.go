package issuer

import (
	"encoding/json"
	"errors"
	"fmt"
	"github.com/oidcfed/oidcfed/internal/audit"
	"github.com/oidcfed/oidcfed/internal/awsproto"
	"github.com/oidcfed/oidcfed/internal/httpx"
	"mime"
	"net/http"
	"strings"
)

// MintPath is the minting API route (at the server root, not under the
// issuer path: it is oidcfed's API, not part of the OIDC provider).
const MintPath = "/api/v1/tokens"

// MintResponse is the body of a successful mint.
type MintResponse struct {
	Token     string  `json:"token"`
	ExpiresAt int64   `json:"expires_at"`
	Claims    *Claims `json:"claims"`
}

// ErrorBody is every JSON error the minting API returns.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail names what went wrong; Field is set when one field is to blame.
type ErrorDetail struct {
	Code    string `json:"code"`
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

// Routes registers the issuer's handlers on mux. The discovery document and
// JWKS live under the issuer URL's path; the minting API at the root.
func (i *Issuer) Routes(mux *http.ServeMux, issuerPath string) {
	mux.HandleFunc("GET "+issuerPath+DiscoveryPath, i.serveDiscovery)
	mux.HandleFunc("GET "+issuerPath+JWKSPath, i.serveJWKS)
	mux.HandleFunc("POST "+MintPath, i.serveMint)
}

func (i *Issuer) serveDiscovery(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", fmt.Sprintf("max-age=%d, public", int(i.cfg.JWKSMaxAge.Seconds())))
	_, _ = w.Write(i.Discovery())
}

func (i *Issuer) serveJWKS(w http.ResponseWriter, r *http.Request) {
	jwks, err := i.JWKS()
	if err != nil {
		i.log.ErrorContext(r.Context(), "JWKS not served", "err", err)
		w.Header().Set("Retry-After", "5")
		writeError(w, http.StatusServiceUnavailable, ErrorDetail{Code: "unavailable", Message: "the key set is temporarily unavailable"})
		return
	}
	w.Header().Set("Content-Type", "application/json")
	// Same shape as GitLab's header; the max-age is the lead time a new
	// key is published before it signs, so honouring it is always safe.
	w.Header().Set("Cache-Control", fmt.Sprintf("max-age=%d, public, must-revalidate", int(i.cfg.JWKSMaxAge.Seconds())))
	_, _ = w.Write(jwks)
}

func (i *Issuer) serveMint(w http.ResponseWriter, r *http.Request) {
	// Every mint is audited before it is answered: a token whose event
	// cannot be written is not handed out.
	ev := &audit.Event{EventSource: audit.SourceIssuer, EventName: "MintToken", SourceIPAddress: httpx.RemoteIP(r),
		UserAgent: auditValue(r.UserAgent()), RequestID: awsproto.NewRequestID(), UserIdentity: audit.UserIdentity{Type: "Unknown"}}
	fail := func(status int, d ErrorDetail) {
		ev.ErrorCode, ev.ErrorMessage = d.Code, d.Message
		if !i.record(r, ev) {
			status, d = http.StatusInternalServerError, internalError
		}
		if status == http.StatusUnauthorized {
			w.Header().Set("WWW-Authenticate", `Bearer realm="oidcfed"`)
		}
		writeError(w, status, d)
	}
	token, ok := bearer(r)
	if !ok {
		fail(http.StatusUnauthorized, unauthorized)
		return
	}
	runner, err := i.Authenticate(r.Context(), token)
	if errors.Is(err, ErrUnauthorized) {
		fail(http.StatusUnauthorized, unauthorized)
		return
	}
	if err != nil {
		i.log.ErrorContext(r.Context(), "mint failed", "err", err)
		fail(http.StatusInternalServerError, internalError)
		return
	}
	ev.UserIdentity = audit.UserIdentity{Type: "Runner", PrincipalID: fmt.Sprint(runner.ID), UserName: runner.Name}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
			fail(http.StatusUnsupportedMediaType, ErrorDetail{Code: "unsupported_media_type", Field: "Content-Type", Message: "request body must be application/json"})
			return
		}
	}
	req, err := DecodeMintRequest(r.Body)
	if err == nil {
		ev.RequestParameters = map[string]any{"project_path": auditValue(req.ProjectPath), "ref": auditValue(req.Ref),
			"pipeline_id": auditValue(req.PipelineID), "job_id": auditValue(req.JobID)}
		var jwt string
		var claims *Claims
		jwt, claims, err = i.Mint(runner, req)
		if err == nil {
			noteMinted(ev, jwt, claims)
			if !i.record(r, ev) {
				writeError(w, http.StatusInternalServerError, internalError)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Cache-Control", "no-store")
			_ = json.NewEncoder(w).Encode(MintResponse{Token: jwt, ExpiresAt: claims.Expiry, Claims: claims})
			i.log.InfoContext(r.Context(), "token minted", "runner_id", runner.ID, "runner", runner.Name,
				"jti", claims.JTI, "sub", claims.Subject, "aud", []string(claims.Audience), "exp", claims.Expiry)
			return
		}
	}
	var fe *FieldError
	var ce *ConstraintError
	switch {
	case errors.Is(err, ErrRequestTooLarge):
		fail(http.StatusRequestEntityTooLarge, ErrorDetail{Code: "request_too_large", Field: "body", Message: err.Error()})
	case errors.As(err, &fe):
		fail(http.StatusBadRequest, ErrorDetail{Code: "invalid_request", Field: fe.Field, Message: fe.Error()})
	case errors.As(err, &ce):
		i.log.WarnContext(r.Context(), "mint refused by runner constraints", "runner_id", runner.ID, "claim", ce.Claim)
		fail(http.StatusForbidden, ErrorDetail{Code: "constraint_violation", Field: ce.Claim,
			Message: fmt.Sprintf("claim %s is outside this runner's constraints", ce.Claim)})
	case errors.Is(err, ErrScheduleStale) || errors.Is(err, ErrNoSigningKey):
		i.log.ErrorContext(r.Context(), "mint unavailable", "err", err)
		w.Header().Set("Retry-After", "5")
		fail(http.StatusServiceUnavailable, ErrorDetail{Code: "unavailable", Message: "the issuer cannot sign right now; retry shortly"})
	default:
		i.log.ErrorContext(r.Context(), "mint failed", "err", err)
		fail(http.StatusInternalServerError, internalError)
	}
}

// bearer extracts the token of an "Authorization: Bearer <token>" header.
func bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return "", false
	}
	return token, true
}

// unauthorized answers every runner-token failure the same way, so a
// caller cannot tell an unknown token from a revoked one.
var unauthorized = ErrorDetail{Code: "unauthorized", Message: "a valid runner token is required"}

var internalError = ErrorDetail{Code: "internal_error", Message: "internal error; see the server log"}

func writeError(w http.ResponseWriter, status int, d ErrorDetail) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(ErrorBody{Error: d})
}
