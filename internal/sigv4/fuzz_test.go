package sigv4

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// Seeds beyond the checked-in corpus (testdata/fuzz): the shapes real clients send.
var authorizationSeeds = []string{
	"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
	"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request,SignedHeaders=host,Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
	"AWS4-HMAC-SHA256 Credential= AKID/20150830/us-east-1/sts/aws4_request",
	"AWS4-HMAC-SHA256 Credential=ABCDEF",
	"AWS AKIAIOSFODNN7EXAMPLE:frJIUN8DYpKDtOLCwo//yllqDzg=",
	"Bearer eyJhbGciOiJSUzI1NiJ9.e30.sig",
	"AWS4-ECDSA-P256-SHA256 Credential=AKID/20150830/sts/aws4_request",
	"AWS4-HMAC-SHA256 Signature=00, Signature=11",
	"",
}

func FuzzParseAuthorization(f *testing.F) {
	for _, s := range authorizationSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		a, err := ParseAuthorization(h)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Code != CodeIncompleteSignature || e.Status != 400 {
				t.Fatalf("error %v is not an IncompleteSignature *Error", err)
			}
			// Messages quote client input, bounded.
			if len(e.Message) > 3*maxMessageEcho+400 {
				t.Fatalf("message of %d bytes", len(e.Message))
			}
			return
		}
		if len(h) > MaxAuthorizationLength || !isLowerHex64(a.Signature) || len(a.SignedHeaders) == 0 ||
			len(a.SignedHeaders) > MaxSignedHeaders || !validAccessKeyID(a.Credential.AccessKeyID) || len(a.Credential.Date) != 8 {
			t.Fatalf("accepted %q as %+v", h, a)
		}
		// Round trip: the canonical rendering parses to the same value.
		again, err := ParseAuthorization(Algorithm + " Credential=" + a.Credential.AccessKeyID + "/" + a.Credential.String() +
			", SignedHeaders=" + strings.Join(a.SignedHeaders, ";") + ", Signature=" + a.Signature)
		if err != nil || again.Credential != a.Credential || strings.Join(again.SignedHeaders, ";") != strings.Join(a.SignedHeaders, ";") {
			t.Fatalf("round trip of %q: %+v, %v", h, again, err)
		}
	})
}

// FuzzVerify feeds whole requests (the suite's text format: request line, headers, blank line,
// body) through Verify with the suite's credentials and clock. Checked: no panic, every failure
// is an *Error with a 400 or 403, and a success names the suite's key and scope.
func FuzzVerify(f *testing.F) {
	f.Add("GET / HTTP/1.1\nHost:example.amazonaws.com\nAuthorization:AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31\nX-Amz-Date:20150830T123600Z\n\n")
	f.Add("GET /?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-SignedHeaders=host&X-Amz-Expires=3600&X-Amz-Signature=2ce6e6d2e0cf2f9d1b55fafec88cd20574c31dc2e7631979f71ba2310083e95b HTTP/1.1\nHost:example.amazonaws.com\n\n")
	f.Fuzz(func(t *testing.T, raw string) {
		r := fuzzRequest(raw)
		if r == nil {
			return
		}
		_, body, _ := strings.Cut(raw, "\n\n")
		opts := vectorOptions("fuzz")
		opts.KeyCache = NewKeyCache(4)
		res, err := Verify(context.Background(), r, []byte(body), opts)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || (e.Status != 400 && e.Status != 403) || e.Code == "" || e.Message == "" {
				t.Fatalf("error %v", err)
			}
			return
		}
		if res.AccessKeyID != vecAccessKeyID || res.Region != vecRegion || res.Service != vecService {
			t.Fatalf("verified as %+v", res)
		}
	})
}

// fuzzRequest is parseRawRequest without the test failures: nil for input that is not a request.
func fuzzRequest(raw string) *http.Request {
	head, _, _ := strings.Cut(raw, "\n\n")
	lines := strings.Split(head, "\n")
	sp1 := strings.IndexByte(lines[0], ' ')
	sp2 := strings.LastIndexByte(lines[0], ' ')
	if sp1 <= 0 || sp2 <= sp1 {
		return nil
	}
	target := lines[0][sp1+1 : sp2]
	p, q, _ := strings.Cut(target, "?")
	r := &http.Request{Method: lines[0][:sp1], RequestURI: target, URL: &url.URL{Path: p, RawQuery: q}, Header: http.Header{}}
	for _, l := range lines[1:] {
		k, v, ok := strings.Cut(l, ":")
		if !ok || k == "" {
			return nil
		}
		if strings.EqualFold(k, "host") {
			r.Host = v
			continue
		}
		r.Header.Add(k, v)
	}
	return r
}
