package sigv4

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func TestCanonicalURI(t *testing.T) {
	for _, c := range []struct {
		name, raw    string
		singleEncode bool
		want         string
	}{
		{"root", "/", false, "/"},
		{"empty", "", false, "/"},
		{"plain", "/a/b", false, "/a/b"},
		{"double slashes", "//a//b//", false, "/a/b/"},
		{"dot segments", "/a/./b/../c", false, "/a/c"},
		{"dotdot above root", "/../../a", false, "/a"},
		{"trailing dotdot keeps slash", "/a/b/..", false, "/a/"},
		{"dot-prefixed names are names", "/.well-known/x", false, "/.well-known/x"},
		{"client escapes encoded again", "/a%20b/%7e", false, "/a%2520b/%257e"},
		{"raw space and UTF-8", "/a b/ሴ", false, "/a%20b/%E1%88%B4"},
		{"sub-delims", "/a@b,c;d=e", false, "/a%40b%2Cc%3Bd%3De"},
		{"S3: no normalization", "//a/./b/../", true, "//a/./b/../"},
		{"S3: decoded then encoded once", "/a%20b/%7e/c+d", true, "/a%20b/~/c%2Bd"},
		{"S3: invalid escape kept literally", "/a%zz", true, "/a%25zz"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := string(appendCanonicalURI(nil, c.raw, c.singleEncode)); got != c.want {
				t.Errorf("got %q, want %q", got, c.want)
			}
		})
	}
}

func TestCanonicalQuery(t *testing.T) {
	for _, c := range []struct {
		name, raw string
		presigned bool
		want      string
		err       bool
	}{
		{"empty", "", false, "", false},
		{"sorted by name then value", "b=2&a=3&a=1", false, "a=1&a=3&b=2", false},
		{"key without value", "acl", false, "acl=", false},
		{"empty pairs skipped", "a=1&&b=2&", false, "a=1&b=2", false},
		{"plus is space, encoded %20", "a=b+c", false, "a=b%20c", false},
		{"encoded plus stays plus", "a=b%2Bc", false, "a=b%2Bc", false},
		{"sort is by encoded name", "Param-3=Value3&Param=Value2&%E1%88%B4=Value1", false, "%E1%88%B4=Value1&Param=Value2&Param-3=Value3", false},
		{"lower-case escapes normalized", "a=%7e%2f", false, "a=~%2F", false},
		{"signature excluded when presigned", "X-Amz-Signature=ab&a=1", true, "a=1", false},
		{"signature kept otherwise", "X-Amz-Signature=ab&a=1", false, "X-Amz-Signature=ab&a=1", false},
		{"bad escape", "a=%g1", false, "", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := appendCanonicalQuery(nil, c.raw, c.presigned)
			if (err != nil) != c.err {
				t.Fatalf("err %v", err)
			}
			if !c.err && string(got) != c.want {
				t.Errorf("got %q, want %q", got, c.want)
			}
		})
	}
}

func TestCanonicalHeaders(t *testing.T) {
	r := &http.Request{Host: "sts.amazonaws.com", Header: http.Header{}, URL: &url.URL{}, ContentLength: 43}
	r.Header.Add("My-Header", "  a   b  ")
	r.Header.Add("My-Header", "c")
	r.Header.Add("X-Amz-Date", "20130524T000000Z")
	r.Header["weird header"] = []string{"v"} // not canonicalizable: stored as sent
	got, err := appendCanonicalHeaders(nil, r, []string{"content-length", "host", "my-header", "weird header", "x-amz-date"})
	if err != nil {
		t.Fatal(err)
	}
	want := "content-length:43\nhost:sts.amazonaws.com\nmy-header:a b,c\nweird header:v\nx-amz-date:20130524T000000Z\n"
	if string(got) != want {
		t.Errorf("got %q\nwant %q", got, want)
	}
	if _, err := appendCanonicalHeaders(nil, r, []string{"x-absent"}); err == nil || !strings.Contains(err.Error(), "absent") {
		t.Errorf("absent signed header: %v", err)
	}
}

func TestParseAuthorization(t *testing.T) {
	const sig = "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
	for _, c := range []struct {
		name, h string
		want    Authorization
	}{
		{"SDK form", "AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/sts/aws4_request, SignedHeaders=host;x-amz-date, Signature=" + sig,
			Authorization{Scope{"AKID", "20150830", "us-east-1", "sts", "aws4_request"}, []string{"host", "x-amz-date"}, sig}},
		{"no spaces, other order", "AWS4-HMAC-SHA256 Signature=" + sig + ",SignedHeaders=host,Credential=AKID/20150830/eu-west-3/iam/aws4_request",
			Authorization{Scope{"AKID", "20150830", "eu-west-3", "iam", "aws4_request"}, []string{"host"}, sig}},
		{"terminator kept for Verify", "AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/sts/aws5_request, SignedHeaders=host, Signature=" + sig,
			Authorization{Scope{"AKID", "20150830", "us-east-1", "sts", "aws5_request"}, []string{"host"}, sig}},
	} {
		t.Run(c.name, func(t *testing.T) {
			a, err := ParseAuthorization(c.h)
			if err != nil {
				t.Fatal(err)
			}
			if a.Credential != c.want.Credential || a.Signature != c.want.Signature || strings.Join(a.SignedHeaders, ";") != strings.Join(c.want.SignedHeaders, ";") {
				t.Errorf("got %+v, want %+v", a, c.want)
			}
		})
	}
	for _, c := range []struct{ name, h, msg string }{
		{"bad date", "AWS4-HMAC-SHA256 Credential=AKID/2015083/us-east-1/sts/aws4_request, SignedHeaders=host, Signature=" + sig, "Credential date must be in yyyyMMdd format"},
		{"upper-case region", "AWS4-HMAC-SHA256 Credential=AKID/20150830/US-EAST-1/sts/aws4_request, SignedHeaders=host, Signature=" + sig, "Credential region, service and terminator"},
		{"upper-case signed header", "AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/sts/aws4_request, SignedHeaders=Host, Signature=" + sig, "SignedHeaders contains an invalid header name"},
		{"duplicate signed header", "AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/sts/aws4_request, SignedHeaders=host;host, Signature=" + sig, "SignedHeaders contains a duplicate header"},
		{"empty signed header", "AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/sts/aws4_request, SignedHeaders=host;, Signature=" + sig, "SignedHeaders contains an invalid header name"},
		{"short signature", "AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/sts/aws4_request, SignedHeaders=host, Signature=abc", "Signature must be 64"},
		{"upper-case signature", "AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/sts/aws4_request, SignedHeaders=host, Signature=" + strings.ToUpper(sig), "Signature must be 64"},
		{"bad access key id", "AWS4-HMAC-SHA256 Credential=AK ID/20150830/us-east-1/sts/aws4_request, SignedHeaders=host, Signature=" + sig, "'ID/20150830/us-east-1/sts/aws4_request' not a valid key=value pair"},
		{"SigV2", "AWS AKIAIOSFODNN7EXAMPLE:frJIUN8DYpKDtOLCwo//yllqDzg=", "Authorization header requires 'Credential' parameter. Authorization header requires 'Signature' parameter. Authorization header requires 'SignedHeaders' parameter. Authorization=AWS AKIAIOSFODNN7EXAMPLE:"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseAuthorization(c.h)
			e, ok := err.(*Error)
			if !ok || e.Code != CodeIncompleteSignature || !strings.HasPrefix(e.Message, c.msg) {
				t.Errorf("got %v, want IncompleteSignature %q…", err, c.msg)
			}
		})
	}
}
