package app_test

import (
	"context"
	"encoding/hex"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/oidcfed/oidcfed/internal/iam"
)

// TestProcessConfigDeployment runs oidcfed the way an operator would,
// without --dev: a config file declaring the issuer, an OIDC provider and a
// role; a master key file; a runner created with the CLI against the same
// config; and the aws CLI trading a minted token for credentials.
func TestProcessConfigDeployment(t *testing.T) {
	bin := oidcfedBinary(t)
	dir := t.TempDir()
	listen := freeAddr(t)
	issuerURL := "http://" + listen + "/ci"
	keyFile := filepath.Join(dir, "master.key")
	writeFile(t, keyFile, []byte(hex.EncodeToString(make([]byte, 32))+"\n"), 0o600)
	prov := iam.ProviderConditionPrefix(issuerURL)
	trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"` + iam.ProviderARN("123456789012", issuerURL) +
		`"},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringEquals":{"` + prov + `:aud":"sts.amazonaws.com"},` +
		`"StringLike":{"` + prov + `:sub":"project_path:ops/*:ref_type:branch:ref:main"}}}]}`
	cfg := filepath.Join(dir, "oidcfed.yaml")
	writeFile(t, cfg, []byte(`listen: `+listen+`
data_dir: `+filepath.Join(dir, "data")+`
master_key_file: `+keyFile+`
log_level: warn
issuer:
  url: `+issuerURL+`
account_id: "123456789012"
region: eu-west-1
oidc_providers:
  - url: `+issuerURL+`
    client_ids: [sts.amazonaws.com]
    allow_insecure_http: true
roles:
  - name: deployer
    path: /ci/
    trust_policy: '`+trust+`'
`), 0o600)

	srv := exec.Command(bin, "serve", "--config", cfg)
	srv.Env = cleanEnv()
	var logs lockedBuffer
	srv.Stdout, srv.Stderr = &logs, &logs
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Process.Kill(); _ = srv.Wait() })
	base := "http://" + listen
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("server not ready: %s", logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}

	run := func(name string, args []string, env ...string) string {
		cmd := exec.CommandContext(context.Background(), name, args...)
		cmd.Env = cleanEnv(env...)
		out, err := cmd.Output()
		if err != nil {
			var stderr []byte
			if ee, ok := err.(*exec.ExitError); ok {
				stderr = ee.Stderr
			}
			t.Fatalf("%s %v: %v\n%s", name, args, err, stderr)
		}
		return strings.TrimSpace(string(out))
	}
	runner := run(bin, []string{"runner", "create", "--config", cfg, "--name", "ops-runner", "--allow", "project_path=ops/*"})
	token := run(bin, []string{"token", "--endpoint", base, "--runner-token", runner, "--aud", "sts.amazonaws.com",
		"--project-path", "ops/deploy", "--ref", "main"})
	home := t.TempDir()
	awsEnv := []string{"HOME=" + home, "AWS_ENDPOINT_URL=" + base, "AWS_DEFAULT_REGION=eu-west-1",
		"AWS_CONFIG_FILE=" + filepath.Join(home, "c"), "AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(home, "s"),
		"AWS_ACCESS_KEY_ID=", "AWS_SECRET_ACCESS_KEY=", "AWS_SESSION_TOKEN="}
	arn := run("aws", []string{"sts", "assume-role-with-web-identity", "--role-arn", "arn:aws:iam::123456789012:role/ci/deployer",
		"--role-session-name", "job-1", "--web-identity-token", token, "--query", "AssumedRoleUser.Arn", "--output", "text"}, awsEnv...)
	if arn != "arn:aws:sts::123456789012:assumed-role/deployer/job-1" {
		t.Fatalf("assumed %q", arn)
	}
	// The runner's constraint holds outside ops/.
	cmd := exec.Command(bin, "token", "--endpoint", base, "--runner-token", runner, "--aud", "sts.amazonaws.com",
		"--project-path", "dev/app", "--ref", "main")
	cmd.Env = cleanEnv()
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "project_path") {
		t.Fatalf("constraint not enforced: %v %s", err, out)
	}
	if strings.Contains(logs.String(), runner) || strings.Contains(logs.String(), token) {
		t.Fatal("a runner token or ID token reached the server log")
	}
	_ = os.Remove(cfg)
}
