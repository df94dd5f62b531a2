package issuer

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"

	"github.com/oidcfed/oidcfed/internal/audit"
)

// RecordTo makes the minting API record every request in rec before it
// answers (nil: no audit log).
func (i *Issuer) RecordTo(rec audit.Recorder) { i.audit = rec }

// record commits ev; false when it could not be, and no token may then be
// handed out.
func (i *Issuer) record(r *http.Request, ev *audit.Event) bool {
	return audit.Commit(r.Context(), i.audit, ev, i.log)
}

// noteMinted records what was minted: the token's hash and claims that
// identify it and its job, never the token.
func noteMinted(ev *audit.Event, jwt string, c *Claims) {
	sum := sha256.Sum256([]byte(jwt))
	ev.OIDCFed.Token = &audit.Token{SHA256: hex.EncodeToString(sum[:]), Issuer: c.Issuer, Subject: c.Subject,
		Audience: []string(c.Audience), JTI: c.JTI, IssuedAt: c.IssuedAt, ExpiresAt: c.Expiry}
	ev.OIDCFed.Job = &audit.Job{ProjectPath: c.ProjectPath, NamespacePath: c.NamespacePath, Ref: c.Ref, RefType: c.RefType,
		PipelineID: c.PipelineID, JobID: c.JobID, SHA: c.SHA, UserLogin: c.UserLogin, Environment: c.Environment}
	ev.Subject = c.Subject
	ev.ResponseElements = map[string]any{"jti": c.JTI, "sub": c.Subject, "exp": c.Expiry}
}

// maxAuditValue bounds a request value copied into an event.
const maxAuditValue = 2048

func auditValue(s string) string { return audit.Value(s, maxAuditValue) }
