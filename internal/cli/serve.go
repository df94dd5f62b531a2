package cli

import (
	"fmt"
	"log/slog"
	"os"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/oidcfed/oidcfed/internal/app"
	"github.com/oidcfed/oidcfed/internal/config"
)

func newServeCmd() *cobra.Command {
	var (
		configFile, listen, dataDir, masterKeyFile, logLevel, auditFile string
		storeURL, issuerURL                                             string
		dev, demo, audit                                                bool
	)
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the oidcfed server",
		Long: `Run the oidcfed server.

With --dev: listen on 127.0.0.1:8080, keep state in ./.oidcfed (created with a
master key on first start), use the server's own URL as the issuer, create a
runner token and write <data>/dev.env with export lines for the CLI. The dev
runner token may mint any claims and the API is plain HTTP, so --dev listens
on loopback only (127.0.0.0/8, ::1, localhost).

One server at a time may use a data directory: it holds <data>/serve.lock.

With --store postgres://… (or store: in the config) the store is a PostgreSQL
database that several replicas share; a replica then needs no data directory
(in dev mode, each keeps its dev.env in its own --data). Dev replicas sharing a
database also share --master-key-file (created by the first if missing) and,
behind one address, --issuer: they then write the same runner token and root
access key to their dev.env.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			file := config.Default()
			if configFile != "" {
				var err error
				if file, err = config.Load(configFile); err != nil {
					return err
				}
			} else if dev {
				// Dev defaults: everything local, the master key created
				// in the data directory.
				file.DataDir, file.MasterKeyFile = ".oidcfed", ""
			} else {
				return fmt.Errorf("serve needs --config FILE (or --dev for a local development server)")
			}
			if listen != "" {
				file.Listen = listen
			}
			if dataDir != "" {
				file.DataDir = dataDir
			}
			if err := applyStore(file, storeURL); err != nil {
				return err
			}
			if issuerURL != "" {
				file.Issuer.URL = issuerURL
			}
			if env := os.Getenv("OIDCFED_MASTER_KEY_FILE"); env != "" {
				file.MasterKeyFile = env
			}
			if masterKeyFile != "" {
				file.MasterKeyFile = masterKeyFile
			}
			if auditFile != "" {
				file.Audit.File = auditFile
			}
			if !audit {
				file.Audit.Disabled = true
			}
			if logLevel != "" {
				file.LogLevel = logLevel
			}
			// Each STS request allocates ~30 KB over a live heap of a few
			// MB, so at GOGC=100 the collector runs dozens of times a
			// second and its pauses set the latency tail. GOGC=400
			// measured: unloaded p99 0.66-0.73 ms -> 0.33-0.36 ms, p50
			// unchanged, heap ~5x live (tens of MB). An explicit GOGC wins.
			// With 10,000 roles cached, GOGC=400 alone let RSS reach ~90 MB;
			// the app caps the headroom as the live heap grows.
			tuneMemory := os.Getenv("GOGC") == "" && os.Getenv("GOMEMLIMIT") == ""
			if os.Getenv("GOGC") == "" {
				debug.SetGCPercent(400)
			}
			var level slog.Level
			if err := level.UnmarshalText([]byte(file.LogLevel)); err != nil {
				return fmt.Errorf("--log-level %q: want debug, info, warn or error", file.LogLevel)
			}
			providers, roles, err := iamEntities(file, configFile)
			if err != nil {
				return err
			}
			return app.Run(cmd.Context(), app.Options{
				AccountID:                    file.AccountID,
				Region:                       file.Region,
				OIDCProviders:                providers,
				Roles:                        roles,
				SessionKeyGeneration:         file.STS.SessionKeyGeneration,
				EncodedAuthorizationMessages: file.STS.EncodedAuthorizationMessages,
				LintOnWrite:                  file.IAM.LintOnWrite,
				LintFailOn:                   file.IAM.LintFailOn,
				RegistryURL:                  file.ECR.RegistryURL,
				RegistryMaxBlobSize:          int64(file.ECR.MaxBlobSize),
				AuditFile:                    file.Audit.File,
				AuditRetention:               file.Audit.Retention.Std(),
				NoAudit:                      file.Audit.Disabled,
				Listen:                       file.Listen,
				DataDir:                      file.DataDir,
				StoreURL:                     file.Store.URL,
				StorePasswordFile:            file.Store.PasswordFile,
				StoreMaxConns:                file.Store.MaxConns,
				MasterKeyFile:                file.MasterKeyFile,
				Dev:                          dev,
				NoDemo:                       !demo,
				TuneMemory:                   tuneMemory,
				SpareProcForSync:             os.Getenv("GOMAXPROCS") == "",
				Issuer:                       issuerConfig(file),
				Logger:                       newLogger(cmd.ErrOrStderr(), level),
				Out:                          cmd.OutOrStdout(),
				Version:                      version(),
			})
		},
	}
	cmd.Flags().StringVar(&configFile, "config", "", "config file (YAML, strict)")
	cmd.Flags().BoolVar(&demo, "demo", true, "with --dev: declare the demo OIDC provider and roles (read-only); --demo=false starts with an empty IAM, to set up with the aws CLI")
	cmd.Flags().BoolVar(&dev, "dev", false, "development mode: loopback only, local defaults, self-issued, state in ./.oidcfed")
	cmd.Flags().StringVar(&listen, "listen", "", "listen address host:port (default 127.0.0.1:8080)")
	cmd.Flags().StringVar(&dataDir, "data", "", "data directory (dev default ./.oidcfed)")
	cmd.Flags().StringVar(&masterKeyFile, "master-key-file", "", "master key file, mode 0600 (or $OIDCFED_MASTER_KEY_FILE); with --dev, created if missing")
	cmd.Flags().StringVar(&storeURL, "store", "", "store: a postgres:// URL shared by replicas, or sqlite (the data directory's); default $OIDCFED_STORE, else the config's store, else sqlite")
	cmd.Flags().StringVar(&issuerURL, "issuer", "", "issuer URL (iss), over the config's issuer.url; with --dev the default is the server's own URL")
	cmd.Flags().StringVar(&logLevel, "log-level", "", "debug, info, warn or error (default info)")
	cmd.Flags().StringVar(&auditFile, "audit-file", "", "also write every audit event to this JSON Lines file, synced before each answer ('-' for stdout)")
	cmd.Flags().BoolVar(&audit, "audit", true, "record every call in the audit log before answering it; --audit=false is for measuring its cost only")
	return cmd
}
