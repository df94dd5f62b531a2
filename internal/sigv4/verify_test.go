package sigv4

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

const (
	testAKID   = "AKIAIOSFODNN7EXAMPLE"
	testSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	tempAKID   = "ASIAIOSFODNN7EXAMPLE"
	tempSecret = "temporarysecretaccesskey0123456789abcdef"
	tempToken  = "IQoJb3JpZ2luX2VjEXAMPLETOKEN"
	oldAKID    = "ASIAEXPIREDEXAMPLE00"
	oldToken   = "IQoJb3JpZ2luX2VjEXPIRED"
	gcBody     = "Action=GetCallerIdentity&Version=2011-06-15"
)

// testSource knows a long-term key, a temporary key with its token, and an expired session.
type testSource struct{}

func (testSource) Lookup(_ context.Context, akid, token string) (Credentials, any, error) {
	switch akid {
	case testAKID:
		return Credentials{AccessKeyID: akid, SecretAccessKey: testSecret}, "user", nil
	case tempAKID:
		if token != tempToken {
			return Credentials{}, nil, ErrInvalidSessionToken
		}
		return Credentials{AccessKeyID: akid, SecretAccessKey: tempSecret, SessionToken: token}, "session", nil
	case oldAKID:
		if token != oldToken {
			return Credentials{}, nil, ErrInvalidSessionToken
		}
		return Credentials{AccessKeyID: akid, SecretAccessKey: tempSecret, SessionToken: token}, nil, ErrExpiredToken
	case "AKIABROKENSTORE0000":
		return Credentials{}, nil, errors.New("store unavailable")
	}
	return Credentials{}, nil, ErrUnknownAccessKey
}

var signTime = time.Date(2013, 5, 24, 0, 0, 0, 0, time.UTC)

func stsOptions(now time.Time) Options {
	return Options{Service: "sts", Regions: []string{"us-east-1"}, Credentials: testSource{}, Now: func() time.Time { return now }}
}

// sdkSign signs an STS GetCallerIdentity POST with aws-sdk-go-v2.
func sdkSign(t testing.TB, creds aws.Credentials, region, service string, at time.Time, body string, mod func(*http.Request)) *http.Request {
	t.Helper()
	r, err := http.NewRequest("POST", "https://sts.amazonaws.com/", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	if mod != nil {
		mod(r)
	}
	sum := sha256.Sum256([]byte(body))
	payload := hex.EncodeToString(sum[:])
	if r.Header.Get("X-Amz-Content-Sha256") == UnsignedPayload {
		payload = UnsignedPayload
	}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, r, payload, service, region, at); err != nil {
		t.Fatal(err)
	}
	return r
}

func sdkPresign(t testing.TB, creds aws.Credentials, at time.Time, expires string) *http.Request {
	t.Helper()
	r, err := http.NewRequest("GET", "https://sts.amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15&X-Amz-Expires="+expires, nil)
	if err != nil {
		t.Fatal(err)
	}
	signed, _, err := v4.NewSigner().PresignHTTP(context.Background(), creds, r, emptySHA256, "sts", "us-east-1", at)
	if err != nil {
		t.Fatal(err)
	}
	pr, err := http.NewRequest("GET", signed, nil)
	if err != nil {
		t.Fatal(err)
	}
	return pr
}

var (
	longTerm = aws.Credentials{AccessKeyID: testAKID, SecretAccessKey: testSecret}
	temp     = aws.Credentials{AccessKeyID: tempAKID, SecretAccessKey: tempSecret, SessionToken: tempToken}
	expired  = aws.Credentials{AccessKeyID: oldAKID, SecretAccessKey: tempSecret, SessionToken: oldToken}
)

func TestVerifyAccepts(t *testing.T) {
	for _, c := range []struct {
		name      string
		req       func(t *testing.T) *http.Request
		now       time.Time
		principal any
	}{
		{"long-term key", func(t *testing.T) *http.Request {
			return sdkSign(t, longTerm, "us-east-1", "sts", signTime, gcBody, nil)
		}, signTime, "user"},
		{"session token", func(t *testing.T) *http.Request { return sdkSign(t, temp, "us-east-1", "sts", signTime, gcBody, nil) }, signTime, "session"},
		{"exactly 5 min old", func(t *testing.T) *http.Request {
			return sdkSign(t, longTerm, "us-east-1", "sts", signTime, gcBody, nil)
		}, signTime.Add(5 * time.Minute), "user"},
		{"exactly 5 min ahead", func(t *testing.T) *http.Request {
			return sdkSign(t, longTerm, "us-east-1", "sts", signTime, gcBody, nil)
		}, signTime.Add(-5 * time.Minute), "user"},
		{"presigned", func(t *testing.T) *http.Request { return sdkPresign(t, longTerm, signTime, "900") }, signTime.Add(14 * time.Minute), "user"},
		{"presigned with token, last second", func(t *testing.T) *http.Request { return sdkPresign(t, temp, signTime, "60") }, signTime.Add(60 * time.Second), "session"},
		{"presigned 7 days", func(t *testing.T) *http.Request { return sdkPresign(t, longTerm, signTime, "604800") }, signTime.Add(6 * 24 * time.Hour), "user"},
		{"Date header instead of X-Amz-Date", func(t *testing.T) *http.Request { return dateHeaderRequest(t, signTime) }, signTime, "user"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := c.req(t)
			body := gcBody
			if r.Method == "GET" {
				body = ""
			}
			res, err := Verify(context.Background(), r, []byte(body), stsOptions(c.now))
			if err != nil {
				t.Fatal(err)
			}
			if res.Principal != c.principal || res.Service != "sts" || res.Region != "us-east-1" || !res.SignedAt.Equal(signTime) {
				t.Errorf("result %+v", res)
			}
		})
	}
}

// dateHeaderRequest signs by hand (no SDK signs with Date alone) a GET whose only time is Date.
func dateHeaderRequest(t testing.TB, at time.Time) *http.Request {
	r, _ := http.NewRequest("GET", "https://sts.amazonaws.com/", nil)
	r.Header.Set("Date", at.Format(http.TimeFormat))
	creq := "GET\n/\n\ndate:" + at.Format(http.TimeFormat) + "\nhost:sts.amazonaws.com\n\ndate;host\n" + emptySHA256
	sum := sha256.Sum256([]byte(creq))
	sts := "AWS4-HMAC-SHA256\n" + at.Format(amzDateFormat) + "\n" + at.Format("20060102") + "/us-east-1/sts/aws4_request\n" + hex.EncodeToString(sum[:])
	k := []byte("AWS4" + testSecret)
	for _, d := range []string{at.Format("20060102"), "us-east-1", "sts", "aws4_request", sts} {
		m := hmac.New(sha256.New, k)
		m.Write([]byte(d))
		k = m.Sum(nil)
	}
	r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+testAKID+"/"+at.Format("20060102")+"/us-east-1/sts/aws4_request, SignedHeaders=date;host, Signature="+hex.EncodeToString(k))
	return r
}

func TestVerifyErrors(t *testing.T) {
	signed := func(t *testing.T) *http.Request {
		return sdkSign(t, longTerm, "us-east-1", "sts", signTime, gcBody, nil)
	}
	withAuth := func(h string) func(t *testing.T) *http.Request {
		return func(t *testing.T) *http.Request {
			r := signed(t)
			r.Header.Set("Authorization", h)
			return r
		}
	}
	editAuth := func(old, new string) func(t *testing.T) *http.Request {
		return func(t *testing.T) *http.Request {
			r := signed(t)
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), old, new, 1))
			return r
		}
	}
	editQuery := func(creds aws.Credentials, expires, old, new string) func(t *testing.T) *http.Request {
		return func(t *testing.T) *http.Request {
			r := sdkPresign(t, creds, signTime, expires)
			r.URL.RawQuery = strings.Replace(r.URL.RawQuery, old, new, 1)
			return r
		}
	}
	const sigMismatch = "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
	for _, c := range []struct {
		name    string
		req     func(t *testing.T) *http.Request
		now     time.Time
		body    string // default gcBody
		opts    func(*Options)
		code    string
		status  int
		message string // exact, or a prefix when it ends in "…"
	}{
		{name: "no authentication",
			req: func(t *testing.T) *http.Request {
				r, _ := http.NewRequest("POST", "https://sts.amazonaws.com/", nil)
				return r
			},
			code: CodeMissingAuthenticationToken, status: 403, message: "Request is missing Authentication Token"},
		{name: "empty Authorization header",
			req: func(t *testing.T) *http.Request {
				r, _ := http.NewRequest("POST", "https://sts.amazonaws.com/", nil)
				r.Header.Set("Authorization", "")
				return r
			},
			code: CodeMissingAuthenticationToken, status: 403, message: "Request is missing Authentication Token"},
		{name: "bearer token, no date",
			req: func(t *testing.T) *http.Request {
				r, _ := http.NewRequest("POST", "https://sts.amazonaws.com/", nil)
				r.Header.Set("Authorization", "Bearer abc")
				return r
			},
			code: CodeIncompleteSignature, status: 400,
			message: "Authorization header requires 'Credential' parameter. Authorization header requires 'Signature' parameter. Authorization header requires 'SignedHeaders' parameter. Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. Authorization=Bearer abc"},
		{name: "only Credential",
			req:  withAuth("AWS4-HMAC-SHA256 Credential=ABCDEF"),
			code: CodeIncompleteSignature, status: 400,
			message: "Authorization header requires 'Signature' parameter. Authorization header requires 'SignedHeaders' parameter. Authorization=AWS4-HMAC-SHA256 Credential=ABCDEF"},
		{name: "space after Credential=",
			req:  editAuth("Credential=", "Credential= "),
			code: CodeIncompleteSignature, status: 400, message: "'" + testAKID + "/20130524/us-east-1/sts/aws4_request' not a valid key=value pair (missing equal-sign) in Authorization header: 'AWS4-HMAC-SHA256 Credential= …"},
		{name: "credential with 4 elements",
			req:  editAuth("/sts/aws4_request", "/sts"),
			code: CodeIncompleteSignature, status: 400, message: "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '" + testAKID + "/20130524/us-east-1/sts'"},
		{name: "unknown component",
			req:  editAuth("SignedHeaders=", "Foo=bar, SignedHeaders="),
			code: CodeIncompleteSignature, status: 400, message: "'Foo' is not a valid Authorization header parameter."},
		{name: "duplicate Signature",
			req:  editAuth("Signature=", "Signature=00, Signature="),
			code: CodeIncompleteSignature, status: 400, message: "Authorization header has a duplicate 'Signature' parameter."},
		{name: "SigV4A algorithm",
			req:  editAuth("AWS4-HMAC-SHA256", "AWS4-ECDSA-P256-SHA256"),
			code: CodeIncompleteSignature, status: 400, message: "Unsupported AWS 'algorithm': 'AWS4-ECDSA-P256-SHA256'"},
		{name: "oversized Authorization",
			req:  withAuth("AWS4-HMAC-SHA256 Credential=" + strings.Repeat("A", MaxAuthorizationLength)),
			code: CodeIncompleteSignature, status: 400, message: "Authorization header is too long"},
		{name: "too many signed headers",
			req:  editAuth("SignedHeaders=", "SignedHeaders="+strings.Repeat("x-a;", MaxSignedHeaders)),
			code: CodeIncompleteSignature, status: 400, message: "SignedHeaders lists too many headers"},
		{name: "host not signed",
			req:  editAuth("host;", ""),
			code: CodeIncompleteSignature, status: 400, message: "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."},
		{name: "malformed X-Amz-Date",
			req: func(t *testing.T) *http.Request {
				r := signed(t)
				r.Header.Set("X-Amz-Date", "2013-05-24T00:00:00Z")
				return r
			},
			code: CodeIncompleteSignature, status: 400, message: "Date must be in ISO-8601 'basic format'. Got '2013-05-24T00:00:00Z'. See http://en.wikipedia.org/wiki/ISO_8601"},
		{name: "token header not signed",
			req: func(t *testing.T) *http.Request {
				r := sdkSign(t, longTerm, "us-east-1", "sts", signTime, gcBody, nil)
				r.Header.Set("X-Amz-Security-Token", tempToken)
				return r
			},
			code: CodeIncompleteSignature, status: 400, message: msgSecurityTokenMustBeSigned},
		{name: "unknown access key",
			req: func(t *testing.T) *http.Request {
				return sdkSign(t, aws.Credentials{AccessKeyID: "AKIANOSUCHKEY0000000", SecretAccessKey: "x"}, "us-east-1", "sts", signTime, gcBody, nil)
			},
			code: CodeInvalidClientTokenID, status: 403, message: "The security token included in the request is invalid"},
		{name: "temporary key without its token",
			req: func(t *testing.T) *http.Request {
				return sdkSign(t, aws.Credentials{AccessKeyID: tempAKID, SecretAccessKey: tempSecret}, "us-east-1", "sts", signTime, gcBody, nil)
			},
			code: CodeInvalidClientTokenID, status: 403, message: "The security token included in the request is invalid"},
		{name: "temporary key with another token",
			req: func(t *testing.T) *http.Request {
				return sdkSign(t, aws.Credentials{AccessKeyID: tempAKID, SecretAccessKey: tempSecret, SessionToken: oldToken}, "us-east-1", "sts", signTime, gcBody, nil)
			},
			code: CodeInvalidClientTokenID, status: 403, message: "The security token included in the request is invalid"},
		{name: "expired session, correctly signed",
			req: func(t *testing.T) *http.Request {
				return sdkSign(t, expired, "us-east-1", "sts", signTime, gcBody, nil)
			},
			code: CodeExpiredToken, status: 403, message: "The security token included in the request is expired"},
		{name: "expired session, wrong secret",
			req: func(t *testing.T) *http.Request {
				return sdkSign(t, aws.Credentials{AccessKeyID: oldAKID, SecretAccessKey: "guess", SessionToken: oldToken}, "us-east-1", "sts", signTime, gcBody, nil)
			},
			code: CodeSignatureDoesNotMatch, status: 403, message: sigMismatch},
		{name: "wrong secret",
			req: func(t *testing.T) *http.Request {
				return sdkSign(t, aws.Credentials{AccessKeyID: testAKID, SecretAccessKey: "wrong"}, "us-east-1", "sts", signTime, gcBody, nil)
			},
			code: CodeSignatureDoesNotMatch, status: 403, message: sigMismatch},
		{name: "altered body",
			req: signed, body: gcBody + "&x=1",
			code: CodeSignatureDoesNotMatch, status: 403, message: sigMismatch},
		{name: "UNSIGNED-PAYLOAD refused outside S3",
			req: func(t *testing.T) *http.Request {
				return sdkSign(t, longTerm, "us-east-1", "sts", signTime, gcBody, func(r *http.Request) { r.Header.Set("X-Amz-Content-Sha256", UnsignedPayload) })
			},
			code: CodeSignatureDoesNotMatch, status: 403, message: sigMismatch},
		{name: "signed 5 min 1 s ago",
			req: signed, now: signTime.Add(5*time.Minute + time.Second),
			code: CodeSignatureDoesNotMatch, status: 403, message: "Signature expired: 20130524T000000Z is now earlier than 20130524T000001Z (20130524T000501Z - 5 min.)"},
		{name: "signed 10 min ago",
			req: signed, now: signTime.Add(10 * time.Minute),
			code: CodeSignatureDoesNotMatch, status: 403, message: "Signature expired: 20130524T000000Z is now earlier than 20130524T000500Z (20130524T001000Z - 5 min.)"},
		{name: "signed in the future",
			req: func(t *testing.T) *http.Request {
				return sdkSign(t, longTerm, "us-east-1", "sts", time.Date(2017, 4, 24, 1, 39, 26, 0, time.UTC), gcBody, nil)
			},
			now:  time.Date(2017, 4, 24, 1, 33, 32, 0, time.UTC),
			code: CodeSignatureDoesNotMatch, status: 403, message: "Signature not yet current: 20170424T013926Z is still later than 20170424T013832Z (20170424T013332Z + 5 min.)"},
		{name: "wrong region",
			req: func(t *testing.T) *http.Request {
				return sdkSign(t, longTerm, "ap-southeast-2", "sts", signTime, gcBody, nil)
			},
			code: CodeSignatureDoesNotMatch, status: 403, message: "Credential should be scoped to a valid region, not 'ap-southeast-2'. "},
		{name: "wrong service",
			req: func(t *testing.T) *http.Request {
				return sdkSign(t, longTerm, "us-east-1", "iam", signTime, gcBody, nil)
			},
			code: CodeSignatureDoesNotMatch, status: 403, message: "Credential should be scoped to correct service: 'sts'. "},
		{name: "wrong region and service",
			req: func(t *testing.T) *http.Request {
				return sdkSign(t, longTerm, "eu-west-1", "iam", signTime, gcBody, nil)
			},
			code: CodeSignatureDoesNotMatch, status: 403, message: "Credential should be scoped to a valid region, not 'eu-west-1'. Credential should be scoped to correct service: 'sts'. "},
		{name: "scope date differs from X-Amz-Date",
			req:  editAuth("/20130524/", "/20130523/"),
			code: CodeSignatureDoesNotMatch, status: 403, message: "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP…"},
		{name: "scope terminator",
			req:  editAuth("aws4_request", "aws5_request"),
			code: CodeSignatureDoesNotMatch, status: 403, message: "Credential should be scoped with a valid terminator: 'aws4_request', not 'aws5_request'. "},
		{name: "header and query auth",
			req: func(t *testing.T) *http.Request {
				r := sdkPresign(t, longTerm, signTime, "60")
				r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=x")
				return r
			},
			code: CodeIncompleteSignature, status: 400, message: msgOnlyOneAuthMechanism},
		{name: "presigned, expired",
			req: func(t *testing.T) *http.Request { return sdkPresign(t, longTerm, signTime, "60") }, now: signTime.Add(61 * time.Second),
			code: CodeRequestExpired, status: 400, message: "Request has expired"},
		{name: "presigned, signed in the future",
			req: func(t *testing.T) *http.Request { return sdkPresign(t, longTerm, signTime, "60") }, now: signTime.Add(-6 * time.Minute),
			code: CodeSignatureDoesNotMatch, status: 403, message: "Signature not yet current: 20130524T000000Z is still later than 20130523T235900Z (20130523T235400Z + 5 min.)"},
		{name: "presigned, X-Amz-Expires over 7 days",
			req:  editQuery(longTerm, "604801", "", ""),
			code: CodeIncompleteSignature, status: 400, message: "X-Amz-Expires must be less than a week (in seconds) that is 604800"},
		{name: "presigned, X-Amz-Expires zero",
			req:  editQuery(longTerm, "0", "", ""),
			code: CodeIncompleteSignature, status: 400, message: msgExpiresInvalid},
		{name: "presigned, X-Amz-Expires signed number",
			req:  editQuery(longTerm, "%2B60", "", ""),
			code: CodeIncompleteSignature, status: 400, message: msgExpiresInvalid},
		{name: "presigned, missing X-Amz-SignedHeaders",
			req:  editQuery(longTerm, "60", "X-Amz-SignedHeaders=", "X-Amz-Unsigned="),
			code: CodeIncompleteSignature, status: 400, message: "Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters."},
		{name: "presigned, repeated token",
			req: func(t *testing.T) *http.Request {
				r := sdkPresign(t, temp, signTime, "60")
				r.URL.RawQuery += "&X-Amz-Security-Token=" + url.QueryEscape(tempToken)
				return r
			},
			code: CodeIncompleteSignature, status: 400, message: "Query parameter 'X-Amz-Security-Token' must appear only once"},
		{name: "presigned, token swapped",
			req:  editQuery(temp, "60", "X-Amz-Security-Token="+tempToken, "X-Amz-Security-Token="+oldToken),
			code: CodeInvalidClientTokenID, status: 403, message: "The security token included in the request is invalid"},
		{name: "presigned, other algorithm",
			req:  editQuery(longTerm, "60", "X-Amz-Algorithm=AWS4-HMAC-SHA256", "X-Amz-Algorithm=AWS4-HMAC-SHA512"),
			code: CodeIncompleteSignature, status: 400, message: "Unsupported AWS 'algorithm': 'AWS4-HMAC-SHA512'"},
		{name: "presigned, bad percent-encoding",
			req:  editQuery(longTerm, "60", "Version=", "Version=%zz"),
			code: CodeIncompleteSignature, status: 400, message: msgMalformedQueryString},
	} {
		t.Run(c.name, func(t *testing.T) {
			now := c.now
			if now.IsZero() {
				now = signTime
			}
			r := c.req(t)
			body := gcBody
			switch {
			case r.Method == "GET":
				body = ""
			case c.body != "":
				body = c.body
			}
			opts := stsOptions(now)
			if c.opts != nil {
				c.opts(&opts)
			}
			res, err := Verify(context.Background(), r, []byte(body), opts)
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("got %v, %v; want *Error %s", res, err, c.code)
			}
			if e.Code != c.code || e.Status != c.status {
				t.Errorf("got %s %d (%v), want %s %d", e.Code, e.Status, err, c.code, c.status)
			}
			if prefix, ok := strings.CutSuffix(c.message, "…"); ok {
				if !strings.HasPrefix(e.Message, prefix) {
					t.Errorf("message %q, want prefix %q", e.Message, prefix)
				}
			} else if e.Message != c.message {
				t.Errorf("message\n got %q\nwant %q", e.Message, c.message)
			}
			if e.Cause == nil {
				t.Error("no Cause for logs")
			}
		})
	}
}

func TestVerifyInternalErrors(t *testing.T) {
	r := sdkSign(t, aws.Credentials{AccessKeyID: "AKIABROKENSTORE0000", SecretAccessKey: "x"}, "us-east-1", "sts", signTime, gcBody, nil)
	_, err := Verify(context.Background(), r, []byte(gcBody), stsOptions(signTime))
	var e *Error
	if err == nil || errors.As(err, &e) || err.Error() != "store unavailable" {
		t.Errorf("lookup failure: got %v, want the source's error unchanged", err)
	}
	if _, err := Verify(context.Background(), r, nil, Options{Service: "sts"}); err == nil || errors.As(err, &e) {
		t.Errorf("incomplete Options: got %v", err)
	}
	// ExpiredToken without a secret: nothing to verify against, answered directly.
	noSecret := CredentialSourceFunc(func(context.Context, string, string) (Credentials, any, error) {
		return Credentials{}, nil, ErrExpiredToken
	})
	opts := stsOptions(signTime)
	opts.Credentials = noSecret
	if _, err := Verify(context.Background(), sdkSign(t, expired, "us-east-1", "sts", signTime, gcBody, nil), []byte(gcBody), opts); !errors.As(err, &e) || e.Code != CodeExpiredToken {
		t.Errorf("expired without secret: %v", err)
	}
}

func TestUnsignedPayloadAllowed(t *testing.T) {
	r := sdkSign(t, longTerm, "us-east-1", "sts", signTime, gcBody, func(r *http.Request) { r.Header.Set("X-Amz-Content-Sha256", UnsignedPayload) })
	opts := stsOptions(signTime)
	opts.AllowUnsignedPayload = true
	if _, err := Verify(context.Background(), r, []byte("any body at all"), opts); err != nil {
		t.Fatal(err)
	}
}

func TestKeyCache(t *testing.T) {
	c := NewKeyCache(3)
	want := deriveSigningKey(testSecret, "20130524", "us-east-1", "sts")
	if got := c.get(testSecret, "20130524", "us-east-1", "sts"); got != want {
		t.Fatal("cached key differs from derived key")
	}
	if got := c.get(testSecret, "20130524", "us-east-1", "sts"); got != want || c.Len() != 1 {
		t.Fatal("second lookup")
	}
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() {
			secret := testSecret + string(rune('a'+i%26))
			if c.get(secret, "20130524", "us-east-1", "sts") != deriveSigningKey(secret, "20130524", "us-east-1", "sts") {
				t.Error("concurrent get")
			}
		})
	}
	wg.Wait()
	if c.Len() > 3 {
		t.Errorf("cache holds %d keys, bound is 3", c.Len())
	}
	// The AWS documentation's worked example of the derivation (IAM user guide, "Create a
	// signed AWS API request"): secret wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY, 20150830,
	// us-east-1, iam.
	k := deriveSigningKey("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20150830", "us-east-1", "iam")
	if got := hex.EncodeToString(k[:]); got != "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9" {
		t.Errorf("derived key %s", got)
	}
	// Unknown keys never enter the cache.
	opts := stsOptions(signTime)
	opts.KeyCache = NewKeyCache(8)
	r := sdkSign(t, aws.Credentials{AccessKeyID: "AKIANOSUCHKEY0000000", SecretAccessKey: "x"}, "us-east-1", "sts", signTime, gcBody, nil)
	if _, err := Verify(context.Background(), r, []byte(gcBody), opts); err == nil || opts.KeyCache.Len() != 0 {
		t.Errorf("unknown key: %v, cache %d", err, opts.KeyCache.Len())
	}
}

func TestHasSignature(t *testing.T) {
	r, _ := http.NewRequest("POST", "https://sts.amazonaws.com/?Action=AssumeRoleWithWebIdentity", nil)
	if HasSignature(r) {
		t.Error("unsigned request reported signed")
	}
	if !HasSignature(sdkPresign(t, longTerm, signTime, "60")) || !HasSignature(sdkSign(t, longTerm, "us-east-1", "sts", signTime, gcBody, nil)) {
		t.Error("signed request reported unsigned")
	}
}
