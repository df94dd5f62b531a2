package sts

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

	"github.com/oidcfed/oidcfed/internal/audit"
	"github.com/oidcfed/oidcfed/internal/awsproto"
	"github.com/oidcfed/oidcfed/internal/explain"
	"github.com/oidcfed/oidcfed/internal/federation"
	"github.com/oidcfed/oidcfed/internal/httpx"
)

// ExplainPath is the operator API that explains an AssumeRoleWithWebIdentity
// decision.
const ExplainPath = "/api/v1/explain"

// ExplainSigningService is the SigV4 service name requests to the operator
// API are signed for (credential scope .../oidcfed/aws4_request).
const ExplainSigningService = "oidcfed"

// maxExplainBody bounds a request: a token (≤ 20,000 characters) or a
// claim set, with room for JSON escaping.
const maxExplainBody = 64 << 10

// ExplainRequest is the body of POST /api/v1/explain.
type ExplainRequest struct {
	RoleARN         string         `json:"role_arn"`
	Token           string         `json:"token,omitempty"`
	Claims          map[string]any `json:"claims,omitempty"`
	RoleSessionName string         `json:"role_session_name,omitempty"`
	DurationSeconds *int64         `json:"duration_seconds,omitempty"`
}

// ExplainHandler serves POST /api/v1/explain: SigV4-signed, for the
// account's root (the operator's admin credentials) only, since a report
// shows every trust policy's conditions and the server's causes. It
// answers a Report as JSON, or {"error": {"code", "message"}}.
type ExplainHandler struct {
	svc  *Service
	opts HandlerOptions
}

// NewExplainHandler returns the operator explain endpoint.
func NewExplainHandler(svc *Service, opts HandlerOptions) *ExplainHandler {
	if opts.Log == nil {
		opts.Log = svc.log
	}
	return &ExplainHandler{svc: svc, opts: opts}
}

func (h *ExplainHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ev := &audit.Event{
		EventSource: audit.SourceOperator, EventName: "Explain", AWSRegion: h.opts.Region, SourceIPAddress: httpx.RemoteIP(r),
		UserAgent: auditValue(r.UserAgent()), RequestID: awsproto.NewRequestID(), RecipientAccountID: h.svc.dir.Account(),
		ReadOnly: true, UserIdentity: audit.UserIdentity{Type: "Unknown"},
	}
	r = r.WithContext(audit.WithEvent(r.Context(), ev))
	body, err := awsproto.ReadBody(r, maxExplainBody)
	if err != nil {
		h.fail(w, r, ev, awsproto.AsError(err))
		return
	}
	caller, aerr := h.svc.Authenticate(r, body, ExplainSigningService, []string{h.opts.Region}, h.opts.KeyCache)
	if aerr != nil {
		h.fail(w, r, ev, aerr)
		return
	}
	if !caller.Root {
		h.fail(w, r, ev, awsproto.NewError(http.StatusForbidden, "AccessDenied",
			"User: "+h.svc.CallerARN(caller)+" is not authorized to perform: oidcfed:Explain (the operator API takes the account root's credentials)"))
		return
	}
	var in ExplainRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber() // claims keep their numbers exact, as a token's do
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil || dec.More() {
		h.fail(w, r, ev, awsproto.NewError(http.StatusBadRequest, "ValidationError", "The request body is not a valid explain request (JSON with role_arn and token or claims)").WithCause(err))
		return
	}
	ev.RequestParameters = map[string]any{"roleArn": auditValue(in.RoleARN), "hypothetical": in.Token == ""}
	switch {
	case in.RoleARN == "":
		h.fail(w, r, ev, awsproto.NewError(http.StatusBadRequest, "ValidationError", "role_arn is required"))
		return
	case (in.Token == "") == (in.Claims == nil):
		h.fail(w, r, ev, awsproto.NewError(http.StatusBadRequest, "ValidationError", "give exactly one of token or claims"))
		return
	case len(in.Token) > federation.MaxTokenLength:
		h.fail(w, r, ev, awsproto.NewError(http.StatusBadRequest, "ValidationError", "token is longer than 20000 characters"))
		return
	}
	report, err := h.svc.ExplainWebIdentity(r.Context(), ExplainInput{RoleARN: in.RoleARN, Token: in.Token, Claims: in.Claims,
		RoleSessionName: in.RoleSessionName, DurationSeconds: in.DurationSeconds, SourceIP: httpx.RemoteIP(r)})
	if err != nil {
		h.fail(w, r, ev, awsproto.InternalFailure().WithCause(err))
		return
	}
	ev.ResponseElements = map[string]any{"allowed": report.Allowed}
	if !audit.Commit(r.Context(), h.opts.Audit, ev, h.opts.Log) {
		writeExplainError(w, awsproto.InternalFailure())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = explain.WriteJSON(w, report)
}

func (h *ExplainHandler) fail(w http.ResponseWriter, r *http.Request, ev *audit.Event, e *awsproto.Error) {
	level := slog.LevelInfo
	if e.HTTPStatus >= 500 {
		level = slog.LevelError
	}
	h.opts.Log.Log(r.Context(), level, "explain request refused", "request_id", ev.RequestID, "code", e.Code,
		"status", e.HTTPStatus, "cause", errors.Unwrap(e))
	ev.Fail(e.Code, e.Message, errors.Unwrap(e))
	if !audit.Commit(r.Context(), h.opts.Audit, ev, h.opts.Log) {
		e = awsproto.InternalFailure()
	}
	writeExplainError(w, e)
}

// ExplainError is the operator API's error body.
type ExplainError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func writeExplainError(w http.ResponseWriter, e *awsproto.Error) {
	var body ExplainError
	body.Error.Code, body.Error.Message = e.Code, e.Message
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(e.HTTPStatus)
	_ = json.NewEncoder(w).Encode(body)
}
