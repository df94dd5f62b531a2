package sigv4

import (
	"errors"
	"strings"
	"time"
)

// Algorithm is the only signing algorithm accepted (SigV4A, "AWS4-ECDSA-P256-SHA256", is not).
const Algorithm = "AWS4-HMAC-SHA256"

// Bounds on untrusted input, checked before any allocation proportional to it.
const (
	// MaxAuthorizationLength bounds the Authorization header. SDKs sign ~10 headers; even S3
	// requests with many x-amz-meta-* headers stay far below this.
	MaxAuthorizationLength = 8192
	// MaxSignedHeaders bounds the SignedHeaders list (and so the canonical-headers work).
	MaxSignedHeaders     = 64
	maxAccessKeyIDLength = 128 // the IAM model's limit for AccessKeyId
	maxScopePartLength   = 64
	terminator           = "aws4_request"
)

// Scope is a credential scope: AKID/date/region/service/aws4_request.
type Scope struct {
	AccessKeyID string
	Date        string // yyyymmdd, syntactically valid
	Region      string
	Service     string
	Terminator  string // "aws4_request" when valid; checked by Verify, not the parser
}

// String returns the scope without the access key id, as it appears in the string to sign.
func (s Scope) String() string {
	return s.Date + "/" + s.Region + "/" + s.Service + "/" + s.Terminator
}

// Authorization is a parsed `Authorization: AWS4-HMAC-SHA256 ...` header.
type Authorization struct {
	Credential    Scope
	SignedHeaders []string // lower-case, in the order given (SDKs sort them)
	Signature     string   // 64 lower-case hex digits
}

// ParseAuthorization parses an Authorization header value strictly: the algorithm, then exactly
// the components Credential, SignedHeaders and Signature (any order, each once), separated by
// commas with optional spaces. It never looks at secrets, so the router may call it to read the
// credential scope's service and region before choosing a handler. Errors are *Error with code
// IncompleteSignature.
func ParseAuthorization(h string) (*Authorization, error) {
	a := new(Authorization)
	missing, err := parseAuthorizationInto(h, a)
	if err != nil {
		return nil, err
	}
	if missing != "" {
		return nil, errIncomplete(missing+"Authorization="+echo(h), errors.New("missing Authorization components"))
	}
	return a, nil
}

// parseAuthorizationInto fills in a, and returns the AWS "requires 'X' parameter" sentences
// for missing components separately, so Verify can add the date sentence in AWS's order.
func parseAuthorizationInto(h string, a *Authorization) (missing string, err error) {
	if len(h) > MaxAuthorizationLength {
		return "", errIncomplete("Authorization header is too long", errors.New("authorization header over MaxAuthorizationLength"))
	}
	rest, ok := strings.CutPrefix(h, Algorithm+" ")
	if !ok {
		if alg, _, _ := strings.Cut(h, " "); strings.HasPrefix(alg, "AWS4-") && alg != Algorithm {
			return "", errIncomplete(msgUnsupportedAlgorithm+"'"+echo(alg)+"'", errors.New("unsupported algorithm"))
		}
		// Not SigV4 at all (Bearer, Basic, SigV2 "AWS AKID:sig"): AWS answers that every
		// component is missing, quoting the header.
		return msgRequiresCredential + msgRequiresSignature + msgRequiresSignedHeaders, nil
	}
	// Components are separated by commas and/or spaces: AWS splits on both, which is why
	// "Credential= AKID/..." is answered with "'AKID/...' not a valid key=value pair".
	var cred, signedHeaders, sig string
	var haveCred, haveSigned, haveSig bool
	for rest != "" {
		// Byte-wise, as strings.FieldsFunc on ',' and ' ' would split (neither byte occurs
		// inside a multi-byte UTF-8 sequence), without decoding runes. At most four
		// components are looked at (a fourth is an error), so the searches stay linear.
		i := 0
		for i < len(rest) && (rest[i] == ',' || rest[i] == ' ') {
			i++
		}
		rest = rest[i:]
		if rest == "" {
			break
		}
		i = len(rest)
		if j := strings.IndexByte(rest, ','); j >= 0 {
			i = j
		}
		if j := strings.IndexByte(rest[:i], ' '); j >= 0 {
			i = j
		}
		part := rest[:i]
		rest = rest[i:]
		key, value, ok := strings.Cut(part, "=")
		if !ok {
			return "", errIncomplete("'"+echo(part)+"' not a valid key=value pair (missing equal-sign) in Authorization header: '"+echo(h)+"'.", errors.New("component without '='"))
		}
		var have *bool
		switch key {
		case "Credential":
			have, cred = &haveCred, value
		case "SignedHeaders":
			have, signedHeaders = &haveSigned, value
		case "Signature":
			have, sig = &haveSig, value
		default:
			return "", errIncomplete("'"+echo(key)+"' is not a valid Authorization header parameter.", errors.New("unknown component"))
		}
		if *have {
			return "", errIncomplete("Authorization header has a duplicate '"+key+"' parameter.", errors.New("duplicate "+key))
		}
		*have = true
	}
	// AWS reports every missing component before looking at any value.
	if !haveCred {
		missing += msgRequiresCredential
	}
	if !haveSig {
		missing += msgRequiresSignature
	}
	if !haveSigned {
		missing += msgRequiresSignedHeaders
	}
	if missing != "" {
		return missing, nil
	}
	*a = Authorization{Signature: sig}
	if a.Credential, err = parseCredential(cred); err != nil {
		return "", err
	}
	if a.SignedHeaders, err = parseSignedHeaders(signedHeaders); err != nil {
		return "", err
	}
	if !isLowerHex64(sig) {
		return "", errIncomplete("Signature must be 64 lower-case hexadecimal characters, got '"+echo(sig)+"'.", errors.New("malformed signature"))
	}
	return "", nil
}

// parseCredential parses AKID/yyyymmdd/region/service/terminator. The terminator is kept for
// Verify, which answers a wrong one with SignatureDoesNotMatch as AWS does.
func parseCredential(v string) (Scope, error) {
	if strings.Count(v, "/") != 4 {
		return Scope{}, errIncomplete("Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '"+echo(v)+"'", errors.New("credential element count"))
	}
	// Exactly four slashes: the Cuts below always find theirs (strings.Split without its slice).
	var s Scope
	var rest string
	s.AccessKeyID, rest, _ = strings.Cut(v, "/")
	s.Date, rest, _ = strings.Cut(rest, "/")
	s.Region, rest, _ = strings.Cut(rest, "/")
	s.Service, s.Terminator, _ = strings.Cut(rest, "/")
	if !validAccessKeyID(s.AccessKeyID) {
		return Scope{}, errIncomplete("Credential access key id is malformed: '"+echo(s.AccessKeyID)+"'", errors.New("malformed access key id"))
	}
	if _, ok := parseDigitsDate(s.Date); !ok {
		return Scope{}, errIncomplete("Credential date must be in yyyyMMdd format, got '"+echo(s.Date)+"'", errors.New("malformed credential date"))
	}
	if !validScopePart(s.Region) || !validScopePart(s.Service) || !validScopePart(s.Terminator) {
		return Scope{}, errIncomplete("Credential region, service and terminator must be non-empty lower-case names, got '"+echo(v)+"'", errors.New("malformed credential scope"))
	}
	return s, nil
}

func parseSignedHeaders(v string) ([]string, error) {
	if v == "" {
		return nil, errIncomplete("SignedHeaders must not be empty", errors.New("empty SignedHeaders"))
	}
	if n := strings.Count(v, ";") + 1; n > MaxSignedHeaders {
		return nil, errIncomplete("SignedHeaders lists too many headers", errors.New("over MaxSignedHeaders"))
	}
	names := strings.Split(v, ";")
	for i, n := range names {
		if !validHeaderName(n) {
			return nil, errIncomplete("SignedHeaders contains an invalid header name: '"+echo(n)+"'", errors.New("invalid signed header name"))
		}
		// Quadratic but bounded by MaxSignedHeaders; avoids a map allocation on every request.
		for _, m := range names[:i] {
			if m == n {
				return nil, errIncomplete("SignedHeaders contains a duplicate header: '"+echo(n)+"'", errors.New("duplicate signed header"))
			}
		}
	}
	return names, nil
}

func validAccessKeyID(s string) bool {
	if s == "" || len(s) > maxAccessKeyIDLength {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

func validScopePart(s string) bool {
	if s == "" || len(s) > maxScopePartLength {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// validHeaderName accepts lower-case RFC 9110 token characters: a canonical request is built
// from lower-cased names, so an upper-case name could never have been signed by an SDK.
func validHeaderName(s string) bool {
	if s == "" || len(s) > 256 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !headerNameByte[s[i]] {
			return false
		}
	}
	return true
}

// headerNameByte holds the bytes validHeaderName accepts: a-z, 0-9 and
// the other token characters, "!#$%&'*+-.^_`|~".
var headerNameByte = func() (t [256]bool) {
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for _, c := range []byte("!#$%&'*+-.^_`|~") {
		t[c] = true
	}
	return t
}()

// parseDigitsDate accepts what time.Parse("20060102", s) accepts from exactly 8 bytes (a real
// calendar day, year 0000-9999) without its generic layout interpretation, which showed in
// the profile of every signed request. The time is midnight UTC.
func parseDigitsDate(s string) (time.Time, bool) {
	if len(s) != 8 {
		return time.Time{}, false
	}
	year, ok1 := digits(s[0:4])
	month, ok2 := digits(s[4:6])
	day, ok3 := digits(s[6:8])
	if !ok1 || !ok2 || !ok3 || month < 1 || month > 12 || day < 1 || day > daysIn(time.Month(month), year) {
		return time.Time{}, false
	}
	return time.Date(year, time.Month(month), day, 0, 0, 0, 0, time.UTC), true
}

// parseDigitsDateTime is time.Parse("20060102T150405Z", s) for exactly 16 bytes, likewise.
func parseDigitsDateTime(s string) (time.Time, bool) {
	if len(s) != 16 || s[8] != 'T' || s[15] != 'Z' {
		return time.Time{}, false
	}
	date, ok := parseDigitsDate(s[:8])
	hour, ok1 := digits(s[9:11])
	minute, ok2 := digits(s[11:13])
	second, ok3 := digits(s[13:15])
	if !ok || !ok1 || !ok2 || !ok3 || hour > 23 || minute > 59 || second > 59 {
		return time.Time{}, false
	}
	return date.Add(time.Duration(hour)*time.Hour + time.Duration(minute)*time.Minute + time.Duration(second)*time.Second), true
}

// digits reads a string of ASCII decimal digits (at most 4 here).
func digits(s string) (int, bool) {
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

func daysIn(m time.Month, year int) int {
	return time.Date(year, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

func isLowerHex64(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}
