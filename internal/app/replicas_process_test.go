package app_test

import (
	"bytes"
	"context"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/oidcfed/oidcfed/internal/app"
	"github.com/oidcfed/oidcfed/internal/audit"
	"github.com/oidcfed/oidcfed/internal/store/postgres"
	"github.com/oidcfed/oidcfed/internal/store/postgres/pgtest"
)

// replicaProcess is `oidcfed serve --dev` on a shared database.
type replicaProcess struct {
	base, dir string
	cmd       *exec.Cmd
	exited    chan error
	stderr    *lockedBuffer
}

// TestReplicaKilledUnderLoad: three replica processes start together on an
// empty database (they migrate and bootstrap it once between them) behind
// a load balancer; under load, one is killed with SIGKILL. The only
// failures are requests on that replica's connections while it died (the
// load balancer cannot know whether it acted on them, so it does not
// retry them); once it is gone, the others answer everything. Every
// credential a client received is in the audit log, and every chain
// verifies.
func TestReplicaKilledUnderLoad(t *testing.T) {
	bin := oidcfedBinary(t)
	storeURL := pgtest.NewSchema(t)
	keyFile := filepath.Join(t.TempDir(), "master.key")
	lb := newFailoverLB(t)
	reps := make([]*replicaProcess, 3)
	var urls []string
	for i := range reps {
		r := &replicaProcess{dir: t.TempDir(), exited: make(chan error, 1), stderr: &lockedBuffer{}}
		listen := freeAddr(t)
		r.base = "http://" + listen
		r.cmd = exec.Command(bin, "serve", "--dev", "--listen", listen, "--data", r.dir, "--store", storeURL,
			"--master-key-file", keyFile, "--issuer", lb.URL, "--log-level", "error")
		r.cmd.Env = cleanEnv()
		r.cmd.Stderr = r.stderr
		reps[i] = r
		urls = append(urls, r.base)
	}
	// All at once: the race to migrate and bootstrap is part of the test.
	for _, r := range reps {
		if err := r.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() { r.exited <- r.cmd.Wait() }()
		t.Cleanup(func() { _ = r.cmd.Process.Kill() })
	}
	lb.setBackends(urls...)
	client := &http.Client{Timeout: 10 * time.Second}
	for i, r := range reps {
		deadline := time.Now().Add(30 * time.Second)
		for {
			res, err := client.Get(r.base + "/readyz")
			if err == nil {
				res.Body.Close()
				if res.StatusCode == http.StatusOK {
					break
				}
			}
			select {
			case err := <-r.exited:
				t.Fatalf("replica %d exited: %v\n%s", i, err, r.stderr.String())
			case <-time.After(50 * time.Millisecond):
			}
			if time.Now().After(deadline) {
				t.Fatalf("replica %d not ready after 30s\n%s", i, r.stderr.String())
			}
		}
	}
	env := app.ReadEnvFile(filepath.Join(reps[0].dir, app.DevEnvFileName))
	for i, r := range reps[1:] {
		if other := app.ReadEnvFile(filepath.Join(r.dir, app.DevEnvFileName)); other["OIDCFED_RUNNER_TOKEN"] != env["OIDCFED_RUNNER_TOKEN"] {
			t.Fatalf("replica %d has another runner token than replica 0: two bootstraps", i+1)
		}
	}
	tok, _ := mintJSON(t, lb.URL, env["OIDCFED_RUNNER_TOKEN"], basicRequest(env["OIDCFED_ISSUER"]))
	body := assumeForm(env["OIDCFED_DEPLOY_ROLE_ARN"], "load", tok)

	type outcome struct {
		start   time.Time
		status  int
		replica string
		key     string // the credentials' access key id, on success
		err     string
	}
	var mu sync.Mutex
	var outcomes []outcome
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 8 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				o := outcome{start: time.Now()}
				res, err := client.Post(lb.URL+"/", "application/x-www-form-urlencoded", bytes.NewReader(body))
				if err != nil {
					o.err = err.Error()
				} else {
					var b bytes.Buffer
					_, _ = b.ReadFrom(res.Body)
					res.Body.Close()
					o.status, o.replica = res.StatusCode, res.Header.Get("X-Test-Replica")
					if s := b.String(); o.status == http.StatusOK {
						if i := strings.Index(s, "<AccessKeyId>"); i >= 0 {
							k := s[i+len("<AccessKeyId>"):]
							o.key = k[:strings.Index(k, "<")]
						}
					} else {
						o.err = strings.TrimSpace(s)
					}
				}
				mu.Lock()
				outcomes = append(outcomes, o)
				mu.Unlock()
			}
		})
	}
	time.Sleep(time.Second)
	victim := reps[2]
	killedAt := time.Now()
	if err := victim.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-victim.exited
	goneAt := time.Now()
	time.Sleep(1500 * time.Millisecond)
	close(stop)
	wg.Wait()

	var ok, failed int
	perReplica := map[string]int{}
	var received []string
	for i, o := range outcomes {
		if o.status == http.StatusOK && o.key != "" {
			ok++
			perReplica[o.replica]++
			received = append(received, o.key)
			continue
		}
		failed++
		// Only the killed replica's connections may fail, and only while
		// it was dying.
		if o.status != http.StatusBadGateway || !strings.Contains(o.err, "replica "+victim.base+" dropped the request") {
			t.Errorf("request %d failed otherwise: status %d %s", i, o.status, o.err)
		}
		// (A pooled connection may still be handed out for the moment it
		// takes the load balancer to read the reset its process exit sent.)
		if o.start.After(goneAt.Add(100 * time.Millisecond)) {
			t.Errorf("request %d, sent %v after the killed replica was gone, failed: %d %s", i, o.start.Sub(goneAt), o.status, o.err)
		}
	}
	t.Logf("%d requests, %d ok, %d failed on the killed replica's connections (kill to exit: %v); per replica %v",
		len(outcomes), ok, failed, goneAt.Sub(killedAt), perReplica)
	if perReplica[victim.base] == 0 || perReplica[reps[0].base] == 0 || perReplica[reps[1].base] == 0 {
		t.Errorf("the load did not reach every replica: %v", perReplica)
	}

	st, err := postgres.Open(context.Background(), postgres.Config{URL: storeURL})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	recorded := map[string]bool{}
	for _, ev := range auditEvents(t, audit.StoreBackend(st)) {
		if key, ok := path(ev, "responseElements", "credentials", "accessKeyId").(string); ok {
			recorded[key] = true
		}
	}
	missing := 0
	for _, key := range received {
		if !recorded[key] {
			missing++
		}
	}
	if missing > 0 {
		t.Errorf("%d of %d credentials received have no audit event", missing, len(received))
	}
	reports, err := audit.Verify(context.Background(), audit.StoreBackend(st))
	if err != nil || !audit.OK(reports) || len(reports) != 3 {
		t.Errorf("chains after the kill: %+v, %v; want 3 whole chains", reports, err)
	}
	for _, r := range reports {
		t.Logf("chain %s: %d records", r.Writer, r.Records)
	}
}
