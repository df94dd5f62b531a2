package sqlite

import (
	"errors"
	"fmt"

	"github.com/oidcfed/oidcfed/internal/store"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// classify maps a driver error to the store sentinel it stands for, or nil.
// The connections run with extended result codes, so the primary code is the
// low byte.
func classify(err error) error {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return nil
	}
	code := se.Code()
	switch code & 0xff {
	case sqlite3.SQLITE_CONSTRAINT:
		// Only uniqueness means "already exists". NOT NULL and CHECK
		// violations are bad input and keep their own message.
		if code == sqlite3.SQLITE_CONSTRAINT_UNIQUE || code == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY {
			return store.ErrAlreadyExists
		}
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
		// The busy timeout ran out (another process held the write lock
		// for longer) or, under WAL, the snapshot went stale: either way
		// running the transaction again is the cure.
		return store.ErrConflict
	case sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB:
		return store.ErrCorrupt
	}
	return nil
}

// wrapErr adds what was being done to a driver error and, when the error
// means one, the store sentinel, so callers can use errors.Is. Driver
// messages name tables and columns, never the bound values, so sealed keys
// and token hashes cannot leak through them; callers must keep it that way
// in op.
func wrapErr(op string, err error) error {
	if err == nil {
		return nil
	}
	if sentinel := classify(err); sentinel != nil {
		return fmt.Errorf("%s: %w: %w", op, sentinel, err)
	}
	return fmt.Errorf("%s: %w", op, err)
}
