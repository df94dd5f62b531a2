package postgres

import (
	"errors"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/oidcfed/oidcfed/internal/store"
)

func TestClassify(t *testing.T) {
	tests := []struct {
		name string
		code string
		want error
	}{
		{"unique violation", "23505", store.ErrAlreadyExists},
		{"foreign key violation", "23503", store.ErrNotFound},
		{"serialization failure", "40001", store.ErrConflict},
		{"deadlock", "40P01", store.ErrConflict},
		{"index corrupted", "XX002", store.ErrCorrupt},
		{"check violation is bad input", "23514", nil},
		{"query cancelled", "57014", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pe := &pgconn.PgError{Code: tc.code, Message: "m", Detail: "Key (token_hash)=(\\x5345435245) already exists."}
			err := wrapErr("op", fmt.Errorf("wrapped: %w", pe))
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("wrapErr = %v, want it to match %v", err, tc.want)
			}
			for _, s := range []error{store.ErrAlreadyExists, store.ErrNotFound, store.ErrConflict, store.ErrCorrupt} {
				if s != tc.want && errors.Is(err, s) {
					t.Errorf("wrapErr = %v, matches %v", err, s)
				}
			}
			if got := err.Error(); got != "op: "+func() string {
				if tc.want != nil {
					return tc.want.Error() + ": "
				}
				return ""
			}()+"m (SQLSTATE "+tc.code+")" {
				t.Errorf("message %q: want the operation, the sentinel and the server's message, not its detail", got)
			}
		})
	}
}
