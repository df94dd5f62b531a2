// Package policy parses, validates and evaluates AWS IAM policy documents: identity policies,
// role trust policies and session policies. It is pure (no I/O, no clock, no store): callers
// hand it the document bytes and a Request whose Context already holds every condition key
// (aws:CurrentTime included), so a decision is a function of its inputs and tests drive it.
//
// Semantics follow the IAM User Guide (policy grammar, evaluation logic, condition operators,
// multi-valued keys, policy variables). Where the guide is silent, the choice is documented
// where it is made and, for Allow statements, is the one that grants less:
//
//   - duplicate JSON member names are refused (AWS keeps one of two "StringEquals" blocks);
//   - a single-valued operator on a multi-valued key: positive → any value matches, negated →
//     no value matches (Condition.test);
//   - a request value an operator cannot read (a non-number for Numeric*) satisfies neither the
//     operator nor its negation;
//   - a policy variable with no value (and no default) is effectively null, as AWS documents:
//     the Resource or NotResource entry holding it matches no resource (so a NotResource
//     entry excludes nothing), and the condition holding it does not match, unless its
//     operator is negated (StringNotEquals, StringNotLike, ArnNotLike...), which matches;
//   - {"AWS": "*"} matches AWS principals only, never a web identity;
//   - ArnLike patterns with colons but fewer than six components match nothing.
package policy

import (
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// Policy language versions. A document without Version gets 2008-10-17 semantics, in which
// "${...}" is literal text rather than a policy variable.
const (
	Version2008 = "2008-10-17"
	Version2012 = "2012-10-17"
)

// AWS quotas on policy size, in characters not counting JSON whitespace (as IAM counts them).
const (
	MaxTrustPolicySize      = 2048  // AssumeRolePolicyDocument, default quota (raisable to 4096)
	MaxManagedPolicySize    = 6144  // one customer managed policy version
	MaxInlineRolePolicySize = 10240 // aggregate of a role's inline policies
	MaxSessionPolicySize    = 2048  // inline session policy plaintext (STS Policy parameter)
	MaxKeyPolicySize        = 32768 // KMS key policy (bytes, AWS's quota)
	MaxRepositoryPolicySize = 10240 // ECR repository policy (the model's RepositoryPolicyText)

	// MaxDocumentChars is the longest policyDocumentType the IAM and STS service models accept
	// at all; it bounds the work done on a document whatever quota the caller applies.
	MaxDocumentChars = 131072
)

// Kind says which rules a document must follow beyond the common grammar.
type Kind int

const (
	// IdentityPolicy is attached to a role (inline or managed): no Principal, Resource required.
	IdentityPolicy Kind = iota
	// TrustPolicy is a role's AssumeRolePolicyDocument: Principal required, no Resource.
	TrustPolicy
	// SessionPolicy is passed to AssumeRole*: the identity-policy rules, a smaller quota.
	SessionPolicy
	// ResourcePolicy is attached to a resource (a KMS key policy): Principal and Resource
	// required.
	ResourcePolicy
	// RepositoryPolicy is an ECR repository policy: Principal required, Resource optional
	// (a statement without one is about the repository it is attached to).
	RepositoryPolicy
)

func (k Kind) String() string {
	switch k {
	case IdentityPolicy:
		return "identity policy"
	case TrustPolicy:
		return "trust policy"
	case SessionPolicy:
		return "session policy"
	case ResourcePolicy:
		return "resource policy"
	case RepositoryPolicy:
		return "repository policy"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// MaxSize is the kind's default AWS quota.
func (k Kind) MaxSize() int {
	switch k {
	case TrustPolicy:
		return MaxTrustPolicySize
	case SessionPolicy:
		return MaxSessionPolicySize
	case ResourcePolicy:
		return MaxKeyPolicySize
	case RepositoryPolicy:
		return MaxRepositoryPolicySize
	}
	return MaxInlineRolePolicySize
}

// MalformedError is IAM's MalformedPolicyDocument (HTTP 400). Message is the text AWS puts
// in the error response; the HTTP layer sends it as is.
type MalformedError struct {
	Message string
}

func (e *MalformedError) Error() string { return "MalformedPolicyDocument: " + e.Message }

// LimitError reports a document over its size quota. AWS answers these with LimitExceeded
// (and a quota-specific message the IAM layer knows), not MalformedPolicyDocument, hence a
// separate type.
type LimitError struct {
	Size  int // characters counted as IAM counts them (JSON whitespace excluded)
	Limit int
}

func (e *LimitError) Error() string {
	return fmt.Sprintf("policy document is %d characters, over the limit of %d", e.Size, e.Limit)
}

// AWS-confirmed MalformedPolicyDocument messages (seen in CloudTrail records and SDK error
// reports); the others are written next to where they are raised, marked when unconfirmed.
const (
	msgSyntax       = "Syntax errors in policy."
	msgLegacyParse  = "The policy failed legacy parsing"
	msgActionColons = "Actions/Condition can contain only one colon."
)

func malformed(msg string) error { return &MalformedError{Message: msg} }

// Effect of a statement.
type Effect int

const (
	EffectAllow Effect = iota + 1
	EffectDeny
)

func (e Effect) String() string {
	switch e {
	case EffectAllow:
		return "Allow"
	case EffectDeny:
		return "Deny"
	}
	return "Effect(?)"
}

// Policy is a parsed, validated document. It is immutable and safe for concurrent Evaluate.
type Policy struct {
	Version    string // as written; "" when absent
	ID         string
	Statements []*Statement

	variables bool // Version 2012-10-17: ${...} is a policy variable
	// namesPrincipals: some Principal or NotPrincipal names an AWS
	// principal other than a whole account (EvaluateResource's second
	// evaluation is needed only then).
	namesPrincipals bool
}

// Statement is one element of Statement. Exactly one of Action/NotAction is set; at most one of
// Resource/NotResource and of Principal/NotPrincipal (Validate checks what a Kind requires).
type Statement struct {
	Sid          string
	Effect       Effect
	Principal    *Principals
	NotPrincipal *Principals
	Action       []string // as written; matched case-insensitively
	NotAction    []string
	Resource     []string // as written; matched case-sensitively, globs and variables
	NotResource  []string
	Conditions   []*Condition // document order: operator blocks, then keys within each

	actions   []template // compiled Action or NotAction
	resources []template // compiled Resource or NotResource
}

// Principals is the value of Principal or NotPrincipal. Any is the bare "*".
type Principals struct {
	Any           bool
	AWS           []string // as written (an account id stays an account id)
	Federated     []string
	Service       []string
	CanonicalUser []string

	one [1]string // the backing array of the first list of one value
}

// Condition is one (operator, key) pair of a Condition block with its policy values.
type Condition struct {
	Operator string // as written, e.g. "ForAnyValue:StringLikeIfExists"
	Key      string // as written; matched case-insensitively
	Values   []string

	op           operator
	hasVariables bool // a String*/Arn* value has a policy variable
	keyLow       string
	values       []template   // compiled Values, kept only when hasVariables
	globs        []string     // Values in escaped-glob form (StringLike, Arn*); shares Values when equal
	typed        *typedValues // the typed operators' values, parsed once (no variables there)
}

// typedValues are a Numeric, Date, IpAddress or Binary condition's values,
// parsed. They sit behind a pointer because most conditions (String*, Arn*)
// have none, and every cached role holds its conditions.
type typedValues struct {
	numbers  []float64
	dates    []time.Time
	prefixes []netip.Prefix
	binaries [][]byte
}

// UsesKey reports whether a condition of p tests the key prefix+name, or
// a policy variable in it reads that key (names compared as IAM does,
// case-insensitively). STS asks it of a role's trust policy to put in the
// request context only the token claims the policy can see, rather than
// every claim of every token.
func (p *Policy) UsesKey(prefix, name string) bool {
	is := func(keyLow string) bool {
		return len(keyLow) == len(prefix)+len(name) &&
			strings.EqualFold(keyLow[:len(prefix)], prefix) && strings.EqualFold(keyLow[len(prefix):], name)
	}
	inTemplates := func(ts []template) bool {
		for _, t := range ts {
			for _, part := range t.parts {
				if part.kind == partVariable && is(part.keyLow) {
					return true
				}
			}
		}
		return false
	}
	for _, s := range p.Statements {
		if inTemplates(s.actions) || inTemplates(s.resources) {
			return true
		}
		for _, c := range s.Conditions {
			if is(c.keyLow) || inTemplates(c.values) {
				return true
			}
		}
	}
	return false
}
