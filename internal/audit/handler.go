package audit

import (
	"context"
	"log/slog"
	"unicode/utf8"
)

// Helpers every audited handler uses.

// Value is s cut to at most n bytes on a character boundary, marked "…"
// when cut: request values are bounded before they are recorded, so the
// audit log cannot be used to fill the disk.
func Value(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// Fail records that the call was refused: the code and message the client
// gets, and the cause it does not (never a secret: causes are built
// without request values that could carry one).
func (ev *Event) Fail(code, message string, cause error) {
	ev.ErrorCode, ev.ErrorMessage = code, message
	if cause != nil {
		if ev.OIDCFed.Denial == nil {
			ev.OIDCFed.Denial = &Denial{}
		}
		ev.OIDCFed.Denial.Reason = cause.Error()
	}
}

// Commit records ev with rec (nil: no audit log) and reports whether the
// request may be answered: false when the event could not be made
// durable, and the request must then fail without issuing anything.
func Commit(ctx context.Context, rec Recorder, ev *Event, log *slog.Logger) bool {
	if rec == nil {
		return true
	}
	if err := rec.Record(ctx, ev); err != nil {
		log.ErrorContext(ctx, "request failed: audit record not written", "source", ev.EventSource, "event", ev.EventName,
			"request_id", ev.RequestID, "cause", err)
		return false
	}
	return true
}
