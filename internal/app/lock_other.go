//go:build !(darwin || dragonfly || freebsd || linux || netbsd || openbsd)

package app

import (
	"errors"
	"os"
)

var errWouldBlock = errors.New("lock held")

// tryLock does nothing where flock(2) is unavailable: oidcfed is built and
// tested for the platforms above, and other platforms keep working without
// the guard against a second server or a rotation under a running one.
func tryLock(*os.File) error { return nil }
