package awsproto

// WithCause returns e carrying cause for logs (errors.Is/As reach it); the
// client still sees only e's code and message.
func (e *Error) WithCause(cause error) *Error { return e.with(cause) }
