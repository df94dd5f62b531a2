// Package transfer moves a whole store between backends — SQLite to
// PostgreSQL and back — as `oidcfed admin export FILE` and `admin import
// FILE` do: every record, secrets still sealed (the file is as sensitive as
// the database, no more: it needs the master key to be of use), the audit
// log with its chains and prune anchors byte for byte, runners with their
// ids.
//
// The file is JSON Lines: a header line, one line per record, and a
// trailer with the counts, so a file cut short is refused rather than
// imported in part. Export reads one consistent snapshot (one View, which
// may run beside a server); Import writes one transaction into a store that
// must be empty, so it imports everything or nothing.
package transfer

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/oidcfed/oidcfed/internal/keys"
	"github.com/oidcfed/oidcfed/internal/store"
)

// Format and Version identify the file.
const (
	Format  = "oidcfed-export"
	Version = 1
)

// maxLine bounds one line of an import file: the largest record is an
// audit event or an IAM record (a role with its policies), well under
// this; a longer line is not an export.
const maxLine = 16 << 20

// auditPage is how many audit records Export reads, and Import writes, at
// a time.
const auditPage = 1000

type header struct {
	Format     string    `json:"format"`
	Version    int       `json:"version"`
	ExportedAt time.Time `json:"exported_at"`
}

// trailer ends the file: what it holds, and which master keys its secrets
// are sealed under.
type trailer struct {
	Counts      Counts   `json:"counts"`
	SealedUnder []string `json:"sealed_under"`
}

// Counts says how many records of each kind a file holds.
type Counts struct {
	Runners      int `json:"runners"`
	SigningKeys  int `json:"signing_keys"`
	AccessKeys   int `json:"access_keys"`
	IAMRecords   int `json:"iam_records"`
	KMSKeys      int `json:"kms_keys"`
	KMSAliases   int `json:"kms_aliases"`
	AuditEvents  int `json:"audit_events"`
	AuditAnchors int `json:"audit_anchors"`
	// ECR registry metadata (the blobs themselves stay in the data
	// directory's files).
	ECRRepositories int `json:"ecr_repositories,omitempty"`
	ECRBlobLinks    int `json:"ecr_blob_links,omitempty"`
	ECRImages       int `json:"ecr_images,omitempty"`
	ECRTags         int `json:"ecr_tags,omitempty"`
}

func (c Counts) String() string {
	return fmt.Sprintf("%d runners, %d signing keys, %d access keys, %d IAM records, %d KMS keys, %d KMS aliases, %d audit events, %d audit anchors, %d ECR repositories, %d ECR blob links, %d ECR images, %d ECR tags",
		c.Runners, c.SigningKeys, c.AccessKeys, c.IAMRecords, c.KMSKeys, c.KMSAliases, c.AuditEvents, c.AuditAnchors,
		c.ECRRepositories, c.ECRBlobLinks, c.ECRImages, c.ECRTags)
}

// Summary is what Export wrote or Import read.
type Summary struct {
	Counts
	// SealedUnder lists the ids of the master keys the secrets are sealed
	// under (one, unless a master-key rotation was interrupted): servers
	// on the imported store need that key.
	SealedUnder []string
}

// Each line after the header is one of these, with exactly one field set
// (or the trailer). The shapes are the file format: stable, independent of
// the store's Go types. Byte fields (sealed values, bodies the audit chain
// hashes) are base64, so they come back byte for byte.
type line struct {
	Runner      *runner      `json:"runner,omitempty"`
	SigningKey  *signingKey  `json:"signing_key,omitempty"`
	AccessKey   *accessKey   `json:"access_key,omitempty"`
	IAMRecord   *iamRecord   `json:"iam_record,omitempty"`
	KMSKey      *kmsKey      `json:"kms_key,omitempty"`
	KMSAlias    *kmsAlias    `json:"kms_alias,omitempty"`
	AuditEvent  *auditEvent  `json:"audit_event,omitempty"`
	AuditAnchor *auditAnchor `json:"audit_anchor,omitempty"`
	ECRRepo     *ecrRepo     `json:"ecr_repository,omitempty"`
	ECRLink     *ecrLink     `json:"ecr_blob_link,omitempty"`
	ECRImage    *ecrImage    `json:"ecr_image,omitempty"`
	ECRTag      *ecrTag      `json:"ecr_tag,omitempty"`
	End         *trailer     `json:"end,omitempty"`
}

type ecrRepo struct {
	Name string `json:"name"`
	Body []byte `json:"body"`
}

type ecrLink struct {
	Repository string    `json:"repository"`
	Digest     string    `json:"digest"`
	Size       int64     `json:"size"`
	CreatedAt  time.Time `json:"created_at"`
}

type ecrImage struct {
	Repository   string    `json:"repository"`
	Digest       string    `json:"digest"`
	MediaType    string    `json:"media_type"`
	ArtifactType string    `json:"artifact_type"`
	Manifest     []byte    `json:"manifest"`
	Size         int64     `json:"size"`
	Subject      string    `json:"subject"`
	Children     []string  `json:"children,omitempty"`
	PushedAt     time.Time `json:"pushed_at"`
}

type ecrTag struct {
	Repository string    `json:"repository"`
	Tag        string    `json:"tag"`
	Digest     string    `json:"digest"`
	UpdatedAt  time.Time `json:"updated_at"`
}

type runner struct {
	ID          int64               `json:"id"`
	Name        string              `json:"name"`
	TokenHash   []byte              `json:"token_hash"`
	Constraints map[string][]string `json:"constraints,omitempty"`
	CreatedAt   time.Time           `json:"created_at"`
	RevokedAt   *time.Time          `json:"revoked_at,omitempty"`
}

type signingKey struct {
	Issuer           string     `json:"issuer"`
	KID              string     `json:"kid"`
	Algorithm        string     `json:"algorithm"`
	PublicJWK        []byte     `json:"public_jwk"`
	SealedPrivateKey []byte     `json:"sealed_private_key"`
	CreatedAt        time.Time  `json:"created_at"`
	ActivateAt       time.Time  `json:"activate_at"`
	RetireAt         *time.Time `json:"retire_at,omitempty"`
	ExpireAt         *time.Time `json:"expire_at,omitempty"`
}

type accessKey struct {
	ID           string    `json:"id"`
	UserName     string    `json:"user_name"`
	SealedSecret []byte    `json:"sealed_secret"`
	Status       string    `json:"status"`
	CreatedAt    time.Time `json:"created_at"`
}

type iamRecord struct {
	Kind string `json:"kind"`
	Key  string `json:"key"`
	Body []byte `json:"body"`
}

type kmsKey struct {
	ID             string `json:"id"`
	Body           []byte `json:"body"`
	SealedMaterial []byte `json:"sealed_material"`
}

type kmsAlias struct {
	Name      string    `json:"name"`
	KeyID     string    `json:"key_id"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

type auditEvent struct {
	Writer      string    `json:"writer"`
	Seq         uint64    `json:"seq"`
	Time        time.Time `json:"time"`
	EventID     string    `json:"event_id"`
	EventName   string    `json:"event_name"`
	EventSource string    `json:"event_source"`
	ReadOnly    bool      `json:"read_only"`
	Username    string    `json:"username"`
	AccessKeyID string    `json:"access_key_id"`
	ErrorCode   string    `json:"error_code"`
	Subject     string    `json:"subject"`
	Resources   []string  `json:"resources,omitempty"`
	Body        []byte    `json:"body"`
}

type auditAnchor struct {
	Writer string `json:"writer"`
	Seq    uint64 `json:"seq"`
	Hash   string `json:"hash"`
}

// AuditSource is where Export reads audit records kept outside the
// store's tables (the embedded store's journal, an audit.Backend).
type AuditSource interface {
	Chains(ctx context.Context) ([]store.AuditChainInfo, error)
	Chain(ctx context.Context, writer string, from uint64, limit int) ([]store.AuditRecord, error)
}

// txAudit reads audit records from the store's tables, in the export's
// snapshot.
type txAudit struct{ tx store.Tx }

func (a txAudit) Chains(ctx context.Context) ([]store.AuditChainInfo, error) {
	return a.tx.AuditChains(ctx)
}
func (a txAudit) Chain(ctx context.Context, writer string, from uint64, limit int) ([]store.AuditRecord, error) {
	return a.tx.AuditChain(ctx, writer, from, limit)
}

// Export writes every record of st to w, from one snapshot, with the audit
// records of auditRecords (nil: the store's own). now stamps the header.
func Export(ctx context.Context, st store.Store, auditRecords AuditSource, w io.Writer, now time.Time) (Summary, error) {
	bw := bufio.NewWriterSize(w, 1<<16)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	var c Counts
	sealed := map[string]bool{}
	seal := func(b []byte) {
		id, ok := keys.SealedKeyID(b)
		if !ok {
			id = "(unrecognised)"
		}
		sealed[id] = true
	}
	err := st.View(ctx, func(tx store.Tx) error {
		if err := enc.Encode(header{Format: Format, Version: Version, ExportedAt: now.UTC()}); err != nil {
			return err
		}
		rs, err := tx.ListRunners(ctx)
		if err != nil {
			return err
		}
		for _, r := range rs {
			c.Runners++
			if err := enc.Encode(line{Runner: &runner{r.ID, r.Name, r.TokenHash, r.Constraints, r.CreatedAt, r.RevokedAt}}); err != nil {
				return err
			}
		}
		sks, err := tx.ListAllSigningKeys(ctx)
		if err != nil {
			return err
		}
		for _, k := range sks {
			c.SigningKeys++
			seal(k.SealedPrivateKey)
			if err := enc.Encode(line{SigningKey: &signingKey{k.Issuer, k.KID, k.Algorithm, k.PublicJWK, k.SealedPrivateKey,
				k.CreatedAt, k.ActivateAt, k.RetireAt, k.ExpireAt}}); err != nil {
				return err
			}
		}
		aks, err := tx.ListAllAccessKeys(ctx)
		if err != nil {
			return err
		}
		for _, k := range aks {
			c.AccessKeys++
			seal(k.SealedSecret)
			if err := enc.Encode(line{AccessKey: &accessKey{k.ID, k.UserName, k.SealedSecret, k.Status, k.CreatedAt}}); err != nil {
				return err
			}
		}
		irs, err := tx.ListAllIAMRecords(ctx)
		if err != nil {
			return err
		}
		for _, r := range irs {
			c.IAMRecords++
			if err := enc.Encode(line{IAMRecord: &iamRecord{r.Kind, r.Key, r.Body}}); err != nil {
				return err
			}
		}
		// Keys before the aliases that name them.
		kks, err := tx.ListKMSKeys(ctx)
		if err != nil {
			return err
		}
		for _, listed := range kks {
			k, err := tx.GetKMSKey(ctx, listed.ID) // the listing leaves the material out
			if err != nil {
				return err
			}
			c.KMSKeys++
			seal(k.SealedMaterial)
			if err := enc.Encode(line{KMSKey: &kmsKey{k.ID, k.Body, k.SealedMaterial}}); err != nil {
				return err
			}
		}
		as, err := tx.ListKMSAliases(ctx)
		if err != nil {
			return err
		}
		for _, a := range as {
			c.KMSAliases++
			if err := enc.Encode(line{KMSAlias: &kmsAlias{a.Name, a.KeyID, a.CreatedAt, a.UpdatedAt}}); err != nil {
				return err
			}
		}
		// Repositories before their links, images before the tags naming them.
		repos, err := tx.ListECRRepositories(ctx)
		if err != nil {
			return err
		}
		for _, r := range repos {
			c.ECRRepositories++
			if err := enc.Encode(line{ECRRepo: &ecrRepo{r.Name, r.Body}}); err != nil {
				return err
			}
			links, err := tx.ListECRBlobLinks(ctx, r.Name)
			if err != nil {
				return err
			}
			for _, l := range links {
				c.ECRBlobLinks++
				if err := enc.Encode(line{ECRLink: &ecrLink{l.Repository, l.Digest, l.Size, l.CreatedAt}}); err != nil {
					return err
				}
			}
			imgs, err := tx.ListECRImages(ctx, r.Name)
			if err != nil {
				return err
			}
			for _, listed := range imgs {
				img, err := tx.GetECRImage(ctx, r.Name, listed.Digest) // the listing leaves the manifest out
				if err != nil {
					return err
				}
				c.ECRImages++
				if err := enc.Encode(line{ECRImage: &ecrImage{img.Repository, img.Digest, img.MediaType, img.ArtifactType, img.Manifest,
					img.Size, img.Subject, img.Children, img.PushedAt}}); err != nil {
					return err
				}
			}
			tags, err := tx.ListECRTags(ctx, r.Name)
			if err != nil {
				return err
			}
			for _, tg := range tags {
				c.ECRTags++
				if err := enc.Encode(line{ECRTag: &ecrTag{tg.Repository, tg.Tag, tg.Digest, tg.UpdatedAt}}); err != nil {
					return err
				}
			}
		}
		src := auditRecords
		if src == nil {
			src = txAudit{tx}
		}
		chains, err := src.Chains(ctx)
		if err != nil {
			return err
		}
		for _, ch := range chains {
			if a := ch.Anchor; a != nil {
				c.AuditAnchors++
				if err := enc.Encode(line{AuditAnchor: &auditAnchor{a.Writer, a.Seq, a.Hash}}); err != nil {
					return err
				}
			}
			for from := uint64(0); ; {
				page, err := src.Chain(ctx, ch.Writer, from, auditPage)
				if err != nil {
					return err
				}
				for _, r := range page {
					c.AuditEvents++
					if err := enc.Encode(line{AuditEvent: &auditEvent{r.Writer, r.Seq, r.Time, r.EventID, r.EventName, r.EventSource,
						r.ReadOnly, r.Username, r.AccessKeyID, r.ErrorCode, r.Subject, r.Resources, r.Body}}); err != nil {
						return err
					}
				}
				if len(page) < auditPage {
					break
				}
				from = page[len(page)-1].Seq + 1
			}
		}
		return nil
	})
	if err != nil {
		return Summary{}, fmt.Errorf("export: %w", err)
	}
	ids := slices.Sorted(maps.Keys(sealed))
	if err := enc.Encode(line{End: &trailer{Counts: c, SealedUnder: ids}}); err != nil {
		return Summary{}, fmt.Errorf("export: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return Summary{}, fmt.Errorf("export: %w", err)
	}
	return Summary{Counts: c, SealedUnder: ids}, nil
}

// ErrNotEmpty: Import refuses a store that holds records.
var ErrNotEmpty = errors.New("the target store is not empty")

// Import reads an export into st, which must be empty, in one
// transaction. open is called for each attempt of the transaction (a
// conflict reruns it), so it must return the file from its start.
func Import(ctx context.Context, st store.Store, open func() (io.ReadCloser, error)) (Summary, error) {
	var sum Summary
	err := st.Update(ctx, func(tx store.Tx) error {
		if err := checkEmpty(ctx, tx); err != nil {
			return err
		}
		r, err := open()
		if err != nil {
			return err
		}
		defer r.Close()
		sum, err = importFrom(ctx, tx, r)
		return err
	})
	if err != nil {
		return Summary{}, fmt.Errorf("import: %w", err)
	}
	return sum, nil
}

// checkEmpty fails with ErrNotEmpty, saying what the store holds, unless
// it holds nothing Import would write. (An IAM generation counter moved by
// writes since undone does not count.)
func checkEmpty(ctx context.Context, tx store.Tx) error {
	var have []string
	count := func(what string, n int, err error) error {
		if n > 0 {
			have = append(have, fmt.Sprintf("%d %s", n, what))
		}
		return err
	}
	rs, err := tx.ListRunners(ctx)
	if err := count("runners", len(rs), err); err != nil {
		return err
	}
	ks, err := tx.ListAllSigningKeys(ctx)
	if err := count("signing keys", len(ks), err); err != nil {
		return err
	}
	aks, err := tx.ListAllAccessKeys(ctx)
	if err := count("access keys", len(aks), err); err != nil {
		return err
	}
	irs, err := tx.ListAllIAMRecords(ctx)
	if err := count("IAM records", len(irs), err); err != nil {
		return err
	}
	kks, err := tx.ListKMSKeys(ctx)
	if err := count("KMS keys", len(kks), err); err != nil {
		return err
	}
	chains, err := tx.AuditChains(ctx)
	if err := count("audit chains", len(chains), err); err != nil {
		return err
	}
	repos, err := tx.ListECRRepositories(ctx)
	if err := count("ECR repositories", len(repos), err); err != nil {
		return err
	}
	if len(have) > 0 {
		return fmt.Errorf("%w (it has %s): import into a new database, before any server has started on it", ErrNotEmpty, strings.Join(have, ", "))
	}
	return nil
}

func importFrom(ctx context.Context, tx store.Tx, r io.Reader) (Summary, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 1<<16), maxLine)
	n := 0
	next := func() ([]byte, bool) {
		if !sc.Scan() {
			return nil, false
		}
		n++
		return sc.Bytes(), true
	}
	b, ok := next()
	var h header
	if !ok || json.Unmarshal(b, &h) != nil || h.Format != Format {
		return Summary{}, errors.Join(sc.Err(), errors.New("not an oidcfed export (its first line is not the export header)"))
	}
	if h.Version != Version {
		return Summary{}, fmt.Errorf("export format version %d: this oidcfed reads version %d", h.Version, Version)
	}
	var c Counts
	var audit []store.AuditRecord
	flush := func() error {
		if len(audit) == 0 {
			return nil
		}
		err := tx.AppendAuditRecords(ctx, audit)
		audit = audit[:0]
		return err
	}
	for {
		b, ok := next()
		if !ok {
			return Summary{}, errors.Join(sc.Err(), errors.New("the export ends without its trailer: it was cut short"))
		}
		var l line
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&l); err != nil {
			return Summary{}, fmt.Errorf("line %d: %w", n, err)
		}
		var err error
		switch {
		case l.Runner != nil:
			x := l.Runner
			c.Runners++
			err = tx.ImportRunner(ctx, &store.Runner{ID: x.ID, Name: x.Name, TokenHash: x.TokenHash, Constraints: x.Constraints,
				CreatedAt: x.CreatedAt, RevokedAt: x.RevokedAt})
		case l.SigningKey != nil:
			x := l.SigningKey
			c.SigningKeys++
			err = tx.CreateSigningKey(ctx, &store.SigningKey{Issuer: x.Issuer, KID: x.KID, Algorithm: x.Algorithm, PublicJWK: x.PublicJWK,
				SealedPrivateKey: x.SealedPrivateKey, CreatedAt: x.CreatedAt, ActivateAt: x.ActivateAt, RetireAt: x.RetireAt, ExpireAt: x.ExpireAt})
		case l.AccessKey != nil:
			x := l.AccessKey
			c.AccessKeys++
			err = tx.CreateAccessKey(ctx, &store.AccessKey{ID: x.ID, UserName: x.UserName, SealedSecret: x.SealedSecret, Status: x.Status, CreatedAt: x.CreatedAt})
		case l.IAMRecord != nil:
			x := l.IAMRecord
			c.IAMRecords++
			err = tx.CreateIAMRecord(ctx, &store.IAMRecord{Kind: x.Kind, Key: x.Key, Body: x.Body})
		case l.KMSKey != nil:
			x := l.KMSKey
			c.KMSKeys++
			err = tx.CreateKMSKey(ctx, &store.KMSKey{ID: x.ID, Body: x.Body, SealedMaterial: x.SealedMaterial})
		case l.KMSAlias != nil:
			x := l.KMSAlias
			c.KMSAliases++
			err = tx.CreateKMSAlias(ctx, &store.KMSAlias{Name: x.Name, KeyID: x.KeyID, CreatedAt: x.CreatedAt, UpdatedAt: x.UpdatedAt})
		case l.AuditAnchor != nil:
			x := l.AuditAnchor
			c.AuditAnchors++
			err = tx.SetAuditAnchor(ctx, store.AuditAnchor{Writer: x.Writer, Seq: x.Seq, Hash: x.Hash})
		case l.AuditEvent != nil:
			x := l.AuditEvent
			c.AuditEvents++
			audit = append(audit, store.AuditRecord{Writer: x.Writer, Seq: x.Seq, Time: x.Time, EventID: x.EventID, EventName: x.EventName,
				EventSource: x.EventSource, ReadOnly: x.ReadOnly, Username: x.Username, AccessKeyID: x.AccessKeyID, ErrorCode: x.ErrorCode,
				Subject: x.Subject, Resources: x.Resources, Body: x.Body})
			if len(audit) == auditPage {
				err = flush()
			}
		case l.ECRRepo != nil:
			c.ECRRepositories++
			err = tx.CreateECRRepository(ctx, &store.ECRRepository{Name: l.ECRRepo.Name, Body: l.ECRRepo.Body})
		case l.ECRLink != nil:
			x := l.ECRLink
			c.ECRBlobLinks++
			err = tx.LinkECRBlob(ctx, &store.ECRBlobLink{Repository: x.Repository, Digest: x.Digest, Size: x.Size, CreatedAt: x.CreatedAt})
		case l.ECRImage != nil:
			x := l.ECRImage
			c.ECRImages++
			err = tx.PutECRImage(ctx, &store.ECRImage{Repository: x.Repository, Digest: x.Digest, MediaType: x.MediaType, ArtifactType: x.ArtifactType,
				Manifest: x.Manifest, Size: x.Size, Subject: x.Subject, Children: x.Children, PushedAt: x.PushedAt})
		case l.ECRTag != nil:
			x := l.ECRTag
			c.ECRTags++
			err = tx.TagECRImage(ctx, &store.ECRTag{Repository: x.Repository, Tag: x.Tag, Digest: x.Digest, UpdatedAt: x.UpdatedAt})
		case l.End != nil:
			if err := flush(); err != nil {
				return Summary{}, err
			}
			if l.End.Counts != c {
				return Summary{}, fmt.Errorf("the trailer counts %s, the file holds %s", l.End.Counts, c)
			}
			if sc.Scan() {
				return Summary{}, fmt.Errorf("line %d: data after the trailer", n+1)
			}
			ids := slices.Clone(l.End.SealedUnder)
			sort.Strings(ids)
			return Summary{Counts: c, SealedUnder: ids}, sc.Err()
		default:
			return Summary{}, fmt.Errorf("line %d: no record", n)
		}
		if err != nil {
			return Summary{}, fmt.Errorf("line %d: %w", n, err)
		}
	}
}
