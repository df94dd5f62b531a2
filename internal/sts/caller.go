package sts

import (
	"context"
	"errors"
	"time"
)

// Callers carried by other credentials. The ECR authorization token (the
// registry password) is a bearer credential that stands for the caller who
// obtained it: it carries the caller, encoded here, so every registry
// request is authorized exactly as a signed call by that caller would be.
// The encoding is plain; whoever carries it must seal it.

// Caller kinds in an encoded caller.
const (
	callerRoot    = 1
	callerUser    = 2
	callerSession = 3
)

// callerVersion is the encoding's version byte.
const callerVersion = 1

// ErrCallerGone: an encoded caller names an IAM user that no longer exists.
var ErrCallerGone = errors.New("the caller no longer exists")

var errCallerEncoding = errors.New("malformed encoded caller")

// MarshalCaller encodes c and the access key id it signed with: for a
// role session the session itself (its role, web identity, session
// policies, tags and expiry), for an IAM user its name, for the root its
// kind. Secrets (secret keys, session tokens) are never part of it.
func MarshalCaller(c *Caller, accessKeyID string) ([]byte, error) {
	b := []byte{callerVersion}
	switch {
	case c.Root:
		b = appendString(append(b, callerRoot), accessKeyID)
	case c.User != nil:
		b = appendString(appendString(append(b, callerUser), accessKeyID), c.User.Name)
	case c.Session != nil:
		b = appendString(append(b, callerSession), accessKeyID)
		return encodePayload(b, c.Session)
	default:
		return nil, errors.New("caller has no identity")
	}
	return b, nil
}

// UnmarshalCaller decodes what MarshalCaller encoded. An IAM user is
// looked up again (ErrCallerGone once deleted), so its current policies
// apply; a session is the one it was, and expires when it did.
func (s *Service) UnmarshalCaller(ctx context.Context, b []byte) (c *Caller, accessKeyID string, err error) {
	if len(b) < 2 || b[0] != callerVersion {
		return nil, "", errCallerEncoding
	}
	kind := b[1]
	r := payloadReader{b: b[2:]}
	accessKeyID = r.string()
	if r.err != nil {
		return nil, "", errCallerEncoding
	}
	switch kind {
	case callerRoot:
		if len(r.b) != 0 {
			return nil, "", errCallerEncoding
		}
		return &Caller{Root: true}, accessKeyID, nil
	case callerUser:
		name := r.string()
		if r.err != nil || len(r.b) != 0 || name == "" {
			return nil, "", errCallerEncoding
		}
		u, err := s.dir.UserByName(ctx, name)
		if err != nil {
			return nil, "", errors.Join(ErrCallerGone, err)
		}
		return &Caller{User: u}, accessKeyID, nil
	case callerSession:
		sess, err := decodePayload(r.b)
		if err != nil {
			return nil, "", errCallerEncoding
		}
		return &Caller{Session: sess}, accessKeyID, nil
	}
	return nil, "", errCallerEncoding
}

// CallerExpiry is when c's credentials expire: a session's expiration;
// zero for long-term keys.
func CallerExpiry(c *Caller) time.Time {
	if c.Session != nil {
		return c.Session.Expiration
	}
	return time.Time{}
}

// NoteCaller records c in the request's audit event, as a signed request
// by c with accessKeyID would be recorded: for services whose requests
// carry a caller in another credential (the registry's password).
func (s *Service) NoteCaller(ctx context.Context, c *Caller, accessKeyID string) {
	s.noteCaller(ctx, c, accessKeyID)
}
