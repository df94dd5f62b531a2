package app

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	ggcr "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// BenchmarkRegistryPull50MB pulls a 50 MB image (one 50 MB layer) the way
// crane does — ping, manifest, config, layer, every byte read and its
// digest checked — from oidcfed's registry and from go-containerregistry's
// registry with no authentication in front (blobs on disk, like ours), in
// one loop, alternating, so both meet the same machine. The oidcfed side
// is the whole server: HTTP middleware, Basic auth with a password
// GetAuthorizationToken issued to a gitlab-verify session (IAM decides
// each request with the role's AWS managed policy), the store's
// manifests, the audit log on (every request recorded, synced, before it
// is answered). Metrics: mean ms per pull for each; auth/bare, the median
// of the pairs' ratios (the target is at most 1.15); auth/bare-mean, the
// ratio of the means.
//
// Sub-benchmarks: audit (the server as it runs) and no-audit (the same
// without the audit log, whose synced commit — one per request, three per
// pull — is most of the difference, and the part that grows when other
// processes load the disk).
//
//	go test -run '^$' -bench RegistryPull50MB -benchtime 30x ./internal/app/
func BenchmarkRegistryPull50MB(b *testing.B) {
	b.Run("audit", func(b *testing.B) { benchRegistryPull(b, false) })
	b.Run("no-audit", func(b *testing.B) { benchRegistryPull(b, true) })
}

func benchRegistryPull(b *testing.B, noAudit bool) {
	dir := b.TempDir()
	s, err := Start(context.Background(), Options{Listen: "127.0.0.1:0", DataDir: dir, Dev: true, NoAudit: noAudit,
		Logger: slog.New(slog.NewJSONHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelError}))})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Shutdown(context.Background()) })
	env := ReadEnvFile(filepath.Join(dir, DevEnvFileName))

	img, err := random.Image(50<<20, 1)
	if err != nil {
		b.Fatal(err)
	}
	root := benchLoginPassword(b, s, env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"], "")
	if r := benchECRCall(b, s, env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"], "", "CreateRepository", `{"repositoryName":"bench/app"}`); r.StatusCode != 200 {
		b.Fatalf("CreateRepository: %d", r.StatusCode)
	}
	ours, err := name.ParseReference(strings.TrimPrefix(s.URL, "http://") + "/bench/app:v1")
	if err != nil {
		b.Fatal(err)
	}
	if err := remote.Write(ours, img, remote.WithAuth(&authn.Basic{Username: "AWS", Password: root})); err != nil {
		b.Fatal(err)
	}
	bare := httptest.NewServer(ggcr.New(ggcr.WithBlobHandler(diskBlobs(b.TempDir())), ggcr.Logger(log.New(io.Discard, "", 0))))
	b.Cleanup(bare.Close)
	theirs, err := name.ParseReference(strings.TrimPrefix(bare.URL, "http://") + "/bench/app:v1")
	if err != nil {
		b.Fatal(err)
	}
	if err := remote.Write(theirs, img, remote.WithAuth(authn.Anonymous)); err != nil {
		b.Fatal(err)
	}

	// The puller: a branch job's gitlab-verify session, logged in.
	creds := benchSession(b, s, env, DevVerifyRole)
	password := benchLoginPassword(b, s, creds.AccessKeyID, creds.SecretAccessKey, creds.SessionToken)
	pull := func(ref name.Reference, auth authn.Authenticator) {
		img, err := remote.Image(ref, remote.WithAuth(auth))
		if err != nil {
			b.Fatal(err)
		}
		if _, err := img.RawConfigFile(); err != nil {
			b.Fatal(err)
		}
		layers, err := img.Layers()
		if err != nil {
			b.Fatal(err)
		}
		for _, l := range layers {
			rc, err := l.Compressed()
			if err != nil {
				b.Fatal(err)
			}
			n, err := io.Copy(io.Discard, rc)
			if err != nil || n < 50<<20 {
				b.Fatalf("layer: %d bytes, %v", n, err)
			}
			if err := rc.Close(); err != nil {
				b.Fatal(err)
			}
		}
	}
	// Warm both (page cache, connections).
	pull(theirs, authn.Anonymous)
	pull(ours, &authn.Basic{Username: "AWS", Password: password})
	var tBare, tAuth time.Duration
	b.ResetTimer()
	timed := func(ref name.Reference, auth authn.Authenticator) time.Duration {
		t0 := time.Now()
		pull(ref, auth)
		return time.Since(t0)
	}
	// Alternating which goes first, so neither always inherits the
	// other's garbage or warmth. Each pair runs back to back; the ratio
	// reported is the median of the pairs' ratios, so a burst of another
	// process's work on a shared machine, landing on one side of one
	// pair, does not decide it (the means are reported too).
	first := true
	var ratios []float64
	for b.Loop() {
		var bare, auth time.Duration
		if first {
			bare = timed(theirs, authn.Anonymous)
			auth = timed(ours, &authn.Basic{Username: "AWS", Password: password})
		} else {
			auth = timed(ours, &authn.Basic{Username: "AWS", Password: password})
			bare = timed(theirs, authn.Anonymous)
		}
		first = !first
		tBare, tAuth = tBare+bare, tAuth+auth
		ratios = append(ratios, float64(auth)/float64(bare))
	}
	slices.Sort(ratios)
	n := float64(b.N)
	b.ReportMetric(float64(tBare.Microseconds())/1000/n, "bare-ms/pull")
	b.ReportMetric(float64(tAuth.Microseconds())/1000/n, "auth-ms/pull")
	b.ReportMetric(ratios[len(ratios)/2], "auth/bare")
	b.ReportMetric(float64(tAuth)/float64(tBare), "auth/bare-mean")
}

// diskBlobs is a blob store on disk for the bare registry: the same
// medium as oidcfed's, without go-containerregistry's disk handler's
// rehash of every blob on each read.
type diskBlobs string

func (d diskBlobs) path(h v1.Hash) string { return filepath.Join(string(d), h.Hex) }

func (d diskBlobs) Stat(_ context.Context, _ string, h v1.Hash) (int64, error) {
	fi, err := os.Stat(d.path(h))
	if errors.Is(err, fs.ErrNotExist) {
		return 0, ggcr.ErrNotFound
	}
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

func (d diskBlobs) Get(_ context.Context, _ string, h v1.Hash) (io.ReadCloser, error) {
	f, err := os.Open(d.path(h))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ggcr.ErrNotFound
	}
	return f, err
}

func (d diskBlobs) Put(_ context.Context, _ string, h v1.Hash, rc io.ReadCloser) error {
	f, err := os.CreateTemp(string(d), "upload-*")
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, rc); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), d.path(h))
}

// benchECRCall sends one signed ECR request.
func benchECRCall(b *testing.B, s *Server, akid, secret, token, op, body string) *http.Response {
	b.Helper()
	req, _ := http.NewRequest(http.MethodPost, s.URL+"/", bytes.NewReader([]byte(body)))
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", "AmazonEC2ContainerRegistry_V20150921."+op)
	sum := sha256.Sum256([]byte(body))
	if err := v4.NewSigner().SignHTTP(context.Background(), awsCreds(akid, secret, token), req, hex.EncodeToString(sum[:]), "ecr", "us-east-1", time.Now()); err != nil {
		b.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { resp.Body.Close() })
	return resp
}

// benchLoginPassword is what aws ecr get-login-password prints.
func benchLoginPassword(b *testing.B, s *Server, akid, secret, token string) string {
	b.Helper()
	resp := benchECRCall(b, s, akid, secret, token, "GetAuthorizationToken", `{}`)
	var out struct {
		AuthorizationData []struct{ AuthorizationToken string } `json:"authorizationData"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || len(out.AuthorizationData) != 1 {
		b.Fatalf("GetAuthorizationToken: %d %v", resp.StatusCode, err)
	}
	raw, err := base64.StdEncoding.DecodeString(out.AuthorizationData[0].AuthorizationToken)
	if err != nil {
		b.Fatal(err)
	}
	_, password, _ := strings.Cut(string(raw), ":")
	return password
}

func awsCreds(akid, secret, token string) aws.Credentials {
	return aws.Credentials{AccessKeyID: akid, SecretAccessKey: secret, SessionToken: token}
}
