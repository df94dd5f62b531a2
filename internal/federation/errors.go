// Package federation verifies inbound OIDC ID tokens the way AWS STS does for
// AssumeRoleWithWebIdentity: strict compact-JWS decoding, an asymmetric algorithm
// allow-list, the provider chosen by exact iss, keys only from that provider's own
// discovery document and JWKS (fetched lazily, bounded, cached), and AWS's error codes and
// messages for every failure. It does no I/O besides fetching keys and knows nothing of
// roles or trust policies; the STS layer maps a *TokenError to its wire error.
package federation

import (
	"errors"
	"fmt"
)

// Code is the AWS error code a failure maps to.
type Code string

// The codes a token verification can fail with (aws-sts-iam.md §2).
const (
	// InvalidIdentityToken (400): the token is malformed, unknown, or fails a check.
	InvalidIdentityToken Code = "InvalidIdentityToken"
	// ExpiredTokenException (400): an authentic token whose exp has passed.
	ExpiredTokenException Code = "ExpiredTokenException"
	// IDPCommunicationError (400): the identity provider could not be reached. SDKs retry
	// this code automatically, so it is used only for transient transport failures.
	IDPCommunicationError Code = "IDPCommunicationError"
	// ValidationError (400): the WebIdentityToken parameter breaks its length constraint.
	ValidationError Code = "ValidationError"
)

// TokenError is every failure Verify returns. Message is the text clients see; Cause is
// for logs only and may name hosts, kids or parser positions, never key material.
type TokenError struct {
	Code    Code
	Message string
	Cause   error
}

func (e *TokenError) Error() string {
	if e.Cause != nil {
		return fmt.Sprintf("%s: %s (%v)", e.Code, e.Message, e.Cause)
	}
	return string(e.Code) + ": " + e.Message
}

func (e *TokenError) Unwrap() error { return e.Cause }

// Messages confirmed from AWS responses (aws-sts-iam.md §2, with the sources named there).
const (
	msgNoProvider   = "No OpenIDConnect provider found in your account for " // + iss
	msgAudience     = "Incorrect token audience"
	msgMissingAud   = "Missing a required claim: aud"
	msgNoKey        = "Couldn't retrieve verification key from your identity provider,  please reference AssumeRoleWithWebIdentity documentation for requirements"
	msgThumbprint   = "OpenIDConnect provider's HTTPS certificate doesn't match configured thumbprint"
	msgExpiredFmt   = "Token expired: current date/time %d must be before the expiration date/time %d"
	msgTooLong      = "1 validation error detected: Value at 'webIdentityToken' failed to satisfy constraint: Member must have length less than or equal to 20000"
	msgTooShort     = "1 validation error detected: Value at 'webIdentityToken' failed to satisfy constraint: Member must have length greater than or equal to 4"
	msgMissingClaim = "Missing a required claim: " // + name; AWS's form for aud, assumed for the others
)

// Messages whose AWS wording is not confirmed; written in AWS's style.
const (
	msgMalformed   = "The ID Token provided is not a valid JWT. (You may see this error if you sent an Access Token)"
	msgSignature   = "The signature of the token is invalid"
	msgNotYetValid = "Token is not yet valid"
	msgIssuedAhead = "Token was issued in the future"
	msgBadClaim    = "Invalid claim value: " // + name
	msgIDPComm     = "Couldn't connect to your identity provider, please retry the request"
)

// Sentinel causes, so callers and tests can tell failures apart with errors.Is while the
// public message stays AWS's.
var (
	ErrTokenTooLong    = errors.New("token longer than 20000 characters")
	ErrMalformed       = errors.New("malformed token")
	ErrAlgorithm       = errors.New("algorithm not allowed")
	ErrHeader          = errors.New("forbidden JWS header")
	ErrUnknownIssuer   = errors.New("unknown issuer")
	ErrAudience        = errors.New("audience mismatch")
	ErrKeyNotFound     = errors.New("verification key not found")
	ErrSignature       = errors.New("signature verification failed")
	ErrExpired         = errors.New("token expired")
	ErrClaim           = errors.New("invalid claim")
	ErrFetch           = errors.New("fetching keys failed")
	ErrFetchTransient  = errors.New("identity provider unreachable")
	ErrThumbprint      = errors.New("certificate thumbprint mismatch")
	ErrRefetchLimited  = errors.New("key refetch rate-limited")
	errNoUsableKeySets = errors.New("no usable keys in JWKS")
)

func invalid(msg string, cause error) *TokenError {
	return &TokenError{Code: InvalidIdentityToken, Message: msg, Cause: cause}
}

func malformed(detail string) *TokenError {
	return invalid(msgMalformed, fmt.Errorf("%w: %s", ErrMalformed, detail))
}
