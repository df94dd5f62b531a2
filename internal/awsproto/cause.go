package awsproto

// WithCause returns e carrying cause for logs (errors.Is/As reach it); the
// client still sees only e's code and message.
func (e *Error) WithCause(cause error) *Error { return e.with(cause) }

// Raw appends already-rendered XML (a result built before the response
// envelope was known to be a success).
func (x *XMLWriter) Raw(b []byte) { x.buf.Write(b) }
