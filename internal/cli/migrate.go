package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/oidcfed/oidcfed/internal/app"
)

func newMigrateCmd() *cobra.Command {
	var lf localFlags
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Bring the store's schema up to date",
		Long: `Apply the schema migrations this binary has and the store lacks, then exit.
Servers and admin commands migrate the store they open themselves; with
replicas sharing a PostgreSQL database, run this once before rolling out a new
version, so no replica migrates under the others' feet (a replica refuses a
schema newer than it knows). Migrations take an advisory lock: concurrent runs
apply them once. It needs no master key.`,
		Example: `  oidcfed migrate --store postgres://oidcfed@db.internal/oidcfed?sslmode=verify-full
  oidcfed migrate --config /etc/oidcfed/oidcfed.yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o, err := lf.options(false)
			if err != nil {
				return err
			}
			msg, err := app.Migrate(cmd.Context(), o)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), msg)
			return nil
		},
	}
	lf.register(cmd)
	return cmd
}
