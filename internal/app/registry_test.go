package app_test

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

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

	// A copy to another repository mounts the blobs (the pusher may read
	// them where they are) rather than uploading them again.
	if _, stderr, err := w.bash(t, `"$CRANE" cp "$REG/mygroup/app:v1" "$REG/other/app:copied"`, signer...); err != nil {
		t.Fatalf("crane cp: %v\n%s", err, stderr)
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
	for _, ev := range auditEvents(t, w.AuditRecords) {
		if path(ev, "requestParameters", "mountFrom") == "mygroup/app" {
			seen["mount"] = true
		}
		if path(ev, "eventSource") == "ecr.amazonaws.com" {
			seen[path(ev, "eventName").(string)+" "+strings.TrimSpace(stringOf(path(ev, "errorCode")))] = true
		}
	}
	for _, want := range []string{"GetAuthorizationToken ", "InitiateLayerUpload ", "UploadLayerPart ", "CompleteLayerUpload ", "PutImage ",
		"BatchGetImage ", "GetDownloadUrlForLayer ", "InitiateLayerUpload DENIED", "BatchGetImage DENIED", "GetAuthorizationToken AccessDeniedException", "mount"} {
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

// ociError is a registry error body's first error code.
func ociError(t *testing.T, body []byte) string {
	t.Helper()
	var e struct {
		Errors []struct{ Code, Message string }
	}
	if err := json.Unmarshal(body, &e); err != nil || len(e.Errors) == 0 {
		return "(no OCI error: " + string(body) + ")"
	}
	return e.Errors[0].Code
}

// TestRegistryBadInput: every request the registry must refuse gets the
// distribution spec's error and status, and leaves nothing stored: no
// credentials, forged, tampered or expired passwords (401 with ECR's
// Basic challenge), names that are not ECR's (path traversal included),
// an oversized manifest, digests that do not match, blobs over the size
// limit, a blob read through a repository that does not hold it.
func TestRegistryBadInput(t *testing.T) {
	var skew atomic.Int64
	w := newRegistryWorld(t, func(o *app.Options) {
		o.Now = func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
		o.RegistryMaxBlobSize = 4096
	})
	out, stderr, err := w.bash(t, `set -e
aws ecr create-repository --repository-name app >/dev/null
aws ecr create-repository --repository-name other >/dev/null
aws ecr create-repository --repository-name frozen --image-tag-mutability IMMUTABLE >/dev/null
aws ecr get-login-password`, w.root...)
	if err != nil {
		t.Fatalf("setup: %v\n%s", err, stderr)
	}
	password := strings.TrimSpace(out)
	basic := func(user, pw string) http.Header {
		return http.Header{"Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pw))}}
	}
	auth := basic("AWS", password)
	req := func(method, p string, h http.Header, body []byte) httpResult {
		t.Helper()
		hh := auth.Clone()
		for k, v := range h {
			hh[k] = v
		}
		return do(t, method, w.URL+p, hh, body)
	}
	sum := func(b []byte) string {
		s := sha256.Sum256(b)
		return "sha256:" + hex.EncodeToString(s[:])
	}
	// A config blob and an image in app, for the cases that need them.
	config := []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`)
	if r := req(http.MethodPost, "/v2/app/blobs/uploads/?digest="+sum(config), nil, config); r.Status != http.StatusCreated {
		t.Fatalf("monolithic upload: %d %s", r.Status, r.Body)
	}
	manifest := func(layers ...string) []byte {
		ls := make([]map[string]any, len(layers))
		for i, l := range layers {
			ls[i] = map[string]any{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": l, "size": 1}
		}
		b, _ := json.Marshal(map[string]any{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
			"config": map[string]any{"mediaType": "application/vnd.oci.image.config.v1+json", "digest": sum(config), "size": len(config)}, "layers": ls})
		return b
	}
	ociManifest := http.Header{"Content-Type": {"application/vnd.oci.image.manifest.v1+json"}}
	if r := req(http.MethodPut, "/v2/app/manifests/v1", ociManifest, manifest()); r.Status != http.StatusCreated {
		t.Fatalf("manifest: %d %s", r.Status, r.Body)
	}
	if r := req(http.MethodPost, "/v2/frozen/blobs/uploads/?digest="+sum(config), nil, config); r.Status != http.StatusCreated {
		t.Fatalf("monolithic upload: %d %s", r.Status, r.Body)
	}
	if r := req(http.MethodPut, "/v2/frozen/manifests/v1", ociManifest, manifest()); r.Status != http.StatusCreated {
		t.Fatalf("manifest: %d %s", r.Status, r.Body)
	}
	tampered := []byte(password)
	tampered[len(tampered)/2] ^= 1
	started := req(http.MethodPost, "/v2/app/blobs/uploads/", nil, nil)
	uploadPath := started.Header.Get("Location")
	big := bytes.Repeat([]byte("x"), 4097)
	huge := append(manifest(), bytes.Repeat([]byte(" "), 4<<20)...)
	stranger := []byte("a blob of other's")

	cases := []struct {
		name      string
		method, p string
		header    http.Header
		body      []byte
		status    int
		code      string
	}{
		{"no credentials", http.MethodGet, "/v2/app/manifests/v1", http.Header{"Authorization": nil}, nil, 401, "UNAUTHORIZED"},
		{"bearer token", http.MethodGet, "/v2/app/manifests/v1", http.Header{"Authorization": {"Bearer " + password}}, nil, 401, "UNAUTHORIZED"},
		{"forged password", http.MethodGet, "/v2/app/manifests/v1", basic("AWS", "AQAAAABrSc8AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"), nil, 401, "UNAUTHORIZED"},
		{"tampered password", http.MethodGet, "/v2/app/manifests/v1", basic("AWS", string(tampered)), nil, 401, "UNAUTHORIZED"},
		{"another user name", http.MethodGet, "/v2/app/manifests/v1", basic("admin", password), nil, 401, "UNAUTHORIZED"},
		{"ping without credentials", http.MethodGet, "/v2/", http.Header{"Authorization": nil}, nil, 401, "UNAUTHORIZED"},
		{"upper-case name", http.MethodGet, "/v2/App/manifests/v1", nil, nil, 400, "NAME_INVALID"},
		{"encoded traversal", http.MethodGet, "/v2/app/..%2f..%2fetc/manifests/v1", nil, nil, 400, "NAME_INVALID"},
		{"encoded slash at the start", http.MethodGet, "/v2/%2fetc/manifests/v1", nil, nil, 400, "NAME_INVALID"},
		{"NUL in a name", http.MethodGet, "/v2/a%00b/manifests/v1", nil, nil, 400, "NAME_INVALID"},
		{"name too long", http.MethodGet, "/v2/" + strings.Repeat("a", 257) + "/manifests/v1", nil, nil, 400, "NAME_INVALID"},
		{"unknown repository", http.MethodGet, "/v2/nope/manifests/v1", nil, nil, 404, "NAME_UNKNOWN"},
		{"unknown tag", http.MethodGet, "/v2/app/manifests/v9", nil, nil, 404, "MANIFEST_UNKNOWN"},
		{"oversized manifest", http.MethodPut, "/v2/app/manifests/big", ociManifest, huge, 413, "SIZE_INVALID"},
		{"manifest not JSON", http.MethodPut, "/v2/app/manifests/bad", ociManifest, []byte("{"), 400, "MANIFEST_INVALID"},
		{"manifest of an unknown blob", http.MethodPut, "/v2/app/manifests/orphan", ociManifest, manifest(sum([]byte("never pushed"))), 400, "MANIFEST_BLOB_UNKNOWN"},
		{"manifest under another digest", http.MethodPut, "/v2/app/manifests/" + sum([]byte("x")), ociManifest, manifest(), 400, "DIGEST_INVALID"},
		{"invalid tag", http.MethodPut, "/v2/app/manifests/.bad", ociManifest, manifest(), 400, "TAG_INVALID"},
		{"immutable tag moved", http.MethodPut, "/v2/frozen/manifests/v1", ociManifest, append(manifest(), ' '), 400, "TAG_INVALID"},
		{"blob of the wrong digest", http.MethodPost, "/v2/app/blobs/uploads/?digest=" + sum([]byte("other")), nil, []byte("content"), 400, "DIGEST_INVALID"},
		{"blob digest not sha256", http.MethodPost, "/v2/app/blobs/uploads/?digest=md5:abc", nil, []byte("content"), 400, "DIGEST_INVALID"},
		{"blob over the size limit", http.MethodPost, "/v2/app/blobs/uploads/?digest=" + sum(big), nil, big, 413, "SIZE_INVALID"},
		{"chunk over the size limit", http.MethodPatch, uploadPath, nil, big, 413, "SIZE_INVALID"},
		{"chunk of a finished upload", http.MethodPatch, uploadPath, nil, []byte("more"), 404, "BLOB_UPLOAD_UNKNOWN"},
		{"upload of another repository", http.MethodPatch, strings.Replace(uploadPath, "/app/", "/other/", 1), nil, []byte("x"), 404, "BLOB_UPLOAD_UNKNOWN"},
		{"upload id that is not one", http.MethodPatch, "/v2/app/blobs/uploads/0123", nil, []byte("x"), 404, "BLOB_UPLOAD_UNKNOWN"},
		{"encoded traversal after uploads", http.MethodPatch, "/v2/app/blobs/uploads/..%2f..%2fregistry", nil, []byte("x"), 404, "NAME_UNKNOWN"},
		{"blob through a repository without it", http.MethodGet, "/v2/other/blobs/" + sum(config), nil, nil, 404, "BLOB_UNKNOWN"},
		{"blob never pushed", http.MethodHead, "/v2/app/blobs/" + sum(stranger), nil, nil, 404, ""},
		{"malformed digest in a path", http.MethodGet, "/v2/app/blobs/sha256:xyz", nil, nil, 400, "DIGEST_INVALID"},
		{"blob delete", http.MethodDelete, "/v2/app/blobs/" + sum(config), nil, nil, 405, "UNSUPPORTED"},
		{"not an endpoint", http.MethodGet, "/v2/app/whatever/x", nil, nil, 404, "NAME_UNKNOWN"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := req(tc.method, tc.p, tc.header, tc.body)
			if r.Status != tc.status || (tc.code != "" && ociError(t, r.Body) != tc.code) {
				t.Fatalf("%d %s, want %d %s", r.Status, r.Body, tc.status, tc.code)
			}
			if tc.status == 401 && r.Header.Get("Www-Authenticate") != `Basic realm="`+w.URL+`",service="ecr.amazonaws.com"` {
				t.Fatalf("challenge %q", r.Header.Get("Www-Authenticate"))
			}
		})
	}

	t.Run("expired password", func(t *testing.T) {
		skew.Store(int64(12*time.Hour + time.Second))
		defer skew.Store(0)
		r := req(http.MethodGet, "/v2/app/manifests/v1", nil, nil)
		if r.Status != 401 || !strings.Contains(string(r.Body), "Your authorization token has expired. Reauthenticate and try again.") ||
			!strings.HasPrefix(r.Header.Get("Www-Authenticate"), "Basic ") {
			t.Fatalf("%d %s", r.Status, r.Body)
		}
	})
	t.Run("raw traversal", func(t *testing.T) {
		// Sent byte for byte: the server's mux redirects to the clean
		// path, which is no registry endpoint; nothing is served.
		conn, err := net.Dial("tcp", strings.TrimPrefix(w.URL, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		fmt.Fprintf(conn, "GET /v2/app/../../etc/passwd/manifests/v1 HTTP/1.1\r\nHost: x\r\nAuthorization: %s\r\nConnection: close\r\n\r\n", auth.Get("Authorization"))
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if (resp.StatusCode != http.StatusMovedPermanently && resp.StatusCode != http.StatusTemporaryRedirect) || resp.Header.Get("Location") != "/etc/passwd/manifests/v1" {
			t.Fatalf("%d %v", resp.StatusCode, resp.Header)
		}
	})

	// Nothing any refusal sent was stored: app holds its one image (v1),
	// and the blob store its one blob.
	out, stderr, err = w.bash(t, `aws ecr list-images --repository-name app --query 'imageIds[].imageTag' --output text && aws ecr list-images --repository-name other --query 'length(imageIds)'`, w.root...)
	if err != nil || strings.Join(strings.Fields(out), " ") != "v1 0" {
		t.Fatalf("images after the refusals: %q %v\n%s", out, err, stderr)
	}
	var blobs []string
	_ = filepath.WalkDir(filepath.Join(w.Dir, app.RegistryDirName, "blobs"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			blobs = append(blobs, "sha256:"+d.Name())
		}
		return nil
	})
	if len(blobs) != 1 || blobs[0] != sum(config) {
		t.Fatalf("blob files after the refusals: %q", blobs)
	}
}

// ecrCalls runs calls (each "Operation body") with the root's key and
// returns the transcript: "### Operation body", the status, the body.
func (w *registryWorld) ecrCalls(t *testing.T, calls []string) string {
	t.Helper()
	script := `python3 -c '
import sys, json, urllib.request, boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
url = sys.argv[1]
creds = boto3.Session().get_credentials()
for call in json.load(open(sys.argv[2])):
    op, _, body = call.partition(" ")
    req = AWSRequest(method="POST", url=url, data=body, headers={"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "AmazonEC2ContainerRegistry_V20150921." + op})
    SigV4Auth(creds, "ecr", "us-east-1").add_auth(req)
    r = urllib.request.Request(url, data=body.encode(), headers=dict(req.headers), method="POST")
    try:
        resp = urllib.request.urlopen(r)
        status, out = resp.status, resp.read()
    except urllib.error.HTTPError as e:
        status, out = e.code, e.read()
    print("### " + call)
    print(status)
    print(json.dumps(json.loads(out), indent=1, sort_keys=True))
' "$URL" "$CALLS"`
	callsFile := filepath.Join(t.TempDir(), "calls.json")
	b, _ := json.Marshal(calls)
	writeFile(t, callsFile, b, 0o600)
	out, stderr, err := w.bash(t, script, append(w.root, "URL="+w.URL+"/", "CALLS="+callsFile)...)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	return out
}

var (
	epochRE  = regexp.MustCompile(`\b1[0-9]{9}(\.[0-9]+)?\b`)
	digestRE = regexp.MustCompile(`sha256:[0-9a-f]{64}`)
	tokenRE  = regexp.MustCompile(`"authorizationToken": "[A-Za-z0-9+/=]+"`)
	sigRE    = regexp.MustCompile(`X-Oidcfed-Expires=[0-9]+&X-Oidcfed-Signature=[A-Za-z0-9_-]+`)
)

// normalizeECR replaces what changes from run to run: times, digests (by
// order of appearance), tokens, signatures, the server's address.
func normalizeECR(s, url string) string {
	s = strings.ReplaceAll(s, strings.TrimPrefix(url, "http://"), "REGISTRY")
	s = sigRE.ReplaceAllString(s, "X-Oidcfed-Expires=EXPIRES&X-Oidcfed-Signature=SIGNATURE")
	s = epochRE.ReplaceAllString(s, "EPOCH")
	s = tokenRE.ReplaceAllString(s, `"authorizationToken": "TOKEN"`)
	seen := map[string]string{}
	return digestRE.ReplaceAllStringFunc(s, func(d string) string {
		if _, ok := seen[d]; !ok {
			seen[d] = fmt.Sprintf("sha256:DIGEST%d", len(seen)+1)
		}
		return seen[d]
	})
}

// TestECRAPIWireShapes pins every operation's answers, successes and ECR's
// errors, byte for byte (after normalizing times and digests) in
// testdata/ecr_api.golden.txt: what botocore's ECR model says each shape
// holds, and the codes and messages ECR answers with.
func TestECRAPIWireShapes(t *testing.T) {
	w := newRegistryWorld(t, nil)
	out, stderr, err := w.bash(t, `set -e
aws ecr create-repository --repository-name golden/app >/dev/null
aws ecr get-login-password`, w.root...)
	if err != nil {
		t.Fatalf("setup: %v\n%s", err, stderr)
	}
	auth := http.Header{"Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte("AWS:"+strings.TrimSpace(out)))}}
	config := []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`)
	layer := []byte("layer bytes")
	push := func(b []byte) string {
		s := sha256.Sum256(b)
		d := "sha256:" + hex.EncodeToString(s[:])
		if r := do(t, http.MethodPost, w.URL+"/v2/golden/app/blobs/uploads/?digest="+d, auth, b); r.Status != http.StatusCreated {
			t.Fatalf("push blob: %d %s", r.Status, r.Body)
		}
		return d
	}
	cd, ld := push(config), push(layer)
	manifest := `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"` +
		cd + `","size":` + fmt.Sprint(len(config)) + `},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"` + ld + `","size":` + fmt.Sprint(len(layer)) + `}]}`
	for _, tag := range []string{"v1", "latest"} {
		if r := do(t, http.MethodPut, w.URL+"/v2/golden/app/manifests/"+tag, http.Header{"Authorization": auth["Authorization"], "Content-Type": {"application/vnd.oci.image.manifest.v1+json"}},
			[]byte(manifest)); r.Status != http.StatusCreated {
			t.Fatalf("push manifest: %d %s", r.Status, r.Body)
		}
	}
	policy := `{\"Version\":\"2012-10-17\",\"Statement\":[{\"Sid\":\"ci pulls\",\"Effect\":\"Allow\",\"Principal\":{\"AWS\":\"arn:aws:iam::000000000000:role/gitlab-ci\"},\"Action\":[\"ecr:BatchGetImage\",\"ecr:GetDownloadUrlForLayer\"]}]}`
	unknown := "sha256:" + strings.Repeat("0", 64)
	calls := []string{
		`GetAuthorizationToken {}`,
		`GetAuthorizationToken {"registryIds":["000000000000"]}`,
		`GetAuthorizationToken {"registryIds":["12"]}`,
		`CreateRepository {"repositoryName":"golden/immutable","imageTagMutability":"IMMUTABLE","imageScanningConfiguration":{"scanOnPush":true},"tags":[{"Key":"team","Value":"ci"}]}`,
		`CreateRepository {"repositoryName":"golden/app"}`,
		`CreateRepository {"repositoryName":"a"}`,
		`CreateRepository {"repositoryName":"Golden/App"}`,
		`CreateRepository {"repositoryName":"golden/../etc"}`,
		`CreateRepository {"repositoryName":"golden/kms","encryptionConfiguration":{"encryptionType":"KMS"}}`,
		`CreateRepository {"repositoryName":"golden/x","imageTagMutability":"SOMETIMES"}`,
		`CreateRepository {"repositoryName":"golden/x","registryId":"111122223333"}`,
		`CreateRepository {"repositoryName":7}`,
		`CreateRepository {not json`,
		`DescribeRepositories {"repositoryNames":["golden/app"]}`,
		`DescribeRepositories {"maxResults":1}`,
		`DescribeRepositories {"repositoryNames":["golden/nope"]}`,
		`DescribeRepositories {"repositoryNames":["golden/app"],"registryId":"111122223333"}`,
		`DescribeRepositories {"maxResults":0}`,
		`DescribeRepositories {"nextToken":"!!"}`,
		`ListImages {"repositoryName":"golden/app"}`,
		`ListImages {"repositoryName":"golden/app","maxResults":1}`,
		`ListImages {"repositoryName":"golden/app","filter":{"tagStatus":"UNTAGGED"}}`,
		`ListImages {"repositoryName":"golden/app","filter":{"tagStatus":"SOME"}}`,
		`ListImages {"repositoryName":"golden/nope"}`,
		`DescribeImages {"repositoryName":"golden/app"}`,
		`DescribeImages {"repositoryName":"golden/app","imageIds":[{"imageTag":"v1"}]}`,
		`DescribeImages {"repositoryName":"golden/app","imageIds":[{"imageTag":"nope"}]}`,
		`DescribeImages {"repositoryName":"golden/app","imageIds":[]}`,
		`BatchGetImage {"repositoryName":"golden/app","imageIds":[{"imageTag":"v1"},{"imageTag":"nope"},{"imageDigest":"sha256:zz"},{},{"imageDigest":"` + unknown + `","imageTag":"v1"}]}`,
		`BatchGetImage {"repositoryName":"golden/app"}`,
		`BatchCheckLayerAvailability {"repositoryName":"golden/app","layerDigests":["` + ld + `","` + unknown + `","bogus",""]}`,
		`GetDownloadUrlForLayer {"repositoryName":"golden/app","layerDigest":"` + ld + `"}`,
		`GetDownloadUrlForLayer {"repositoryName":"golden/app","layerDigest":"` + unknown + `"}`,
		`GetDownloadUrlForLayer {"repositoryName":"golden/app","layerDigest":"not a digest"}`,
		`GetRepositoryPolicy {"repositoryName":"golden/app"}`,
		`SetRepositoryPolicy {"repositoryName":"golden/app","policyText":"{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"ecr:*\"}]}"}`,
		`SetRepositoryPolicy {"repositoryName":"golden/app","policyText":"` + policy + `"}`,
		`GetRepositoryPolicy {"repositoryName":"golden/app"}`,
		`DeleteRepositoryPolicy {"repositoryName":"golden/app"}`,
		`DeleteRepositoryPolicy {"repositoryName":"golden/app"}`,
		`BatchDeleteImage {"repositoryName":"golden/app","imageIds":[{"imageTag":"latest"},{"imageTag":"nope"},{}]}`,
		`DeleteRepository {"repositoryName":"golden/app"}`,
		`BatchDeleteImage {"repositoryName":"golden/app","imageIds":[{"imageDigest":"` + "DIGEST_OF_MANIFEST" + `"}]}`,
		`DeleteRepository {"repositoryName":"golden/app"}`,
		`DeleteRepository {"repositoryName":"golden/immutable","force":true}`,
		`DeleteRepository {"repositoryName":"golden/immutable"}`,
		`PutImage {"repositoryName":"golden/app","imageManifest":"{}"}`,
	}
	s := sha256.Sum256([]byte(manifest))
	for i, c := range calls {
		calls[i] = strings.ReplaceAll(c, "DIGEST_OF_MANIFEST", "sha256:"+hex.EncodeToString(s[:]))
	}
	checkGolden(t, "testdata/ecr_api.golden.txt", normalizeECR(w.ecrCalls(t, calls), w.URL))
}

// TestECRAPIWithAWSCLI drives the API as the aws CLI does: repositories
// and images listed after a crane push, a layer downloaded from
// get-download-url-for-layer's URL without credentials (and refused once
// the URL is altered), images deleted, a repository deleted with --force,
// and an IAM refusal in ECR's words.
func TestECRAPIWithAWSCLI(t *testing.T) {
	w := newRegistryWorld(t, nil)
	root := w.login(t, w.root)
	out, stderr, err := w.bash(t, `set -e
aws ecr create-repository --repository-name team/app --image-scanning-configuration scanOnPush=true --query repository.repositoryUri --output text
"$CRANE" append -f "$TAR" -t "$REG/team/app:v1" >/dev/null 2>&1
"$CRANE" tag "$REG/team/app:v1" v2 2>/dev/null
aws ecr describe-images --repository-name team/app --query 'imageDetails[0].[imageTags[0],imageTags[1],imageManifestMediaType]' --output text
"$CRANE" manifest "$REG/team/app:v1" | jq -r '.layers[0].digest'`, append(root, "TAR="+layerTar(t, "layer content"))...)
	if err != nil {
		t.Fatalf("setup: %v\n%s", err, stderr)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || lines[0] != w.reg+"/team/app" || lines[1] != "v1\tv2\tapplication/vnd.docker.distribution.manifest.v2+json" {
		t.Fatalf("output %q", out)
	}
	layer := lines[2]
	out, stderr, err = w.bash(t, `aws ecr get-download-url-for-layer --repository-name team/app --layer-digest "$LAYER" --query downloadUrl --output text`,
		append(w.root, "LAYER="+layer)...)
	if err != nil {
		t.Fatalf("get-download-url-for-layer: %v\n%s", err, stderr)
	}
	url := strings.TrimSpace(out)
	r := do(t, http.MethodGet, url, nil, nil)
	if sum := sha256.Sum256(r.Body); r.Status != 200 || "sha256:"+hex.EncodeToString(sum[:]) != layer {
		t.Fatalf("download: %d, %d bytes", r.Status, len(r.Body))
	}
	for name, bad := range map[string]string{
		"altered signature":   url[:len(url)-2] + "AA",
		"another repository":  strings.Replace(url, "/team/app/", "/team/other/", 1),
		"expiry moved":        regexp.MustCompile(`Expires=\d+`).ReplaceAllString(url, "Expires=9999999999"),
		"signature left out":  strings.Split(url, "&")[0],
		"no query parameters": strings.Split(url, "?")[0],
	} {
		if r := do(t, http.MethodGet, bad, nil, nil); r.Status != 403 && r.Status != 401 {
			t.Errorf("%s: %d %s", name, r.Status, r.Body)
		}
	}
	out, stderr, err = w.bash(t, `set -e
aws ecr batch-delete-image --repository-name team/app --image-ids imageTag=v2 --query 'imageIds[].imageTag' --output text
aws ecr list-images --repository-name team/app --query 'imageIds[].imageTag' --output text
aws ecr delete-repository --repository-name team/app --force --query repository.repositoryName --output text
aws ecr describe-repositories --query 'length(repositories)'`, w.root...)
	if err != nil || strings.Join(strings.Fields(out), " ") != "v2 v1 team/app 0" {
		t.Fatalf("deletes: %q %v\n%s", out, err, stderr)
	}
	verifier := w.session(t, app.DevVerifyRole, "mygroup/myproject", "main", false)
	// A password lasts 12 hours, never longer than the credentials that
	// obtained it (a one-hour session here).
	for _, tc := range []struct {
		name string
		env  []string
		want time.Duration
	}{{"root", w.root, 12 * time.Hour}, {"one-hour session", verifier, time.Hour}} {
		out, stderr, err := w.bash(t, `aws ecr get-authorization-token --query 'authorizationData[0].expiresAt' --output text --cli-read-timeout 10`, tc.env...)
		exp, perr := strconv.ParseFloat(strings.TrimSpace(out), 64)
		if err != nil || perr != nil {
			t.Fatalf("%s: get-authorization-token: %v %v\n%s", tc.name, err, perr, stderr)
		}
		if d := time.Until(time.Unix(int64(exp), 0)); d > tc.want || d < tc.want-2*time.Minute {
			t.Errorf("%s: password valid for %v, want %v", tc.name, d, tc.want)
		}
	}
	if _, stderr, err := w.bash(t, `aws ecr create-repository --repository-name team/app`, verifier...); err == nil ||
		!strings.Contains(stderr, "An error occurred (AccessDeniedException) when calling the CreateRepository operation: User: arn:aws:sts::000000000000:assumed-role/gitlab-verify/kms-test is not authorized to perform: ecr:CreateRepository on resource: arn:aws:ecr:us-east-1:000000000000:repository/team/app because no identity-based policy allows the ecr:CreateRepository action") {
		t.Fatalf("create-repository as gitlab-verify: %v\n%s", err, stderr)
	}
}
