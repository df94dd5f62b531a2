package issuer

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestDecodeMintRequestErrors(t *testing.T) {
	big := `{"aud":"a","project_path":"g/p","ref":"main","user_login":"` + strings.Repeat("x", MaxRequestBytes) + `"}`
	cases := []struct {
		name      string
		body      string
		wantField string // "" with wantTooLarge
		tooLarge  bool
	}{
		{"empty body", ``, "body", false},
		{"whitespace body", "  \n", "body", false},
		{"not an object", `[1,2]`, "body", false},
		{"null", `null`, "body", false},
		{"control character in unknown name", `{"ref\u0000":"x"}`, "body", false},
		{"unknown field", `{"aud":"a","foo":1}`, "foo", false},
		{"unknown nested in aud position", `{"aud":{"x":1}}`, "aud", false},
		{"project_id as number", `{"project_id":28}`, "project_id", false},
		{"ref_protected as bool", `{"ref_protected":true}`, "ref_protected", false},
		{"aud as number", `{"aud":7}`, "aud", false},
		{"aud list of numbers", `{"aud":[1]}`, "aud", false},
		{"ttl as string", `{"ttl_seconds":"300"}`, "ttl_seconds", false},
		{"ttl fractional", `{"ttl_seconds":1.5}`, "ttl_seconds", false},
		{"sub components not a list", `{"sub_claim_components":"project_path"}`, "sub_claim_components", false},
		{"duplicate member", `{"aud":"a","aud":"b"}`, "aud", false},
		{"case variant member", `{"AUD":"a"}`, "AUD", false},
		{"invalid UTF-8", "{\"aud\":\"\xff\"}", "aud", false},
		{"trailing garbage", `{"aud":"a"} x`, "body", false},
		{"truncated", `{"aud":"a"`, "body", false},
		{"oversized", big, "", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, err := DecodeMintRequest(strings.NewReader(tc.body))
			if tc.tooLarge {
				if !errors.Is(err, ErrRequestTooLarge) {
					t.Fatalf("err = %v, want ErrRequestTooLarge", err)
				}
				return
			}
			if err == nil && tc.wantField == "" {
				err = req.validate()
				if fe, ok := err.(*FieldError); !ok || fe.Field != "aud" {
					t.Fatalf("validate err = %v, want aud", err)
				}
				return
			}
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("err = %v (%T), want *FieldError", err, err)
			}
			if fe.Field != tc.wantField {
				t.Fatalf("field = %q (%v), want %q", fe.Field, err, tc.wantField)
			}
		})
	}
}

func TestMintRequestValidate(t *testing.T) {
	ok := func() *MintRequest {
		return &MintRequest{Audience: Audience{"https://gitlab.example.com"}, ProjectPath: "mygroup/myproject", Ref: "main"}
	}
	neg := int64(-1)
	zero := int64(0)
	cases := []struct {
		name      string
		mutate    func(*MintRequest)
		wantField string
	}{
		{"minimal request is valid", func(*MintRequest) {}, ""},
		{"subgroups are valid", func(r *MintRequest) { r.ProjectPath = "a/b/c.d_e-f" }, ""},
		{"empty aud list", func(r *MintRequest) { r.Audience = Audience{} }, "aud"},
		{"empty aud string", func(r *MintRequest) { r.Audience = Audience{""} }, "aud"},
		{"blank aud in list", func(r *MintRequest) { r.Audience = Audience{"a", " "} }, "aud"},
		{"aud too long", func(r *MintRequest) { r.Audience = Audience{strings.Repeat("a", 256)} }, "aud"},
		{"ttl zero", func(r *MintRequest) { r.TTLSeconds = &zero }, "ttl_seconds"},
		{"ttl negative", func(r *MintRequest) { r.TTLSeconds = &neg }, "ttl_seconds"},
		{"sub components empty", func(r *MintRequest) { r.SubClaimComponents = []string{} }, "sub_claim_components"},
		{"sub components not starting with project_path", func(r *MintRequest) { r.SubClaimComponents = []string{"ref", "project_path"} }, "sub_claim_components"},
		{"sub component not allowed", func(r *MintRequest) { r.SubClaimComponents = []string{"project_path", "user_email"} }, "sub_claim_components"},
		{"sub component repeated", func(r *MintRequest) { r.SubClaimComponents = []string{"project_path", "ref", "ref"} }, "sub_claim_components"},
		{"missing project_path", func(r *MintRequest) { r.ProjectPath = "" }, "project_path"},
		{"project without group", func(r *MintRequest) { r.ProjectPath = "myproject" }, "project_path"},
		{"project path with colon", func(r *MintRequest) { r.ProjectPath = "g/p:ref:main" }, "project_path"},
		{"project path traversal", func(r *MintRequest) { r.ProjectPath = "g/../p" }, ""}, // dots are legal GitLab path chars; no filesystem use
		{"namespace not a prefix", func(r *MintRequest) { r.NamespacePath = "other" }, "namespace_path"},
		{"missing ref", func(r *MintRequest) { r.Ref = "" }, "ref"},
		{"ref with colon", func(r *MintRequest) { r.Ref = "main:evil" }, "ref"},
		{"ref with refs prefix", func(r *MintRequest) { r.Ref = "refs/heads/main" }, "ref"},
		{"ref with newline", func(r *MintRequest) { r.Ref = "ma\nin" }, "ref"},
		{"ref with space", func(r *MintRequest) { r.Ref = "a b" }, "ref"},
		{"project_id not digits", func(r *MintRequest) { r.ProjectID = "12a" }, "project_id"},
		{"pipeline_id negative", func(r *MintRequest) { r.PipelineID = "-1" }, "pipeline_id"},
		{"ref_type mr", func(r *MintRequest) { r.RefType = "mr" }, "ref_type"},
		{"ref_protected yes", func(r *MintRequest) { r.RefProtected = "yes" }, "ref_protected"},
		{"bad deployment tier", func(r *MintRequest) { r.Environment = "prod"; r.DeploymentTier = "prod" }, "deployment_tier"},
		{"tier without environment", func(r *MintRequest) { r.DeploymentTier = "production" }, "deployment_tier"},
		{"bad visibility", func(r *MintRequest) { r.ProjectVisibility = "secret" }, "project_visibility"},
		{"bad sha", func(r *MintRequest) { r.SHA = "XYZ" }, "sha"},
		{"user login without user id", func(r *MintRequest) { r.UserLogin = "alice" }, "user_id"},
		{"environment with control char", func(r *MintRequest) { r.Environment = "prod\x00" }, "environment"},
		{"unknown pipeline source", func(r *MintRequest) { r.PipelineSource = "carrier-pigeon" }, "pipeline_source"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := ok()
			tc.mutate(r)
			err := r.validate()
			if tc.wantField == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field != tc.wantField {
				t.Fatalf("err = %v, want a FieldError on %q", err, tc.wantField)
			}
		})
	}
}

// FuzzParseMintRequest: the decoder never panics, every error it returns is
// a FieldError whose field name is short valid UTF-8 (it is echoed to the
// client), and a request it accepts either validates or fails validation
// with a FieldError.
func FuzzParseMintRequest(f *testing.F) {
	for _, seed := range []string{
		`{"aud":"https://gitlab.example.com","project_path":"mygroup/myproject","ref":"main"}`,
		`{"aud":["a","b"],"project_path":"g/s/p","ref":"v1","ref_type":"tag","ttl_seconds":60}`,
		`{"aud":"a","project_path":"g/p","ref":"main","sub_claim_components":["project_path","ref"]}`,
		`{"aud":"a","aud":"b"}`,
		`{"AUD":"a"}`,
		`{"aud":"\ud800"}`,
		`{"a\u0000b":1}`,
		`{"aud":[[[[[[[[[[]]]]]]]]]]}`,
		`{"ttl_seconds":1e400}`,
		`{"ttl_seconds":-9223372036854775809}`,
		"{\"environment\":\"\xff\xfe\"}",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := ParseMintRequest(body)
		if err != nil {
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("error of type %T: %v", err, err)
			}
			if !utf8.ValidString(fe.Field) || len(fe.Field) > 64 {
				t.Fatalf("field name unfit to echo: %q", fe.Field)
			}
			return
		}
		if err := req.validate(); err != nil {
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("validate error of type %T: %v", err, err)
			}
		}
	})
}
