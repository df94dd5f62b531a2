package lint

// Rule describes one check. IDs and names are stable: CI configurations and SARIF consumers
// key on them.
type Rule struct {
	ID   string
	Name string
	// Summary is a one-line description (SARIF shortDescription).
	Summary string
	// Why is the plain "why this is dangerous" sentence every finding of the rule carries.
	Why string
	// Help is the general remedy (SARIF help); each finding's Fix is specific.
	Help string
	// Severity is the usual severity; some findings of the rule are graded up or down
	// (see the rule's check).
	Severity Severity
}

// The rules, in id order.
var (
	ruleNoSub = Rule{"OIDC001", "no-sub-condition",
		"Trust in an OIDC provider does not bind the project (no positive sub condition)",
		"Without a condition binding sub (or the project), every pipeline the issuer serves can assume the role; on gitlab.com or GitHub that is anyone with an account.",
		"Add a StringEquals (or StringLike) condition on <issuer>:sub naming the project and ref, e.g. project_path:group/project:ref_type:branch:ref:main.",
		Critical}
	ruleCrossing = Rule{"OIDC002", "sub-crosses-namespace",
		"A wildcard in the sub pattern crosses a group, owner or project name boundary",
		"StringLike's * matches any characters, so project_path:grp* also matches grp-evil/..., a group anyone can create on a shared issuer.",
		"End the name before the wildcard with its delimiter: project_path:grp/* (every project of grp), or name the project exactly.",
		High}
	ruleWildcardRef = Rule{"OIDC003", "wildcard-ref-on-privileged-role",
		"A role that can write or sign trusts any ref (branch, tag, merge request or pull request)",
		"Anyone who can push a branch or open a merge request in the project then gets credentials that change things or sign artifacts, bypassing protected-branch review.",
		"Pin the ref (ref_type:branch:ref:main, or a protected tag), or split the role: a read-only role for any ref, a write/sign role for protected refs only.",
		High}
	ruleEqualsWildcard = Rule{"OIDC004", "wildcard-in-string-equals",
		"StringEquals compares * and ? literally",
		"A wildcard under StringEquals never matches what its author meant: the allowed value is dead, and an excluded one (StringNotEquals) is not excluded.",
		"Use StringLike (or StringNotLike) for patterns; keep StringEquals for exact values.",
		Medium}
	ruleAudMissing = Rule{"OIDC005", "aud-not-constrained",
		"The trust does not constrain the token's audience",
		"Any of the provider's client IDs is accepted, so a token minted for another audience of the same issuer can be replayed to this role.",
		"Add StringEquals on <issuer>:aud with the audience your pipeline requests (GitLab id_tokens aud, GitHub sts.amazonaws.com).",
		Low}
	ruleAudClientID = Rule{"OIDC006", "aud-not-client-id",
		"An aud value is not among the provider's client IDs",
		"STS refuses tokens whose aud is not a client ID of the provider, so this value never matches; if it is the only one, nothing can assume the role.",
		"Use one of the provider's client IDs, or add the audience to the provider.",
		Medium}
	ruleAudSlash = Rule{"OIDC007", "aud-trailing-slash",
		"An aud value ends with a slash",
		"Audiences compare exactly: https://gitlab.com/ never equals the https://gitlab.com a pipeline requests, so the condition never matches.",
		"Drop the trailing slash, here, in the provider's client IDs and in the pipeline's id_tokens aud alike.",
		Medium}
	ruleImpossible = Rule{"OIDC008", "impossible-claim-value",
		"A condition value can never occur in the provider's tokens",
		"A value the issuer never emits (GitLab has no ref_type mr; its ref is a bare name) makes an allow dead and, worse, an exclusion exclude nothing.",
		"Write values in the issuer's format: GitLab sub project_path:G/P:ref_type:branch|tag:ref:NAME; GitHub sub repo:O/R:ref:refs/heads/NAME.",
		Medium}
	ruleForAll = Rule{"OIDC009", "forallvalues-single-valued-key",
		"ForAllValues on a single-valued key",
		"ForAllValues is true when the key is missing or empty, so a token without the claim passes the condition.",
		"Drop the ForAllValues: qualifier (use StringEquals / StringLike), or pair it with a Null condition requiring the key.",
		Medium}
	ruleMissingKey = Rule{"OIDC010", "true-when-key-missing",
		"A negated or IfExists condition is true when the claim is missing",
		"Negated operators (StringNotEquals, StringNotLike, ...) and ...IfExists are true for a token that lacks the claim, so the guard lets exactly those tokens through.",
		"Add \"Null\": {\"<key>\": \"false\"} to the statement, or state what is allowed with a positive operator.",
		High}
	ruleFederated = Rule{"OIDC011", "federated-not-account-provider",
		"Principal.Federated is not an OIDC provider of the role's account",
		"AssumeRoleWithWebIdentity only accepts providers of the role's own account, so the statement is dead, and whoever later creates that provider decides who gets in.",
		"Name a provider of the account: arn:aws:iam::<account>:oidc-provider/<issuer host and path>.",
		Medium}
	ruleNotPrincipal = Rule{"OIDC012", "allow-not-principal",
		"An Allow statement uses NotPrincipal",
		"Allow with NotPrincipal trusts every principal except the listed ones; oidcfed and AWS refuse it.",
		"Use Principal with the provider's ARN; keep NotPrincipal for Deny statements.",
		Critical}
	ruleNotAction = Rule{"OIDC013", "allow-not-action",
		"An Allow statement uses NotAction",
		"Allow with NotAction grants every action but the listed ones, including ones added to STS later.",
		"List the actions: \"Action\": \"sts:AssumeRoleWithWebIdentity\".",
		High}
	rulePrincipalAny = Rule{"OIDC014", "principal-wildcard",
		"The trust lets any principal or any identity provider assume the role",
		"Principal \"*\" or Federated \"*\" trusts every identity provider of the account and the built-in ones (any Google or Cognito identity).",
		"Name the provider: \"Principal\": {\"Federated\": \"arn:aws:iam::<account>:oidc-provider/<issuer>\"}.",
		Critical}
	ruleSession = Rule{"OIDC015", "long-max-session-duration",
		"MaxSessionDuration is far above what a pipeline job needs",
		"Credentials outlive the job that asked for them (a GitLab token lives as long as the job timeout, 1 h by default), so leaked ones stay usable for hours.",
		"Set MaxSessionDuration to 3600 (the minimum) unless a job really runs longer.",
		Low}
)

var rules = []Rule{
	ruleNoSub, ruleCrossing, ruleWildcardRef, ruleEqualsWildcard, ruleAudMissing, ruleAudClientID,
	ruleAudSlash, ruleImpossible, ruleForAll, ruleMissingKey, ruleFederated, ruleNotPrincipal,
	ruleNotAction, rulePrincipalAny, ruleSession,
}

// Rules lists every check, in id order.
func Rules() []Rule { return append([]Rule(nil), rules...) }
