// Package sigv4 verifies AWS Signature Version 4 on incoming requests, in both forms: the
// Authorization header and the presigned query string. It is pure: no I/O, no clock of its own,
// no knowledge of where secrets live (the caller's CredentialSource looks them up), and it writes
// no responses: failures are *Error values carrying AWS's code, status and message, which the
// caller puts into its protocol's error envelope.
//
// Errors follow the Query services (STS, IAM): MissingAuthenticationToken (403) when nothing is
// signed; IncompleteSignature (400) for a malformed or partial signature; SignatureDoesNotMatch
// (403) for a wrong signature and also for every credential-scope and clock failure (AWS answers
// a wrong region or service with it, not AccessDenied); InvalidClientTokenId (403) for an
// unknown key or a wrong session token; ExpiredToken (403) for an expired session;
// RequestExpired (400) for a presigned URL past X-Amz-Expires. Messages confirmed against
// observed AWS responses are used verbatim; the others (marked in errors.go) follow AWS's
// style. Order of checks: form, scope, clock, credentials, signature, so that no answer beyond
// "invalid key" depends on a secret the client does not hold.
package sigv4

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

const (
	amzDateFormat = "20060102T150405Z"
	// DefaultMaxSkew is the clock skew STS and IAM accept between X-Amz-Date and their clock.
	DefaultMaxSkew = 5 * time.Minute
	// MaxPresignExpires is the longest X-Amz-Expires accepted: 7 days, AWS's limit.
	MaxPresignExpires = 7 * 24 * time.Hour
	// UnsignedPayload is the X-Amz-Content-Sha256 value meaning the body is not signed (S3 only).
	UnsignedPayload = "UNSIGNED-PAYLOAD"
	// emptySHA256 is hex(SHA-256("")), the payload hash of a bodiless request.
	emptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	// dummySecret stands in for an unknown access key's secret so that a request naming an
	// unknown key costs the same work as one naming a real key.
	dummySecret = "oidcfed/sigv4/dummy/secret/for/timing/0"
)

// Credentials are what a CredentialSource knows about an access key.
type Credentials struct {
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string
}

// CredentialSource looks up the secret for an access key id. sessionToken is the request's
// X-Amz-Security-Token ("" if none); the source decides whether the key needs one and whether it
// is the one issued with the key. principal is opaque to this package and handed back in Result.
// Errors: ErrUnknownAccessKey or ErrInvalidSessionToken (→ InvalidClientTokenId), ErrExpiredToken
// (→ ExpiredToken), anything else is returned unchanged as an internal failure.
type CredentialSource interface {
	Lookup(ctx context.Context, accessKeyID, sessionToken string) (creds Credentials, principal any, err error)
}

// CredentialSourceFunc adapts a function to CredentialSource.
type CredentialSourceFunc func(ctx context.Context, accessKeyID, sessionToken string) (Credentials, any, error)

// Lookup calls f.
func (f CredentialSourceFunc) Lookup(ctx context.Context, accessKeyID, sessionToken string) (Credentials, any, error) {
	return f(ctx, accessKeyID, sessionToken)
}

// Options say what a request must be signed for and how to check it.
type Options struct {
	// Service is the credential-scope service the endpoint answers to ("sts", "iam", "kms"), as
	// resolved by routing. Required.
	Service string
	// Regions lists the credential-scope regions accepted. Required (IAM: ["us-east-1"]).
	Regions []string
	// Credentials looks up secrets. Required.
	Credentials CredentialSource
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// MaxSkew is the accepted distance between X-Amz-Date and Now; 0 means DefaultMaxSkew.
	MaxSkew time.Duration
	// KeyCache caches derived signing keys; nil derives the key on every request.
	KeyCache *KeyCache
	// SingleEncodePath applies S3's path rules: no dot-segment normalization, no double encoding.
	SingleEncodePath bool
	// AllowUnsignedPayload accepts X-Amz-Content-Sha256: UNSIGNED-PAYLOAD (and presigned URLs
	// without a payload hash) as S3 does. Off, the body is always hashed and the header ignored:
	// STS, IAM and KMS sign their bodies.
	AllowUnsignedPayload bool
}

// Result describes a verified request.
type Result struct {
	AccessKeyID   string
	SessionToken  string // "" for long-term keys
	Region        string
	Service       string
	SignedAt      time.Time // X-Amz-Date (or Date)
	SignedHeaders []string
	Presigned     bool
	Expires       time.Time // presigned only: SignedAt + X-Amz-Expires
	Principal     any       // from CredentialSource.Lookup
}

// signed is what both forms of a request yield once parsed: everything needed to rebuild the
// string to sign.
type signed struct {
	scope         Scope
	signedHeaders []string
	signature     string
	amzDate       string
	signedAt      time.Time
	sessionToken  string
	presigned     bool
	expires       time.Duration
}

// HasSignature reports whether r carries SigV4 authentication in either form, for routers that
// must tell signed requests from unsigned ones (AssumeRoleWithWebIdentity) without verifying.
func HasSignature(r *http.Request) bool {
	return r.Header.Get("Authorization") != "" || isPresigned(r.URL.RawQuery)
}

// isPresigned is a cheap test for the presigned form; the query is parsed only when it says yes.
func isPresigned(rawQuery string) bool {
	return strings.Contains(rawQuery, "X-Amz-Algorithm=") || strings.Contains(rawQuery, "X-Amz-Credential=") ||
		strings.Contains(rawQuery, "X-Amz-Signature=")
}

// Verify checks r's signature. body is the request body, already read and bounded by the caller
// (nil for none). On success it returns the verified identity; on failure an *Error (or, for a
// CredentialSource failure other than the sentinels, that error).
func Verify(ctx context.Context, r *http.Request, body []byte, opts Options) (*Result, error) {
	if opts.Credentials == nil || opts.Service == "" || len(opts.Regions) == 0 {
		return nil, errors.New("sigv4: Options.Credentials, Service and Regions are required")
	}
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	skew := opts.MaxSkew
	if skew <= 0 {
		skew = DefaultMaxSkew
	}

	// Headers are looked up by their canonical keys directly (Header.Values
	// would canonicalize the constant again on every request).
	authz := r.Header["Authorization"]
	if len(authz) == 1 && authz[0] == "" {
		authz = nil // an empty header authenticates nothing, as in HasSignature
	}
	presigned := isPresigned(r.URL.RawQuery)
	var s *signed
	var headerForm signed // the header form is parsed in place: no allocation per request
	var err error
	switch {
	case len(authz) == 0 && !presigned:
		return nil, newError(CodeMissingAuthenticationToken, statusMissingAuthenticationCode, msgMissingAuthenticationToken, errors.New("no Authorization header and no presigned query"))
	case len(authz) > 0 && presigned:
		return nil, errIncomplete(msgOnlyOneAuthMechanism, errors.New("both Authorization header and presigned query"))
	case len(authz) > 1:
		return nil, errIncomplete("Only one Authorization header is allowed", errors.New("repeated Authorization header"))
	case presigned:
		s, err = parsePresigned(r)
	default:
		s, err = &headerForm, parseHeaderFormInto(r, authz[0], &headerForm)
	}
	if err != nil {
		return nil, err
	}

	if err := checkScope(s, opts); err != nil {
		return nil, err
	}
	if err := checkTime(s, now().UTC(), skew); err != nil {
		return nil, err
	}

	creds, principal, lookupErr := opts.Credentials.Lookup(ctx, s.scope.AccessKeyID, s.sessionToken)
	expired := false
	secret := creds.SecretAccessKey
	switch {
	case lookupErr == nil:
	case errors.Is(lookupErr, ErrExpiredToken):
		expired = true
		if secret == "" {
			return nil, newError(CodeExpiredToken, statusExpiredToken, msgExpiredToken, lookupErr)
		}
	case errors.Is(lookupErr, ErrUnknownAccessKey), errors.Is(lookupErr, ErrInvalidSessionToken):
		secret = dummySecret
	default:
		return nil, lookupErr
	}
	if secret == "" {
		return nil, errors.New("sigv4: CredentialSource returned an empty secret for " + s.scope.AccessKeyID)
	}

	// The payload hash, canonical request and string to sign are built in stack buffers and
	// the MAC computed without crypto/hmac's per-call state: nothing here allocates in the
	// usual case (Verify runs on every signed request).
	var hashBuf [2 * sha256.Size]byte
	ph := appendPayloadHash(hashBuf[:0], r, body, s.presigned, opts.AllowUnsignedPayload)
	var stsBuf [maxStackStringToSign]byte
	sts, err := appendStringToSign(stsBuf[:0], r, s, ph, opts.SingleEncodePath)
	if err != nil {
		if lookupErr != nil && !expired {
			return nil, newError(CodeInvalidClientTokenID, statusInvalidClientTokenID, msgInvalidClientTokenID, lookupErr)
		}
		return nil, errMismatch("", err)
	}
	var key [sha256.Size]byte
	if opts.KeyCache != nil && lookupErr == nil {
		key = opts.KeyCache.get(secret, s.scope.Date, s.scope.Region, s.scope.Service)
	} else {
		// Unknown keys never enter the cache: a flood of made-up ids must not evict real keys.
		key = deriveSigningKey(secret, s.scope.Date, s.scope.Region, s.scope.Service)
	}
	var sig [2 * sha256.Size]byte
	mac := hmacSHA256Sum(key, sts)
	hex.Encode(sig[:], mac[:])
	match := hmac.Equal(sig[:], []byte(s.signature))

	if lookupErr != nil && !expired {
		return nil, newError(CodeInvalidClientTokenID, statusInvalidClientTokenID, msgInvalidClientTokenID, lookupErr)
	}
	if !match {
		// string(sts): the error keeps a copy, so the buffer itself stays on the stack.
		return nil, errMismatch("", fmt.Errorf("signature mismatch; string to sign %q", string(sts)))
	}
	if expired {
		return nil, newError(CodeExpiredToken, statusExpiredToken, msgExpiredToken, lookupErr)
	}
	res := &Result{
		AccessKeyID:   s.scope.AccessKeyID,
		SessionToken:  s.sessionToken,
		Region:        s.scope.Region,
		Service:       s.scope.Service,
		SignedAt:      s.signedAt,
		SignedHeaders: s.signedHeaders,
		Presigned:     s.presigned,
		Principal:     principal,
	}
	if s.presigned {
		res.Expires = s.signedAt.Add(s.expires)
	}
	return res, nil
}

func parseHeaderForm(r *http.Request, h string) (*signed, error) {
	s := new(signed)
	if err := parseHeaderFormInto(r, h, s); err != nil {
		return nil, err
	}
	return s, nil
}

// parseHeaderFormInto is parseHeaderForm filling in the caller's s.
func parseHeaderFormInto(r *http.Request, h string, s *signed) error {
	var a Authorization
	missing, err := parseAuthorizationInto(h, &a)
	if err != nil {
		return err
	}
	amzDate, signedAt, dateMissing, err := requestDate(r)
	if dateMissing {
		missing += msgRequiresDate
	}
	if missing != "" {
		return errIncomplete(missing+"Authorization="+echo(h), errors.New("missing Authorization components or date"))
	}
	if err != nil {
		return err
	}
	if !slices.Contains(a.SignedHeaders, "host") {
		return errIncomplete(msgHostMustBeSigned, errors.New("host not signed"))
	}
	*s = signed{scope: a.Credential, signedHeaders: a.SignedHeaders, signature: a.Signature, amzDate: amzDate, signedAt: signedAt}
	switch toks := r.Header["X-Amz-Security-Token"]; {
	case len(toks) > 1:
		return errIncomplete("Only one X-Amz-Security-Token header is allowed", errors.New("repeated security token"))
	case len(toks) == 1:
		// The token is outside the string to sign unless it is a signed header; a request
		// whose token could be swapped in transit is refused.
		if !slices.Contains(a.SignedHeaders, "x-amz-security-token") {
			return errIncomplete(msgSecurityTokenMustBeSigned, errors.New("security token not signed"))
		}
		s.sessionToken = toks[0]
	}
	return nil
}

// requestDate reads X-Amz-Date, or failing that the HTTP Date header.
func requestDate(r *http.Request) (amzDate string, t time.Time, missing bool, err error) {
	if v := r.Header["X-Amz-Date"]; len(v) > 0 {
		if len(v) > 1 {
			return "", time.Time{}, false, errIncomplete("Only one X-Amz-Date header is allowed", errors.New("repeated X-Amz-Date"))
		}
		t, err := parseAmzDate(v[0])
		return v[0], t, false, err
	}
	v := r.Header.Get("Date")
	if v == "" {
		return "", time.Time{}, true, nil
	}
	t, perr := http.ParseTime(v)
	if perr != nil {
		return "", time.Time{}, false, errIncomplete("Date header is not a valid HTTP date: '"+echo(v)+"'", perr)
	}
	t = t.UTC()
	return t.Format(amzDateFormat), t, false, nil
}

func parseAmzDate(v string) (time.Time, error) {
	t, ok := parseDigitsDateTime(v)
	if !ok {
		_, err := time.Parse(amzDateFormat, v) // the detail for logs; the fast parser only says no
		if err == nil {
			err = errors.New("X-Amz-Date has the wrong length")
		}
		return time.Time{}, errIncomplete("Date must be in ISO-8601 'basic format'. Got '"+echo(v)+"'. See http://en.wikipedia.org/wiki/ISO_8601", err)
	}
	return t, nil
}

func parsePresigned(r *http.Request) (*signed, error) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, errIncomplete(msgMalformedQueryString, err)
	}
	get := func(k string) (string, bool, error) {
		v, ok := q[k]
		if !ok {
			return "", false, nil
		}
		if len(v) > 1 {
			return "", true, errIncomplete("Query parameter '"+k+"' must appear only once", errors.New("repeated "+k))
		}
		return v[0], true, nil
	}
	var vals [6]string
	for i, k := range [...]string{"X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires", "X-Amz-SignedHeaders", "X-Amz-Signature"} {
		v, ok, err := get(k)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, errIncomplete("Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.", errors.New("missing "+k))
		}
		vals[i] = v
	}
	alg, cred, date, exp, sh, sig := vals[0], vals[1], vals[2], vals[3], vals[4], vals[5]
	if alg != Algorithm {
		return nil, errIncomplete(msgUnsupportedAlgorithm+"'"+echo(alg)+"'", errors.New("unsupported algorithm"))
	}
	scope, err := parseCredential(cred)
	if err != nil {
		return nil, err
	}
	signedAt, err := parseAmzDate(date)
	if err != nil {
		return nil, err
	}
	n, err := strconv.ParseInt(exp, 10, 64)
	if err != nil || n < 1 || strings.TrimLeft(exp, "0123456789") != "" {
		return nil, errIncomplete(msgExpiresInvalid, errors.New("malformed X-Amz-Expires"))
	}
	if n > int64(MaxPresignExpires/time.Second) {
		return nil, errIncomplete(msgExpiresTooLong, errors.New("X-Amz-Expires over 7 days"))
	}
	headers, err := parseSignedHeaders(sh)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(headers, "host") {
		return nil, errIncomplete(msgHostMustBeSigned, errors.New("host not signed"))
	}
	if !isLowerHex64(sig) {
		return nil, errIncomplete("X-Amz-Signature must be 64 lower-case hexadecimal characters", errors.New("malformed signature"))
	}
	s := &signed{scope: scope, signedHeaders: headers, signature: sig, amzDate: date, signedAt: signedAt, presigned: true, expires: time.Duration(n) * time.Second}
	// The query token is inside the canonical query, hence signed.
	tok, ok, err := get("X-Amz-Security-Token")
	if err != nil {
		return nil, err
	}
	if ok {
		s.sessionToken = tok
	} else if toks := r.Header.Values("X-Amz-Security-Token"); len(toks) > 0 {
		if len(toks) > 1 || !slices.Contains(headers, "x-amz-security-token") {
			return nil, errIncomplete(msgSecurityTokenMustBeSigned, errors.New("security token header not signed"))
		}
		s.sessionToken = toks[0]
	}
	return s, nil
}

// checkScope applies AWS's credential-scope rules; every failure is SignatureDoesNotMatch.
// Region and service wording confirmed (STS: cognitect-labs/aws-api#27; API Gateway:
// cllunsford/aws-signing-proxy#25), including the trailing space, and concatenated when both
// are wrong (unconfirmed); the date message's prefix is AWS's documented text (IAM user guide,
// "Troubleshoot signed requests"), its detail and the terminator message are unconfirmed.
func checkScope(s *signed, opts Options) error {
	sc := s.scope
	if sc.Terminator != terminator {
		return errMismatch("Credential should be scoped with a valid terminator: 'aws4_request', not '"+echo(sc.Terminator)+"'. ", errors.New("bad scope terminator"))
	}
	if sc.Date != s.amzDate[:8] {
		return errMismatch("Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '"+sc.Date+"' != '"+s.amzDate[:8]+"', from '"+s.amzDate+"'.", errors.New("scope date differs from request date"))
	}
	var msg string
	if !slices.Contains(opts.Regions, sc.Region) {
		msg += "Credential should be scoped to a valid region, not '" + sc.Region + "'. "
	}
	if sc.Service != opts.Service {
		msg += "Credential should be scoped to correct service: '" + opts.Service + "'. "
	}
	if msg != "" {
		return errMismatch(msg, fmt.Errorf("scope %s/%s, expected service %s in %v", sc.Region, sc.Service, opts.Service, opts.Regions))
	}
	return nil
}

// checkTime applies the skew window (header form) or the presigned validity window. Both
// "Signature expired" and "Signature not yet current" are confirmed verbatim (convox/rack#235,
// serverless/enterprise#11): AWS prints the limit, then now ± the window in minutes.
func checkTime(s *signed, now time.Time, skew time.Duration) error {
	const f = amzDateFormat
	if s.signedAt.After(now.Add(skew)) {
		return errMismatch(fmt.Sprintf("Signature not yet current: %s is still later than %s (%s + %d min.)",
			s.amzDate, now.Add(skew).Format(f), now.Format(f), int(skew/time.Minute)), errors.New("request date in the future"))
	}
	if s.presigned {
		if now.After(s.signedAt.Add(s.expires)) {
			return newError(CodeRequestExpired, statusRequestExpired, msgRequestExpired,
				fmt.Errorf("presigned at %s for %s, now %s", s.amzDate, s.expires, now.Format(f)))
		}
		return nil
	}
	if s.signedAt.Before(now.Add(-skew)) {
		return errMismatch(fmt.Sprintf("Signature expired: %s is now earlier than %s (%s - %d min.)",
			s.amzDate, now.Add(-skew).Format(f), now.Format(f), int(skew/time.Minute)), errors.New("request date too old"))
	}
	return nil
}

func payloadHash(r *http.Request, body []byte, presigned, allowUnsigned bool) string {
	return string(appendPayloadHash(nil, r, body, presigned, allowUnsigned))
}

// appendPayloadHash appends the canonical request's payload hash: hex(SHA-256(body)), or
// UNSIGNED-PAYLOAD where that is allowed and asked for.
func appendPayloadHash(dst []byte, r *http.Request, body []byte, presigned, allowUnsigned bool) []byte {
	if allowUnsigned {
		switch h := r.Header.Get("X-Amz-Content-Sha256"); {
		case h == UnsignedPayload, presigned && h == "":
			return append(dst, UnsignedPayload...)
		}
	}
	if len(body) == 0 {
		return append(dst, emptySHA256...)
	}
	sum := sha256.Sum256(body)
	return hex.AppendEncode(dst, sum[:])
}

// canonicalRequest builds METHOD\nURI\nQUERY\nHEADERS\n\nSIGNEDHEADERS\nPAYLOADHASH.
func canonicalRequest(r *http.Request, s *signed, payloadHash string, singleEncode bool) ([]byte, error) {
	return appendCanonicalRequest(make([]byte, 0, 512), r, s, []byte(payloadHash), singleEncode)
}

// appendCanonicalRequest appends the canonical request to dst.
func appendCanonicalRequest(b []byte, r *http.Request, s *signed, payloadHash []byte, singleEncode bool) ([]byte, error) {
	b = append(b, r.Method...)
	b = append(b, '\n')
	b = appendCanonicalURI(b, rawPath(r), singleEncode)
	b = append(b, '\n')
	b, err := appendCanonicalQuery(b, r.URL.RawQuery, s.presigned)
	if err != nil {
		return nil, err
	}
	b = append(b, '\n')
	b, err = appendCanonicalHeaders(b, r, s.signedHeaders)
	if err != nil {
		return nil, err
	}
	b = append(b, '\n')
	for i, h := range s.signedHeaders {
		if i > 0 {
			b = append(b, ';')
		}
		b = append(b, h...)
	}
	b = append(b, '\n')
	b = append(b, payloadHash...)
	return b, nil
}

// maxStackCanonicalRequest is the canonical request size built on the stack: an SDK request
// with a session token and its usual headers takes 1-1.5 KB; larger ones (a long query, many
// signed headers) spill to the heap, as append does.
const maxStackCanonicalRequest = 4096

// maxStackStringToSign holds any string to sign the parsers let through: its parts are the
// algorithm, a 16-character date, the scope (8 + 3 × maxScopePartLength + slashes) and 64 hex
// digits, about 300 bytes in all.
const maxStackStringToSign = 512

// appendStringToSign appends AWS4-HMAC-SHA256\nAMZDATE\nSCOPE\nhex(SHA256(canonical request)) to
// dst; the canonical request it hashes lives on the stack.
func appendStringToSign(b []byte, r *http.Request, s *signed, payloadHash []byte, singleEncode bool) ([]byte, error) {
	var creqBuf [maxStackCanonicalRequest]byte
	creq, err := appendCanonicalRequest(creqBuf[:0], r, s, payloadHash, singleEncode)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(creq)
	b = append(b, Algorithm...)
	b = append(b, '\n')
	b = append(b, s.amzDate...)
	b = append(b, '\n')
	b = append(b, s.scope.Date...) // Scope.String without its allocation
	b = append(b, '/')
	b = append(b, s.scope.Region...)
	b = append(b, '/')
	b = append(b, s.scope.Service...)
	b = append(b, '/')
	b = append(b, s.scope.Terminator...)
	b = append(b, '\n')
	b = hex.AppendEncode(b, sum[:])
	return b, nil
}
