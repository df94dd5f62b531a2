package app_test

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/oidcfed/oidcfed/internal/app"
)

// TestRootAccessKey: dev mode creates the account root user's long-term key,
// sealed in the store, and dev.env exports it; the aws CLI signs with it;
// it survives a restart and a master-key rotation; root cannot assume
// roles, as on AWS.
func TestRootAccessKey(t *testing.T) {
	hermeticEnv(t)
	dir := t.TempDir()
	listen := freeAddr(t)
	s := startDev(t, dir, listen, nil)
	env := app.ReadEnvFile(filepath.Join(dir, app.DevEnvFileName))
	id, secret := env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"]
	if !strings.HasPrefix(id, "AKIA") || len(id) != 20 || len(secret) != 40 {
		t.Fatalf("dev.env root key %q / %d-character secret", id, len(secret))
	}
	w := &stsWorld{testServer: s, home: t.TempDir()}
	aws := func(t *testing.T, args ...string) (string, error) {
		cmd := exec.CommandContext(t.Context(), "aws", args...)
		cmd.Env = w.awsEnv("AWS_ACCESS_KEY_ID="+id, "AWS_SECRET_ACCESS_KEY="+secret)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := aws(t, "sts", "get-caller-identity", "--query", "Arn", "--output", "text"); err != nil || strings.TrimSpace(out) != "arn:aws:iam::000000000000:root" {
		t.Fatalf("get-caller-identity as root: %v %s", err, out)
	}
	out, err := aws(t, "sts", "assume-role", "--role-arn", "arn:aws:iam::000000000000:role/"+app.DevCIRole, "--role-session-name", "root-try")
	if err == nil || !strings.Contains(out, "(AccessDenied) when calling the AssumeRole operation: Roles may not be assumed by root accounts.") {
		t.Fatalf("root AssumeRole: %v %s", err, out)
	}
	s.stop(t)

	if code, _, errOut := runCLI(t, "admin", "rotate-master-key", "--data", dir); code != 0 {
		t.Fatalf("rotate-master-key: %s", errOut)
	}
	s = startDev(t, dir, listen, nil)
	env = app.ReadEnvFile(filepath.Join(dir, app.DevEnvFileName))
	if env["AWS_ACCESS_KEY_ID"] != id || env["AWS_SECRET_ACCESS_KEY"] != secret {
		t.Fatal("the root key changed across a restart and a master-key rotation")
	}
	w.testServer = s
	if out, err := aws(t, "sts", "get-caller-identity", "--query", "Account", "--output", "text"); err != nil || strings.TrimSpace(out) != "000000000000" {
		t.Fatalf("after re-sealing: %v %s", err, out)
	}
}
