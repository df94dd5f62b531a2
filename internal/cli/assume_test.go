package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// startMoto runs moto_server (a real STS wire peer, installed with python3)
// on a free loopback port for the test. moto never reads the token, which
// is exactly what makes it a pure wire check of the client.
func startMoto(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("moto_server")
	if err != nil {
		t.Fatalf("moto_server is required (installed with python3's moto): %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, path, "-H", "127.0.0.1", "-p", strconv.Itoa(port))
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); _ = cmd.Wait() })
	url := "http://127.0.0.1:" + strconv.Itoa(port)
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(url + "/moto-api/"); err == nil {
			resp.Body.Close()
			return url
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("moto_server did not start: %s", logs.String())
	return ""
}

func runAssume(t *testing.T, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	for _, k := range []string{"AWS_ROLE_ARN", "GITLAB_OIDC_TOKEN", "AWS_WEB_IDENTITY_TOKEN_FILE", "CI_PROJECT_ID", "CI_PIPELINE_ID",
		"AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL_STS"} {
		t.Setenv(k, "")
	}
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_REGION", "us-east-1")
	for k, v := range env {
		t.Setenv(k, v)
	}
	var out, errb bytes.Buffer
	code := Execute(context.Background(), append([]string{"assume"}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

func TestAssumeAgainstMoto(t *testing.T) {
	url := startMoto(t)
	const role = "arn:aws:iam::123456789012:role/gitlab-deploy"
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte("header.payload.sig\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	base := map[string]string{"AWS_ENDPOINT_URL": url}
	with := func(extra map[string]string) map[string]string {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	cases := []struct {
		name  string
		env   map[string]string
		args  []string
		check func(t *testing.T, out string)
	}{
		{"env format for eval", base, []string{"--role-arn", role, "--token", "a.b.c"}, func(t *testing.T, out string) {
			lines := strings.Split(strings.TrimSpace(out), "\n")
			if len(lines) != 3 || !strings.HasPrefix(lines[0], "export AWS_ACCESS_KEY_ID=ASIA") ||
				!strings.HasPrefix(lines[1], "export AWS_SECRET_ACCESS_KEY=") || !strings.HasPrefix(lines[2], "export AWS_SESSION_TOKEN=") {
				t.Fatalf("env output %q", out)
			}
		}},
		{"dotenv", base, []string{"--role-arn", role, "--token", "a.b.c", "--format", "dotenv"}, func(t *testing.T, out string) {
			if !strings.HasPrefix(out, "AWS_ACCESS_KEY_ID=ASIA") || strings.Contains(out, "export") {
				t.Fatalf("dotenv output %q", out)
			}
		}},
		{"json as the aws CLI prints it, token from file", base, []string{"--role-arn", role, "--token-file", tokenFile, "--format", "json", "--session-name", "s1"}, func(t *testing.T, out string) {
			var doc struct {
				Credentials     struct{ AccessKeyId, SecretAccessKey, SessionToken, Expiration string }
				AssumedRoleUser struct{ Arn string }
			}
			if err := json.Unmarshal([]byte(out), &doc); err != nil || doc.Credentials.SessionToken == "" ||
				!strings.HasSuffix(doc.AssumedRoleUser.Arn, ":assumed-role/gitlab-deploy/s1") {
				t.Fatalf("json output %q (%v)", out, err)
			}
			if _, err := time.Parse(time.RFC3339, doc.Credentials.Expiration); err != nil {
				t.Fatalf("Expiration %q", doc.Credentials.Expiration)
			}
		}},
		{"credential-process v1", base, []string{"--role-arn", role, "--token", "x", "--format", "credential-process"}, func(t *testing.T, out string) {
			var doc map[string]any
			if err := json.Unmarshal([]byte(out), &doc); err != nil || doc["Version"] != float64(1) || doc["AccessKeyId"] == "" || doc["Expiration"] == "" {
				t.Fatalf("credential-process output %q", out)
			}
		}},
		{"profile section", base, []string{"--role-arn", role, "--token", "x", "--format", "profile:ci"}, func(t *testing.T, out string) {
			if !strings.HasPrefix(out, "[ci]\naws_access_key_id = ASIA") || !strings.Contains(out, "aws_session_token = ") {
				t.Fatalf("profile output %q", out)
			}
		}},
		{"GitLab job: token, role and session name from the environment",
			with(map[string]string{"GITLAB_OIDC_TOKEN": "a.b.c", "AWS_ROLE_ARN": role, "CI_PROJECT_ID": "42", "CI_PIPELINE_ID": "455"}),
			[]string{"--format", "json"}, func(t *testing.T, out string) {
				if !strings.Contains(out, ":assumed-role/gitlab-deploy/gitlab-ci-42-455") {
					t.Fatalf("default session name not used: %s", out)
				}
			}},
		{"AWS_WEB_IDENTITY_TOKEN_FILE", with(map[string]string{"AWS_WEB_IDENTITY_TOKEN_FILE": tokenFile}),
			[]string{"--role-arn", role, "--duration", "1h"}, func(t *testing.T, out string) {
				if !strings.Contains(out, "AWS_SESSION_TOKEN=") {
					t.Fatalf("output %q", out)
				}
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runAssume(t, tc.env, tc.args...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			tc.check(t, out)
		})
	}
}

// TestAssumeBadInput: refused before any request, with a message that
// says what to do.
func TestAssumeBadInput(t *testing.T) {
	big := filepath.Join(t.TempDir(), "big")
	if err := os.WriteFile(big, bytes.Repeat([]byte("a"), maxTokenFile+1), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"AWS_ENDPOINT_URL": "http://127.0.0.1:1"} // nothing listens: no request may be needed
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"no role", []string{"--token", "x"}, "need a role"},
		{"no token", []string{"--role-arn", "arn:aws:iam::123456789012:role/r"}, "no token"},
		{"token and file", []string{"--role-arn", "r", "--token", "x", "--token-file", big}, "not both"},
		{"token file too big", []string{"--role-arn", "r", "--token-file", big}, "larger than"},
		{"missing token file", []string{"--role-arn", "r", "--token-file", "/nonexistent/t"}, "token file"},
		{"bad format", []string{"--role-arn", "r", "--token", "x", "--format", "yaml"}, "--format"},
		{"empty profile name", []string{"--role-arn", "r", "--token", "x", "--format", "profile:"}, "--format"},
		{"bad duration", []string{"--role-arn", "r", "--token", "x", "--duration", "1.5s"}, "--duration"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runAssume(t, env, tc.args...)
			if code != 1 || out != "" || !strings.Contains(errOut, tc.want) {
				t.Fatalf("exit %d out %q err %q; want exit 1 mentioning %q", code, out, errOut, tc.want)
			}
		})
	}
}
