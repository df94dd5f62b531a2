package kms

import "fmt"

// ErrorCode is a KMS error code (the JSON protocol's __type).
type ErrorCode string

// The KMS errors this package returns; the api package's table gives each
// its HTTP status. Messages follow AWS's where they are known; the rest
// are marked unconfirmed where they are built.
const (
	CodeNotFound          ErrorCode = "NotFoundException"
	CodeDisabled          ErrorCode = "DisabledException"
	CodeInvalidState      ErrorCode = "KMSInvalidStateException"
	CodeInvalidKeyUsage   ErrorCode = "InvalidKeyUsageException"
	CodeInvalidSignature  ErrorCode = "KMSInvalidSignatureException"
	CodeInvalidMac        ErrorCode = "KMSInvalidMacException"
	CodeValidation        ErrorCode = "ValidationException"
	CodeAlreadyExists     ErrorCode = "AlreadyExistsException"
	CodeInvalidAliasName  ErrorCode = "InvalidAliasNameException"
	CodeInvalidArn        ErrorCode = "InvalidArnException"
	CodeInvalidMarker     ErrorCode = "InvalidMarkerException"
	CodeMalformedPolicy   ErrorCode = "MalformedPolicyDocumentException"
	CodeTag               ErrorCode = "TagException"
	CodeUnsupportedOp     ErrorCode = "UnsupportedOperationException"
	CodeLimitExceeded     ErrorCode = "LimitExceededException"
	CodeInvalidCiphertext ErrorCode = "InvalidCiphertextException"
	CodeIncorrectKey      ErrorCode = "IncorrectKeyException"
	CodeDependencyTimeout ErrorCode = "DependencyTimeoutException"
	CodeInternal          ErrorCode = "KMSInternalException"
	CodeAccessDenied      ErrorCode = "AccessDeniedException"
	CodeInvalidGrantToken ErrorCode = "InvalidGrantTokenException"
	CodeDryRunOperation   ErrorCode = "DryRunOperationException"
	CodeKeyUnavailable    ErrorCode = "KeyUnavailableException"
	CodeSerialization     ErrorCode = "SerializationException"
)

// Error is a KMS error with AWS's code and message.
type Error struct {
	Code    ErrorCode
	Message string
	Cause   error // for logs only
}

func (e *Error) Error() string {
	if e.Cause != nil {
		return string(e.Code) + ": " + e.Message + " (" + e.Cause.Error() + ")"
	}
	return string(e.Code) + ": " + e.Message
}

func (e *Error) Unwrap() error { return e.Cause }

func newError(code ErrorCode, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// validation is AWS's request-validation error: "1 validation error
// detected: Value ... at 'member' failed to satisfy constraint: ...".
func validation(member, constraint string) *Error {
	return newError(CodeValidation, "1 validation error detected: Value at '%s' failed to satisfy constraint: %s", member, constraint)
}
