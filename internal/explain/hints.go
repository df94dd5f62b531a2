package explain

import (
	"fmt"
	"strings"
	"time"

	"github.com/oidcfed/oidcfed/internal/iam/policy"
)

// Facts are what the hints look at besides the report's steps.
type Facts struct {
	// Claims are the token's (verified, unverified or hypothetical) claims;
	// nil when the token could not be decoded.
	Claims map[string]any
	// Audiences is the token's aud, as a list.
	Audiences []string
	// Provider is the provider the token's iss named, when registered.
	Provider *Provider
	// Providers are all the account's OIDC providers (near-miss issuers).
	Providers []Provider
	// Expired: the token's exp had passed (beyond the allowed skew).
	Expired bool
	Now     time.Time
}

// Provider is an OIDC provider of the account.
type Provider struct {
	ARN       string
	URL       string
	ClientIDs []string
}

// Hint ids: stable, for scripts and tests.
const (
	HintRefType         = "ref-type-mismatch"
	HintMergeRequest    = "merge-request-pipeline"
	HintForkMR          = "fork-merge-request"
	HintProjectPath     = "project-path-mismatch"
	HintAudSlash        = "aud-trailing-slash"
	HintAudUnregistered = "aud-not-a-client-id"
	HintEqualsWildcard  = "string-equals-wildcard"
	HintOtherProvider   = "principal-other-provider"
	HintMissingAction   = "missing-assume-role-with-web-identity"
	HintExpired         = "token-expired"
	HintIssuer          = "issuer-not-registered"
)

// Hints returns advice for the known mistakes the report shows, most
// specific first. It says nothing when the decision was an Allow.
func Hints(r *Report, f Facts) []Hint {
	if r.Allowed {
		return nil
	}
	var hs []Hint
	add := func(id, msg, fix string) {
		for _, h := range hs {
			if h.ID == id {
				return
			}
		}
		hs = append(hs, Hint{ID: id, Message: msg, Fix: fix})
	}
	claim := func(name string) string {
		s, _ := f.Claims[name].(string)
		return s
	}

	if f.Expired {
		exp := ""
		if e, ok := f.Claims["exp"]; ok {
			exp = fmt.Sprint(e)
		}
		add(HintExpired,
			"The token expired (exp "+exp+"). A GitLab ID token lives as long as the job's timeout (exp = iat + timeout) and is minted when the job starts; a token saved from an earlier job, or used after a long step, is refused.",
			"Exchange the token at the start of the job that received it (aws sts assume-role-with-web-identity, or AWS_WEB_IDENTITY_TOKEN_FILE so the SDK refreshes), or raise the job's timeout.")
	}
	issuerHints(r, f, add)
	audienceHints(r, f, add)

	trustFailed := false
	for _, st := range r.Steps {
		if st.Name != StepTrust || st.Status == Pass {
			continue
		}
		trustFailed = true
		trustHints(st, f, claim, add)
	}
	if trustFailed {
		switch source := claim("pipeline_source"); {
		case source == "merge_request_event" && claim("job_project_path") != "" && claim("project_path") != claim("job_project_path"):
			add(HintForkMR,
				"This is a merge request pipeline from a fork: project_path is the fork ("+claim("project_path")+"), not the project the job runs in ("+claim("job_project_path")+"), so a sub pinned to the parent project does not match.",
				"Do not grant fork MR pipelines credentials. If you must, name the fork's project_path explicitly; never widen the sub to match any project.")
		case source == "merge_request_event":
			add(HintMergeRequest,
				"This is a merge request pipeline: GitLab puts the MR's source branch in ref (here "+quote(claim("ref"))+"), and sub carries no MR marker, so a policy for ref:main does not match it. pipeline_source = merge_request_event is what tells MR pipelines apart.",
				"Run the credentialed job on the target branch after merge (rules: if $CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH), or allow the source branches you trust; to tell MR pipelines apart in the policy, use the pipeline_source claim (oidcfed's opt-in claim_condition_keys: all).")
		}
	}
	return hs
}

func issuerHints(r *Report, f Facts, add func(id, msg, fix string)) {
	st := r.Step(StepProvider)
	if st == nil || st.Status != Fail || f.Claims == nil {
		return
	}
	iss, _ := f.Claims["iss"].(string)
	for _, p := range f.Providers {
		if iss != p.URL && normalizeURL(iss) == normalizeURL(p.URL) {
			add(HintIssuer,
				"The token's iss "+quote(iss)+" is not byte-for-byte the URL of provider "+p.ARN+" ("+quote(p.URL)+"); AWS matches iss exactly, without trailing-slash, scheme or case normalisation.",
				"Register the provider with the issuer URL exactly as the token carries it in iss, or set the issuer's URL (GitLab: ci_id_tokens_issuer_url) to match.")
			return
		}
	}
	add(HintIssuer,
		"No OIDC provider of the account has the URL "+quote(iss)+".",
		"Create one: aws iam create-open-id-connect-provider --url "+iss+" --client-id-list <aud>.")
}

func audienceHints(r *Report, f Facts, add func(id, msg, fix string)) {
	st := r.Step(StepAudience)
	if st == nil || st.Status != Fail || f.Provider == nil {
		return
	}
	auds := f.Audiences
	for _, a := range auds {
		for _, c := range f.Provider.ClientIDs {
			if a != c && strings.TrimRight(a, "/") == strings.TrimRight(c, "/") {
				add(HintAudSlash,
					"The token's aud "+quote(a)+" differs from the provider's client ID "+quote(c)+" only by a trailing slash; audiences are compared exactly.",
					"Make them identical: change id_tokens: <name>: aud: in .gitlab-ci.yml, or add the exact value as a client ID (aws iam add-client-id-to-open-id-connect-provider).")
				return
			}
		}
	}
	add(HintAudUnregistered,
		"None of the token's audiences "+quoteAll(auds)+" is a client ID of provider "+f.Provider.ARN+" "+quoteAll(f.Provider.ClientIDs)+".",
		"Set the job's id_tokens aud to one of the provider's client IDs, or add it: aws iam add-client-id-to-open-id-connect-provider --open-id-connect-provider-arn "+f.Provider.ARN+" --client-id <aud>.")
}

func trustHints(st Step, f Facts, claim func(string) string, add func(id, msg, fix string)) {
	anyActionMatch := false
	anyPrincipalMatch := false
	var otherProviders []string
	for _, s := range st.Statements {
		if s.Failed != "Principal" {
			anyPrincipalMatch = true
		} else {
			otherProviders = append(otherProviders, s.Principals...)
		}
		if s.Failed != "Principal" && s.Failed != "Action" && s.Failed != "NotAction" {
			anyActionMatch = true
		}
		for _, c := range s.Conditions {
			if c.Result != "false" {
				continue
			}
			conditionHints(c, f, add)
		}
	}
	if !anyPrincipalMatch && len(st.Statements) > 0 && f.Provider != nil {
		add(HintOtherProvider,
			"No statement's Principal names this token's provider "+f.Provider.ARN+"; the trust policy names "+quoteAll(otherProviders)+".",
			`Set "Principal": {"Federated": "`+f.Provider.ARN+`"} (the provider ARN of the issuer that mints the job's token).`)
	}
	if anyPrincipalMatch && !anyActionMatch && st.Action == "sts:AssumeRoleWithWebIdentity" {
		add(HintMissingAction,
			"The statements naming this provider do not allow sts:AssumeRoleWithWebIdentity (sts:AssumeRole is a different action, for IAM principals).",
			`Use "Action": "sts:AssumeRoleWithWebIdentity" in the statement with the Federated principal.`)
	}
}

func conditionHints(c Condition, f Facts, add func(id, msg, fix string)) {
	op := strings.ToLower(c.Operator)
	base := op
	if i := strings.IndexByte(base, ':'); i >= 0 {
		base = base[i+1:]
	}
	base = strings.TrimSuffix(base, "ifexists")
	if (base == "stringequals" || base == "stringequalsignorecase") && hasWildcard(c.Expected) {
		add(HintEqualsWildcard,
			c.Operator+" compares "+c.Key+" literally, so "+quoteAll(wildcards(c.Expected))+" matches only a value containing those exact * or ? characters.",
			"Use StringLike for patterns (\"StringLike\": {\""+c.Key+"\": ...}), and keep the pattern as narrow as the project path allows.")
	}
	key := strings.ToLower(c.Key)
	switch {
	case strings.HasSuffix(key, ":sub"):
		subHints(c, add)
	case strings.HasSuffix(key, ":aud"):
		for _, e := range c.Expected {
			for _, a := range c.Actual {
				if e != a && strings.TrimRight(e, "/") == strings.TrimRight(a, "/") {
					add(HintAudSlash,
						"The policy expects "+c.Key+" = "+quote(e)+" but the token's aud is "+quote(a)+": they differ only by a trailing slash, and conditions compare exactly.",
						"Write the value exactly as the job's id_tokens aud sets it.")
				}
			}
		}
	}
}

// subHints compares a GitLab-format sub (project_path:G/P:ref_type:T:ref:R)
// the policy expected with the one the token had.
func subHints(c Condition, add func(id, msg, fix string)) {
	if len(c.Actual) == 0 {
		return
	}
	actual := parseGitLabSub(c.Actual[0])
	if actual == nil {
		return
	}
	for _, e := range c.Expected {
		want := parseGitLabSub(e)
		if want == nil {
			continue
		}
		if want["ref_type"] != "" && actual["ref_type"] != "" && !like(want["ref_type"], actual["ref_type"]) {
			add(HintRefType,
				"The job ran for a "+actual["ref_type"]+" ("+quote(c.Actual[0])+") but the policy expects ref_type:"+want["ref_type"]+". GitLab's ref_type is branch or tag; a tag pipeline's sub says ref_type:tag:ref:<tag name>.",
				"Add a sub value for the refs this role should serve, e.g. \"project_path:"+actual["project_path"]+":ref_type:tag:ref:v*\" (better: a separate role for release tags, with protected tags).")
		}
		if want["project_path"] != "" && actual["project_path"] != "" && !like(want["project_path"], actual["project_path"]) {
			add(HintProjectPath,
				"The token's project_path is "+quote(actual["project_path"])+" but the policy expects "+quote(want["project_path"])+" (full path, case-sensitive, including every subgroup).",
				"Write the project's full path exactly as CI_PROJECT_PATH shows it.")
		}
	}
}

// parseGitLabSub splits a sub built from GitLab's default components.
func parseGitLabSub(sub string) map[string]string {
	rest, ok := strings.CutPrefix(sub, "project_path:")
	if !ok {
		return nil
	}
	out := map[string]string{}
	path, rest, _ := strings.Cut(rest, ":ref_type:")
	out["project_path"] = path
	refType, ref, _ := strings.Cut(rest, ":ref:")
	out["ref_type"], out["ref"] = refType, ref
	return out
}

// like matches a StringLike pattern with the policy engine's matcher.
func like(pattern, s string) bool { return policy.MatchStringLike(pattern, s) }

func hasWildcard(vals []string) bool { return len(wildcards(vals)) > 0 }

func wildcards(vals []string) []string {
	var out []string
	for _, v := range vals {
		if strings.ContainsAny(v, "*?") {
			out = append(out, v)
		}
	}
	return out
}

func normalizeURL(u string) string {
	u = strings.ToLower(strings.TrimRight(u, "/"))
	u = strings.TrimPrefix(u, "https://")
	return strings.TrimPrefix(u, "http://")
}

func quote(s string) string { return fmt.Sprintf("%q", s) }

func quoteAll(vals []string) string {
	q := make([]string, len(vals))
	for i, v := range vals {
		q[i] = quote(v)
	}
	return "[" + strings.Join(q, ", ") + "]"
}
