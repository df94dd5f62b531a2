package awsproto

import (
	"errors"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

func postForm(target, body string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, target, strings.NewReader(body))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	return r
}

func TestParseQuery(t *testing.T) {
	get := func(target string) *http.Request { return httptest.NewRequest(http.MethodGet, target, nil) }
	tests := []struct {
		name    string
		req     *http.Request
		want    map[string]string
		wantErr error
		code    string
		status  int
	}{
		{"POST form as botocore sends it",
			postForm("/", "Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A000000000000%3Arole%2Fci&RoleSessionName=s&WebIdentityToken=a.b.c"),
			map[string]string{"Action": "AssumeRoleWithWebIdentity", "Version": "2011-06-15", "RoleArn": "arn:aws:iam::000000000000:role/ci", "RoleSessionName": "s", "WebIdentityToken": "a.b.c"}, nil, "", 0},
		{"GET query string",
			get("/?Action=GetCallerIdentity&Version=2011-06-15"),
			map[string]string{"Action": "GetCallerIdentity", "Version": "2011-06-15"}, nil, "", 0},
		{"POST merges URL and body (presigned)",
			postForm("/?X-Amz-Date=20260101T000000Z", "Action=GetCallerIdentity"),
			map[string]string{"Action": "GetCallerIdentity", "X-Amz-Date": "20260101T000000Z"}, nil, "", 0},
		{"plus and percent decode",
			postForm("/", "Policy=%7B%22a%22%3A+1%7D&Name=a+b%2Bc"),
			map[string]string{"Policy": `{"a": 1}`, "Name": "a b+c"}, nil, "", 0},
		{"empty value and bare name",
			postForm("/", "Policy=&PolicyArns"),
			map[string]string{"Policy": "", "PolicyArns": ""}, nil, "", 0},
		{"empty pairs skipped",
			postForm("/", "&&Action=X&&"),
			map[string]string{"Action": "X"}, nil, "", 0},
		{"semicolon is data",
			postForm("/", "A=1;B=2"),
			map[string]string{"A": "1;B=2"}, nil, "", 0},
		{"UTF-8 value",
			postForm("/", "Tag=%C3%A9t%C3%A9"),
			map[string]string{"Tag": "été"}, nil, "", 0},
		{"POST with another content type: body not read",
			func() *http.Request {
				r := httptest.NewRequest(http.MethodPost, "/?Action=A", strings.NewReader("Action=B"))
				r.Header.Set("Content-Type", "application/x-amz-json-1.1")
				return r
			}(),
			map[string]string{"Action": "A"}, nil, "", 0},
		{"GET body not read",
			httptest.NewRequest(http.MethodGet, "/?Action=A", strings.NewReader("Action=B")),
			map[string]string{"Action": "A"}, nil, "", 0},
		{"repeated in body", postForm("/", "RoleArn=a&RoleArn=b"), nil, ErrDuplicateParameter, "InvalidParameterValue", 400},
		{"repeated with same value", postForm("/", "RoleArn=a&RoleArn=a"), nil, ErrDuplicateParameter, "InvalidParameterValue", 400},
		{"repeated across URL and body", postForm("/?RoleArn=a", "RoleArn=b"), nil, ErrDuplicateParameter, "InvalidParameterValue", 400},
		{"repeated after decoding", postForm("/", "Role%41rn=a&RoleArn=b"), nil, ErrDuplicateParameter, "InvalidParameterValue", 400},
		{"bad percent escape", postForm("/", "Action=%zz"), nil, ErrMalformedQuery, "MalformedQueryString", 404},
		{"truncated percent escape", postForm("/", "Action=%4"), nil, ErrMalformedQuery, "MalformedQueryString", 404},
		{"bad escape in name", get("/?Act%ion=X"), nil, ErrMalformedQuery, "MalformedQueryString", 404},
		{"invalid UTF-8 value", postForm("/", "Action=%ff"), nil, ErrMalformedQuery, "MalformedQueryString", 404},
		{"invalid UTF-8 name", postForm("/", "%c3=1"), nil, ErrMalformedQuery, "MalformedQueryString", 404},
		{"empty name", postForm("/", "=x"), nil, ErrMalformedQuery, "MalformedQueryString", 404},
		{"too many parameters", postForm("/", manyParams(MaxParams+1)), nil, ErrTooManyParameters, "InvalidQueryParameter", 400},
		{"body over the limit", postForm("/", "A="+strings.Repeat("x", DefaultMaxBody)), nil, ErrBodyTooLarge, "RequestEntityTooLarge", 413},
		{"body over the limit, unknown length",
			func() *http.Request {
				r := postForm("/", "")
				r.Body = io.NopCloser(strings.NewReader("A=" + strings.Repeat("x", DefaultMaxBody)))
				r.ContentLength = -1
				return r
			}(), nil, ErrBodyTooLarge, "RequestEntityTooLarge", 413},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := ParseQuery(tt.req, DefaultMaxBody)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err %v, want %v", err, tt.wantErr)
				}
				e := AsError(err)
				if e.Code != tt.code || e.HTTPStatus != tt.status || e.Type != TypeSender {
					t.Errorf("got %+v, want %s %d", e, tt.code, tt.status)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(v.m, tt.want) {
				t.Errorf("got %v, want %v", v.m, tt.want)
			}
		})
	}
}

func manyParams(n int) string {
	parts := make([]string, n)
	for i := range parts {
		parts[i] = "P" + strconv.Itoa(i) + "=1"
	}
	return strings.Join(parts, "&")
}

func TestParseQueryExactLimit(t *testing.T) {
	body := "A=" + strings.Repeat("x", 62) // exactly 64 bytes
	if _, err := ParseQuery(postForm("/", body), 64); err != nil {
		t.Errorf("a body of exactly maxBody bytes: %v", err)
	}
}

func TestValuesAccessors(t *testing.T) {
	v, err := ParseQueryString("Action=AssumeRole&Version=2011-06-15&Policy=")
	if err != nil {
		t.Fatal(err)
	}
	if v.Action() != "AssumeRole" || v.Version() != "2011-06-15" || v.Len() != 3 {
		t.Errorf("Action %q Version %q Len %d", v.Action(), v.Version(), v.Len())
	}
	if s, ok := v.Lookup("Policy"); !ok || s != "" {
		t.Error("Lookup of an empty value")
	}
	if _, ok := v.Lookup("Nope"); ok || v.Get("Nope") != "" {
		t.Error("Lookup of an absent name")
	}
	if got := v.Names(); !reflect.DeepEqual(got, []string{"Action", "Policy", "Version"}) {
		t.Errorf("Names %v", got)
	}
	var zero Values
	if zero.Get("x") != "" || zero.Len() != 0 {
		t.Error("zero Values")
	}
}

func TestList(t *testing.T) {
	tests := []struct {
		name  string
		query string
		want  []string
		ok    bool
	}{
		{"absent", "Action=X", []string{}, true},
		{"empty as botocore sends it", "TransitiveTagKeys=", []string{}, true},
		{"in order", "TransitiveTagKeys.member.1=a&TransitiveTagKeys.member.2=b", []string{"a", "b"}, true},
		{"out of order on the wire", "TransitiveTagKeys.member.2=b&TransitiveTagKeys.member.1=a", []string{"a", "b"}, true},
		{"ten and more sort numerically", tenMembers(), []string{"1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11"}, true},
		{"other lists ignored", "X.member.1=x&TransitiveTagKeys.member.1=a", []string{"a"}, true},
		{"gap", "TransitiveTagKeys.member.1=a&TransitiveTagKeys.member.3=c", nil, false},
		{"starts at 2", "TransitiveTagKeys.member.2=a", nil, false},
		{"index zero", "TransitiveTagKeys.member.0=a", nil, false},
		{"leading zero", "TransitiveTagKeys.member.01=a", nil, false},
		{"sign", "TransitiveTagKeys.member.+1=a", nil, false},
		{"not a number", "TransitiveTagKeys.member.x=a", nil, false},
		{"empty index", "TransitiveTagKeys.member.=a", nil, false},
		{"over the bound", "TransitiveTagKeys.member.1001=a", nil, false},
		{"field on a scalar list", "TransitiveTagKeys.member.1.Key=a", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := ParseQueryString(tt.query)
			if err != nil {
				t.Fatal(err)
			}
			got, err := v.List("TransitiveTagKeys")
			if !tt.ok {
				if !errors.Is(err, ErrMalformedList) || AsError(err).Code != "InvalidParameterValue" {
					t.Fatalf("err %v, want a list error", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func tenMembers() string {
	var parts []string
	for i := 11; i >= 1; i-- {
		s := strconv.Itoa(i)
		parts = append(parts, "TransitiveTagKeys.member."+s+"="+s)
	}
	return strings.Join(parts, "&")
}

func TestStructs(t *testing.T) {
	tests := []struct {
		name  string
		query string
		want  []map[string]string
		ok    bool
	}{
		{"tags", "Tags.member.1.Key=Project&Tags.member.1.Value=Automation&Tags.member.2.Key=Cost&Tags.member.2.Value=",
			[]map[string]string{{"Key": "Project", "Value": "Automation"}, {"Key": "Cost", "Value": ""}}, true},
		{"missing field left to the caller", "Tags.member.1.Key=Project",
			[]map[string]string{{"Key": "Project"}}, true},
		{"absent", "Action=X", []map[string]string{}, true},
		{"unknown field", "Tags.member.1.key=Project", nil, false},
		{"no field", "Tags.member.1=Project", nil, false},
		{"empty field", "Tags.member.1.=Project", nil, false},
		{"gap", "Tags.member.2.Key=a", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := ParseQueryString(tt.query)
			if err != nil {
				t.Fatal(err)
			}
			got, err := v.Structs("Tags", "Key", "Value")
			if !tt.ok {
				if !errors.Is(err, ErrMalformedList) {
					t.Fatalf("err %v, want a list error", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
	// PolicyArns: the member name is lower-case "arn" [model].
	v, _ := ParseQueryString("PolicyArns.member.1.arn=arn%3Aaws%3Aiam%3A%3Aaws%3Apolicy%2FReadOnlyAccess")
	got, err := v.Structs("PolicyArns", "arn")
	if err != nil || len(got) != 1 || got[0]["arn"] != "arn:aws:iam::aws:policy/ReadOnlyAccess" {
		t.Errorf("PolicyArns: %v %v", got, err)
	}
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, io.ErrUnexpectedEOF }

func TestReadBody(t *testing.T) {
	const body = "Action=GetCallerIdentity&Version=2011-06-15"
	r := postForm("/", body)
	got, err := ReadBody(r, DefaultMaxBody)
	if err != nil || string(got) != body {
		t.Fatalf("ReadBody: %q, %v", got, err)
	}
	// The SigV4 check reads the body after the parser: same bytes.
	again, _ := io.ReadAll(r.Body)
	if string(again) != body {
		t.Errorf("body after ReadBody: %q", again)
	}
	v, err := ParseRequest(r, got)
	if err != nil || v.Action() != "GetCallerIdentity" {
		t.Errorf("ParseRequest: %v, %v", v.m, err)
	}

	tests := []struct {
		name string
		req  *http.Request
		want error
	}{
		{"no body", httptest.NewRequest(http.MethodGet, "/", nil), nil},
		{"declared too long", func() *http.Request {
			r := postForm("/", "x")
			r.ContentLength = DefaultMaxBody + 1
			return r
		}(), ErrBodyTooLarge},
		{"any content type is bounded", func() *http.Request {
			r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(strings.Repeat("x", 65)))
			r.Header.Set("Content-Type", "application/x-amz-json-1.1")
			return r
		}(), ErrBodyTooLarge},
		{"client stops mid-body", func() *http.Request {
			r := postForm("/", "")
			r.Body = io.NopCloser(failingReader{})
			return r
		}(), ErrMalformedQuery},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadBody(tt.req, 64)
			if !errors.Is(err, tt.want) {
				t.Errorf("err %v, want %v", err, tt.want)
			}
			if err != nil && AsError(err).HTTPStatus >= 500 {
				t.Errorf("a client's fault answered with %d", AsError(err).HTTPStatus)
			}
		})
	}
}

// ReadBody takes the body as sent whatever Content-Length declares (the
// length only sizes the buffer), up to its bound.
func TestReadBodyDeclaredLengths(t *testing.T) {
	const max = 64
	for _, tt := range []struct {
		name     string
		body     string
		declared int64
		tooLarge bool
	}{
		{"exact", "x=1", 3, false},
		{"undeclared", "x=1", -1, false},
		{"shorter than declared", "x=1", 10, false},
		{"longer than declared", "x=12345", 3, false},
		{"declared empty", "x=1", 0, false},
		{"empty", "", 0, false},
		{"exactly the bound", strings.Repeat("x", max), max, false},
		{"over the bound, declared shorter", strings.Repeat("x", max+1), 5, true},
		{"over the bound, undeclared", strings.Repeat("x", 3*max), -1, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/", io.MultiReader(strings.NewReader(tt.body[:len(tt.body)/2]), strings.NewReader(tt.body[len(tt.body)/2:])))
			r.ContentLength = tt.declared
			got, err := ReadBody(r, max)
			if tt.tooLarge {
				if !errors.Is(err, ErrBodyTooLarge) {
					t.Fatalf("err %v, want %v", err, ErrBodyTooLarge)
				}
				return
			}
			if err != nil || string(got) != tt.body {
				t.Fatalf("ReadBody: %q, %v", got, err)
			}
			if again, _ := io.ReadAll(r.Body); string(again) != tt.body {
				t.Errorf("body after ReadBody: %q", again)
			}
		})
	}
}

// TestIsForm: the exact forms SDKs send take a fast path; it must decide
// as mime.ParseMediaType does.
func TestIsForm(t *testing.T) {
	for _, c := range []struct {
		name, contentType string
		want              bool
	}{
		{"botocore", "application/x-www-form-urlencoded; charset=utf-8", true},
		{"bare", "application/x-www-form-urlencoded", true},
		{"upper-case charset", "application/x-www-form-urlencoded; charset=UTF-8", true},
		{"upper-case type", "Application/X-WWW-Form-Urlencoded", true},
		{"no space", "application/x-www-form-urlencoded;charset=utf-8", true},
		{"json", "application/x-amz-json-1.1", false},
		{"empty", "", false},
		{"broken parameter", "application/x-www-form-urlencoded; charset=", false},
		{"prefix only", "application/x-www-form-urlencoded-not", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := isForm(c.contentType); got != c.want {
				t.Errorf("isForm(%q) = %v, want %v", c.contentType, got, c.want)
			}
			mt, _, err := mime.ParseMediaType(c.contentType)
			if slow := err == nil && mt == "application/x-www-form-urlencoded"; slow != c.want {
				t.Errorf("mime.ParseMediaType decides %v", slow)
			}
		})
	}
}
