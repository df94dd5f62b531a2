// Package app wires oidcfed together: store, key custody, services and the
// HTTP server. It is the only package that imports all the others; the CLI
// calls into it with typed Options.
package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/oidcfed/oidcfed/internal/httpx"
	"github.com/oidcfed/oidcfed/internal/issuer"
	"github.com/oidcfed/oidcfed/internal/keys"
	"github.com/oidcfed/oidcfed/internal/store"
	"github.com/oidcfed/oidcfed/internal/store/sqlite"
)

// Options configure a server or a local admin session.
type Options struct {
	// Listen is host:port; port 0 picks a free one (tests).
	Listen string
	// DataDir holds the embedded store (and, in dev mode, the master key
	// and dev.env).
	DataDir string
	// MasterKeyFile is required outside dev mode.
	MasterKeyFile string
	// Dev creates what is missing (master key, runner token) and derives
	// the issuer URL from the listen address.
	Dev bool
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
	if errors.Is(err, keys.ErrMasterKeyMissing) && o.Dev && o.MasterKeyFile == "" {
		return keys.CreateMasterKeyFile(path)
	}
	return mk, err
}

// openStore opens the embedded store in the data directory.
func (o *Options) openStore(ctx context.Context) (store.Store, error) {
	if o.DataDir == "" {
		return nil, errors.New("no data directory: pass --data or set data_dir in the config")
	}
	if err := os.MkdirAll(o.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	return sqlite.Open(ctx, filepath.Join(o.DataDir, StoreFileName))
}

// OpenLocal opens the store and key custody for an admin command. The
// issuer URL must be known (Options.Issuer.URL).
func OpenLocal(ctx context.Context, o Options) (*Local, error) {
	mk, err := o.loadMasterKey()
	if err != nil {
		return nil, err
	}
	st, err := o.openStore(ctx)
	if err != nil {
		return nil, err
	}
	l := &Local{Store: st, Sealer: keys.NewSealer(mk)}
	if o.Issuer.URL != "" {
		l.Issuer, err = issuer.New(o.Issuer, st, l.Sealer, o.Now, o.logger(), nil)
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

// Server is a running oidcfed HTTP server.
type Server struct {
	URL      string // base URL clients use
	Issuer   *issuer.Issuer
	Store    store.Store
	listener net.Listener
	http     *http.Server
	log      *slog.Logger
	cancel   context.CancelFunc
}

// Start opens everything and starts serving in the background. Stop with
// Shutdown.
func Start(ctx context.Context, o Options) (*Server, error) {
	log := o.logger()
	mk, err := o.loadMasterKey()
	if err != nil {
		return nil, err
	}
	st, err := o.openStore(ctx)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", o.Listen)
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("listen on %s: %w", o.Listen, err)
	}
	base := "http://" + ln.Addr().String()
	icfg := o.Issuer
	if icfg.URL == "" {
		if !o.Dev {
			ln.Close()
			st.Close()
			return nil, errors.New("no issuer URL: set issuer.url in the config (or use --dev)")
		}
		icfg.URL = base
	}
	issuerURL, err := url.Parse(icfg.URL)
	if err != nil {
		ln.Close()
		st.Close()
		return nil, fmt.Errorf("issuer URL: %w", err)
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	iss, err := issuer.New(icfg, st, keys.NewSealer(mk), o.Now, log, issuer.NewMetrics(reg))
	if err != nil {
		ln.Close()
		st.Close()
		return nil, err
	}
	runCtx, cancel := context.WithCancel(context.Background())
	fail := func(err error) (*Server, error) {
		cancel()
		ln.Close()
		st.Close()
		return nil, err
	}
	if err := iss.Start(runCtx); err != nil {
		return fail(fmt.Errorf("start issuer: %w", err))
	}

	mux := http.NewServeMux()
	iss.Routes(mux, issuerURL.Path)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, "{\"status\":\"ok\",\"version\":%q}\n", o.Version)
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		w.Header().Set("Content-Type", "application/json")
		if err := st.Ping(ctx); err != nil {
			log.WarnContext(r.Context(), "readiness check failed", "err", err)
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintln(w, `{"status":"unavailable","checks":{"store":"unreachable"}}`)
			return
		}
		fmt.Fprintln(w, `{"status":"ready","checks":{"store":"ok"}}`)
	})
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
	s := &Server{URL: base, Issuer: iss, Store: st, listener: ln, http: srv, log: log, cancel: cancel}
	if o.Dev {
		if err := s.devSetup(runCtx, o); err != nil {
			return fail(err)
		}
	}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("http server stopped", "err", err)
		}
	}()
	log.Info("oidcfed serving", "url", base, "issuer", icfg.URL, "data_dir", o.DataDir, "dev", o.Dev)
	return s, nil
}

// Shutdown stops accepting requests, lets in-flight ones finish (up to
// ctx's deadline), stops background work and closes the store.
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.http.Shutdown(ctx)
	s.cancel()
	return errors.Join(err, s.Store.Close())
}

// Run starts a server and serves until ctx ends (SIGTERM/SIGINT in the
// CLI), then shuts down gracefully.
func Run(ctx context.Context, o Options) error {
	s, err := Start(ctx, o)
	if err != nil {
		return err
	}
	<-ctx.Done()
	s.log.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	return s.Shutdown(shutdownCtx)
}
