package lint

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/oidcfed/oidcfed/internal/iam/policy"
)

var update = flag.Bool("update", false, "rewrite testdata/report.golden.* from the current output")

// goldenSources is a run over files and roles with every outcome: findings of several
// severities, a clean source, a skipped role and a document that does not parse.
func goldenSources(t *testing.T) []Source {
	t.Helper()
	lintOne := func(name string, in Input) Source {
		fs, err := Trust(in)
		src := Source{Name: name, Findings: fs}
		if err != nil {
			src.Error = err.Error()
		}
		return src
	}
	return []Source{
		lintOne("policies/gitlab-group-prefix.json", Input{
			Trust: `{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Sid": "GitLabCI",
      "Effect": "Allow",
      "Principal": {"Federated": "arn:aws:iam::111122223333:oidc-provider/gitlab.com"},
      "Action": "sts:AssumeRoleWithWebIdentity",
      "Condition": {
        "StringEquals": {"gitlab.com:aud": "https://gitlab.com/"},
        "StringLike": {"gitlab.com:sub": "project_path:mygroup*"},
        "StringNotEquals": {"gitlab.com:pipeline_source": "merge_request_event"}
      }
    }
  ]
}`,
			Role: Role{Permissions: []*policy.Policy{identity("kms:Sign")}},
		}),
		lintOne("iam:role/github-deploy", Input{
			Trust:     trust(github, `{"StringEquals":{"token.actions.githubusercontent.com:aud":"sts.amazonaws.com"}}`),
			Account:   acct,
			Providers: allProviders,
			Role:      Role{Name: "github-deploy", MaxSessionDuration: 12 * time.Hour, Permissions: []*policy.Policy{}},
		}),
		lintOne("policies/pinned.json", Input{Trust: trust(gitlabCom, bound(gitlabCom))}),
		{Name: "iam:role/batch", Skipped: "the trust policy has no web-identity statement"},
		lintOne("policies/broken.json", Input{Trust: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","NotPrincipal":{"Federated":"arn:aws:iam::111122223333:oidc-provider/gitlab.com"},"Action":"sts:AssumeRoleWithWebIdentity"}]}`}),
	}
}

func TestGoldenReports(t *testing.T) {
	srcs := goldenSources(t)
	render := map[string]func(*bytes.Buffer) error{
		"report.golden.txt":         func(b *bytes.Buffer) error { return WriteText(b, srcs, false) },
		"report.golden.verbose.txt": func(b *bytes.Buffer) error { return WriteText(b, srcs, true) },
		"report.golden.json":        func(b *bytes.Buffer) error { return WriteJSON(b, srcs) },
		"report.golden.sarif":       func(b *bytes.Buffer) error { return WriteSARIF(b, srcs, "test") },
	}
	for name, fn := range render {
		t.Run(name, func(t *testing.T) {
			var b bytes.Buffer
			if err := fn(&b); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", name)
			if *update {
				if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if !bytes.Equal(b.Bytes(), want) {
				t.Fatalf("%s differs from the golden file (run with -update after checking):\n%s", name, b.String())
			}
		})
	}
}

// TestSARIFShape checks what code-scanning services require of the log, beyond the golden
// bytes: every result names a rule of the driver by id and index, with a valid level and a
// location.
func TestSARIFShape(t *testing.T) {
	var b bytes.Buffer
	if err := WriteSARIF(&b, goldenSources(t), "test"); err != nil {
		t.Fatal(err)
	}
	var log struct {
		Version string
		Runs    []struct {
			Tool struct {
				Driver struct {
					Name  string
					Rules []struct{ ID, Name string }
				}
			}
			Invocations []struct{ ExecutionSuccessful bool }
			Results     []struct {
				RuleID    string
				RuleIndex int
				Level     string
				Locations []struct {
					PhysicalLocation struct{ ArtifactLocation struct{ URI string } }
					LogicalLocations []struct{ FullyQualifiedName string }
				}
			}
		}
	}
	if err := json.Unmarshal(b.Bytes(), &log); err != nil {
		t.Fatal(err)
	}
	if log.Version != "2.1.0" || len(log.Runs) != 1 || log.Runs[0].Tool.Driver.Name != "oidcfed lint" {
		t.Fatalf("log header: %+v", log)
	}
	run := log.Runs[0]
	if len(run.Tool.Driver.Rules) != len(rules) || run.Invocations[0].ExecutionSuccessful {
		t.Fatalf("%d rules, invocation successful %v", len(run.Tool.Driver.Rules), run.Invocations[0].ExecutionSuccessful)
	}
	if len(run.Results) == 0 {
		t.Fatal("no results")
	}
	for _, r := range run.Results {
		if run.Tool.Driver.Rules[r.RuleIndex].ID != r.RuleID {
			t.Errorf("result %s points at rule %d", r.RuleID, r.RuleIndex)
		}
		if r.Level != "error" && r.Level != "warning" && r.Level != "note" {
			t.Errorf("level %q", r.Level)
		}
		if len(r.Locations) != 1 || r.Locations[0].PhysicalLocation.ArtifactLocation.URI == "" || len(r.Locations[0].LogicalLocations) != 1 {
			t.Errorf("locations %+v", r.Locations)
		}
	}
}
