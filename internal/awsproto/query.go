package awsproto

import (
	"bytes"
	"io"
	"mime"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
	"unsafe"
)

// DefaultMaxBody is the body bound the front ends pass to ParseQuery. AWS
// STS accepts up to 10,000,000 bytes (observed: more gets a bare 413); no
// Query request of ours comes near 1 MB (the largest legitimate one is a
// 20,000-character token plus a 2,048-character policy), so we refuse
// earlier and hold less per request.
const DefaultMaxBody = 1 << 20

// MaxParams bounds the number of parameters in one request. The largest
// legitimate request (50 session tags, 10 policy ARNs, IAM's 100 client ids)
// has a few hundred; the bound caps the map a 1 MB body of "a&b&c..." could
// otherwise build (our limit; AWS's is unknown).
const MaxParams = 1000

// MaxListMembers bounds a Query list index (name.member.N). AWS's largest
// lists are well under it.
const MaxListMembers = 1000

// Values holds the parameters of one Query-protocol request. Every name
// occurs once: ParseQuery refuses repeats rather than pick one, because two
// readers of the same request (a proxy, a log, a policy check) could
// otherwise disagree about which RoleArn it names.
type Values struct {
	m map[string]string
}

// Get returns the value of name, or "" when absent.
func (v Values) Get(name string) string { return v.m[name] }

// Lookup returns the value of name and whether it was present (an empty
// value, "Policy=", is present).
func (v Values) Lookup(name string) (string, bool) {
	s, ok := v.m[name]
	return s, ok
}

// Action is the Query protocol's operation name.
func (v Values) Action() string { return v.m["Action"] }

// Version is the API version the client speaks (STS 2011-06-15, IAM
// 2010-05-08).
func (v Values) Version() string { return v.m["Version"] }

// Len is the number of parameters.
func (v Values) Len() int { return len(v.m) }

// Names returns the parameter names, sorted.
func (v Values) Names() []string {
	out := make([]string, 0, len(v.m))
	for k := range v.m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// ParseQuery reads the parameters of a Query-protocol request: the URL's
// query string and, for a POST with Content-Type
// application/x-www-form-urlencoded (any parameters, such as charset, are
// ignored), the body. SDKs send everything in the body; the AWS docs' own
// examples use GET (the Smithy awsQuery spec allows both); a presigned POST
// carries X-Amz-* in the URL and the operation in the body. Whether AWS
// merges the two places in one request is unconfirmed; ParseQuery merges
// them, so that last case works, and a name in both is a repeat like any
// other. A body of any other content type is not read.
//
// Failures are *Error values the caller writes as they are:
//   - body over maxBody bytes: 413 with no body (what STS answers over its own
//     10 MB limit, observed); wraps ErrBodyTooLarge;
//   - bad percent-encoding, invalid UTF-8, an empty name:
//     MalformedQueryString, 404 "The query string contains a syntax error."
//     (code, status and text from AWS's Common Errors table; the status is
//     odd but documented); wraps ErrMalformedQuery;
//   - a repeated name: InvalidParameterValue, 400 (AWS's answer to repeats
//     is unconfirmed); wraps ErrDuplicateParameter;
//   - more than MaxParams parameters: InvalidQueryParameter, 400 (our
//     limit); wraps ErrTooManyParameters;
//   - a body that breaks off: IncompleteBody, 400 (S3's code; what Query
//     services answer is unknown, and nobody is left to read it).
func ParseQuery(r *http.Request, maxBody int64) (Values, error) {
	if !isFormPost(r) {
		return ParseRequest(r, nil)
	}
	body, err := ReadBody(r, maxBody)
	if err != nil {
		return Values{}, err
	}
	return ParseRequest(r, body)
}

// ReadBody reads r's body, at most maxBody bytes, and puts a reader over
// the same bytes back in r.Body: the SigV4 check hashes exactly what the
// parser read. Over maxBody: the 413 *Error ParseQuery returns.
func ReadBody(r *http.Request, maxBody int64) ([]byte, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	if r.ContentLength > maxBody {
		return nil, bodyTooLarge()
	}
	limited := io.LimitedReader{R: r.Body, N: maxBody + 1}
	var body []byte
	var err error
	if r.ContentLength >= 0 {
		// A declared length is read into a buffer of that size and one byte
		// more: one allocation of the body's size (a KMS request is ~150
		// bytes), where bytes.Buffer.ReadFrom wants 512 bytes free before
		// each read. Only a body longer than declared fills the extra byte;
		// its rest is read below.
		body, err = readUntilFull(&limited, make([]byte, r.ContentLength+1))
	}
	if err == nil && (r.ContentLength < 0 || int64(len(body)) > r.ContentLength) {
		buf := bytes.NewBuffer(body)
		if body == nil {
			buf = bytes.NewBuffer(make([]byte, 0, bytes.MinRead))
		}
		// A reader of its own, so that limited itself can stay on the stack.
		_, err = buf.ReadFrom(&io.LimitedReader{R: limited.R, N: limited.N})
		body = buf.Bytes()
	}
	if err != nil {
		// A client that stops sending mid-body; nobody is left to read the
		// answer, but a 400 keeps it out of the 5xx metrics.
		return nil, NewError(http.StatusBadRequest, "IncompleteBody",
			"The request body ended before its declared length.").with(ErrMalformedQuery)
	}
	if int64(len(body)) > maxBody {
		return nil, bodyTooLarge()
	}
	rd := new(bodyReader)
	rd.Reset(body)
	r.Body = rd
	return body, nil
}

// bodyReader is the body ReadBody puts back: a bytes.Reader that closes,
// as io.NopCloser(bytes.NewReader(body)) would be, in one allocation
// instead of two.
type bodyReader struct{ bytes.Reader }

// Close does nothing, as io.NopCloser's.
func (*bodyReader) Close() error { return nil }

// readUntilFull reads into buf until it is full or rd ends, as
// bytes.Buffer.ReadFrom does: io.EOF ends the body, other errors are
// returned.
func readUntilFull(rd *io.LimitedReader, buf []byte) ([]byte, error) {
	n := 0
	for n < len(buf) {
		m, err := rd.Read(buf[n:])
		n += m
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	return buf[:n], nil
}

// ParseRequest is ParseQuery over a body already read with ReadBody (nil
// for none): the URL's parameters, and body's when r is a form POST. The
// values share body's bytes, which must not be changed afterwards.
func ParseRequest(r *http.Request, body []byte) (Values, error) {
	v := Values{m: make(map[string]string)}
	if err := v.parse(r.URL.RawQuery); err != nil {
		return Values{}, err
	}
	if isFormPost(r) {
		// The values are substrings of body, viewed without a copy: body
		// is ReadBody's, which nothing writes to once read.
		if err := v.parse(unsafe.String(unsafe.SliceData(body), len(body))); err != nil {
			return Values{}, err
		}
	}
	return v, nil
}

func isFormPost(r *http.Request) bool {
	return r.Method == http.MethodPost && isForm(r.Header.Get("Content-Type"))
}

// ParseQueryString parses one form-encoded string with ParseQuery's rules.
func ParseQueryString(s string) (Values, error) {
	v := Values{m: make(map[string]string)}
	if err := v.parse(s); err != nil {
		return Values{}, err
	}
	return v, nil
}

func bodyTooLarge() *Error {
	return NewError(http.StatusRequestEntityTooLarge, "RequestEntityTooLarge",
		"Request body is too large.").with(ErrBodyTooLarge)
}

func malformedQuery() *Error {
	return NewError(http.StatusNotFound, "MalformedQueryString",
		"The query string contains a syntax error.").with(ErrMalformedQuery)
}

func isForm(contentType string) bool {
	switch contentType {
	case "application/x-www-form-urlencoded; charset=utf-8", "application/x-www-form-urlencoded":
		// What botocore and the Go SDK send, decided without the map of
		// parameters mime.ParseMediaType allocates (twice a request).
		return true
	}
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && mt == "application/x-www-form-urlencoded"
}

// parse adds the pairs of s to v. Pairs are separated by '&' only (';' is
// data, as in Go's net/url since 1.17 and in AWS's SigV4 canonicalisation);
// empty pairs ("a=1&&b=2", a trailing '&') are skipped as every form parser
// does; a pair without '=' is a name with an empty value.
func (v Values) parse(s string) error {
	for s != "" {
		var pair string
		pair, s, _ = strings.Cut(s, "&")
		if pair == "" {
			continue
		}
		rawName, rawValue, _ := strings.Cut(pair, "=")
		name, err := url.QueryUnescape(rawName)
		if err != nil || name == "" || !utf8.ValidString(name) {
			return malformedQuery()
		}
		value, err := url.QueryUnescape(rawValue)
		if err != nil || !utf8.ValidString(value) {
			return malformedQuery()
		}
		if _, dup := v.m[name]; dup {
			return InvalidParameterValue("Parameter " + strconv.Quote(name) + " was specified more than once.").with(ErrDuplicateParameter)
		}
		if len(v.m) >= MaxParams {
			return NewError(http.StatusBadRequest, "InvalidQueryParameter",
				"The AWS query string is malformed or does not adhere to AWS standards.").with(ErrTooManyParameters)
		}
		v.m[name] = value
	}
	return nil
}

// List returns a Query-serialized list of scalars, name.member.1,
// name.member.2, ... (e.g. TransitiveTagKeys.member.N), in index order.
// botocore sends an empty list as a bare "name=", which List reads as no
// members, the same as an absent list.
//
// Indices must run 1..N without gaps, in canonical decimal: SDKs never send
// anything else, and silently dropping or reordering a member of, say,
// PolicyArns would change a session's permissions. Anything else is
// InvalidParameterValue (AWS's answer unconfirmed); wraps ErrMalformedList.
func (v Values) List(name string) ([]string, error) {
	members, err := v.members(name, false)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(members))
	for i, m := range members {
		out[i] = m[""]
	}
	return out, nil
}

// Structs returns a Query-serialized list of structures,
// name.member.N.field (e.g. PolicyArns.member.1.arn, Tags.member.1.Key and
// Tags.member.1.Value), in index order, one map per member keyed by field.
// A field the member does not send is absent from its map (the caller
// decides what is required); a field not in fields is an error, since a
// misspelt "Tags.member.1.key" must not vanish silently. Index rules as List.
func (v Values) Structs(name string, fields ...string) ([]map[string]string, error) {
	members, err := v.members(name, true)
	if err != nil {
		return nil, err
	}
	for _, m := range members {
		for f := range m {
			if !contains(fields, f) {
				return nil, listError("Unknown field " + strconv.Quote(f) + " in a member of list " + name + ".")
			}
		}
	}
	return members, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func listError(msg string) *Error {
	return InvalidParameterValue(msg).with(ErrMalformedList)
}

// members collects name.member.N[.field] into one map per index; scalar
// lists use the field "".
func (v Values) members(name string, structs bool) ([]map[string]string, error) {
	prefix := name + ".member."
	byIndex := map[int]map[string]string{}
	for k, val := range v.m {
		rest, ok := strings.CutPrefix(k, prefix)
		if !ok {
			continue
		}
		idx, field, hasField := strings.Cut(rest, ".")
		if hasField != structs || (structs && field == "") {
			return nil, listError("Parameter " + strconv.Quote(k) + " is not a valid member of list " + name + ".")
		}
		n, ok := parseIndex(idx)
		if !ok {
			return nil, listError("Parameter " + strconv.Quote(k) + " has an invalid list index.")
		}
		m := byIndex[n]
		if m == nil {
			m = map[string]string{}
			byIndex[n] = m
		}
		m[field] = val
	}
	out := make([]map[string]string, len(byIndex))
	for n, m := range byIndex {
		if n > len(byIndex) {
			return nil, listError("List " + name + " has a gap: member " + strconv.Itoa(n) + " of " + strconv.Itoa(len(byIndex)) + ".")
		}
		out[n-1] = m
	}
	return out, nil
}

// parseIndex accepts 1..MaxListMembers in canonical decimal ("1", not "01"
// or "+1").
func parseIndex(s string) (int, bool) {
	if s == "" || len(s) > 4 || s[0] == '0' {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, n >= 1 && n <= MaxListMembers
}
