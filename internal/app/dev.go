package app

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/oidcfed/oidcfed/internal/iam"
	"github.com/oidcfed/oidcfed/internal/issuer"
	"github.com/oidcfed/oidcfed/internal/keys"
	"github.com/oidcfed/oidcfed/internal/kms"
	"github.com/oidcfed/oidcfed/internal/store"
)

// DevRunnerName is the runner dev mode creates for itself.
const DevRunnerName = "dev"

// devSetup makes sure a usable runner token exists and writes dev.env. The
// token is kept across restarts in dev.env (mode 0600), the only place it
// exists in clear; the store keeps its hash. A token dev.env lacks is
// derived from the master key (see devRunnerToken), so dev replicas that
// share a database and a master key, each with a data directory of its
// own, all write the same token.
func (s *Server) devSetup(ctx context.Context, o Options) error {
	envPath := filepath.Join(o.DataDir, DevEnvFileName)
	prev := ReadEnvFile(envPath)
	token := prev["OIDCFED_RUNNER_TOKEN"]
	if token != "" {
		valid, err := devTokenValid(ctx, s.Issuer.Authenticate, token)
		if err != nil {
			return err
		}
		if !valid {
			token = "" // revoked or from another store: make a new one
		}
	}
	if token == "" {
		var err error
		if token, err = s.devRunnerToken(ctx); err != nil {
			return fmt.Errorf("create dev runner: %w", err)
		}
	}
	akid, secret, err := s.ensureRootAccessKey(ctx, prev["AWS_ACCESS_KEY_ID"], prev["AWS_SECRET_ACCESS_KEY"])
	if err != nil {
		return err
	}
	lines := []string{
		"# Written by `oidcfed serve --dev`. Load it with: source " + envPath,
		"export OIDCFED_ENDPOINT=" + shellQuote(s.URL),
		"export OIDCFED_ISSUER=" + shellQuote(s.Issuer.Config().URL),
		"export OIDCFED_RUNNER_TOKEN=" + shellQuote(token),
		// The same server answers STS: one endpoint for every AWS client.
		"export AWS_ENDPOINT_URL=" + shellQuote(s.URL),
		// AWS_REGION for the SDKs, AWS_DEFAULT_REGION for aws CLI v1 and
		// botocore (which read only that one).
		"export AWS_REGION=" + shellQuote(s.IAM.Region()),
		"export AWS_DEFAULT_REGION=" + shellQuote(s.IAM.Region()),
		// The account root user's long-term key (sealed in the store).
		"export AWS_ACCESS_KEY_ID=" + shellQuote(akid),
		"export AWS_SECRET_ACCESS_KEY=" + shellQuote(secret),
		"export OIDCFED_DEPLOY_ROLE_ARN=" + shellQuote(iam.RoleARN(s.IAM.Account(), "/", DevDeployRole)),
		"export OIDCFED_CI_ROLE_ARN=" + shellQuote(iam.RoleARN(s.IAM.Account(), "/", DevCIRole)),
		"export OIDCFED_SIGN_ROLE_ARN=" + shellQuote(iam.RoleARN(s.IAM.Account(), "/", DevSignRole)),
		"export OIDCFED_VERIFY_ROLE_ARN=" + shellQuote(iam.RoleARN(s.IAM.Account(), "/", DevVerifyRole)),
		// cosign's key reference for the dev signing key.
		"export OIDCFED_KMS_KEY=" + shellQuote("awskms:///"+DevSigningAlias),
		// The ECR registry's host, as docker, crane and cosign name it.
		"export OIDCFED_REGISTRY=" + shellQuote(s.registryHost),
	}
	if o.StoreURL != "" {
		// The CLI's admin commands (runner, issuer, audit) then reach the
		// same database. dev.env (mode 0600) already holds secrets.
		lines = append(lines, "export OIDCFED_STORE="+shellQuote(o.StoreURL))
	}
	if o.MasterKeyFile != "" {
		if abs, err := filepath.Abs(o.MasterKeyFile); err == nil {
			lines = append(lines, "export OIDCFED_MASTER_KEY_FILE="+shellQuote(abs))
		}
	}
	if dir := binDir(); dir != "" {
		lines = append(lines, `export PATH=`+shellQuote(dir)+`:"$PATH"`)
	}
	if err := writeFileAtomic(envPath, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		return fmt.Errorf("write %s: %w", envPath, err)
	}
	if o.Out != nil {
		printQuickStart(o.Out, s.URL, s.Issuer.Config().URL, envPath)
	}
	return nil
}

// devRunnerToken returns the dev runner's token: the first of the tokens
// derived from the master key (ofrt_ + HKDF "oidcfed/dev/runner-token/N")
// that is not revoked, creating its runner when no runner has it yet. One
// SERIALIZABLE transaction: replicas starting together create one runner,
// and the losers find it. An active dev runner with another token (a
// random one whose dev.env was lost) is revoked to free the name.
func (s *Server) devRunnerToken(ctx context.Context) (string, error) {
	const maxDevRunners = 10000
	var token string
	err := s.Store.Update(ctx, func(tx store.Tx) error {
		for n := 1; n <= maxDevRunners; n++ {
			token = issuer.RunnerTokenPrefix + base64.RawURLEncoding.EncodeToString(s.sealer.DeriveKey(fmt.Sprintf("oidcfed/dev/runner-token/%d", n)))
			r, err := tx.GetRunnerByTokenHash(ctx, issuer.HashRunnerToken(token))
			switch {
			case err == nil && r.RevokedAt == nil:
				return nil // a replica (or an earlier start) made it
			case err == nil:
				continue // revoked: the next one
			case !errors.Is(err, store.ErrNotFound):
				return err
			}
			rs, err := tx.ListRunners(ctx)
			if err != nil {
				return err
			}
			for _, r := range rs {
				if r.Name == DevRunnerName && r.RevokedAt == nil {
					if err := tx.RevokeRunner(ctx, r.ID, s.Issuer.Now()); err != nil {
						return err
					}
				}
			}
			return tx.CreateRunner(ctx, &store.Runner{Name: DevRunnerName, TokenHash: issuer.HashRunnerToken(token), CreatedAt: s.Issuer.Now().UTC()})
		}
		return fmt.Errorf("all %d dev runner tokens are revoked", maxDevRunners)
	})
	return token, err
}

// devTokenValid reports whether dev.env's runner token still authenticates.
// Only issuer.ErrUnauthorized (revoked, or minted by a store since deleted)
// means it should be replaced: replacing revokes the dev runner and changes
// the token every shell that sourced dev.env uses, so a passing store
// failure must stop the start instead. The error never carries the token.
func devTokenValid(ctx context.Context, authenticate func(context.Context, string) (*store.Runner, error), token string) (bool, error) {
	_, err := authenticate(ctx, token)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, issuer.ErrUnauthorized):
		return false, nil
	default:
		return false, fmt.Errorf("check the dev runner token from %s: %w", DevEnvFileName, err)
	}
}

func printQuickStart(w io.Writer, endpoint, issuerURL, envPath string) {
	fmt.Fprintf(w, `
oidcfed dev server on %s (issuer %s)

In another shell:
  source %s
  TOKEN=$(oidcfed token --aud "$OIDCFED_ISSUER" --project-path mygroup/myproject --ref main)
  aws sts assume-role-with-web-identity --role-arn "$OIDCFED_DEPLOY_ROLE_ARN" \
      --role-session-name dev --web-identity-token "$TOKEN"

Discovery: %s/.well-known/openid-configuration
JWKS:      %s/oauth/discovery/keys
Ctrl-C stops the server; state is kept in %s.

`, endpoint, issuerURL, envPath, issuerURL, issuerURL, filepath.Dir(envPath))
}

// binDir is the directory of the running binary when it is worth putting on
// PATH: not a `go run` build in a temporary directory.
func binDir() string {
	exe, err := os.Executable()
	if err != nil {
		return ""
	}
	exe, err = filepath.EvalSymlinks(exe)
	if err != nil {
		return ""
	}
	dir := filepath.Dir(exe)
	// `go run` and `go test` binaries live in a go-build directory that is
	// deleted when they exit.
	if strings.Contains(dir, string(filepath.Separator)+"go-build") {
		return ""
	}
	return dir
}

// ReadEnvFile parses the `export K=V` lines of a dev.env file (values as
// shellQuote writes them). A missing or unreadable file yields an empty map.
func ReadEnvFile(path string) map[string]string {
	out := map[string]string{}
	f, err := os.Open(path)
	if err != nil {
		return out
	}
	defer f.Close()
	sc := bufio.NewScanner(io.LimitReader(f, 64<<10))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		k, v, ok := strings.Cut(strings.TrimPrefix(line, "export "), "=")
		if !ok || strings.HasPrefix(line, "#") {
			continue
		}
		if len(v) >= 2 && v[0] == '\'' && v[len(v)-1] == '\'' {
			v = strings.ReplaceAll(v[1:len(v)-1], `'\''`, `'`)
		}
		out[k] = v
	}
	return out
}

func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// writeFileAtomic writes via a temporary file and rename, so a reader never
// sees a half-written file and the mode is right from the first byte.
func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := errors.Join(tmp.Sync(), tmp.Close()); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// devSigningKeyID is the dev KMS key's id: derived from the master key,
// so the dev roles' policies can name the key's ARN before it exists and
// it stays the same across restarts.
func devSigningKeyID(sealer *keys.Sealer) string {
	b := sealer.DeriveKey("oidcfed/dev/kms-signing-key-id")[:16]
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// ensureDevSigningKey creates the dev signing key and its alias when
// missing.
func ensureDevSigningKey(ctx context.Context, svc *kms.Service, id string) error {
	r, err := svc.Resolve(ctx, id)
	var ke *kms.Error
	if errors.As(err, &ke) && ke.Code == kms.CodeNotFound {
		// Dev replicas sharing a database race to create it (its id is
		// derived from the shared master key): the loser finds the
		// winner's key.
		_, createErr := svc.CreateKey(ctx, kms.CreateKeyInput{ID: id, KeySpec: "ECC_NIST_P256", KeyUsage: kms.UsageSignVerify,
			Description: "oidcfed dev mode's CI signing key"})
		if r, err = svc.Resolve(ctx, id); err != nil {
			return fmt.Errorf("dev signing key: %w", errors.Join(createErr, err))
		}
	} else if err != nil {
		return err
	}
	if _, err := svc.Resolve(ctx, DevSigningAlias); err == nil {
		return nil
	}
	if err := svc.CreateAlias(ctx, DevSigningAlias, r); err != nil {
		if _, again := svc.Resolve(ctx, DevSigningAlias); again == nil {
			return nil // another replica created it meanwhile
		}
		return fmt.Errorf("dev signing key alias: %w", err)
	}
	return nil
}
