package cli

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/spf13/cobra"

	"github.com/oidcfed/oidcfed/internal/explain"
	"github.com/oidcfed/oidcfed/internal/sts"
)

// exitDenied is explain's exit code when the request would be refused, so
// a script can gate on "would this job get credentials?".
const exitDenied = 2

// maxExplainResponse bounds what the CLI reads back.
const maxExplainResponse = 4 << 20

func newExplainCmd() *cobra.Command {
	var (
		roleARN, token, tokenFile, claimsFile, format, endpoint, sessionName string
		duration                                                             int64
	)
	cmd := &cobra.Command{
		Use:   "explain --role-arn ARN (--token T | --token-file F | --claims FILE)",
		Short: "Explain why AssumeRoleWithWebIdentity would allow or deny a token",
		Long: `Run the whole AssumeRoleWithWebIdentity decision on the server without issuing
credentials and print each step: provider lookup, key and signature, audience,
time claims, each trust statement and each condition (operator, key, expected
values, actual value), then hints for the known mistakes (tag vs branch
ref_type, merge request and fork pipelines, aud with or without a trailing
slash, StringEquals with a wildcard, a Principal naming another provider, a
missing sts:AssumeRoleWithWebIdentity action, an expired token).

--claims FILE takes a hypothetical claim set (JSON, as a token's payload) to
try a trust policy before any pipeline runs.

The request goes to the server's operator API (POST /api/v1/explain), signed
with the account root's access key from the usual AWS sources
(AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, a profile): source the dev server's
.oidcfed/dev.env for its. The endpoint is --endpoint, else $OIDCFED_ENDPOINT,
else $AWS_ENDPOINT_URL.

Exit status: 0 when the request would be allowed, 2 when it would be denied,
1 on any other error.`,
		Example: `  oidcfed explain --role-arn "$OIDCFED_DEPLOY_ROLE_ARN" --token-file "$CI_JOB_JWT_FILE"
  oidcfed explain --role-arn arn:aws:iam::000000000000:role/deploy --claims tag-pipeline.json --format json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if format != "text" && format != "json" {
				return fmt.Errorf("--format must be text or json, not %q", format)
			}
			req := sts.ExplainRequest{RoleARN: roleARN, RoleSessionName: sessionName}
			if cmd.Flags().Changed("duration-seconds") {
				req.DurationSeconds = &duration
			}
			given := 0
			if token != "" {
				given++
				req.Token = token
			}
			if tokenFile != "" {
				given++
				b, err := readBounded(tokenFile, 64<<10)
				if err != nil {
					return err
				}
				req.Token = strings.TrimSpace(string(b))
			}
			if claimsFile != "" {
				given++
				b, err := readBounded(claimsFile, 64<<10)
				if err != nil {
					return err
				}
				dec := json.NewDecoder(bytes.NewReader(b))
				dec.UseNumber()
				if err := dec.Decode(&req.Claims); err != nil || req.Claims == nil {
					return fmt.Errorf("%s: not a JSON object of claims: %v", claimsFile, err)
				}
			}
			if given != 1 {
				return errors.New("give exactly one of --token, --token-file or --claims")
			}
			if endpoint == "" {
				endpoint = os.Getenv("OIDCFED_ENDPOINT")
			}
			if endpoint == "" {
				endpoint = os.Getenv("AWS_ENDPOINT_URL")
			}
			if endpoint == "" {
				return errors.New("no server: pass --endpoint, or set $OIDCFED_ENDPOINT (source the dev server's .oidcfed/dev.env)")
			}
			report, err := postExplain(cmd.Context(), endpoint, req)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if format == "json" {
				err = explain.WriteJSON(out, report)
			} else {
				err = explain.WriteText(out, report)
			}
			if err != nil {
				return err
			}
			if !report.Allowed {
				return &exitError{code: exitDenied}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&roleARN, "role-arn", "", "the role to assume (required)")
	f.StringVar(&token, "token", "", "the job's ID token (JWT)")
	f.StringVar(&tokenFile, "token-file", "", "a file holding the ID token")
	f.StringVar(&claimsFile, "claims", "", "a JSON file of hypothetical claims (iss, aud, sub, ...)")
	f.StringVar(&format, "format", "text", "output: text or json")
	f.StringVar(&endpoint, "endpoint", "", "oidcfed server URL (default $OIDCFED_ENDPOINT, then $AWS_ENDPOINT_URL)")
	f.StringVar(&sessionName, "role-session-name", "", "the RoleSessionName the call would send (default explain)")
	f.Int64Var(&duration, "duration-seconds", 0, "the DurationSeconds the call would send")
	_ = cmd.MarkFlagRequired("role-arn")
	return cmd
}

// postExplain signs the request with SigV4 (service "oidcfed") and
// returns the server's report.
func postExplain(ctx context.Context, endpoint string, in sts.ExplainRequest) (*explain.Report, error) {
	cfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("AWS credentials: %w", err)
	}
	region := cfg.Region
	if region == "" {
		region = "us-east-1"
	}
	creds, err := cfg.Credentials.Retrieve(ctx)
	if err != nil {
		return nil, fmt.Errorf("AWS credentials (the account root's access key signs explain requests): %w", err)
	}
	body, err := json.Marshal(in)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(endpoint, "/")+sts.ExplainPath, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	sum := sha256.Sum256(body)
	if err := v4.NewSigner().SignHTTP(ctx, aws.Credentials(creds), req, hex.EncodeToString(sum[:]), sts.ExplainSigningService, region, time.Now()); err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxExplainResponse))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		var e sts.ExplainError
		if json.Unmarshal(raw, &e) == nil && e.Error.Code != "" {
			return nil, fmt.Errorf("server refused: %s: %s", e.Error.Code, e.Error.Message)
		}
		return nil, fmt.Errorf("server answered %s", resp.Status)
	}
	var report explain.Report
	if err := json.Unmarshal(raw, &report); err != nil {
		return nil, fmt.Errorf("server answered an unreadable report: %w", err)
	}
	return &report, nil
}
