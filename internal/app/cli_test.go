package app_test

// The CLI's refusals: every bad input to the admin and token commands must
// exit 1 with a message naming what was wrong, change nothing in the store,
// and never echo a secret.

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/oidcfed/oidcfed/internal/app"
	"github.com/oidcfed/oidcfed/internal/keys"
	"github.com/oidcfed/oidcfed/internal/store"
)

// testIssuerURL is the issuer admin commands act on in a fresh data
// directory (no dev.env to take it from).
const testIssuerURL = "https://ci.example.com"

// newDataDir is a data directory holding only a master key, as an operator
// would prepare one with `openssl rand -hex 32`.
func newDataDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "master.key"), []byte(randomHexKey(t)), 0o600)
	return dir
}

func randomHexKey(t *testing.T) string {
	t.Helper()
	raw := make([]byte, keys.MasterKeySize)
	if _, err := rand.Read(raw); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(raw) + "\n"
}

func masterKeyID(t *testing.T, path string) string {
	t.Helper()
	k, err := keys.LoadMasterKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return k.ID()
}

// storedRunners lists the runners in dir's store ("name" or
// "name(revoked)").
func storedRunners(t *testing.T, dir string) []string {
	t.Helper()
	l, err := app.OpenLocal(t.Context(), app.Options{DataDir: dir, MasterKeyFile: filepath.Join(dir, "master.key")})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var out []string
	err = l.Store.View(t.Context(), func(tx store.Tx) error {
		rs, err := tx.ListRunners(t.Context())
		for _, r := range rs {
			name := r.Name
			if r.RevokedAt != nil {
				name += "(revoked)"
			}
			out = append(out, name)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestRunnerCreateRejectsBadInput(t *testing.T) {
	hermeticEnv(t)
	cases := []struct {
		name string
		args []string
		want string // stderr must mention it
	}{
		{"unknown claim", []string{"--name", "r", "--allow", "colour=blue"}, `"colour" is not a claim`},
		{"missing '='", []string{"--name", "r", "--allow", "project_path"}, "want claim=glob"},
		{"empty glob", []string{"--name", "r", "--allow", "project_path="}, "want claim=glob"},
		{"empty claim", []string{"--name", "r", "--allow", "=mygroup/*"}, "want claim=glob"},
		{"iss is not constrainable", []string{"--name", "r", "--allow", "iss=https://evil.example.com"}, `"iss" is not a claim`},
		{"one bad among good", []string{"--name", "r", "--allow", "ref=main", "--allow", "exp=1"}, `"exp" is not a claim`},
		{"empty name", []string{"--name", "", "--allow", "ref=main"}, "name: must be 1 to 128"},
		{"name too long", []string{"--name", strings.Repeat("n", 129)}, "name: must be 1 to 128"},
		{"name with a newline", []string{"--name", "a\nb"}, "name: must be 1 to 128"},
		{"no name", []string{"--allow", "ref=main"}, `"name" not set`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := newDataDir(t)
			args := append([]string{"runner", "create", "--data", dir, "--issuer", testIssuerURL}, tc.args...)
			code, out, errOut := runCLI(t, args...)
			if code != 1 {
				t.Fatalf("exit %d, want 1; stdout %q stderr %q", code, out, errOut)
			}
			if !strings.Contains(errOut, tc.want) {
				t.Errorf("stderr %q does not mention %q", errOut, tc.want)
			}
			if strings.Contains(out, "ofrt_") {
				t.Errorf("a token was printed: %q", out)
			}
			if rs := storedRunners(t, dir); len(rs) != 0 {
				t.Errorf("runners stored after a refused create: %v", rs)
			}
		})
	}
}

func TestRunnerRevokeUnknown(t *testing.T) {
	hermeticEnv(t)
	dir := newDataDir(t)
	code, _, errOut := runCLI(t, "runner", "create", "--data", dir, "--issuer", testIssuerURL, "--name", "gone")
	if code != 0 {
		t.Fatalf("create: %s", errOut)
	}
	if code, _, errOut := runCLI(t, "runner", "revoke", "--data", dir, "gone"); code != 0 {
		t.Fatalf("revoke: %s", errOut)
	}
	for _, tc := range []struct{ name, arg string }{
		{"unknown name", "nobody"},
		{"unknown id", "999"},
		{"already revoked", "gone"},
		{"empty", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runCLI(t, "runner", "revoke", "--data", dir, tc.arg)
			if code != 1 {
				t.Fatalf("exit %d, want 1; stdout %q", code, out)
			}
			if !strings.Contains(errOut, "no active runner") {
				t.Errorf("stderr %q", errOut)
			}
			if rs := storedRunners(t, dir); len(rs) != 1 || rs[0] != "gone(revoked)" {
				t.Errorf("runners %v", rs)
			}
		})
	}
}

func TestIssuerExportWithoutKeys(t *testing.T) {
	hermeticEnv(t)
	dir := newDataDir(t)
	outDir := filepath.Join(t.TempDir(), "site")
	code, out, errOut := runCLI(t, "issuer", "export", "--data", dir, "--issuer", testIssuerURL, outDir)
	if code != 1 {
		t.Fatalf("exit %d, want 1; stdout %q", code, out)
	}
	for _, want := range []string{"no keys yet", "start the server once", "oidcfed issuer rotate"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr %q does not say %q", errOut, want)
		}
	}
	if _, err := os.Stat(outDir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a refused export created %s", outDir)
	}
}

func TestTokenRejectsBadTTL(t *testing.T) {
	hermeticEnv(t)
	for _, tc := range []struct{ name, ttl string }{
		{"fractional seconds", "1500ms"},
		{"under a second", "500ms"},
		{"negative", "-5s"},
		{"not a duration", "5 minutes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The endpoint is never contacted: the flag is refused first.
			code, out, errOut := runCLI(t, "token", "--aud", gitlabAud, "--project-path", "g/p", "--ref", "main",
				"--ttl", tc.ttl, "--endpoint", "http://127.0.0.1:1", "--runner-token", "ofrt_x")
			if code != 1 || out != "" {
				t.Fatalf("exit %d stdout %q, want 1 and nothing", code, out)
			}
			if !strings.Contains(errOut, "--ttl") {
				t.Errorf("stderr %q does not name --ttl", errOut)
			}
		})
	}
}

// TestTokenEndpointCredentialsNeverShown: an --endpoint with user:password@
// must not have them echoed in any error, whichever way the request fails.
func TestTokenEndpointCredentialsNeverShown(t *testing.T) {
	hermeticEnv(t)
	garbage := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("not json"))
	}))
	defer garbage.Close()
	withCreds := func(u string) string { return strings.Replace(u, "http://", "http://alice:s3cret@", 1) }
	for _, tc := range []struct {
		name, endpoint, want string
	}{
		{"unreachable", "http://alice:s3cret@127.0.0.1:1", "cannot reach oidcfed at http://127.0.0.1:1"},
		{"unexpected response", withCreds(garbage.URL), "unexpected response from " + garbage.URL},
		{"unparseable", "http://alice:s3cret@host\x7f", "--endpoint must be an http:// or https:// URL"},
		{"password with a raw slash", "http://alice:s3/cret@127.0.0.1:1", "--endpoint must be"},
		{"no scheme", "alice:s3cret@127.0.0.1:1", "--endpoint must be"},
		{"query", "http://127.0.0.1:1/?key=s3cret", "cannot reach oidcfed at http://127.0.0.1:1/"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errOut := runCLI(t, "token", "--aud", gitlabAud, "--project-path", "g/p", "--ref", "main",
				"--endpoint", tc.endpoint, "--runner-token", "ofrt_x")
			if code != 1 {
				t.Fatalf("exit %d, want 1", code)
			}
			if !strings.Contains(errOut, tc.want) {
				t.Errorf("stderr %q does not say %q", errOut, tc.want)
			}
			for _, secret := range []string{"s3cret", "s3/cret", "alice", "ofrt_x"} {
				if strings.Contains(errOut, secret) {
					t.Errorf("stderr shows %q: %q", secret, errOut)
				}
			}
		})
	}
}

// TestDevRefusesNonLoopback: dev mode's runner token may mint anything and
// travels over plain HTTP, so `serve --dev` must refuse an address other
// hosts could reach, before it creates anything.
func TestDevRefusesNonLoopback(t *testing.T) {
	hermeticEnv(t)
	for _, tc := range []struct{ name, listen string }{
		{"all interfaces", "0.0.0.0:0"},
		{"all IPv6 interfaces", "[::]:0"},
		{"empty host", ":0"},
		{"host name", "ci.example.com:0"},
		{"private address", "10.1.2.3:0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dataDir := filepath.Join(t.TempDir(), "data")
			code, out, errOut := runCLI(t, "serve", "--dev", "--listen", tc.listen, "--data", dataDir)
			if code != 1 {
				t.Fatalf("exit %d, want 1; stdout %q", code, out)
			}
			for _, want := range []string{tc.listen, "loopback", "runner token", "plain HTTP", "--config"} {
				if !strings.Contains(errOut, want) {
					t.Errorf("stderr %q does not mention %q", errOut, want)
				}
			}
			if _, err := os.Stat(dataDir); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("a refused dev start created the data directory")
			}
		})
	}
}

// TestOneServerPerDataDir: the embedded store and the dev runner belong to
// one server; a second one on the same data directory must fail at once,
// saying why, and start once the first has stopped.
func TestOneServerPerDataDir(t *testing.T) {
	hermeticEnv(t)
	dir := t.TempDir()
	s := startDev(t, dir, "127.0.0.1:0", nil)
	s2, err := app.Start(t.Context(), app.Options{Listen: "127.0.0.1:0", DataDir: dir, Dev: true})
	if err == nil {
		_ = s2.Shutdown(t.Context())
		t.Fatal("a second server started on the same data directory")
	}
	if !errors.Is(err, app.ErrDataDirLocked) || !strings.Contains(err.Error(), "another oidcfed server (or an admin rotate-master-key) is using data directory "+dir) {
		t.Fatalf("err = %v", err)
	}
	// The refused server left the running one alone.
	if res := get(t, s.URL+"/readyz"); res.Status != http.StatusOK {
		t.Fatalf("first server /readyz %d after the refused start", res.Status)
	}
	s.stop(t)
	startDev(t, dir, "127.0.0.1:0", nil).stop(t)
}

func TestReadyz(t *testing.T) {
	hermeticEnv(t)
	s := startDev(t, t.TempDir(), "127.0.0.1:0", nil)
	res := get(t, s.URL+"/readyz")
	if res.Status != http.StatusOK || strings.TrimSpace(string(res.Body)) != `{"status":"ready","checks":{"issuer":"ok","store":"ok"}}` {
		t.Fatalf("/readyz %d %s", res.Status, res.Body)
	}
}

// TestAdminRefusesWrongMasterKey: an admin command with a master key that
// does not seal the store's signing keys must refuse, naming both key ids,
// before `issuer rotate` could seal a new key under the wrong master key.
func TestAdminRefusesWrongMasterKey(t *testing.T) {
	hermeticEnv(t)
	dir := t.TempDir()
	startDev(t, dir, "127.0.0.1:0", nil).stop(t)
	before := keyList(t, dir, filepath.Join(dir, "master.key"))
	wrong := filepath.Join(t.TempDir(), "wrong.key")
	writeFile(t, wrong, []byte(randomHexKey(t)), 0o600)
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"issuer rotate", []string{"issuer", "rotate"}},
		{"issuer keys", []string{"issuer", "keys"}},
		{"runner create", []string{"runner", "create", "--name", "x"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errOut := runCLI(t, append(tc.args, "--data", dir, "--master-key-file", wrong)...)
			if code != 1 {
				t.Fatalf("exit %d, want 1", code)
			}
			for _, id := range []string{masterKeyID(t, wrong), masterKeyID(t, filepath.Join(dir, "master.key"))} {
				if !strings.Contains(errOut, id) {
					t.Errorf("stderr %q does not name master key %s", errOut, id)
				}
			}
		})
	}
	if after := keyList(t, dir, filepath.Join(dir, "master.key")); after != before {
		t.Errorf("signing keys changed:\n%s\n%s", before, after)
	}
}

func keyList(t *testing.T, dir, key string) string {
	t.Helper()
	code, out, errOut := runCLI(t, "issuer", "keys", "--data", dir, "--master-key-file", key)
	if code != 0 {
		t.Fatalf("issuer keys: %s", errOut)
	}
	return out
}

// rotatedDir is a dev data directory whose server has run once and
// stopped: a store with a signing key sealed under master.key.
func rotatedDir(t *testing.T) (dir, keyPath string) {
	t.Helper()
	dir = t.TempDir()
	startDev(t, dir, "127.0.0.1:0", nil).stop(t)
	return dir, filepath.Join(dir, "master.key")
}

func TestRotateMasterKeyRefusals(t *testing.T) {
	hermeticEnv(t)
	for _, tc := range []struct {
		name string
		// setup prepares dir and returns extra arguments and what stderr
		// must mention ("$OLD" and "$NEW" stand for key ids).
		setup func(t *testing.T, dir, keyPath string) (args []string, want []string)
		// keepNew: a leftover keyPath.new must still be there afterwards.
		keepNew bool
	}{
		{"same key", func(t *testing.T, dir, keyPath string) ([]string, []string) {
			same := filepath.Join(t.TempDir(), "same.key")
			writeFile(t, same, readFile(t, keyPath), 0o600)
			return []string{"--new-master-key-file", same}, []string{"is the current one", "$OLD"}
		}, false},
		{"new key file readable by others", func(t *testing.T, dir, keyPath string) ([]string, []string) {
			loose := filepath.Join(t.TempDir(), "loose.key")
			writeFile(t, loose, []byte(randomHexKey(t)), 0o644)
			return []string{"--new-master-key-file", loose}, []string{"readable by group or others", "chmod 600 " + loose}
		}, false},
		{"new key file of text", func(t *testing.T, dir, keyPath string) ([]string, []string) {
			text := filepath.Join(t.TempDir(), "text.key")
			writeFile(t, text, []byte(strings.Repeat("p", 31)+"\n"), 0o600)
			return []string{"--new-master-key-file", text}, []string{"use 64 hex characters", "32 random bytes"}
		}, false},
		{"server running", func(t *testing.T, dir, keyPath string) ([]string, []string) {
			startDev(t, dir, "127.0.0.1:0", nil) // stopped at the end of the test
			return nil, []string{"stop the server first", filepath.Join(dir, app.LockFileName)}
		}, false},
		{"leftover .new the store is not sealed under", func(t *testing.T, dir, keyPath string) ([]string, []string) {
			writeFile(t, keyPath+".new", []byte(randomHexKey(t)), 0o600)
			return nil, []string{"interrupted rotation", "$OLD", "$NEW", "remove " + keyPath + ".new"}
		}, true},
		{"leftover .new that is malformed", func(t *testing.T, dir, keyPath string) ([]string, []string) {
			writeFile(t, keyPath+".new", []byte("0123"), 0o600)
			return nil, []string{"interrupted rotation", "cannot be used", "$OLD", "remove " + keyPath + ".new"}
		}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, keyPath := rotatedDir(t)
			oldKey := readFile(t, keyPath)
			oldID := masterKeyID(t, keyPath)
			keysBefore := keyList(t, dir, keyPath)
			args, want := tc.setup(t, dir, keyPath)
			newID := ""
			if tc.keepNew {
				if k, err := keys.LoadMasterKeyFile(keyPath + ".new"); err == nil {
					newID = k.ID()
				}
			}
			code, out, errOut := runCLI(t, append([]string{"admin", "rotate-master-key", "--data", dir}, args...)...)
			if code != 1 {
				t.Fatalf("exit %d, want 1; stdout %q stderr %q", code, out, errOut)
			}
			for _, w := range want {
				w = strings.NewReplacer("$OLD", oldID, "$NEW", newID).Replace(w)
				if !strings.Contains(errOut, w) {
					t.Errorf("stderr %q does not mention %q", errOut, w)
				}
			}
			if !bytes.Equal(readFile(t, keyPath), oldKey) {
				t.Error("the key file changed")
			}
			if _, err := os.Stat(keyPath + ".new"); errors.Is(err, os.ErrNotExist) == tc.keepNew {
				t.Errorf("%s.new: stat %v, want it kept: %v", keyPath, err, tc.keepNew)
			}
			if tc.name == "server running" {
				return // the store is the running server's; it reads it fine
			}
			// Still sealed under the old key: it opens the signing keys.
			if got := keyList(t, dir, keyPath); got != keysBefore {
				t.Errorf("signing keys changed:\n%s\n%s", keysBefore, got)
			}
		})
	}
}

// TestRotateMasterKeyFinishesInterruptedRotation: a rotation that committed
// the re-sealed store but died before renaming <key>.new over the key file
// is finished by running the command again.
func TestRotateMasterKeyFinishesInterruptedRotation(t *testing.T) {
	hermeticEnv(t)
	dir, keyPath := rotatedDir(t)
	listen := freeAddr(t)
	s := startDev(t, dir, listen, nil)
	jwt1, _ := mintJSON(t, s.URL, s.Token, basicRequest(gitlabAud))
	s.stop(t)

	// Re-seal under a key kept elsewhere, then put that key where an
	// interrupted generated rotation leaves it.
	next := filepath.Join(t.TempDir(), "next.key")
	writeFile(t, next, []byte(randomHexKey(t)), 0o600)
	if code, _, errOut := runCLI(t, "admin", "rotate-master-key", "--data", dir, "--new-master-key-file", next); code != 0 {
		t.Fatalf("rotate to %s: %s", next, errOut)
	}
	writeFile(t, keyPath+".new", readFile(t, next), 0o600)
	oldID, newID := masterKeyID(t, keyPath), masterKeyID(t, next)

	code, out, errOut := runCLI(t, "admin", "rotate-master-key", "--data", dir)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	m := regexp.MustCompile(`finished an interrupted rotation: ([0-9]+) secrets were already sealed under master key ` + newID).FindStringSubmatch(out)
	if m == nil || m[1] == "0" || !strings.Contains(out, oldID+" -> "+newID) {
		t.Fatalf("stdout %q", out)
	}
	if !bytes.Equal(readFile(t, keyPath), readFile(t, next)) {
		t.Fatal("the key file does not hold the new key")
	}
	if _, err := os.Stat(keyPath + ".new"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s.new left behind", keyPath)
	}
	s = startDev(t, dir, listen, nil)
	jwt2, _ := mintJSON(t, s.URL, s.Token, basicRequest(gitlabAud))
	if jwtHeader(t, jwt2)["kid"] != jwtHeader(t, jwt1)["kid"] {
		t.Error("the signing key changed")
	}
}
