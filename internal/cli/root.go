// Package cli implements the oidcfed command line: `serve` and the local
// admin commands call into internal/app; `token` is an HTTP client of the
// minting API.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/oidcfed/oidcfed/internal/app"
	"github.com/oidcfed/oidcfed/internal/config"
	"github.com/oidcfed/oidcfed/internal/httpx"
	"github.com/oidcfed/oidcfed/internal/issuer"
	"github.com/oidcfed/oidcfed/internal/store/postgres"
)

// Version is set at build time (-ldflags "-X .../cli.Version=v1.2.3");
// otherwise the module version or "devel".
var Version = ""

func version() string {
	if Version != "" {
		return Version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "devel"
}

// Main runs the CLI with the process's arguments and returns the exit code.
func Main() int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	return Execute(ctx, os.Args[1:], os.Stdout, os.Stderr)
}

// Execute runs the CLI with args; tests call it directly.
func Execute(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := NewRoot(stdout, stderr)
	root.SetArgs(args)
	if err := root.ExecuteContext(ctx); err != nil {
		// An exit status without a message (explain's "denied") prints
		// nothing: the report said it.
		var ee *exitError
		if !errors.As(err, &ee) || ee.err != nil {
			fmt.Fprintln(stderr, "oidcfed:", err)
		}
		return exitCode(err)
	}
	return 0
}

// NewRoot builds the command tree.
func NewRoot(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "oidcfed",
		Short: "Self-hosted identity federation for CI: a GitLab-compatible token issuer and AWS-compatible STS",
		Long: `oidcfed issues GitLab-style CI ID tokens and (in later releases) trades them for
AWS-compatible temporary credentials, all from one binary.

Start a dev server:   oidcfed serve --dev
Mint a token:         source .oidcfed/dev.env && oidcfed token --aud "$OIDCFED_ISSUER" --project-path mygroup/myproject --ref main`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.AddCommand(newServeCmd(), newMigrateCmd(), newTokenCmd(), newAssumeCmd(), newRunnerCmd(), newIssuerCmd(), newAdminCmd(), newAuditCmd(), newExplainCmd(), newLintCmd(), newVersionCmd())
	return root
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			fmt.Fprintln(cmd.OutOrStdout(), "oidcfed", version())
		},
	}
}

// localFlags are shared by commands that open the store directly.
type localFlags struct {
	configFile    string
	dataDir       string
	masterKeyFile string
	issuerURL     string
	storeURL      string
}

func (f *localFlags) register(cmd *cobra.Command) {
	cmd.PersistentFlags().StringVar(&f.configFile, "config", "", "config file (YAML); its data_dir, master_key_file and issuer are used")
	cmd.PersistentFlags().StringVar(&f.dataDir, "data", "", "data directory (default ./.oidcfed, the dev server's)")
	cmd.PersistentFlags().StringVar(&f.masterKeyFile, "master-key-file", "", "master key file (default $OIDCFED_MASTER_KEY_FILE, else <data>/master.key)")
	cmd.PersistentFlags().StringVar(&f.issuerURL, "issuer", "", "issuer URL; precedence: this flag, then --config's issuer.url, then $OIDCFED_ISSUER, then the dev server's from <data>/dev.env")
	cmd.PersistentFlags().StringVar(&f.storeURL, "store", "", "store: a postgres:// URL, or sqlite (the data directory's); default $OIDCFED_STORE, else --config's store, else sqlite")
}

// applyStore selects the store: flag, then $OIDCFED_STORE, then what the
// config file says (already in f). "sqlite" names the data directory's
// database; anything else must be a postgres:// URL, which may carry a
// password (unlike the config file's store.url: a flag or variable is not
// a file that gets checked in). A flag or variable replaces the config's
// whole store but its pool size: its password_file belongs to its URL.
func applyStore(f *config.File, flag string) error {
	v := flag
	if v == "" {
		v = os.Getenv("OIDCFED_STORE")
	}
	switch {
	case v == "":
	case v == config.DriverSQLite:
		f.Store = config.Store{Driver: config.DriverSQLite, MaxConns: f.Store.MaxConns}
	case postgres.IsURL(v):
		f.Store = config.Store{Driver: config.DriverPostgres, URL: v, MaxConns: f.Store.MaxConns}
	default:
		return fmt.Errorf("--store %s: want a postgres:// URL or sqlite", postgres.Redact(v))
	}
	return nil
}

// options resolves flags, environment and config into app.Options.
//
// The master key file: --master-key-file, then $OIDCFED_MASTER_KEY_FILE,
// then the config's master_key_file, then <data>/master.key.
//
// The issuer URL: --issuer, then the config's issuer.url, then
// $OIDCFED_ISSUER, then <data>/dev.env. Here the config wins over the
// environment, unlike for the master key, because `source dev.env` exports
// OIDCFED_ISSUER: in a shell that once talked to the dev server, an explicit
// --config must still act on its own issuer's keys, not on the dev one's.
func (f *localFlags) options(needIssuer bool) (app.Options, error) {
	o := app.Options{DataDir: ".oidcfed"}
	file := config.Default()
	if f.configFile != "" {
		var err error
		if file, err = config.Load(f.configFile); err != nil {
			return o, err
		}
		o.DataDir, o.MasterKeyFile = file.DataDir, file.MasterKeyFile
	}
	icfg := issuerConfig(file)
	if err := applyStore(file, f.storeURL); err != nil {
		return o, err
	}
	o.StoreURL, o.StorePasswordFile, o.StoreMaxConns = file.Store.URL, file.Store.PasswordFile, file.Store.MaxConns
	if f.dataDir != "" {
		o.DataDir = f.dataDir
	}
	if env := os.Getenv("OIDCFED_MASTER_KEY_FILE"); env != "" && f.masterKeyFile == "" {
		o.MasterKeyFile = env
	}
	if f.masterKeyFile != "" {
		o.MasterKeyFile = f.masterKeyFile
	}
	if o.MasterKeyFile == "" {
		o.MasterKeyFile = filepath.Join(o.DataDir, "master.key")
	}
	switch {
	case f.issuerURL != "":
		icfg.URL = f.issuerURL
	case icfg.URL != "":
	case os.Getenv("OIDCFED_ISSUER") != "":
		icfg.URL = os.Getenv("OIDCFED_ISSUER")
	default:
		icfg.URL = app.ReadEnvFile(filepath.Join(o.DataDir, app.DevEnvFileName))["OIDCFED_ISSUER"]
	}
	if needIssuer && icfg.URL == "" {
		return o, errors.New("which issuer? pass --issuer URL or --config FILE (or run the dev server once, which records it in <data>/dev.env)")
	}
	o.Issuer = icfg
	return o, nil
}

func (f *localFlags) open(cmd *cobra.Command, needIssuer bool) (*app.Local, error) {
	o, err := f.options(needIssuer)
	if err != nil {
		return nil, err
	}
	return app.OpenLocal(cmd.Context(), o)
}

// issuerConfig converts the file schema to the issuer's typed config.
func issuerConfig(f *config.File) issuer.Config {
	return issuer.Config{
		URL:                f.Issuer.URL,
		Algorithm:          f.Issuer.Algorithm,
		DefaultTTL:         f.Issuer.DefaultTokenTTL.Std(),
		MaxLifetime:        f.Issuer.MaxTokenLifetime.Std(),
		JWKSMaxAge:         f.Issuer.JWKSMaxAge.Std(),
		RotationPeriod:     f.Issuer.RotationPeriod.Std(),
		SubClaimComponents: f.Issuer.SubClaimComponents,
	}
}

// newLogger writes JSON lines to w, adding the request id of the context.
func newLogger(w io.Writer, level slog.Level) *slog.Logger {
	return slog.New(httpx.LogHandler{Handler: slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level})})
}

// exitError asks Execute for a specific exit status; its message, if
// any, is printed like any error's.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

// exitCode is the status Execute returns for err: an exitError's code, else 1.
func exitCode(err error) int {
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return 1
}
