package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/oidcfed/oidcfed/internal/app"
	"github.com/oidcfed/oidcfed/internal/audit"
	"github.com/oidcfed/oidcfed/internal/iam"
	"github.com/oidcfed/oidcfed/internal/store"
	"github.com/oidcfed/oidcfed/internal/store/sqlite"
)

// auditEvents is every event in b, oldest first, decoded.
func auditEvents(t *testing.T, b audit.Backend) []map[string]any {
	t.Helper()
	recs, err := b.Query(context.Background(), store.AuditQuery{Oldest: true, Limit: 100000})
	if err != nil {
		t.Fatal(err)
	}
	out := make([]map[string]any, 0, len(recs))
	for _, r := range recs {
		var ev map[string]any
		if err := json.Unmarshal(r.Body, &ev); err != nil {
			t.Fatalf("record %s #%d: %v", r.Writer, r.Seq, err)
		}
		out = append(out, ev)
	}
	return out
}

// path walks a decoded event: path(ev, "userIdentity", "type").
func path(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

// assumeForm is an AssumeRoleWithWebIdentity request body.
func assumeForm(role, session, token string) []byte {
	return []byte(url.Values{"Action": {"AssumeRoleWithWebIdentity"}, "Version": {"2011-06-15"}, "RoleArn": {role},
		"RoleSessionName": {session}, "WebIdentityToken": {token}}.Encode())
}

var formHeader = http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}

// TestAuditRecordsEveryCall runs a job's calls with the aws CLI — a mint,
// the role assumed, get-caller-identity, a refused IAM call, a token for
// another project refused — and checks each has its CloudTrail event with
// the job behind it, the chain verifies, and no token, secret key or
// session token is in the store, the JSON Lines file or the log.
func TestAuditRecordsEveryCall(t *testing.T) {
	hermeticEnv(t)
	dir := t.TempDir()
	jsonl := filepath.Join(t.TempDir(), "audit.jsonl")
	var logs lockedBuffer
	s := startDev(t, dir, "127.0.0.1:0", func(o *app.Options) {
		o.AuditFile = jsonl
		o.Logger = slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	w := &stsWorld{testServer: s, home: t.TempDir(), deployRole: "arn:aws:iam::000000000000:role/" + app.DevDeployRole}
	req := basicRequest(s.Issuer)
	req["pipeline_id"], req["job_id"], req["sha"] = "4242", "777", "0123456789abcdef0123456789abcdef01234567"
	tok := w.mint(t, req)
	other := basicRequest(s.Issuer)
	other["project_path"] = "evil/project"
	otherTok := w.mint(t, other)

	out, stderr, err := w.bash(t, `set -e
creds=$(aws sts assume-role-with-web-identity --role-arn "$ROLE" --role-session-name "pipeline-4242" --web-identity-token "$TOK" --output json)
export AWS_ACCESS_KEY_ID=$(printf %s "$creds" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Credentials"]["AccessKeyId"])')
export AWS_SECRET_ACCESS_KEY=$(printf %s "$creds" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Credentials"]["SecretAccessKey"])')
export AWS_SESSION_TOKEN=$(printf %s "$creds" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Credentials"]["SessionToken"])')
aws sts get-caller-identity --output text --query Arn >&2
aws iam create-role --role-name sneaky --assume-role-policy-document '{"Version":"2012-10-17","Statement":[]}' >/dev/null 2>&1 && exit 9
printf '%s\n%s\n%s\n' "$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY" "$AWS_SESSION_TOKEN"
aws sts assume-role-with-web-identity --role-arn "$ROLE" --role-session-name other-job --web-identity-token "$OTHER" >/dev/null 2>&1 && exit 8
true`, "ROLE="+w.deployRole, "TOK="+tok, "OTHER="+otherTok)
	if err != nil {
		t.Fatalf("job: %v\n%s", err, stderr)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 {
		t.Fatalf("job printed %q", out)
	}
	accessKey, secret, sessionToken := lines[0], lines[1], lines[2]

	events := auditEvents(t, s.AuditRecords)
	var names []string
	for _, ev := range events {
		name := path(ev, "eventName").(string)
		if code, _ := path(ev, "errorCode").(string); code != "" {
			name += "/" + code
		}
		names = append(names, name)
	}
	want := []string{"MintToken", "MintToken", "AssumeRoleWithWebIdentity", "GetCallerIdentity", "CreateRole/AccessDenied",
		"AssumeRoleWithWebIdentity/AccessDenied"}
	if strings.Join(names, " ") != strings.Join(want, " ") {
		t.Fatalf("events %q, want %q", names, want)
	}
	assumed, caller, iamDenied, refused := events[2], events[3], events[4], events[5]
	checks := []struct {
		name string
		got  any
		want any
	}{
		{"assume source", path(assumed, "eventSource"), "sts.amazonaws.com"},
		{"assume identity type", path(assumed, "userIdentity", "type"), "WebIdentityUser"},
		{"assume user name is the sub", path(assumed, "userIdentity", "userName"), "project_path:mygroup/myproject:ref_type:branch:ref:main"},
		{"assume session name", path(assumed, "requestParameters", "roleSessionName"), "pipeline-4242"},
		{"assume issued key", path(assumed, "responseElements", "credentials", "accessKeyId"), accessKey},
		{"assume verification method", path(assumed, "additionalEventData", "identityProviderConnectionVerificationMethod"), "IAMTrustStore"},
		{"assume job pipeline", path(assumed, "oidcfed", "job", "pipeline_id"), "4242"},
		{"assume job id", path(assumed, "oidcfed", "job", "job_id"), "777"},
		{"assume job project", path(assumed, "oidcfed", "job", "project_path"), "mygroup/myproject"},
		{"assume resource", path(assumed, "resources").([]any)[0].(map[string]any)["ARN"], w.deployRole},
		{"caller identity type", path(caller, "userIdentity", "type"), "AssumedRole"},
		{"caller key", path(caller, "userIdentity", "accessKeyId"), accessKey},
		{"caller role", path(caller, "userIdentity", "sessionContext", "sessionIssuer", "userName"), app.DevDeployRole},
		{"caller job", path(caller, "oidcfed", "job", "project_path"), "mygroup/myproject"},
		{"iam denied source", path(iamDenied, "eventSource"), "iam.amazonaws.com"},
		{"iam denied params", path(iamDenied, "requestParameters", "roleName"), "sneaky"},
		{"iam denied has a reason", path(iamDenied, "oidcfed", "denial", "reason") != nil, true},
		{"refused message", path(refused, "errorMessage"), "Not authorized to perform sts:AssumeRoleWithWebIdentity"},
		{"refused user", path(refused, "userIdentity", "userName"), "project_path:evil/project:ref_type:branch:ref:main"},
		{"refused trace names the condition", path(refused, "oidcfed", "denial", "trace").([]any)[0].(map[string]any)["failed"], "Condition"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %v, want %v", c.name, c.got, c.want)
		}
	}
	if sha := path(assumed, "oidcfed", "token", "sha256"); sha != path(events[0], "oidcfed", "token", "sha256") || sha == nil {
		t.Errorf("the assume event's token hash %v is not the minted token's %v", sha, path(events[0], "oidcfed", "token", "sha256"))
	}

	reports, err := audit.Verify(context.Background(), s.AuditRecords)
	if err != nil || len(reports) != 1 || !audit.OK(reports) || reports[0].Records != int64(len(events)) {
		t.Fatalf("verify: %+v, %v", reports, err)
	}
	// The CLI reads the same trail while the server runs.
	code, stdout, stderr := runCLI(t, "audit", "--data", dir, "--event", "AssumeRoleWithWebIdentity", "--denied")
	if code != 0 || !strings.Contains(stdout, "AccessDenied") || strings.Count(strings.TrimSpace(stdout), "\n") != 1 ||
		!strings.Contains(stdout, "project_path:evil/project") {
		t.Errorf("oidcfed audit --denied: %d\n%s%s", code, stdout, stderr)
	}
	code, stdout, _ = runCLI(t, "audit", "--data", dir, "--role", app.DevDeployRole, "--sub", "project_path:mygroup/myproject:ref_type:branch:ref:main", "--format", "json")
	if lines := strings.Split(strings.TrimSpace(stdout), "\n"); code != 0 || len(lines) != 1 || !strings.Contains(lines[0], `"pipeline_id":"4242"`) {
		t.Errorf("oidcfed audit --role --sub --format json: %d\n%s", code, stdout)
	}
	if code, stdout, stderr := runCLI(t, "audit", "verify", "--data", dir); code != 0 || !strings.Contains(stdout, "ok, 6 records (1-6)") {
		t.Errorf("oidcfed audit verify: %d\n%s%s", code, stdout, stderr)
	}
	if code, stdout, stderr := runCLI(t, "audit", "verify", "--file", jsonl); code != 0 || !strings.Contains(stdout, "ok, 6 records") {
		t.Errorf("oidcfed audit verify --file: %d\n%s%s", code, stdout, stderr)
	}
	tampered := filepath.Join(t.TempDir(), "tampered.jsonl")
	writeFile(t, tampered, bytes.Replace(readFile(t, jsonl), []byte("pipeline-4242"), []byte("pipeline-4243"), 1), 0o600)
	if code, stdout, _ := runCLI(t, "audit", "verify", "--file", tampered); code == 0 || !strings.Contains(stdout, "BROKEN at record 4") {
		t.Errorf("oidcfed audit verify of a tampered file: %d\n%s", code, stdout)
	}

	s.stop(t) // flush the WAL into the file we grep

	env := app.ReadEnvFile(filepath.Join(dir, app.DevEnvFileName))
	secrets := map[string]string{"job token": tok, "other token": otherTok, "secret key": secret, "session token": sessionToken,
		"runner token": s.Token, "root secret key": env["AWS_SECRET_ACCESS_KEY"]}
	files, _ := filepath.Glob(filepath.Join(dir, "oidcfed.db*"))
	haystacks := map[string][]byte{"JSON Lines file": readFile(t, jsonl), "log": []byte(logs.String())}
	for _, f := range files {
		haystacks[filepath.Base(f)] = readFile(t, f)
	}
	for hname, hay := range haystacks {
		for sname, secret := range secrets {
			if secret == "" {
				t.Fatalf("no %s to look for", sname)
			}
			// The signature part alone is enough to find a token.
			needle := secret
			if i := strings.LastIndexByte(secret, '.'); i > 0 {
				needle = secret[i+1:]
			}
			if bytes.Contains(hay, []byte(needle)) {
				t.Errorf("the %s holds the %s", hname, sname)
			}
		}
	}
}

// TestAuditFailsClosed: with an audit sink that cannot be written (a full
// disk), the issuer hands out no token and STS no credentials — for a
// call that would have succeeded as for one refused; both answer 500, and
// the server goes on serving.
func TestAuditFailsClosed(t *testing.T) {
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("no /dev/full")
	}
	hermeticEnv(t)
	// The tokens come from another dev server: the failing server's own
	// issuer cannot hand one out. The failing server trusts that issuer.
	minter := startDev(t, t.TempDir(), "127.0.0.1:0", nil)
	tok := (&stsWorld{testServer: minter}).mint(t, basicRequest(minter.Issuer))
	trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"` +
		iam.ProviderARN("000000000000", minter.Issuer) + `"},"Action":"sts:AssumeRoleWithWebIdentity"}]}`
	s := startDev(t, t.TempDir(), "127.0.0.1:0", func(o *app.Options) {
		o.AuditFile = "/dev/full"
		o.OIDCProviders = []iam.OIDCProvider{{URL: minter.Issuer, ClientIDs: []string{minter.Issuer}, AllowInsecureHTTP: true}}
		o.Roles = []iam.Role{{Name: "minter-role", TrustPolicy: trust, MaxSessionDuration: time.Hour}}
	})
	res := mintRaw(t, s.URL, s.Token, mustJSON(t, basicRequest(s.Issuer)))
	if res.Status != http.StatusInternalServerError || bytes.Contains(res.Body, []byte(`"token"`)) {
		t.Fatalf("mint with a full audit disk: %d %s", res.Status, res.Body)
	}
	for _, role := range []string{"minter-role", "no-such-role"} {
		res = do(t, http.MethodPost, s.URL+"/", formHeader, assumeForm("arn:aws:iam::000000000000:role/"+role, "audit-test", tok))
		if res.Status != http.StatusInternalServerError || !bytes.Contains(res.Body, []byte("<Code>InternalFailure</Code>")) ||
			bytes.Contains(res.Body, []byte("SecretAccessKey")) {
			t.Fatalf("assume %s with a full audit disk: %d %s", role, res.Status, res.Body)
		}
	}
	if res := get(t, s.URL+"/healthz"); res.Status != http.StatusOK {
		t.Fatalf("healthz after audit failures: %d", res.Status)
	}
	// The same call on a server whose audit works succeeds: the 500s above
	// were the audit's.
	res = do(t, http.MethodPost, minter.URL+"/", formHeader, assumeForm("arn:aws:iam::000000000000:role/"+app.DevDeployRole, "audit-test", tok))
	if res.Status != http.StatusOK {
		t.Fatalf("assume on the minter: %d %q", res.Status, res.Body)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestAuditSurvivesKill kills the server (SIGKILL) in the middle of an
// AssumeRoleWithWebIdentity load: every credential a client received has
// its event in the store afterwards, and the chains verify.
func TestAuditSurvivesKill(t *testing.T) {
	bin := oidcfedBinary(t)
	dir := t.TempDir()
	listen := freeAddr(t)
	srv := exec.Command(bin, "serve", "--dev", "--listen", listen, "--data", dir, "--log-level", "error")
	srv.Env = cleanEnv()
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- srv.Wait() }()
	t.Cleanup(func() { _ = srv.Process.Kill() })
	base := "http://" + listen
	var env map[string]string
	for range 100 {
		if res, err := http.Get(base + "/readyz"); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				env = app.ReadEnvFile(filepath.Join(dir, app.DevEnvFileName))
				break
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	if env["OIDCFED_RUNNER_TOKEN"] == "" {
		t.Fatal("dev server did not become ready")
	}
	tok, _ := mintJSON(t, base, env["OIDCFED_RUNNER_TOKEN"], basicRequest(env["OIDCFED_ISSUER"]))
	body := assumeForm(env["OIDCFED_DEPLOY_ROLE_ARN"], "load", tok)

	var mu sync.Mutex
	var received []string
	client := &http.Client{Timeout: 5 * time.Second}
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
				res, err := client.Post(base+"/", "application/x-www-form-urlencoded", bytes.NewReader(body))
				if err != nil {
					continue // the server is gone
				}
				var b bytes.Buffer
				_, err = b.ReadFrom(res.Body)
				res.Body.Close()
				if err != nil || res.StatusCode != http.StatusOK {
					continue
				}
				s := b.String()
				if i := strings.Index(s, "<AccessKeyId>"); i >= 0 {
					key := s[i+len("<AccessKeyId>"):]
					mu.Lock()
					received = append(received, key[:strings.Index(key, "<")])
					mu.Unlock()
				}
			}
		})
	}
	time.Sleep(1500 * time.Millisecond)
	if err := srv.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-exited
	close(stop)
	wg.Wait()
	if len(received) < 50 {
		t.Fatalf("only %d credentials received before the kill", len(received))
	}

	// Read the journal as the killed server left it (as `oidcfed audit`
	// would beside a server), then as a restart leaves it, once its
	// unfinished segment is sealed.
	st, err := audit.OpenJournal(filepath.Join(dir, app.AuditDirName), audit.JournalOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	checkKilledJournal(t, st, received)
	restarted, err := audit.OpenJournal(filepath.Join(dir, app.AuditDirName), audit.JournalOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := restarted.Close(); err != nil {
		t.Fatal(err)
	}
	checkKilledJournal(t, st, received)
}

// checkKilledJournal checks that every credential received has its event
// in b and that b's chains are whole.
func checkKilledJournal(t *testing.T, st audit.Backend, received []string) {
	t.Helper()
	recorded := map[string]bool{}
	for _, ev := range auditEvents(t, st) {
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
	reports, err := audit.Verify(context.Background(), st)
	if err != nil || !audit.OK(reports) {
		t.Errorf("chains after the kill: %+v, %v", reports, err)
	}
	t.Logf("%d credentials received, %d assume events recorded", len(received), len(recorded))
}

// TestLookupEventsWithAWSCLI reads the audit trail back with `aws
// cloudtrail lookup-events`: by event name, by user name, by resource, in
// a time range, across pages; and its refusals are CloudTrail's.
func TestLookupEventsWithAWSCLI(t *testing.T) {
	w, root := bareDev(t)
	trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::000000000000:root"},"Action":"sts:AssumeRole"}]}`
	for i := range 7 {
		if out, stderr, err := w.bash(t, `aws iam create-role --role-name "role-$I" --assume-role-policy-document "$TRUST"`,
			append(root, "I="+strconv.Itoa(i), "TRUST="+trust)...); err != nil {
			t.Fatalf("create-role: %v\n%s%s", err, out, stderr)
		}
	}
	lookup := func(t *testing.T, args string) (names []string, raw string) {
		t.Helper()
		out, stderr, err := w.bash(t, "aws cloudtrail lookup-events --output json "+args, root...)
		if err != nil {
			t.Fatalf("lookup-events %s: %v\n%s", args, err, stderr)
		}
		var resp struct {
			Events []struct {
				EventName, Username, ReadOnly, CloudTrailEvent string
				Resources                                      []struct{ ResourceType, ResourceName string }
			}
		}
		if err := json.Unmarshal([]byte(out), &resp); err != nil {
			t.Fatalf("lookup-events output %q: %v", out, err)
		}
		for _, e := range resp.Events {
			names = append(names, e.EventName)
		}
		return names, out
	}
	t.Run("by event name, across pages", func(t *testing.T) {
		// --page-size 2: the CLI follows NextToken through four pages.
		names, _ := lookup(t, "--page-size 2 --lookup-attributes AttributeKey=EventName,AttributeValue=CreateRole")
		if len(names) != 7 {
			t.Fatalf("CreateRole events: %q", names)
		}
	})
	t.Run("by user name", func(t *testing.T) {
		names, _ := lookup(t, "--lookup-attributes AttributeKey=Username,AttributeValue=root")
		if len(names) < 7 {
			t.Fatalf("root's events: %q", names)
		}
	})
	t.Run("by resource name", func(t *testing.T) {
		names, raw := lookup(t, "--lookup-attributes AttributeKey=ResourceName,AttributeValue=role-3")
		if len(names) != 1 || names[0] != "CreateRole" || !strings.Contains(raw, `"ResourceType": "AWS::IAM::Role"`) {
			t.Fatalf("role-3's events: %s", raw)
		}
		if names, _ := lookup(t, "--lookup-attributes AttributeKey=ResourceType,AttributeValue=AWS::IAM::Role"); len(names) != 7 {
			t.Fatalf("events naming a role: %q", names)
		}
	})
	t.Run("time range", func(t *testing.T) {
		names, _ := lookup(t, "--start-time 2000-01-01T00:00:00Z --end-time 2000-01-02T00:00:00Z")
		if len(names) != 0 {
			t.Fatalf("events in 2000: %q", names)
		}
	})
	t.Run("the CloudTrailEvent is the record", func(t *testing.T) {
		_, raw := lookup(t, "--max-items 1 --lookup-attributes AttributeKey=EventName,AttributeValue=CreateRole")
		if !strings.Contains(raw, `\"eventSource\":\"iam.amazonaws.com\"`) || !strings.Contains(raw, `\"roleName\":\"role-6\"`) {
			t.Fatalf("newest CreateRole event: %s", raw)
		}
	})
	for _, tc := range []struct{ name, args, want string }{
		{"two attributes", "--lookup-attributes AttributeKey=EventName,AttributeValue=CreateRole AttributeKey=Username,AttributeValue=root", "InvalidLookupAttributesException"},
		{"start after end", "--start-time 2030-01-02T00:00:00Z --end-time 2030-01-01T00:00:00Z", "InvalidTimeRangeException"},
		{"max results over 50", "--max-results 51", "InvalidMaxResultsException"},
		{"foreign next token", "--starting-token bm9wZQ", "InvalidNextTokenException"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, stderr, err := w.bash(t, "aws cloudtrail lookup-events "+tc.args, root...)
			if err == nil || !strings.Contains(stderr, tc.want) {
				t.Fatalf("err %v, stderr %q, want %s", err, stderr, tc.want)
			}
		})
	}
}

// TestAuditMovesOutOfTheDatabase: a data directory whose audit records an
// earlier version kept in the SQLite database has them moved into the
// journal at start, chain intact, and the tables emptied.
func TestAuditMovesOutOfTheDatabase(t *testing.T) {
	hermeticEnv(t)
	dir := t.TempDir()
	first := startDev(t, dir, freeAddr(t), nil)
	first.stop(t)
	if err := os.RemoveAll(filepath.Join(dir, app.AuditDirName)); err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(context.Background(), filepath.Join(dir, app.StoreFileName))
	if err != nil {
		t.Fatal(err)
	}
	old, err := audit.New(audit.Options{Store: st, Writer: "old-version"})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		ev := &audit.Event{EventSource: audit.SourceSTS, EventName: "GetCallerIdentity", ReadOnly: true,
			UserIdentity: audit.UserIdentity{Type: "Root"}, RequestID: fmt.Sprint(i)}
		if err := old.Record(context.Background(), ev); err != nil {
			t.Fatal(err)
		}
	}
	old.Close()
	st.Close()

	s := startDev(t, dir, freeAddr(t), nil)
	reports, err := audit.Verify(context.Background(), s.AuditRecords)
	if err != nil || !audit.OK(reports) {
		t.Fatalf("verify after the move: %+v, %v", reports, err)
	}
	var moved *audit.ChainReport
	for i := range reports {
		if reports[i].Writer == "old-version" {
			moved = &reports[i]
		}
	}
	if moved == nil || moved.Records != 5 {
		t.Fatalf("the old chain in the journal: %+v", reports)
	}
	if left, err := audit.StoreBackend(s.Store).Query(context.Background(), store.AuditQuery{}); err != nil || len(left) != 0 {
		t.Errorf("records left in the database: %d, %v", len(left), err)
	}
}
