package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/oidcfed/oidcfed/internal/app"
	"github.com/oidcfed/oidcfed/internal/audit"
	"github.com/oidcfed/oidcfed/internal/store"
)

// followInterval is how often `audit --follow` looks for new events.
const followInterval = time.Second

func newAuditCmd() *cobra.Command {
	var lf localFlags
	var (
		since, event, role, sub, format string
		denied, follow                  bool
		limit                           int
	)
	cmd := &cobra.Command{
		Use:   "audit [--since D] [--event NAME] [--role R] [--sub S] [--denied] [--follow] [--format table|json]",
		Short: "Show the audit log",
		Long: `Show audit events (every call the server answered), oldest first: the last
--limit that match, then with --follow each new one as it is recorded.
--format json prints each event as its CloudTrail record, one per line.
This reads the audit records directly (the journal in the dev server's
./.oidcfed by default, or PostgreSQL), while the server runs; it needs no
master key.`,
		Example: `  oidcfed audit --since 1h --event AssumeRoleWithWebIdentity
  oidcfed audit --denied --sub 'project_path:mygroup/myproject:ref_type:branch:ref:main'
  oidcfed audit --follow --format json | jq .oidcfed.job`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if format != "table" && format != "json" {
				return fmt.Errorf("--format %q: want table or json", format)
			}
			if limit < 1 {
				return fmt.Errorf("--limit %d: want at least 1", limit)
			}
			q := store.AuditQuery{EventName: event, Resource: role, Subject: sub, ErrorsOnly: denied, Limit: limit}
			if since != "" {
				t, err := parseSince(since, time.Now())
				if err != nil {
					return err
				}
				q.Since = t
			}
			o, err := lf.options(false)
			if err != nil {
				return err
			}
			records, closeRecords, err := app.OpenAuditBackend(cmd.Context(), o)
			if err != nil {
				return err
			}
			defer closeRecords()
			return showAudit(cmd.Context(), records, q, format, follow, cmd.OutOrStdout())
		},
	}
	lf.register(cmd)
	f := cmd.Flags()
	f.StringVar(&since, "since", "", "only events from this long ago (90m, 24h) or since this time (RFC 3339)")
	f.StringVar(&event, "event", "", "only this event name (AssumeRoleWithWebIdentity, CreateRole, MintToken, …)")
	f.StringVar(&role, "role", "", "only events naming this role (name or ARN)")
	f.StringVar(&sub, "sub", "", "only events of this web identity (the token's sub)")
	f.BoolVar(&denied, "denied", false, "only refused or failed calls")
	f.BoolVar(&follow, "follow", false, "keep printing new events as they are recorded")
	f.StringVar(&format, "format", "table", "table or json")
	f.IntVar(&limit, "limit", 100, "how many past events to show")
	cmd.AddCommand(newAuditVerifyCmd(&lf))
	return cmd
}

// parseSince reads a duration back from now, or a time.
func parseSince(s string, now time.Time) (time.Time, error) {
	if d, err := time.ParseDuration(s); err == nil {
		if d < 0 {
			return time.Time{}, fmt.Errorf("--since %q: the duration must not be negative", s)
		}
		return now.Add(-d), nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("--since %q: want a duration (90m, 24h) or an RFC 3339 time", s)
}

func showAudit(ctx context.Context, records audit.Backend, q store.AuditQuery, format string, follow bool, out io.Writer) error {
	page, err := records.Query(ctx, q) // newest first: the last --limit
	if err != nil {
		return err
	}
	slices.Reverse(page)
	p := newPrinter(out, format)
	for _, r := range page {
		p.print(r)
	}
	p.flush()
	if !follow {
		return nil
	}
	q.Oldest, q.Limit = true, 1000
	if n := len(page); n > 0 {
		q.After = &store.AuditPosition{Time: page[n-1].Time, Writer: page[n-1].Writer, Seq: page[n-1].Seq}
	} else if q.Since.IsZero() {
		q.Since = time.Now()
	}
	t := time.NewTicker(followInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if page, err = records.Query(ctx, q); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		for _, r := range page {
			p.print(r)
		}
		p.flush()
		if n := len(page); n > 0 {
			q.After = &store.AuditPosition{Time: page[n-1].Time, Writer: page[n-1].Writer, Seq: page[n-1].Seq}
		}
	}
}

type printer struct {
	json   bool
	out    io.Writer
	tw     *tabwriter.Writer
	header bool
}

func newPrinter(out io.Writer, format string) *printer {
	return &printer{json: format == "json", out: out, tw: tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)}
}

func (p *printer) print(r store.AuditRecord) {
	if p.json {
		fmt.Fprintf(p.out, "%s\n", r.Body)
		return
	}
	if !p.header {
		fmt.Fprintln(p.tw, "TIME\tEVENT\tUSER\tRESULT\tJOB")
		p.header = true
	}
	var ev struct {
		OIDCFed audit.Extension `json:"oidcfed"`
	}
	_ = json.Unmarshal(r.Body, &ev)
	result := "ok"
	if r.ErrorCode != "" {
		result = r.ErrorCode
	}
	job := "-"
	if j := ev.OIDCFed.Job; j != nil {
		job = j.ProjectPath
		if j.Ref != "" {
			job += "@" + j.Ref
		}
		if j.PipelineID != "" || j.JobID != "" {
			job += fmt.Sprintf(" pipeline %s job %s", orDash(j.PipelineID), orDash(j.JobID))
		}
	}
	user := r.Username
	if user == "" {
		user = "-"
	}
	fmt.Fprintf(p.tw, "%s\t%s\t%s\t%s\t%s\n", r.Time.Local().Format("2006-01-02 15:04:05"), r.EventName, clip(user, 60), result, job)
}

func (p *printer) flush() { _ = p.tw.Flush() }

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func clip(s string, n int) string {
	if len([]rune(s)) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}

func newAuditVerifyCmd(lf *localFlags) *cobra.Command {
	var file string
	cmd := &cobra.Command{
		Use:   "verify [--file audit.jsonl]",
		Short: "Check the audit log's hash chains and name the first break",
		Long: `Check that every writer's chain of audit records is whole: each record
follows the one before it (its hash), none is missing, changed or moved. With
--file, check a JSON Lines sink instead of the store. Exits 1 on a break.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var reports []audit.ChainReport
			if file != "" {
				f, err := os.Open(file)
				if err != nil {
					return err
				}
				defer f.Close()
				if reports, err = audit.VerifyJSONL(f); err != nil {
					return fmt.Errorf("%s: %w", file, err)
				}
			} else {
				o, err := lf.options(false)
				if err != nil {
					return err
				}
				records, closeRecords, err := app.OpenAuditBackend(cmd.Context(), o)
				if err != nil {
					return err
				}
				defer closeRecords()
				if reports, err = audit.Verify(cmd.Context(), records); err != nil {
					return err
				}
			}
			out := cmd.OutOrStdout()
			for _, r := range reports {
				if r.Break != "" {
					fmt.Fprintf(out, "%s: BROKEN at record %d: %s\n", r.Writer, r.BreakSeq, r.Break)
					continue
				}
				fmt.Fprintf(out, "%s: ok, %d records (%d-%d)\n", r.Writer, r.Records, r.First, r.Last)
			}
			if len(reports) == 0 {
				fmt.Fprintln(out, "no audit records")
			}
			if !audit.OK(reports) {
				return errors.New("the audit log has been tampered with or damaged (see above)")
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&file, "file", "", "verify this JSON Lines audit file instead of the store")
	return cmd
}
