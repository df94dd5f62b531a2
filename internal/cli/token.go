package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/oidcfed/oidcfed/internal/issuer"
)

// ciEnv maps GitLab's predefined CI/CD variables to mint request fields,
// for --from-ci-env.
var ciEnv = []struct{ env, field string }{
	{"CI_PROJECT_PATH", "project_path"},
	{"CI_PROJECT_ID", "project_id"},
	{"CI_PROJECT_NAMESPACE", "namespace_path"},
	{"CI_PROJECT_NAMESPACE_ID", "namespace_id"},
	{"CI_PROJECT_VISIBILITY", "project_visibility"},
	{"CI_COMMIT_REF_NAME", "ref"},
	{"CI_COMMIT_REF_PROTECTED", "ref_protected"},
	{"CI_COMMIT_SHA", "sha"},
	{"CI_PIPELINE_ID", "pipeline_id"},
	{"CI_PIPELINE_SOURCE", "pipeline_source"},
	{"CI_JOB_ID", "job_id"},
	{"GITLAB_USER_ID", "user_id"},
	{"GITLAB_USER_LOGIN", "user_login"},
	{"GITLAB_USER_EMAIL", "user_email"},
	{"CI_ENVIRONMENT_NAME", "environment"},
	{"CI_ENVIRONMENT_TIER", "deployment_tier"},
	{"CI_ENVIRONMENT_ACTION", "environment_action"},
}

func newTokenCmd() *cobra.Command {
	var (
		aud                                    []string
		projectPath, ref, refType, pipelineSrc string
		environment, tier                      string
		claims                                 []string
		ttl                                    time.Duration
		endpoint, runnerToken                  string
		fromCIEnv, printClaims                 bool
	)
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Mint a GitLab-style CI ID token from the oidcfed issuer",
		Long: `Mint a GitLab-style CI ID token and print it (the JWT) on stdout.

The endpoint and runner token default to $OIDCFED_ENDPOINT and
$OIDCFED_RUNNER_TOKEN (source <data>/dev.env for the dev server's).
--from-ci-env takes the job context from GitLab's predefined variables
(CI_PROJECT_PATH, CI_COMMIT_REF_NAME, CI_COMMIT_TAG, CI_PIPELINE_ID, CI_JOB_ID, ...;
CI_CONFIG_PATH, with CI_SERVER_HOST, makes ci_config_ref_uri); explicit flags
win. --claim name=value sets any other claim the issuer knows (user_login,
ref_protected, ...).`,
		Example: `  oidcfed token --aud https://gitlab.example.com --project-path mygroup/myproject --ref main
  oidcfed token --aud sts.amazonaws.com --project-path g/p --ref v1.2.0 --ref-type tag --claim ref_protected=true`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			req := map[string]any{}
			if fromCIEnv {
				for _, m := range ciEnv {
					if v := os.Getenv(m.env); v != "" {
						req[m.field] = v
					}
				}
				if tag := os.Getenv("CI_COMMIT_TAG"); tag != "" {
					req["ref"], req["ref_type"] = tag, "tag"
				}
			}
			for _, c := range claims {
				k, v, ok := strings.Cut(c, "=")
				if !ok || k == "" {
					return fmt.Errorf("--claim %q: want name=value", c)
				}
				req[k] = v
			}
			set := func(field, v string) {
				if v != "" {
					req[field] = v
				}
			}
			set("project_path", projectPath)
			set("ref", ref)
			set("ref_type", refType)
			set("pipeline_source", pipelineSrc)
			set("environment", environment)
			set("deployment_tier", tier)
			if fromCIEnv {
				// After the flags: the URI names the final project and ref.
				if _, given := req["ci_config_ref_uri"]; !given {
					if uri := ciConfigRefURI(os.Getenv("CI_SERVER_HOST"), os.Getenv("CI_CONFIG_PATH"), req); uri != "" {
						req["ci_config_ref_uri"] = uri
					}
				}
			}
			switch len(aud) {
			case 0:
			case 1:
				req["aud"] = aud[0]
			default:
				req["aud"] = aud
			}
			if ttl != 0 {
				if ttl%time.Second != 0 || ttl < time.Second {
					return fmt.Errorf("--ttl %s: want whole seconds", ttl)
				}
				req["ttl_seconds"] = int64(ttl / time.Second)
			}
			if endpoint == "" {
				endpoint = os.Getenv("OIDCFED_ENDPOINT")
			}
			if runnerToken == "" {
				runnerToken = os.Getenv("OIDCFED_RUNNER_TOKEN")
			}
			if endpoint == "" || runnerToken == "" {
				return errors.New("need the server endpoint and a runner token: pass --endpoint and --runner-token, or source the dev server's .oidcfed/dev.env (OIDCFED_ENDPOINT, OIDCFED_RUNNER_TOKEN)")
			}
			if err := checkEndpoint(endpoint); err != nil {
				return err
			}
			resp, err := mint(cmd, strings.TrimSuffix(endpoint, "/"), runnerToken, req)
			if err != nil {
				return err
			}
			if printClaims {
				out, _ := json.MarshalIndent(resp.Claims, "", "  ")
				fmt.Fprintln(cmd.ErrOrStderr(), string(out))
			}
			fmt.Fprintln(cmd.OutOrStdout(), resp.Token)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&aud, "aud", nil, "audience (repeat for several), as id_tokens:NAME:aud")
	f.StringVar(&projectPath, "project-path", "", "project path, e.g. mygroup/myproject")
	f.StringVar(&ref, "ref", "", "branch or tag name")
	f.StringVar(&refType, "ref-type", "", "branch (default) or tag")
	f.StringVar(&pipelineSrc, "pipeline-source", "", "push (default), merge_request_event, schedule, web, ...")
	f.StringVar(&environment, "environment", "", "deployment environment name")
	f.StringVar(&tier, "deployment-tier", "", "production, staging, testing, development or other")
	f.StringArrayVar(&claims, "claim", nil, "extra claim name=value (repeatable)")
	f.DurationVar(&ttl, "ttl", 0, "token lifetime, like a job timeout (default the issuer's, 5m)")
	f.StringVar(&endpoint, "endpoint", "", "oidcfed server URL (default $OIDCFED_ENDPOINT)")
	f.StringVar(&runnerToken, "runner-token", "", "runner token (default $OIDCFED_RUNNER_TOKEN)")
	f.BoolVar(&fromCIEnv, "from-ci-env", false, "take the job context from GitLab CI predefined variables")
	f.BoolVar(&printClaims, "print-claims", false, "also print the token's claims (JSON) on stderr")
	return cmd
}

// ciConfigRefURI builds GitLab's ci_config_ref_uri,
// host/project_path//config_path@ref_path, from CI_SERVER_HOST,
// CI_CONFIG_PATH and the request's project and ref. It is "" unless all are
// known: a partial URI would be a claim GitLab never issues.
func ciConfigRefURI(serverHost, configPath string, req map[string]any) string {
	project, _ := req["project_path"].(string)
	ref, _ := req["ref"].(string)
	refType, _ := req["ref_type"].(string)
	if serverHost == "" || configPath == "" || project == "" || ref == "" {
		return ""
	}
	refPath := "refs/heads/" + ref
	switch refType {
	case "", "branch":
	case "tag":
		refPath = "refs/tags/" + ref
	default:
		return "" // the issuer refuses the ref_type; do not guess a path
	}
	return serverHost + "/" + project + "//" + configPath + "@" + refPath
}

// errEndpointUnparseable is the whole message for an --endpoint that is not
// a URL: the value is not quoted, because a mistyped URL can still hold a
// password.
var errEndpointUnparseable = errors.New("--endpoint must be an http:// or https:// URL, e.g. http://127.0.0.1:8080 (the value given is not shown: it may hold credentials)")

// checkEndpoint refuses what mint could not use, before any request.
func checkEndpoint(endpoint string) error {
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return errEndpointUnparseable
	}
	return nil
}

// safeEndpoint is the endpoint as error messages may show it: a URL's
// userinfo (user:password@) is a credential and is dropped, and so are the
// query and fragment, which can carry tokens too. What cannot be parsed is
// not echoed at all: its userinfo cannot be told apart reliably.
func safeEndpoint(endpoint string) string {
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return "--endpoint (not shown: not a URL)"
	}
	u.User, u.RawQuery, u.ForceQuery, u.Fragment, u.RawFragment = nil, "", false, "", ""
	return u.String()
}

func mint(cmd *cobra.Command, endpoint, runnerToken string, req map[string]any) (*issuer.MintResponse, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	shown := safeEndpoint(endpoint)
	hreq, err := http.NewRequestWithContext(cmd.Context(), http.MethodPost, endpoint+issuer.MintPath, bytes.NewReader(body))
	if err != nil {
		// Not wrapped: url.Parse errors quote the whole URL.
		return nil, errEndpointUnparseable
	}
	hreq.Header.Set("Content-Type", "application/json")
	hreq.Header.Set("Authorization", "Bearer "+runnerToken)
	client := &http.Client{Timeout: 15 * time.Second}
	resp, err := client.Do(hreq)
	if err != nil {
		// A *url.Error quotes the request URL (user name included); keep
		// only the cause beneath it.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("cannot reach oidcfed at %s: %w", shown, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		var e issuer.ErrorBody
		if json.Unmarshal(data, &e) == nil && e.Error.Message != "" {
			return nil, fmt.Errorf("token refused (%d %s): %s", resp.StatusCode, e.Error.Code, e.Error.Message)
		}
		return nil, fmt.Errorf("token refused: HTTP %d", resp.StatusCode)
	}
	var out issuer.MintResponse
	if err := json.Unmarshal(data, &out); err != nil || out.Token == "" {
		return nil, fmt.Errorf("unexpected response from %s", shown)
	}
	return &out, nil
}
