// Package lint finds dangerous or broken web-identity trust policies before they are used:
// roles any project on a shared CI issuer can assume, sub patterns that cross a namespace
// boundary, wildcard refs on roles that can write or sign, conditions that can never match or
// that are true when a claim is missing, and the like (Rules lists every check).
//
// It is pure: no I/O and no clock. Callers hand it the trust document as written plus what
// they know about the account (its OIDC providers) and the role (its permissions, its
// MaxSessionDuration); whatever is unknown is left out and the checks needing it are skipped
// or, for "can this role write or sign", reported at Info severity.
//
// Provider formats. A provider's condition-key prefix is its URL without the scheme
// ("gitlab.example.com", "token.actions.githubusercontent.com"). Its claim format is decided
// from the URL, since nothing else says it:
//
//   - token.actions.githubusercontent.com (with or without a GHEC enterprise path) and GitHub
//     Enterprise Server issuers (https://HOST/_services/token) mint GitHub-format tokens;
//   - every other issuer is taken to mint GitLab-format tokens: gitlab.com, self-managed
//     GitLab and oidcfed's own issuer do, and they are what oidcfed users trust. The
//     format-specific checks look at the pattern too (a GitLab sub starts with
//     "project_path:", a GitHub one with "repo:"), so an issuer of another format (EKS
//     service accounts, say) gets no false findings from them.
//
// gitlab.com and token.actions.githubusercontent.com are shared issuers: anyone can get a
// token from them, so trusting them without binding the project is Critical, where on a
// self-managed issuer it is High.
package lint

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/oidcfed/oidcfed/internal/iam/policy"
)

// Severity ranks findings. The zero value, None, is what Max returns for no findings.
type Severity int

const (
	None Severity = iota
	Info
	Low
	Medium
	High
	Critical
)

var severityNames = [...]string{"none", "info", "low", "medium", "high", "critical"}

func (s Severity) String() string {
	if s < None || s > Critical {
		return fmt.Sprintf("Severity(%d)", int(s))
	}
	return severityNames[s]
}

// ParseSeverity reads a severity name, case-insensitively ("none" included).
func ParseSeverity(name string) (Severity, error) {
	for i, n := range severityNames {
		if strings.EqualFold(name, n) {
			return Severity(i), nil
		}
	}
	return None, fmt.Errorf("unknown severity %q: want info, low, medium, high or critical", name)
}

// MarshalText writes the lower-case name, so JSON carries "high", not 4.
func (s Severity) MarshalText() ([]byte, error) {
	if s < None || s > Critical {
		return nil, fmt.Errorf("invalid severity %d", int(s))
	}
	return []byte(s.String()), nil
}

// UnmarshalText reads what MarshalText writes.
func (s *Severity) UnmarshalText(b []byte) error {
	v, err := ParseSeverity(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// Finding is one problem in one place of a trust policy (or of the role).
type Finding struct {
	ID       string   `json:"id"`   // stable rule id, e.g. "OIDC001"
	Name     string   `json:"name"` // the rule's kebab-case slug, e.g. "no-sub-condition"
	Severity Severity `json:"severity"`
	// Message explains the problem in this policy, quoting the offending value.
	Message string `json:"message"`
	// Why says in one plain sentence why the rule matters (the same for every finding of it).
	Why string `json:"why"`
	// Fix says what to write instead, concretely.
	Fix string `json:"fix"`
	// Statement is the statement's index, -1 for a finding about the document or the role.
	Statement int    `json:"statement"`
	Sid       string `json:"sid,omitempty"`
	// Path locates it: Statement[0].Condition.StringLike["gitlab.com:sub"], MaxSessionDuration.
	Path string `json:"path"`
	// Line is the 1-based line of the document where Path starts; 0 when it has none (the
	// role's MaxSessionDuration).
	Line int `json:"line,omitempty"`
}

// String is the finding on one line: "OIDC001 no-sub-condition (critical) at PATH: MESSAGE",
// what an error refusing the policy can say.
func (f Finding) String() string {
	return fmt.Sprintf("%s %s (%s) at %s: %s", f.ID, f.Name, f.Severity, f.Path, f.Message)
}

// Provider is one of the account's OIDC providers. URL is the issuer
// ("https://gitlab.com"); AWS's GetOpenIDConnectProvider returns it without the scheme, which
// is accepted too. ARN may be left empty when the account is unknown: the provider is then
// matched by URL.
type Provider struct {
	ARN       string
	URL       string
	ClientIDs []string
}

// name is the ARN, or the URL when the ARN is not known.
func (p Provider) name() string {
	if p.ARN != "" {
		return p.ARN
	}
	return p.URL
}

// Role is what is known about the role besides its trust document; every field is optional.
type Role struct {
	Name               string
	MaxSessionDuration time.Duration // 0: unknown
	// Permissions are the role's identity policies (inline and attached). nil means unknown;
	// a non-nil empty slice means the role has none. They decide whether the role "can write
	// or sign" (see CanWriteOrSign).
	Permissions []*policy.Policy
}

// Input is one trust policy to lint and its context.
type Input struct {
	Trust   string // the trust policy JSON as written
	Account string // the role's account id; "" skips the account checks
	// Providers are the account's OIDC providers; nil skips the checks needing them (is the
	// Federated principal one of them, are aud values among their client ids).
	Providers []Provider
	Role      Role
}

// Trust lints a role's trust policy. The error is non-nil only when the document does not
// parse; it is then the parser's *policy.MalformedError, and the findings hold the
// explanation of a cause lint knows (an Allow statement with NotPrincipal, which oidcfed and
// AWS refuse), if that is the cause. Findings come most severe first.
func Trust(in Input) ([]Finding, error) {
	doc := []byte(in.Trust)
	// No size quota: whether the document fits the role's quota is the IAM layer's answer
	// (LimitExceeded); lint reads whatever it is given, up to the service model's maximum.
	p, err := policy.ParseWithLimit(doc, 0)
	if err == nil {
		err = p.Validate(policy.TrustPolicy)
	}
	if err != nil {
		var malformed *policy.MalformedError
		if !errors.As(err, &malformed) {
			// Only an over-the-maximum document gets here: report it the way IAM would.
			malformed = &policy.MalformedError{Message: err.Error()}
		}
		return locate(doc, sortFindings(allowNotPrincipal(doc))), malformed
	}
	l := &linter{in: in, providers: in.Providers}
	l.run(p)
	return locate(doc, sortFindings(l.findings)), nil
}

// locate sets each finding's Line.
func locate(doc []byte, fs []Finding) []Finding {
	if len(fs) == 0 {
		return fs
	}
	idx := indexLines(doc)
	for i := range fs {
		fs[i].Line = idx.lineOf(fs[i].Path)
	}
	return fs
}

// Max is the highest severity among fs, None when there are none.
func Max(fs []Finding) Severity {
	m := None
	for _, f := range fs {
		m = max(m, f.Severity)
	}
	return m
}

// TrustsWebIdentity reports whether some Allow statement of p lets a web identity
// (a Federated principal, or "*") call sts:AssumeRoleWithWebIdentity: the roles lint is for.
func TrustsWebIdentity(p *policy.Policy) bool {
	for _, s := range p.Statements {
		if isWebIdentityStatement(s) {
			return true
		}
	}
	return false
}

const assumeWebIdentity = "sts:AssumeRoleWithWebIdentity"

func isWebIdentityStatement(s *policy.Statement) bool {
	if s.Effect != policy.EffectAllow || s.Principal == nil {
		return false
	}
	if !s.Principal.Any && len(s.Principal.Federated) == 0 {
		return false
	}
	return allowsAction(s, assumeWebIdentity)
}

// allowsAction: the statement's Action (or NotAction) covers action.
func allowsAction(s *policy.Statement, action string) bool {
	if s.NotAction != nil {
		return !slices.ContainsFunc(s.NotAction, func(p string) bool { return globFold(p, action) })
	}
	return slices.ContainsFunc(s.Action, func(p string) bool { return globFold(p, action) })
}

// sortFindings orders by severity (most severe first), then statement (document-level last),
// then rule id and path, so output is stable.
func sortFindings(fs []Finding) []Finding {
	stmt := func(i int) int {
		if i < 0 {
			return int(^uint(0) >> 1)
		}
		return i
	}
	slices.SortStableFunc(fs, func(a, b Finding) int {
		return cmp.Or(
			cmp.Compare(b.Severity, a.Severity),
			cmp.Compare(stmt(a.Statement), stmt(b.Statement)),
			cmp.Compare(a.ID, b.ID),
			cmp.Compare(a.Path, b.Path),
		)
	})
	return fs
}
