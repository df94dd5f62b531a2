package app_test

// Process-level tests: the real oidcfed binary, as an operator runs it —
// flags, environment, signals, stdout/stderr — which the in-process tests
// cannot see (cli.Main's signal handling, os.Exit codes, log output).

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/oidcfed/oidcfed/internal/app"
)

// testVersion is stamped into the test binary, so `version` can be checked
// exactly.
const testVersion = "v0.0.0-acceptance"

var (
	buildOnce sync.Once
	buildDir  string
	buildBin  string
	buildErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// oidcfedBinary builds cmd/oidcfed once per test run (only when a process
// test runs) and returns its path. The directory outlives any one test, so
// it is removed in TestMain rather than by t.TempDir.
func oidcfedBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		goTool, err := exec.LookPath("go")
		if err != nil {
			buildErr = fmt.Errorf("go tool not on PATH: %w", err)
			return
		}
		if buildDir, buildErr = os.MkdirTemp("", "oidcfed-acceptance-"); buildErr != nil {
			return
		}
		buildBin = filepath.Join(buildDir, "oidcfed")
		cmd := exec.Command(goTool, "build", "-o", buildBin,
			"-ldflags", "-X github.com/oidcfed/oidcfed/internal/cli.Version="+testVersion,
			"github.com/oidcfed/oidcfed/cmd/oidcfed")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return buildBin
}

// cleanEnv is the test process's environment without OIDCFED_* variables,
// plus extra.
func cleanEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "OIDCFED_") {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

// lockedBuffer is a bytes.Buffer safe to read while a process writes it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestProcessDevServerLifecycle runs `oidcfed serve --dev` as a subprocess,
// mints with the binary's `token` command configured only by dev.env's
// variables, and stops it with SIGTERM, as a process manager would: it must
// exit 0 after a graceful shutdown, having logged JSON lines whose request
// logs carry a request id — and never the runner token.
func TestProcessDevServerLifecycle(t *testing.T) {
	bin := oidcfedBinary(t)
	dir := t.TempDir()
	listen := freeAddr(t)

	var stdout, stderr lockedBuffer
	srv := exec.Command(bin, "serve", "--dev", "--listen", listen, "--data", dir)
	srv.Env = cleanEnv()
	srv.Stdout, srv.Stderr = &stdout, &stderr
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- srv.Wait() }()
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			_ = srv.Process.Kill()
			<-exited
		}
	})

	// Wait for readiness by polling /readyz; give up early if the process
	// dies. The deadline only bounds a broken start.
	base := "http://" + listen
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := client.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		select {
		case err := <-exited:
			stopped = true
			t.Fatalf("server exited before becoming ready: %v\nstderr:\n%s", err, stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("server not ready after 20s\nstderr:\n%s", stderr.String())
		}
	}

	env := app.ReadEnvFile(filepath.Join(dir, app.DevEnvFileName))
	if env["OIDCFED_ENDPOINT"] != base || env["OIDCFED_RUNNER_TOKEN"] == "" {
		t.Fatalf("dev.env: %v", env)
	}
	if !strings.Contains(stdout.String(), filepath.Join(dir, app.DevEnvFileName)) {
		t.Errorf("quick start text does not say where dev.env is:\n%s", stdout.String())
	}

	// Mint with the binary, configured only through the environment that
	// `source dev.env` would set.
	tokenCmd := exec.Command(bin, "token", "--aud", gitlabAud, "--project-path", "mygroup/myproject", "--ref", "main")
	tokenCmd.Env = cleanEnv("OIDCFED_ENDPOINT="+env["OIDCFED_ENDPOINT"], "OIDCFED_RUNNER_TOKEN="+env["OIDCFED_RUNNER_TOKEN"])
	var tokOut, tokErr bytes.Buffer
	tokenCmd.Stdout, tokenCmd.Stderr = &tokOut, &tokErr
	if err := tokenCmd.Run(); err != nil {
		t.Fatalf("oidcfed token: %v\nstderr: %s", err, tokErr.String())
	}
	jwt := strings.TrimSuffix(tokOut.String(), "\n")
	if !jwtRE.MatchString(jwt) || strings.Count(tokOut.String(), "\n") != 1 {
		t.Fatalf("oidcfed token printed %q, want one JWT line", tokOut.String())
	}
	set, _ := fetchJWKS(t, env["OIDCFED_ISSUER"])
	verifyWithJWKS(t, jwt, set)

	// A caller-supplied request id is kept (for correlating logs).
	res := do(t, http.MethodGet, base+"/healthz", http.Header{"X-Request-Id": {"acceptance-req-1"}}, nil)
	if res.Status != http.StatusOK || res.Header.Get("X-Request-Id") != "acceptance-req-1" {
		t.Errorf("/healthz: %d, X-Request-Id %q", res.Status, res.Header.Get("X-Request-Id"))
	}
	var health struct{ Version string }
	if err := json.Unmarshal(res.Body, &health); err != nil || health.Version != testVersion {
		t.Errorf("/healthz body %s, want version %s", res.Body, testVersion)
	}

	if err := srv.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		stopped = true
		if err != nil {
			t.Errorf("after SIGTERM: %v, want exit status 0\nstderr:\n%s", err, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("server still running 10s after SIGTERM\nstderr:\n%s", stderr.String())
	}

	// Every stderr line is a JSON log record; request logs carry the
	// request id.
	var requests, minted int
	sawShutdown, sawCallerID := false, false
	sc := bufio.NewScanner(strings.NewReader(stderr.String()))
	for sc.Scan() {
		line := sc.Text()
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Errorf("stderr line is not JSON: %q", line)
			continue
		}
		if rec["time"] == nil || rec["level"] == nil || rec["msg"] == nil {
			t.Errorf("log record lacks time/level/msg: %q", line)
		}
		if strings.Contains(line, env["OIDCFED_RUNNER_TOKEN"]) {
			t.Errorf("the log shows the runner token: %q", line)
		}
		id, _ := rec["request_id"].(string)
		switch rec["msg"] {
		case "request":
			requests++
			if id == "" {
				t.Errorf("request log without request_id: %q", line)
			}
			if id == "acceptance-req-1" && rec["path"] == "/healthz" {
				sawCallerID = true
			}
		case "token minted":
			minted++
			if id == "" {
				t.Errorf("mint log without request_id: %q", line)
			}
		case "shutting down":
			sawShutdown = true
		}
	}
	if requests < 3 || minted != 1 || !sawShutdown || !sawCallerID {
		t.Errorf("log: %d request lines, %d mint lines, shutdown logged %v, caller's request id logged %v\n%s",
			requests, minted, sawShutdown, sawCallerID, stderr.String())
	}
}

// TestProcessCommands checks the small commands a user runs first.
func TestProcessCommands(t *testing.T) {
	bin := oidcfedBinary(t)
	for _, tc := range []struct {
		name     string
		args     []string
		wantCode int
		check    func(t *testing.T, stdout, stderr string)
	}{
		{"version", []string{"version"}, 0, func(t *testing.T, stdout, _ string) {
			if stdout != "oidcfed "+testVersion+"\n" {
				t.Errorf("version printed %q", stdout)
			}
		}},
		{"completion bash", []string{"completion", "bash"}, 0, func(t *testing.T, stdout, _ string) {
			if !strings.Contains(stdout, "bash completion") || !strings.Contains(stdout, "oidcfed") {
				t.Errorf("completion bash printed %d bytes not looking like a bash completion script", len(stdout))
			}
			// The script must at least parse.
			if bash, err := exec.LookPath("bash"); err == nil {
				f := filepath.Join(t.TempDir(), "oidcfed.bash")
				writeFile(t, f, []byte(stdout), 0o600)
				if out, err := exec.Command(bash, "-n", f).CombinedOutput(); err != nil {
					t.Errorf("bash -n: %v\n%s", err, out)
				}
			}
		}},
		{"serve without config or --dev", []string{"serve"}, 1, func(t *testing.T, _, stderr string) {
			if !strings.Contains(stderr, "--config") || !strings.Contains(stderr, "--dev") {
				t.Errorf("stderr %q does not say what serve needs", stderr)
			}
		}},
		{"token without endpoint", []string{"token", "--aud", "x", "--project-path", "g/p", "--ref", "main"}, 1, func(t *testing.T, _, stderr string) {
			if !strings.Contains(stderr, "OIDCFED_ENDPOINT") {
				t.Errorf("stderr %q does not name OIDCFED_ENDPOINT", stderr)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(bin, tc.args...)
			cmd.Env = cleanEnv()
			cmd.Dir = t.TempDir() // keep a stray ./.oidcfed out of the source tree
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			code := 0
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tc.wantCode {
				t.Fatalf("exit %d, want %d\nstdout %q\nstderr %q", code, tc.wantCode, stdout.String(), stderr.String())
			}
			tc.check(t, stdout.String(), stderr.String())
		})
	}
}
