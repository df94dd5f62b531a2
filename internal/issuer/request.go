package issuer

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// MaxRequestBytes bounds a mint request body.
const MaxRequestBytes = 64 << 10

// MintRequest is the body of POST /api/v1/tokens: the job context a GitLab
// instance would know when it issues `id_tokens`. Field names are the claim
// names, and every claim value is a JSON string, as GitLab emits them, so a
// CLI can set any of them with `--claim name=value`. Optional fields left
// empty get GitLab-like defaults (see Mint).
type MintRequest struct {
	// Audience is `aud`: a string or a non-empty list of strings.
	Audience Audience `json:"aud"`
	// TTLSeconds is the job timeout: exp = iat + TTLSeconds. Default: the
	// issuer's default_token_ttl; at most its max_token_lifetime.
	TTLSeconds *int64 `json:"ttl_seconds,omitempty"`
	// SubClaimComponents overrides the issuer's sub components for this
	// token, like GitLab's per-project ci_id_token_sub_claim_components.
	SubClaimComponents []string `json:"sub_claim_components,omitempty"`

	NamespaceID          string `json:"namespace_id,omitempty"`
	NamespacePath        string `json:"namespace_path,omitempty"`
	ProjectID            string `json:"project_id,omitempty"`
	ProjectPath          string `json:"project_path"`
	UserID               string `json:"user_id,omitempty"`
	UserLogin            string `json:"user_login,omitempty"`
	UserEmail            string `json:"user_email,omitempty"`
	UserAccessLevel      string `json:"user_access_level,omitempty"`
	PipelineID           string `json:"pipeline_id,omitempty"`
	PipelineSource       string `json:"pipeline_source,omitempty"`
	JobID                string `json:"job_id,omitempty"`
	Ref                  string `json:"ref"`
	RefType              string `json:"ref_type,omitempty"`
	RefProtected         string `json:"ref_protected,omitempty"`
	Environment          string `json:"environment,omitempty"`
	EnvironmentProtected string `json:"environment_protected,omitempty"`
	DeploymentTier       string `json:"deployment_tier,omitempty"`
	EnvironmentAction    string `json:"environment_action,omitempty"`
	RunnerEnvironment    string `json:"runner_environment,omitempty"`
	SHA                  string `json:"sha,omitempty"`
	ProjectVisibility    string `json:"project_visibility,omitempty"`
	CIConfigRefURI       string `json:"ci_config_ref_uri,omitempty"`
	CIConfigSHA          string `json:"ci_config_sha,omitempty"`
}

// Audience is a JWT `aud`: one string, or a list. A single string is
// emitted as a string (GitLab's form); a list as a list.
type Audience []string

// UnmarshalJSONFrom accepts a string or an array of strings.
func (a *Audience) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	switch dec.PeekKind() {
	case '"':
		var s string
		if err := json.UnmarshalDecode(dec, &s); err != nil {
			return err
		}
		*a = Audience{s}
		return nil
	case '[':
		var list []string
		if err := json.UnmarshalDecode(dec, &list); err != nil {
			return err
		}
		if list == nil {
			list = []string{}
		}
		*a = list
		return nil
	default:
		_, _ = dec.ReadValue()
		return errors.New("must be a string or an array of strings")
	}
}

// FieldError is a request the issuer refuses because of one field. Field is
// the JSON name (or claim name); Message says what is wrong with it and never
// echoes a secret.
type FieldError struct {
	Field   string
	Message string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Message }

// ConstraintError is a request the runner is not allowed to make: the claim
// value falls outside the runner's constraints.
type ConstraintError struct {
	Claim string
	Value string
}

func (e *ConstraintError) Error() string {
	return fmt.Sprintf("claim %s=%q is outside this runner's constraints", e.Claim, e.Value)
}

// ErrRequestTooLarge is a mint request body over MaxRequestBytes.
var ErrRequestTooLarge = fmt.Errorf("request body exceeds %d bytes", MaxRequestBytes)

// DecodeMintRequest reads one JSON object strictly: at most MaxRequestBytes,
// valid UTF-8, no unknown, duplicate or case-variant member names, every
// field of its declared type, nothing after the object. Errors are
// *FieldError (naming the field where one is to blame) or ErrRequestTooLarge.
func DecodeMintRequest(r io.Reader) (*MintRequest, error) {
	body, err := io.ReadAll(io.LimitReader(r, MaxRequestBytes+1))
	if err != nil {
		return nil, &FieldError{Field: "body", Message: "could not read request body"}
	}
	if len(body) > MaxRequestBytes {
		return nil, ErrRequestTooLarge
	}
	return ParseMintRequest(body)
}

// ParseMintRequest is DecodeMintRequest on bytes already read (and bounded).
func ParseMintRequest(body []byte) (*MintRequest, error) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return nil, &FieldError{Field: "body", Message: "request body is empty; expected a JSON object"}
	}
	if trimmed[0] != '{' {
		return nil, &FieldError{Field: "body", Message: "expected a JSON object"}
	}
	var req MintRequest
	// go-json-experiment is strict by default about duplicate names and
	// invalid UTF-8 and matches names case-sensitively; unknown members are
	// rejected explicitly. encoding/json v1 would accept {"AUD":...} as aud
	// and keep the last of two duplicates.
	err := json.Unmarshal(body, &req, json.RejectUnknownMembers(true))
	if err != nil {
		return nil, decodeError(err)
	}
	return &req, nil
}

// decodeError turns a JSON error into a FieldError naming the member.
func decodeError(err error) error {
	var semErr *json.SemanticError
	if errors.As(err, &semErr) {
		field := pointerField(string(semErr.JSONPointer))
		if errors.Is(err, json.ErrUnknownName) {
			return &FieldError{Field: field, Message: "unknown field"}
		}
		if field == "" {
			return &FieldError{Field: "body", Message: "expected a JSON object"}
		}
		want := "a string"
		switch field {
		case "aud":
			want = "a string or an array of strings"
		case "ttl_seconds":
			want = "an integer number of seconds"
		case "sub_claim_components":
			want = "an array of strings"
		}
		return &FieldError{Field: field, Message: "must be " + want}
	}
	var synErr *jsontext.SyntacticError
	if errors.As(err, &synErr) {
		field := pointerField(string(synErr.JSONPointer))
		if errors.Is(err, jsontext.ErrDuplicateName) {
			return &FieldError{Field: field, Message: "duplicate field"}
		}
		if field == "" {
			field = "body"
		}
		return &FieldError{Field: field, Message: "malformed JSON: " + describeSyntax(synErr)}
	}
	return &FieldError{Field: "body", Message: "malformed JSON"}
}

// pointerField returns the top-level member a JSON pointer names ("/aud/0"
// → "aud"), unescaped; "" for the root.
func pointerField(ptr string) string {
	ptr = strings.TrimPrefix(ptr, "/")
	if i := strings.IndexByte(ptr, '/'); i >= 0 {
		ptr = ptr[:i]
	}
	ptr = strings.ReplaceAll(strings.ReplaceAll(ptr, "~1", "/"), "~0", "~")
	if len(ptr) > 64 || hasControl(ptr) {
		return "body" // do not echo attacker-chosen junk at length
	}
	return ptr
}

func describeSyntax(e *jsontext.SyntacticError) string {
	switch {
	case errors.Is(e.Err, io.ErrUnexpectedEOF):
		return "unexpected end of input"
	case e.Err != nil && strings.Contains(e.Err.Error(), "UTF-8"):
		return "invalid UTF-8"
	default:
		return fmt.Sprintf("syntax error at byte offset %d", e.ByteOffset)
	}
}

// Sub claim components GitLab accepts for ci_id_token_sub_claim_components.
var allowedSubComponents = []string{"project_path", "ref_type", "ref"}

// ValidateSubComponents applies GitLab's rules: non-empty, project_path
// first, every element allowed, no repeats.
func ValidateSubComponents(field string, comps []string) error {
	if len(comps) == 0 {
		return &FieldError{Field: field, Message: "must list at least project_path"}
	}
	if comps[0] != "project_path" {
		return &FieldError{Field: field, Message: "must start with project_path"}
	}
	for i, c := range comps {
		if !slices.Contains(allowedSubComponents, c) {
			return &FieldError{Field: field, Message: fmt.Sprintf("%q is not an allowed component (allowed: %s)", truncate(c), strings.Join(allowedSubComponents, ", "))}
		}
		if slices.Contains(comps[:i], c) {
			return &FieldError{Field: field, Message: fmt.Sprintf("%q is listed twice", c)}
		}
	}
	return nil
}

func truncate(s string) string {
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	return strings.ToValidUTF8(s, "?")
}

var (
	// GitLab paths: letters, digits, '_', '-', '.', at least group/project.
	projectPathRE = regexp.MustCompile(`^[A-Za-z0-9_.][A-Za-z0-9_.-]*(/[A-Za-z0-9_.][A-Za-z0-9_.-]*)+$`)
	digitsRE      = regexp.MustCompile(`^[0-9]{1,19}$`)
	hexSHARE      = regexp.MustCompile(`^[0-9a-f]{40}([0-9a-f]{24})?$`)
)

var enums = map[string][]string{
	"ref_type":              {"branch", "tag"},
	"ref_protected":         {"true", "false"},
	"environment_protected": {"true", "false"},
	"deployment_tier":       {"production", "staging", "testing", "development", "other"},
	"environment_action":    {"start", "prepare", "stop", "verify", "access"},
	"project_visibility":    {"public", "internal", "private"},
	"runner_environment":    {"gitlab-hosted", "self-hosted"},
	"user_access_level":     {"guest", "planner", "reporter", "developer", "maintainer", "owner"},
	"pipeline_source": {"api", "chat", "external", "external_pull_request_event", "merge_request_event",
		"ondemand_dast_scan", "ondemand_dast_validation", "parent_pipeline", "pipeline", "push", "schedule",
		"security_orchestration_policy", "trigger", "web", "webide"},
}

// fieldValue pairs a field name with its value, so checks run in a fixed
// order and the first bad field reported is always the same one.
type fieldValue struct{ field, value string }

// maxClaimLen bounds every free-form claim value.
const maxClaimLen = 1024

// validate checks every field that was given. Defaults are applied later,
// so an empty optional field is fine here.
func (r *MintRequest) validate() error {
	if len(r.Audience) == 0 {
		return &FieldError{Field: "aud", Message: "is required and must not be empty"}
	}
	for _, a := range r.Audience {
		if strings.TrimSpace(a) == "" {
			return &FieldError{Field: "aud", Message: "must not contain an empty audience"}
		}
		if len(a) > 255 {
			return &FieldError{Field: "aud", Message: "each audience must be at most 255 characters"}
		}
	}
	if len(r.Audience) > 16 {
		return &FieldError{Field: "aud", Message: "at most 16 audiences"}
	}
	if r.TTLSeconds != nil && *r.TTLSeconds <= 0 {
		return &FieldError{Field: "ttl_seconds", Message: "must be a positive number of seconds"}
	}
	if r.SubClaimComponents != nil {
		if err := ValidateSubComponents("sub_claim_components", r.SubClaimComponents); err != nil {
			return err
		}
	}
	if r.ProjectPath == "" {
		return &FieldError{Field: "project_path", Message: "is required (e.g. mygroup/myproject)"}
	}
	if len(r.ProjectPath) > 255 || !projectPathRE.MatchString(r.ProjectPath) {
		return &FieldError{Field: "project_path", Message: "must be a GitLab path like group/project (letters, digits, '_', '-', '.')"}
	}
	if r.NamespacePath != "" && (!projectPathRE.MatchString(r.NamespacePath+"/x") || !strings.HasPrefix(r.ProjectPath, r.NamespacePath+"/")) {
		return &FieldError{Field: "namespace_path", Message: "must be the group part of project_path"}
	}
	if r.Ref == "" {
		return &FieldError{Field: "ref", Message: "is required (a branch or tag name)"}
	}
	if err := validateRefName(r.Ref); err != nil {
		return err
	}
	for _, fv := range []fieldValue{
		{"namespace_id", r.NamespaceID}, {"project_id", r.ProjectID}, {"user_id", r.UserID},
		{"pipeline_id", r.PipelineID}, {"job_id", r.JobID},
	} {
		field, v := fv.field, fv.value
		if v != "" && !digitsRE.MatchString(v) {
			return &FieldError{Field: field, Message: "must be a decimal id (digits only, as a JSON string)"}
		}
	}
	for _, fv := range []fieldValue{
		{"ref_type", r.RefType}, {"ref_protected", r.RefProtected}, {"environment_protected", r.EnvironmentProtected},
		{"deployment_tier", r.DeploymentTier}, {"environment_action", r.EnvironmentAction},
		{"project_visibility", r.ProjectVisibility}, {"runner_environment", r.RunnerEnvironment},
		{"user_access_level", r.UserAccessLevel}, {"pipeline_source", r.PipelineSource},
	} {
		field, v := fv.field, fv.value
		if v != "" && !slices.Contains(enums[field], v) {
			return &FieldError{Field: field, Message: "must be one of " + strings.Join(enums[field], ", ")}
		}
	}
	for _, fv := range []fieldValue{{"sha", r.SHA}, {"ci_config_sha", r.CIConfigSHA}} {
		field, v := fv.field, fv.value
		if v != "" && !hexSHARE.MatchString(v) {
			return &FieldError{Field: field, Message: "must be a lower-case hex commit SHA (40 or 64 characters)"}
		}
	}
	for _, fv := range []fieldValue{
		{"user_login", r.UserLogin}, {"user_email", r.UserEmail}, {"environment", r.Environment},
		{"ci_config_ref_uri", r.CIConfigRefURI},
	} {
		field, v := fv.field, fv.value
		if len(v) > maxClaimLen || hasControl(v) {
			return &FieldError{Field: field, Message: fmt.Sprintf("must be at most %d characters without control characters", maxClaimLen)}
		}
	}
	if r.Environment == "" {
		for _, fv := range []fieldValue{
			{"environment_protected", r.EnvironmentProtected}, {"deployment_tier", r.DeploymentTier},
			{"environment_action", r.EnvironmentAction},
		} {
			field, v := fv.field, fv.value
			if v != "" {
				return &FieldError{Field: field, Message: "is only valid together with environment"}
			}
		}
	}
	if r.UserID == "" && (r.UserLogin != "" || r.UserEmail != "" || r.UserAccessLevel != "") {
		// GitLab emits user_login/email/access_level only for a real user,
		// and then user_id is that user's id.
		return &FieldError{Field: "user_id", Message: "is required when user_login, user_email or user_access_level is given"}
	}
	return nil
}

// validateRefName keeps to what git allows in a ref name (git
// check-ref-format), which also keeps ':' out of sub, whose components are
// ':'-separated.
func validateRefName(ref string) error {
	bad := len(ref) > 255 || hasControl(ref) ||
		strings.ContainsAny(ref, " ~^:?*[\\") ||
		strings.HasPrefix(ref, "-") || strings.HasPrefix(ref, "/") || strings.HasSuffix(ref, "/") ||
		strings.HasSuffix(ref, ".") || strings.HasSuffix(ref, ".lock") ||
		strings.Contains(ref, "..") || strings.Contains(ref, "//") || strings.Contains(ref, "@{") ||
		strings.HasPrefix(ref, "refs/")
	if bad {
		return &FieldError{Field: "ref", Message: "must be a branch or tag name as git allows it (no refs/ prefix, spaces, ':' or control characters)"}
	}
	return nil
}

func hasControl(s string) bool {
	if !utf8.ValidString(s) {
		return true
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return true
		}
	}
	return false
}
