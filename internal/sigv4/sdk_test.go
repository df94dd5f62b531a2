package sigv4

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/smithy-go/encoding/httpbinding"
)

// The differential test: aws-sdk-go-v2's signer signs random requests, which travel over
// loopback through net/http (so Verify sees exactly what a server sees: Host moved out of the
// header map, the raw request target, Content-Length as a header), and Verify must accept
// every one. Then each signed element is mutated on the received request and Verify must
// refuse with the right code.

type staticSource struct {
	mu   sync.Mutex
	keys map[string]Credentials
}

func (s *staticSource) Lookup(_ context.Context, akid, token string) (Credentials, any, error) {
	s.mu.Lock()
	c, ok := s.keys[akid]
	s.mu.Unlock()
	if !ok {
		return Credentials{}, nil, ErrUnknownAccessKey
	}
	if c.SessionToken != token {
		return Credentials{}, nil, ErrInvalidSessionToken
	}
	return c, "principal:" + akid, nil
}

// sdkCase is one randomly generated request and how it was signed.
type sdkCase struct {
	method    string
	path      string
	query     url.Values
	headers   http.Header
	body      []byte
	creds     aws.Credentials
	region    string
	service   string
	presigned bool
	s3        bool // S3 path rules and UNSIGNED-PAYLOAD
	unsigned  bool
}

const pathChars = "abcXYZ019-._~ !$&'()*+,;=:@%é€ሴ"

func randString(rng *rand.Rand, alphabet string, minLen, maxLen int) string {
	runes := []rune(alphabet)
	n := minLen + rng.IntN(maxLen-minLen+1)
	var b strings.Builder
	for range n {
		b.WriteRune(runes[rng.IntN(len(runes))])
	}
	return b.String()
}

func randomCase(rng *rand.Rand, i int) sdkCase {
	c := sdkCase{
		method:  []string{"GET", "POST", "PUT", "DELETE", "PATCH"}[rng.IntN(5)],
		query:   url.Values{},
		headers: http.Header{},
		region:  []string{"us-east-1", "eu-west-3"}[rng.IntN(2)],
		service: []string{"sts", "iam", "kms", "s3"}[rng.IntN(4)],
	}
	c.s3 = c.service == "s3"
	c.presigned = rng.IntN(3) == 0
	// Paths: non-S3 services get already-normalized paths, because the Go SDK signs the path
	// as given while AWS (and Verify) normalize it; S3 paths may hold empty and dot segments.
	var p strings.Builder
	for range rng.IntN(4) {
		seg := randString(rng, pathChars, 1, 6)
		if c.s3 && rng.IntN(4) == 0 {
			seg = []string{"", ".", ".."}[rng.IntN(3)]
		}
		if seg == "." || seg == ".." {
			if !c.s3 {
				seg = "x" + seg
			}
		}
		p.WriteString("/" + seg)
	}
	if p.Len() == 0 || rng.IntN(4) == 0 {
		p.WriteString("/")
	}
	c.path = p.String()
	for range rng.IntN(5) {
		k := randString(rng, "aZ09-_.~ +=&/%ሴ", 0, 5)
		if rng.IntN(3) == 0 && len(c.query) > 0 {
			for existing := range c.query { // repeated key
				k = existing
				break
			}
		}
		c.query.Add(k, randString(rng, "aZ09-_.~ +=&/%?ሴ", 0, 8))
	}
	for j := range rng.IntN(4) {
		name := "X-Custom-" + strconv.Itoa(j)
		for range 1 + rng.IntN(2) {
			c.headers.Add(name, " "+randString(rng, "ab  c\"", 0, 10)+"  ")
		}
	}
	if rng.IntN(2) == 0 {
		c.headers.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	}
	if c.method != "GET" && c.method != "DELETE" && !c.presigned {
		c.body = []byte(randString(rng, "Action=GetCallerIdentity&Version=2011-06-15 é", 0, 200))
	}
	c.creds = aws.Credentials{AccessKeyID: fmt.Sprintf("AKIA%016d", i), SecretAccessKey: randString(rng, "ABCabc0123+/", 40, 40)}
	if rng.IntN(2) == 0 {
		c.creds.AccessKeyID = fmt.Sprintf("ASIA%016d", i)
		c.creds.SessionToken = randString(rng, "ABCabc0123+/=", 100, 600)
	}
	// S3 presigned URLs never sign the payload; S3 header-signed requests may choose not to.
	c.unsigned = c.s3 && (c.presigned || rng.IntN(2) == 0)
	return c
}

// sign builds and signs the request with the SDK. Signing at `at`, verified at `at` too.
func (c sdkCase) sign(t *testing.T, base string, at time.Time) *http.Request {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = c.path
	if c.s3 {
		// The S3 client escapes the key itself (every byte but unreserved and '/') and has the
		// signer use that path verbatim; net/url alone would leave sub-delims such as '@' raw.
		u.RawPath = httpbinding.EscapePath(c.path, false)
	}
	q := url.Values{}
	for k, v := range c.query {
		q[k] = append([]string(nil), v...)
	}
	if c.presigned {
		q.Set("X-Amz-Expires", "900")
	}
	u.RawQuery = q.Encode()
	req, err := http.NewRequest(c.method, u.String(), bytes.NewReader(c.body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range c.headers {
		req.Header[k] = append([]string(nil), v...)
	}
	payload := hex.EncodeToString(sha256Sum(c.body))
	if c.unsigned {
		payload = UnsignedPayload
		if !c.presigned {
			req.Header.Set("X-Amz-Content-Sha256", UnsignedPayload)
		}
	}
	opt := func(o *v4.SignerOptions) { o.DisableURIPathEscaping = c.s3 }
	signer := v4.NewSigner()
	if c.presigned {
		signedURL, signedHeaders, err := signer.PresignHTTP(context.Background(), c.creds, req, payload, c.service, c.region, at, opt)
		if err != nil {
			t.Fatal(err)
		}
		preq, err := http.NewRequest(c.method, signedURL, bytes.NewReader(c.body))
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range signedHeaders {
			if !strings.EqualFold(k, "host") {
				preq.Header[k] = v
			}
		}
		return preq
	}
	if err := signer.SignHTTP(context.Background(), c.creds, req, payload, c.service, c.region, at, opt); err != nil {
		t.Fatal(err)
	}
	return req
}

func sha256Sum(b []byte) []byte {
	s := sha256.Sum256(b)
	return s[:]
}

// mutation changes one signed element of a received request; want is the expected code.
type mutation struct {
	name  string
	apply func(r *http.Request, body []byte) (*http.Request, []byte, bool)
	want  string
}

func cloneReq(r *http.Request) *http.Request {
	c := r.Clone(context.Background())
	u := *r.URL
	c.URL = &u
	return c
}

var mutations = []mutation{
	{"body byte", func(r *http.Request, b []byte) (*http.Request, []byte, bool) {
		nb := append([]byte(nil), b...)
		if len(nb) == 0 {
			nb = []byte{'x'}
		} else {
			nb[len(nb)/2] ^= 0x01
		}
		return r, nb, true
	}, CodeSignatureDoesNotMatch},
	{"path", func(r *http.Request, b []byte) (*http.Request, []byte, bool) {
		c := cloneReq(r)
		p, q, _ := strings.Cut(c.RequestURI, "?")
		c.RequestURI = p + "z"
		if q != "" {
			c.RequestURI += "?" + q
		}
		return c, b, true
	}, CodeSignatureDoesNotMatch},
	{"query added", func(r *http.Request, b []byte) (*http.Request, []byte, bool) {
		c := cloneReq(r)
		c.URL.RawQuery += "&extra=1"
		return c, b, true
	}, CodeSignatureDoesNotMatch},
	{"query value byte", func(r *http.Request, b []byte) (*http.Request, []byte, bool) {
		c := cloneReq(r)
		i := strings.IndexByte(c.URL.RawQuery, '=')
		if i < 0 || strings.HasPrefix(c.URL.RawQuery[i+1:], "AWS4-HMAC") {
			return nil, nil, false
		}
		c.URL.RawQuery = c.URL.RawQuery[:i+1] + "Q" + c.URL.RawQuery[i+1:]
		return c, b, true
	}, CodeSignatureDoesNotMatch},
	{"method", func(r *http.Request, b []byte) (*http.Request, []byte, bool) {
		c := cloneReq(r)
		c.Method = map[bool]string{true: "HEAD", false: "GET"}[c.Method == "GET"]
		return c, b, true
	}, CodeSignatureDoesNotMatch},
	{"host", func(r *http.Request, b []byte) (*http.Request, []byte, bool) {
		c := cloneReq(r)
		c.Host = "evil.example:1"
		return c, b, true
	}, CodeSignatureDoesNotMatch},
	{"signed header value", func(r *http.Request, b []byte) (*http.Request, []byte, bool) {
		c := cloneReq(r)
		for k, v := range c.Header {
			if strings.HasPrefix(k, "X-Custom-") {
				c.Header[k] = append([]string{v[0] + "!"}, v[1:]...)
				return c, b, true
			}
		}
		return nil, nil, false
	}, CodeSignatureDoesNotMatch},
	{"signed header dropped", func(r *http.Request, b []byte) (*http.Request, []byte, bool) {
		c := cloneReq(r)
		for k := range c.Header {
			if strings.HasPrefix(k, "X-Custom-") {
				delete(c.Header, k)
				return c, b, true
			}
		}
		return nil, nil, false
	}, CodeSignatureDoesNotMatch},
	{"date one second later", func(r *http.Request, b []byte) (*http.Request, []byte, bool) {
		c := cloneReq(r)
		if d := c.Header.Get("X-Amz-Date"); d != "" {
			t, _ := time.Parse(amzDateFormat, d)
			c.Header.Set("X-Amz-Date", t.Add(time.Second).Format(amzDateFormat))
			return c, b, true
		}
		q := c.URL.Query()
		t, _ := time.Parse(amzDateFormat, q.Get("X-Amz-Date"))
		c.URL.RawQuery = strings.Replace(c.URL.RawQuery, "X-Amz-Date="+q.Get("X-Amz-Date"), "X-Amz-Date="+t.Add(time.Second).Format(amzDateFormat), 1)
		return c, b, true
	}, CodeSignatureDoesNotMatch},
	{"signature hex digit", func(r *http.Request, b []byte) (*http.Request, []byte, bool) {
		c := cloneReq(r)
		flip := func(s string) string {
			i := strings.Index(s, "Signature=") + len("Signature=")
			d := byte('0')
			if s[i] == '0' {
				d = '1'
			}
			return s[:i] + string(d) + s[i+1:]
		}
		if h := c.Header.Get("Authorization"); h != "" {
			c.Header.Set("Authorization", flip(h))
		} else {
			c.URL.RawQuery = flip(c.URL.RawQuery)
		}
		return c, b, true
	}, CodeSignatureDoesNotMatch},
	{"session token byte", func(r *http.Request, b []byte) (*http.Request, []byte, bool) {
		c := cloneReq(r)
		if tok := c.Header.Get("X-Amz-Security-Token"); tok != "" {
			c.Header.Set("X-Amz-Security-Token", "A"+tok[1:]+"A")
			return c, b, true
		}
		if tok := c.URL.Query().Get("X-Amz-Security-Token"); tok != "" {
			q := c.URL.Query()
			q.Set("X-Amz-Security-Token", tok+"A")
			c.URL.RawQuery = q.Encode()
			return c, b, true
		}
		return nil, nil, false
	}, CodeInvalidClientTokenID},
}

func TestSDKDifferential(t *testing.T) {
	// A fixed seed keeps CI reproducible; SIGV4_SEED=<n> explores others (30 random seeds,
	// 12,000 requests, passed when this was written).
	seed := uint64(20261121)
	if s := testingSeed(); s != 0 {
		seed = s
	}
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	at := time.Date(2026, 11, 21, 23, 0, 0, 0, time.UTC)
	src := &staticSource{keys: map[string]Credentials{}}
	cache := NewKeyCache(64)

	type received struct {
		r    *http.Request
		body []byte
	}
	got := make(chan received, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			t.Error(err)
		}
		got <- received{r.Clone(context.Background()), b}
	}))
	defer srv.Close()

	n := 400
	if testing.Short() {
		n = 60
	}
	mutated := map[string]int{}
	for i := range n {
		c := randomCase(rng, i)
		src.mu.Lock()
		src.keys[c.creds.AccessKeyID] = Credentials{AccessKeyID: c.creds.AccessKeyID, SecretAccessKey: c.creds.SecretAccessKey, SessionToken: c.creds.SessionToken}
		src.mu.Unlock()
		req := c.sign(t, srv.URL, at)
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		resp.Body.Close()
		rec := <-got
		opts := Options{
			Service: c.service, Regions: []string{c.region}, Credentials: src,
			Now: func() time.Time { return at }, KeyCache: cache,
			SingleEncodePath: c.s3, AllowUnsignedPayload: c.s3,
		}
		desc := fmt.Sprintf("case %d %s %q presigned=%v service=%s: %s %s", i, c.method, rec.r.RequestURI, c.presigned, c.service, rec.r.Header, rec.body)
		res, err := Verify(context.Background(), rec.r, rec.body, opts)
		if err != nil {
			t.Fatalf("%s\nVerify: %v", desc, err)
		}
		if res.AccessKeyID != c.creds.AccessKeyID || res.SessionToken != c.creds.SessionToken || res.Region != c.region ||
			res.Service != c.service || !res.SignedAt.Equal(at) || res.Presigned != c.presigned || res.Principal != "principal:"+c.creds.AccessKeyID {
			t.Fatalf("%s\nresult %+v", desc, res)
		}
		for _, m := range mutations {
			if m.name == "body byte" && c.unsigned {
				continue // the body is not signed
			}
			mr, mb, ok := m.apply(rec.r, rec.body)
			if !ok {
				continue
			}
			_, err := Verify(context.Background(), mr, mb, opts)
			var e *Error
			if !errors.As(err, &e) || e.Code != m.want {
				t.Fatalf("%s\nmutation %q: got %v, want %s", desc, m.name, err, m.want)
			}
			mutated[m.name]++
		}
		// Wrong scope: the verifier expects another region or service.
		for _, o := range []Options{{Service: c.service, Regions: []string{"ap-south-2"}}, {Service: "other", Regions: []string{c.region}}} {
			o.Credentials, o.Now = src, opts.Now
			o.SingleEncodePath, o.AllowUnsignedPayload = c.s3, c.s3
			_, err := Verify(context.Background(), rec.r, rec.body, o)
			var e *Error
			if !errors.As(err, &e) || e.Code != CodeSignatureDoesNotMatch || !strings.HasPrefix(e.Message, "Credential should be scoped") {
				t.Fatalf("%s\nwrong scope: %v", desc, err)
			}
		}
	}
	t.Logf("%d SDK-signed requests verified; mutations refused: %v", n, mutated)
	for _, m := range mutations {
		if mutated[m.name] == 0 {
			t.Errorf("mutation %q never applied", m.name)
		}
	}
}

func testingSeed() uint64 {
	s, _ := strconv.ParseUint(strings.TrimSpace(os.Getenv("SIGV4_SEED")), 10, 64)
	return s
}
