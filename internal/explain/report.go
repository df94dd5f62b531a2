// Package explain holds what oidcfed says when it answers "why was I
// denied?": a Report of every step of an AssumeRoleWithWebIdentity
// decision (provider, key and signature, audience, time claims, each
// trust statement and condition), the plain-language hints for the known
// GitLab and GitHub mistakes, and the text and JSON renderings. It is
// pure: the STS service fills a Report as it replays a decision; the
// server and the CLI render it.
package explain

import (
	"strconv"

	"github.com/oidcfed/oidcfed/internal/iam/policy"
)

// Status is how a step ended.
type Status string

const (
	Pass Status = "pass"
	Fail Status = "fail"
	// Skip: not checked (hypothetical claims have no signature) or not
	// reached because an earlier step failed.
	Skip Status = "skip"
)

// Step names, in the order AWS checks them.
const (
	StepToken     = "token"     // compact JWS structure, algorithm, header
	StepProvider  = "provider"  // iss → the account's OIDC provider
	StepAudience  = "audience"  // aud among the provider's client IDs
	StepKey       = "key"       // the provider's JWKS has the token's kid
	StepSignature = "signature" // the signature verifies with that key
	StepClaims    = "claims"    // sub present; exp, nbf, iat against the clock
	StepRole      = "role"      // the role ARN names a role of the account
	StepTrust     = "trust"     // the role's trust policy, one step per action
	StepDuration  = "duration"  // DurationSeconds against MaxSessionDuration
)

// Report is one explained decision.
type Report struct {
	Action  string `json:"action"` // sts:AssumeRoleWithWebIdentity
	RoleARN string `json:"role_arn"`
	// Hypothetical: the claims were given, not a token (no signature,
	// provider keys or clock were consulted for them).
	Hypothetical bool `json:"hypothetical,omitempty"`
	// Unverified: the token failed verification, and the trust policy
	// steps were evaluated on its unverified claims to show what they
	// would have decided.
	Unverified bool   `json:"unverified_claims,omitempty"`
	Allowed    bool   `json:"allowed"`
	Subject    string `json:"sub,omitempty"`
	// Error is what the AWS API answers for this request (nil if allowed).
	Error *APIError `json:"error,omitempty"`
	Steps []Step    `json:"steps"`
	Hints []Hint    `json:"hints,omitempty"`
}

// APIError is the AWS-shaped answer a client would get.
type APIError struct {
	Code       string `json:"code"`
	HTTPStatus int    `json:"http_status"`
	Message    string `json:"message"`
}

// Step is one stage of the decision.
type Step struct {
	Name    string `json:"name"`
	Action  string `json:"action,omitempty"` // trust steps: the action evaluated
	Status  Status `json:"status"`
	Summary string `json:"summary"`
	// Cause is the server's reason for a failure beyond the public
	// message (which key id was missing, which claim was malformed). It
	// never holds key material or token contents beyond claim values.
	Cause      string      `json:"cause,omitempty"`
	Facts      []Fact      `json:"facts,omitempty"`
	Statements []Statement `json:"statements,omitempty"`
}

// Fact is a named value a step looked at.
type Fact struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Statement is one trust statement as evaluated for a step's action.
type Statement struct {
	Index   int    `json:"index"` // 0-based, in document order
	Sid     string `json:"sid,omitempty"`
	Effect  string `json:"effect"`
	Matched bool   `json:"matched"`
	// Failed is the first element that did not match (Principal, Action,
	// Resource, Condition...); Reason says how.
	Failed     string      `json:"failed,omitempty"`
	Reason     string      `json:"reason,omitempty"`
	Principals []string    `json:"principals,omitempty"` // Federated entries, for hints
	Actions    []string    `json:"actions,omitempty"`
	Conditions []Condition `json:"conditions,omitempty"`
	// Decided: this statement is the one that decided the action.
	Decided bool `json:"decided,omitempty"`
}

// Condition is one (operator, key) test with what was expected and what
// the request had.
type Condition struct {
	Operator   string   `json:"operator"`
	Key        string   `json:"key"`
	Expected   []string `json:"expected"`
	Actual     []string `json:"actual"` // nil when the key is missing
	KeyPresent bool     `json:"key_present"`
	// Result: "true", "false", or "not evaluated" (an earlier element of
	// the statement failed).
	Result string `json:"result"`
	Note   string `json:"note,omitempty"`
}

// Hint is advice for a known mistake.
type Hint struct {
	ID      string `json:"id"`
	Message string `json:"message"`
	Fix     string `json:"fix"`
}

// Step returns the report's step called name (the first, for trust), or
// nil.
func (r *Report) Step(name string) *Step {
	for i := range r.Steps {
		if r.Steps[i].Name == name {
			return &r.Steps[i]
		}
	}
	return nil
}

// TrustStep renders a trust-policy evaluation for action: every
// statement, every condition, and which statement decided.
func TrustStep(action string, trust *policy.Policy, d policy.Decision, expl []policy.StatementExplanation) Step {
	st := Step{Name: StepTrust, Action: action, Status: Fail}
	switch d.Effect {
	case policy.Allow:
		st.Status = Pass
		st.Summary = "allowed by statement " + statementLabel(d.Statement, trust.Statements[d.Statement].Sid)
	case policy.ExplicitDeny:
		st.Summary = "explicitly denied by statement " + statementLabel(d.Statement, trust.Statements[d.Statement].Sid)
	default:
		st.Summary = "no statement allows " + action
	}
	for _, e := range expl {
		s := trust.Statements[e.Statement]
		out := Statement{Index: e.Statement, Sid: e.Sid, Effect: e.Effect.String(), Matched: e.Matched,
			Failed: e.Failed, Reason: e.Reason, Decided: e.Statement == d.Statement && d.Effect != policy.ImplicitDeny}
		if s.Principal != nil {
			out.Principals = s.Principal.Federated
		}
		out.Actions = s.Action
		if s.NotAction != nil {
			out.Actions = nil
		}
		for _, c := range e.Conditions {
			out.Conditions = append(out.Conditions, conditionOf(c.ConditionTrace, boolText(c.Satisfied)))
		}
		for _, c := range e.NotEvaluated {
			out.Conditions = append(out.Conditions, conditionOf(c, "not evaluated"))
		}
		st.Statements = append(st.Statements, out)
	}
	return st
}

func conditionOf(c policy.ConditionTrace, result string) Condition {
	return Condition{Operator: c.Operator, Key: c.Key, Expected: c.Expected, Actual: c.Actual,
		KeyPresent: c.KeyPresent, Result: result, Note: c.Reason}
}

func boolText(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

func statementLabel(i int, sid string) string {
	label := "#" + strconv.Itoa(i)
	if sid != "" {
		label += " (" + sid + ")"
	}
	return label
}
