//go:build !linux

package audit

import (
	"errors"
	"os"
)

// openDirect reports direct I/O unsupported: the journal then writes
// through the page cache and syncs.
func openDirect(string, bool) (*os.File, error) {
	return nil, errors.ErrUnsupported
}
