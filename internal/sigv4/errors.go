package sigv4

import (
	"errors"
	"net/http"
)

// AWS error codes returned by Verify. They are the Query-protocol codes STS and IAM use; a
// JSON-protocol caller (KMS) maps them to its own spelling (InvalidSignatureException, ...).
const (
	CodeSignatureDoesNotMatch      = "SignatureDoesNotMatch"
	CodeIncompleteSignature        = "IncompleteSignature"
	CodeInvalidClientTokenID       = "InvalidClientTokenId"
	CodeExpiredToken               = "ExpiredToken"
	CodeMissingAuthenticationToken = "MissingAuthenticationToken"
	CodeRequestExpired             = "RequestExpired"
)

// Messages. "Confirmed" means seen verbatim in a real AWS response (public issue threads, cited);
// the rest follow AWS's style but their exact wording is unconfirmed.
const (
	// Confirmed: aws-cli#134, aws-sdk-ruby#374 (SignatureDoesNotMatch from Query services).
	msgSignatureDoesNotMatch = "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
	// Confirmed, raw STS XML (aws-azure-login#251). Some endpoints add a final '.'.
	msgInvalidClientTokenID = "The security token included in the request is invalid"
	// Confirmed, raw IAM XML with 403 (cfn-sphere#55).
	msgExpiredToken = "The security token included in the request is expired"
	// Confirmed, STS GetCallerIdentity 403 (cert-manager/aws-privateca-issuer#40).
	msgMissingAuthenticationToken = "Request is missing Authentication Token"
	// Unconfirmed (the code is from AWS's Common Errors list).
	msgRequestExpired = "Request has expired"
	// Confirmed, in this order, ending "Authorization=<header>" (aws-sdk-ruby#317, amazonka#316).
	msgRequiresCredential    = "Authorization header requires 'Credential' parameter. "
	msgRequiresSignature     = "Authorization header requires 'Signature' parameter. "
	msgRequiresSignedHeaders = "Authorization header requires 'SignedHeaders' parameter. "
	msgRequiresDate          = "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. "
	// Unconfirmed from here on.
	msgHostMustBeSigned          = "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."
	msgSecurityTokenMustBeSigned = "'X-Amz-Security-Token' must be a 'SignedHeader' in the AWS Authorization."
	msgOnlyOneAuthMechanism      = "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter or the Authorization header should be specified"
	msgUnsupportedAlgorithm      = "Unsupported AWS 'algorithm': "
	msgExpiresTooLong            = "X-Amz-Expires must be less than a week (in seconds) that is 604800"
	msgExpiresInvalid            = "X-Amz-Expires should be a number between 1 and 604800"
	msgMalformedQueryString      = "The query string is not valid percent-encoding"

	maxMessageEcho = 512 // bytes of client input quoted back in a message

	statusIncompleteSignature       = http.StatusBadRequest
	statusRequestExpired            = http.StatusBadRequest
	statusSignatureDoesNotMatch     = http.StatusForbidden
	statusInvalidClientTokenID      = http.StatusForbidden
	statusExpiredToken              = http.StatusForbidden
	statusMissingAuthenticationCode = http.StatusForbidden
)

// Error is a verification failure: the AWS code, HTTP status and message the caller puts in its
// protocol's error envelope, and a Cause for logs only (it may name what differed; the message
// never carries more than AWS's own text and the client's own input).
type Error struct {
	Code    string
	Status  int
	Message string
	Cause   error
}

func (e *Error) Error() string {
	if e.Cause != nil {
		return e.Code + ": " + e.Message + " (" + e.Cause.Error() + ")"
	}
	return e.Code + ": " + e.Message
}

func (e *Error) Unwrap() error { return e.Cause }

// Sentinel errors a CredentialSource returns (wrapped or not) so Verify can answer with AWS's
// codes. Any other lookup error is returned unchanged: the caller treats it as an internal error.
var (
	// ErrUnknownAccessKey: no such access key id (or it was deleted / deactivated).
	ErrUnknownAccessKey = errors.New("sigv4: unknown access key id")
	// ErrInvalidSessionToken: the session token is missing, unreadable, or not the one issued
	// with this access key id.
	ErrInvalidSessionToken = errors.New("sigv4: invalid session token")
	// ErrExpiredToken: the session token is genuine but past its expiry. Return the
	// Credentials too when the secret is known: Verify then answers ExpiredToken only to a
	// correctly signed request, so a forged request learns nothing about the token.
	ErrExpiredToken = errors.New("sigv4: session token expired")
)

func newError(code string, status int, msg string, cause error) *Error {
	return &Error{Code: code, Status: status, Message: msg, Cause: cause}
}

func errIncomplete(msg string, cause error) *Error {
	return newError(CodeIncompleteSignature, statusIncompleteSignature, msg, cause)
}

func errMismatch(msg string, cause error) *Error {
	if msg == "" {
		msg = msgSignatureDoesNotMatch
	}
	return newError(CodeSignatureDoesNotMatch, statusSignatureDoesNotMatch, msg, cause)
}

// echo bounds client input quoted back in a message.
func echo(s string) string {
	if len(s) > maxMessageEcho {
		return s[:maxMessageEcho] + "..."
	}
	return s
}
