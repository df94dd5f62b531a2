//go:build !(linux && (amd64 || arm64))

package audit

import "errors"

// newAsyncWriter: asynchronous direct writes are Linux's (aio_linux.go),
// and its struct iocb layout is known here for little-endian amd64 and
// arm64 only; other systems write with pwrite.
func newAsyncWriter() (asyncWriteCloser, error) { return nil, errors.ErrUnsupported }
