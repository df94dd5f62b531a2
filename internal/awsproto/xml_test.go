package awsproto

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"flag"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.* from the current output")

// golden compares got with testdata/name, or rewrites it under -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs:\n got:\n%s\nwant:\n%s", name, got, want)
	}
}

const fixedRequestID = "af0f7b07-5208-41e3-81b2-cfe47957f7e6"

func TestQueryErrorGolden(t *testing.T) {
	tests := []struct {
		name      string
		namespace string
		err       *Error
	}{
		{"sts_invalid_identity_token", STSNamespace, NewError(400, "InvalidIdentityToken", "Incorrect token audience")},
		{"sts_verification_key", STSNamespace, NewError(400, "InvalidIdentityToken", "Couldn't retrieve verification key from your identity provider,  please reference AssumeRoleWithWebIdentity documentation for requirements")},
		{"sts_internal_failure", STSNamespace, InternalFailure()},
		{"iam_no_such_entity", IAMNamespace, NewError(404, "NoSuchEntity", "The role with name gitlab-ci cannot be found.")},
		{"escaping", STSNamespace, ValidationError("Value 'a<b>&\"c\"\r\n\x00\xff' at 'roleSessionName' failed")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			WriteQueryError(rec, tt.namespace, fixedRequestID, tt.err)
			if rec.Code != tt.err.HTTPStatus {
				t.Errorf("status %d, want %d", rec.Code, tt.err.HTTPStatus)
			}
			if got := rec.Header().Values(RequestIDHeader); len(got) != 1 || got[0] != fixedRequestID {
				t.Errorf("request id header %q", got)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "text/xml" {
				t.Errorf("Content-Type %q", ct)
			}
			golden(t, "error_"+tt.name+".golden.xml", rec.Body.Bytes())

			// Whatever went in, an XML parser reads back the code and
			// message (modulo the characters XML cannot carry).
			var doc struct {
				XMLName xml.Name
				Type    string `xml:"Error>Type"`
				Code    string `xml:"Error>Code"`
				Message string `xml:"Error>Message"`
				ReqID   string `xml:"RequestId"`
			}
			if err := xml.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
				t.Fatalf("not XML: %v", err)
			}
			if doc.XMLName.Space != tt.namespace || doc.XMLName.Local != "ErrorResponse" {
				t.Errorf("root %v", doc.XMLName)
			}
			if doc.Code != tt.err.Code || doc.ReqID != fixedRequestID || doc.Type != tt.err.Type {
				t.Errorf("read back %+v", doc)
			}
			if tt.name != "escaping" && doc.Message != tt.err.Message {
				t.Errorf("message %q, want %q", doc.Message, tt.err.Message)
			}
		})
	}
}

func TestQueryErrorEscapingReadsBack(t *testing.T) {
	body := QueryErrorBody(STSNamespace, fixedRequestID, ValidationError("a<b>&\"c\"\r\n\tz\x00\xff\uFFFE"))
	var doc struct {
		Message string `xml:"Error>Message"`
	}
	if err := xml.Unmarshal(body, &doc); err != nil {
		t.Fatal(err)
	}
	if want := "a<b>&\"c\"\r\n\tz\uFFFD\uFFFD\uFFFD"; doc.Message != want {
		t.Errorf("message %q, want %q", doc.Message, want)
	}
}

func TestQueryErrorTooLargeHasNoBody(t *testing.T) {
	rec := httptest.NewRecorder()
	WriteQueryError(rec, STSNamespace, fixedRequestID, bodyTooLarge())
	if rec.Code != http.StatusRequestEntityTooLarge || rec.Body.Len() != 0 {
		t.Errorf("got %d with %d bytes; want 413 with none", rec.Code, rec.Body.Len())
	}
	if rec.Header().Get(RequestIDHeader) == "" {
		t.Error("no request id")
	}
}

func TestQueryResponseGolden(t *testing.T) {
	rec := httptest.NewRecorder()
	WriteQueryResponse(rec, STSNamespace, "GetCallerIdentity", fixedRequestID, func(x *XMLWriter) {
		x.Element("Arn", "arn:aws:sts::000000000000:assumed-role/gitlab-ci/s&s")
		x.Element("UserId", "AROAEXAMPLEEXAMPLE123:s&s")
		x.Element("Account", "000000000000")
		x.OptElement("Absent", "")
		x.Start("Nested")
		x.Element("Inner", "<v>")
		x.End("Nested")
	})
	if rec.Code != 200 || rec.Header().Get("Content-Type") != "text/xml" {
		t.Errorf("status %d, Content-Type %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	golden(t, "response_get_caller_identity.golden.xml", rec.Body.Bytes())
	var doc struct {
		Arn   string `xml:"GetCallerIdentityResult>Arn"`
		Inner string `xml:"GetCallerIdentityResult>Nested>Inner"`
		ReqID string `xml:"ResponseMetadata>RequestId"`
	}
	if err := xml.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Arn != "arn:aws:sts::000000000000:assumed-role/gitlab-ci/s&s" || doc.Inner != "<v>" || doc.ReqID != fixedRequestID {
		t.Errorf("read back %+v", doc)
	}
}

func TestJSONErrorGolden(t *testing.T) {
	tests := []struct {
		name string
		err  *Error
	}{
		{"kms_not_found", NewError(400, "NotFoundException", "Key 'arn:aws:kms:us-east-1:000000000000:key/1234' does not exist")},
		{"escaping", NewError(400, "ValidationException", "a<b>&\"c\"\n")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			WriteJSONError(rec, fixedRequestID, tt.err)
			if rec.Code != 400 || rec.Header().Get("Content-Type") != "application/x-amz-json-1.1" {
				t.Errorf("status %d, Content-Type %q", rec.Code, rec.Header().Get("Content-Type"))
			}
			if got := rec.Header().Values(RequestIDHeader); len(got) != 1 || got[0] != fixedRequestID {
				t.Errorf("request id header %q", got)
			}
			golden(t, "error_json_"+tt.name+".golden.json", rec.Body.Bytes())
			var doc map[string]string
			if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
				t.Fatal(err)
			}
			if doc["__type"] != tt.err.Code || doc["message"] != tt.err.Message || len(doc) != 2 {
				t.Errorf("read back %v", doc)
			}
		})
	}
}

func TestNewErrorType(t *testing.T) {
	tests := []struct {
		name   string
		status int
		want   string
	}{
		{"400 is Sender", 400, TypeSender},
		{"403 is Sender", 403, TypeSender},
		{"500 is Receiver", 500, TypeReceiver},
		{"503 is Receiver", 503, TypeReceiver},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := NewError(tt.status, "C", "m").Type; got != tt.want {
				t.Errorf("Type %q, want %q", got, tt.want)
			}
		})
	}
}

func TestAsError(t *testing.T) {
	e := ExpiredToken()
	if AsError(e) != e {
		t.Error("AsError lost the *Error")
	}
	if got := AsError(os.ErrNotExist); got.Code != "InternalFailure" || got.HTTPStatus != 500 || strings.Contains(got.Message, "not exist") {
		t.Errorf("AsError(other) = %+v", got)
	}
}

var uuidV4 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestNewRequestID(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := NewRequestID()
		if !uuidV4.MatchString(id) {
			t.Fatalf("%q is not a v4 UUID", id)
		}
		if seen[id] {
			t.Fatalf("repeated %q", id)
		}
		seen[id] = true
	}
}
