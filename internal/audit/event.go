// Package audit records every call the server answers as a CloudTrail
// event, durably and in hash chains, and reads them back.
//
// Handlers build an Event for each request and pass it to Log.Record
// before they answer: Record returns once the event is committed to its
// Backend — the journal beside the embedded store, or PostgreSQL — (and
// the optional JSON Lines sink), or with an error, in which
// case the handler answers with a 5xx and issues nothing. Concurrent
// records share one commit (group commit). Each record carries the
// SHA-256 of the one before it from the same writer, so a removed,
// reordered or edited record breaks the chain (Verify).
//
// What an event may hold is decided here and in the handlers that build
// them: never a web identity token (its SHA-256 and a few claims instead),
// a secret access key, a session token, a KMS plaintext or a private key.
package audit

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// EventVersion is the CloudTrail record version these events follow.
const EventVersion = "1.08"

// Event sources, as CloudTrail names them; the issuer is oidcfed's own.
const (
	SourceSTS    = "sts.amazonaws.com"
	SourceIAM    = "iam.amazonaws.com"
	SourceKMS    = "kms.amazonaws.com"
	SourceECR    = "ecr.amazonaws.com"
	SourceIssuer = "issuer.oidcfed"
	// SourceOperator is oidcfed's operator API (/api/v1/explain).
	SourceOperator = "api.oidcfed"
)

// Event is one CloudTrail record (the fields of eventVersion 1.08 this
// server has anything to say in), plus the "oidcfed" extension.
type Event struct {
	EventVersion        string         `json:"eventVersion"`
	UserIdentity        UserIdentity   `json:"userIdentity"`
	EventTime           string         `json:"eventTime"`
	EventSource         string         `json:"eventSource"`
	EventName           string         `json:"eventName"`
	AWSRegion           string         `json:"awsRegion"`
	SourceIPAddress     string         `json:"sourceIPAddress"`
	UserAgent           string         `json:"userAgent"`
	ErrorCode           string         `json:"errorCode,omitempty"`
	ErrorMessage        string         `json:"errorMessage,omitempty"`
	RequestParameters   map[string]any `json:"requestParameters"`
	ResponseElements    map[string]any `json:"responseElements"`
	AdditionalEventData map[string]any `json:"additionalEventData,omitempty"`
	RequestID           string         `json:"requestID"`
	EventID             string         `json:"eventID"`
	ReadOnly            bool           `json:"readOnly"`
	Resources           []Resource     `json:"resources,omitempty"`
	EventType           string         `json:"eventType"`
	ManagementEvent     bool           `json:"managementEvent"`
	RecipientAccountID  string         `json:"recipientAccountId"`
	EventCategory       string         `json:"eventCategory"`
	// OIDCFed is beyond CloudTrail: the CI job behind the call, the token
	// it presented, why it was refused, and the record's place in its
	// chain. Always present, and always last (Log relies on it).
	OIDCFed Extension `json:"oidcfed"`

	// Time is when the call was made (EventTime is it, formatted).
	Time time.Time `json:"-"`
	// Subject is the web identity (token sub) behind the call, for
	// lookups; "" when none.
	Subject string `json:"-"`
}

// UserIdentity is CloudTrail's userIdentity element.
type UserIdentity struct {
	Type             string          `json:"type"` // Root, IAMUser, AssumedRole, WebIdentityUser, Unknown
	PrincipalID      string          `json:"principalId,omitempty"`
	ARN              string          `json:"arn,omitempty"`
	AccountID        string          `json:"accountId,omitempty"`
	AccessKeyID      string          `json:"accessKeyId,omitempty"`
	UserName         string          `json:"userName,omitempty"`
	IdentityProvider string          `json:"identityProvider,omitempty"`
	SessionContext   *SessionContext `json:"sessionContext,omitempty"`
}

// SessionContext describes a role session's origin.
type SessionContext struct {
	SessionIssuer       *SessionIssuer       `json:"sessionIssuer,omitempty"`
	WebIDFederationData *WebIDFederationData `json:"webIdFederationData,omitempty"`
	Attributes          SessionAttributes    `json:"attributes"`
	SourceIdentity      string               `json:"sourceIdentity,omitempty"`
}

// SessionIssuer is the role a session belongs to.
type SessionIssuer struct {
	Type        string `json:"type"`
	PrincipalID string `json:"principalId"`
	ARN         string `json:"arn"`
	AccountID   string `json:"accountId"`
	UserName    string `json:"userName"`
}

// WebIDFederationData names the identity provider of a web-identity session.
type WebIDFederationData struct {
	FederatedProvider string            `json:"federatedProvider"`
	Attributes        map[string]string `json:"attributes"`
}

// SessionAttributes are a session's creation time and MFA flag.
type SessionAttributes struct {
	CreationDate     string `json:"creationDate"`
	MFAAuthenticated string `json:"mfaAuthenticated"`
}

// Resource is one entry of CloudTrail's resources list.
type Resource struct {
	AccountID string `json:"accountId,omitempty"`
	Type      string `json:"type"`
	ARN       string `json:"ARN"`
}

// Extension is the "oidcfed" element.
type Extension struct {
	Job    *Job    `json:"job,omitempty"`
	Token  *Token  `json:"token,omitempty"`
	Denial *Denial `json:"denial,omitempty"`
	// Lint holds the trust-policy findings of an IAM write linted on the
	// way in (lint_on_write: warn records them; deny refuses).
	Lint []LintFinding `json:"lint,omitempty"`
	// Chain is set by Log.Record.
	Chain *Chain `json:"chain,omitempty"`
}

// LintFinding is one lint finding as the audit trail keeps it.
type LintFinding struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Severity string `json:"severity"`
	Message  string `json:"message"`
}

// Job is the CI job behind a call, from its token's claims (GitLab's
// names). For calls signed with a session, what the session's subject
// says (project_path, ref_type, ref).
type Job struct {
	ProjectPath   string `json:"project_path,omitempty"`
	NamespacePath string `json:"namespace_path,omitempty"`
	Ref           string `json:"ref,omitempty"`
	RefType       string `json:"ref_type,omitempty"`
	PipelineID    string `json:"pipeline_id,omitempty"`
	JobID         string `json:"job_id,omitempty"`
	SHA           string `json:"sha,omitempty"`
	UserLogin     string `json:"user_login,omitempty"`
	Environment   string `json:"environment,omitempty"`
}

// Token identifies a web identity token without holding it.
type Token struct {
	SHA256    string   `json:"sha256"`
	Issuer    string   `json:"iss,omitempty"`
	Subject   string   `json:"sub,omitempty"`
	Audience  []string `json:"aud,omitempty"`
	JTI       string   `json:"jti,omitempty"`
	IssuedAt  int64    `json:"iat,omitempty"`
	ExpiresAt int64    `json:"exp,omitempty"`
}

// Denial says why a call was refused: the cause the client was not told,
// and the policy decision's trace when a policy decided.
type Denial struct {
	Reason string      `json:"reason"`
	Trace  []Statement `json:"trace,omitempty"`
}

// Statement is how one policy statement fared in a decision.
type Statement struct {
	Policy    string     `json:"policy"` // "trust policy", a managed policy ARN, "inline policy NAME", "session policy"
	Statement int        `json:"statement"`
	Sid       string     `json:"sid,omitempty"`
	Effect    string     `json:"effect"`
	Matched   bool       `json:"matched"`
	Failed    string     `json:"failed,omitempty"` // the element that did not match
	Reason    string     `json:"reason,omitempty"`
	Condition *Condition `json:"condition,omitempty"`
}

// Condition is the condition that failed: what the policy wanted and what
// the request had.
type Condition struct {
	Operator string   `json:"operator"`
	Key      string   `json:"key"`
	Expected []string `json:"expected"`
	Actual   []string `json:"actual"`
}

// Chain is a record's place in its writer's hash chain.
type Chain struct {
	Writer string `json:"writer"`
	Seq    uint64 `json:"seq"`
	// Prev is the hex SHA-256 of the previous record's bytes; 64 zeros for
	// a chain's first record.
	Prev string `json:"prev"`
}

// TimeFormat is CloudTrail's eventTime layout.
const TimeFormat = "2006-01-02T15:04:05Z"

// Recorder is what handlers record their events with (a *Log; nil in a
// handler's options means the server runs without an audit log).
type Recorder interface {
	Record(ctx context.Context, ev *Event) error
}

// JobFromClaims is the job context of a GitLab-shaped token's claims.
func JobFromClaims(claims map[string]any) *Job {
	str := func(name string) string {
		switch v := claims[name].(type) {
		case string:
			return v
		case fmt.Stringer: // json.Number
			return v.String()
		}
		return ""
	}
	j := &Job{
		ProjectPath: str("project_path"), NamespacePath: str("namespace_path"), Ref: str("ref"), RefType: str("ref_type"),
		PipelineID: str("pipeline_id"), JobID: str("job_id"), SHA: str("sha"), UserLogin: str("user_login"),
		Environment: str("environment"),
	}
	if *j == (Job{}) {
		return nil
	}
	return j
}

// JobFromSubject is what a GitLab subject
// (project_path:G/P:ref_type:branch:ref:main) says of the job; nil for any
// other shape.
func JobFromSubject(sub string) *Job {
	rest, ok := strings.CutPrefix(sub, "project_path:")
	if !ok {
		return nil
	}
	project, rest, ok := strings.Cut(rest, ":ref_type:")
	if !ok {
		return nil
	}
	refType, ref, ok := strings.Cut(rest, ":ref:")
	if !ok {
		return nil
	}
	return &Job{ProjectPath: project, RefType: refType, Ref: ref}
}

// ResourceTypeKey is how a resource type is kept among a record's
// resource names, for lookups by type (ResourceType): no ARN or name
// starts with it.
func ResourceTypeKey(t string) string { return "type:" + t }
