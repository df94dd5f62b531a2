package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/spf13/cobra"

	"github.com/oidcfed/oidcfed/internal/iam/lint"
	"github.com/oidcfed/oidcfed/internal/iam/policy"
)

// Exit codes of `oidcfed lint`.
const (
	exitLintError    = 1 // bad usage, or a source could not be read, fetched or parsed
	exitLintFindings = 2 // findings at or above --fail-on
)

// maxPolicyFile bounds a trust-policy file: the IAM service model's largest document, at
// four bytes a character.
const maxPolicyFile = 4 * policy.MaxDocumentChars

func newLintCmd() *cobra.Command {
	var (
		role, format, failOn, account, endpoint, region string
		providerFlags                                   []string
		all, verbose                                    bool
	)
	cmd := &cobra.Command{
		Use:   "lint FILE... | --role NAME | --all",
		Short: "Find dangerous or broken web-identity trust policies",
		Long: `Lint role trust policies for the mistakes that let the wrong pipeline in or keep
the right one out: trusting an OIDC issuer without binding sub (critical on
gitlab.com and token.actions.githubusercontent.com), sub patterns that cross a
group boundary (project_path:grp* matches grp-evil/...), wildcard refs on roles
that can write or sign, StringEquals with wildcards, aud unconstrained or not a
client ID of the provider, values GitLab or GitHub never emit (ref_type:mr),
ForAllValues on single-valued keys, negated or IfExists operators that are true
when a claim is missing, foreign or unknown providers, Allow with NotPrincipal or
NotAction, and MaxSessionDuration far above a job's needs.

FILE... lints trust-policy JSON files offline ("-" reads standard input). The
account's providers are unknown unless given with --provider (repeatable), and
the account with --account.

--role NAME and --all fetch roles through the IAM API (GetRole/ListRoles, the
account's OIDC providers, and the role's inline and attached policies to decide
whether it can write or sign). The endpoint, region and credentials follow the
AWS SDKs' configuration (AWS_ENDPOINT_URL, AWS_REGION, AWS_PROFILE, ...), so this
works against oidcfed and against AWS alike. --all skips roles whose trust has no
web-identity statement (listed with --verbose, and in JSON as "skipped").

Formats: text (one line per finding and its fix), json, sarif (SARIF 2.1.0, for
code-scanning gates).

Exit status: 0 when no finding is at or above --fail-on; 2 when one is; 1 on bad
usage or when a source could not be read, fetched or parsed (which wins over 2).`,
		Example: `  oidcfed lint trust.json
  oidcfed lint --provider https://gitlab.com=https://gitlab.com --account 111122223333 roles/*.json
  oidcfed lint --all --format sarif > lint.sarif
  oidcfed lint --role gitlab-deploy --fail-on medium`,
		RunE: func(cmd *cobra.Command, files []string) error {
			threshold, err := lint.ParseSeverity(failOn)
			if err != nil || threshold == lint.None {
				return usageError("--fail-on %q: want info, low, medium, high or critical", failOn)
			}
			if format != "text" && format != "json" && format != "sarif" {
				return usageError("--format %q: want text, json or sarif", format)
			}
			modes := 0
			for _, set := range []bool{len(files) > 0, role != "", all} {
				if set {
					modes++
				}
			}
			if modes != 1 {
				return usageError("lint what? give trust-policy FILEs, --role NAME or --all (one of them)")
			}
			var srcs []lint.Source
			if len(files) > 0 {
				providers, err := parseProviderFlags(providerFlags, account)
				if err != nil {
					return err
				}
				srcs = lintFiles(cmd.InOrStdin(), files, account, providers)
			} else {
				if len(providerFlags) > 0 || account != "" {
					return usageError("--provider and --account are for files: with --role or --all they come from the account")
				}
				f, err := newRoleFetcher(cmd.Context(), endpoint, region, cmd.ErrOrStderr())
				if err != nil {
					return err
				}
				if all {
					srcs, err = f.lintAll(cmd.Context())
				} else {
					srcs = []lint.Source{f.lintRole(cmd.Context(), role)}
				}
				if err != nil {
					return err
				}
			}
			if err := writeLintReport(cmd.OutOrStdout(), format, srcs, verbose); err != nil {
				return err
			}
			return lintOutcome(srcs, threshold)
		},
	}
	f := cmd.Flags()
	f.StringVar(&role, "role", "", "lint this role, fetched through the IAM API")
	f.BoolVar(&all, "all", false, "lint every role of the account that trusts a web identity")
	f.StringVar(&format, "format", "text", "text, json or sarif")
	f.StringVar(&failOn, "fail-on", "high", "exit 2 when a finding is at least this severe: info, low, medium, high or critical")
	f.StringArrayVar(&providerFlags, "provider", nil, "with FILEs: an OIDC provider of the account, URL=CLIENT_ID[,CLIENT_ID...] (repeatable)")
	f.StringVar(&account, "account", "", "with FILEs: the roles' account id")
	f.StringVar(&endpoint, "endpoint", "", "IAM endpoint URL (default from AWS_ENDPOINT_URL_IAM / AWS_ENDPOINT_URL)")
	f.StringVar(&region, "region", "", "region (default from AWS_REGION or the profile; IAM is global)")
	f.BoolVarP(&verbose, "verbose", "v", false, "text: also say why each finding matters, and list clean and skipped sources")
	return cmd
}

// usageError is a bad invocation: exit 1, like any other error.
func usageError(format string, args ...any) error {
	return &exitError{code: exitLintError, err: fmt.Errorf(format, args...)}
}

// lintOutcome turns the results into the exit status the command documents.
func lintOutcome(srcs []lint.Source, threshold lint.Severity) error {
	sum := lint.Summarize(srcs)
	if sum.Errors > 0 {
		return &exitError{code: exitLintError, err: fmt.Errorf("lint: %d of %d sources could not be linted", sum.Errors, sum.Sources)}
	}
	n := 0
	for sev, count := range sum.BySeverity {
		if sev >= threshold {
			n += count
		}
	}
	if n > 0 {
		noun := "findings"
		if n == 1 {
			noun = "finding"
		}
		return &exitError{code: exitLintFindings, err: fmt.Errorf("lint: %d %s at or above %s", n, noun, threshold)}
	}
	return nil
}

func writeLintReport(w io.Writer, format string, srcs []lint.Source, verbose bool) error {
	switch format {
	case "json":
		return lint.WriteJSON(w, srcs)
	case "sarif":
		return lint.WriteSARIF(w, srcs, version())
	}
	return lint.WriteText(w, srcs, verbose)
}

// parseProviderFlags reads --provider URL=CLIENT_ID[,CLIENT_ID...]. Without --account the
// providers have no ARN and are matched by URL.
func parseProviderFlags(flags []string, account string) ([]lint.Provider, error) {
	if flags == nil {
		return nil, nil
	}
	providers := []lint.Provider{}
	for _, fl := range flags {
		u, ids, ok := strings.Cut(fl, "=")
		if !ok || u == "" || ids == "" {
			return nil, usageError("--provider %q: want URL=CLIENT_ID[,CLIENT_ID...], e.g. https://gitlab.com=https://gitlab.com", fl)
		}
		if !strings.Contains(u, "://") {
			u = "https://" + u
		}
		p := lint.Provider{URL: u}
		for id := range strings.SplitSeq(ids, ",") {
			if id = strings.TrimSpace(id); id != "" {
				p.ClientIDs = append(p.ClientIDs, id)
			}
		}
		if account != "" {
			_, key, _ := strings.Cut(u, "://")
			p.ARN = "arn:aws:iam::" + account + ":oidc-provider/" + strings.TrimSuffix(key, "/")
		}
		providers = append(providers, p)
	}
	return providers, nil
}

func lintFiles(stdin io.Reader, files []string, account string, providers []lint.Provider) []lint.Source {
	var srcs []lint.Source
	for _, name := range files {
		var doc []byte
		var err error
		if name == "-" {
			name = "stdin"
			doc, err = io.ReadAll(io.LimitReader(stdin, maxPolicyFile+1))
			if err == nil && len(doc) > maxPolicyFile {
				err = fmt.Errorf("standard input is larger than %d bytes", maxPolicyFile)
			}
		} else {
			doc, err = readBounded(name, maxPolicyFile)
		}
		if err != nil {
			srcs = append(srcs, lint.Source{Name: name, Error: err.Error()})
			continue
		}
		srcs = append(srcs, lintSource(name, lint.Input{Trust: string(doc), Account: account, Providers: providers}))
	}
	return srcs
}

func lintSource(name string, in lint.Input) lint.Source {
	fs, err := lint.Trust(in)
	src := lint.Source{Name: name, Findings: fs}
	if err != nil {
		src.Error = err.Error()
	}
	return src
}

// roleFetcher reads roles, the account's providers and the roles' permissions through the
// IAM API.
type roleFetcher struct {
	client    *iam.Client
	warn      io.Writer
	providers []lint.Provider // nil: could not be listed
	managed   map[string]*policy.Policy
}

func newRoleFetcher(ctx context.Context, endpoint, region string, warn io.Writer) (*roleFetcher, error) {
	var opts []func(*awsconfig.LoadOptions) error
	if region != "" {
		opts = append(opts, awsconfig.WithRegion(region))
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1" // IAM is global; any region signs
	}
	client := iam.NewFromConfig(cfg, func(o *iam.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
	})
	f := &roleFetcher{client: client, warn: warn, managed: map[string]*policy.Policy{}}
	f.providers, err = f.listProviders(ctx)
	if err != nil {
		// Linting goes on without them: the checks needing them are skipped.
		fmt.Fprintf(warn, "oidcfed lint: the account's OIDC providers are unknown (%v); provider and client-ID checks are skipped\n", describeAWSError(err))
		f.providers = nil
	}
	return f, nil
}

func (f *roleFetcher) listProviders(ctx context.Context) ([]lint.Provider, error) {
	out, err := f.client.ListOpenIDConnectProviders(ctx, &iam.ListOpenIDConnectProvidersInput{})
	if err != nil {
		return nil, err
	}
	providers := []lint.Provider{}
	for _, entry := range out.OpenIDConnectProviderList {
		p, err := f.client.GetOpenIDConnectProvider(ctx, &iam.GetOpenIDConnectProviderInput{OpenIDConnectProviderArn: entry.Arn})
		if err != nil {
			return nil, err
		}
		u := aws.ToString(p.Url)
		if !strings.Contains(u, "://") {
			u = "https://" + u // IAM returns the URL without its scheme
		}
		providers = append(providers, lint.Provider{ARN: aws.ToString(entry.Arn), URL: u, ClientIDs: p.ClientIDList})
	}
	return providers, nil
}

func (f *roleFetcher) lintAll(ctx context.Context) ([]lint.Source, error) {
	var srcs []lint.Source
	pages := iam.NewListRolesPaginator(f.client, &iam.ListRolesInput{})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list roles: %w", describeAWSError(err))
		}
		for _, r := range page.Roles {
			// ListRoles carries the trust policy and MaxSessionDuration: no GetRole needed.
			srcs = append(srcs, f.lint(ctx, r, true))
		}
	}
	return srcs, nil
}

// lintRole lints one role by name, whatever its trust holds.
func (f *roleFetcher) lintRole(ctx context.Context, name string) lint.Source {
	out, err := f.client.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(name)})
	if err != nil {
		return lint.Source{Name: roleSource(name), Error: describeAWSError(err).Error()}
	}
	return f.lint(ctx, *out.Role, false)
}

func roleSource(name string) string { return "iam:role/" + name }

func (f *roleFetcher) lint(ctx context.Context, r types.Role, skipOthers bool) lint.Source {
	name := aws.ToString(r.RoleName)
	src := lint.Source{Name: roleSource(name)}
	trust, err := decodePolicyDocument(aws.ToString(r.AssumeRolePolicyDocument))
	if err != nil {
		src.Error = "trust policy: " + err.Error()
		return src
	}
	if skipOthers {
		if p, err := policy.ParseWithLimit([]byte(trust), 0); err == nil && !lint.TrustsWebIdentity(p) {
			src.Skipped = "the trust policy has no web-identity statement"
			return src
		}
	}
	in := lint.Input{
		Trust:     trust,
		Account:   arnAccount(aws.ToString(r.Arn)),
		Providers: f.providers,
		Role:      lint.Role{Name: name, MaxSessionDuration: time.Duration(aws.ToInt32(r.MaxSessionDuration)) * time.Second},
	}
	perms, err := f.permissions(ctx, name)
	if err != nil {
		fmt.Fprintf(f.warn, "oidcfed lint: role %s: its permissions are unknown (%v); whether it can write or sign is not checked\n", name, err)
	} else {
		in.Role.Permissions = perms
	}
	return lintSource(src.Name, in)
}

// permissions are the role's inline and attached policies, parsed. Any of them that cannot
// be read makes them all unknown: a partial list could hide the one that writes.
func (f *roleFetcher) permissions(ctx context.Context, role string) ([]*policy.Policy, error) {
	perms := []*policy.Policy{}
	inline := iam.NewListRolePoliciesPaginator(f.client, &iam.ListRolePoliciesInput{RoleName: aws.String(role)})
	for inline.HasMorePages() {
		page, err := inline.NextPage(ctx)
		if err != nil {
			return nil, describeAWSError(err)
		}
		for _, pname := range page.PolicyNames {
			out, err := f.client.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: aws.String(role), PolicyName: aws.String(pname)})
			if err != nil {
				return nil, describeAWSError(err)
			}
			p, err := parsePermissions(aws.ToString(out.PolicyDocument))
			if err != nil {
				return nil, fmt.Errorf("inline policy %s: %w", pname, err)
			}
			perms = append(perms, p)
		}
	}
	attached := iam.NewListAttachedRolePoliciesPaginator(f.client, &iam.ListAttachedRolePoliciesInput{RoleName: aws.String(role)})
	for attached.HasMorePages() {
		page, err := attached.NextPage(ctx)
		if err != nil {
			return nil, describeAWSError(err)
		}
		for _, ap := range page.AttachedPolicies {
			p, err := f.managedPolicy(ctx, aws.ToString(ap.PolicyArn))
			if err != nil {
				return nil, fmt.Errorf("managed policy %s: %w", aws.ToString(ap.PolicyArn), err)
			}
			perms = append(perms, p)
		}
	}
	return perms, nil
}

// managedPolicy reads a managed policy's default version, once per run.
func (f *roleFetcher) managedPolicy(ctx context.Context, arn string) (*policy.Policy, error) {
	if p, ok := f.managed[arn]; ok {
		return p, nil
	}
	meta, err := f.client.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: aws.String(arn)})
	if err != nil {
		return nil, describeAWSError(err)
	}
	v, err := f.client.GetPolicyVersion(ctx, &iam.GetPolicyVersionInput{PolicyArn: aws.String(arn), VersionId: meta.Policy.DefaultVersionId})
	if err != nil {
		return nil, describeAWSError(err)
	}
	p, err := parsePermissions(aws.ToString(v.PolicyVersion.Document))
	if err != nil {
		return nil, err
	}
	f.managed[arn] = p
	return p, nil
}

func parsePermissions(encoded string) (*policy.Policy, error) {
	doc, err := decodePolicyDocument(encoded)
	if err != nil {
		return nil, err
	}
	// No quota: AWS already accepted the document; lint only reads its actions.
	return policy.ParseWithLimit([]byte(doc), 0)
}

// decodePolicyDocument undoes the URL encoding IAM applies to every policy document it
// returns (RFC 3986: spaces are %20, a literal '+' is %2B). A document that is already JSON
// (some emulators send it so) is returned as is.
func decodePolicyDocument(s string) (string, error) {
	if strings.HasPrefix(strings.TrimSpace(s), "{") {
		return s, nil
	}
	doc, err := url.PathUnescape(s)
	if err != nil {
		return "", errors.New("the policy document is neither JSON nor URL-encoded JSON")
	}
	return doc, nil
}

// arnAccount is the account field of an ARN, "" when s is not one.
func arnAccount(s string) string {
	parts := strings.SplitN(s, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" {
		return ""
	}
	return parts[4]
}
