package sts

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strconv"
	"time"
	"unsafe"

	"github.com/oidcfed/oidcfed/internal/audit"
	"github.com/oidcfed/oidcfed/internal/awsproto"
	"github.com/oidcfed/oidcfed/internal/federation"
	"github.com/oidcfed/oidcfed/internal/httpx"
	"github.com/oidcfed/oidcfed/internal/iam/policy"
)

// Audit: every STS request is recorded before it is answered (see package
// audit). The handler starts the event with what the request says; the
// service adds who the caller is, the token's hash and claims, the job, and
// a denial's trace, through the request's context.

// maxAuditValue bounds a request value copied into an event: a parameter
// can be as large as the body, and the audit log must not be a way to
// fill the disk. Valid values are all shorter (a session policy is at most
// 2,048 characters).
const maxAuditValue = 2048

// auditValue is s, bounded for the audit record.
func auditValue(s string) string { return audit.Value(s, maxAuditValue) }

// cloudTrailExpiration is how CloudTrail writes a credential's expiration.
func cloudTrailExpiration(t time.Time) string { return t.UTC().Format("Jan 2, 2006, 3:04:05 PM") }

// startEvent begins the audit event of an STS request and puts it in the
// request's context.
func (h *Handler) startEvent(r *http.Request, requestID string) (*audit.Event, *http.Request) {
	ev := &audit.Event{
		EventSource: audit.SourceSTS, AWSRegion: h.opts.Region, SourceIPAddress: httpx.RemoteIP(r), UserAgent: auditValue(r.UserAgent()),
		RequestID: requestID, RecipientAccountID: h.svc.dir.Account(), ReadOnly: true,
		UserIdentity: audit.UserIdentity{Type: "Unknown"},
	}
	return ev, r.WithContext(audit.WithEvent(r.Context(), ev))
}

// record commits ev to the audit log; false when it could not be, and the
// request must then fail without issuing anything.
func (h *Handler) record(r *http.Request, ev *audit.Event) bool {
	return audit.Commit(r.Context(), h.opts.Audit, ev, h.opts.Log)
}

// succeed records ev and, once it is durable, writes the response.
func (h *Handler) succeed(w http.ResponseWriter, r *http.Request, ev *audit.Event, action string, result func(*awsproto.XMLWriter)) {
	if !h.record(r, ev) {
		awsproto.WriteQueryError(w, Namespace, ev.RequestID, awsproto.InternalFailure())
		return
	}
	awsproto.WriteQueryResponse(w, Namespace, action, ev.RequestID, result)
}

// roleResource is the resources element naming the role an assume call
// is for.
func roleResource(account, roleARN string) []audit.Resource {
	if roleARN == "" {
		return nil
	}
	return []audit.Resource{{AccountID: account, Type: "AWS::IAM::Role", ARN: auditValue(roleARN)}}
}

// assumeParameters is the requestParameters element of both assume calls
// (never the token).
func assumeParameters(roleARN, sessionName, sessionPolicy string, policyARNs []string, duration *int64) map[string]any {
	p := map[string]any{"roleArn": auditValue(roleARN), "roleSessionName": auditValue(sessionName)}
	if duration != nil {
		p["durationSeconds"] = *duration
	}
	if sessionPolicy != "" {
		p["policy"] = auditValue(sessionPolicy)
	}
	if len(policyARNs) > 0 {
		arns := make([]map[string]string, 0, len(policyARNs))
		for _, a := range policyARNs {
			arns = append(arns, map[string]string{"arn": auditValue(a)})
		}
		p["policyArns"] = arns
	}
	return p
}

// assumedResponse is the responseElements part both assume calls share;
// the secret key and session token are never in it.
func assumedResponse(c Credentials, roleID, roleARN, sourceIdentity string, packed *int) map[string]any {
	out := map[string]any{
		"credentials":     audit.Fields{{Name: "accessKeyId", Value: c.AccessKeyID}, {Name: "expiration", Value: cloudTrailExpiration(c.Expiration)}},
		"assumedRoleUser": audit.Fields{{Name: "arn", Value: roleARN}, {Name: "assumedRoleId", Value: roleID}},
	}
	if packed != nil {
		out["packedPolicySize"] = *packed
	}
	if sourceIdentity != "" {
		out["sourceIdentity"] = sourceIdentity
	}
	return out
}

// noteToken records the web identity token's hash (never the token).
func noteToken(ctx context.Context, token string) {
	ev := audit.FromContext(ctx)
	if ev == nil || token == "" {
		return
	}
	// Hashed where it lies: converting the token (about 1 KB) to []byte
	// copied it for every request, and Sum256 only reads its input.
	sum := sha256.Sum256(unsafe.Slice(unsafe.StringData(token), len(token)))
	ev.OIDCFed.Token = &audit.Token{SHA256: hex.EncodeToString(sum[:])}
}

// callerIdentity is CloudTrail's userIdentity of a signed request.
func (s *Service) callerIdentity(c *Caller, accessKeyID string) audit.UserIdentity {
	account := s.dir.Account()
	switch {
	case c.Root:
		return audit.UserIdentity{Type: "Root", PrincipalID: account, ARN: "arn:aws:iam::" + account + ":root", AccountID: account, AccessKeyID: accessKeyID}
	case c.User != nil:
		return audit.UserIdentity{Type: "IAMUser", PrincipalID: c.User.ID, ARN: c.User.ARN, AccountID: account, AccessKeyID: accessKeyID, UserName: c.User.Name}
	}
	sess := c.Session
	_, roleName := roleNameFromARN(sess.RoleARN)
	id := audit.UserIdentity{
		Type: "AssumedRole", PrincipalID: sess.RoleID + ":" + sess.SessionName, ARN: assumedRoleARN(account, roleName, sess.SessionName),
		AccountID: account, AccessKeyID: accessKeyID,
		SessionContext: &audit.SessionContext{
			SessionIssuer:  &audit.SessionIssuer{Type: "Role", PrincipalID: sess.RoleID, ARN: sess.RoleARN, AccountID: account, UserName: roleName},
			Attributes:     audit.SessionAttributes{CreationDate: sess.IssuedAt.UTC().Format(audit.TimeFormat), MFAAuthenticated: "false"},
			SourceIdentity: sess.SourceIdentity,
		},
	}
	if sess.ProviderARN != "" {
		id.SessionContext.WebIDFederationData = &audit.WebIDFederationData{FederatedProvider: sess.ProviderARN, Attributes: map[string]string{}}
	}
	return id
}

// noteCaller records who signed a request, and for a web-identity session
// the subject and what it says of the job.
func (s *Service) noteCaller(ctx context.Context, c *Caller, accessKeyID string) {
	ev := audit.FromContext(ctx)
	if ev == nil {
		return
	}
	ev.UserIdentity = s.callerIdentity(c, accessKeyID)
	if c.Session != nil && c.Session.Subject != "" {
		ev.Subject = c.Session.Subject
		ev.OIDCFed.Job = audit.JobFromSubject(c.Session.Subject)
	}
}

// noteDecision records a refusing policy decision's trace; labels name
// the policies in the order they were evaluated.
func noteDecision(ctx context.Context, labels []string, trace []policy.StatementTrace) {
	ev := audit.FromContext(ctx)
	if ev == nil {
		return
	}
	if ev.OIDCFed.Denial == nil {
		ev.OIDCFed.Denial = &audit.Denial{}
	}
	out := make([]audit.Statement, 0, len(trace))
	for _, st := range trace {
		label := "policy " + strconv.Itoa(st.Policy+1)
		if st.Policy < len(labels) {
			label = labels[st.Policy]
		}
		a := audit.Statement{Policy: label, Statement: st.Statement + 1, Sid: st.Sid, Effect: st.Effect.String(),
			Matched: st.Matched, Failed: st.Failed, Reason: st.Reason}
		if c := st.Condition; c != nil {
			a.Condition = &audit.Condition{Operator: c.Operator, Key: c.Key, Expected: c.Expected, Actual: c.Actual}
		}
		out = append(out, a)
	}
	ev.OIDCFed.Denial.Trace = out
}

// noteWebIdentity records the verified token's identity: its subject as
// the user, a few claims (never the token), and the job they describe.
func noteWebIdentity(ctx context.Context, v *federation.Verified) {
	ev := audit.FromContext(ctx)
	if ev == nil {
		return
	}
	c := v.Claims
	ev.Subject = c.Subject
	ev.UserIdentity.UserName = c.Subject
	if ev.OIDCFed.Token == nil {
		ev.OIDCFed.Token = &audit.Token{}
	}
	t := ev.OIDCFed.Token
	t.Issuer, t.Subject, t.Audience = c.Issuer, c.Subject, c.Audience
	if jti, ok := c.Raw["jti"].(string); ok {
		t.JTI = auditValue(jti)
	}
	if !c.IssuedAt.IsZero() {
		t.IssuedAt = c.IssuedAt.Unix()
	}
	if !c.Expiry.IsZero() {
		t.ExpiresAt = c.Expiry.Unix()
	}
	ev.OIDCFed.Job = audit.JobFromClaims(c.Raw)
}

// policyLabels names the policies of a session decision in evaluation
// order: the identity's, then the session's.
func policyLabels(identity, session int) []string {
	out := make([]string, 0, identity+session)
	for i := range identity {
		out = append(out, "identity policy "+strconv.Itoa(i+1))
	}
	for i := range session {
		out = append(out, "session policy "+strconv.Itoa(i+1))
	}
	return out
}
