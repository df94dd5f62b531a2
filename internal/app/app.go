// Package app wires oidcfed together: store, key custody, services and the
// HTTP server. It is the only package that imports all the others; the CLI
// calls into it with typed Options.
package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/oidcfed/oidcfed/internal/audit"
	"github.com/oidcfed/oidcfed/internal/audit/cloudtrail"
	ecrapi "github.com/oidcfed/oidcfed/internal/ecr/api"
	"github.com/oidcfed/oidcfed/internal/httpx"
	"github.com/oidcfed/oidcfed/internal/iam"
	"github.com/oidcfed/oidcfed/internal/issuer"
	"github.com/oidcfed/oidcfed/internal/keys"
	kmsapi "github.com/oidcfed/oidcfed/internal/kms/api"
	"github.com/oidcfed/oidcfed/internal/store"
	"github.com/oidcfed/oidcfed/internal/sts"
)

// Options configure a server or a local admin session.
type Options struct {
	// Listen is host:port; port 0 picks a free one (tests).
	Listen string
	// DataDir holds the embedded store (and, in dev mode, the master key
	// and dev.env).
	DataDir string
	// StoreURL, a postgres:// URL, puts the store in PostgreSQL, shared
	// with other replicas, instead of the SQLite file in DataDir (which a
	// server then uses only in dev mode, for dev.env and the master key).
	StoreURL string
	// StorePasswordFile holds the PostgreSQL password (optional).
	StorePasswordFile string
	// StoreMaxConns caps the PostgreSQL pool (0: the default, 10).
	StoreMaxConns int
	// MasterKeyFile is required outside dev mode.
	MasterKeyFile string
	// Dev creates what is missing (master key, runner token) and derives
	// the issuer URL from the listen address.
	Dev bool
	// TuneMemory runs GOGC=400 with a soft memory limit that follows the
	// live heap (see tuneMemory); serve sets it when the operator sets
	// neither GOGC nor GOMEMLIMIT.
	TuneMemory bool
	// SpareProcForSync adds one to GOMAXPROCS while the audit journal is
	// on (see spareProcForSync); serve sets it when the operator does not
	// set GOMAXPROCS.
	SpareProcForSync bool
	// NoDemo, with Dev, leaves out the demo OIDC provider and roles: IAM
	// starts empty, to be set up through the IAM API.
	NoDemo bool
	// Issuer is the issuer's configuration; URL may be empty in dev mode.
	Issuer issuer.Config
	// Logger receives JSON logs; nil means discard.
	Logger *slog.Logger
	// Out receives the dev quick start text; nil means discard.
	Out io.Writer
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Version is reported by /healthz.
	Version string

	// AccountID and Region are the AWS-compatible account and region
	// (default 000000000000 and us-east-1).
	AccountID, Region string
	// OIDCProviders and Roles are config-declared IAM entities.
	OIDCProviders []iam.OIDCProvider
	Roles         []iam.Role
	// SessionKeyGeneration is the STS session-key generation (default 1);
	// the previous one still opens tokens.
	SessionKeyGeneration int
	// EncodedAuthorizationMessages turns on encoded authorization messages
	// in AccessDenied answers (config sts.encoded_authorization_messages).
	EncodedAuthorizationMessages bool
	// LintOnWrite is off, warn or deny (config iam.lint_on_write); ""
	// is off, or warn in dev mode (recorded only: clients see nothing).
	LintOnWrite string
	// LintFailOn is the least severity deny refuses (default high).
	LintFailOn string

	// RegistryURL is the ECR registry's URL as clients reach it (the
	// proxyEndpoint, e.g. a TLS front end's); "" is the issuer URL's
	// scheme and host.
	RegistryURL string
	// RegistryMaxBlobSize bounds one pushed blob; 0 is ecr's default.
	RegistryMaxBlobSize int64

	// NoAudit runs without the audit log (measurement only).
	NoAudit bool
	// AuditFile, when set, is a JSON Lines sink every event is also
	// written to ("-": standard output).
	AuditFile string
	// AuditRetention is how long events stay in the store; 0 keeps all.
	AuditRetention time.Duration
}

// StoreFileName is the embedded store's file inside the data directory.
const StoreFileName = "oidcfed.db"

// DevEnvFileName is the dev mode's shell environment file.
const DevEnvFileName = "dev.env"

// Local is what admin commands need: the store, the sealer and an issuer
// bound to them, without an HTTP server.
type Local struct {
	Store  store.Store
	Sealer *keys.Sealer
	Issuer *issuer.Issuer
}

// Close releases the store.
func (l *Local) Close() error { return l.Store.Close() }

// masterKeyPath resolves the master key file: explicit, or in dev mode the
// data directory's master.key.
func (o *Options) masterKeyPath() (string, error) {
	if o.MasterKeyFile != "" {
		return o.MasterKeyFile, nil
	}
	if o.Dev {
		return filepath.Join(o.DataDir, "master.key"), nil
	}
	return "", errors.New("no master key: pass --master-key-file, set OIDCFED_MASTER_KEY_FILE or master_key_file in the config (a 32-byte key, mode 0600; create one with: openssl rand -hex 32 > master.key && chmod 600 master.key)")
}

// loadMasterKey loads (or, in dev mode, creates) the master key.
func (o *Options) loadMasterKey() (*keys.MasterKey, error) {
	path, err := o.masterKeyPath()
	if err != nil {
		return nil, err
	}
	mk, err := keys.LoadMasterKeyFile(path)
	if !errors.Is(err, keys.ErrMasterKeyMissing) || !o.Dev {
		return mk, err
	}
	// Dev mode creates the key, also where --master-key-file points:
	// the first of several dev replicas sharing a database and a key file
	// bootstraps it. A replica that loses the race to create it reads the
	// winner's: CreateMasterKeyFile links the file into place only once it
	// is written and synced, so no replica ever reads it half-written.
	mk, err = keys.CreateMasterKeyFile(path)
	if !errors.Is(err, fs.ErrExist) {
		return mk, err
	}
	return keys.LoadMasterKeyFile(path)
}

// openSealed is how both a server and an admin session begin: load the
// master key, then open the store. The key comes first so a refused key
// leaves no data directory behind. With lock, the data directory's lock is
// taken before the store is opened, so a second server fails without
// touching the database; the caller releases it. A server on PostgreSQL
// uses a data directory only in dev mode (for dev.env): several replicas
// share the database, each with its own directory if any.
func (o *Options) openSealed(ctx context.Context, lock bool) (*keys.Sealer, store.Store, *DataDirLock, error) {
	mk, err := o.loadMasterKey()
	if err != nil {
		return nil, nil, nil, err
	}
	var lk *DataDirLock
	if o.StoreURL == "" || o.Dev {
		if o.DataDir == "" {
			return nil, nil, nil, errors.New("no data directory: pass --data or set data_dir in the config")
		}
		if err := os.MkdirAll(o.DataDir, 0o700); err != nil {
			return nil, nil, nil, fmt.Errorf("create data directory: %w", err)
		}
		if lock {
			if lk, err = LockDataDir(o.DataDir); err != nil {
				if errors.Is(err, ErrDataDirLocked) {
					return nil, nil, nil, fmt.Errorf("another oidcfed server (or an admin rotate-master-key) is using data directory %s; stop it, or give this server its own --data: %w", o.DataDir, err)
				}
				return nil, nil, nil, err
			}
		}
	}
	st, err := o.openStore(ctx)
	if err != nil {
		return nil, nil, nil, errors.Join(err, lk.Unlock())
	}
	return keys.NewSealer(mk), st, lk, nil
}

// OpenLocal opens the store and key custody for an admin command. The
// issuer is set up only when Options.Issuer.URL is known. It does not take
// the data directory's lock: admin commands are meant to run next to a
// server (which picks up their changes).
func OpenLocal(ctx context.Context, o Options) (*Local, error) {
	sealer, st, _, err := o.openSealed(ctx, false)
	if err != nil {
		return nil, err
	}
	l := &Local{Store: st, Sealer: sealer}
	if o.Issuer.URL != "" {
		l.Issuer, err = issuer.New(o.Issuer, st, l.Sealer, o.Now, o.logger(), nil)
		if err == nil {
			// `issuer rotate` with the wrong key would seal the new
			// signing key under it.
			err = checkMasterKey(ctx, st, sealer, l.Issuer.Config().URL)
		}
		if err != nil {
			st.Close()
			return nil, err
		}
	}
	return l, nil
}

func (o *Options) logger() *slog.Logger {
	if o.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return o.Logger
}

// ErrDevListenNotLoopback: dev mode was asked to listen where other hosts
// can reach it.
var ErrDevListenNotLoopback = errors.New("dev mode listens on loopback only")

// checkDevListen refuses a dev server address other hosts could reach: dev
// mode writes a runner token without constraints (it may mint any claims)
// and serves the minting API over plain HTTP, which is only acceptable when
// nothing but this machine can connect. Host names other than localhost are
// refused because they may resolve to anything.
func checkDevListen(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err == nil {
		if strings.EqualFold(host, "localhost") {
			return nil
		}
		if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
			return nil
		}
	}
	return fmt.Errorf("%w: refusing to listen on %q: dev mode serves a runner token that may mint any claims, over plain HTTP, so it listens only on 127.0.0.0/8, ::1 or localhost (e.g. --listen 127.0.0.1:8080); use `oidcfed serve --config FILE` for a server other hosts can reach",
		ErrDevListenNotLoopback, addr)
}

// Server is a running oidcfed HTTP server.
type Server struct {
	URL string // base URL clients use
	// registryHost is the ECR registry's host[:port] as clients name it.
	registryHost string
	Issuer       *issuer.Issuer
	IAM          iam.Directory
	sealer       *keys.Sealer
	Store        store.Store
	// AuditRecords is where the audit log keeps its records (the journal
	// in the data directory, or the PostgreSQL store).
	AuditRecords audit.Backend
	listener     net.Listener
	http         *http.Server
	log          *slog.Logger
	cancel       context.CancelFunc
	lock         *DataDirLock
	// closeAudit commits what the audit log holds and closes its file.
	closeAudit func()
	// waitIssuer blocks until the issuer's maintenance loop (Issuer.Wait;
	// a test observes the shutdown order through it) and the watch for
	// other replicas' changes have stopped.
	waitIssuer func()
	// serveErr receives http.Server.Serve's error if it stops by itself
	// (not through Shutdown); buffered, so the serving goroutine never
	// blocks on a Run that is not listening.
	serveErr chan error
}

// Start opens everything and starts serving in the background. Stop with
// Shutdown. The data directory stays locked (LockFileName) until then, so
// a second server on it fails to start.
func Start(ctx context.Context, o Options) (*Server, error) {
	if o.Dev {
		if err := checkDevListen(o.Listen); err != nil {
			return nil, err
		}
	}
	log := o.logger()
	sealer, st, lock, err := o.openSealed(ctx, true)
	if err != nil {
		return nil, err
	}
	// undo holds what to release if the start fails, last first.
	undo := []func(){func() { _ = lock.Unlock() }, func() { _ = st.Close() }}
	fail := func(err error) (*Server, error) {
		for i := len(undo) - 1; i >= 0; i-- {
			undo[i]()
		}
		return nil, err
	}
	ln, err := net.Listen("tcp", o.Listen)
	if err != nil {
		return fail(fmt.Errorf("listen on %s: %w", o.Listen, err))
	}
	undo = append(undo, func() { _ = ln.Close() })
	base := "http://" + ln.Addr().String()
	icfg := o.Issuer
	if icfg.URL == "" {
		if !o.Dev {
			return fail(errors.New("no issuer URL: set issuer.url in the config (or use --dev)"))
		}
		icfg.URL = base
	}
	issuerURL, err := url.Parse(icfg.URL)
	if err != nil {
		return fail(fmt.Errorf("issuer URL: %w", err))
	}
	devKeyID := devSigningKeyID(sealer)
	directory, err := buildDirectory(&o, icfg.URL, "arn:aws:kms:"+o.region()+":"+o.account()+":key/"+devKeyID)
	if err != nil {
		return fail(err)
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	// A store other servers share tells of their changes; this server then
	// caches what its requests read (see replicas.go).
	notifier, shared := st.(store.Notifier)
	st = newCountingStore(st, reg)
	iss, err := issuer.New(icfg, st, sealer, o.Now, log, issuer.NewMetrics(reg))
	if err != nil {
		return fail(err)
	}
	if err := checkMasterKey(ctx, st, sealer, iss.Config().URL); err != nil {
		return fail(err)
	}
	runCtx, cancel := context.WithCancel(context.Background())
	// Stop the maintenance loop and wait for it before the store closes
	// (Start closes Wait's channel itself when it fails).
	undo = append(undo, func() { cancel(); iss.Wait() })
	if err := iss.Start(runCtx); err != nil {
		return fail(fmt.Errorf("start issuer: %w", err))
	}
	// The issuer keeps running with a key it cannot use (it must go on
	// publishing it); at start, that is a configuration error to report,
	// not a server to bring up unable to sign.
	if err := iss.Ready(); err != nil {
		return fail(fmt.Errorf("start issuer: %w", err))
	}

	auditLog, auditRecords, closeAudit, err := startAudit(ctx, o, st, log)
	if err != nil {
		return fail(err)
	}
	undo = append(undo, closeAudit)
	var recorder audit.Recorder // a nil *audit.Log must stay a nil interface
	if auditLog != nil {
		recorder = auditLog
		iss.RecordTo(recorder)
		if o.AuditRetention > 0 {
			go pruneAudit(runCtx, auditRecords, o.AuditRetention, o.clock(), log)
		}
	}
	handlers, err := newSTS(ctx, o, issuerURL.Scheme+"://"+issuerURL.Host, directory, st, sealer, log, recorder, auditRecords, shared)
	if err != nil {
		return fail(err)
	}
	watching := make(chan struct{})
	if shared {
		iss.CacheRunners()
		go func() {
			defer close(watching)
			watchChanges(runCtx, notifier, replicaCaches{handlers: handlers, issuer: iss, changes: newChangesCounter(reg)}, log)
		}()
	} else {
		close(watching)
	}
	mux := http.NewServeMux()
	iss.Routes(mux, issuerURL.Path)
	// STS (and later IAM and KMS) answer at the root, as AWS endpoints do:
	// one AWS_ENDPOINT_URL serves every client.
	router := &awsRouter{query: map[string]http.Handler{"sts": handlers.sts, "iam": handlers.iam},
		json: map[string]http.Handler{cloudtrail.TargetPrefix: handlers.cloudTrail, kmsapi.TargetPrefix: handlers.kms, ecrapi.TargetPrefix: handlers.ecr.api}}
	mux.Handle("POST /{$}", router)
	mux.Handle("GET /{$}", router)
	mux.Handle("POST "+sts.ExplainPath, handlers.explain)
	// The ECR registry (OCI distribution API), on the same listener.
	mux.Handle("/v2/", handlers.ecr.registry)
	go collectRegistryGarbage(runCtx, handlers.ecr.service, o.clock(), log)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, "{\"status\":\"ok\",\"version\":%q}\n", o.Version)
	})
	mux.Handle("GET /readyz", readyHandler(log, []readyCheck{
		{name: "store", failed: "unreachable", check: st.Ping},
		{name: "issuer", failed: "not ready", check: func(context.Context) error { return iss.Ready() }},
	}))
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))

	srv := &http.Server{
		Handler:           httpx.Wrap(mux, log, httpx.NewMetrics(reg)),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    32 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	s := &Server{URL: base, registryHost: handlers.ecr.service.RegistryHost(), Issuer: iss, IAM: directory, sealer: sealer, Store: st, AuditRecords: auditRecords, listener: ln, http: srv, log: log, cancel: cancel, lock: lock, closeAudit: closeAudit,
		waitIssuer: func() { iss.Wait(); <-watching }, serveErr: make(chan error, 1)}
	if o.Dev {
		if !o.NoDemo {
			if err := ensureDevSigningKey(runCtx, handlers.kmsService, devKeyID); err != nil {
				return fail(err)
			}
		}
		if err := s.devSetup(runCtx, o); err != nil {
			return fail(err)
		}
	}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.serveErr <- err
		}
	}()
	log.Info("oidcfed serving", "url", base, "issuer", icfg.URL, "store", o.describeStore(), "dev", o.Dev)
	return s, nil
}

// ErrWrongMasterKey: the store's signing keys are sealed under another
// master key than the one loaded.
var ErrWrongMasterKey = errors.New("the store's signing keys are sealed under another master key")

// checkMasterKey refuses a master key that does not seal the issuer's
// signing keys, before the issuer runs: with the wrong key it could not sign,
// and a rotation falling due would seal a new key under the wrong master key,
// leaving the store split between two. The message names both key ids so the
// operator can find the right key file (the ids reveal nothing of the keys).
func checkMasterKey(ctx context.Context, st store.Store, sealer *keys.Sealer, issuerURL string) error {
	var ks []store.SigningKey
	if err := st.View(ctx, func(tx store.Tx) (err error) {
		ks, err = tx.ListSigningKeys(ctx, issuerURL)
		return err
	}); err != nil {
		return fmt.Errorf("read signing keys: %w", err)
	}
	for _, k := range ks {
		if id, ok := keys.SealedKeyID(k.SealedPrivateKey); ok && id != sealer.KeyID() {
			return fmt.Errorf("%w: signing key %s is sealed under master key %s, but the loaded master key is %s", ErrWrongMasterKey, k.KID, id, sealer.KeyID())
		}
	}
	return nil
}

// readyCheck is one dependency /readyz reports on.
type readyCheck struct {
	name   string // key in "checks"
	failed string // the value shown when it fails; the cause is only logged
	check  func(context.Context) error
}

// readyHandler answers 200 when every check passes and 503 otherwise. The
// body names each check's state but never its error: causes (file paths,
// database messages) are for the log, not for whoever can reach /readyz.
func readyHandler(log *slog.Logger, checks []readyCheck) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		body := struct {
			Status string            `json:"status"`
			Checks map[string]string `json:"checks"`
		}{Status: "ready", Checks: map[string]string{}}
		for _, c := range checks {
			if err := c.check(ctx); err != nil {
				log.WarnContext(r.Context(), "readiness check failed", "check", c.name, "err", err)
				body.Status, body.Checks[c.name] = "unavailable", c.failed
				continue
			}
			body.Checks[c.name] = "ok"
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		if body.Status != "ready" {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		_ = json.NewEncoder(w).Encode(body)
	})
}

// Shutdown stops accepting requests, lets in-flight ones finish (up to
// ctx's deadline), stops the issuer's background work and waits for it (up
// to the same deadline), then closes the store and releases the data
// directory. Call it once.
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.http.Shutdown(ctx)
	s.cancel()
	// The maintenance loop may be inside a store transaction; closing the
	// store under it would turn its last run into spurious errors.
	stopped := make(chan struct{})
	go func() { s.waitIssuer(); close(stopped) }()
	select {
	case <-stopped:
	case <-ctx.Done():
		err = errors.Join(err, fmt.Errorf("issuer maintenance did not stop: %w", ctx.Err()))
	}
	// Requests are done: what they recorded is committed, then the store
	// closes.
	s.closeAudit()
	err = errors.Join(err, s.Store.Close())
	return errors.Join(err, s.lock.Unlock())
}

// Run starts a server and serves until ctx ends (SIGTERM/SIGINT in the
// CLI) or the HTTP server fails, then shuts down gracefully.
func Run(ctx context.Context, o Options) error {
	s, err := Start(ctx, o)
	if err != nil {
		return err
	}
	if o.TuneMemory {
		tuneCtx, stop := context.WithCancel(ctx)
		defer stop()
		go tuneMemory(tuneCtx)
	}
	if _, journal := s.AuditRecords.(*audit.Journal); journal && o.SpareProcForSync {
		defer spareProcForSync()()
	}
	return s.serveUntil(ctx)
}

// serveUntil waits for ctx to end or for Serve to fail, then shuts down.
// A Serve failure is returned (and the process exits non-zero): a server
// that no longer accepts connections must not look healthy to its process
// manager.
func (s *Server) serveUntil(ctx context.Context) error {
	var serveErr error
	select {
	case <-ctx.Done():
		s.log.Info("shutting down")
	case serveErr = <-s.serveErr:
		s.log.Error("http server stopped; shutting down", "err", serveErr)
		serveErr = fmt.Errorf("http server: %w", serveErr)
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	return errors.Join(serveErr, s.Shutdown(shutdownCtx))
}
