package issuer

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Claims is the payload of a minted ID token, in the member order and with
// the JSON types GitLab's `id_tokens` use: ids and booleans are strings,
// runner_id is a number, aud is a string unless several were asked for.
type Claims struct {
	NamespaceID          string   `json:"namespace_id"`
	NamespacePath        string   `json:"namespace_path"`
	ProjectID            string   `json:"project_id"`
	ProjectPath          string   `json:"project_path"`
	UserID               string   `json:"user_id"`
	UserLogin            string   `json:"user_login,omitempty"`
	UserEmail            string   `json:"user_email,omitempty"`
	UserAccessLevel      string   `json:"user_access_level,omitempty"`
	PipelineID           string   `json:"pipeline_id"`
	PipelineSource       string   `json:"pipeline_source"`
	JobID                string   `json:"job_id"`
	Ref                  string   `json:"ref"`
	RefType              string   `json:"ref_type"`
	RefPath              string   `json:"ref_path"`
	RefProtected         string   `json:"ref_protected"`
	Environment          string   `json:"environment,omitempty"`
	EnvironmentProtected string   `json:"environment_protected,omitempty"`
	DeploymentTier       string   `json:"deployment_tier,omitempty"`
	EnvironmentAction    string   `json:"environment_action,omitempty"`
	RunnerID             int64    `json:"runner_id"`
	RunnerEnvironment    string   `json:"runner_environment"`
	SHA                  string   `json:"sha"`
	ProjectVisibility    string   `json:"project_visibility"`
	CIConfigRefURI       string   `json:"ci_config_ref_uri"`
	CIConfigSHA          string   `json:"ci_config_sha"`
	JTI                  string   `json:"jti"`
	Issuer               string   `json:"iss"`
	IssuedAt             int64    `json:"iat"`
	NotBefore            int64    `json:"nbf"`
	Expiry               int64    `json:"exp"`
	Subject              string   `json:"sub"`
	Audience             audience `json:"aud"`
}

// audience marshals one audience as a string, several as an array.
type audience []string

func (a audience) MarshalJSON() ([]byte, error) {
	if len(a) == 1 {
		return json.Marshal(a[0])
	}
	return json.Marshal([]string(a))
}

// UnmarshalJSON accepts both forms, for clients reading a MintResponse.
func (a *audience) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*a = audience{one}
		return nil
	}
	return json.Unmarshal(b, (*[]string)(a))
}

// ClaimNames lists every claim a minted token can carry, for
// claims_supported in the discovery document.
var ClaimNames = []string{
	"iss", "sub", "aud", "iat", "nbf", "exp", "jti",
	"namespace_id", "namespace_path", "project_id", "project_path",
	"user_id", "user_login", "user_email", "user_access_level",
	"pipeline_id", "pipeline_source", "job_id",
	"ref", "ref_type", "ref_path", "ref_protected",
	"environment", "environment_protected", "deployment_tier", "environment_action",
	"runner_id", "runner_environment", "sha", "project_visibility",
	"ci_config_ref_uri", "ci_config_sha",
}

// NotBeforeSkew is GitLab's NOT_BEFORE_TIME: nbf = iat - 5 s.
const NotBeforeSkew = 5 * time.Second

// buildClaims applies defaults to a validated request and computes the
// derived claims. issuerURL is the configured issuer.
func buildClaims(req *MintRequest, issuerURL string, runnerID int64, subComponents []string, now time.Time, ttl time.Duration) (*Claims, error) {
	c := &Claims{
		NamespacePath:     req.NamespacePath,
		NamespaceID:       req.NamespaceID,
		ProjectPath:       req.ProjectPath,
		ProjectID:         req.ProjectID,
		UserID:            req.UserID,
		UserLogin:         req.UserLogin,
		UserEmail:         req.UserEmail,
		UserAccessLevel:   req.UserAccessLevel,
		PipelineID:        req.PipelineID,
		PipelineSource:    or(req.PipelineSource, "push"),
		JobID:             req.JobID,
		Ref:               req.Ref,
		RefType:           or(req.RefType, "branch"),
		RefProtected:      or(req.RefProtected, "false"),
		Environment:       req.Environment,
		RunnerID:          runnerID,
		RunnerEnvironment: or(req.RunnerEnvironment, "self-hosted"),
		SHA:               req.SHA,
		ProjectVisibility: or(req.ProjectVisibility, "private"),
		CIConfigRefURI:    req.CIConfigRefURI,
		CIConfigSHA:       req.CIConfigSHA,
		Issuer:            issuerURL,
		IssuedAt:          now.Unix(),
		NotBefore:         now.Add(-NotBeforeSkew).Unix(),
		Expiry:            now.Add(ttl).Unix(),
		Audience:          audience(req.Audience),
	}
	if c.NamespacePath == "" {
		c.NamespacePath = c.ProjectPath[:strings.LastIndexByte(c.ProjectPath, '/')]
	}
	// Ids a real GitLab would know. When the runner does not send them,
	// project and namespace ids are derived from the path, so every token
	// for one project carries the same id; pipeline and job ids are fresh.
	// A runner may send its own: like GitLab itself, a runner is trusted
	// to state the job's context within its constraints, so constrain
	// every claim a trust policy relies on.
	if c.NamespaceID == "" {
		c.NamespaceID = stableID("namespace", c.NamespacePath)
	}
	if c.ProjectID == "" {
		c.ProjectID = stableID("project", c.ProjectPath)
	}
	var err error
	if c.PipelineID == "" {
		if c.PipelineID, err = randomID(); err != nil {
			return nil, err
		}
	}
	if c.JobID == "" {
		if c.JobID, err = randomID(); err != nil {
			return nil, err
		}
	}
	if c.SHA == "" {
		var b [20]byte
		if _, err := rand.Read(b[:]); err != nil {
			return nil, err
		}
		c.SHA = hex.EncodeToString(b[:])
	}
	if c.CIConfigSHA == "" {
		c.CIConfigSHA = c.SHA
	}
	if c.RefType == "tag" {
		c.RefPath = "refs/tags/" + c.Ref
	} else {
		c.RefPath = "refs/heads/" + c.Ref
	}
	if c.CIConfigRefURI == "" {
		// GitLab: host and path of the instance (no scheme), the project,
		// "//" and the config file at the pipeline's ref.
		host := issuerURL[strings.Index(issuerURL, "://")+3:]
		c.CIConfigRefURI = host + "/" + c.ProjectPath + "//.gitlab-ci.yml@" + c.RefPath
	}
	if c.Environment != "" {
		c.EnvironmentProtected = or(req.EnvironmentProtected, "false")
		c.DeploymentTier = or(req.DeploymentTier, guessTier(c.Environment))
		c.EnvironmentAction = or(req.EnvironmentAction, "start")
	}
	id, err := uuid.NewRandom()
	if err != nil {
		return nil, err
	}
	c.JTI = id.String()
	c.Subject = buildSub(c, subComponents)
	return c, nil
}

// buildSub renders "name:value" pairs joined with ':', as GitLab does.
func buildSub(c *Claims, components []string) string {
	var b strings.Builder
	for i, comp := range components {
		if i > 0 {
			b.WriteByte(':')
		}
		b.WriteString(comp)
		b.WriteByte(':')
		switch comp {
		case "project_path":
			b.WriteString(c.ProjectPath)
		case "ref_type":
			b.WriteString(c.RefType)
		case "ref":
			b.WriteString(c.Ref)
		}
	}
	return b.String()
}

func or(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// stableID maps a path to a decimal id of at most 12 digits that is the
// same on every call, so repeated tokens for one project agree on
// project_id. 12 digits keep collisions unlikely (about 1 in 20 at a
// million paths) while still looking like an id.
func stableID(kind, path string) string {
	h := fnv.New64a()
	h.Write([]byte(kind + "\x00" + path))
	return fmt.Sprint(h.Sum64()%999_999_999_999 + 1)
}

// randomID returns a fresh decimal id of at most 9 digits for pipelines and
// jobs (GitLab's are of that size).
func randomID() (string, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return fmt.Sprint(binary.BigEndian.Uint64(b[:])%999_999_999 + 1), nil
}

// Tier guesses in GitLab's order (Environment#guess_tier): the first family
// whose pattern matches the environment name wins.
var tierPatterns = []struct {
	tier string
	re   *regexp.Regexp
}{
	{"development", regexp.MustCompile(`(?i)(dev|review|trunk)`)},
	{"testing", regexp.MustCompile(`(?i)(test|tst|int|ac(ce|)pt|qa|qc|control|quality)`)},
	{"staging", regexp.MustCompile(`(?i)(st(a|)g|mod(e|)l|pre|demo|non)`)},
	{"production", regexp.MustCompile(`(?i)(pr(o|)d|live)`)},
}

func guessTier(env string) string {
	for _, p := range tierPatterns {
		if p.re.MatchString(env) {
			return p.tier
		}
	}
	return "other"
}

// constrainable maps each claim a runner constraint may name to its
// value(s) in a token. Time claims, jti and iss are the issuer's, not the
// job's, so constraining them means nothing.
var constrainable = map[string]func(*Claims) []string{
	"aud":                   func(c *Claims) []string { return c.Audience },
	"sub":                   func(c *Claims) []string { return []string{c.Subject} },
	"namespace_id":          func(c *Claims) []string { return []string{c.NamespaceID} },
	"namespace_path":        func(c *Claims) []string { return []string{c.NamespacePath} },
	"project_id":            func(c *Claims) []string { return []string{c.ProjectID} },
	"project_path":          func(c *Claims) []string { return []string{c.ProjectPath} },
	"user_id":               func(c *Claims) []string { return []string{c.UserID} },
	"user_login":            func(c *Claims) []string { return []string{c.UserLogin} },
	"user_email":            func(c *Claims) []string { return []string{c.UserEmail} },
	"user_access_level":     func(c *Claims) []string { return []string{c.UserAccessLevel} },
	"pipeline_id":           func(c *Claims) []string { return []string{c.PipelineID} },
	"pipeline_source":       func(c *Claims) []string { return []string{c.PipelineSource} },
	"job_id":                func(c *Claims) []string { return []string{c.JobID} },
	"ref":                   func(c *Claims) []string { return []string{c.Ref} },
	"ref_type":              func(c *Claims) []string { return []string{c.RefType} },
	"ref_path":              func(c *Claims) []string { return []string{c.RefPath} },
	"ref_protected":         func(c *Claims) []string { return []string{c.RefProtected} },
	"environment":           func(c *Claims) []string { return []string{c.Environment} },
	"environment_protected": func(c *Claims) []string { return []string{c.EnvironmentProtected} },
	"deployment_tier":       func(c *Claims) []string { return []string{c.DeploymentTier} },
	"environment_action":    func(c *Claims) []string { return []string{c.EnvironmentAction} },
	"runner_environment":    func(c *Claims) []string { return []string{c.RunnerEnvironment} },
	"sha":                   func(c *Claims) []string { return []string{c.SHA} },
	"project_visibility":    func(c *Claims) []string { return []string{c.ProjectVisibility} },
	"ci_config_ref_uri":     func(c *Claims) []string { return []string{c.CIConfigRefURI} },
	"ci_config_sha":         func(c *Claims) []string { return []string{c.CIConfigSHA} },
}

// ConstrainableClaims lists the claim names a runner constraint may use.
func ConstrainableClaims() []string {
	names := make([]string, 0, len(constrainable))
	for n := range constrainable {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// ParseConstraints turns `claim=glob` strings (as given to `runner create
// --allow`) into a constraint map. Several globs for one claim are
// alternatives; different claims must all match.
func ParseConstraints(specs []string) (map[string][]string, error) {
	out := map[string][]string{}
	for _, spec := range specs {
		name, glob, ok := strings.Cut(spec, "=")
		if !ok || name == "" || glob == "" {
			return nil, fmt.Errorf("constraint %q: want claim=glob, e.g. namespace_path=mygroup/*", spec)
		}
		if _, known := constrainable[name]; !known {
			return nil, fmt.Errorf("constraint %q: %q is not a claim a runner can be constrained on (one of: %s)", spec, name, strings.Join(ConstrainableClaims(), ", "))
		}
		if !slices.Contains(out[name], glob) {
			out[name] = append(out[name], glob)
		}
	}
	return out, nil
}

// checkConstraints returns a *ConstraintError for the first claim (in name
// order, so the answer is stable) whose value matches none of its globs.
func checkConstraints(c *Claims, constraints map[string][]string) error {
	if len(constraints) == 0 {
		return nil
	}
	names := make([]string, 0, len(constraints))
	for n := range constraints {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		values := constrainable[name]
		if values == nil {
			// A constraint on a claim this version does not know: refuse
			// rather than ignore it (fail closed).
			return &ConstraintError{Claim: name}
		}
		for _, v := range values(c) {
			if !slices.ContainsFunc(constraints[name], func(g string) bool { return MatchGlob(g, v) }) {
				return &ConstraintError{Claim: name, Value: v}
			}
		}
	}
	return nil
}

// MatchGlob reports whether s matches pattern, where '*' matches any run of
// characters (including '/' and ':') and '?' exactly one, as IAM's
// StringLike does. It runs in O(len(pattern)·len(s)) at worst, never
// exponentially.
func MatchGlob(pattern, s string) bool {
	p, str := []rune(pattern), []rune(s)
	pi, si := 0, 0
	star, mark := -1, 0
	for si < len(str) {
		switch {
		case pi < len(p) && (p[pi] == '?' || p[pi] == str[si]):
			pi++
			si++
		case pi < len(p) && p[pi] == '*':
			star, mark = pi, si
			pi++
		case star >= 0:
			pi = star + 1
			mark++
			si = mark
		default:
			return false
		}
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}
