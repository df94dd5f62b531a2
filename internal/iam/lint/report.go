package lint

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Source is one linted document and its outcome: a file path, or "iam:role/NAME" for a role
// fetched through the IAM API.
type Source struct {
	Name     string    `json:"source"`
	Findings []Finding `json:"findings"`
	// Skipped says why the source was not linted (a role whose trust has no web-identity
	// statement); empty when it was.
	Skipped string `json:"skipped,omitempty"`
	// Error says why it could not be read, fetched or parsed.
	Error string `json:"error,omitempty"`
}

// Summary counts a run's outcome.
type Summary struct {
	Findings   int              `json:"findings"`
	Max        Severity         `json:"max_severity"`
	BySeverity map[Severity]int `json:"by_severity"`
	Sources    int              `json:"sources"`
	Skipped    int              `json:"skipped"`
	Errors     int              `json:"errors"`
}

// Summarize counts findings by severity, skipped sources and errors.
func Summarize(srcs []Source) Summary {
	s := Summary{BySeverity: map[Severity]int{}, Sources: len(srcs)}
	for _, src := range srcs {
		switch {
		case src.Error != "":
			s.Errors++
		case src.Skipped != "":
			s.Skipped++
		}
		for _, f := range src.Findings {
			s.Findings++
			s.BySeverity[f.Severity]++
		}
		s.Max = max(s.Max, Max(src.Findings))
	}
	return s
}

// WriteText writes one line per finding with its fix on the next, grouped by source. verbose
// adds each finding's "why", sources without findings and skipped sources.
func WriteText(w io.Writer, srcs []Source, verbose bool) error {
	var b strings.Builder
	for _, src := range srcs {
		switch {
		case src.Error != "":
			fmt.Fprintf(&b, "%s: error: %s\n", src.Name, src.Error)
		case src.Skipped != "":
			if verbose {
				fmt.Fprintf(&b, "%s: skipped: %s\n", src.Name, src.Skipped)
			}
			continue
		case len(src.Findings) == 0:
			if verbose {
				fmt.Fprintf(&b, "%s: no findings\n", src.Name)
			}
			continue
		default:
			fmt.Fprintf(&b, "%s:\n", src.Name)
		}
		for _, f := range src.Findings {
			where := f.Path
			var notes []string
			if f.Line > 0 {
				notes = append(notes, "line "+strconv.Itoa(f.Line))
			}
			if f.Sid != "" {
				notes = append(notes, "Sid "+f.Sid)
			}
			if len(notes) > 0 {
				where += " (" + strings.Join(notes, ", ") + ")"
			}
			fmt.Fprintf(&b, "  %-8s %s %s %s: %s\n", strings.ToUpper(f.Severity.String()), f.ID, f.Name, where, f.Message)
			fmt.Fprintf(&b, "           fix: %s\n", f.Fix)
			if verbose {
				fmt.Fprintf(&b, "           why: %s\n", f.Why)
			}
		}
	}
	b.WriteString(summaryLine(Summarize(srcs)))
	_, err := io.WriteString(w, b.String())
	return err
}

func summaryLine(s Summary) string {
	var parts []string
	for sev := Critical; sev >= Info; sev-- {
		if n := s.BySeverity[sev]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, sev))
		}
	}
	line := fmt.Sprintf("%d finding%s", s.Findings, plural(s.Findings))
	if len(parts) > 0 {
		line += " (" + strings.Join(parts, ", ") + ")"
	}
	line += fmt.Sprintf(" in %d source%s", s.Sources, plural(s.Sources))
	if s.Skipped > 0 {
		line += fmt.Sprintf(", %d skipped", s.Skipped)
	}
	if s.Errors > 0 {
		line += fmt.Sprintf(", %d error%s", s.Errors, plural(s.Errors))
	}
	return line + "\n"
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// jsonReport is the JSON format; its field names are stable.
type jsonReport struct {
	Tool    string   `json:"tool"`
	Sources []Source `json:"sources"`
	Summary Summary  `json:"summary"`
}

// WriteJSON writes {"tool", "sources": [{"source", "findings": [...], "skipped"?, "error"?}],
// "summary"} with severities as lower-case names.
func WriteJSON(w io.Writer, srcs []Source) error {
	out := jsonReport{Tool: toolName, Sources: make([]Source, len(srcs)), Summary: Summarize(srcs)}
	for i, s := range srcs {
		if s.Findings == nil {
			s.Findings = []Finding{} // [] rather than null, for jq users
		}
		out.Sources[i] = s
	}
	return writeIndented(w, out)
}

func writeIndented(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

const (
	toolName     = "oidcfed lint"
	sarifSchema  = "https://json.schemastore.org/sarif-2.1.0.json"
	sarifVersion = "2.1.0"
)

// SARIF 2.1.0, the subset code-scanning services read.
type (
	sarifLog struct {
		Schema  string     `json:"$schema"`
		Version string     `json:"version"`
		Runs    []sarifRun `json:"runs"`
	}
	sarifRun struct {
		Tool        sarifTool         `json:"tool"`
		Invocations []sarifInvocation `json:"invocations"`
		Results     []sarifResult     `json:"results"`
	}
	sarifTool struct {
		Driver sarifDriver `json:"driver"`
	}
	sarifDriver struct {
		Name           string      `json:"name"`
		Version        string      `json:"version,omitempty"`
		InformationURI string      `json:"informationUri,omitempty"`
		Rules          []sarifRule `json:"rules"`
	}
	sarifRule struct {
		ID                   string          `json:"id"`
		Name                 string          `json:"name"`
		ShortDescription     sarifText       `json:"shortDescription"`
		FullDescription      sarifText       `json:"fullDescription"`
		Help                 sarifText       `json:"help"`
		DefaultConfiguration sarifRuleConfig `json:"defaultConfiguration"`
		Properties           sarifRuleProps  `json:"properties"`
	}
	sarifRuleProps struct {
		SecuritySeverity string   `json:"security-severity"`
		Tags             []string `json:"tags"`
	}
	sarifRuleConfig struct {
		Level string `json:"level"`
	}
	sarifText struct {
		Text string `json:"text"`
	}
	sarifInvocation struct {
		ExecutionSuccessful bool                `json:"executionSuccessful"`
		Notifications       []sarifNotification `json:"toolExecutionNotifications,omitempty"`
	}
	sarifNotification struct {
		Level     string          `json:"level"`
		Message   sarifText       `json:"message"`
		Locations []sarifLocation `json:"locations,omitempty"`
	}
	sarifResult struct {
		RuleID     string            `json:"ruleId"`
		RuleIndex  int               `json:"ruleIndex"`
		Level      string            `json:"level"`
		Message    sarifText         `json:"message"`
		Locations  []sarifLocation   `json:"locations"`
		Properties map[string]string `json:"properties"`
	}
	sarifLocation struct {
		Physical sarifPhysical  `json:"physicalLocation"`
		Logical  []sarifLogical `json:"logicalLocations,omitempty"`
	}
	sarifPhysical struct {
		ArtifactLocation sarifArtifact `json:"artifactLocation"`
		Region           *sarifRegion  `json:"region,omitempty"`
	}
	sarifRegion struct {
		StartLine int `json:"startLine"`
	}
	sarifArtifact struct {
		URI string `json:"uri"`
	}
	sarifLogical struct {
		FullyQualifiedName string `json:"fullyQualifiedName"`
		Kind               string `json:"kind"`
	}
)

// sarifLevel maps severities to SARIF levels: critical and high fail a code-scanning gate
// (error), medium warns, low and info are notes.
func sarifLevel(s Severity) string {
	switch {
	case s >= High:
		return "error"
	case s == Medium:
		return "warning"
	}
	return "note"
}

// securitySeverity is the CVSS-like score GitHub code scanning ranks security results by.
func securitySeverity(s Severity) string {
	return [...]string{"0.0", "0.0", "1.0", "5.0", "8.0", "9.5"}[s]
}

// WriteSARIF writes a SARIF 2.1.0 log with one run: every rule, one result per finding located
// at its source (artifactLocation.uri: the file, or iam:role/NAME), its line (region, which
// code-scanning services need to place it) and its statement path (a logical location), and
// a notification per source that could not be linted.
func WriteSARIF(w io.Writer, srcs []Source, version string) error {
	run := sarifRun{
		Tool:        sarifTool{Driver: sarifDriver{Name: toolName, Version: version, InformationURI: "https://github.com/oidcfed/oidcfed"}},
		Invocations: []sarifInvocation{{ExecutionSuccessful: true}},
		Results:     []sarifResult{},
	}
	index := map[string]int{}
	for i, r := range rules {
		index[r.ID] = i
		run.Tool.Driver.Rules = append(run.Tool.Driver.Rules, sarifRule{
			ID: r.ID, Name: r.Name,
			ShortDescription:     sarifText{r.Summary},
			FullDescription:      sarifText{r.Why},
			Help:                 sarifText{r.Help},
			DefaultConfiguration: sarifRuleConfig{Level: sarifLevel(r.Severity)},
			Properties:           sarifRuleProps{SecuritySeverity: securitySeverity(r.Severity), Tags: []string{"security"}},
		})
	}
	for _, src := range srcs {
		loc := sarifLocation{Physical: sarifPhysical{ArtifactLocation: sarifArtifact{URI: src.Name}}}
		if src.Error != "" {
			inv := &run.Invocations[0]
			inv.ExecutionSuccessful = false
			inv.Notifications = append(inv.Notifications, sarifNotification{
				Level: "error", Message: sarifText{src.Error}, Locations: []sarifLocation{loc},
			})
		}
		for _, f := range src.Findings {
			fl := loc
			fl.Logical = []sarifLogical{{FullyQualifiedName: f.Path, Kind: "member"}}
			if f.Line > 0 {
				fl.Physical.Region = &sarifRegion{StartLine: f.Line}
			}
			run.Results = append(run.Results, sarifResult{
				RuleID: f.ID, RuleIndex: index[f.ID], Level: sarifLevel(f.Severity),
				Message:    sarifText{f.Message + " Fix: " + f.Fix},
				Locations:  []sarifLocation{fl},
				Properties: map[string]string{"severity": f.Severity.String(), "security-severity": securitySeverity(f.Severity)},
			})
		}
	}
	return writeIndented(w, sarifLog{Schema: sarifSchema, Version: sarifVersion, Runs: []sarifRun{run}})
}
