package sigv4

import (
	"errors"
	"net/http"
	"net/textproto"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

const upperHex = "0123456789ABCDEF"

// appendURIEncode appends s encoded as SigV4 requires: the RFC 3986 unreserved characters
// A-Z a-z 0-9 - . _ ~ stay, every other byte becomes %XX with upper-case hex (space is %20,
// never '+'); '/' stays too when keepSlash is set (paths).
func appendURIEncode(dst []byte, s string, keepSlash bool) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~' || (keepSlash && c == '/') {
			dst = append(dst, c)
			continue
		}
		dst = append(dst, '%', upperHex[c>>4], upperHex[c&15])
	}
	return dst
}

// rawPath returns the request path as the client sent it, still percent-encoded: the canonical
// URI is computed from those bytes, not from net/url's decoded and re-encoded form (which would
// turn a client's "%7e" into "~" and change what was signed).
func rawPath(r *http.Request) string {
	if uri := r.RequestURI; uri != "" && uri[0] == '/' {
		if i := strings.IndexByte(uri, '?'); i >= 0 {
			uri = uri[:i]
		}
		return uri
	}
	// Absolute-form request targets and client-side requests (tests): net/url's escaped path.
	return r.URL.EscapedPath()
}

// appendCanonicalURI appends the canonical URI of a raw path. By default (every service but S3)
// the path is normalized (empty and "." segments dropped, ".." resolved, as aws-c-auth's
// `normalize` and AWS's servers do) and then URI-encoded as a whole, which encodes the client's
// own percent-escapes a second time ("double encoding"). singleEncode gives S3's rules: no
// normalization, and the path is decoded before being encoded once.
func appendCanonicalURI(dst []byte, p string, singleEncode bool) []byte {
	if p == "" {
		return append(dst, '/')
	}
	if singleEncode {
		if u, err := url.PathUnescape(p); err == nil {
			p = u
		}
		return appendURIEncode(dst, p, true)
	}
	return appendURIEncode(dst, normalizePath(p), true)
}

// normalizePath removes dot segments (RFC 3986 §5.2.4) and empty segments. A trailing slash is
// kept, and added after a final "." or "..", as remove_dot_segments does.
func normalizePath(p string) string {
	if !strings.Contains(p, "//") && !strings.Contains(p, "/.") && p[0] == '/' {
		return p // the common case ("/" for every Query and JSON API): nothing to do
	}
	segs := make([]string, 0, strings.Count(p, "/")+1)
	trailing := false
	for seg := range strings.SplitSeq(p, "/") {
		trailing = seg == "" || seg == "." || seg == ".."
		switch seg {
		case "", ".":
		case "..":
			if len(segs) > 0 {
				segs = segs[:len(segs)-1]
			}
		default:
			segs = append(segs, seg)
		}
	}
	if len(segs) == 0 {
		return "/"
	}
	out := "/" + strings.Join(segs, "/")
	if trailing {
		out += "/"
	}
	return out
}

type queryPair struct{ key, value string }

// appendCanonicalQuery appends the canonical query string built from the raw query: every
// parameter decoded (as net/url does, '+' meaning space) and re-encoded with appendURIEncode,
// sorted by encoded name then encoded value. X-Amz-Signature is left out when presigned.
func appendCanonicalQuery(dst []byte, raw string, presigned bool) ([]byte, error) {
	if raw == "" {
		return dst, nil
	}
	pairs := make([]queryPair, 0, strings.Count(raw, "&")+1)
	var enc []byte
	for part := range strings.SplitSeq(raw, "&") {
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		dk, err := url.QueryUnescape(k)
		if err != nil {
			return dst, errors.New("query parameter name is not valid percent-encoding")
		}
		dv, err := url.QueryUnescape(v)
		if err != nil {
			return dst, errors.New("query parameter value is not valid percent-encoding")
		}
		if presigned && dk == "X-Amz-Signature" {
			continue
		}
		enc = appendURIEncode(enc[:0], dk, false)
		ek := string(enc)
		enc = appendURIEncode(enc[:0], dv, false)
		pairs = append(pairs, queryPair{ek, string(enc)})
	}
	slices.SortFunc(pairs, func(a, b queryPair) int {
		if c := strings.Compare(a.key, b.key); c != 0 {
			return c
		}
		return strings.Compare(a.value, b.value)
	})
	for i, p := range pairs {
		if i > 0 {
			dst = append(dst, '&')
		}
		dst = append(dst, p.key...)
		dst = append(dst, '=')
		dst = append(dst, p.value...)
	}
	return dst, nil
}

// appendCanonicalHeaders appends "name:value\n" for every signed header, in the order signed.
// Values of a repeated header are joined with ',' in the order received; each value is trimmed
// and its runs of spaces folded to one.
func appendCanonicalHeaders(dst []byte, r *http.Request, signed []string) ([]byte, error) {
	for _, name := range signed {
		dst = append(dst, name...)
		dst = append(dst, ':')
		switch name {
		case "host":
			// net/http moves Host out of the header map (server side).
			host := r.Host
			if host == "" {
				host = r.URL.Host
			}
			dst = appendFolded(dst, host)
		default:
			key, ok := commonHeaderKeys[name]
			if !ok {
				key = textproto.CanonicalMIMEHeaderKey(name)
			}
			values := r.Header[key]
			if len(values) == 0 {
				values = r.Header[name] // non-canonicalizable names are stored as sent
			}
			if len(values) == 0 && name == "content-length" && r.ContentLength >= 0 {
				// Client-side requests carry the length in the field only.
				dst = strconv.AppendInt(dst, r.ContentLength, 10)
				break
			}
			if len(values) == 0 {
				return dst, errors.New("signed header " + strconv.Quote(name) + " is absent from the request")
			}
			for i, v := range values {
				if i > 0 {
					dst = append(dst, ',')
				}
				dst = appendFolded(dst, v)
			}
		}
		dst = append(dst, '\n')
	}
	return dst, nil
}

// commonHeaderKeys spares the allocation of CanonicalMIMEHeaderKey for the headers SDKs sign.
var commonHeaderKeys = map[string]string{
	"content-length":        "Content-Length",
	"content-type":          "Content-Type",
	"content-md5":           "Content-Md5",
	"x-amz-date":            "X-Amz-Date",
	"x-amz-security-token":  "X-Amz-Security-Token",
	"x-amz-content-sha256":  "X-Amz-Content-Sha256",
	"x-amz-target":          "X-Amz-Target",
	"x-amz-user-agent":      "X-Amz-User-Agent",
	"amz-sdk-invocation-id": "Amz-Sdk-Invocation-Id",
	"amz-sdk-request":       "Amz-Sdk-Request",
	"date":                  "Date",
}

// appendFolded appends v with leading and trailing whitespace removed and each run of spaces
// replaced by one space.
func appendFolded(dst []byte, v string) []byte {
	v = strings.TrimSpace(v)
	if !strings.Contains(v, "  ") {
		// Nothing to fold (every value SDKs send, among them the ~1 KB session token):
		// one copy instead of a byte-by-byte loop.
		return append(dst, v...)
	}
	space := false
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c == ' ' {
			if space {
				continue
			}
			space = true
		} else {
			space = false
		}
		dst = append(dst, c)
	}
	return dst
}
