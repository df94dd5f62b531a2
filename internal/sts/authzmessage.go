package sts

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/oidcfed/oidcfed/internal/awsproto"
	"github.com/oidcfed/oidcfed/internal/iam/policy"
)

// Encoded authorization messages (opt-in, beyond what AWS's IAM, KMS and
// STS do; EC2 and a few others do it): an AccessDenied for a signed call
// ends with "Encoded authorization failure message: <blob>", and
// sts:DecodeAuthorizationMessage turns the blob back into the decision's
// details for a caller allowed that action. The blob is sealed (AES-GCM
// under a key derived from the master key) because the details — matched
// statements, condition values — are for whoever may decode them, not for
// the caller who was refused.

// AuthorizationMessageKeyInfo names the derived key that seals messages.
const AuthorizationMessageKeyInfo = "oidcfed sts authorization-message v1"

// authorizationMessageTTL is how long a message can be decoded (AWS's
// messages expire too; its lifetime is not documented).
const authorizationMessageTTL = 12 * time.Hour

// maxEncodedMessage is EncodedMessage's length limit in the STS model.
const maxEncodedMessage = 10240

// errInvalidAuthorizationMessage is the refusal of a message that does not
// open (wording unconfirmed: AWS documents the code, not its text).
func errInvalidAuthorizationMessage() *awsproto.Error {
	return awsproto.NewError(http.StatusBadRequest, "InvalidAuthorizationMessageException",
		"The encoded authorization message is invalid or has expired.")
}

// EncodeAuthorizationMessages turns encoded messages on, sealing them
// with key (32 bytes, derived with AuthorizationMessageKeyInfo).
func (s *Service) EncodeAuthorizationMessages(key []byte) error {
	block, err := aes.NewCipher(key)
	if err != nil {
		return err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return err
	}
	s.authzMessages = aead
	return nil
}

// decodedMessage is DecodedMessage's JSON, in AWS's shape.
type decodedMessage struct {
	Allowed           bool         `json:"allowed"`
	ExplicitDeny      bool         `json:"explicitDeny"`
	MatchedStatements items[mStmt] `json:"matchedStatements"`
	Failures          items[value] `json:"failures"`
	Context           msgContext   `json:"context"`
}

type items[T any] struct {
	Items []T `json:"items"`
}

type value struct {
	Value string `json:"value"`
}

type mStmt struct {
	StatementID string       `json:"statementId"`
	Effect      string       `json:"effect"`
	Actions     items[value] `json:"actions"`
	Resources   items[value] `json:"resources"`
	Conditions  items[mCond] `json:"conditions"`
}

type mCond struct {
	Key    string       `json:"key"`
	Values items[value] `json:"values"`
}

type msgContext struct {
	Principal  msgPrincipal `json:"principal"`
	Action     string       `json:"action"`
	Resource   string       `json:"resource"`
	Conditions items[mCond] `json:"conditions"`
}

type msgPrincipal struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	ARN  string `json:"arn"`
}

func valuesOf(vals []string) items[value] {
	out := items[value]{Items: make([]value, len(vals))}
	for i, v := range vals {
		out.Items[i] = value{v}
	}
	return out
}

// encodeDenial builds and seals the message for a refused identity-policy
// decision; "" when messages are off or sealing fails (the refusal then
// goes out without one).
func (s *Service) encodeDenial(c *Caller, req *policy.Request, d policy.Decision, identity, session []*policy.Policy) string {
	if s.authzMessages == nil {
		return ""
	}
	m := decodedMessage{ExplicitDeny: d.Effect == policy.ExplicitDeny, MatchedStatements: items[mStmt]{Items: []mStmt{}},
		Failures: items[value]{Items: []value{}}}
	m.Context.Principal = s.messagePrincipal(c)
	m.Context.Action, m.Context.Resource = req.Action, req.Resource
	if m.ExplicitDeny {
		set := identity
		if d.Session {
			set = session
		}
		st := set[d.Policy].Statements[d.Statement]
		m.MatchedStatements.Items = append(m.MatchedStatements.Items, mStmt{StatementID: st.Sid, Effect: "DENY",
			Actions: valuesOf(st.Action), Resources: valuesOf(st.Resource), Conditions: items[mCond]{Items: []mCond{}}})
	}
	keys := make([]string, 0, len(req.Context))
	for k := range req.Context {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	m.Context.Conditions.Items = []mCond{}
	for _, k := range keys {
		m.Context.Conditions.Items = append(m.Context.Conditions.Items, mCond{Key: k, Values: valuesOf(req.Context[k])})
	}
	// Keep the blob within EncodedMessage's limit: drop condition values
	// from the end until it fits (the decision and principal stay).
	for {
		blob, err := s.sealMessage(m)
		if err != nil {
			return ""
		}
		if len(blob) <= maxEncodedMessage || len(m.Context.Conditions.Items) == 0 {
			return blob
		}
		m.Context.Conditions.Items = m.Context.Conditions.Items[:len(m.Context.Conditions.Items)/2]
	}
}

func (s *Service) messagePrincipal(c *Caller) msgPrincipal {
	switch {
	case c.Root:
		return msgPrincipal{ID: s.dir.Account(), ARN: s.CallerARN(c)}
	case c.User != nil:
		return msgPrincipal{ID: c.User.ID, Name: c.User.Name, ARN: c.User.ARN}
	}
	return msgPrincipal{ID: c.Session.RoleID + ":" + c.Session.SessionName, Name: c.Session.SessionName, ARN: s.CallerARN(c)}
}

// sealMessage: base64url(expiry (8 bytes, big-endian Unix) | nonce | AES-GCM(JSON)),
// the expiry and account bound as additional data.
func (s *Service) sealMessage(m decodedMessage) (string, error) {
	plain, err := json.Marshal(m)
	if err != nil {
		return "", err
	}
	buf := make([]byte, 8, 8+s.authzMessages.NonceSize()+len(plain)+s.authzMessages.Overhead())
	binary.BigEndian.PutUint64(buf, uint64(s.now().Add(authorizationMessageTTL).Unix()))
	nonce := make([]byte, s.authzMessages.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	buf = append(buf, nonce...)
	buf = s.authzMessages.Seal(buf, nonce, plain, s.messageAAD(buf[:8]))
	return base64.RawURLEncoding.EncodeToString(buf), nil
}

func (s *Service) messageAAD(expiry []byte) []byte {
	return append([]byte(AuthorizationMessageKeyInfo+"|"+s.dir.Account()+"|"), expiry...)
}

// openMessage reverses sealMessage, refusing expired messages.
func (s *Service) openMessage(encoded string) (string, error) {
	if s.authzMessages == nil {
		return "", errors.New("encoded authorization messages are off")
	}
	raw, err := base64.RawURLEncoding.DecodeString(encoded)
	if err != nil {
		return "", fmt.Errorf("not base64url: %w", err)
	}
	ns := s.authzMessages.NonceSize()
	if len(raw) < 8+ns+s.authzMessages.Overhead() {
		return "", errors.New("too short")
	}
	expiry := int64(binary.BigEndian.Uint64(raw[:8]))
	plain, err := s.authzMessages.Open(nil, raw[8:8+ns], raw[8+ns:], s.messageAAD(raw[:8]))
	if err != nil {
		return "", fmt.Errorf("does not open: %w", err)
	}
	if s.now().Unix() > expiry {
		return "", errors.New("expired")
	}
	return string(plain), nil
}

// DecodeAuthorizationMessage opens an encoded message for caller, who
// needs sts:DecodeAuthorizationMessage (the root always has it).
func (s *Service) DecodeAuthorizationMessage(ctx context.Context, c *Caller, encoded string) (string, *awsproto.Error) {
	switch n := len(encoded); {
	case n == 0:
		return "", awsproto.ValidationError("1 validation error detected: Value '' at 'encodedMessage' failed to satisfy constraint: Member must have length greater than or equal to 1")
	case n > maxEncodedMessage:
		return "", awsproto.ValidationError("1 validation error detected: Value at 'encodedMessage' failed to satisfy constraint: Member must have length less than or equal to 10240")
	}
	if err := s.Authorize(ctx, c, "sts:DecodeAuthorizationMessage", "*", nil); err != nil {
		return "", err
	}
	plain, err := s.openMessage(strings.TrimSpace(encoded))
	if err != nil {
		return "", errInvalidAuthorizationMessage().WithCause(err)
	}
	return plain, nil
}
