// Package store defines oidcfed's persistent records, the sentinel errors
// every backend returns, and the Store contract that the embedded SQLite
// backend (and later PostgreSQL) implement.
//
// All mutation goes through Store.Update: the backend owns the transaction
// and retries the whole closure when the database reports a serialization
// conflict, so callers write read-modify-write logic once and get the same
// behaviour from every backend. Closures passed to Update may therefore run
// more than once and must not have side effects outside the transaction
// (generate keys, random tokens and so on before calling Update).
//
// Every secret a record holds (private keys today; long-term secret keys and
// KMS key material later) is stored sealed by the keys package. The store
// never sees plaintext and never interprets sealed bytes; it only hands every
// sealed value to Tx.Reseal's callback so the master key can be rotated.
package store

import (
	"context"
	"errors"
	"time"
)

// Sentinel errors. Backends wrap them (fmt.Errorf("...: %w", ErrNotFound)) so
// callers test with errors.Is and logs keep the detail.
var (
	// ErrNotFound: the record does not exist (or is not visible in this state).
	ErrNotFound = errors.New("store: not found")
	// ErrAlreadyExists: a unique key (id, active runner name, kid) is taken.
	ErrAlreadyExists = errors.New("store: already exists")
	// ErrConflict: the transaction lost a race with another writer and may be
	// retried. Update retries it itself; it only escapes Update when the
	// retry budget is spent.
	ErrConflict = errors.New("store: transaction conflict")
	// ErrCorrupt: the database file or its schema is not what oidcfed wrote.
	// Never answered by re-initialising: the operator must act.
	ErrCorrupt = errors.New("store: database is corrupt or not an oidcfed store")
)

// Store is a handle on one oidcfed database. It is safe for concurrent use by
// many goroutines and, for backends that support it, by many processes.
type Store interface {
	// View runs fn in a read-only transaction that sees one consistent
	// snapshot. Writes inside fn fail.
	View(ctx context.Context, fn func(Tx) error) error
	// Update runs fn in a read-write transaction and commits it if fn returns
	// nil. On a serialization conflict the whole of fn is run again (bounded
	// attempts with jittered backoff); fn must be safe to repeat.
	Update(ctx context.Context, fn func(Tx) error) error
	// Ping reports whether the database is reachable and usable (readiness).
	Ping(ctx context.Context) error
	// Close releases the handle. Calls after Close fail.
	Close() error
}

// Topic names a kind of record whose changes a Notifier reports: what a
// server process caches on its hot path.
type Topic string

// Topics, one per kind of cached record.
const (
	TopicRunners     Topic = "runners"      // runners (token lookups)
	TopicSigningKeys Topic = "signing_keys" // the issuer's key schedule
	TopicAccessKeys  Topic = "access_keys"  // long-term access keys
	TopicIAM         Topic = "iam"          // IAM records
	TopicKMS         Topic = "kms"          // KMS keys and aliases
)

// Topics lists every Topic.
var Topics = []Topic{TopicRunners, TopicSigningKeys, TopicAccessKeys, TopicIAM, TopicKMS}

// Notifier is implemented by stores that several server processes share
// (PostgreSQL). Each process caches records its requests read, so that a
// request does not wait on the database; a Notifier tells it when any
// process has committed a change to them, so a change made through one
// replica is enforced by all of them within moments.
//
// A store without it (SQLite) is used by one server at a time: the
// server's own writes clear its caches, and it re-reads what other
// processes (the CLI) may change.
type Notifier interface {
	// Watch calls changed, from one goroutine, with the topic of each
	// change committed to the store by any process, until ctx ends, and
	// then returns ctx's error. Whenever it cannot be sure it has been
	// told of every change — once it starts listening, when it loses its
	// connection and when it has it back — it calls changed with every
	// topic, so no cache outlives a change it was not told about. While it
	// cannot listen it keeps trying, and the store's Ping fails: a process
	// deaf to changes is not ready to serve.
	Watch(ctx context.Context, changed func(Topic)) error
}

// AuditAppender is implemented by stores that append audit records faster
// on their own than inside Update (PostgreSQL: one statement is its own
// transaction, one round trip instead of three). It does what an Update
// running only Tx.AppendAuditRecords does: all the records or none,
// durable when it returns, ErrAlreadyExists if a (Writer, Seq) is taken.
type AuditAppender interface {
	AppendAuditRecords(ctx context.Context, records []AuditRecord) error
}

// Tx is the set of operations available inside a transaction. Grouped by
// record; later issues add IAM, KMS and audit records here.
type Tx interface {
	// Runners.

	// CreateRunner inserts r, assigning r.ID. The name must be unique among
	// runners that are not revoked; the token hash must be unique.
	CreateRunner(ctx context.Context, r *Runner) error
	// GetRunner returns the runner with this id, revoked or not.
	GetRunner(ctx context.Context, id int64) (Runner, error)
	// GetRunnerByTokenHash returns the runner whose token hashes to h,
	// revoked or not; callers check RevokedAt.
	GetRunnerByTokenHash(ctx context.Context, h []byte) (Runner, error)
	// ListRunners returns every runner ordered by id.
	ListRunners(ctx context.Context) ([]Runner, error)
	// RevokeRunner marks the runner revoked at t. Revoking a revoked runner
	// is ErrNotFound (there is no active runner with that id).
	RevokeRunner(ctx context.Context, id int64, at time.Time) error
	// ImportRunner inserts r with the id it has (> 0), as `admin import`
	// moves runners between stores: audit records and tokens name runners
	// by id. ErrAlreadyExists if the id, the token hash or (while active)
	// the name is taken. Runners created afterwards get larger ids.
	ImportRunner(ctx context.Context, r *Runner) error

	// Issuer signing keys.

	// CreateSigningKey inserts k. ErrAlreadyExists if the kid is taken.
	CreateSigningKey(ctx context.Context, k *SigningKey) error
	// ListSigningKeys returns every signing key of the issuer, including
	// retired and expired ones, ordered by ActivateAt then KID.
	ListSigningKeys(ctx context.Context, issuer string) ([]SigningKey, error)
	// ListAllSigningKeys returns every issuer's keys, ordered by issuer,
	// then as ListSigningKeys orders them (`admin export`).
	ListAllSigningKeys(ctx context.Context) ([]SigningKey, error)
	// UpdateSigningKeySchedule sets the retire/expire times of one key.
	UpdateSigningKeySchedule(ctx context.Context, issuer, kid string, retireAt, expireAt *time.Time) error
	// PostponeSigningKeyActivation moves a key's ActivateAt later. Issuers
	// use it to stretch a rotation written with a shorter lead than their
	// own (a CLI run with another config); moving activation earlier is
	// never safe, so it is refused.
	PostponeSigningKeyActivation(ctx context.Context, issuer, kid string, activateAt time.Time) error
	// DeleteSigningKey removes a key (garbage collection of expired keys).
	DeleteSigningKey(ctx context.Context, issuer, kid string) error

	// Access keys: long-term credentials (AKIA...). Their secret is sealed.

	// CreateAccessKey inserts k. ErrAlreadyExists if the id is taken.
	CreateAccessKey(ctx context.Context, k *AccessKey) error
	// GetAccessKey returns the key with this id.
	GetAccessKey(ctx context.Context, id string) (AccessKey, error)
	// ListAccessKeys returns a user's keys ("" for the account root user),
	// ordered by creation time then id.
	ListAccessKeys(ctx context.Context, userName string) ([]AccessKey, error)
	// ListAllAccessKeys returns every user's keys and the root user's,
	// ordered by id (`admin export`).
	ListAllAccessKeys(ctx context.Context) ([]AccessKey, error)
	// SetAccessKeyStatus makes a key Active or Inactive. ErrNotFound if
	// the id is unknown.
	SetAccessKeyStatus(ctx context.Context, id, status string) error
	// DeleteAccessKey removes a key. ErrNotFound if the id is unknown.
	DeleteAccessKey(ctx context.Context, id string) error

	// IAM entities. The iam package owns their shape: the store keeps
	// each as a JSON body under (kind, key), unique per kind. Every write
	// bumps the IAM generation.

	// CreateIAMRecord inserts r. ErrAlreadyExists if (kind, key) is taken.
	CreateIAMRecord(ctx context.Context, r *IAMRecord) error
	// UpdateIAMRecord replaces the body of an existing record.
	// ErrNotFound if there is none.
	UpdateIAMRecord(ctx context.Context, r *IAMRecord) error
	// GetIAMRecord returns one record. ErrNotFound if there is none.
	GetIAMRecord(ctx context.Context, kind, key string) (IAMRecord, error)
	// DeleteIAMRecord removes one record. ErrNotFound if there is none.
	DeleteIAMRecord(ctx context.Context, kind, key string) error
	// ListIAMRecords returns a kind's records whose key starts with
	// keyPrefix, ordered by key (bytewise).
	ListIAMRecords(ctx context.Context, kind, keyPrefix string) ([]IAMRecord, error)
	// ListAllIAMRecords returns every record of every kind, ordered by
	// kind then key (`admin export`).
	ListAllIAMRecords(ctx context.Context) ([]IAMRecord, error)
	// CountIAMRecords is len(ListIAMRecords(kind, "")) without the bodies.
	CountIAMRecords(ctx context.Context, kind string) (int, error)
	// IAMGeneration is a counter every committed IAM write increases: a
	// process caching IAM entities compares it to know they are current.
	IAMGeneration(ctx context.Context) (uint64, error)

	// Audit records: appended by the audit log, never changed; pruned
	// oldest first.

	// AppendAuditRecords inserts records. ErrAlreadyExists if a
	// (Writer, Seq) is taken.
	AppendAuditRecords(ctx context.Context, records []AuditRecord) error
	// QueryAuditRecords lists records matching q.
	QueryAuditRecords(ctx context.Context, q AuditQuery) ([]AuditRecord, error)
	// AuditChains describes every writer's chain, ordered by writer.
	AuditChains(ctx context.Context) ([]AuditChainInfo, error)
	// AuditChain returns up to limit records of one writer with Seq ≥
	// from, in sequence order.
	AuditChain(ctx context.Context, writer string, from uint64, limit int) ([]AuditRecord, error)
	// SetAuditAnchor records where a writer's pruned chain resumes,
	// replacing its anchor if it has one (`admin import` moves anchors
	// with the records they precede).
	SetAuditAnchor(ctx context.Context, a AuditAnchor) error
	// PruneAuditRecords removes, from each chain, its records up to the
	// newest one older than before (a prefix of the chain, so what is kept
	// stays a chain), and records where each chain now starts. It returns
	// how many records it removed.
	PruneAuditRecords(ctx context.Context, before time.Time) (int64, error)

	// KMS keys and aliases.

	// CreateKMSKey inserts k. ErrAlreadyExists if the id is taken.
	CreateKMSKey(ctx context.Context, k *KMSKey) error
	// GetKMSKey returns one key. ErrNotFound if there is none.
	GetKMSKey(ctx context.Context, id string) (KMSKey, error)
	// UpdateKMSKey replaces a key's metadata (never its material).
	// ErrNotFound if there is none.
	UpdateKMSKey(ctx context.Context, id string, body []byte) error
	// ListKMSKeys returns every key ordered by id, without material.
	ListKMSKeys(ctx context.Context) ([]KMSKey, error)
	// CreateKMSAlias inserts a. ErrAlreadyExists if the name is taken,
	// ErrNotFound if its key does not exist.
	CreateKMSAlias(ctx context.Context, a *KMSAlias) error
	// UpdateKMSAlias points an alias at another key. ErrNotFound if the
	// alias or the key does not exist.
	UpdateKMSAlias(ctx context.Context, name, keyID string, at time.Time) error
	// GetKMSAlias returns one alias. ErrNotFound if there is none.
	GetKMSAlias(ctx context.Context, name string) (KMSAlias, error)
	// DeleteKMSAlias removes an alias. ErrNotFound if there is none.
	DeleteKMSAlias(ctx context.Context, name string) error
	// ListKMSAliases returns every alias ordered by name.
	ListKMSAliases(ctx context.Context) ([]KMSAlias, error)

	// ECR repositories, their images and tags, and the blobs each
	// repository may serve (the blobs themselves are files the ecr package
	// keeps). Deleting a repository deletes its images, tags and links.

	// CreateECRRepository inserts r. ErrAlreadyExists if the name is taken.
	CreateECRRepository(ctx context.Context, r *ECRRepository) error
	// GetECRRepository returns one repository. ErrNotFound if there is none.
	GetECRRepository(ctx context.Context, name string) (ECRRepository, error)
	// UpdateECRRepository replaces a repository's body. ErrNotFound if
	// there is none.
	UpdateECRRepository(ctx context.Context, name string, body []byte) error
	// ListECRRepositories returns every repository ordered by name.
	ListECRRepositories(ctx context.Context) ([]ECRRepository, error)
	// DeleteECRRepository removes a repository with its images, tags and
	// blob links. ErrNotFound if there is none.
	DeleteECRRepository(ctx context.Context, name string) error
	// LinkECRBlob records that repository may serve the blob digest (size
	// bytes); linking a linked blob again changes nothing. ErrNotFound if
	// the repository does not exist.
	LinkECRBlob(ctx context.Context, l *ECRBlobLink) error
	// GetECRBlobLink returns one link. ErrNotFound if there is none.
	GetECRBlobLink(ctx context.Context, repository, digest string) (ECRBlobLink, error)
	// ListECRBlobLinks returns a repository's blob links ordered by
	// digest (export).
	ListECRBlobLinks(ctx context.Context, repository string) ([]ECRBlobLink, error)
	// ECRBlobLinked reports whether any repository links digest.
	ECRBlobLinked(ctx context.Context, digest string) (bool, error)
	// PutECRImage inserts an image; an image already stored under the same
	// (Repository, Digest) is left as it is (same digest, same manifest).
	// ErrNotFound if the repository does not exist.
	PutECRImage(ctx context.Context, img *ECRImage) error
	// GetECRImage returns one image with its manifest. ErrNotFound if
	// there is none.
	GetECRImage(ctx context.Context, repository, digest string) (ECRImage, error)
	// ListECRImages returns a repository's images ordered by digest,
	// without their manifests.
	ListECRImages(ctx context.Context, repository string) ([]ECRImage, error)
	// DeleteECRImage removes an image and every tag on it. ErrNotFound if
	// there is none.
	DeleteECRImage(ctx context.Context, repository, digest string) error
	// TagECRImage points tag at an image of the repository, replacing
	// what it pointed at. ErrNotFound if the image does not exist.
	TagECRImage(ctx context.Context, t *ECRTag) error
	// GetECRTag returns one tag. ErrNotFound if there is none.
	GetECRTag(ctx context.Context, repository, tag string) (ECRTag, error)
	// UntagECRImage removes a tag. ErrNotFound if there is none.
	UntagECRImage(ctx context.Context, repository, tag string) error
	// ListECRTags returns a repository's tags ordered by tag (bytewise).
	ListECRTags(ctx context.Context, repository string) ([]ECRTag, error)

	// Secrets at rest.

	// Reseal calls fn for every sealed value in the store, in every table,
	// and replaces it with what fn returns. aad is the associated data the
	// value was sealed with (it names the record, so a sealed value cannot be
	// moved to another row). One transaction: all or nothing.
	Reseal(ctx context.Context, fn func(aad string, sealed []byte) ([]byte, error)) (int, error)
}

// Runner is a CI runner (or any automation) allowed to mint ID tokens. Only
// the SHA-256 of its bearer token is stored.
type Runner struct {
	ID        int64
	Name      string
	TokenHash []byte
	// Constraints maps a claim name to the globs its value must match (any
	// one of them). Claims not named are unconstrained.
	Constraints map[string][]string
	CreatedAt   time.Time
	// RevokedAt is nil while the runner is active.
	RevokedAt *time.Time
}

// SigningKey is one issuer signing key and its place in the rotation
// schedule. All replicas derive the same signing key and the same JWKS from
// these times and a clock, so no replica needs to be told about a rotation.
type SigningKey struct {
	Issuer    string // the issuer URL the key belongs to
	KID       string // RFC 7638 JWK thumbprint
	Algorithm string // RS256 or ES256
	// PublicJWK is the public key as a JSON JWK (what the JWKS serves).
	PublicJWK []byte
	// SealedPrivateKey is the PKCS#8 private key sealed under the master key
	// with AAD SigningKeyAAD(Issuer, KID).
	SealedPrivateKey []byte
	CreatedAt        time.Time // also when it starts being published
	ActivateAt       time.Time // first instant it may sign
	RetireAt         *time.Time
	ExpireAt         *time.Time // unpublished from this instant
}

// SigningKeyAAD is the associated data a signing key's private key is sealed
// with. Backends use it when they hand values to Reseal.
func SigningKeyAAD(issuer, kid string) string {
	return "oidcfed/signing-key/" + issuer + "#" + kid
}

// AccessKey is a long-term access key (AKIA...). The secret access key is
// stored sealed with AAD AccessKeyAAD(ID); SigV4 needs it back, so it can
// not be a hash.
type AccessKey struct {
	ID string
	// UserName is the IAM user the key belongs to; "" is the account's
	// root user.
	UserName     string
	SealedSecret []byte
	Status       string // "Active" or "Inactive", as IAM spells them
	CreatedAt    time.Time
}

// IAMRecord is one stored IAM entity.
type IAMRecord struct {
	Kind string // "role", "user", "policy", "oidc-provider", …
	Key  string // unique within the kind
	Body []byte // a JSON document
}

// AccessKeyAAD is the associated data an access key's secret is sealed
// with.
func AccessKeyAAD(id string) string { return "oidcfed/access-key/" + id }

// AuditRecord is one audit event as stored: the event's JSON exactly as
// written (Body, which the audit chain hashes) and the fields queries
// filter on, copied out of it when it is appended.
type AuditRecord struct {
	Writer string // the audit chain it belongs to (one per server process)
	Seq    uint64 // 1, 2, 3 … within Writer
	Time   time.Time
	// Filter fields, as the event has them ("" when it has none).
	EventID     string
	EventName   string
	EventSource string
	ReadOnly    bool
	Username    string
	AccessKeyID string
	ErrorCode   string
	Subject     string   // the web identity (token sub) behind the call
	Resources   []string // resource names and ARNs the event names
	Body        []byte   // the event, a JSON object
}

// AuditQuery selects audit records; zero fields do not filter. Records
// come newest first (by Time, then Writer and Seq) unless Oldest.
type AuditQuery struct {
	Since, Until time.Time // Since ≤ Time < Until
	EventID      string
	EventName    string
	EventSource  string
	Username     string
	AccessKeyID  string
	Resource     string // one of the record's Resources, exactly
	Subject      string
	ReadOnly     *bool
	ErrorsOnly   bool // only records with an ErrorCode
	// After continues a listing after this record (a page token).
	After *AuditPosition
	Limit int // at most this many; 0 means 1000
	// Oldest lists oldest first (audit --follow, verification).
	Oldest bool
}

// AuditPosition is a record's place in the listing order.
type AuditPosition struct {
	Time   time.Time
	Writer string
	Seq    uint64
}

// AuditAnchor is where a pruned chain now starts: the last record removed
// (its sequence number and the SHA-256 of its body, hex). The first record
// kept must follow it, so pruning leaves the rest of the chain checkable.
type AuditAnchor struct {
	Writer string
	Seq    uint64
	Hash   string
}

// AuditChainInfo is one writer's chain as stored.
type AuditChainInfo struct {
	Writer      string
	First, Last uint64 // sequence numbers of its oldest and newest records (0, 0: none left)
	Count       int64
	Anchor      *AuditAnchor // nil when nothing was pruned
}

// KMSKey is one KMS key: its metadata, whose shape the kms package owns
// (a JSON document), and its key material sealed under the master key
// with AAD KMSKeyAAD(ID).
type KMSKey struct {
	ID             string
	Body           []byte
	SealedMaterial []byte
}

// KMSKeyAAD is the associated data a KMS key's material is sealed with.
func KMSKeyAAD(id string) string { return "oidcfed/kms-key/" + id }

// KMSAlias names a KMS key ("alias/ci-signing").
type KMSAlias struct {
	Name      string
	KeyID     string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// ECRRepository is an ECR repository: its name and a body whose shape the
// ecr package owns (a JSON document: creation time, settings, policy).
type ECRRepository struct {
	Name string
	Body []byte
}

// ECRImage is an image manifest pushed to a repository. Children are the
// manifests an index refers to; Subject is the digest the manifest's
// subject names ("" when none). Size is what the ecr package counts as
// the image's size.
type ECRImage struct {
	Repository   string
	Digest       string
	MediaType    string
	ArtifactType string
	Manifest     []byte // nil from ListECRImages
	Size         int64
	Subject      string
	Children     []string
	PushedAt     time.Time
}

// ECRTag names an image of a repository.
type ECRTag struct {
	Repository string
	Tag        string
	Digest     string
	UpdatedAt  time.Time
}

// ECRBlobLink lets a repository serve a blob (a layer or a config).
type ECRBlobLink struct {
	Repository string
	Digest     string
	Size       int64
	CreatedAt  time.Time
}
