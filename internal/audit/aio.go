package audit

import "os"

// asyncWriteCloser writes a direct commit without blocking a thread
// (aio_linux.go).
type asyncWriteCloser interface {
	WriteAt(f *os.File, b []byte, off int64) (int, error)
	Close() error
}
