// Package awsproto owns the AWS wire plumbing shared by the STS, IAM and KMS
// front ends: Query-protocol request parsing, the error model, the XML and
// JSON 1.1 error envelopes, XML response writing and request ids. It knows
// nothing about any service's operations, and imports no other internal
// package, so every service can depend on it.
package awsproto

import (
	"errors"
	"net/http"
)

// Error is an error as AWS puts it on the wire. Code and Message are what
// SDKs surface to users (botocore: "An error occurred (Code) when calling
// ...: Message"), so they must match AWS byte for byte; HTTPStatus decides
// whether SDKs retry; Type is the Query protocol's Sender/Receiver.
type Error struct {
	Code       string
	Message    string
	HTTPStatus int
	Type       string // TypeSender (4xx) or TypeReceiver (5xx)

	// cause lets callers tell this package's own failures apart with
	// errors.Is (ErrBodyTooLarge, ...) without parsing Code.
	cause error
}

// Error types of the Query protocol's <Type> element.
const (
	TypeSender   = "Sender"
	TypeReceiver = "Receiver"
)

// NewError builds an Error whose Type follows its status, as AWS does:
// Sender for 4xx, Receiver for 5xx.
func NewError(status int, code, message string) *Error {
	t := TypeSender
	if status >= 500 {
		t = TypeReceiver
	}
	return &Error{Code: code, Message: message, HTTPStatus: status, Type: t}
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Unwrap exposes the sentinel this package's parse errors carry.
func (e *Error) Unwrap() error { return e.cause }

func (e *Error) with(cause error) *Error {
	e.cause = cause
	return e
}

// Sentinels for the Query parser's failures; the returned *Error wraps one.
var (
	ErrBodyTooLarge       = errors.New("request body too large")
	ErrMalformedQuery     = errors.New("malformed query string")
	ErrDuplicateParameter = errors.New("parameter repeated")
	ErrTooManyParameters  = errors.New("too many parameters")
	ErrMalformedList      = errors.New("malformed list parameter")
)

// AsError returns err's *Error if it carries one, and otherwise the generic
// InternalFailure, so a handler can answer any error without leaking its
// text (logs get the cause; clients get AWS's words).
func AsError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return InternalFailure()
}

// Common errors of AWS Query and JSON services, with the HTTP statuses of
// AWS's "Common Errors" page (STS, IAM and KMS API references all carry the
// same table). Constructors rather than variables: an *Error is mutable and
// shared values would invite a handler to edit everyone's copy.

// InternalFailure: "The request processing has failed because of an unknown
// error, exception or failure." (500) [doc: Common Errors].
func InternalFailure() *Error {
	return NewError(http.StatusInternalServerError, "InternalFailure",
		"The request processing has failed because of an unknown error, exception or failure.")
}

// InvalidClientTokenID is what STS and IAM answer for an unknown access key
// id or a session token that does not open (403) [obs].
func InvalidClientTokenID() *Error {
	return NewError(http.StatusForbidden, "InvalidClientTokenId",
		"The security token included in the request is invalid.")
}

// ExpiredToken is what STS and IAM answer for an expired session token. The
// message has no final period, as observed; the 403 is from Common Errors
// (which lists ExpiredTokenException) and is unconfirmed for this code.
func ExpiredToken() *Error {
	return NewError(http.StatusForbidden, "ExpiredToken",
		"The security token included in the request is expired")
}

// MissingAction: the request names no Action (400) [doc: Common Errors;
// message text unconfirmed, it is the table's description].
func MissingAction() *Error {
	return NewError(http.StatusBadRequest, "MissingAction",
		"The request is missing an action or a required parameter.")
}

// InvalidAction: an Action the service does not have (400). The message is
// the form AWS Query services answer with ("Could not find operation X for
// version V"), recalled from real responses; unconfirmed by a primary source.
func InvalidAction(action, version string) *Error {
	return NewError(http.StatusBadRequest, "InvalidAction",
		"Could not find operation "+action+" for version "+version)
}

// MissingParameter: a required parameter is absent (400) [doc: Common
// Errors]. STS actually reports most missing members as ValidationError
// ("1 validation error detected: Value null at 'roleArn' failed to satisfy
// constraint: Member must not be null"); handlers pick which.
func MissingParameter(message string) *Error {
	return NewError(http.StatusBadRequest, "MissingParameter", message)
}

// ValidationError: input that fails a modeled constraint (400) [obs].
func ValidationError(message string) *Error {
	return NewError(http.StatusBadRequest, "ValidationError", message)
}

// InvalidParameterValue: an invalid or out-of-range value (400) [doc].
func InvalidParameterValue(message string) *Error {
	return NewError(http.StatusBadRequest, "InvalidParameterValue", message)
}

// JSONAuthError renames the Query protocol's authentication errors to the
// names AWS's JSON-protocol services (KMS, CloudTrail) answer with, at
// status 400: UnrecognizedClientException for an unknown access key,
// InvalidSignatureException for a bad signature, and so on. Other errors
// are returned as they are.
func JSONAuthError(e *Error) *Error {
	code, ok := map[string]string{
		"InvalidClientTokenId":       "UnrecognizedClientException",
		"SignatureDoesNotMatch":      "InvalidSignatureException",
		"ExpiredToken":               "ExpiredTokenException",
		"IncompleteSignature":        "IncompleteSignatureException",
		"MissingAuthenticationToken": "MissingAuthenticationTokenException",
	}[e.Code]
	if !ok {
		return e
	}
	status := e.HTTPStatus
	if status == http.StatusForbidden {
		status = http.StatusBadRequest
	}
	return NewError(status, code, e.Message).WithCause(errors.Unwrap(e))
}
