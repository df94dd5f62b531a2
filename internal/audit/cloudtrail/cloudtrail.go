// Package cloudtrail serves CloudTrail's LookupEvents over the audit log,
// on AWS's JSON 1.1 protocol, so `aws cloudtrail lookup-events`, boto3 and
// the Go SDK read oidcfed's audit trail as they read CloudTrail's.
package cloudtrail

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/oidcfed/oidcfed/internal/audit"
	"github.com/oidcfed/oidcfed/internal/awsproto"
	"github.com/oidcfed/oidcfed/internal/httpx"
	"github.com/oidcfed/oidcfed/internal/sigv4"
	"github.com/oidcfed/oidcfed/internal/store"
	"github.com/oidcfed/oidcfed/internal/sts"
)

// TargetPrefix is the X-Amz-Target prefix of CloudTrail's operations.
const TargetPrefix = "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101"

// MaxBody bounds a request: a LookupEvents request is a few hundred bytes.
const MaxBody = 64 << 10

// Limits from the service model and CloudTrail's documentation.
const (
	maxResults        = 50
	maxAttributeValue = 2000
)

// Handler serves the CloudTrail JSON API (LookupEvents).
type Handler struct {
	auth    *sts.Service
	records audit.Backend
	audit   audit.Recorder
	account string
	regions []string
	cache   *sigv4.KeyCache
	log     *slog.Logger
}

// NewHandler serves st's audit events to callers auth authenticates and
// authorizes (cloudtrail:LookupEvents); rec, when not nil, records the
// lookups themselves, as CloudTrail does.
func NewHandler(auth *sts.Service, records audit.Backend, rec audit.Recorder, account, region string, cache *sigv4.KeyCache, log *slog.Logger) *Handler {
	return &Handler{auth: auth, records: records, audit: rec, account: account, regions: []string{region}, cache: cache, log: log}
}

// lookupRequest is LookupEventsRequest.
type lookupRequest struct {
	LookupAttributes []struct {
		AttributeKey   *string
		AttributeValue *string
	}
	StartTime     *json.Number
	EndTime       *json.Number
	EventCategory *string
	MaxResults    *json.Number
	NextToken     *string
}

// event is the Event element of the response.
type event struct {
	EventID         string     `json:"EventId"`
	EventName       string     `json:"EventName"`
	ReadOnly        string     `json:"ReadOnly"`
	AccessKeyID     string     `json:"AccessKeyId,omitempty"`
	EventTime       int64      `json:"EventTime"`
	EventSource     string     `json:"EventSource"`
	Username        string     `json:"Username,omitempty"`
	Resources       []resource `json:"Resources"`
	CloudTrailEvent string     `json:"CloudTrailEvent"`
}

type resource struct {
	ResourceType string `json:"ResourceType,omitempty"`
	ResourceName string `json:"ResourceName"`
}

func clientError(code, msg string) *awsproto.Error {
	return awsproto.NewError(http.StatusBadRequest, code, msg)
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	requestID := awsproto.NewRequestID()
	ev := &audit.Event{EventSource: "cloudtrail.amazonaws.com", EventName: "LookupEvents", AWSRegion: h.regions[0],
		SourceIPAddress: httpx.RemoteIP(r), UserAgent: audit.Value(r.UserAgent(), 1024), RequestID: requestID, ReadOnly: true,
		RecipientAccountID: h.account, UserIdentity: audit.UserIdentity{Type: "Unknown"}}
	r = r.WithContext(audit.WithEvent(r.Context(), ev))
	fail := func(e *awsproto.Error) {
		ev.Fail(e.Code, e.Message, errors.Unwrap(e))
		level := slog.LevelInfo
		if e.HTTPStatus >= 500 {
			level = slog.LevelError
		}
		h.log.Log(r.Context(), level, "cloudtrail request refused", "aws_request_id", requestID, "code", e.Code, "cause", errors.Unwrap(e))
		if !h.record(r, ev) {
			e = awsproto.InternalFailure()
		}
		awsproto.WriteJSONError(w, requestID, e)
	}
	operation := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), TargetPrefix+".")
	ev.EventName = audit.Value(operation, 128)
	body, err := awsproto.ReadBody(r, MaxBody)
	if err != nil {
		fail(awsproto.AsError(err))
		return
	}
	caller, aerr := h.auth.Authenticate(r, body, "cloudtrail", h.regions, h.cache)
	if aerr != nil {
		fail(awsproto.JSONAuthError(aerr))
		return
	}
	if operation != "LookupEvents" {
		fail(clientError("UnknownOperationException", ""))
		return
	}
	if e := h.auth.Authorize(r.Context(), caller, "cloudtrail:LookupEvents", "*", nil); e != nil {
		fail(awsproto.NewError(http.StatusBadRequest, "AccessDeniedException", e.Message).WithCause(errors.Unwrap(e)))
		return
	}
	var req lookupRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&req); err != nil {
		fail(clientError("SerializationException", "").WithCause(err))
		return
	}
	q, params, e := h.query(&req)
	ev.RequestParameters = params
	if e != nil {
		fail(e)
		return
	}
	records, err := h.records.Query(r.Context(), q)
	if err != nil {
		fail(awsproto.InternalFailure().WithCause(err))
		return
	}
	out := struct {
		Events    []event `json:"Events"`
		NextToken string  `json:"NextToken,omitempty"`
	}{Events: []event{}}
	limit := q.Limit - 1 // one more was asked for, to know whether a page follows
	for i, rec := range records {
		if i == limit {
			last := records[i-1]
			out.NextToken = encodeToken(params, store.AuditPosition{Time: last.Time, Writer: last.Writer, Seq: last.Seq})
			break
		}
		out.Events = append(out.Events, toEvent(rec))
	}
	resp, err := json.Marshal(out)
	if err != nil {
		fail(awsproto.InternalFailure().WithCause(err))
		return
	}
	if !h.record(r, ev) {
		awsproto.WriteJSONError(w, requestID, awsproto.InternalFailure())
		return
	}
	awsproto.WriteJSONResponse(w, requestID, resp)
}

func (h *Handler) record(r *http.Request, ev *audit.Event) bool {
	return audit.Commit(r.Context(), h.audit, ev, h.log)
}

// attributeKeys maps a LookupAttributeKey to how it filters.
var attributeKeys = map[string]func(q *store.AuditQuery, v string) *awsproto.Error{
	"EventId":      func(q *store.AuditQuery, v string) *awsproto.Error { q.EventID = v; return nil },
	"EventName":    func(q *store.AuditQuery, v string) *awsproto.Error { q.EventName = v; return nil },
	"Username":     func(q *store.AuditQuery, v string) *awsproto.Error { q.Username = v; return nil },
	"EventSource":  func(q *store.AuditQuery, v string) *awsproto.Error { q.EventSource = v; return nil },
	"AccessKeyId":  func(q *store.AuditQuery, v string) *awsproto.Error { q.AccessKeyID = v; return nil },
	"ResourceName": func(q *store.AuditQuery, v string) *awsproto.Error { q.Resource = v; return nil },
	"ResourceType": func(q *store.AuditQuery, v string) *awsproto.Error { q.Resource = audit.ResourceTypeKey(v); return nil },
	"ReadOnly": func(q *store.AuditQuery, v string) *awsproto.Error {
		b, err := strconv.ParseBool(v)
		if err != nil || (v != "true" && v != "false") {
			return clientError("InvalidLookupAttributesException", "ReadOnly must be true or false.")
		}
		q.ReadOnly = &b
		return nil
	},
}

// query validates req and builds the store query (asking for one record
// more than a page) and the request's parameters as an event records them.
func (h *Handler) query(req *lookupRequest) (store.AuditQuery, map[string]any, *awsproto.Error) {
	var q store.AuditQuery
	params := map[string]any{}
	// Error messages are unconfirmed: the codes are the model's.
	if len(req.LookupAttributes) > 1 {
		return q, params, clientError("InvalidLookupAttributesException", "You can specify only one lookup attribute.")
	}
	if len(req.LookupAttributes) == 1 {
		a := req.LookupAttributes[0]
		if a.AttributeKey == nil || a.AttributeValue == nil {
			return q, params, clientError("InvalidLookupAttributesException", "A lookup attribute needs both AttributeKey and AttributeValue.")
		}
		apply, ok := attributeKeys[*a.AttributeKey]
		if !ok {
			return q, params, clientError("InvalidLookupAttributesException", "The lookup attribute key "+strconv.Quote(audit.Value(*a.AttributeKey, 64))+" is not valid.")
		}
		if *a.AttributeValue == "" || utf8.RuneCountInString(*a.AttributeValue) > maxAttributeValue {
			return q, params, clientError("InvalidLookupAttributesException", "AttributeValue must be 1 to 2000 characters long.")
		}
		params["lookupAttributes"] = []map[string]string{{"attributeKey": *a.AttributeKey, "attributeValue": audit.Value(*a.AttributeValue, maxAttributeValue)}}
		if e := apply(&q, *a.AttributeValue); e != nil {
			return q, params, e
		}
	}
	start, okStart := epoch(req.StartTime)
	end, okEnd := epoch(req.EndTime)
	if !okStart || !okEnd {
		return q, params, clientError("InvalidTimeRangeException", "The time range is not valid.")
	}
	if !start.IsZero() {
		q.Since = start
		params["startTime"] = start.Format(audit.TimeFormat)
	}
	if !end.IsZero() {
		q.Until = end.Add(time.Nanosecond) // EndTime is inclusive
		params["endTime"] = end.Format(audit.TimeFormat)
	}
	if !start.IsZero() && !end.IsZero() && start.After(end) {
		return q, params, clientError("InvalidTimeRangeException", "Start time must not be after end time.")
	}
	if req.EventCategory != nil {
		if *req.EventCategory != "insight" {
			return q, params, clientError("InvalidEventCategoryException", "The event category is not valid.")
		}
		// No Insights events are recorded: an empty answer.
		q.EventID = "\x00insight"
	}
	q.Limit = maxResults + 1
	if req.MaxResults != nil {
		n, err := req.MaxResults.Int64()
		if err != nil || n < 1 || n > maxResults {
			return q, params, clientError("InvalidMaxResultsException", "MaxResults must be between 1 and 50.")
		}
		q.Limit = int(n) + 1
		params["maxResults"] = n
	}
	if req.NextToken != nil {
		pos, ok := decodeToken(*req.NextToken, params)
		if !ok {
			return q, params, clientError("InvalidNextTokenException", "The NextToken is not valid or was issued for other parameters.")
		}
		q.After = &pos
	}
	return q, params, nil
}

// epoch reads a Date member: JSON 1.1 sends epoch seconds, with a fraction.
func epoch(n *json.Number) (time.Time, bool) {
	if n == nil {
		return time.Time{}, true
	}
	f, err := n.Float64()
	if err != nil || f < 0 || f > 1e11 || math.IsNaN(f) {
		return time.Time{}, false
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC(), true
}

// A NextToken is the last record's position and a digest of the request's
// other parameters: a token used with other parameters is refused, as
// CloudTrail does.
type token struct {
	T int64  `json:"t"`
	W string `json:"w"`
	S uint64 `json:"s"`
	P string `json:"p"`
}

func paramsDigest(params map[string]any) string {
	b, _ := json.Marshal(params) // map keys sorted: stable
	sum := sha256.Sum256(b)
	return base64.RawURLEncoding.EncodeToString(sum[:12])
}

func encodeToken(params map[string]any, pos store.AuditPosition) string {
	b, _ := json.Marshal(token{T: pos.Time.UnixNano(), W: pos.Writer, S: pos.Seq, P: paramsDigest(params)})
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeToken(s string, params map[string]any) (store.AuditPosition, bool) {
	if len(s) > 1024 {
		return store.AuditPosition{}, false
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return store.AuditPosition{}, false
	}
	var t token
	if err := json.Unmarshal(b, &t); err != nil || t.P != paramsDigest(params) || t.W == "" {
		return store.AuditPosition{}, false
	}
	return store.AuditPosition{Time: time.Unix(0, t.T).UTC(), Writer: t.W, Seq: t.S}, true
}

func toEvent(rec store.AuditRecord) event {
	e := event{EventID: rec.EventID, EventName: rec.EventName, ReadOnly: strconv.FormatBool(rec.ReadOnly), AccessKeyID: rec.AccessKeyID,
		EventTime: rec.Time.Unix(), EventSource: rec.EventSource, Username: rec.Username, Resources: []resource{},
		CloudTrailEvent: string(rec.Body)}
	var body struct {
		Resources []audit.Resource `json:"resources"`
	}
	if json.Unmarshal(rec.Body, &body) == nil {
		for _, r := range body.Resources {
			e.Resources = append(e.Resources, resource{ResourceType: r.Type, ResourceName: r.ARN})
		}
	}
	return e
}
