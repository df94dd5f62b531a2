package app_test

// Replicas: several servers sharing one PostgreSQL database, one master key
// and one issuer URL (a load balancer in front of them), as an
// organisation's CI fleet runs them. Each test gets a schema of its own on
// the server scripts/postgres started (skipped without one).

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/oidcfed/oidcfed/internal/app"
	"github.com/oidcfed/oidcfed/internal/iam"
	"github.com/oidcfed/oidcfed/internal/issuer"
	"github.com/oidcfed/oidcfed/internal/store/postgres/pgtest"
)

// failoverLB is the load balancer in front of the replicas: round robin,
// and a request whose connection could not even be made (a replica that is
// down) goes to the next replica. A request a replica dropped half way is
// answered 502: it may have been acted on, so it is not retried.
type failoverLB struct {
	*httptest.Server
	mu       sync.Mutex
	backends []string
	next     atomic.Uint64
	client   *http.Client
}

func newFailoverLB(t *testing.T) *failoverLB {
	t.Helper()
	lb := &failoverLB{client: &http.Client{Timeout: 30 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: 64, DialContext: (&net.Dialer{Timeout: 2 * time.Second}).DialContext}}}
	lb.Server = httptest.NewServer(lb)
	t.Cleanup(lb.Close)
	return lb
}

func (lb *failoverLB) setBackends(urls ...string) {
	lb.mu.Lock()
	lb.backends = slices.Clone(urls)
	lb.mu.Unlock()
}

func (lb *failoverLB) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	lb.mu.Lock()
	backends := slices.Clone(lb.backends)
	lb.mu.Unlock()
	start := lb.next.Add(1)
	var lastErr error = errors.New("no replicas")
	for i := range backends {
		target := backends[(start+uint64(i))%uint64(len(backends))]
		req, _ := http.NewRequestWithContext(r.Context(), r.Method, target+r.URL.RequestURI(), bytes.NewReader(body))
		req.Header = r.Header.Clone()
		resp, err := lb.client.Do(req)
		var opErr *net.OpError
		if errors.As(err, &opErr) && opErr.Op == "dial" {
			lastErr = err
			continue
		}
		if err != nil {
			http.Error(w, "replica "+target+" dropped the request: "+err.Error(), http.StatusBadGateway)
			return
		}
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.Header().Set("X-Test-Replica", target)
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, resp.Body)
		resp.Body.Close()
		return
	}
	http.Error(w, "no replica answered: "+lastErr.Error(), http.StatusBadGateway)
}

// cluster is a set of in-process replicas behind a failoverLB.
type cluster struct {
	replicas []*testServer
	lb       *failoverLB
	storeURL string
	keyFile  string
	env      map[string]string // replica 0's dev.env
}

// startCluster starts n dev replicas sharing one fresh schema, one master
// key file (which the first creates) and the load balancer's URL as their
// issuer.
func startCluster(t *testing.T, n int, mutate func(*app.Options)) *cluster {
	t.Helper()
	hermeticEnv(t)
	c := &cluster{lb: newFailoverLB(t), storeURL: pgtest.NewSchema(t), keyFile: filepath.Join(t.TempDir(), "master.key")}
	var urls []string
	for range n {
		s := startDev(t, t.TempDir(), "127.0.0.1:0", func(o *app.Options) {
			o.StoreURL, o.MasterKeyFile, o.Issuer.URL = c.storeURL, c.keyFile, c.lb.URL
			if mutate != nil {
				mutate(o)
			}
		})
		c.replicas = append(c.replicas, s)
		urls = append(urls, s.URL)
	}
	c.lb.setBackends(urls...)
	c.env = app.ReadEnvFile(filepath.Join(c.replicas[0].Dir, app.DevEnvFileName))
	return c
}

// root is the account root's long-term key, from dev.env.
func (c *cluster) root() aws.Credentials {
	return aws.Credentials{AccessKeyID: c.env["AWS_ACCESS_KEY_ID"], SecretAccessKey: c.env["AWS_SECRET_ACCESS_KEY"]}
}

// signed sends an AWS request signed with creds to base: a Query form for
// sts and iam, JSON with target for kms.
func signed(t *testing.T, base string, creds aws.Credentials, service, target, body string) httpResult {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, base+"/", strings.NewReader(body))
	if target != "" {
		req.Header.Set("Content-Type", "application/x-amz-json-1.1")
		req.Header.Set("X-Amz-Target", target)
	} else {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	}
	sum := sha256.Sum256([]byte(body))
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), service, "us-east-1", time.Now()); err != nil {
		t.Fatal(err)
	}
	return do(t, req.Method, req.URL.String(), req.Header, []byte(body))
}

// assume trades a job token for credentials at base.
func assume(t *testing.T, base, role, token string) (aws.Credentials, httpResult) {
	t.Helper()
	res := do(t, http.MethodPost, base+"/", formHeader, assumeForm(role, "replica-test", token))
	var out struct {
		Result struct {
			Credentials struct{ AccessKeyId, SecretAccessKey, SessionToken string }
		} `xml:"AssumeRoleWithWebIdentityResult"`
	}
	if res.Status == http.StatusOK {
		if err := xml.Unmarshal(res.Body, &out); err != nil {
			t.Fatal(err)
		}
	}
	c := out.Result.Credentials
	return aws.Credentials{AccessKeyID: c.AccessKeyId, SecretAccessKey: c.SecretAccessKey, SessionToken: c.SessionToken}, res
}

// within polls check every 10 ms until it returns true and says how long
// that took; past limit the test fails, naming what.
func within(t *testing.T, limit time.Duration, what string, check func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !check() {
		if time.Since(start) > limit {
			t.Fatalf("%s: not within %v", what, limit)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return time.Since(start)
}

// metric reads one sample of /metrics, e.g.
// oidcfed_store_transactions_total{kind="view"}.
func metric(t *testing.T, base, sample string) float64 {
	t.Helper()
	res := get(t, base+"/metrics")
	sc := bufio.NewScanner(bytes.NewReader(res.Body))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), sample+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatal(err)
			}
			return f
		}
	}
	return 0
}

const signBody = `{"KeyId":"alias/ci-signing","Message":"47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=","MessageType":"DIGEST","SigningAlgorithm":"ECDSA_SHA_256"}`

// signToken is a job token the gitlab-sign role accepts.
func signToken(t *testing.T, s *testServer) string {
	t.Helper()
	req := basicRequest(s.Issuer)
	req["ref_protected"] = "true"
	tok, _ := mintJSON(t, s.URL, s.Token, req)
	return tok
}

// TestReplicasShareOneDatabase: three replicas on one database behave as
// one server. They bootstrap once (the same runner token, root key, dev
// signing key and issuer key), credentials from any verify on all, a
// change through one is enforced by all within a second, the hot path
// reads nothing from the database, and the audit log holds every
// replica's chain.
func TestReplicasShareOneDatabase(t *testing.T) {
	// The key schedule's periodic re-read is the one read a replica makes
	// by itself; pushed out of the way of the count of reads below.
	c := startCluster(t, 3, func(o *app.Options) { o.Issuer.ReloadInterval = time.Hour })
	a, b, cc := c.replicas[0], c.replicas[1], c.replicas[2]
	roleARN := func(name string) string { return iam.RoleARN("000000000000", "/", name) }

	t.Run("one bootstrap", func(t *testing.T) {
		for i, s := range c.replicas {
			env := app.ReadEnvFile(filepath.Join(s.Dir, app.DevEnvFileName))
			for _, k := range []string{"OIDCFED_RUNNER_TOKEN", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "OIDCFED_ISSUER", "OIDCFED_STORE"} {
				if env[k] == "" || env[k] != c.env[k] {
					t.Errorf("replica %d's dev.env %s differs from replica 0's", i, k)
				}
			}
		}
		_, jwks := fetchJWKS(t, c.lb.URL)
		for i, s := range c.replicas {
			if got := get(t, s.URL+"/oauth/discovery/keys"); !bytes.Equal(got.Body, jwks) {
				t.Errorf("replica %d serves another JWKS:\n%s\nwant\n%s", i, got.Body, jwks)
			}
		}
		if set, _ := fetchJWKS(t, c.lb.URL); len(set.Keys) != 1 {
			t.Errorf("%d issuer keys after three starts, want 1", len(set.Keys))
		}
	})

	t.Run("assume on A, GetCallerIdentity on B, KMS Sign on C, with the aws CLI", func(t *testing.T) {
		w := &stsWorld{testServer: a, home: t.TempDir()}
		writeFile(t, filepath.Join(w.home, "config"), []byte("[default]\ncli_follow_urlparam = false\n"), 0o600)
		tok := signToken(t, a)
		out, stderr, err := w.bash(t, `set -e
creds=$(AWS_ENDPOINT_URL=$A aws sts assume-role-with-web-identity --role-arn "$ROLE" --role-session-name replicas \
  --web-identity-token "$TOK" --query 'Credentials.[AccessKeyId,SecretAccessKey,SessionToken]' --output text)
export $(printf "AWS_ACCESS_KEY_ID=%s AWS_SECRET_ACCESS_KEY=%s AWS_SESSION_TOKEN=%s" $creds)
AWS_ENDPOINT_URL=$B aws sts get-caller-identity --query Arn --output text
AWS_ENDPOINT_URL=$C aws kms sign --key-id alias/ci-signing --message fileb://<(printf x) --message-type RAW \
  --signing-algorithm ECDSA_SHA_256 --query KeyId --output text`,
			"A="+a.URL, "B="+b.URL, "C="+cc.URL, "ROLE="+roleARN(app.DevSignRole), "TOK="+tok)
		if err != nil {
			t.Fatalf("%v\n%s\n%s", err, out, stderr)
		}
		lines := strings.Fields(out)
		if len(lines) != 2 || lines[0] != "arn:aws:sts::000000000000:assumed-role/gitlab-sign/replicas" ||
			!strings.HasPrefix(lines[1], "arn:aws:kms:us-east-1:000000000000:key/") {
			t.Fatalf("output %q", out)
		}
	})

	t.Run("a trust policy changed through B is enforced by A within 1s", func(t *testing.T) {
		issuer := a.Issuer
		prefix := iam.ProviderConditionPrefix(issuer)
		trust := func(project string) string {
			doc, _ := json.Marshal(map[string]any{"Version": "2012-10-17", "Statement": []any{map[string]any{
				"Effect": "Allow", "Principal": map[string]string{"Federated": iam.ProviderARN("000000000000", issuer)},
				"Action": "sts:AssumeRoleWithWebIdentity",
				"Condition": map[string]any{"StringEquals": map[string]string{prefix + ":aud": issuer,
					prefix + ":sub": "project_path:" + project + ":ref_type:branch:ref:main"}}}}})
			return string(doc)
		}
		form := func(kv ...string) string {
			v := url.Values{"Version": {"2010-05-08"}}
			for i := 0; i < len(kv); i += 2 {
				v.Set(kv[i], kv[i+1])
			}
			return v.Encode()
		}
		if res := signed(t, b.URL, c.root(), "iam", "", form("Action", "CreateRole", "RoleName", "replicated",
			"AssumeRolePolicyDocument", trust("mygroup/myproject"))); res.Status != http.StatusOK {
			t.Fatalf("CreateRole on B: %d %s", res.Status, res.Body)
		}
		tok, _ := mintJSON(t, a.URL, a.Token, basicRequest(issuer))
		// Created on B a moment ago: A has never read it, and takes it.
		if _, res := assume(t, a.URL, roleARN("replicated"), tok); res.Status != http.StatusOK {
			t.Fatalf("assume on A: %d %s", res.Status, res.Body)
		}
		if res := signed(t, b.URL, c.root(), "iam", "", form("Action", "UpdateAssumeRolePolicy", "RoleName", "replicated",
			"PolicyDocument", trust("mygroup/other"))); res.Status != http.StatusOK {
			t.Fatalf("UpdateAssumeRolePolicy on B: %d %s", res.Status, res.Body)
		}
		took := within(t, time.Second, "A refuses the old project", func() bool {
			_, res := assume(t, a.URL, roleARN("replicated"), tok)
			return res.Status == http.StatusForbidden
		})
		t.Logf("A enforced the new trust policy %v after B committed it", took)
	})

	t.Run("a revoked access key and a disabled KMS key stop working everywhere within 1s", func(t *testing.T) {
		form := func(action string, kv ...string) string {
			v := url.Values{"Action": {action}, "Version": {"2010-05-08"}}
			for i := 0; i < len(kv); i += 2 {
				v.Set(kv[i], kv[i+1])
			}
			return v.Encode()
		}
		if res := signed(t, b.URL, c.root(), "iam", "", form("CreateUser", "UserName", "deployer")); res.Status != http.StatusOK {
			t.Fatalf("CreateUser: %d %s", res.Status, res.Body)
		}
		res := signed(t, b.URL, c.root(), "iam", "", form("CreateAccessKey", "UserName", "deployer"))
		var key struct {
			Key struct{ AccessKeyId, SecretAccessKey string } `xml:"CreateAccessKeyResult>AccessKey"`
		}
		if err := xml.Unmarshal(res.Body, &key); err != nil || res.Status != http.StatusOK {
			t.Fatalf("CreateAccessKey: %d %s", res.Status, res.Body)
		}
		user := aws.Credentials{AccessKeyID: key.Key.AccessKeyId, SecretAccessKey: key.Key.SecretAccessKey}
		whoami := url.Values{"Action": {"GetCallerIdentity"}, "Version": {"2011-06-15"}}.Encode()
		if res := signed(t, a.URL, user, "sts", "", whoami); res.Status != http.StatusOK {
			t.Fatalf("GetCallerIdentity on A with the new key: %d %s", res.Status, res.Body)
		}
		if res := signed(t, b.URL, c.root(), "iam", "", form("UpdateAccessKey", "UserName", "deployer",
			"AccessKeyId", user.AccessKeyID, "Status", "Inactive")); res.Status != http.StatusOK {
			t.Fatalf("UpdateAccessKey: %d %s", res.Status, res.Body)
		}
		took := within(t, time.Second, "A refuses the deactivated key", func() bool {
			return signed(t, a.URL, user, "sts", "", whoami).Status == http.StatusForbidden
		})
		t.Logf("A refused the deactivated access key %v after B committed it", took)

		creds, res := assume(t, cc.URL, roleARN(app.DevSignRole), signToken(t, cc))
		if res.Status != http.StatusOK {
			t.Fatalf("assume on C: %d %s", res.Status, res.Body)
		}
		if res := signed(t, cc.URL, creds, "kms", "TrentService.Sign", signBody); res.Status != http.StatusOK {
			t.Fatalf("Sign on C: %d %s", res.Status, res.Body)
		}
		if res := signed(t, b.URL, c.root(), "kms", "TrentService.DisableKey", `{"KeyId":"alias/ci-signing"}`); res.Status != http.StatusOK {
			t.Fatalf("DisableKey on B: %d %s", res.Status, res.Body)
		}
		took = within(t, time.Second, "C refuses to sign with the disabled key", func() bool {
			res := signed(t, cc.URL, creds, "kms", "TrentService.Sign", signBody)
			return res.Status == http.StatusBadRequest && strings.Contains(string(res.Body), "DisabledException")
		})
		t.Logf("C refused the disabled key %v after B committed it", took)
		if res := signed(t, a.URL, c.root(), "kms", "TrentService.EnableKey", `{"KeyId":"alias/ci-signing"}`); res.Status != http.StatusOK {
			t.Fatalf("EnableKey on A: %d %s", res.Status, res.Body)
		}
		within(t, time.Second, "C signs again", func() bool {
			return signed(t, cc.URL, creds, "kms", "TrentService.Sign", signBody).Status == http.StatusOK
		})
	})

	t.Run("the hot path waits on the database only for the audit write", func(t *testing.T) {
		creds, res := assume(t, a.URL, roleARN(app.DevSignRole), signToken(t, a))
		if res.Status != http.StatusOK {
			t.Fatalf("assume: %d %s", res.Status, res.Body)
		}
		tok := signToken(t, a)
		// Warm: what a request reads is cached once.
		signed(t, a.URL, creds, "kms", "TrentService.Sign", signBody)
		views := `oidcfed_store_transactions_total{kind="view"}`
		updates := `oidcfed_store_transactions_total{kind="update"}`
		v0, u0 := metric(t, a.URL, views), metric(t, a.URL, updates)
		const n = 20
		for range n {
			if _, res := assume(t, a.URL, roleARN(app.DevSignRole), tok); res.Status != http.StatusOK {
				t.Fatalf("assume: %d %s", res.Status, res.Body)
			}
			if res := signed(t, a.URL, creds, "kms", "TrentService.Sign", signBody); res.Status != http.StatusOK {
				t.Fatalf("Sign: %d %s", res.Status, res.Body)
			}
			if res := mintRaw(t, a.URL, a.Token, mustJSON(t, basicRequest(a.Issuer))); res.Status != http.StatusOK {
				t.Fatalf("mint: %d %s", res.Status, res.Body)
			}
			if res := signed(t, a.URL, c.root(), "sts", "", url.Values{"Action": {"GetCallerIdentity"}, "Version": {"2011-06-15"}}.Encode()); res.Status != http.StatusOK {
				t.Fatalf("GetCallerIdentity: %d %s", res.Status, res.Body)
			}
		}
		dv, du := metric(t, a.URL, views)-v0, metric(t, a.URL, updates)-u0
		t.Logf("%d requests: %v read transactions, %v write transactions (audit commits)", 4*n, dv, du)
		if dv != 0 {
			t.Errorf("%v read transactions for %d requests served from caches, want 0", dv, 4*n)
		}
		if du > 4*n {
			t.Errorf("%v write transactions for %d requests, want at most one audit commit each", du, 4*n)
		}
	})

	t.Run("one audit log, one chain per replica", func(t *testing.T) {
		code, out, stderr := runCLI(t, "audit", "verify", "--store", c.storeURL)
		if code != 0 {
			t.Fatalf("audit verify: %d %s %s", code, out, stderr)
		}
		if chains := strings.Count(out, ": ok, "); chains != len(c.replicas) {
			t.Errorf("audit verify found %d whole chains, want one per replica:\n%s", chains, out)
		}
		// LookupEvents on C finds what B recorded.
		body := `{"LookupAttributes":[{"AttributeKey":"EventName","AttributeValue":"UpdateAssumeRolePolicy"}]}`
		res := signed(t, cc.URL, c.root(), "cloudtrail", "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents", body)
		if res.Status != http.StatusOK || !strings.Contains(string(res.Body), "UpdateAssumeRolePolicy") {
			t.Errorf("LookupEvents on C: %d %s", res.Status, res.Body)
		}
	})

	t.Run("a runner revoked with the CLI stops minting on every replica within 1s", func(t *testing.T) {
		code, out, stderr := runCLI(t, "runner", "revoke", app.DevRunnerName, "--store", c.storeURL, "--master-key-file", c.keyFile)
		if code != 0 {
			t.Fatalf("runner revoke: %d %s %s", code, out, stderr)
		}
		for i, s := range c.replicas {
			took := within(t, time.Second, fmt.Sprintf("replica %d refuses the revoked runner", i), func() bool {
				return mintRaw(t, s.URL, s.Token, mustJSON(t, basicRequest(s.Issuer))).Status == http.StatusUnauthorized
			})
			t.Logf("replica %d refused the revoked runner after %v", i, took)
		}
	})
}

// TestConcurrentRotationOnce: every replica decides a rotation at the same
// moment — automatically, the rotation period having passed on their
// clock, or asked to by an operator on each — and one new key results,
// which every replica serves in the same JWKS within a second.
func TestConcurrentRotationOnce(t *testing.T) {
	tests := []struct {
		name   string
		rotate func(ctx context.Context, s *testServer) error
	}{
		{"automatic, the period over on every clock", func(ctx context.Context, s *testServer) error {
			return s.Server.Issuer.Maintain(ctx)
		}},
		{"asked of every replica", func(ctx context.Context, s *testServer) error {
			_, err := s.Server.Issuer.Rotate(ctx)
			if errors.Is(err, issuer.ErrRotationInProgress) {
				return nil // decided by another replica first
			}
			return err
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// One clock for all, which the test moves past the period.
			var offset atomic.Int64
			now := func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
			c := startCluster(t, 3, func(o *app.Options) {
				o.Now = now
				o.Issuer.RotationPeriod = 2 * time.Hour
			})
			if strings.HasPrefix(tc.name, "automatic") {
				offset.Store(int64(2*time.Hour + time.Minute))
			}
			start := make(chan struct{})
			errs := make(chan error, len(c.replicas))
			for _, s := range c.replicas {
				go func() {
					<-start
					errs <- tc.rotate(t.Context(), s)
				}()
			}
			close(start)
			for range c.replicas {
				if err := <-errs; err != nil {
					t.Errorf("rotation: %v", err)
				}
			}
			var jwks []byte
			took := within(t, time.Second, "every replica serves the same JWKS with both keys", func() bool {
				jwks = get(t, c.replicas[0].URL+"/oauth/discovery/keys").Body
				for _, s := range c.replicas[1:] {
					if !bytes.Equal(get(t, s.URL+"/oauth/discovery/keys").Body, jwks) {
						return false
					}
				}
				var set struct{ Keys []json.RawMessage }
				return json.Unmarshal(jwks, &set) == nil && len(set.Keys) == 2
			})
			t.Logf("replicas agreed on the rotated JWKS after %v", took)
			code, out, stderr := runCLI(t, "issuer", "keys", "--store", c.storeURL, "--master-key-file", c.keyFile, "--issuer", c.lb.URL)
			if code != 0 || strings.Count(out, "\n") != 3 {
				t.Errorf("issuer keys: %d, want a header and 2 keys:\n%s%s", code, out, stderr)
			}
		})
	}
}

// TestReplicasSurvivePostgresRestart: when the database stops, replicas
// report not ready and refuse calls they cannot record; when it is back,
// they are ready again and serve, without being restarted.
func TestReplicasSurvivePostgresRestart(t *testing.T) {
	hermeticEnv(t)
	srv := pgtest.StartServer(t)
	storeURL, keyFile := srv.NewSchema(t), filepath.Join(t.TempDir(), "master.key")
	lb := newFailoverLB(t)
	var reps []*testServer
	for range 2 {
		reps = append(reps, startDev(t, t.TempDir(), "127.0.0.1:0", func(o *app.Options) {
			o.StoreURL, o.MasterKeyFile, o.Issuer.URL = storeURL, keyFile, lb.URL
		}))
	}
	lb.setBackends(reps[0].URL, reps[1].URL)
	tok := signToken(t, reps[0])
	role := iam.RoleARN("000000000000", "/", app.DevSignRole)
	ready := func(s *testServer) bool { return get(t, s.URL+"/readyz").Status == http.StatusOK }
	for i, s := range reps {
		if _, res := assume(t, s.URL, role, tok); res.Status != http.StatusOK || !ready(s) {
			t.Fatalf("replica %d before the restart: assume %d %s", i, res.Status, res.Body)
		}
	}

	srv.Stop(t)
	for i, s := range reps {
		took := within(t, 15*time.Second, fmt.Sprintf("replica %d reports not ready", i), func() bool { return !ready(s) })
		t.Logf("replica %d not ready %v after the database stopped", i, took)
		if _, res := assume(t, s.URL, role, tok); res.Status != http.StatusInternalServerError {
			t.Errorf("replica %d, database down: assume %d %s, want 500 (the call cannot be recorded)", i, res.Status, res.Body)
		}
	}

	srv.Start(t)
	for i, s := range reps {
		took := within(t, 20*time.Second, fmt.Sprintf("replica %d ready again", i), func() bool { return ready(s) })
		t.Logf("replica %d ready %v after the database came back", i, took)
		if _, res := assume(t, s.URL, role, tok); res.Status != http.StatusOK {
			t.Errorf("replica %d after the restart: assume %d %s", i, res.Status, res.Body)
		}
	}
	// What they recorded since verifies, one chain each.
	code, out, stderr := runCLI(t, "audit", "verify", "--store", storeURL)
	if code != 0 || strings.Count(out, ": ok, ") != 2 {
		t.Errorf("audit verify: %d\n%s%s", code, out, stderr)
	}
}

// TestMigrateCommand: `oidcfed migrate` brings a store's schema up to date
// and says what it did, on either backend, without a master key.
func TestMigrateCommand(t *testing.T) {
	hermeticEnv(t)
	tests := []struct {
		name  string
		flags []string
		where string
	}{
		{"postgres", []string{"--store", pgtest.NewSchema(t)}, "postgres 127.0.0.1:"},
		{"sqlite", []string{"--data", t.TempDir()}, "sqlite "},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, stderr := runCLI(t, append([]string{"migrate"}, tc.flags...)...)
			if code != 0 || !strings.HasPrefix(out, tc.where) || !strings.Contains(out, "schema migrated from version 0 to ") {
				t.Fatalf("first migrate: %d %q %s", code, out, stderr)
			}
			code, out, stderr = runCLI(t, append([]string{"migrate"}, tc.flags...)...)
			if code != 0 || !strings.Contains(out, "schema up to date (version ") {
				t.Fatalf("second migrate: %d %q %s", code, out, stderr)
			}
		})
	}
	code, _, stderr := runCLI(t, "migrate", "--store", "postgres://u:hunter2@127.0.0.1:1/db?sslmode=disable&connect_timeout=2")
	if code == 0 || strings.Contains(stderr, "hunter2") || !strings.Contains(stderr, "127.0.0.1:1") {
		t.Errorf("migrate against nothing: %d %s (want a failure naming the server, without the password)", code, stderr)
	}
}

// TestMoveStoreToPostgresAndBack: a dev server's state on SQLite moves to
// PostgreSQL with `admin export` / `admin import`, a server there carries
// on where the first left off (the same runner token, issuer key, IAM role,
// KMS key and audit chain), and the state moves back to SQLite as well.
func TestMoveStoreToPostgresAndBack(t *testing.T) {
	hermeticEnv(t)
	dir, listen := t.TempDir(), freeAddr(t)
	first := startDev(t, dir, listen, nil)
	env := app.ReadEnvFile(filepath.Join(dir, app.DevEnvFileName))
	root := aws.Credentials{AccessKeyID: env["AWS_ACCESS_KEY_ID"], SecretAccessKey: env["AWS_SECRET_ACCESS_KEY"]}
	keyRes := signed(t, first.URL, root, "kms", "TrentService.CreateKey", `{"KeySpec":"ECC_NIST_P256","KeyUsage":"SIGN_VERIFY"}`)
	var created struct{ KeyMetadata struct{ KeyId string } }
	if err := json.Unmarshal(keyRes.Body, &created); err != nil || keyRes.Status != http.StatusOK {
		t.Fatalf("CreateKey: %d %s", keyRes.Status, keyRes.Body)
	}
	if res := signed(t, first.URL, root, "iam", "", url.Values{"Action": {"CreateUser"}, "Version": {"2010-05-08"}, "UserName": {"carried"}}.Encode()); res.Status != http.StatusOK {
		t.Fatalf("CreateUser: %d %s", res.Status, res.Body)
	}
	_, jwksBefore := fetchJWKS(t, first.Issuer)
	first.stop(t)

	export := filepath.Join(t.TempDir(), "state.jsonl")
	if code, out, stderr := runCLI(t, "admin", "export", export, "--data", dir); code != 0 || !strings.Contains(stderr, "exported 1 runners") {
		t.Fatalf("export: %d %s %s", code, out, stderr)
	}
	storeURL := pgtest.NewSchema(t)
	code, out, stderr := runCLI(t, "admin", "import", export, "--store", storeURL)
	if code != 0 || !strings.Contains(out, "imported 1 runners") {
		t.Fatalf("import: %d %s %s", code, out, stderr)
	}
	// Importing twice is refused: the store is no longer empty.
	if code, _, stderr := runCLI(t, "admin", "import", export, "--store", storeURL); code == 0 || !strings.Contains(stderr, "not empty") {
		t.Fatalf("second import: %d %s", code, stderr)
	}

	// The same data directory (master key, dev.env) and address, the
	// store now in PostgreSQL.
	moved := startDev(t, dir, listen, func(o *app.Options) { o.StoreURL = storeURL })
	if moved.Token != first.Token {
		t.Error("the dev runner token changed in the move")
	}
	if _, jwks := fetchJWKS(t, moved.Issuer); !bytes.Equal(jwks, jwksBefore) {
		t.Errorf("the JWKS changed in the move:\n%s\nwant\n%s", jwks, jwksBefore)
	}
	tok, _ := mintJSON(t, moved.URL, moved.Token, basicRequest(moved.Issuer))
	if _, res := assume(t, moved.URL, iam.RoleARN("000000000000", "/", app.DevDeployRole), tok); res.Status != http.StatusOK {
		t.Errorf("assume after the move: %d %s", res.Status, res.Body)
	}
	body := `{"KeyId":"` + created.KeyMetadata.KeyId + `","Message":"eA==","MessageType":"RAW","SigningAlgorithm":"ECDSA_SHA_256"}`
	if res := signed(t, moved.URL, root, "kms", "TrentService.Sign", body); res.Status != http.StatusOK {
		t.Errorf("Sign with the key created before the move: %d %s", res.Status, res.Body)
	}
	if res := signed(t, moved.URL, root, "iam", "", url.Values{"Action": {"GetUser"}, "Version": {"2010-05-08"}, "UserName": {"carried"}}.Encode()); res.Status != http.StatusOK {
		t.Errorf("GetUser after the move: %d %s", res.Status, res.Body)
	}
	moved.stop(t)
	code, out, stderr = runCLI(t, "audit", "verify", "--store", storeURL)
	if code != 0 || strings.Count(out, ": ok, ") != 2 {
		t.Errorf("audit verify after the move (the first server's chain and the second's): %d\n%s%s", code, out, stderr)
	}

	// And back to SQLite, in a new data directory.
	back := filepath.Join(t.TempDir(), "state.jsonl")
	if code, _, stderr := runCLI(t, "admin", "export", back, "--store", storeURL); code != 0 {
		t.Fatalf("export from postgres: %d %s", code, stderr)
	}
	dir2 := t.TempDir()
	if code, out, stderr := runCLI(t, "admin", "import", back, "--data", dir2); code != 0 || !strings.Contains(out, "imported 1 runners") {
		t.Fatalf("import into sqlite: %d %s %s", code, out, stderr)
	}
	writeFile(t, filepath.Join(dir2, "master.key"), readFile(t, filepath.Join(dir, "master.key")), 0o600)
	writeFile(t, filepath.Join(dir2, app.DevEnvFileName), readFile(t, filepath.Join(dir, app.DevEnvFileName)), 0o600)
	again := startDev(t, dir2, listen, nil)
	if res := signed(t, again.URL, root, "kms", "TrentService.Sign", body); res.Status != http.StatusOK || again.Token != first.Token {
		t.Errorf("back on SQLite: Sign %d %s; runner token kept: %v", res.Status, res.Body, again.Token == first.Token)
	}
	code, out, stderr = runCLI(t, "audit", "verify", "--data", dir2)
	if code != 0 || strings.Count(out, ": ok, ") != 3 {
		t.Errorf("audit verify back on SQLite: %d\n%s%s", code, out, stderr)
	}
}

// TestRotateMasterKeyRefusedWhileReplicasRun: on PostgreSQL the data
// directory lock cannot tell whether replicas run elsewhere; the lock each
// replica holds on the database can.
func TestRotateMasterKeyRefusedWhileReplicasRun(t *testing.T) {
	c := startCluster(t, 2, nil)
	rotate := func() (int, string, string) {
		return runCLI(t, "admin", "rotate-master-key", "--store", c.storeURL, "--master-key-file", c.keyFile)
	}
	c.replicas[0].stop(t)
	if code, out, stderr := rotate(); code == 0 || !strings.Contains(stderr, "stop the server first") {
		t.Fatalf("rotate with a replica running: %d %s %s", code, out, stderr)
	}
	c.replicas[1].stop(t)
	code, out, stderr := rotate()
	if code != 0 || !strings.Contains(out, "re-sealed ") {
		t.Fatalf("rotate with every replica stopped: %d %s %s", code, out, stderr)
	}
	// A replica starts with the new key and uses what was re-sealed: the
	// issuer key (a token verified by STS) and the root access key.
	s := startDev(t, t.TempDir(), "127.0.0.1:0", func(o *app.Options) {
		o.StoreURL, o.MasterKeyFile, o.Issuer.URL = c.storeURL, c.keyFile, c.lb.URL
	})
	c.lb.setBackends(s.URL)
	if _, res := assume(t, s.URL, iam.RoleARN("000000000000", "/", app.DevSignRole), signToken(t, s)); res.Status != http.StatusOK {
		t.Fatalf("assume after the rotation: %d %s", res.Status, res.Body)
	}
	whoami := url.Values{"Action": {"GetCallerIdentity"}, "Version": {"2011-06-15"}}.Encode()
	if res := signed(t, s.URL, c.root(), "sts", "", whoami); res.Status != http.StatusOK {
		t.Errorf("the root key after the rotation: %d %s", res.Status, res.Body)
	}
}
