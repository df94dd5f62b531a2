package audit

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
)

// encodingJSON is what appendEvent must reproduce byte for byte.
func encodingJSON(t testing.TB, ev *Event) []byte {
	t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(ev); err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

// awkward are strings encoding/json escapes in every way it has.
var awkward = []string{
	"", "plain", `quote " and \ backslash`, "tab\tnew\nline\rcr", "\b\f\x00\x01\x1f\x7f",
	"<html> & 'amp'", "é ü 😀", "bad utf8 \xff\xfe end", "\u2028 and \u2029", "trailing \xc3",
}

func fullEvent(s string) *Event {
	return &Event{
		EventVersion: EventVersion, EventTime: "2026-11-22T06:00:00Z", EventSource: SourceSTS, EventName: "AssumeRoleWithWebIdentity" + s,
		AWSRegion: "us-east-1", SourceIPAddress: "127.0.0.1", UserAgent: "aws-cli/2 " + s, ErrorCode: s, ErrorMessage: s,
		UserIdentity: UserIdentity{Type: "AssumedRole", PrincipalID: "AROA:" + s, ARN: "arn:aws:sts::000000000000:assumed-role/r/" + s,
			AccountID: "000000000000", AccessKeyID: "ASIA" + s, UserName: s, IdentityProvider: s,
			SessionContext: &SessionContext{
				SessionIssuer:       &SessionIssuer{Type: "Role", PrincipalID: "AROA", ARN: "arn", AccountID: "0", UserName: s},
				WebIDFederationData: &WebIDFederationData{FederatedProvider: s, Attributes: map[string]string{"b" + s: s, "a": "1"}},
				Attributes:          SessionAttributes{CreationDate: "2026-11-22T06:00:00Z", MFAAuthenticated: "false"},
				SourceIdentity:      s,
			}},
		RequestParameters: map[string]any{"roleArn": s, "durationSeconds": 3600, "n64": int64(-7), "u": uint64(9), "f": 1.5e-7,
			"flag": true, "nil": nil, "list": []string{s, "x"}, "nilList": []string(nil), "any": []any{s, 1, map[string]any{"k": s}},
			"nested": map[string]any{"z" + s: map[string]string{"k": s}, "num": json.Number("12.50")},
			"struct": struct {
				A string `json:"a"`
				B int    `json:"b,omitempty"`
			}{A: s}},
		ResponseElements: map[string]any{"credentials": map[string]string{"accessKeyId": "ASIA", "expiration": s},
			"assumedRoleUser": Fields{{Name: "arn", Value: s}, {Name: "assumedRoleId", Value: "AROA"}}},
		AdditionalEventData: map[string]any{"identityProviderConnectionVerificationMethod": "IAMTrustStore"},
		RequestID:           s, EventID: "e", ReadOnly: true, EventType: "AwsApiCall", ManagementEvent: true,
		RecipientAccountID: "000000000000", EventCategory: "Management",
		Resources: []Resource{{AccountID: "0", Type: "AWS::IAM::Role", ARN: s}, {Type: "t", ARN: "a"}},
		OIDCFed: Extension{
			Job:    &Job{ProjectPath: s, Ref: "main", RefType: "branch", PipelineID: "1", JobID: "2", SHA: s, UserLogin: s, Environment: s, NamespacePath: s},
			Token:  &Token{SHA256: "ab", Issuer: s, Subject: s, Audience: []string{s, "sts"}, JTI: s, IssuedAt: 1, ExpiresAt: -2},
			Denial: &Denial{Reason: s, Trace: []Statement{{Policy: s, Statement: 1, Effect: "Allow", Condition: &Condition{Operator: "StringEquals", Key: s, Expected: []string{s}}}}},
			Lint:   []LintFinding{{ID: "OIDC001", Name: s, Severity: "high", Message: s}},
			Chain:  &Chain{Writer: s, Seq: 3, Prev: "00"},
		},
	}
}

func TestAppendEventMatchesEncodingJSON(t *testing.T) {
	cases := map[string]*Event{
		"zero":    {},
		"minimal": {EventVersion: EventVersion, EventName: "GetCallerIdentity", RequestParameters: map[string]any{}},
		"empty identity parts": {UserIdentity: UserIdentity{SessionContext: &SessionContext{}},
			AdditionalEventData: map[string]any{}, Resources: []Resource{}, OIDCFed: Extension{Job: &Job{}, Token: &Token{}, Lint: []LintFinding{}}},
	}
	for _, s := range awkward {
		cases["full "+s] = fullEvent(s)
	}
	for name, ev := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := appendEvent(nil, ev)
			if err != nil {
				t.Fatal(err)
			}
			if want := encodingJSON(t, ev); !bytes.Equal(got, want) {
				t.Errorf("appendEvent:\n%s\nencoding/json:\n%s", got, want)
			}
		})
	}
}

// TestFieldsMatchStringMap: Fields is written exactly as the
// map[string]string it stands in for (whose encoding the test above checks
// against encoding/json), when its members are listed sorted.
func TestFieldsMatchStringMap(t *testing.T) {
	cases := map[string]struct {
		fields Fields
		m      map[string]string
	}{
		"nil":   {nil, nil},
		"empty": {Fields{}, map[string]string{}},
	}
	for _, s := range awkward {
		cases["members "+s] = struct {
			fields Fields
			m      map[string]string
		}{
			Fields{{Name: "accessKeyId", Value: s}, {Name: "expiration", Value: "Nov 22, 2026, 7:00:00 AM"}, {Name: "z" + s, Value: s}},
			map[string]string{"accessKeyId": s, "expiration": "Nov 22, 2026, 7:00:00 AM", "z" + s: s},
		}
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := appendValue(nil, c.fields)
			if err != nil {
				t.Fatal(err)
			}
			if want := appendStringMap(nil, c.m); !bytes.Equal(got, want) {
				t.Errorf("Fields: %s\nmap:    %s", got, want)
			}
			viaJSON, err := json.Marshal(c.fields)
			if err != nil {
				t.Fatal(err)
			}
			var back, wantBack any
			if err := json.Unmarshal(viaJSON, &back); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(got, &wantBack); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(back, wantBack) {
				t.Errorf("encoding/json gives %s, a record %s", viaJSON, got)
			}
		})
	}
}

func FuzzAppendEvent(f *testing.F) {
	for _, s := range awkward {
		f.Add(s, s)
	}
	f.Fuzz(func(t *testing.T, s, key string) {
		ev := fullEvent(s)
		ev.RequestParameters[key] = s
		ev.ResponseElements = map[string]any{key: map[string]any{s: []any{s, key}}}
		got, err := appendEvent(nil, ev)
		if err != nil {
			t.Fatal(err)
		}
		if want := encodingJSON(t, ev); !bytes.Equal(got, want) {
			t.Fatalf("appendEvent:\n%s\nencoding/json:\n%s", got, want)
		}
	})
}

// BenchmarkMarshalEvent compares appendEvent with encoding/json on an
// AssumeRoleWithWebIdentity-sized event.
func BenchmarkMarshalEvent(b *testing.B) {
	ev := fullEvent("project_path:mygroup/myproject:ref_type:branch:ref:main")
	ev.OIDCFed.Denial, ev.OIDCFed.Lint, ev.OIDCFed.Chain = nil, nil, nil
	delete(ev.RequestParameters, "struct")
	delete(ev.RequestParameters, "f")
	delete(ev.RequestParameters["nested"].(map[string]any), "num")
	b.Run("appendEvent", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			body, err := marshal(ev)
			if err != nil {
				b.Fatal(err)
			}
			releaseBody(body)
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			encodingJSON(b, ev)
		}
	})
}
