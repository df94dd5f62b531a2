package lint

import (
	"strings"
)

// format is the claim format an issuer mints.
type format int

const (
	formatGitLab format = iota // sub = project_path:G/P:ref_type:branch|tag:ref:NAME
	formatGitHub               // sub = repo:O/R:ref:refs/heads/NAME | :environment:E | :pull_request
)

// Literal prefixes of the two sub formats.
const (
	gitlabSubPrefix = "project_path:"
	githubSubPrefix = "repo:"
)

// issuer is a trusted OIDC provider as lint sees it.
type issuer struct {
	arn     string
	key     string // condition-key prefix as written in the ARN: host and path
	format  format
	shared  bool      // anyone can get a token from it
	account *Provider // the account's provider of that ARN, nil when unknown
}

// classify decides the format of the issuer whose condition-key prefix (URL without the
// scheme) is key, and whether it is shared. See the package comment for why unknown hosts are
// GitLab-format.
func classify(key string) (format, bool) {
	host, path, _ := strings.Cut(key, "/")
	host = strings.ToLower(host)
	switch {
	case host == "token.actions.githubusercontent.com":
		// With a path it is a GHEC enterprise's own issuer: only that enterprise's workflows.
		return formatGitHub, path == ""
	case strings.HasSuffix(path, "_services/token"):
		return formatGitHub, false // GitHub Enterprise Server
	case host == "gitlab.com":
		return formatGitLab, path == ""
	}
	return formatGitLab, false
}

// providerKey strips the scheme from an issuer URL: the condition-key prefix.
func providerKey(url string) string {
	if _, rest, ok := strings.Cut(url, "://"); ok {
		url = rest
	}
	return strings.TrimSuffix(url, "/")
}

// parseProviderARN splits arn:PARTITION:iam::ACCOUNT:oidc-provider/KEY.
func parseProviderARN(arn string) (account, key string, ok bool) {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[2] != "iam" {
		return "", "", false
	}
	key, ok = strings.CutPrefix(parts[5], "oidc-provider/")
	return parts[4], key, ok && key != ""
}

// builtinFederated are the web-identity providers AWS knows without an IAM provider entity;
// their tokens and keys are not CI issuers', so lint leaves them alone.
var builtinFederated = map[string]bool{
	"accounts.google.com":            true,
	"graph.facebook.com":             true,
	"www.amazon.com":                 true,
	"cognito-identity.amazonaws.com": true,
}

// wildcardAt is the index of the first IAM wildcard (* or ?) in s, -1 if none.
func wildcardAt(s string) int { return strings.IndexAny(s, "*?") }

func hasWildcard(s string) bool { return wildcardAt(s) >= 0 }

// globFold matches s against an IAM pattern (* any run, ? one character), ignoring ASCII
// case, as IAM matches actions.
func globFold(pattern, s string) bool { return glob(strings.ToLower(pattern), strings.ToLower(s)) }

// glob matches s against pattern, case-sensitively (StringLike). Iterative with single-star
// backtracking: O(len(pattern)·len(s)) at worst.
func glob(p, s string) bool {
	pi, si, starP, starS := 0, 0, -1, 0
	for si < len(s) {
		switch {
		case pi < len(p) && p[pi] == '*':
			starP, starS = pi, si
			pi++
		case pi < len(p) && (p[pi] == '?' || p[pi] == s[si]):
			pi++
			si++
		case starP >= 0:
			starS++
			pi, si = starP+1, starS
		default:
			return false
		}
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}

// subFormat tells a sub value's format from its literal prefix.
func subFormat(v string) (format, string, bool) {
	switch {
	case strings.HasPrefix(v, gitlabSubPrefix):
		return formatGitLab, v[len(gitlabSubPrefix):], true
	case strings.HasPrefix(v, githubSubPrefix):
		return formatGitHub, v[len(githubSubPrefix):], true
	}
	return 0, "", false
}

// unscopedSub: a StringLike sub value whose first wildcard comes before any namespace name
// ("*", "project_path:*", "repo:*"), so it matches every project.
func unscopedSub(v string) bool {
	w := wildcardAt(v)
	if w < 0 {
		return false
	}
	fixed := v[:w]
	return strings.HasPrefix(gitlabSubPrefix, fixed) || strings.HasPrefix(githubSubPrefix, fixed)
}

// crossing is how far a wildcard inside a name reaches.
type crossing int

const (
	noCrossing   crossing = iota
	crossTop              // into other top-level groups or owners: grp* matches grp-evil
	crossSibling          // into sibling projects or subgroups of one group: grp/app* matches grp/apple
)

// nameScheme says where the identity part of a value is and how it is divided.
type nameScheme struct {
	prefix string // literal prefix before the name ("project_path:", "repo:", "")
	depth  int    // how many /-separated segments name the identity; 0: all of them
	stop   string // characters ending the name ("" when the whole value is the name)
}

// identitySchemes are the claims that bind who the token is for (a project, repository,
// namespace or owner), with how their names are built. sub is handled by format.
var identitySchemes = map[string]nameScheme{
	"project_path":        {depth: 0},
	"namespace_path":      {depth: 0},
	"job_project_path":    {depth: 0},
	"job_namespace_path":  {depth: 0},
	"project_id":          {depth: 1},
	"namespace_id":        {depth: 1},
	"job_project_id":      {depth: 1},
	"job_namespace_id":    {depth: 1},
	"repository":          {depth: 2},
	"repository_id":       {depth: 1},
	"repository_owner":    {depth: 1},
	"repository_owner_id": {depth: 1},
	"job_workflow_ref":    {depth: 2, stop: "@"},
}

// schemeFor is the name scheme of claim's value v; ok is false when v is not an identity
// value lint understands.
func schemeFor(claim, v string) (nameScheme, bool) {
	if claim == "sub" {
		switch f, _, ok := subFormat(v); {
		case !ok:
			return nameScheme{}, false
		case f == formatGitLab:
			return nameScheme{prefix: gitlabSubPrefix, depth: 0, stop: ":"}, true
		default:
			return nameScheme{prefix: githubSubPrefix, depth: 2, stop: ":"}, true
		}
	}
	s, ok := identitySchemes[claim]
	return s, ok
}

// unscopedValue: claim's StringLike value v matches every identity.
func unscopedValue(claim, v string) bool {
	if claim == "sub" {
		return unscopedSub(v)
	}
	return strings.HasPrefix(v, "*")
}

// nameCrossing finds a wildcard inside one of the identity segments of v (not right after a
// '/', which is how "every project of this group" is written). fixed is v up to the wildcard.
func nameCrossing(s nameScheme, v string) (c crossing, fixed string) {
	name, ok := strings.CutPrefix(v, s.prefix)
	if !ok {
		return noCrossing, ""
	}
	w := wildcardAt(name)
	if w <= 0 { // no wildcard, or one before any name: unscopedValue's case
		return noCrossing, ""
	}
	head := name[:w]
	if s.stop != "" && strings.ContainsAny(head, s.stop) {
		return noCrossing, "" // the wildcard is past the name (in the ref, say)
	}
	if strings.HasSuffix(head, "/") {
		return noCrossing, ""
	}
	seg := strings.Count(head, "/")
	if s.depth > 0 && seg >= s.depth {
		return noCrossing, ""
	}
	if seg == 0 {
		return crossTop, s.prefix + head
	}
	return crossSibling, s.prefix + head
}

// crossingFix rewrites v so the wildcard no longer crosses a name boundary, or returns "" when
// no rewrite is obviously right.
func crossingFix(c crossing, fixed, v string) string {
	rest := v[len(fixed):] // starts with the wildcard
	switch c {
	case crossTop:
		return fixed + "/" + rest
	case crossSibling:
		after := rest[1:]
		switch {
		case after == "":
			return fixed + ":*"
		case strings.HasPrefix(after, ":"):
			return fixed + after
		}
	}
	return ""
}

// refPinned reports whether a sub value admits a single ref (or environment) only; known is
// false for a format lint does not understand. like: the value is a StringLike pattern.
func refPinned(v string, like bool) (pinned, known bool) {
	f, rest, ok := subFormat(v)
	if !ok {
		return false, false
	}
	wild := func(s string) bool { return like && hasWildcard(s) }
	switch f {
	case formatGitLab:
		// Without ":ref_type:" a pattern's wildcard (or a sub built from project_path
		// alone) admits every ref.
		i := strings.Index(rest, ":ref_type:")
		if i < 0 {
			return false, true
		}
		return !wild(rest[i+len(":ref_type:"):]), true
	default:
		// repo:O/R:<context>; a wildcard before the first ':' can swallow the context too.
		_, context, found := strings.Cut(rest, ":")
		if !found || context == "" || context == "pull_request" {
			return false, true
		}
		return !wild(context), true
	}
}

// impossibleValue says what part of claim's value v the issuer never emits, with the value
// to write instead ("" when there is no single right one).
func impossibleValue(f format, claim, v string) (bad, instead string, ok bool) {
	switch claim {
	case "sub":
		sf, _, known := subFormat(v)
		switch {
		case known:
		case f == formatGitLab && strings.Contains(v, ":ref_type:"), f == formatGitHub && strings.Contains(v, ":ref:"):
			// A pattern such as "*:ref_type:mr:*" names no project but is in the issuer's format.
			sf = f
		default:
			return "", "", false
		}
		if sf == formatGitLab {
			if t, found := component(v, ":ref_type:"); found && !hasWildcard(t) && t != "branch" && t != "tag" {
				return "ref_type:" + t, strings.Replace(v, ":ref_type:"+t, ":ref_type:branch", 1), true
			}
			if r, found := after(v, ":ref:"); found && strings.HasPrefix(r, "refs/") {
				return "ref:" + r, strings.Replace(v, ":ref:"+r, ":ref:"+bareRef(r), 1), true
			}
			return "", "", false
		}
		if r, found := after(v, ":ref:"); found && !qualifiedRef(r) {
			return "ref:" + r, strings.Replace(v, ":ref:"+r, ":ref:refs/heads/"+r, 1), true
		}
	case "ref_type":
		if !hasWildcard(v) && v != "branch" && v != "tag" {
			return v, "branch", true
		}
	case "ref":
		if f == formatGitLab && strings.HasPrefix(v, "refs/") {
			return v, bareRef(v), true
		}
		if f == formatGitHub && !qualifiedRef(v) {
			return v, "refs/heads/" + v, true
		}
	}
	return "", "", false
}

// component is the text after marker up to the next ':'.
func component(v, marker string) (string, bool) {
	r, ok := after(v, marker)
	if !ok {
		return "", false
	}
	t, _, _ := strings.Cut(r, ":")
	return t, true
}

func after(v, marker string) (string, bool) {
	i := strings.Index(v, marker)
	if i < 0 {
		return "", false
	}
	return v[i+len(marker):], true
}

// qualifiedRef: r is (or, as a pattern, may be) a fully qualified git ref as GitHub's ref is.
func qualifiedRef(r string) bool {
	fixed := r
	if w := wildcardAt(r); w >= 0 {
		fixed = r[:w]
	}
	return strings.HasPrefix(fixed, "refs/") || strings.HasPrefix("refs/", fixed)
}

func bareRef(r string) string {
	for _, p := range []string{"refs/heads/", "refs/tags/"} {
		if b, ok := strings.CutPrefix(r, p); ok {
			return b
		}
	}
	return r
}
