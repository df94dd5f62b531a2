package sigv4

import (
	"context"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The aws-c-auth SigV4 suite (testdata/aws-c-auth-v4, see testdata/README.md): every case is
// signed with these credentials, at this time, for this scope.
const (
	vecAccessKeyID = "AKIDEXAMPLE"
	vecSecret      = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
	vecRegion      = "us-east-1"
	vecService     = "service"
)

var vecTime = time.Date(2015, 8, 30, 12, 36, 0, 0, time.UTC)

// vectorSkips lists vector files that cannot verify, with the reason. The stored copies of the
// suite come from several upstream commits; a signed request whose signature was computed by a
// different revision of the signer than the one that wrote the request is not a valid vector.
var vectorSkips = map[string]string{
	// Carries X-Amz-Security-Token twice (once after X-Amz-Signature): a leftover of an upstream
	// revision that appended the token after signing. Verify refuses repeated auth parameters.
	"get-vanilla-with-session-token/query-signed-request.txt": "token parameter repeated; refused on purpose (TestVerifyErrors covers it)",
	// Lists x-amz-content-sha256 in X-Amz-SignedHeaders but the stored request has no such
	// header: the request and its signature come from different upstream revisions.
	"post-x-www-form-urlencoded/query-signed-request.txt": "signed header absent from the stored request (mixed upstream revisions)",
}

// parseRawRequest reads the suite's request format. It is not net/http's parser on purpose: the
// suite has request targets with raw spaces and UTF-8, and obs-fold continuation lines that the
// suite treats as further values of the header (joined with ',').
func parseRawRequest(t testing.TB, raw string) *http.Request {
	t.Helper()
	head, body, _ := strings.Cut(raw, "\n\n")
	lines := strings.Split(head, "\n")
	line := lines[0]
	sp1 := strings.IndexByte(line, ' ')
	sp2 := strings.LastIndexByte(line, ' ')
	if sp1 < 0 || sp2 <= sp1 {
		t.Fatalf("bad request line %q", line)
	}
	method, target := line[:sp1], line[sp1+1:sp2]
	p, q, _ := strings.Cut(target, "?")
	r := &http.Request{
		Method:        method,
		RequestURI:    target,
		URL:           &url.URL{Path: p, RawQuery: q},
		Header:        http.Header{},
		ContentLength: int64(len(body)),
	}
	last := ""
	for _, l := range lines[1:] {
		if l[0] == ' ' || l[0] == '\t' {
			r.Header.Add(last, l)
			continue
		}
		k, v, ok := strings.Cut(l, ":")
		if !ok {
			t.Fatalf("bad header line %q", l)
		}
		if strings.EqualFold(k, "host") {
			r.Host = v
			continue
		}
		r.Header.Add(k, v)
		last = k
	}
	if body != "" {
		r.Body = http.NoBody // Verify never reads it; the caller passes the bytes
	}
	return r
}

func vectorSource() CredentialSource {
	return CredentialSourceFunc(func(_ context.Context, akid, _ string) (Credentials, any, error) {
		if akid != vecAccessKeyID {
			return Credentials{}, nil, ErrUnknownAccessKey
		}
		return Credentials{AccessKeyID: akid, SecretAccessKey: vecSecret}, "vector", nil
	})
}

func vectorOptions(caseName string) Options {
	return Options{
		Service:              vecService,
		Regions:              []string{vecRegion},
		Credentials:          vectorSource(),
		Now:                  func() time.Time { return vecTime },
		SingleEncodePath:     strings.HasSuffix(caseName, "-unnormalized"),
		AllowUnsignedPayload: caseName == "post-unsigned-payload",
	}
}

func TestAWSCAuthVectors(t *testing.T) {
	dirs, err := filepath.Glob("testdata/aws-c-auth-v4/*")
	if err != nil || len(dirs) < 30 {
		t.Fatalf("vectors missing: %v (%d cases)", err, len(dirs))
	}
	verified := 0
	for _, dir := range dirs {
		name := filepath.Base(dir)
		for _, file := range []string{"header-signed-request.txt", "query-signed-request.txt"} {
			raw, err := os.ReadFile(filepath.Join(dir, file))
			if os.IsNotExist(err) {
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			t.Run(name+"/"+file, func(t *testing.T) {
				if why, ok := vectorSkips[name+"/"+file]; ok {
					t.Skip(why)
				}
				r := parseRawRequest(t, string(raw))
				_, body, _ := strings.Cut(string(raw), "\n\n")
				res, err := Verify(context.Background(), r, []byte(body), vectorOptions(name))
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				if res.AccessKeyID != vecAccessKeyID || res.Region != vecRegion || res.Service != vecService ||
					!res.SignedAt.Equal(vecTime) || res.Principal != "vector" || res.Presigned != strings.HasPrefix(file, "query") {
					t.Errorf("result %+v", res)
				}
				verified++
			})
		}
	}
	t.Logf("%d vector requests verified", verified)
}

// TestAWSCAuthCanonicalRequests compares our canonical request with the suite's for the cases
// whose stored canonical request matches the stored signed request.
func TestAWSCAuthCanonicalRequests(t *testing.T) {
	for _, c := range []struct{ dir, signed, canonical string }{
		{"post-unsigned-payload", "header-signed-request.txt", "header-canonical-request.txt"},
		{"post-unsigned-payload", "query-signed-request.txt", "query-canonical-request.txt"},
	} {
		t.Run(c.dir+"/"+c.canonical, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join("testdata/aws-c-auth-v4", c.dir, c.signed))
			if err != nil {
				t.Fatal(err)
			}
			want, err := os.ReadFile(filepath.Join("testdata/aws-c-auth-v4", c.dir, c.canonical))
			if err != nil {
				t.Fatal(err)
			}
			r := parseRawRequest(t, string(raw))
			_, body, _ := strings.Cut(string(raw), "\n\n")
			var s *signed
			if strings.HasPrefix(c.signed, "query") {
				s, err = parsePresigned(r)
			} else {
				s, err = parseHeaderForm(r, r.Header.Get("Authorization"))
			}
			if err != nil {
				t.Fatal(err)
			}
			opts := vectorOptions(c.dir)
			got, err := canonicalRequest(r, s, payloadHash(r, []byte(body), s.presigned, opts.AllowUnsignedPayload), opts.SingleEncodePath)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != string(want) {
				t.Errorf("canonical request\n got: %q\nwant: %q", got, want)
			}
		})
	}
}
