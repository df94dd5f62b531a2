package audit

import (
	"errors"
	"syscall"
)

// isUnsyncable: fsync on a pipe, socket or terminal (stdout in a container)
// fails with EINVAL or ENOTSUP; such sinks have nothing to sync.
func isUnsyncable(err error) bool {
	return errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.ENOTSUP)
}
