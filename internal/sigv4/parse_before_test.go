package sigv4

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

// The Authorization parser as it was before its allocations and time.Parse
// were taken out: the reference the current one must agree with.

func referenceParseAuthorization(h string) (a *Authorization, missing string, err error) {
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
	if a.Credential, err = referenceParseCredential(cred); err != nil {
		return nil, "", err
	}
	if a.SignedHeaders, err = referenceParseSignedHeaders(signedHeaders); err != nil {
		return nil, "", err
	}
	if !isLowerHex64(sig) {
		return nil, "", errIncomplete("Signature must be 64 lower-case hexadecimal characters, got '"+echo(sig)+"'.", errors.New("malformed signature"))
	}
	return a, "", nil
}

func referenceParseCredential(v string) (Scope, error) {
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

func referenceParseSignedHeaders(v string) ([]string, error) {
	if v == "" {
		return nil, errIncomplete("SignedHeaders must not be empty", errors.New("empty SignedHeaders"))
	}
	if n := strings.Count(v, ";") + 1; n > MaxSignedHeaders {
		return nil, errIncomplete("SignedHeaders lists too many headers", errors.New("over MaxSignedHeaders"))
	}
	names := strings.Split(v, ";")
	for i, n := range names {
		if !referenceValidHeaderName(n) {
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

func referenceValidHeaderName(s string) bool {
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

func FuzzParseAuthorizationAsBefore(f *testing.F) {
	for _, s := range authorizationSeeds {
		f.Add(s)
	}
	f.Add("AWS4-HMAC-SHA256 Credential=AKID/20240229/us-east-1/kms/aws4_request,SignedHeaders=host;x-amz-date, Signature=" + strings.Repeat("ab", 32))
	f.Add("AWS4-HMAC-SHA256   ,Credential=AKID/20230229/us-east-1/kms/aws4_request ,, SignedHeaders=Host Signature=" + strings.Repeat("0", 64))
	f.Fuzz(func(t *testing.T, h string) {
		want, wantMissing, wantErr := referenceParseAuthorization(h)
		var got Authorization
		gotMissing, gotErr := parseAuthorizationInto(h, &got)
		if gotMissing != wantMissing || (gotErr == nil) != (wantErr == nil) {
			t.Fatalf("%q: missing %q, err %v; before: %q, %v", h, gotMissing, gotErr, wantMissing, wantErr)
		}
		if gotErr != nil {
			var g, w *Error
			if !errors.As(gotErr, &g) || !errors.As(wantErr, &w) || g.Code != w.Code || g.Message != w.Message {
				t.Fatalf("%q: error %v; before: %v", h, gotErr, wantErr)
			}
			return
		}
		if want != nil && !reflect.DeepEqual(got, *want) {
			t.Fatalf("%q: %+v; before: %+v", h, got, *want)
		}
	})
}
