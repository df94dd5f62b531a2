package app

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
)

// BenchmarkAssumeRoleWithWebIdentityHandler measures one whole STS request
// through the server's handler chain (middleware, Query parsing, token
// verification with a warm JWKS cache, trust policy, session sealing, XML),
// in process: the server's own cost per request, without a network client.
//
//	go test -run '^$' -bench AssumeRoleWithWebIdentityHandler -cpu 1 ./internal/app/
func BenchmarkAssumeRoleWithWebIdentityHandler(b *testing.B) {
	dir := b.TempDir()
	s, err := Start(context.Background(), Options{Listen: "127.0.0.1:0", DataDir: dir, Dev: true,
		Logger: slog.New(slog.NewJSONHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelError}))})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Shutdown(context.Background()) })
	env := ReadEnvFile(filepath.Join(dir, DevEnvFileName))
	req, _ := http.NewRequest(http.MethodPost, s.URL+"/api/v1/tokens", strings.NewReader(`{"aud":"`+s.Issuer.Config().URL+`","project_path":"mygroup/myproject","ref":"main","ttl_seconds":7200}`))
	req.Header.Set("Authorization", "Bearer "+env["OIDCFED_RUNNER_TOKEN"])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	var body strings.Builder
	_, _ = io.Copy(&body, resp.Body)
	resp.Body.Close()
	token := body.String()[strings.Index(body.String(), `"token":"`)+9:]
	token = token[:strings.IndexByte(token, '"')]
	form := url.Values{"Action": {"AssumeRoleWithWebIdentity"}, "Version": {"2011-06-15"},
		"RoleArn": {env["OIDCFED_DEPLOY_ROLE_ARN"]}, "RoleSessionName": {"bench"}, "WebIdentityToken": {token}}.Encode()
	h := s.http.Handler
	do := func() int {
		r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(form))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.RemoteAddr = "127.0.0.1:5555"
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code
	}
	if code := do(); code != http.StatusOK {
		b.Fatalf("warm-up request: %d", code)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if do() != http.StatusOK {
			b.Fatal("request failed")
		}
	}
}
