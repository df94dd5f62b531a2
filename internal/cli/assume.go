package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	"github.com/spf13/cobra"
)

// maxTokenFile bounds --token-file: AWS accepts tokens up to 20,000
// characters; anything much larger is not a token.
const maxTokenFile = 64 << 10

func newAssumeCmd() *cobra.Command {
	var (
		roleARN, token, tokenFile, sessionName, policyFile, format, endpoint, region string
		duration                                                                     string
	)
	cmd := &cobra.Command{
		Use:   "assume",
		Short: "Trade a CI ID token for temporary AWS credentials (AssumeRoleWithWebIdentity)",
		Long: `Call STS AssumeRoleWithWebIdentity and print the credentials.

The token comes from --token, --token-file, $GITLAB_OIDC_TOKEN or the file named
by $AWS_WEB_IDENTITY_TOKEN_FILE, in that order; the role from --role-arn or
$AWS_ROLE_ARN. The endpoint and region follow the AWS SDKs' configuration
(AWS_ENDPOINT_URL_STS, AWS_ENDPOINT_URL, AWS_REGION, profiles), so the same
command works against oidcfed and against AWS.

Formats: env (export lines, for eval), dotenv, json (the STS response as the aws
CLI prints it), credential-process (the SDKs' Version 1 JSON), profile:NAME (an
INI section for ~/.aws/credentials).`,
		Example: `  eval "$(oidcfed assume --role-arn "$AWS_ROLE_ARN")"
  oidcfed assume --role-arn arn:aws:iam::000000000000:role/gitlab-deploy --token-file token.jwt --format json | jq -r .Credentials.AccessKeyId`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if roleARN == "" {
				roleARN = os.Getenv("AWS_ROLE_ARN")
			}
			if roleARN == "" {
				return errors.New("need a role: --role-arn ARN or $AWS_ROLE_ARN")
			}
			tok, err := resolveToken(token, tokenFile)
			if err != nil {
				return err
			}
			if sessionName == "" {
				sessionName = defaultSessionName(time.Now())
			}
			in := &sts.AssumeRoleWithWebIdentityInput{
				RoleArn:          aws.String(roleARN),
				RoleSessionName:  aws.String(sessionName),
				WebIdentityToken: aws.String(tok),
			}
			if duration != "" {
				secs, err := parseDurationSeconds(duration)
				if err != nil {
					return fmt.Errorf("--duration %q: %w", duration, err)
				}
				in.DurationSeconds = aws.Int32(secs)
			}
			if policyFile != "" {
				doc, err := readBounded(policyFile, 64<<10)
				if err != nil {
					return fmt.Errorf("--policy-file: %w", err)
				}
				in.Policy = aws.String(string(doc))
			}
			render, err := renderer(format)
			if err != nil {
				return err
			}
			opts := []func(*awsconfig.LoadOptions) error{
				// The call is authenticated by the token, not by AWS
				// credentials: never sign it with whatever is configured.
				awsconfig.WithCredentialsProvider(aws.AnonymousCredentials{}),
			}
			if region != "" {
				opts = append(opts, awsconfig.WithRegion(region))
			}
			cfg, err := awsconfig.LoadDefaultConfig(cmd.Context(), opts...)
			if err != nil {
				return fmt.Errorf("AWS configuration: %w", err)
			}
			if cfg.Region == "" {
				cfg.Region = "us-east-1" // STS is global; any region signs
			}
			client := sts.NewFromConfig(cfg, func(o *sts.Options) {
				if endpoint != "" {
					o.BaseEndpoint = aws.String(endpoint)
				}
			})
			out, err := client.AssumeRoleWithWebIdentity(cmd.Context(), in)
			if err != nil {
				return describeAWSError(err)
			}
			return render(cmd.OutOrStdout(), out)
		},
	}
	f := cmd.Flags()
	f.StringVar(&roleARN, "role-arn", "", "role to assume (default $AWS_ROLE_ARN)")
	f.StringVar(&token, "token", "", "the web identity token (JWT)")
	f.StringVar(&tokenFile, "token-file", "", "file holding the token")
	f.StringVar(&sessionName, "session-name", "", "role session name (default gitlab-ci-$CI_PROJECT_ID-$CI_PIPELINE_ID in GitLab CI)")
	f.StringVar(&duration, "duration", "", "session duration: seconds or a Go duration such as 1h (default the role's 3600)")
	f.StringVar(&policyFile, "policy-file", "", "session policy JSON that further limits the session")
	f.StringVar(&format, "format", "env", "env, dotenv, json, credential-process or profile:NAME")
	f.StringVar(&endpoint, "endpoint", "", "STS endpoint URL (default from AWS_ENDPOINT_URL_STS / AWS_ENDPOINT_URL)")
	f.StringVar(&region, "region", "", "region (default from AWS_REGION or the profile)")
	return cmd
}

// resolveToken picks the token source; a token is never taken from more
// than one place silently.
func resolveToken(token, tokenFile string) (string, error) {
	if token != "" && tokenFile != "" {
		return "", errors.New("give --token or --token-file, not both")
	}
	switch {
	case token != "":
		return token, nil
	case tokenFile != "":
		return readToken(tokenFile)
	case os.Getenv("GITLAB_OIDC_TOKEN") != "":
		return os.Getenv("GITLAB_OIDC_TOKEN"), nil
	case os.Getenv("AWS_WEB_IDENTITY_TOKEN_FILE") != "":
		return readToken(os.Getenv("AWS_WEB_IDENTITY_TOKEN_FILE"))
	}
	return "", errors.New("no token: pass --token or --token-file, or set GITLAB_OIDC_TOKEN (GitLab id_tokens) or AWS_WEB_IDENTITY_TOKEN_FILE")
}

func readToken(path string) (string, error) {
	data, err := readBounded(path, maxTokenFile)
	if err != nil {
		return "", fmt.Errorf("token file: %w", err)
	}
	return strings.TrimSpace(string(data)), nil
}

func readBounded(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, limit)
	}
	return data, nil
}

// defaultSessionName follows the seeds: gitlab-ci-<project id>-<pipeline
// id> inside GitLab CI, else oidcfed-<unix time>.
func defaultSessionName(now time.Time) string {
	project, pipeline := os.Getenv("CI_PROJECT_ID"), os.Getenv("CI_PIPELINE_ID")
	if project != "" && pipeline != "" {
		return "gitlab-ci-" + project + "-" + pipeline
	}
	return "oidcfed-" + strconv.FormatInt(now.Unix(), 10)
}

// parseDurationSeconds accepts "3600" or "1h".
func parseDurationSeconds(s string) (int32, error) {
	if n, err := strconv.ParseInt(s, 10, 32); err == nil {
		return int32(n), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d%time.Second != 0 || d <= 0 || d > 1<<31*time.Second {
		return 0, errors.New("want whole seconds, e.g. 3600 or 1h")
	}
	return int32(d / time.Second), nil
}

// describeAWSError prints what STS said: its code and message, as the aws
// CLI does ("An error occurred (AccessDenied) ...").
func describeAWSError(err error) error {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		return fmt.Errorf("%s: %s", apiErr.ErrorCode(), apiErr.ErrorMessage())
	}
	return err
}

type renderFunc func(io.Writer, *sts.AssumeRoleWithWebIdentityOutput) error

func renderer(format string) (renderFunc, error) {
	switch {
	case format == "env":
		return envLines("export "), nil
	case format == "dotenv":
		return envLines(""), nil
	case format == "json":
		return renderJSON, nil
	case format == "credential-process":
		return renderCredentialProcess, nil
	case strings.HasPrefix(format, "profile:") && len(format) > len("profile:"):
		name := strings.TrimPrefix(format, "profile:")
		if strings.ContainsAny(name, "[]\n\r") {
			return nil, fmt.Errorf("--format %q: bad profile name", format)
		}
		return renderProfile(name), nil
	}
	return nil, fmt.Errorf("--format %q: want env, dotenv, json, credential-process or profile:NAME", format)
}

func envLines(prefix string) renderFunc {
	return func(w io.Writer, out *sts.AssumeRoleWithWebIdentityOutput) error {
		c := out.Credentials
		_, err := fmt.Fprintf(w, "%sAWS_ACCESS_KEY_ID=%s\n%sAWS_SECRET_ACCESS_KEY=%s\n%sAWS_SESSION_TOKEN=%s\n",
			prefix, shellWord(aws.ToString(c.AccessKeyId)), prefix, shellWord(aws.ToString(c.SecretAccessKey)),
			prefix, shellWord(aws.ToString(c.SessionToken)))
		return err
	}
}

// shellWord quotes a value only when it needs it (session tokens are
// base64: '+', '/' and '=' are safe unquoted, so the common case stays
// readable and `export $(...)` keeps working).
func shellWord(s string) string {
	for _, r := range s {
		if !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || strings.ContainsRune("+/=_-.:", r)) {
			return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
		}
	}
	return s
}

func isoTime(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func renderJSON(w io.Writer, out *sts.AssumeRoleWithWebIdentityOutput) error {
	type assumedRoleUser struct {
		AssumedRoleID string `json:"AssumedRoleId"`
		Arn           string `json:"Arn"`
	}
	type credentials struct {
		AccessKeyID     string `json:"AccessKeyId"`
		SecretAccessKey string `json:"SecretAccessKey"`
		SessionToken    string `json:"SessionToken"`
		Expiration      string `json:"Expiration"`
	}
	doc := struct {
		Credentials                 credentials      `json:"Credentials"`
		SubjectFromWebIdentityToken string           `json:"SubjectFromWebIdentityToken,omitempty"`
		AssumedRoleUser             *assumedRoleUser `json:"AssumedRoleUser,omitempty"`
		PackedPolicySize            *int32           `json:"PackedPolicySize,omitempty"`
		Provider                    string           `json:"Provider,omitempty"`
		Audience                    string           `json:"Audience,omitempty"`
		SourceIdentity              string           `json:"SourceIdentity,omitempty"`
	}{
		Credentials: credentials{
			AccessKeyID: aws.ToString(out.Credentials.AccessKeyId), SecretAccessKey: aws.ToString(out.Credentials.SecretAccessKey),
			SessionToken: aws.ToString(out.Credentials.SessionToken), Expiration: isoTime(out.Credentials.Expiration),
		},
		SubjectFromWebIdentityToken: aws.ToString(out.SubjectFromWebIdentityToken),
		//lint:ignore SA1019 the aws CLI still prints PackedPolicySize; scripts parse it
		PackedPolicySize: out.PackedPolicySize,
		Provider:         aws.ToString(out.Provider),
		Audience:         aws.ToString(out.Audience),
		SourceIdentity:   aws.ToString(out.SourceIdentity),
	}
	if u := out.AssumedRoleUser; u != nil {
		doc.AssumedRoleUser = &assumedRoleUser{AssumedRoleID: aws.ToString(u.AssumedRoleId), Arn: aws.ToString(u.Arn)}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "    ")
	return enc.Encode(doc)
}

// renderCredentialProcess prints the Version 1 document the SDKs run a
// credential_process for.
func renderCredentialProcess(w io.Writer, out *sts.AssumeRoleWithWebIdentityOutput) error {
	c := out.Credentials
	return json.NewEncoder(w).Encode(struct {
		Version         int    `json:"Version"`
		AccessKeyID     string `json:"AccessKeyId"`
		SecretAccessKey string `json:"SecretAccessKey"`
		SessionToken    string `json:"SessionToken"`
		Expiration      string `json:"Expiration"`
	}{1, aws.ToString(c.AccessKeyId), aws.ToString(c.SecretAccessKey), aws.ToString(c.SessionToken), isoTime(c.Expiration)})
}

func renderProfile(name string) renderFunc {
	return func(w io.Writer, out *sts.AssumeRoleWithWebIdentityOutput) error {
		c := out.Credentials
		_, err := fmt.Fprintf(w, "[%s]\naws_access_key_id = %s\naws_secret_access_key = %s\naws_session_token = %s\n",
			name, aws.ToString(c.AccessKeyId), aws.ToString(c.SecretAccessKey), aws.ToString(c.SessionToken))
		return err
	}
}
