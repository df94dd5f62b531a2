package audit

import (
	"os"
	"syscall"
)

// openDirect opens path for writes that bypass the page cache; with
// dsync each write also returns only once it is on stable storage.
func openDirect(path string, dsync bool) (*os.File, error) {
	flags := os.O_WRONLY | syscall.O_DIRECT
	if dsync {
		flags |= syscall.O_DSYNC
	}
	return os.OpenFile(path, flags, 0)
}
