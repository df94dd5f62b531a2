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
	a, missing, err := parseAuthorization(h)
	if err != nil {
		return nil, err
	}
	if missing != "" {
		return nil, errIncomplete(missing+"Authorization="+echo(h), errors.New("missing Authorization components"))
	}
	return a, nil
}

// parseAuthorization returns the AWS "requires 'X' parameter" sentences for missing
// components separately, so Verify can add the date sentence in AWS's order.
func parseAuthorization(h string) (a *Authorization, missing string, err error) {
	if len(h) > MaxAuthorizationLength {
		return nil, "", errIncomplete("Authorization header is too long", errors.New("authorization header over MaxAuthorizationLength"))
	}
	rest, ok := strings.CutPrefix(h, Algorithm+" ")
	if !ok {
		if alg, _, _ := strings.Cut(h, " "); strings.HasPrefix(alg, "AWS4-") && alg != Algorithm {
			return nil, "", errIncomplete(msgUnsupportedAlgorithm+"'"+echo(alg)+"'", errors.New("unsupported algorithm"))
		}
		// Not SigV4 at all (Bearer, Basic, SigV2 "AWS AKID:sig"): AWS answers that every
		// component is missing, quoting the header.
		return nil, msgRequiresCredential + msgRequiresSignature + msgRequiresSignedHeaders, nil
	}
	// Components are separated by commas and/or spaces: AWS splits on both, which is why
	// "Credential= AKID/..." is answered with "'AKID/...' not a valid key=value pair".
	var cred, signedHeaders, sig string
	var haveCred, haveSigned, haveSig bool
	for part := range strings.FieldsFuncSeq(rest, func(r rune) bool { return r == ',' || r == ' ' }) {
		key, value, ok := strings.Cut(part, "=")
		if !ok {
			return nil, "", errIncomplete("'"+echo(part)+"' not a valid key=value pair (missing equal-sign) in Authorization header: '"+echo(h)+"'.", errors.New("component without '='"))
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
			return nil, "", errIncomplete("'"+echo(key)+"' is not a valid Authorization header parameter.", errors.New("unknown component"))
		}
		if *have {
			return nil, "", errIncomplete("Authorization header has a duplicate '"+key+"' parameter.", errors.New("duplicate "+key))
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
		return nil, missing, nil
	}
	a = &Authorization{Signature: sig}
	if a.Credential, err = parseCredential(cred); err != nil {
		return nil, "", err
	}
	if a.SignedHeaders, err = parseSignedHeaders(signedHeaders); err != nil {
		return nil, "", err
	}
	if !isLowerHex64(sig) {
		return nil, "", errIncomplete("Signature must be 64 lower-case hexadecimal characters, got '"+echo(sig)+"'.", errors.New("malformed signature"))
	}
	return a, "", nil
}

// parseCredential parses AKID/yyyymmdd/region/service/terminator. The terminator is kept for
// Verify, which answers a wrong one with SignatureDoesNotMatch as AWS does.
func parseCredential(v string) (Scope, error) {
	parts := strings.Split(v, "/")
	if len(parts) != 5 {
		return Scope{}, errIncomplete("Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '"+echo(v)+"'", errors.New("credential element count"))
	}
	s := Scope{AccessKeyID: parts[0], Date: parts[1], Region: parts[2], Service: parts[3], Terminator: parts[4]}
	if !validAccessKeyID(s.AccessKeyID) {
		return Scope{}, errIncomplete("Credential access key id is malformed: '"+echo(s.AccessKeyID)+"'", errors.New("malformed access key id"))
	}
	if _, err := time.Parse("20060102", s.Date); err != nil || len(s.Date) != 8 {
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
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
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
