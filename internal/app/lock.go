package app

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// LockFileName is the file in the data directory a server holds an
// exclusive lock on for its whole life.
const LockFileName = "serve.lock"

// ErrDataDirLocked means another process holds the data directory's lock: a
// running server, or an `admin rotate-master-key` in progress.
var ErrDataDirLocked = errors.New("data directory is locked")

// DataDirLock is a held lock on a data directory. The lock is advisory (an
// flock on LockFileName): it keeps oidcfed processes that must not overlap
// apart — two servers on one embedded store, or a server and a master key
// rotation that would leave it holding a key the store no longer uses. The
// kernel drops it when the process dies, so a crash never leaves a stale
// lock behind, and the file itself is never removed (removing a lock file
// lets two processes each lock a different inode of the same name).
type DataDirLock struct {
	f *os.File
}

// LockDataDir takes the data directory's lock without waiting. It fails
// with ErrDataDirLocked when another process holds it. The directory must
// exist.
func LockDataDir(dir string) (*DataDirLock, error) {
	path := filepath.Join(dir, LockFileName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("data directory %s does not exist (wrong --data or --config?)", dir)
	}
	if err != nil {
		return nil, fmt.Errorf("lock data directory: %w", err)
	}
	if err := tryLock(f); err != nil {
		f.Close()
		if errors.Is(err, errWouldBlock) {
			return nil, fmt.Errorf("%w (%s is locked)", ErrDataDirLocked, path)
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return &DataDirLock{f: f}, nil
}

// Unlock releases the lock. It is safe to call more than once.
func (l *DataDirLock) Unlock() error {
	if l == nil || l.f == nil {
		return nil
	}
	// Closing the descriptor releases the flock.
	err := l.f.Close()
	l.f = nil
	return err
}
