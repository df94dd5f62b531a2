package app_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/oidcfed/oidcfed/internal/app"
	"github.com/oidcfed/oidcfed/internal/iam"
)

// craneBinary is the crane scripts/crane built (scripts/test exports
// OIDCFED_CRANE); without it the registry's client tests are skipped.
func craneBinary(t *testing.T) string {
	t.Helper()
	bin := os.Getenv("OIDCFED_CRANE")
	if bin == "" {
		t.Skip("OIDCFED_CRANE is not set: run scripts/test, or export OIDCFED_CRANE=$(scripts/crane)")
	}
	return bin
}

// registryWorld is a dev server with crane and the aws CLI pointed at it.
type registryWorld struct {
	*kmsWorld
	crane string
	reg   string // the registry's host:port, as clients name it
}

func newRegistryWorld(t *testing.T, mutate func(*app.Options)) *registryWorld {
	t.Helper()
	crane := craneBinary(t)
	hermeticEnv(t)
	dir := t.TempDir()
	s := startDev(t, dir, "127.0.0.1:0", mutate)
	env := app.ReadEnvFile(filepath.Join(dir, app.DevEnvFileName))
	home := t.TempDir()
	writeFile(t, filepath.Join(home, "config"), []byte("[default]\ncli_follow_urlparam = false\n"), 0o600)
	w := &kmsWorld{stsWorld: &stsWorld{testServer: s, home: home},
		root: []string{"AWS_ACCESS_KEY_ID=" + env["AWS_ACCESS_KEY_ID"], "AWS_SECRET_ACCESS_KEY=" + env["AWS_SECRET_ACCESS_KEY"]}}
	reg := env["OIDCFED_REGISTRY"]
	if reg != strings.TrimPrefix(s.URL, "http://") {
		t.Fatalf("dev.env's OIDCFED_REGISTRY %q is not the server's host %q", reg, s.URL)
	}
	return &registryWorld{kmsWorld: w, crane: crane, reg: reg}
}

// login logs the identity env holds in to the registry as a job does
// (aws ecr get-login-password | crane auth login), with a docker config of
// its own, and returns env with DOCKER_CONFIG and CRANE added.
func (w *registryWorld) login(t *testing.T, env []string) []string {
	t.Helper()
	env = append(append([]string(nil), env...), "DOCKER_CONFIG="+t.TempDir(), "CRANE="+w.crane, "REG="+w.reg)
	if _, stderr, err := w.bash(t, `aws ecr get-login-password | "$CRANE" auth login "$REG" -u AWS --password-stdin`, env...); err != nil {
		t.Fatalf("login: %v\n%s", err, stderr)
	}
	return env
}

// layerTar writes a one-file tar for crane append and returns its path.
func layerTar(t *testing.T, content string) string {
	t.Helper()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "hello.txt"), []byte(content), 0o600)
	out := filepath.Join(t.TempDir(), "layer.tar")
	if b, err := exec.Command("tar", "-C", dir, "-cf", out, "hello.txt").CombinedOutput(); err != nil {
		t.Fatalf("tar: %v %s", err, b)
	}
	return out
}

// TestRegistryPushPullWithCrane: the account root creates a repository
// with the aws CLI; a job on protected main (gitlab-sign, ECR power user)
// logs in with get-login-password and pushes with crane; a job on a
// branch (gitlab-verify, AmazonEC2ContainerRegistryReadOnly) pulls and may
// not push; a role without ECR permissions gets no password; a repository
// policy's explicit deny refuses the pull that IAM allows, and a
// repository policy alone lets a user with no pull permission of its own
// pull.
func TestRegistryPushPullWithCrane(t *testing.T) {
	w := newRegistryWorld(t, nil)
	if _, stderr, err := w.bash(t, `aws ecr create-repository --repository-name mygroup/app >/dev/null && aws ecr create-repository --repository-name other/app >/dev/null`, w.root...); err != nil {
		t.Fatalf("create-repository: %v\n%s", err, stderr)
	}
	signer := w.login(t, w.session(t, app.DevSignRole, "mygroup/myproject", "main", true))
	out, stderr, err := w.bash(t, `"$CRANE" append -f "$TAR" -t "$REG/mygroup/app:v1" 2>/dev/null`, append(signer, "TAR="+layerTar(t, "v1"))...)
	if err != nil {
		t.Fatalf("push as gitlab-sign: %v\n%s", err, stderr)
	}
	ref := strings.TrimSpace(out)
	if !strings.HasPrefix(ref, w.reg+"/mygroup/app@sha256:") {
		t.Fatalf("crane append printed %q", ref)
	}

	verifier := w.login(t, w.session(t, app.DevVerifyRole, "mygroup/other", "feature-x", false))
	pulled := filepath.Join(t.TempDir(), "img.tar")
	if _, stderr, err := w.bash(t, `"$CRANE" pull "$REG/mygroup/app:v1" "$OUT" && "$CRANE" digest "$REG/mygroup/app:v1"`, append(verifier, "OUT="+pulled)...); err != nil {
		t.Fatalf("pull as gitlab-verify: %v\n%s", err, stderr)
	}
	if _, stderr, err := w.bash(t, `"$CRANE" append -f "$TAR" -t "$REG/mygroup/app:v2"`, append(verifier, "TAR="+layerTar(t, "v2"))...); err == nil ||
		!strings.Contains(stderr, "DENIED") || !strings.Contains(stderr, "is not authorized to perform: ecr:InitiateLayerUpload on resource: arn:aws:ecr:us-east-1:000000000000:repository/mygroup/app") {
		t.Fatalf("push as gitlab-verify: %v\n%s", err, stderr)
	}
	if _, stderr, err := w.bash(t, `aws ecr get-login-password`, w.session(t, app.DevDeployRole, app.DevProject, "main", false)...); err == nil ||
		!strings.Contains(stderr, "(AccessDeniedException)") || !strings.Contains(stderr, "ecr:GetAuthorizationToken") {
		t.Fatalf("get-login-password as gitlab-deploy: %v\n%s", err, stderr)
	}

	// A repository policy's explicit deny wins over IAM's allow.
	deny := `{"Version":"2012-10-17","Statement":[{"Sid":"no verify pulls","Effect":"Deny","Principal":{"AWS":"arn:aws:iam::000000000000:role/gitlab-verify"},"Action":"ecr:BatchGetImage","Resource":"*"}]}`
	if _, stderr, err := w.bash(t, `aws ecr set-repository-policy --repository-name mygroup/app --policy-text "$DOC" >/dev/null`, append(w.root, "DOC="+deny)...); err != nil {
		t.Fatalf("set-repository-policy: %v\n%s", err, stderr)
	}
	if _, stderr, err := w.bash(t, `"$CRANE" manifest "$REG/mygroup/app:v1"`, verifier...); err == nil || !strings.Contains(stderr, "DENIED") ||
		!strings.Contains(stderr, "with an explicit deny in a resource-based policy") {
		t.Fatalf("pull under a denying repository policy: %v\n%s", err, stderr)
	}
	if _, stderr, err := w.bash(t, `aws ecr delete-repository-policy --repository-name mygroup/app >/dev/null && "$CRANE" manifest "$REG/mygroup/app:v1" >/dev/null`,
		append(verifier, w.root...)...); err != nil {
		t.Fatalf("pull once the policy is gone: %v\n%s", err, stderr)
	}

	// A user who may only log in pulls what a repository policy grants it,
	// and nothing else.
	out, stderr, err = w.bash(t, `set -e
aws iam create-user --user-name puller >/dev/null
aws iam put-user-policy --user-name puller --policy-name login --policy-document '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ecr:GetAuthorizationToken","Resource":"*"}]}'
aws ecr set-repository-policy --repository-name mygroup/app --policy-text '{"Version":"2012-10-17","Statement":[{"Sid":"puller","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::000000000000:user/puller"},"Action":["ecr:BatchGetImage","ecr:GetDownloadUrlForLayer"]}]}' >/dev/null
aws iam create-access-key --user-name puller --query 'AccessKey.[AccessKeyId,SecretAccessKey]' --output text`, w.root...)
	if err != nil {
		t.Fatalf("user setup: %v\n%s", err, stderr)
	}
	keys := strings.Fields(out)
	puller := w.login(t, []string{"AWS_ACCESS_KEY_ID=" + keys[0], "AWS_SECRET_ACCESS_KEY=" + keys[1]})
	if _, stderr, err := w.bash(t, `"$CRANE" pull "$REG/mygroup/app:v1" "$OUT"`, append(puller, "OUT="+filepath.Join(t.TempDir(), "p.tar"))...); err != nil {
		t.Fatalf("pull granted by the repository policy: %v\n%s", err, stderr)
	}
	if _, stderr, err := w.bash(t, `"$CRANE" ls "$REG/other/app"`, puller...); err == nil || !strings.Contains(stderr, "DENIED") ||
		!strings.Contains(stderr, "User: arn:aws:iam::000000000000:user/puller is not authorized to perform: ecr:ListImages on resource: arn:aws:ecr:us-east-1:000000000000:repository/other/app") {
		t.Fatalf("list of a repository outside the policy: %v\n%s", err, stderr)
	}

	// Every registry request is in the audit trail as its ECR action.
	seen := map[string]bool{}
	for _, ev := range auditEvents(t, w.Store) {
		if path(ev, "eventSource") == "ecr.amazonaws.com" {
			seen[path(ev, "eventName").(string)+" "+strings.TrimSpace(stringOf(path(ev, "errorCode")))] = true
		}
	}
	for _, want := range []string{"GetAuthorizationToken ", "InitiateLayerUpload ", "UploadLayerPart ", "CompleteLayerUpload ", "PutImage ",
		"BatchGetImage ", "GetDownloadUrlForLayer ", "InitiateLayerUpload DENIED", "BatchGetImage DENIED", "GetAuthorizationToken AccessDeniedException"} {
		if !seen[want] {
			t.Errorf("no %q event in the audit trail: %v", want, seen)
		}
	}
	if t.Failed() {
		return
	}
	// The registry still holds exactly one image.
	out, stderr, err = w.bash(t, `aws ecr list-images --repository-name mygroup/app --query 'imageIds[].imageTag' --output text`, w.root...)
	if err != nil || strings.TrimSpace(out) != "v1" {
		t.Fatalf("list-images: %q %v\n%s", out, err, stderr)
	}
}

func stringOf(v any) string {
	s, _ := v.(string)
	return s
}

// TestSeed000Job runs seed 000's job script (testdata/seed000_job.sh) as
// the seed writes it, against a server in the seed's account and region
// (502496443919, us-west-2) whose KMS has the seed's key alias: the job
// assumes its role with the aws CLI, logs in with get-login-password,
// pulls, and verifies with cosign and the key's alias ARN. Changed: the
// registry host in IMAGE_REF and docker login (oidcfed's), the endpoint
// variables, docker done by crane (no daemon here), and cosign told to
// skip the transparency log (COSIGN_INSECURE_IGNORE_TLOG: offline). The
// signed image verifies; an unsigned one does not; a role without ECR
// permissions gets no password; one that may only log in is refused the
// pull.
func TestSeed000Job(t *testing.T) {
	cosign := cosignBinary(t)
	w := newRegistryWorld(t, func(o *app.Options) { o.AccountID, o.Region = "502496443919", "us-west-2" })
	w.account = "502496443919"
	region := []string{"AWS_REGION=us-west-2", "AWS_DEFAULT_REGION=us-west-2"}
	root := append(append([]string(nil), w.root...), region...)
	provider := iam.ProviderARN("502496443919", w.Issuer)
	prefix := iam.ProviderConditionPrefix(w.Issuer)
	trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"` + provider + `"},"Action":"sts:AssumeRoleWithWebIdentity",` +
		`"Condition":{"StringEquals":{"` + prefix + `:aud":"` + w.Issuer + `"},"StringLike":{"` + prefix + `:sub":"project_path:mygroup/*"}}}]}`
	if _, stderr, err := w.bash(t, `set -e
key=$(aws kms describe-key --key-id alias/ci-signing --query KeyMetadata.KeyId --output text)
aws kms create-alias --alias-name alias/kfuse-cosign-signing-key --target-key-id "$key"
aws ecr create-repository --repository-name kfuse/ui >/dev/null
aws iam create-role --role-name login-only --assume-role-policy-document "$TRUST" >/dev/null
aws iam put-role-policy --role-name login-only --policy-name login --policy-document '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ecr:GetAuthorizationToken","Resource":"*"}]}'`,
		append(root, "TRUST="+trust)...); err != nil {
		t.Fatalf("setup: %v\n%s", err, stderr)
	}

	// The publisher (gitlab-sign) pushes two images and signs one.
	signer := w.login(t, append(w.session(t, app.DevSignRole, "mygroup/myproject", "main", true), region...))
	digests := map[string]string{}
	for _, tag := range []string{"0.1.0-b2274ac0", "unsigned"} {
		out, stderr, err := w.bash(t, `"$CRANE" append -f "$TAR" -t "$REG/kfuse/ui:$TAG" 2>/dev/null`, append(signer, "TAR="+layerTar(t, tag), "TAG="+tag)...)
		if err != nil {
			t.Fatalf("push %s: %v\n%s", tag, err, stderr)
		}
		digests[tag] = strings.TrimSpace(out)
	}
	tuf := t.TempDir()
	if _, stderr, err := w.bash(t, `"$COSIGN" sign -y --key awskms:///alias/kfuse-cosign-signing-key --tlog-upload=false --use-signing-config=false "$IMG"`,
		append(signer, "COSIGN="+cosign, "IMG="+digests["0.1.0-b2274ac0"], "TUF_ROOT="+tuf, "AWS_ENDPOINT_URL_KMS="+w.URL)...); err != nil {
		t.Fatalf("cosign sign: %v\n%s", err, stderr)
	}

	script := strings.ReplaceAll(string(readFile(t, "testdata/seed000_job.sh")), "502496443919.dkr.ecr.us-west-2.amazonaws.com", w.reg)
	bin := t.TempDir()
	for name, target := range map[string]string{"docker": mustAbs(t, "testdata/docker-via-crane.sh"), "cosign": cosign} {
		if err := os.Symlink(target, filepath.Join(bin, name)); err != nil {
			t.Fatal(err)
		}
	}
	job := func(role, tag string) (string, string, error) {
		tok := w.mint(t, basicRequest(w.Issuer))
		return w.bash(t, "set -eo pipefail\n"+script,
			"PATH="+bin+":"+os.Getenv("PATH"), "CRANE="+w.crane, "DOCKER_CONFIG="+t.TempDir(), "TUF_ROOT="+t.TempDir(),
			"AWS_REGION=us-west-2", "AWS_DEFAULT_REGION=us-west-2", "COSIGN_INSECURE_IGNORE_TLOG=true",
			"IMAGE_NAME=ui", "IMAGE_TAG="+tag, "KMS_KEY=awskms:///arn:aws:kms:us-west-2:502496443919:alias/kfuse-cosign-signing-key",
			"AWS_ROLE_ARN=arn:aws:iam::502496443919:role/"+role, "GITLAB_OIDC_TOKEN="+tok, "CI_PROJECT_NAME=myproject", "CI_PIPELINE_ID=455")
	}
	for _, tc := range []struct {
		name, role, tag string
		ok              bool
		want            []string
	}{
		{"signed image", app.DevVerifyRole, "0.1.0-b2274ac0", true,
			[]string{"✅ Successfully authenticated to AWS", "Login Succeeded", "✅ Image signature verified successfully", "✅ Image pulled and verified successfully"}},
		{"unsigned image", app.DevVerifyRole, "unsigned", true, []string{"Login Succeeded", "⚠️ Warning: Image signature verification FAILED"}},
		{"role without ECR permissions", app.DevCIRole, "0.1.0-b2274ac0", false,
			[]string{"(AccessDeniedException)", "is not authorized to perform: ecr:GetAuthorizationToken"}},
		{"role that may only log in", "login-only", "0.1.0-b2274ac0", false,
			[]string{"Login Succeeded", "DENIED", "is not authorized to perform: ecr:BatchGetImage on resource: arn:aws:ecr:us-west-2:502496443919:repository/kfuse/ui"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, stderr, err := job(tc.role, tc.tag)
			if (err == nil) != tc.ok {
				t.Fatalf("job exit: %v, want success %v\nstdout:\n%s\nstderr:\n%s", err, tc.ok, out, stderr)
			}
			for _, want := range tc.want {
				if !strings.Contains(out+stderr, want) {
					t.Errorf("job output lacks %q\nstdout:\n%s\nstderr:\n%s", want, out, stderr)
				}
			}
			if tc.tag == "unsigned" && strings.Contains(out, "✅ Image signature verified successfully") {
				t.Errorf("the unsigned image verified:\n%s", out)
			}
		})
	}
}

func mustAbs(t *testing.T, p string) string {
	t.Helper()
	abs, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return abs
}
