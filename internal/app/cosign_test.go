package app_test

import (
	"bytes"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/oidcfed/oidcfed/internal/app"
)

// cosignBinary is the cosign scripts/cosign built (scripts/test exports
// OIDCFED_COSIGN); without it the cosign tests are skipped.
func cosignBinary(t *testing.T) string {
	t.Helper()
	bin := os.Getenv("OIDCFED_COSIGN")
	if bin == "" {
		t.Skip("OIDCFED_COSIGN is not set: run scripts/test, or export OIDCFED_COSIGN=$(scripts/cosign)")
	}
	return bin
}

// pushImage pushes a random image to a loopback registry and returns its
// digest reference.
func pushImage(t *testing.T, host, repo string) string {
	t.Helper()
	img, err := random.Image(512, 1)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := name.ParseReference(host + "/" + repo + ":v1")
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return host + "/" + repo + "@" + d.String()
}

// TestCosignWithKMS runs cosign as a CI job does: a job token in
// AWS_WEB_IDENTITY_TOKEN_FILE, the role in AWS_ROLE_ARN, oidcfed as the
// STS and KMS endpoint, the key as awskms:///alias/ci-signing, an OCI
// registry on loopback, and no transparency log.
func TestCosignWithKMS(t *testing.T) {
	cosign := cosignBinary(t)
	w := newKMSWorld(t)
	reg := httptest.NewServer(registry.New())
	t.Cleanup(reg.Close)
	host := strings.TrimPrefix(reg.URL, "http://")
	image := pushImage(t, host, "team/app")
	other := pushImage(t, host, "team/other")
	work := t.TempDir()

	// jobEnv is a job's environment for role, with a token for project@ref.
	jobEnv := func(role string, protected bool) []string {
		req := basicRequest(w.Issuer)
		if protected {
			req["ref_protected"] = "true"
		}
		tokenFile := filepath.Join(t.TempDir(), "token")
		writeFile(t, tokenFile, []byte(w.mint(t, req)), 0o600)
		return []string{
			"PATH=" + os.Getenv("PATH"), "HOME=" + w.home, "DOCKER_CONFIG=" + w.home, "TUF_ROOT=" + filepath.Join(w.home, "tuf"),
			"AWS_REGION=us-east-1", "AWS_CONFIG_FILE=" + filepath.Join(w.home, "config"), "AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(w.home, "credentials"),
			"AWS_ROLE_ARN=arn:aws:iam::000000000000:role/" + role, "AWS_WEB_IDENTITY_TOKEN_FILE=" + tokenFile,
			// The Go SDK's web-identity client ignores AWS_ENDPOINT_URL
			// without AWS_ENDPOINT_URL_STS (see the KMS reference notes).
			"AWS_ENDPOINT_URL=" + w.URL, "AWS_ENDPOINT_URL_STS=" + w.URL, "AWS_ENDPOINT_URL_KMS=" + w.URL,
		}
	}
	run := func(env []string, args ...string) (string, error) {
		t.Helper()
		cmd := exec.CommandContext(t.Context(), cosign, args...)
		cmd.Env, cmd.Dir = env, work
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		return out.String(), err
	}
	signer, verifier := jobEnv(app.DevSignRole, true), jobEnv(app.DevVerifyRole, false)
	const key = "awskms:///alias/ci-signing"
	signFlags := []string{"-y", "--key", key, "--tlog-upload=false", "--use-signing-config=false"}

	if out, err := run(signer, append(append([]string{"sign"}, signFlags...), image)...); err != nil {
		t.Fatalf("cosign sign as gitlab-sign: %v\n%s", err, out)
	}
	if out, err := run(verifier, "verify", "--key", key, "--insecure-ignore-tlog=true", image); err != nil {
		t.Fatalf("cosign verify as gitlab-verify: %v\n%s", err, out)
	}
	if out, err := run(verifier, "verify", "--key", key, "--insecure-ignore-tlog=true", other); err == nil {
		t.Fatalf("cosign verify of an unsigned image succeeded:\n%s", out)
	}
	if out, err := run(verifier, append(append([]string{"sign"}, signFlags...), other)...); err == nil || !strings.Contains(out, "AccessDeniedException") {
		t.Fatalf("cosign sign as gitlab-verify: %v\n%s", err, out)
	}

	// Blobs, and a tampered signature.
	writeFile(t, filepath.Join(work, "artifact"), []byte("release artifact"), 0o600)
	if out, err := run(signer, append(append([]string{"sign-blob"}, signFlags...), "--bundle", "b.json", "artifact")...); err != nil {
		t.Fatalf("cosign sign-blob: %v\n%s", err, out)
	}
	if out, err := run(verifier, "verify-blob", "--key", key, "--insecure-ignore-tlog=true", "--bundle", "b.json", "artifact"); err != nil {
		t.Fatalf("cosign verify-blob: %v\n%s", err, out)
	}
	bundle := readFile(t, filepath.Join(work, "b.json"))
	i := bytes.Index(bundle, []byte(`"signature":"`))
	if i < 0 {
		t.Fatalf("no signature in the bundle: %s", bundle)
	}
	tampered := bytes.Clone(bundle)
	p := i + len(`"signature":"`) + 10
	if tampered[p] == 'A' {
		tampered[p] = 'B'
	} else {
		tampered[p] = 'A'
	}
	writeFile(t, filepath.Join(work, "tampered.json"), tampered, 0o600)
	if out, err := run(verifier, "verify-blob", "--key", key, "--insecure-ignore-tlog=true", "--bundle", "tampered.json", "artifact"); err == nil {
		t.Fatalf("cosign verify-blob of a tampered signature succeeded:\n%s", out)
	}

	// generate-key-pair --kms makes a usable key (the account root may create keys).
	root := append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + w.home, "DOCKER_CONFIG=" + w.home, "TUF_ROOT=" + filepath.Join(w.home, "tuf"),
		"AWS_REGION=us-east-1", "AWS_ENDPOINT_URL=" + w.URL, "AWS_ENDPOINT_URL_KMS=" + w.URL}, w.root...)
	if out, err := run(root, "generate-key-pair", "--kms", "awskms:///alias/new-key"); err != nil {
		t.Fatalf("cosign generate-key-pair: %v\n%s", err, out)
	}
	if out, err := run(root, append([]string{"sign", "-y", "--key", "awskms:///alias/new-key", "--tlog-upload=false", "--use-signing-config=false"}, other)...); err != nil {
		t.Fatalf("cosign sign with the generated key: %v\n%s", err, out)
	}
	if out, err := run(root, "verify", "--key", "awskms:///alias/new-key", "--insecure-ignore-tlog=true", other); err != nil {
		t.Fatalf("cosign verify with the generated key: %v\n%s", err, out)
	}
}
