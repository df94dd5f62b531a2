package audit

import "context"

type eventKey struct{}

// WithEvent returns ctx carrying ev, the event of the request ctx belongs
// to, so domain code can add what it learns (the token, the job, why it
// refused) without knowing about handlers.
func WithEvent(ctx context.Context, ev *Event) context.Context {
	return context.WithValue(ctx, eventKey{}, ev)
}

// FromContext is the request's event; nil when the request is not audited
// (tests, internal calls).
func FromContext(ctx context.Context) *Event {
	ev, _ := ctx.Value(eventKey{}).(*Event)
	return ev
}
