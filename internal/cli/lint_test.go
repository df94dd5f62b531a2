package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const (
	lintProvider = "arn:aws:iam::111122223333:oidc-provider/gitlab.com"
	// pinnedTrust binds project, ref and audience: nothing to report.
	pinnedTrust = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"` + lintProvider + `"},"Action":"sts:AssumeRoleWithWebIdentity",
  "Condition":{"StringEquals":{"gitlab.com:aud":"https://gitlab.com","gitlab.com:sub":"project_path:grp/app:ref_type:branch:ref:main"}}}]}`
	// openTrust trusts gitlab.com with an audience only: critical.
	openTrust = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"` + lintProvider + `"},"Action":"sts:AssumeRoleWithWebIdentity",
  "Condition":{"StringEquals":{"gitlab.com:aud":"https://gitlab.com"}}}]}`
	// siblingTrust lets sibling projects in (medium) and has no aud (low).
	siblingTrust = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"` + lintProvider + `"},"Action":"sts:AssumeRoleWithWebIdentity",
  "Condition":{"StringLike":{"gitlab.com:sub":"project_path:grp/app*:ref_type:branch:ref:main"}}}]}`
)

func writePolicyFiles(t *testing.T, docs map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, doc := range docs {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(doc), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestLintFiles: the offline mode's outputs and exit statuses (0 clean, 2 findings at or
// above --fail-on, 1 for usage and unreadable sources).
func TestLintFiles(t *testing.T) {
	dir := writePolicyFiles(t, map[string]string{
		"pinned.json": pinnedTrust, "open.json": openTrust, "sibling.json": siblingTrust,
		"broken.json": `{"Statement":`,
	})
	path := func(name string) string { return filepath.Join(dir, name) }
	cases := []struct {
		name     string
		args     []string
		stdin    string
		code     int
		stdout   []string // substrings
		stderr   string
		noStdout []string
	}{
		{"clean file", []string{"lint", path("pinned.json")}, "", 0, []string{"0 findings in 1 source"}, "", []string{"OIDC"}},
		{"clean file, verbose", []string{"lint", "-v", path("pinned.json")}, "", 0, []string{path("pinned.json") + ": no findings"}, "", nil},
		{"critical finding", []string{"lint", path("open.json")}, "", 2,
			[]string{"CRITICAL OIDC001 no-sub-condition Statement[0].Condition", "fix: Add \"StringEquals\": {\"gitlab.com:sub\""}, "oidcfed: lint: 1 finding at or above high", nil},
		{"below the default threshold", []string{"lint", path("sibling.json")}, "", 0, []string{"MEDIUM   OIDC002", "LOW      OIDC005"}, "", nil},
		{"--fail-on medium", []string{"lint", "--fail-on", "medium", path("sibling.json")}, "", 2, nil, "1 finding at or above medium", nil},
		{"--fail-on critical, several files", []string{"lint", "--fail-on", "critical", path("pinned.json"), path("sibling.json")}, "", 0,
			[]string{"2 findings (1 medium, 1 low) in 2 sources"}, "", nil},
		{"standard input", []string{"lint", "-"}, openTrust, 2, []string{"stdin:", "OIDC001"}, "", nil},
		{"--provider adds the client-id check", []string{"lint", "--provider", "https://gitlab.com=sts.amazonaws.com", path("open.json")}, "", 2,
			[]string{"OIDC006 aud-not-client-id", `("sts.amazonaws.com")`}, "", nil},
		{"--account adds the account check", []string{"lint", "--account", "999988887777", path("pinned.json")}, "", 0,
			[]string{"OIDC011 federated-not-account-provider", "account 999988887777"}, "", nil},
		{"unreadable file wins over findings", []string{"lint", path("open.json"), path("missing.json")}, "", 1,
			[]string{"missing.json: error:", "OIDC001"}, "1 of 2 sources could not be linted", nil},
		{"malformed file", []string{"lint", path("broken.json")}, "", 1, []string{"broken.json: error: MalformedPolicyDocument"}, "", nil},
		{"nothing to lint", []string{"lint"}, "", 1, nil, "lint what?", nil},
		{"files and --all", []string{"lint", "--all", path("open.json")}, "", 1, nil, "lint what?", nil},
		{"--provider with --all", []string{"lint", "--all", "--provider", "https://gitlab.com=x"}, "", 1, nil, "--provider and --account are for files", nil},
		{"bad --provider", []string{"lint", "--provider", "https://gitlab.com", path("open.json")}, "", 1, nil, "want URL=CLIENT_ID", nil},
		{"bad --format", []string{"lint", "--format", "xml", path("open.json")}, "", 1, nil, `--format "xml"`, nil},
		{"bad --fail-on", []string{"lint", "--fail-on", "none", path("open.json")}, "", 1, nil, `--fail-on "none"`, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			root := NewRoot(&stdout, &stderr)
			root.SetIn(strings.NewReader(tc.stdin))
			root.SetArgs(tc.args)
			code := 0
			if err := root.ExecuteContext(t.Context()); err != nil {
				stderr.WriteString("oidcfed: " + err.Error() + "\n")
				code = exitCode(err)
			}
			if code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.code, stdout.String(), stderr.String())
			}
			for _, want := range tc.stdout {
				if !strings.Contains(stdout.String(), want) {
					t.Errorf("stdout lacks %q:\n%s", want, stdout.String())
				}
			}
			for _, not := range tc.noStdout {
				if strings.Contains(stdout.String(), not) {
					t.Errorf("stdout has %q:\n%s", not, stdout.String())
				}
			}
			if !strings.Contains(stderr.String(), tc.stderr) {
				t.Errorf("stderr lacks %q:\n%s", tc.stderr, stderr.String())
			}
		})
	}
}

// TestLintMachineFormats: JSON and SARIF carry the findings on stdout alone, and Execute
// turns the result into the documented status.
func TestLintMachineFormats(t *testing.T) {
	dir := writePolicyFiles(t, map[string]string{"open.json": openTrust, "pinned.json": pinnedTrust})
	var stdout, stderr bytes.Buffer
	code := Execute(t.Context(), []string{"lint", "--format", "json", filepath.Join(dir, "open.json"), filepath.Join(dir, "pinned.json")}, &stdout, &stderr)
	if code != exitLintFindings {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	var report struct {
		Sources []struct {
			Source   string
			Findings []struct{ ID, Severity, Path string }
		}
		Summary struct {
			MaxSeverity string `json:"max_severity"`
		}
	}
	if err := json.Unmarshal(stdout.Bytes(), &report); err != nil {
		t.Fatalf("%v\n%s", err, stdout.String())
	}
	if len(report.Sources) != 2 || report.Summary.MaxSeverity != "critical" || report.Sources[0].Findings[0].ID != "OIDC001" ||
		report.Sources[1].Findings == nil || len(report.Sources[1].Findings) != 0 {
		t.Fatalf("report %+v", report)
	}

	stdout.Reset()
	code = Execute(t.Context(), []string{"lint", "--format", "sarif", filepath.Join(dir, "open.json")}, &stdout, &stderr)
	var log struct {
		Version string
		Runs    []struct {
			Results []struct {
				RuleID, Level string
				Locations     []struct {
					PhysicalLocation struct{ ArtifactLocation struct{ URI string } }
				}
			}
		}
	}
	if err := json.Unmarshal(stdout.Bytes(), &log); err != nil || code != exitLintFindings {
		t.Fatalf("exit %d, %v\n%s", code, err, stdout.String())
	}
	r := log.Runs[0].Results[0]
	if log.Version != "2.1.0" || r.RuleID != "OIDC001" || r.Level != "error" || r.Locations[0].PhysicalLocation.ArtifactLocation.URI != filepath.Join(dir, "open.json") {
		t.Fatalf("sarif %+v", log)
	}
}

func TestDecodePolicyDocument(t *testing.T) {
	cases := []struct{ in, want string }{
		{`{"Version":"2012-10-17"}`, `{"Version":"2012-10-17"}`},
		{"%7B%22Sid%22%3A%22a%2Bb%20c%22%7D", `{"Sid":"a+b c"}`},
	}
	for _, tc := range cases {
		got, err := decodePolicyDocument(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("decode(%q) = %q, %v", tc.in, got, err)
		}
	}
	if _, err := decodePolicyDocument("%zz"); err == nil {
		t.Error("decoded garbage")
	}
}
