package policy_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/oidcfed/oidcfed/internal/iam/policy"
)

// The decision table: testdata/decisions/*.json, one file per topic. Every case names the AWS
// documentation section its expectation comes from; where AWS is silent, the cite's note says
// "(oidcfed choice)" and the expectation is the engine's documented choice. Cases run through
// the public API only, so the table doubles as a specification of it.

// minDecisionCases keeps the table from silently shrinking.
const minDecisionCases = 200

type decisionFile struct {
	Topic string         `json:"topic"`
	About string         `json:"about"`
	Cases []decisionCase `json:"cases"`
}

type decisionCase struct {
	Name string `json:"name"`
	Cite struct {
		Title string `json:"title"`
		URL   string `json:"url"`
		Note  string `json:"note,omitempty"`
	} `json:"cite"`
	// Eval selects the engine function: "identity" (ParseKind IdentityPolicy, Evaluate),
	// "trust" (ParseKind TrustPolicy, EvaluateTrust), "session" (identity and session
	// policies, EvaluateSession) or "resource" (ParseResourcePolicy, EvaluateResource).
	Eval            string            `json:"eval"`
	Policies        []json.RawMessage `json:"policies"`
	SessionPolicies []json.RawMessage `json:"session_policies,omitempty"`
	Request         decisionRequest   `json:"request"`
	Expect          decisionExpect    `json:"expect"`
}

type decisionRequest struct {
	Principal *struct {
		Type string `json:"type"` // AWS, Federated, Service, CanonicalUser
		ID   string `json:"id"`
	} `json:"principal,omitempty"`
	Action   string                   `json:"action"`
	Resource string                   `json:"resource,omitempty"`
	Context  map[string]contextValues `json:"context,omitempty"`
	// WebIdentity, when set, builds the request with WebIdentity.Request(Action); Context
	// then adds keys on top (session tags, keys the struct does not carry).
	WebIdentity *webIdentity `json:"web_identity,omitempty"`
}

// contextValues is a context key's values: a JSON string or a list of strings ([] is a key
// present with no values).
type contextValues []string

func (v *contextValues) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*v = contextValues{s}
		return nil
	}
	var list []string
	if err := json.Unmarshal(b, &list); err != nil {
		return fmt.Errorf("context value %s: want a string or a list of strings", b)
	}
	if list == nil {
		list = []string{}
	}
	*v = list
	return nil
}

type webIdentity struct {
	ProviderARN     string              `json:"provider_arn"`
	ProviderKey     string              `json:"provider_key"`
	Audience        string              `json:"aud,omitempty"`
	TokenAudiences  []string            `json:"oaud,omitempty"`
	Subject         string              `json:"sub,omitempty"`
	AMR             []string            `json:"amr,omitempty"`
	Claims          map[string][]string `json:"claims,omitempty"`
	IssuedAt        string              `json:"issued_at,omitempty"`    // RFC 3339
	CurrentTime     string              `json:"current_time,omitempty"` // RFC 3339
	SourceIP        string              `json:"source_ip,omitempty"`
	RequestedRegion string              `json:"requested_region,omitempty"`
	RoleSessionName string              `json:"role_session_name,omitempty"`
	SourceIdentity  string              `json:"source_identity,omitempty"`
}

type decisionExpect struct {
	// Decision is Allow, ImplicitDeny or ExplicitDeny; for "resource" cases the
	// ResourceGrant: ResourceNoAllow, ResourceDeny, ResourceAllowsAccount or
	// ResourceAllowsPrincipal.
	Decision string `json:"decision"`
	// By is the statement that decided (the first Deny that applied, else the first Allow,
	// in the order the policies are given); null exactly when nothing applied. For
	// "resource" cases it is the statement Evaluate attributes the key policy's decision to.
	By *decisionBy `json:"by"`
	// Trace optionally pins how single statements fared: Failed names the element that did
	// not match ("" for a statement that matched).
	Trace []decisionTrace `json:"trace,omitempty"`
}

type decisionBy struct {
	Set       string `json:"set,omitempty"` // "identity" (default) or "session"
	Policy    int    `json:"policy"`
	Statement *int   `json:"statement,omitempty"`
	Sid       string `json:"sid,omitempty"`
}

type decisionTrace struct {
	Set       string `json:"set,omitempty"`
	Policy    int    `json:"policy"`
	Statement int    `json:"statement"`
	Failed    string `json:"failed"`
}

var kebab = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)

type decisionTopic struct {
	file  string
	cases []decisionCase
}

func loadDecisionTable(t *testing.T) []decisionTopic {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "decisions", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no decision files: %v", err)
	}
	var table []decisionTopic // Glob sorts, so runs are in a stable order
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		var df decisionFile
		if err := dec.Decode(&df); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if want := strings.TrimSuffix(filepath.Base(f), ".json"); df.Topic != want {
			t.Errorf("%s: topic %q, want %q", f, df.Topic, want)
		}
		if len(df.Cases) == 0 {
			t.Errorf("%s: no cases", f)
		}
		table = append(table, decisionTopic{filepath.Base(f), df.Cases})
	}
	return table
}

// TestDecisionTableWellFormed: names are unique kebab-case, every case cites the AWS
// documentation, expectations are complete, and the table has not shrunk.
func TestDecisionTableWellFormed(t *testing.T) {
	table := loadDecisionTable(t)
	seen := map[string]string{}
	total := 0
	for _, topic := range table {
		file := topic.file
		for i, c := range topic.cases {
			total++
			where := fmt.Sprintf("%s case %d (%s)", file, i, c.Name)
			if !kebab.MatchString(c.Name) {
				t.Errorf("%s: name is not kebab-case", where)
			}
			if prev, dup := seen[c.Name]; dup {
				t.Errorf("%s: name also used in %s", where, prev)
			}
			seen[c.Name] = file
			if strings.TrimSpace(c.Cite.Title) == "" {
				t.Errorf("%s: cite has no title", where)
			}
			if !strings.HasPrefix(c.Cite.URL, "https://docs.aws.amazon.com/") {
				t.Errorf("%s: cite URL %q is not docs.aws.amazon.com", where, c.Cite.URL)
			}
			resource := c.Eval == "resource"
			switch c.Eval {
			case "identity", "trust", "session", "resource":
			default:
				t.Errorf("%s: unknown eval %q", where, c.Eval)
			}
			if len(c.Policies) == 0 && c.Eval != "session" {
				t.Errorf("%s: no policies", where)
			}
			if (c.Eval == "trust" || resource) && len(c.Policies) != 1 {
				t.Errorf("%s: %s cases take exactly one policy", where, c.Eval)
			}
			if len(c.SessionPolicies) > 0 && c.Eval != "session" {
				t.Errorf("%s: session policies outside a session case", where)
			}
			if c.Request.Action == "" {
				t.Errorf("%s: no action", where)
			}
			nothing := c.Expect.Decision == "ImplicitDeny" || c.Expect.Decision == "ResourceNoAllow"
			if _, ok := decisionNames[c.Expect.Decision]; !ok || resource != strings.HasPrefix(c.Expect.Decision, "Resource") {
				t.Errorf("%s: decision %q does not fit eval %q", where, c.Expect.Decision, c.Eval)
			}
			if nothing != (c.Expect.By == nil) {
				t.Errorf("%s: by must be null exactly for %s", where, c.Expect.Decision)
			}
			if by := c.Expect.By; by != nil && (by.Statement == nil) == (by.Sid == "") {
				t.Errorf("%s: by names a statement by index or by sid, not both or neither", where)
			}
		}
	}
	if total < minDecisionCases {
		t.Errorf("decision table has %d cases, want at least %d", total, minDecisionCases)
	}
	t.Logf("%d cases in %d files", total, len(table))
}

var decisionNames = map[string]bool{
	"Allow": true, "ImplicitDeny": true, "ExplicitDeny": true,
	"ResourceNoAllow": true, "ResourceDeny": true, "ResourceAllowsAccount": true, "ResourceAllowsPrincipal": true,
}

func grantName(g policy.ResourceGrant) string {
	switch g {
	case policy.ResourceNoAllow:
		return "ResourceNoAllow"
	case policy.ResourceDeny:
		return "ResourceDeny"
	case policy.ResourceAllowsAccount:
		return "ResourceAllowsAccount"
	case policy.ResourceAllowsPrincipal:
		return "ResourceAllowsPrincipal"
	}
	return fmt.Sprintf("ResourceGrant(%d)", int(g))
}

// TestDecisionTable runs every case as a subtest named after it.
func TestDecisionTable(t *testing.T) {
	table := loadDecisionTable(t)
	for _, topic := range table {
		for _, c := range topic.cases {
			t.Run(c.Name, func(t *testing.T) { runDecisionCase(t, c) })
		}
	}
}

func runDecisionCase(t *testing.T, c decisionCase) {
	t.Logf("%s — %s %s", c.Cite.Title, c.Cite.URL, c.Cite.Note)
	kind := map[string]policy.Kind{"identity": policy.IdentityPolicy, "trust": policy.TrustPolicy, "session": policy.IdentityPolicy}[c.Eval]
	parse := func(doc json.RawMessage, kind policy.Kind) *policy.Policy {
		t.Helper()
		var p *policy.Policy
		var err error
		if c.Eval == "resource" {
			p, err = policy.ParseResourcePolicy(doc)
		} else {
			p, err = policy.ParseKind(doc, kind)
		}
		if err != nil {
			t.Fatalf("parse %s: %v", doc, err)
		}
		return p
	}
	var identity, session, generic []*policy.Policy
	for _, doc := range c.Policies {
		identity = append(identity, parse(doc, kind))
		if c.Eval == "identity" || c.Eval == "trust" {
			// Parse (the common grammar alone) must read the document the same way.
			p, err := policy.Parse(doc)
			if err != nil {
				t.Fatalf("Parse %s: %v", doc, err)
			}
			generic = append(generic, p)
		}
	}
	for _, doc := range c.SessionPolicies {
		session = append(session, parse(doc, policy.SessionPolicy))
	}
	req := buildRequest(t, c.Request)

	var d policy.Decision
	var trace []policy.StatementTrace
	switch c.Eval {
	case "identity":
		d = policy.Evaluate(req, identity...)
		var td policy.Decision
		td, trace = policy.EvaluateTrace(req, identity...)
		if td != d {
			t.Errorf("EvaluateTrace %+v differs from Evaluate %+v", td, d)
		}
	case "trust":
		d = policy.EvaluateTrust(req, identity[0])
		var td policy.Decision
		td, trace = policy.EvaluateTrace(req, identity[0])
		if td != d {
			t.Errorf("EvaluateTrace %+v differs from EvaluateTrust %+v", td, d)
		}
	case "session":
		d = policy.EvaluateSession(req, identity, session)
		var td policy.Decision
		td, trace = policy.EvaluateSessionTrace(req, identity, session)
		if td != d {
			t.Errorf("EvaluateSessionTrace %+v differs from EvaluateSession %+v", td, d)
		}
	case "resource":
		if got := grantName(policy.EvaluateResource(req, identity[0])); got != c.Expect.Decision {
			t.Errorf("EvaluateResource = %s, want %s", got, c.Expect.Decision)
		}
		var td policy.Decision
		d = policy.Evaluate(req, identity[0])
		td, trace = policy.EvaluateTrace(req, identity[0])
		if td != d {
			t.Errorf("EvaluateTrace %+v differs from Evaluate %+v", td, d)
		}
	}

	if generic != nil {
		if g := policy.Evaluate(req, generic...); g != d {
			t.Errorf("with Parse instead of ParseKind: %+v, want %+v", g, d)
		}
	}
	if c.Eval != "resource" {
		if d.Effect.String() != c.Expect.Decision || d.Allowed != (c.Expect.Decision == "Allow") {
			t.Errorf("decision %+v, want %s", d, c.Expect.Decision)
		}
	}
	checkDecidingStatement(t, c, d, identity, session)
	checkTrace(t, c, d, trace, identity, session)
}

func buildRequest(t *testing.T, r decisionRequest) *policy.Request {
	t.Helper()
	var req *policy.Request
	if w := r.WebIdentity; w != nil {
		id := &policy.WebIdentity{
			ProviderARN: w.ProviderARN, ProviderKey: w.ProviderKey, Audience: w.Audience,
			TokenAudiences: w.TokenAudiences, Subject: w.Subject, AMR: w.AMR, Claims: w.Claims,
			SourceIP: w.SourceIP, RequestedRegion: w.RequestedRegion,
			RoleSessionName: w.RoleSessionName, SourceIdentity: w.SourceIdentity,
		}
		for _, tm := range []struct {
			text string
			dst  *time.Time
		}{{w.IssuedAt, &id.IssuedAt}, {w.CurrentTime, &id.CurrentTime}} {
			if tm.text == "" {
				continue
			}
			v, err := time.Parse(time.RFC3339, tm.text)
			if err != nil {
				t.Fatalf("web identity time %q: %v", tm.text, err)
			}
			*tm.dst = v
		}
		req = id.Request(r.Action)
		if r.Principal != nil {
			t.Fatal("a web identity request takes its principal from the provider")
		}
	} else {
		req = &policy.Request{Action: r.Action, Context: policy.Context{}}
	}
	req.Resource = r.Resource
	if p := r.Principal; p != nil {
		types := map[string]policy.PrincipalType{"AWS": policy.PrincipalAWS, "Federated": policy.PrincipalFederated,
			"Service": policy.PrincipalService, "CanonicalUser": policy.PrincipalCanonicalUser}
		typ, ok := types[p.Type]
		if !ok {
			t.Fatalf("unknown principal type %q", p.Type)
		}
		req.Principal = policy.Principal{Type: typ, ID: p.ID}
	}
	// Keys are stored as written: the engine looks them up case-insensitively.
	for k, v := range r.Context {
		req.Context[k] = []string(v)
	}
	return req
}

func checkDecidingStatement(t *testing.T, c decisionCase, d policy.Decision, identity, session []*policy.Policy) {
	t.Helper()
	by := c.Expect.By
	if by == nil {
		if d.Policy != -1 || d.Statement != -1 {
			t.Errorf("decision %+v names a statement, want none", d)
		}
		return
	}
	set, policies := identity, "identity"
	if by.Set == "session" {
		set, policies = session, "session"
	} else if by.Set != "" && by.Set != "identity" {
		t.Fatalf("unknown set %q", by.Set)
	}
	if d.Session != (policies == "session") || d.Policy != by.Policy {
		t.Fatalf("decided by %+v, want %s policy %d", d, policies, by.Policy)
	}
	if d.Policy < 0 || d.Policy >= len(set) || d.Statement < 0 || d.Statement >= len(set[d.Policy].Statements) {
		t.Fatalf("decision %+v indexes no statement", d)
	}
	switch {
	case by.Statement != nil && d.Statement != *by.Statement:
		t.Errorf("decided by statement %d, want %d", d.Statement, *by.Statement)
	case by.Sid != "" && set[d.Policy].Statements[d.Statement].Sid != by.Sid:
		t.Errorf("decided by statement %d (Sid %q), want Sid %q", d.Statement, set[d.Policy].Statements[d.Statement].Sid, by.Sid)
	}
}

func checkTrace(t *testing.T, c decisionCase, d policy.Decision, trace []policy.StatementTrace, identity, session []*policy.Policy) {
	t.Helper()
	n := 0
	for _, ps := range [][]*policy.Policy{identity, session} {
		for _, p := range ps {
			n += len(p.Statements)
		}
	}
	if c.Eval == "resource" || c.Eval == "trust" {
		n = len(identity[0].Statements)
	}
	// A session whose identity policies deny explicitly is still traced in full.
	if len(trace) != n {
		t.Errorf("trace has %d statements, want %d", len(trace), n)
	}
	find := func(session bool, pi, si int) *policy.StatementTrace {
		for i := range trace {
			if st := &trace[i]; st.Session == session && st.Policy == pi && st.Statement == si {
				return st
			}
		}
		return nil
	}
	if d.Policy >= 0 {
		if st := find(d.Session, d.Policy, d.Statement); st == nil || !st.Matched {
			t.Errorf("deciding statement's trace %+v, want matched", st)
		}
	}
	for _, want := range c.Expect.Trace {
		st := find(want.Set == "session", want.Policy, want.Statement)
		switch {
		case st == nil:
			t.Errorf("no trace for %+v", want)
		case st.Failed != want.Failed || st.Matched != (want.Failed == ""):
			t.Errorf("trace %+v: failed %q, want %q (%s)", want, st.Failed, want.Failed, st.Reason)
		}
	}
}
