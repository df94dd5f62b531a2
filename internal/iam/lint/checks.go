package lint

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/oidcfed/oidcfed/internal/iam/policy"
)

// MaxSessionDuration thresholds (OIDC015). A GitLab ID token lives as long as the job
// timeout (1 h by default, 5 min without one) and AWS's minimum is 1 h, so anything above
// 1 h is Low; above 6 h, the longest a GitHub-hosted job may run, no pipeline job needs it
// and it is Medium.
const (
	sessionLow    = time.Hour
	sessionMedium = 6 * time.Hour
)

// claimsAlwaysSet are the keys STS sets for every web-identity token: tests of them cannot
// meet a missing key.
var claimsAlwaysSet = map[string]bool{"sub": true, "aud": true}

// multiValuedClaims may hold several values; every other token key is single-valued.
var multiValuedClaims = map[string]bool{"amr": true, "oaud": true, "groups_direct": true}

// refClaims, when required by a positive condition, bind the ref (or environment) a role is
// usable from, whatever sub admits: GitLab's ref, ref_path, ref_protected and environment
// claims (oidcfed exposes them with claim_condition_keys: all) and GitHub's ref and
// environment keys.
var refClaims = map[string]bool{
	"ref": true, "ref_path": true, "ref_protected": true, "environment": true, "environment_protected": true,
}

// op is a condition operator's parts ("ForAnyValue:StringNotLikeIfExists").
type op struct {
	set      string // "", "ForAllValues" or "ForAnyValue"
	base     string // without set qualifier and IfExists
	ifExists bool
	negated  bool
}

func parseOp(name string) op {
	var o op
	if q, rest, ok := strings.Cut(name, ":"); ok {
		o.set, name = q, rest
	}
	o.base, o.ifExists = strings.CutSuffix(name, "IfExists")
	switch o.base {
	case "StringNotEquals", "StringNotEqualsIgnoreCase", "StringNotLike", "NumericNotEquals",
		"DateNotEquals", "NotIpAddress", "ArnNotEquals", "ArnNotLike":
		o.negated = true
	}
	return o
}

func (o op) equals() bool {
	return o.base == "StringEquals" || o.base == "StringEqualsIgnoreCase" ||
		o.base == "StringNotEquals" || o.base == "StringNotEqualsIgnoreCase"
}

func (o op) like() bool { return o.base == "StringLike" || o.base == "StringNotLike" }

// positive: a non-negated string comparison, the kind that states what is allowed.
func (o op) positive() bool { return !o.negated && (o.equals() || o.like()) }

// cond is one condition on one issuer's key.
type cond struct {
	*policy.Condition
	op    op
	claim string // lower-cased key without the issuer prefix
	path  string
}

type linter struct {
	in        Input
	providers []Provider
	findings  []Finding
}

func (l *linter) add(r Rule, sev Severity, stmt int, sid, path, msg, fix string) {
	l.findings = append(l.findings, Finding{
		ID: r.ID, Name: r.Name, Severity: sev, Message: msg, Why: r.Why, Fix: fix,
		Statement: stmt, Sid: sid, Path: path,
	})
}

func (l *linter) run(p *policy.Policy) {
	webIdentity := false
	for i, s := range p.Statements {
		l.statement(i, s)
		webIdentity = webIdentity || isWebIdentityStatement(s)
	}
	if webIdentity {
		l.sessionDuration()
	}
}

func stmtPath(i int) string { return "Statement[" + strconv.Itoa(i) + "]" }

func condPath(i int, c *policy.Condition) string {
	return stmtPath(i) + ".Condition." + c.Operator + "[" + strconv.Quote(c.Key) + "]"
}

func (l *linter) statement(i int, s *policy.Statement) {
	if s.Effect != policy.EffectAllow {
		return // a Deny only takes away; its negated conditions err on the safe side
	}
	if s.NotAction != nil {
		l.add(ruleNotAction, High, i, s.Sid, stmtPath(i)+".NotAction",
			fmt.Sprintf("Statement[%d] allows every action except %s: every other STS action is granted, and so is any STS adds later.", i, quoteList(s.NotAction)),
			`Write "Action": "sts:AssumeRoleWithWebIdentity" (and "sts:TagSession" only if the tokens carry session tags).`)
	}
	if !isWebIdentityStatement(s) {
		return
	}
	l.equalsWildcards(i, s)
	if s.Principal.Any {
		l.add(rulePrincipalAny, Critical, i, s.Sid, stmtPath(i)+".Principal",
			fmt.Sprintf(`Statement[%d] has "Principal": "*": every identity provider of the account, and AWS's built-in ones (any Google, Facebook, Amazon or Cognito identity), may call sts:AssumeRoleWithWebIdentity.`, i),
			l.namePrincipalFix())
		return
	}
	for _, fed := range s.Principal.Federated {
		switch {
		case fed == "*":
			l.add(rulePrincipalAny, Critical, i, s.Sid, stmtPath(i)+".Principal.Federated",
				fmt.Sprintf(`Statement[%d] trusts "Federated": "*": every identity provider of the account, and AWS's built-in ones, may assume the role.`, i),
				l.namePrincipalFix())
			continue
		case builtinFederated[fed], strings.Contains(fed, ":saml-provider/"):
			continue // not an OIDC CI issuer
		}
		account, key, ok := parseProviderARN(fed)
		if !ok {
			l.add(ruleFederated, Medium, i, s.Sid, stmtPath(i)+".Principal.Federated",
				fmt.Sprintf("Statement[%d] trusts %q, which is not an OIDC provider ARN: no token ever matches it.", i, fed),
				fmt.Sprintf("Write the provider's ARN, e.g. %q.", "arn:aws:iam::"+l.accountOr("ACCOUNT_ID")+":oidc-provider/"+providerKey(fed)))
			continue
		}
		iss := l.issuer(fed, key)
		switch {
		case l.in.Account != "" && account != l.in.Account:
			l.add(ruleFederated, Medium, i, s.Sid, stmtPath(i)+".Principal.Federated",
				fmt.Sprintf("Statement[%d] trusts %s, a provider of account %s, but the role is in account %s: STS only accepts the role's own account's providers, so no token matches.", i, fed, account, l.in.Account),
				fmt.Sprintf("Create the provider in account %s and trust %q.", l.in.Account, "arn:aws:iam::"+l.in.Account+":oidc-provider/"+key))
		case l.providers != nil && iss.account == nil:
			l.add(ruleFederated, Medium, i, s.Sid, stmtPath(i)+".Principal.Federated",
				fmt.Sprintf("Statement[%d] trusts %s, which is not an OIDC provider of the account (it has %s): no token matches until someone creates it.", i, fed, l.providerList()),
				fmt.Sprintf("Trust one of the account's providers, or create this one first (aws iam create-open-id-connect-provider --url https://%s ...).", key))
		}
		l.conditions(i, s, iss)
	}
}

// issuer resolves a Federated ARN against the account's providers.
func (l *linter) issuer(arn, key string) issuer {
	iss := issuer{arn: arn, key: key}
	for j := range l.providers {
		p := &l.providers[j]
		if p.ARN == arn || p.ARN == "" && strings.EqualFold(providerKey(p.URL), key) {
			iss.account = p
			break
		}
	}
	iss.format, iss.shared = classify(key)
	return iss
}

func (l *linter) accountOr(placeholder string) string {
	if l.in.Account != "" {
		return l.in.Account
	}
	return placeholder
}

func (l *linter) providerList() string {
	if len(l.providers) == 0 {
		return "none"
	}
	var names []string
	for _, p := range l.providers {
		names = append(names, p.name())
	}
	return strings.Join(names, ", ")
}

func (l *linter) namePrincipalFix() string {
	if len(l.providers) > 0 && l.providers[0].ARN != "" {
		return fmt.Sprintf(`Name the provider: "Principal": {"Federated": %q}.`, l.providers[0].ARN)
	}
	return fmt.Sprintf(`Name the provider: "Principal": {"Federated": "arn:aws:iam::%s:oidc-provider/gitlab.example.com"}.`, l.accountOr("ACCOUNT_ID"))
}

// equalsWildcards: OIDC004 on every string-equality condition of a web-identity statement.
func (l *linter) equalsWildcards(i int, s *policy.Statement) {
	for _, c := range s.Conditions {
		o := parseOp(c.Operator)
		if !o.equals() {
			continue
		}
		j := slices.IndexFunc(c.Values, hasWildcard)
		if j < 0 {
			continue
		}
		v := c.Values[j]
		like := strings.Replace(c.Operator, "Equals", "Like", 1)
		like = strings.Replace(like, "IgnoreCase", "", 1)
		if o.negated {
			l.add(ruleEqualsWildcard, High, i, s.Sid, condPath(i, c),
				fmt.Sprintf("%s compares %q literally, so the exclusion only excludes a value with a literal %q in it: everything the pattern was meant to exclude is let through.", c.Operator, v, wildcardChar(v)),
				fmt.Sprintf("Use %s for %q.", like, v))
			continue
		}
		l.add(ruleEqualsWildcard, Medium, i, s.Sid, condPath(i, c),
			fmt.Sprintf("%s compares %q literally: no token's %s holds a literal %q, so this value never matches.", c.Operator, v, c.Key, wildcardChar(v)),
			fmt.Sprintf("Use %s for %q, or write the exact value with StringEquals.", like, v))
	}
}

func wildcardChar(v string) string { return string(v[wildcardAt(v)]) }

// conditions runs the per-issuer checks on the conditions about iss's keys.
func (l *linter) conditions(i int, s *policy.Statement, iss issuer) {
	prefix := strings.ToLower(iss.key) + ":"
	var mine []cond
	requiredKeys := map[string]bool{} // claims a Null condition requires present
	for _, c := range s.Conditions {
		claim, ok := strings.CutPrefix(strings.ToLower(c.Key), prefix)
		if !ok || claim == "" || strings.Contains(claim, ":") {
			continue // another issuer's key, or a global one
		}
		o := parseOp(c.Operator)
		if o.base == "Null" {
			if slices.ContainsFunc(c.Values, func(v string) bool { return strings.EqualFold(v, "false") }) {
				requiredKeys[claim] = true
			}
			continue
		}
		mine = append(mine, cond{Condition: c, op: o, claim: claim, path: condPath(i, c)})
	}
	bound := l.binding(i, s, iss, mine)
	l.crossings(i, s, iss, mine)
	if bound {
		l.wildcardRefs(i, s, iss, mine)
	}
	l.audience(i, s, iss, mine)
	for _, c := range mine {
		l.impossible(i, s, iss, c)
		l.qualifiers(i, s, iss, c, requiredKeys)
	}
}

// binding: OIDC001. A statement is bound when some positive condition on an identity claim
// (sub, or a project/repository/owner key) has no value matching every project.
func (l *linter) binding(i int, s *policy.Statement, iss issuer, mine []cond) bool {
	var subCond *cond
	var unscoped string
	for j := range mine {
		c := &mine[j]
		if _, identity := identitySchemes[c.claim]; c.claim != "sub" && !identity {
			continue
		}
		if c.claim == "sub" && subCond == nil {
			subCond = c
		}
		if !c.op.positive() {
			continue
		}
		// ForAllValues and IfExists are true for a missing key; STS always sets sub.
		if (c.op.set == "ForAllValues" || c.op.ifExists) && !claimsAlwaysSet[c.claim] {
			continue
		}
		if c.op.like() {
			if k := slices.IndexFunc(c.Values, func(v string) bool { return unscopedValue(c.claim, v) }); k >= 0 {
				if unscoped == "" {
					subCond, unscoped = c, c.Values[k]
				}
				continue
			}
		}
		return true
	}
	subKey := iss.key + ":sub"
	path := stmtPath(i) + ".Condition"
	var msg string
	who := "any pipeline of any project on " + iss.key
	if iss.format == formatGitHub {
		who = "any workflow of any repository on " + iss.key
	}
	switch {
	case unscoped != "":
		subKey, path = subCond.Key, subCond.path
		msg = fmt.Sprintf("Statement[%d] trusts %s, and %s %q matches every project: %s can assume this role.", i, iss.arn, subCond.Key, unscoped, who)
	case subCond != nil:
		subKey, path = subCond.Key, subCond.path
		msg = fmt.Sprintf("Statement[%d] trusts %s and tests %s only with %s, which does not say which project may assume the role: %s that the condition does not rule out can.", i, iss.arn, subCond.Key, subCond.Operator, who)
	case len(s.Conditions) == 0:
		path = stmtPath(i)
		msg = fmt.Sprintf("Statement[%d] trusts %s with no condition at all: %s can assume this role.", i, iss.arn, who)
	default:
		msg = fmt.Sprintf("Statement[%d] trusts %s with no condition on %s: %s can assume this role.", i, iss.arn, subKey, who)
	}
	sev := High
	if iss.shared {
		sev = Critical
		what := "project"
		if iss.format == formatGitHub {
			what = "repository"
		}
		msg += " " + iss.key + " is a shared issuer: anyone can create a " + what + " there and get such a token."
	}
	l.add(ruleNoSub, sev, i, s.Sid, path, msg,
		fmt.Sprintf(`Add "StringEquals": {%q: %q} (the project and the ref it deploys from).`, subKey, exampleSub(iss.format)))
	return false
}

func exampleSub(f format) string {
	if f == formatGitHub {
		return "repo:OWNER/REPO:ref:refs/heads/main"
	}
	return "project_path:GROUP/PROJECT:ref_type:branch:ref:main"
}

// crossings: OIDC002 on each positive StringLike value of an identity claim.
func (l *linter) crossings(i int, s *policy.Statement, iss issuer, mine []cond) {
	for _, c := range mine {
		if c.op.negated || !c.op.like() {
			continue
		}
		for _, v := range c.Values {
			scheme, ok := schemeFor(c.claim, v)
			if !ok {
				continue
			}
			kind, fixed := nameCrossing(scheme, v)
			if kind == noCrossing {
				continue
			}
			fix := crossingFix(kind, fixed, v)
			if kind == crossTop {
				sev, who := High, "any user allowed to create groups on "+iss.key+" can make one"
				if iss.shared {
					sev, who = Critical, "anyone can create one on "+iss.key+" for free"
				}
				if iss.format == formatGitHub {
					who = strings.Replace(who, "groups", "organizations", 1)
				}
				owner := "group"
				if iss.format == formatGitHub || scheme.prefix == githubSubPrefix {
					owner = "owner"
				}
				msg := fmt.Sprintf("%s %q also matches %s: the wildcard runs past the name %q into every %s whose name starts with it, and %s.", c.Key, v, sibling(fixed, v, true, scheme.depth), fixed[len(scheme.prefix):], owner, who)
				if strings.HasSuffix(c.claim, "_id") {
					msg = fmt.Sprintf("%s %q also matches %s: every id starting %q, and ids go to whoever creates the next project or group.", c.Key, v, sibling(fixed, v, true, scheme.depth), fixed)
				}
				l.add(ruleCrossing, sev, i, s.Sid, c.path, msg, crossingAdvice(fix, c.Key, v))
				continue
			}
			msg := fmt.Sprintf("%s %q also matches %s: every project or subgroup whose name starts %q, not just the one meant.", c.Key, v, sibling(fixed, v, false, scheme.depth), lastSegment(fixed))
			l.add(ruleCrossing, Medium, i, s.Sid, c.path, msg, crossingAdvice(fix, c.Key, v))
		}
	}
}

// sibling is an example of what a crossing pattern also matches: a name that extends the
// fixed part, keeping what follows the wildcard when it is a delimiter.
func sibling(fixed, v string, top bool, depth int) string {
	rest := v[len(fixed)+1:]
	if !strings.HasPrefix(rest, "/") && !strings.HasPrefix(rest, ":") {
		rest = ""
	}
	name := fixed[strings.LastIndexAny(fixed, "/:")+1:]
	switch {
	case name != "" && strings.Trim(name, "0123456789") == "":
		return strconv.Quote(fixed + "9" + rest) // an id: 12* matches 129
	case top && !strings.HasPrefix(rest, "/") && depth != 1:
		return strconv.Quote(fixed + "-evil/x" + rest)
	case top:
		return strconv.Quote(fixed + "-evil" + rest)
	}
	return strconv.Quote(fixed + "-other" + rest)
}

func lastSegment(s string) string {
	if i := strings.LastIndexAny(s, "/:"); i >= 0 {
		return s[i+1:]
	}
	return s
}

func crossingAdvice(fix, key, v string) string {
	if fix == "" {
		return fmt.Sprintf("End the name before the wildcard with its delimiter ('/' after a group, ':' after the project) in %s %q, or name the project exactly.", key, v)
	}
	return fmt.Sprintf("Write %q (the wildcard after the delimiter), or name the project exactly.", fix)
}

// wildcardRefs: OIDC003. Sub (or nothing) admits any ref, and no ref claim narrows it.
func (l *linter) wildcardRefs(i int, s *policy.Statement, iss issuer, mine []cond) {
	var offender *cond
	offendingValue := ""
	for j := range mine {
		c := &mine[j]
		if !c.op.positive() || c.op.ifExists || c.op.set == "ForAllValues" {
			continue
		}
		if refClaims[c.claim] && !slices.Contains(c.Values, "*") {
			return // the ref is bound by its own claim
		}
		if c.claim != "sub" {
			continue
		}
		allPinned := true
		for _, v := range c.Values {
			pinned, known := refPinned(v, c.op.like())
			if !known {
				return // a sub format lint does not read
			}
			if !pinned {
				allPinned = false
				if offender == nil {
					offender, offendingValue = c, v
				}
			}
		}
		if allPinned {
			return
		}
	}
	path, what := stmtPath(i)+".Condition", "nothing in the statement constrains the ref"
	if offender != nil {
		path = offender.path
		what = fmt.Sprintf("%s %q admits any ref", offender.Key, offendingValue)
		if iss.format == formatGitHub {
			what = fmt.Sprintf("%s %q admits any branch, tag, pull request or environment", offender.Key, offendingValue)
		}
	}
	fix := fmt.Sprintf("Pin the ref: %q (a protected branch) or a protected tag; or split the role into a read-only one for any ref and a write/sign one for protected refs.", pinnedExample(iss.format, offendingValue))
	if iss.format == formatGitLab {
		fix += fmt.Sprintf(` With oidcfed as the STS and claim_condition_keys: all on the provider, "StringEquals": {%q: "true"} pins protected refs too.`, iss.key+":ref_protected")
	}
	if l.in.Role.Permissions == nil {
		l.add(ruleWildcardRef, Info, i, s.Sid, path,
			fmt.Sprintf("Statement[%d]: %s (branches anyone with push access creates, merge-request pipelines). The role's permissions are unknown here; if it can write or sign, this is High.", i, what), fix)
		return
	}
	action, ok := CanWriteOrSign(l.in.Role.Permissions)
	if !ok {
		return
	}
	l.add(ruleWildcardRef, High, i, s.Sid, path,
		fmt.Sprintf("Statement[%d]: %s, and the role can write or sign (its permissions allow %s): any branch or merge-request pipeline gets those credentials.", i, what, action), fix)
}

// pinnedExample rewrites a sub value to pin a ref, keeping its project when it names one.
func pinnedExample(f format, v string) string {
	project := ""
	if _, rest, ok := subFormat(v); ok {
		name := rest
		if j := strings.Index(name, ":"); j >= 0 {
			name = name[:j]
		}
		if !hasWildcard(name) && name != "" {
			project = name
		}
	}
	if f == formatGitHub {
		if project == "" {
			project = "OWNER/REPO"
		}
		return "repo:" + project + ":ref:refs/heads/main"
	}
	if project == "" {
		project = "GROUP/PROJECT"
	}
	return "project_path:" + project + ":ref_type:branch:ref:main"
}

// audience: OIDC005, OIDC006, OIDC007.
func (l *linter) audience(i int, s *policy.Statement, iss issuer, mine []cond) {
	var auds []cond
	for _, c := range mine {
		if c.claim == "aud" && c.op.positive() {
			auds = append(auds, c)
		}
	}
	if len(auds) == 0 {
		extra := ""
		if iss.account != nil && len(iss.account.ClientIDs) > 1 {
			extra = fmt.Sprintf(" (the provider has %d: %s)", len(iss.account.ClientIDs), quoteList(iss.account.ClientIDs))
		}
		l.add(ruleAudMissing, Low, i, s.Sid, stmtPath(i)+".Condition",
			fmt.Sprintf("Statement[%d] does not test %s:aud: a token for any client ID of %s%s is accepted.", i, iss.key, iss.key, extra),
			fmt.Sprintf(`Add "StringEquals": {%q: %q}.`, iss.key+":aud", l.exampleAudience(iss)))
		return
	}
	for _, c := range auds {
		var dead []string
		for _, v := range c.Values {
			registered := iss.account != nil && slices.Contains(iss.account.ClientIDs, v)
			if strings.HasSuffix(v, "/") && !registered {
				l.add(ruleAudSlash, Medium, i, s.Sid, c.path,
					fmt.Sprintf("%s %q ends with a slash; audiences compare exactly, and pipelines request %q.", c.Key, v, strings.TrimRight(v, "/")),
					fmt.Sprintf("Write %q.", strings.TrimRight(v, "/")))
				continue
			}
			if iss.account != nil && !audMatches(c, v, iss.account.ClientIDs) {
				dead = append(dead, v)
			}
		}
		if len(dead) == 0 {
			continue
		}
		sev, consequence := Low, "these values never match"
		if len(dead) == len(c.Values) {
			sev, consequence = Medium, "the condition never matches and nothing can assume the role"
		}
		l.add(ruleAudClientID, sev, i, s.Sid, c.path,
			fmt.Sprintf("%s %s: %s is not among the client IDs of %s (%s); STS refuses tokens for other audiences, so %s.", c.Key, c.Operator, quoteList(dead), iss.arn, quoteList(iss.account.ClientIDs), consequence),
			fmt.Sprintf("Use one of %s, or add the audience to the provider (aws iam add-client-id-to-open-id-connect-provider --open-id-connect-provider-arn %s --client-id %s).", quoteList(iss.account.ClientIDs), iss.arn, dead[0]))
	}
}

func audMatches(c cond, v string, clientIDs []string) bool {
	for _, id := range clientIDs {
		switch {
		case c.op.like() && glob(v, id),
			c.op.base == "StringEqualsIgnoreCase" && strings.EqualFold(v, id),
			v == id:
			return true
		}
	}
	return false
}

func (l *linter) exampleAudience(iss issuer) string {
	switch {
	case iss.account != nil && len(iss.account.ClientIDs) > 0:
		return iss.account.ClientIDs[0]
	case iss.format == formatGitHub:
		return "sts.amazonaws.com"
	}
	return "https://" + iss.key
}

// impossible: OIDC008.
func (l *linter) impossible(i int, s *policy.Statement, iss issuer, c cond) {
	if !c.op.equals() && !c.op.like() {
		return
	}
	for _, v := range c.Values {
		bad, instead, ok := impossibleValue(iss.format, c.claim, v)
		if !ok {
			continue
		}
		why := impossibleReason(iss.format, c.claim, bad)
		fix := "Write the value in the issuer's format"
		if instead != "" {
			fix = fmt.Sprintf("Write %q", instead)
		}
		if c.claim == "sub" && iss.format == formatGitLab && strings.HasPrefix(bad, "ref_type:") {
			fix += "; GitLab's sub cannot tell merge-request pipelines apart (pipeline_source says it, and only as a claim key)"
		}
		if c.op.negated {
			l.add(ruleImpossible, High, i, s.Sid, c.path,
				fmt.Sprintf("%s %s %q: %s, so this exclusion excludes nothing.", c.Key, c.Operator, v, why), fix+".")
			continue
		}
		l.add(ruleImpossible, Medium, i, s.Sid, c.path,
			fmt.Sprintf("%s %q: %s, so this value never matches.", c.Key, v, why), fix+".")
	}
}

func impossibleReason(f format, claim, bad string) string {
	switch {
	case claim == "ref_type" || strings.HasPrefix(bad, "ref_type:"):
		return "ref_type is only ever branch or tag (there is no merge-request value)"
	case f == formatGitLab:
		return "GitLab's ref is the bare branch or tag name (ref_path holds refs/heads/…)"
	}
	return "GitHub's ref is fully qualified (refs/heads/NAME, refs/tags/NAME)"
}

// qualifiers: OIDC009 (ForAllValues on a single-valued key) and OIDC010 (negated or IfExists
// tests true on a missing key).
func (l *linter) qualifiers(i int, s *policy.Statement, iss issuer, c cond, required map[string]bool) {
	if c.op.set == "ForAllValues" && !multiValuedClaims[c.claim] {
		if claimsAlwaysSet[c.claim] {
			l.add(ruleForAll, Medium, i, s.Sid, c.path,
				fmt.Sprintf("%s is single-valued; ForAllValues is true when it is missing. STS always sets %s, so this holds today, but it reads as a multi-valued test and breaks when copied to another key.", c.Key, c.claim),
				fmt.Sprintf("Write %q instead of %q.", strings.TrimPrefix(c.Operator, "ForAllValues:"), c.Operator))
			return
		}
		if !required[c.claim] {
			l.add(ruleForAll, High, i, s.Sid, c.path,
				fmt.Sprintf("%s is single-valued and ForAllValues is true when it is missing: a token without %s passes this condition.", c.Key, c.claim),
				fmt.Sprintf("Write %q instead of %q.", strings.TrimPrefix(c.Operator, "ForAllValues:"), c.Operator))
		}
		return
	}
	if claimsAlwaysSet[c.claim] || required[c.claim] || c.op.set == "ForAnyValue" && !c.op.ifExists {
		return
	}
	if !c.op.negated && !c.op.ifExists {
		return
	}
	kind := c.Operator + " is a negated operator"
	if c.op.ifExists {
		kind = c.Operator + " uses IfExists"
	}
	msg := fmt.Sprintf("%s, true when the token has no %s key, so tokens without it pass.", kind, c.Key)
	if iss.format == formatGitLab {
		msg += " AWS exposes only sub, aud and amr of GitLab tokens as keys (oidcfed exposes the others only with claim_condition_keys: all), so the key may never be there."
	} else {
		msg += " Not every token has every claim (a job without an environment has no environment claim)."
	}
	l.add(ruleMissingKey, High, i, s.Sid, c.path, msg,
		fmt.Sprintf(`Add "Null": {%q: "false"} to the statement, or state what is allowed with a positive operator.`, c.Key))
}

// sessionDuration: OIDC015.
func (l *linter) sessionDuration() {
	d := l.in.Role.MaxSessionDuration
	sev := None
	switch {
	case d > sessionMedium:
		sev = Medium
	case d > sessionLow:
		sev = Low
	}
	if sev == None {
		return
	}
	l.add(ruleSession, sev, -1, "", "MaxSessionDuration",
		fmt.Sprintf("The role's MaxSessionDuration is %s (%d s); a CI job's credentials need not outlive the job (GitLab's default timeout is 1 h), and leaked ones stay valid that long.", formatDuration(d), int64(d/time.Second)),
		"Set MaxSessionDuration to 3600 (aws iam update-role --max-session-duration 3600), or to the longest job's timeout.")
}

func formatDuration(d time.Duration) string {
	s := d.String()
	s = strings.TrimSuffix(s, "0s")
	return strings.TrimSuffix(s, "0m")
}

func quoteList(vs []string) string {
	q := make([]string, len(vs))
	for i, v := range vs {
		q[i] = strconv.Quote(v)
	}
	return strings.Join(q, ", ")
}

// allowNotPrincipal finds Allow statements with NotPrincipal in a document the parser
// refused, to explain the refusal (OIDC012). It reads the JSON loosely: anything it cannot
// read is left to the parser's error.
func allowNotPrincipal(doc []byte) []Finding {
	var d struct {
		Statement json.RawMessage
	}
	if json.Unmarshal(doc, &d) != nil {
		return nil
	}
	var list []map[string]json.RawMessage
	if json.Unmarshal(d.Statement, &list) != nil {
		var one map[string]json.RawMessage
		if json.Unmarshal(d.Statement, &one) != nil {
			return nil
		}
		list = append(list, one)
	}
	var out []Finding
	for i, st := range list {
		var effect, sid string
		_ = json.Unmarshal(st["Effect"], &effect)
		_ = json.Unmarshal(st["Sid"], &sid)
		if effect != "Allow" || st["NotPrincipal"] == nil {
			continue
		}
		out = append(out, Finding{
			ID: ruleNotPrincipal.ID, Name: ruleNotPrincipal.Name, Severity: Critical, Why: ruleNotPrincipal.Why,
			Message:   fmt.Sprintf("Statement[%d] allows every principal except %s (NotPrincipal with Allow); oidcfed and AWS refuse the document.", i, compactJSON(st["NotPrincipal"])),
			Fix:       `Replace NotPrincipal with "Principal": {"Federated": "arn:aws:iam::ACCOUNT_ID:oidc-provider/ISSUER"}.`,
			Statement: i, Sid: sid, Path: stmtPath(i) + ".NotPrincipal",
		})
	}
	return out
}

func compactJSON(raw json.RawMessage) string {
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil {
		return string(raw)
	}
	return b.String()
}
