package iam

import "fmt"

// ErrorCode names an IAM failure the way the IAM API reports it. The
// api package maps each to its HTTP status; the message is IAM's own
// wording, which is what users search for.
type ErrorCode string

// The IAM error codes the manager returns.
const (
	CodeNoSuchEntity            ErrorCode = "NoSuchEntity"
	CodeEntityAlreadyExists     ErrorCode = "EntityAlreadyExists"
	CodeLimitExceeded           ErrorCode = "LimitExceeded"
	CodeMalformedPolicyDocument ErrorCode = "MalformedPolicyDocument"
	CodeInvalidInput            ErrorCode = "InvalidInput"
	CodeDeleteConflict          ErrorCode = "DeleteConflict"
	CodeUnmodifiableEntity      ErrorCode = "UnmodifiableEntity"
	CodePolicyNotAttachable     ErrorCode = "PolicyNotAttachable"
	CodeValidationError         ErrorCode = "ValidationError"
)

// Error is a refused IAM operation: nothing was changed.
type Error struct {
	Code    ErrorCode
	Message string
}

func (e *Error) Error() string { return string(e.Code) + ": " + e.Message }

func ierr(code ErrorCode, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Messages as IAM words them.

func errNoSuchRole(name string) *Error {
	return ierr(CodeNoSuchEntity, "The role with name %s cannot be found.", name)
}

func errNoSuchUser(name string) *Error {
	return ierr(CodeNoSuchEntity, "The user with name %s cannot be found.", name)
}

func errNoSuchPolicy(arn string) *Error {
	return ierr(CodeNoSuchEntity, "Policy %s was not found.", arn)
}

// errProviderCannotBeFound is the delete/modify form of a missing provider.
func errProviderCannotBeFound(arn string) *Error {
	return ierr(CodeNoSuchEntity, "OpenId connect Provider %s cannot be found.", arn)
}

func errReadOnly(kind, name, declaredIn string) *Error {
	return ierr(CodeUnmodifiableEntity, "Cannot modify %s %s: it is declared in %s; change it there.", kind, name, declaredIn)
}

func errQuota(quota string, n int) *Error {
	return ierr(CodeLimitExceeded, "Cannot exceed quota for %s: %d", quota, n)
}
