package ecr

import "fmt"

// ErrorCode is an ECR error code (the JSON protocol's __type).
type ErrorCode string

// The ECR errors this package returns; the api package's table gives each
// its HTTP status. Codes are botocore's ECR model's; messages follow AWS's
// as moto reproduces them where known, and are marked unconfirmed where
// they are built otherwise.
const (
	CodeServer                    ErrorCode = "ServerException"
	CodeInvalidParameter          ErrorCode = "InvalidParameterException"
	CodeValidation                ErrorCode = "ValidationException"
	CodeRepositoryNotFound        ErrorCode = "RepositoryNotFoundException"
	CodeRepositoryAlreadyExists   ErrorCode = "RepositoryAlreadyExistsException"
	CodeRepositoryNotEmpty        ErrorCode = "RepositoryNotEmptyException"
	CodeRepositoryPolicyNotFound  ErrorCode = "RepositoryPolicyNotFoundException"
	CodeImageNotFound             ErrorCode = "ImageNotFoundException"
	CodeLayersNotFound            ErrorCode = "LayersNotFoundException"
	CodeLayerInaccessible         ErrorCode = "LayerInaccessibleException"
	CodeLimitExceeded             ErrorCode = "LimitExceededException"
	CodeInvalidTagParameter       ErrorCode = "InvalidTagParameterException"
	CodeTooManyTags               ErrorCode = "TooManyTagsException"
	CodeImageTagAlreadyExists     ErrorCode = "ImageTagAlreadyExistsException"
	CodeReferencedImagesNotFound  ErrorCode = "ReferencedImagesNotFoundException"
	CodeImageDigestDoesNotMatch   ErrorCode = "ImageDigestDoesNotMatchException"
	CodeAccessDenied              ErrorCode = "AccessDeniedException"
	CodeSerialization             ErrorCode = "SerializationException"
	CodeUnknownOperation          ErrorCode = "UnknownOperationException"
	CodeUnsupportedImageType      ErrorCode = "UnsupportedImageTypeException"
	CodeKms                       ErrorCode = "KmsException"
	CodeInvalidLayer              ErrorCode = "InvalidLayerException"
	CodeUploadNotFound            ErrorCode = "UploadNotFoundException"
	CodeImageReferencedByManifest ErrorCode = "ImageReferencedByManifestList" // a BatchDeleteImage failure code
)

// Error is an ECR error with AWS's code and message.
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

// invalidParameter is ECR's InvalidParameterException in the wording its
// service-side checks use: "Invalid parameter at 'member' failed to satisfy
// constraint: '...'".
func invalidParameter(member, constraint string) *Error {
	return newError(CodeInvalidParameter, "Invalid parameter at '%s' failed to satisfy constraint: '%s'", member, constraint)
}

// ErrRepositoryNotFound is ECR's answer for a repository that does not exist.
func ErrRepositoryNotFound(name, registryID string) *Error {
	return newError(CodeRepositoryNotFound, "The repository with name '%s' does not exist in the registry with id '%s'", name, registryID)
}
