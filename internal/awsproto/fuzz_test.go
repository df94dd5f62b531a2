package awsproto

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzParseQuery feeds arbitrary bytes as a POST body and as a GET query
// string. Either they parse into valid UTF-8 names and values that survive
// re-encoding unchanged, or they fail with one of ParseQuery's own *Errors.
func FuzzParseQuery(f *testing.F) {
	for _, s := range []string{
		"Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A000000000000%3Arole%2Fci&RoleSessionName=s&WebIdentityToken=a.b.c",
		"PolicyArns.member.1.arn=x&PolicyArns.member.2.arn=y&Tags.member.1.Key=k&Tags.member.1.Value=v",
		"A=1&A=2", "%zz=1", "A=%ff", "=x", "&&&", "a+b=c+d%2B", "A=1;B=2",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		post := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(s))
		post.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		v, err := ParseQuery(post, DefaultMaxBody)

		var get *http.Request
		if u, perr := url.Parse("/?" + s); perr == nil && u.RawQuery == s {
			get = &http.Request{Method: http.MethodGet, URL: u, Header: http.Header{}}
		}
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Code == "" || e.HTTPStatus < 400 {
				t.Fatalf("not a wire error: %v", err)
			}
			if get != nil {
				if _, gerr := ParseQuery(get, DefaultMaxBody); gerr == nil {
					t.Fatalf("POST failed (%v) but GET parsed", err)
				}
			}
			return
		}
		for _, k := range v.Names() {
			if k == "" || !utf8.ValidString(k) || !utf8.ValidString(v.Get(k)) {
				t.Fatalf("bad pair %q=%q", k, v.Get(k))
			}
		}
		if get != nil {
			g, gerr := ParseQuery(get, DefaultMaxBody)
			if gerr != nil || !reflect.DeepEqual(g.m, v.m) {
				t.Fatalf("GET and POST disagree: %v %v / %v", g.m, gerr, v.m)
			}
		}
		enc := url.Values{}
		for k, val := range v.m {
			enc.Set(k, val)
		}
		back, err := ParseQueryString(enc.Encode())
		if err != nil || !reflect.DeepEqual(back.m, v.m) {
			t.Fatalf("round trip: %v %v, want %v", back.m, err, v.m)
		}
		// The list helpers never panic on whatever names came in.
		for _, k := range v.Names() {
			if name, _, ok := strings.Cut(k, ".member."); ok {
				_, _ = v.List(name)
				_, _ = v.Structs(name, "Key", "Value", "arn")
			}
		}
	})
}
