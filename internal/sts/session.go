// Package sts is the AWS Security Token Service: it trades a CI job's ID
// token for temporary credentials. Sessions are stateless: everything a
// later request needs to know about one travels sealed inside its session
// token (session.go, credentials.go), so nothing per session is stored and
// every replica that holds the session keys can serve it.
package sts

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"errors"
	"io"
	"strings"
	"sync"
	"time"
)

// Tag is a session tag.
type Tag struct {
	Key   string
	Value string
}

// Session is what a set of temporary credentials stands for. Seal packs it
// into a session token; Open unpacks it at every use.
type Session struct {
	RoleARN        string // arn:aws:iam::{account}:role/{path}{name}
	RoleID         string // AROA...; AssumedRoleId is RoleID + ":" + SessionName
	SessionName    string
	SourceIdentity string // "" when none was set

	// Web identity the session was assumed with ("" for other kinds).
	ProviderARN string // arn:aws:iam::{account}:oidc-provider/{host}{path}
	Subject     string // the ID token's sub
	Audience    string // the client id the token's aud matched

	// Session policies, intersected with the role's policies on every
	// authorization. Policy is the inline document as the caller sent it
	// (AWS: at most 2,048 characters); PolicyARNs are resolved at use, so an
	// edit to a managed policy reaches live sessions, as on AWS.
	Policy     string
	PolicyARNs []string

	Tags              []Tag
	TransitiveTagKeys []string

	// IssuedAt and Expiration are carried to the second (AWS's Expiration
	// has no fraction either); Open returns them in UTC.
	IssuedAt   time.Time
	Expiration time.Time

	// Set by Open: the credentials the token was presented with, for the
	// SigV4 check, and the session-key generation that sealed it.
	AccessKeyID     string
	SecretAccessKey string
	KeyGeneration   uint32
}

// Payload layout, version 1 (inside the AEAD, so only our own encoder ever
// produced what the decoder reads; it is strict all the same):
//
//	flags       byte      bit 0: Policy is raw-DEFLATE compressed
//	issued      uvarint   Unix seconds
//	lifetime    uvarint   Expiration - IssuedAt, seconds
//	7 strings             RoleARN RoleID SessionName SourceIdentity
//	                      ProviderARN Subject Audience
//	policy      string    (compressed when flag 0 is set)
//	PolicyARNs  uvarint n, n strings
//	Tags        uvarint n, n × (key string, value string)
//	Transitive  uvarint n, n strings
//
// A string is a uvarint length and its bytes. A compact binary form rather
// than JSON keeps the usual token near 500 characters, inside the sizes SDKs
// and proxies meet on AWS.
const flagPolicyDeflated = 1 << 0

// compressMin is the policy size from which Seal compresses. Every signed
// request opens its token, and inflating costs microseconds (about 5 µs for
// a 270-byte policy, against 1.3 µs for the whole Open of a token without
// one), so the usual short policy travels as is (a token ~200 characters
// longer) and only long ones, where the token size starts to matter, are
// compressed (IAM policy JSON shrinks to a third or so).
const compressMin = 1024

// maxPolicyBytes bounds the inline policy Seal accepts, and so what a
// decompression may produce: AWS allows 2,048 characters from U+0009..U+00FF,
// at most 4,096 bytes of UTF-8.
const maxPolicyBytes = 4096

var errPayload = errors.New("malformed session payload")

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendStrings(b []byte, list []string) []byte {
	b = binary.AppendUvarint(b, uint64(len(list)))
	for _, s := range list {
		b = appendString(b, s)
	}
	return b
}

// encodePayload appends s's payload to b.
func encodePayload(b []byte, s *Session) ([]byte, error) {
	issued, expires := s.IssuedAt.Unix(), s.Expiration.Unix()
	if issued < 0 || expires < issued {
		return nil, errors.New("session expires before it is issued")
	}
	if len(s.Policy) > maxPolicyBytes {
		return nil, ErrSessionTooLarge
	}
	policy, flags := s.Policy, byte(0)
	if len(policy) >= compressMin {
		if z := deflate(policy); len(z) < len(policy) {
			policy, flags = z, flags|flagPolicyDeflated
		}
	}
	b = append(b, flags)
	b = binary.AppendUvarint(b, uint64(issued))
	b = binary.AppendUvarint(b, uint64(expires-issued))
	for _, f := range [...]string{s.RoleARN, s.RoleID, s.SessionName, s.SourceIdentity, s.ProviderARN, s.Subject, s.Audience, policy} {
		b = appendString(b, f)
	}
	b = appendStrings(b, s.PolicyARNs)
	b = binary.AppendUvarint(b, uint64(len(s.Tags)))
	for _, t := range s.Tags {
		b = appendString(appendString(b, t.Key), t.Value)
	}
	return appendStrings(b, s.TransitiveTagKeys), nil
}

// payloadReader consumes a payload; the first failure sticks, so decode
// can read every field and check once.
type payloadReader struct {
	b   []byte
	err error
}

func (r *payloadReader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errPayload
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *payloadReader) string() string {
	n := r.uvarint()
	if r.err != nil || n > uint64(len(r.b)) {
		r.err = errPayload
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

// count reads a list length, bounded by the bytes left (every element takes
// at least one), so no length can make decode allocate beyond the token.
func (r *payloadReader) count() int {
	n := r.uvarint()
	if r.err != nil || n > uint64(len(r.b)) {
		r.err = errPayload
		return 0
	}
	return int(n)
}

func (r *payloadReader) stringList() []string {
	n := r.count()
	if n == 0 {
		return nil
	}
	out := make([]string, n)
	for i := range out {
		out[i] = r.string()
	}
	return out
}

// decodePayload is encodePayload's inverse.
func decodePayload(b []byte) (*Session, error) {
	if len(b) == 0 {
		return nil, errPayload
	}
	flags := b[0]
	if flags&^flagPolicyDeflated != 0 {
		return nil, errPayload
	}
	r := payloadReader{b: b[1:]}
	issued := r.uvarint()
	lifetime := r.uvarint()
	const maxUnix = 1 << 40 // year 36812: beyond it, not a time we wrote
	if issued > maxUnix || lifetime > maxUnix {
		return nil, errPayload
	}
	s := &Session{
		IssuedAt:       time.Unix(int64(issued), 0).UTC(),
		Expiration:     time.Unix(int64(issued+lifetime), 0).UTC(),
		RoleARN:        r.string(),
		RoleID:         r.string(),
		SessionName:    r.string(),
		SourceIdentity: r.string(),
		ProviderARN:    r.string(),
		Subject:        r.string(),
		Audience:       r.string(),
	}
	policy := r.string()
	s.PolicyARNs = r.stringList()
	if n := r.count(); n > 0 {
		s.Tags = make([]Tag, n)
		for i := range s.Tags {
			s.Tags[i] = Tag{Key: r.string(), Value: r.string()}
		}
	}
	s.TransitiveTagKeys = r.stringList()
	if r.err != nil || len(r.b) != 0 {
		return nil, errPayload
	}
	if flags&flagPolicyDeflated != 0 {
		p, err := inflate(policy)
		if err != nil {
			return nil, err
		}
		policy = p
	}
	s.Policy = policy
	return s, nil
}

// Flate writers and readers allocate hundreds and tens of kilobytes each;
// pooling them keeps a session with a policy near the cost of one without.
// BestSpeed: on policy-sized input it packs as tightly as BestCompression
// (154 against 153 bytes for a 270-byte policy) in well under half the time.
var (
	flateWriters = sync.Pool{New: func() any {
		w, _ := flate.NewWriter(nil, flate.BestSpeed) // a valid level: no error
		return w
	}}
	flateReaders = sync.Pool{New: func() any {
		return flate.NewReader(bytes.NewReader(nil))
	}}
)

func deflate(s string) string {
	var buf bytes.Buffer
	w := flateWriters.Get().(*flate.Writer)
	w.Reset(&buf)
	_, _ = io.WriteString(w, s) // writes to a bytes.Buffer do not fail
	_ = w.Close()
	flateWriters.Put(w)
	return buf.String()
}

// inflate decompresses at most maxPolicyBytes: a token is small, but DEFLATE
// expands a thousandfold, and the bound costs nothing.
func inflate(z string) (string, error) {
	rd := flateReaders.Get().(io.ReadCloser)
	defer flateReaders.Put(rd)
	if err := rd.(flate.Resetter).Reset(strings.NewReader(z), nil); err != nil {
		return "", errPayload
	}
	out, err := io.ReadAll(io.LimitReader(rd, maxPolicyBytes+1))
	if err != nil || len(out) > maxPolicyBytes {
		return "", errPayload
	}
	return string(out), nil
}
