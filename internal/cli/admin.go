package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/oidcfed/oidcfed/internal/app"
	"github.com/oidcfed/oidcfed/internal/issuer"
	"github.com/oidcfed/oidcfed/internal/keys"
	"github.com/oidcfed/oidcfed/internal/store"
)

func newRunnerCmd() *cobra.Command {
	var lf localFlags
	cmd := &cobra.Command{
		Use:   "runner",
		Short: "Manage the runners allowed to mint tokens",
		Long: `Manage runners: each has a bearer token (shown once; only its SHA-256 is
stored) and optional claim constraints. These commands open the store
directly (the dev server's ./.oidcfed by default) and take effect at once.`,
	}
	lf.register(cmd)

	var name string
	var allow []string
	create := &cobra.Command{
		Use:   "create --name NAME [--allow claim=glob ...]",
		Short: "Create a runner and print its token (once)",
		Long: `Create a runner and print its token on stdout. The token is shown only now.

--allow claim=glob constrains what the runner may mint: '*' matches any run of
characters (including '/'), '?' one character. Several globs for one claim are
alternatives; constraints on different claims must all hold.`,
		Example: `  oidcfed runner create --name deployer --allow 'project_path=mygroup/*' --allow ref_protected=true`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			constraints, err := issuer.ParseConstraints(allow)
			if err != nil {
				return err
			}
			l, err := lf.open(cmd, true)
			if err != nil {
				return err
			}
			defer l.Close()
			token, r, err := l.Issuer.CreateRunner(cmd.Context(), name, constraints)
			if errors.Is(err, store.ErrAlreadyExists) {
				return fmt.Errorf("an active runner named %q already exists", name)
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "runner %d %q created; its token is shown once:\n", r.ID, r.Name)
			fmt.Fprintln(cmd.OutOrStdout(), token)
			return nil
		},
	}
	create.Flags().StringVar(&name, "name", "", "runner name (unique among active runners)")
	create.Flags().StringArrayVar(&allow, "allow", nil, "claim constraint claim=glob (repeatable)")
	_ = create.MarkFlagRequired("name")

	list := &cobra.Command{
		Use:   "list",
		Short: "List runners",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			l, err := lf.open(cmd, false)
			if err != nil {
				return err
			}
			defer l.Close()
			var rs []store.Runner
			if err := l.Store.View(cmd.Context(), func(tx store.Tx) (err error) {
				rs, err = tx.ListRunners(cmd.Context())
				return err
			}); err != nil {
				return err
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "ID\tNAME\tSTATUS\tCREATED\tCONSTRAINTS")
			for _, r := range rs {
				status := "active"
				if r.RevokedAt != nil {
					status = "revoked " + r.RevokedAt.Format(time.RFC3339)
				}
				fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\n", r.ID, r.Name, status, r.CreatedAt.Format(time.RFC3339), formatConstraints(r.Constraints))
			}
			return w.Flush()
		},
	}

	revoke := &cobra.Command{
		Use:   "revoke ID|NAME",
		Short: "Revoke a runner: its token stops working at once",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			l, err := lf.open(cmd, false)
			if err != nil {
				return err
			}
			defer l.Close()
			ctx := cmd.Context()
			var revoked store.Runner
			err = l.Store.Update(ctx, func(tx store.Tx) error {
				rs, err := tx.ListRunners(ctx)
				if err != nil {
					return err
				}
				for _, r := range rs {
					if r.RevokedAt == nil && (strconv.FormatInt(r.ID, 10) == args[0] || r.Name == args[0]) {
						revoked = r
						return tx.RevokeRunner(ctx, r.ID, time.Now())
					}
				}
				return store.ErrNotFound
			})
			if errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("no active runner %q", args[0])
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "runner %d %q revoked\n", revoked.ID, revoked.Name)
			return nil
		},
	}
	cmd.AddCommand(create, list, revoke)
	return cmd
}

func formatConstraints(c map[string][]string) string {
	if len(c) == 0 {
		return "-"
	}
	var parts []string
	for k, globs := range c {
		for _, g := range globs {
			parts = append(parts, k+"="+g)
		}
	}
	sort.Strings(parts)
	return strings.Join(parts, " ")
}

func newIssuerCmd() *cobra.Command {
	var lf localFlags
	cmd := &cobra.Command{
		Use:   "issuer",
		Short: "Inspect and rotate the issuer's signing keys, export its documents",
	}
	lf.register(cmd)
	rotate := &cobra.Command{
		Use:   "rotate",
		Short: "Start a key rotation",
		Long: `Start a key rotation. The new key is published in the JWKS at once and signs
only after one JWKS cache lifetime (jwks_max_age), so verifiers already hold it;
the current key keeps signing until then and stays published until the last
token it signed has expired. Running servers pick the change up by themselves.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			l, err := lf.open(cmd, true)
			if err != nil {
				return err
			}
			defer l.Close()
			if err := l.Issuer.Maintain(cmd.Context()); err != nil {
				return err
			}
			rot, err := l.Issuer.Rotate(cmd.Context())
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "new key %s published; it signs from %s\nkey %s signs until then and is unpublished at %s\n",
				rot.KID, rot.ActivateAt.Format(time.RFC3339), rot.RetiredKID, rot.RetiredExpireAt.Format(time.RFC3339))
			return nil
		},
	}
	list := &cobra.Command{
		Use:   "keys",
		Short: "List signing keys and where each is in its life",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			l, err := lf.open(cmd, true)
			if err != nil {
				return err
			}
			defer l.Close()
			ks, err := l.Issuer.Keys(cmd.Context())
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "KID\tALG\tSTATUS\tPUBLISHED\tSIGNS FROM\tSIGNS UNTIL\tUNPUBLISHED AT")
			for _, k := range ks {
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", k.KID, k.Algorithm, k.Status, k.CreatedAt.Format(time.RFC3339),
					k.ActivateAt.Format(time.RFC3339), optTime(k.RetireAt), optTime(k.ExpireAt))
			}
			return w.Flush()
		},
	}
	export := &cobra.Command{
		Use:   "export DIR",
		Short: "Write the discovery document and JWKS as static files",
		Long: `Write DIR/.well-known/openid-configuration and DIR/oauth/discovery/keys, for
hosting the issuer's public documents elsewhere (an object-storage bucket a
cloud can reach while the issuer itself stays private). Export again after each
rotation, within jwks_max_age, so the pending key is published before it signs.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			l, err := lf.open(cmd, true)
			if err != nil {
				return err
			}
			defer l.Close()
			return exportIssuer(cmd.Context(), l.Issuer, args[0], cmd)
		},
	}
	cmd.AddCommand(rotate, list, export)
	return cmd
}

func optTime(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.Format(time.RFC3339)
}

func exportIssuer(ctx context.Context, iss *issuer.Issuer, dir string, cmd *cobra.Command) error {
	jwks, err := iss.StoredJWKS(ctx)
	if err != nil {
		return err
	}
	if string(jwks) == `{"keys":[]}` {
		return errors.New("the issuer has no keys yet: start the server once (or run `oidcfed issuer rotate`)")
	}
	files := map[string][]byte{
		filepath.Join(dir, ".well-known", "openid-configuration"): append(iss.Discovery(), '\n'),
		filepath.Join(dir, "oauth", "discovery", "keys"):          append(jwks, '\n'),
	}
	for path, data := range files {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(path, data, 0o644); err != nil {
			return err
		}
		fmt.Fprintln(cmd.OutOrStdout(), "wrote", path)
	}
	return nil
}

func newAdminCmd() *cobra.Command {
	var lf localFlags
	cmd := &cobra.Command{
		Use:   "admin",
		Short: "Operator tasks on the store",
	}
	lf.register(cmd)
	var newKeyFile string
	rotateMK := &cobra.Command{
		Use:   "rotate-master-key",
		Short: "Re-seal every stored secret under a new master key",
		Long: `Re-seal every stored secret (signing keys, and later access keys and KMS keys)
under a new master key, in one transaction. Stop the server first: a running
server holds the old key, and the command refuses while one holds the data
directory's lock (<data>/serve.lock) or, on PostgreSQL, while any replica is
connected to the store.

Without --new-master-key-file a new random key is written to <key file>.new
and, once every secret is re-sealed, renamed over the current key file (the
old key is gone). If that was interrupted, running the command again finishes
it when the store is already sealed under <key file>.new, and otherwise says
which key the store is sealed under.

With --new-master-key-file the given key is used and the current key file is
left alone: point the server at the new file afterwards.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o, err := lf.options(false)
			if err != nil {
				return err
			}
			release, err := app.LockOutServers(cmd.Context(), o)
			if errors.Is(err, app.ErrDataDirLocked) {
				return fmt.Errorf("stop the server first (every replica, on PostgreSQL): a running server keeps using the old master key: %w", err)
			}
			if err != nil {
				return err
			}
			defer release()
			return rotateMasterKey(cmd, o, newKeyFile)
		},
	}
	rotateMK.Flags().StringVar(&newKeyFile, "new-master-key-file", "", "use this key file (mode 0600) instead of generating one")
	export := &cobra.Command{
		Use:   "export FILE",
		Short: "Write the whole store to FILE, to move it to another backend",
		Long: `Write every record of the store — runners, issuer and KMS keys, access keys,
IAM entities, the audit log with its chains — to FILE (JSON Lines, mode 0600;
'-' for standard output), from one consistent snapshot, so it may run beside
a server. Secrets stay sealed under the master key: the file is no more use
without it than the database is. 'admin import FILE' reads it into another
store, SQLite or PostgreSQL.`,
		Example: `  oidcfed admin export state.jsonl --data /var/lib/oidcfed
  oidcfed admin import state.jsonl --store postgres://oidcfed@db.internal/oidcfed`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o, err := lf.options(false)
			if err != nil {
				return err
			}
			sum, err := app.Export(cmd.Context(), o, args[0], cmd.OutOrStdout(), time.Now)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "exported %s; secrets sealed under master key %s\n", sum.Counts, strings.Join(sum.SealedUnder, ", "))
			return nil
		},
	}
	imp := &cobra.Command{
		Use:   "import FILE",
		Short: "Read an export into a new, empty store",
		Long: `Read FILE, written by 'admin export', into the store (--store, --config or
--data), which must be empty: a new database no server has started on. One
transaction: everything is imported or nothing. Start the servers on it with
the master key the export names.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o, err := lf.options(false)
			if err != nil {
				return err
			}
			sum, err := app.Import(cmd.Context(), o, args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "imported %s; secrets sealed under master key %s: start servers with it\n", sum.Counts, strings.Join(sum.SealedUnder, ", "))
			return nil
		},
	}
	cmd.AddCommand(rotateMK, export, imp)
	return cmd
}

// rotateMasterKey does the work of `admin rotate-master-key` while the data
// directory is locked.
func rotateMasterKey(cmd *cobra.Command, o app.Options, newKeyFile string) error {
	ctx := cmd.Context()
	current := o.MasterKeyFile
	oldKey, err := keys.LoadMasterKeyFile(current)
	if err != nil {
		return err
	}
	generated := newKeyFile == ""
	target := newKeyFile
	leftover := false // target is a .new left by an interrupted rotation
	var newKey *keys.MasterKey
	if generated {
		target = current + ".new"
		newKey, err = keys.LoadMasterKeyFile(target)
		switch {
		case err == nil:
			leftover = true
		case errors.Is(err, keys.ErrMasterKeyMissing):
			if newKey, err = keys.CreateMasterKeyFile(target); err != nil {
				return err
			}
		default:
			// CreateMasterKeyFile syncs before the store is touched, so an
			// unreadable .new never had secrets sealed under it.
			return fmt.Errorf("%s, left by an interrupted rotation, cannot be used: %w; the store is still sealed under %s (master key %s): remove %s and run again",
				target, err, current, oldKey.ID(), target)
		}
	} else if newKey, err = keys.LoadMasterKeyFile(target); err != nil {
		return err
	}
	if newKey.ID() == oldKey.ID() {
		return fmt.Errorf("the new master key in %s is the current one (%s)", target, oldKey.ID())
	}
	o.MasterKeyFile = target
	o.Issuer.URL = ""
	l, err := app.OpenLocal(ctx, o)
	if err != nil {
		return err
	}
	defer l.Close()
	out := cmd.OutOrStdout()

	if leftover {
		// Reseal commits all or nothing, so the store is either wholly
		// under the old key (the rotation died before committing) or
		// wholly under the new one (it died before the rename).
		counts, err := sealedKeyIDs(ctx, l.Store)
		if err != nil {
			return fmt.Errorf("inspect the store: %w", err)
		}
		if n, ok := onlyUnder(counts, newKey.ID()); ok {
			if err := keys.RenameMasterKeyFile(target, current); err != nil {
				return fmt.Errorf("the store is sealed under the key in %s but it could not replace %s: %w", target, current, err)
			}
			fmt.Fprintf(out, "finished an interrupted rotation: %d secrets were already sealed under master key %s; %s replaced %s (master key %s -> %s)\n",
				n, newKey.ID(), target, current, oldKey.ID(), newKey.ID())
			return nil
		}
		return fmt.Errorf("%s holds master key %s from an interrupted rotation, but the store is not sealed under it (%s; the current key file %s holds %s): that rotation never committed; remove %s and run again",
			target, newKey.ID(), describeCounts(counts), current, oldKey.ID(), target)
	}

	sealer := keys.NewSealer(newKey, oldKey)
	var n int
	err = l.Store.Update(ctx, func(tx store.Tx) (err error) {
		n, err = tx.Reseal(ctx, sealer.Reseal)
		return err
	})
	if err != nil {
		if generated {
			if rmErr := os.Remove(target); rmErr == nil {
				_ = keys.SyncDir(filepath.Dir(target))
			}
		}
		return fmt.Errorf("re-seal failed, nothing changed: %w", err)
	}
	if generated {
		if err := keys.RenameMasterKeyFile(target, current); err != nil {
			return fmt.Errorf("secrets are now sealed under the key in %s but it could not replace %s: %w; run rotate-master-key again to finish", target, current, err)
		}
	}
	fmt.Fprintf(out, "re-sealed %d secrets: master key %s -> %s\n", n, oldKey.ID(), newKey.ID())
	return nil
}

// errInspectOnly rolls back the pass in sealedKeyIDs.
var errInspectOnly = errors.New("inspection only: roll back")

// sealedKeyIDs counts the store's sealed values by the master key they are
// sealed under. Tx.Reseal is the only walk over every sealed column of
// every table (the Store API deliberately has no other), so it is used with
// a callback that records each value's key id and hands it back unchanged,
// and the transaction is then failed on purpose: nothing is written.
func sealedKeyIDs(ctx context.Context, st store.Store) (map[string]int, error) {
	var counts map[string]int
	err := st.Update(ctx, func(tx store.Tx) error {
		counts = map[string]int{} // Update may run this more than once
		if _, err := tx.Reseal(ctx, func(_ string, sealed []byte) ([]byte, error) {
			id, ok := keys.SealedKeyID(sealed)
			if !ok {
				id = "(unrecognised)"
			}
			counts[id]++
			return sealed, nil
		}); err != nil {
			return err
		}
		return errInspectOnly
	})
	if !errors.Is(err, errInspectOnly) {
		if err == nil {
			err = errors.New("the inspection transaction committed")
		}
		return nil, err
	}
	return counts, nil
}

// onlyUnder reports whether every counted value is under id (true for an
// empty store: no secret depends on either key), and how many there are.
func onlyUnder(counts map[string]int, id string) (int, bool) {
	for k := range counts {
		if k != id {
			return 0, false
		}
	}
	return counts[id], true
}

func describeCounts(counts map[string]int) string {
	if len(counts) == 0 {
		return "it holds no secrets"
	}
	parts := make([]string, 0, len(counts))
	for id, n := range counts {
		parts = append(parts, fmt.Sprintf("%d under master key %s", n, id))
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}
