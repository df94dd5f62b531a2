package app

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// BenchmarkKMSSign measures one whole KMS Sign request through the
// server's handler chain — SigV4 verification, key policy and IAM
// decision, audit off, ECDSA P-256 signature, JSON — beside a bare P-256
// signature in the same run (BenchmarkKMSSign/bare). The request is signed
// once and replayed, so only the server's work is timed.
//
//	go test -run '^$' -bench KMSSign ./internal/app/
func BenchmarkKMSSign(b *testing.B) {
	b.Run("bare", func(b *testing.B) {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		digest := sha256.Sum256([]byte("x"))
		for b.Loop() {
			if _, err := ecdsa.SignASN1(rand.Reader, key, digest[:]); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("api", func(b *testing.B) {
		dir := b.TempDir()
		s, err := Start(context.Background(), Options{Listen: "127.0.0.1:0", DataDir: dir, Dev: true, NoAudit: true,
			Logger: slog.New(slog.NewJSONHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelError}))})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = s.Shutdown(context.Background()) })
		env := ReadEnvFile(filepath.Join(dir, DevEnvFileName))
		// A CI job's credentials: a gitlab-sign session from a job token,
		// as cosign in a pipeline uses (stateless: nothing is looked up).
		creds := benchSession(b, s, env, DevSignRole)
		body := []byte(`{"KeyId":"alias/ci-signing","Message":"` + "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=" + `","MessageType":"DIGEST","SigningAlgorithm":"ECDSA_SHA_256"}`)
		req := httptest.NewRequest(http.MethodPost, s.URL+"/", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/x-amz-json-1.1")
		req.Header.Set("X-Amz-Target", "TrentService.Sign")
		sum := sha256.Sum256(body)
		if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), "kms", "us-east-1", time.Now()); err != nil {
			b.Fatal(err)
		}
		h := s.http.Handler
		// One request and one response writer, reset each time, so the
		// harness itself costs next to nothing.
		req.RemoteAddr = "127.0.0.1:5555"
		rd := bytes.NewReader(body)
		req.Body = io.NopCloser(rd)
		w := &benchWriter{header: http.Header{}}
		do := func() int {
			rd.Reset(body)
			w.status, w.body = 0, w.body[:0]
			clear(w.header)
			h.ServeHTTP(w, req)
			if w.status != http.StatusOK {
				b.Fatalf("%d %s", w.status, w.body)
			}
			return w.status
		}
		do()
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			do()
		}
	})
}

// benchSession mints a protected-main job token and assumes role with it.
func benchSession(b *testing.B, s *Server, env map[string]string, role string) aws.Credentials {
	b.Helper()
	mint, _ := http.NewRequest(http.MethodPost, s.URL+"/api/v1/tokens", strings.NewReader(`{"aud":"`+s.Issuer.Config().URL+
		`","project_path":"mygroup/myproject","ref":"main","ref_protected":"true","ttl_seconds":7200}`))
	mint.Header.Set("Authorization", "Bearer "+env["OIDCFED_RUNNER_TOKEN"])
	resp, err := http.DefaultClient.Do(mint)
	if err != nil {
		b.Fatal(err)
	}
	var minted struct{ Token string }
	_ = json.NewDecoder(resp.Body).Decode(&minted)
	resp.Body.Close()
	form := url.Values{"Action": {"AssumeRoleWithWebIdentity"}, "Version": {"2011-06-15"}, "RoleSessionName": {"bench"},
		"RoleArn": {"arn:aws:iam::000000000000:role/" + role}, "WebIdentityToken": {minted.Token}}
	resp, err = http.PostForm(s.URL+"/", form)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Result struct {
			Credentials struct{ AccessKeyId, SecretAccessKey, SessionToken string }
		} `xml:"AssumeRoleWithWebIdentityResult"`
	}
	if err := xml.NewDecoder(resp.Body).Decode(&out); err != nil || out.Result.Credentials.AccessKeyId == "" {
		b.Fatalf("assume %s: %d %v", role, resp.StatusCode, err)
	}
	c := out.Result.Credentials
	return aws.Credentials{AccessKeyID: c.AccessKeyId, SecretAccessKey: c.SecretAccessKey, SessionToken: c.SessionToken}
}

// benchWriter is a reusable http.ResponseWriter.
type benchWriter struct {
	header http.Header
	status int
	body   []byte
}

func (w *benchWriter) Header() http.Header { return w.header }
func (w *benchWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
}
func (w *benchWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	w.body = append(w.body, p...)
	return len(p), nil
}
