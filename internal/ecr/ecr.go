// Package ecr is an ECR registry's domain: repositories (settings, tags,
// repository policies), the images pushed to them (manifests and tags, in
// the store), the blobs they are made of (files under the data
// directory, content-addressed, each repository allowed to serve only the
// blobs pushed or mounted into it), upload sessions, and the registry
// passwords GetAuthorizationToken hands out.
//
// Authorization is the api and registry packages' business: this package
// answers "what is this repository and may this be stored", not "may this
// caller".
package ecr

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/oidcfed/oidcfed/internal/iam/policy"
	"github.com/oidcfed/oidcfed/internal/store"
)

// Options configure a Service.
type Options struct {
	Store store.Store
	// Dir holds the blobs and upload sessions (created if missing).
	Dir             string
	Account, Region string
	// RegistryHost is host[:port] of the registry as clients name it: the
	// proxyEndpoint's host and every repositoryUri's prefix.
	RegistryHost string
	Now          func() time.Time
	// MaxBlobSize bounds one blob (layer or config); 0 means
	// DefaultMaxBlobSize.
	MaxBlobSize int64
	// MaxUploads bounds the upload sessions open at once; 0 means
	// DefaultMaxUploads.
	MaxUploads int
	// UploadTTL is how long an idle upload session lives; 0 means
	// DefaultUploadTTL.
	UploadTTL time.Duration
}

// Defaults for Options.
const (
	DefaultMaxBlobSize = 10 << 30
	DefaultMaxUploads  = 256
	DefaultUploadTTL   = time.Hour
)

// Tag mutability settings (the model's ImageTagMutability).
const (
	Mutable                = "MUTABLE"
	Immutable              = "IMMUTABLE"
	ImmutableWithExclusion = "IMMUTABLE_WITH_EXCLUSION"
	MutableWithExclusion   = "MUTABLE_WITH_EXCLUSION"
)

// Repository is an ECR repository as stored (its body's JSON).
type Repository struct {
	Name               string            `json:"-"`
	CreatedAt          time.Time         `json:"created_at"`
	ImageTagMutability string            `json:"image_tag_mutability"`
	ExclusionFilters   []ExclusionFilter `json:"exclusion_filters,omitempty"`
	ScanOnPush         bool              `json:"scan_on_push"`
	EncryptionType     string            `json:"encryption_type"`
	Tags               []Tag             `json:"tags,omitempty"`
	Policy             string            `json:"policy,omitempty"`

	policy *policy.Policy // Policy parsed; nil when there is none
}

// ExclusionFilter is an imageTagMutabilityExclusionFilters entry.
type ExclusionFilter struct {
	FilterType string `json:"filterType"`
	Filter     string `json:"filter"`
}

// Tag is a resource tag.
type Tag struct {
	Key   string `json:"Key"`
	Value string `json:"Value"`
}

// ParsedPolicy is the repository policy, parsed; nil when there is none.
func (r *Repository) ParsedPolicy() *policy.Policy { return r.policy }

// Service owns repositories, images, blobs and uploads.
type Service struct {
	opts    Options
	blobs   *Blobs
	uploads *Uploads

	// Parsed repository policies by document text (bounded: cleared when
	// full), so a request does not parse its repository's policy anew.
	policyMu sync.RWMutex
	policies map[string]*policy.Policy
}

// New returns a Service, creating its directories.
func New(o Options) (*Service, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.MaxBlobSize <= 0 {
		o.MaxBlobSize = DefaultMaxBlobSize
	}
	if o.MaxUploads <= 0 {
		o.MaxUploads = DefaultMaxUploads
	}
	if o.UploadTTL <= 0 {
		o.UploadTTL = DefaultUploadTTL
	}
	blobs, err := newBlobs(filepath.Join(o.Dir, "blobs"))
	if err != nil {
		return nil, err
	}
	uploads, err := newUploads(filepath.Join(o.Dir, "uploads"), blobs, o)
	if err != nil {
		return nil, err
	}
	return &Service{opts: o, blobs: blobs, uploads: uploads, policies: map[string]*policy.Policy{}}, nil
}

// Account is the registry id (the AWS account).
func (s *Service) Account() string { return s.opts.Account }

// Region is the registry's region.
func (s *Service) Region() string { return s.opts.Region }

// RegistryHost is host[:port] clients pull from.
func (s *Service) RegistryHost() string { return s.opts.RegistryHost }

// MaxBlobSize is the largest blob accepted.
func (s *Service) MaxBlobSize() int64 { return s.opts.MaxBlobSize }

// Now is the service's clock.
func (s *Service) Now() time.Time { return s.opts.Now() }

// Blobs is the blob store.
func (s *Service) Blobs() *Blobs { return s.blobs }

// Uploads are the upload sessions.
func (s *Service) Uploads() *Uploads { return s.uploads }

// ARN is a repository's ARN.
func (s *Service) ARN(name string) string {
	return "arn:aws:ecr:" + s.opts.Region + ":" + s.opts.Account + ":repository/" + name
}

// URI is a repository's URI, as clients pull from it.
func (s *Service) URI(name string) string { return s.opts.RegistryHost + "/" + name }

// CreateRepositoryInput is CreateRepository's parameters.
type CreateRepositoryInput struct {
	Name               string
	ImageTagMutability string
	ExclusionFilters   []ExclusionFilter
	ScanOnPush         bool
	EncryptionType     string
	KMSKey             string
	Tags               []Tag
}

// CheckRepositoryName is ECR's check of a repositoryName member: its
// model constraints (ValidationException), then its pattern
// (InvalidParameterException, worded as moto words it).
func CheckRepositoryName(name string) error {
	switch {
	case name == "":
		return newError(CodeValidation, "1 validation error detected: Value null at 'repositoryName' failed to satisfy constraint: Member must not be null")
	case len(name) < MinRepositoryName:
		return newError(CodeValidation, "1 validation error detected: Value '%s' at 'repositoryName' failed to satisfy constraint: Member must have length greater than or equal to %d", name, MinRepositoryName)
	case len(name) > MaxRepositoryName:
		return newError(CodeValidation, "1 validation error detected: Value at 'repositoryName' failed to satisfy constraint: Member must have length less than or equal to %d", MaxRepositoryName)
	case !repositoryNameRE.MatchString(name):
		return invalidParameter("repositoryName", "must satisfy regular expression '"+RepositoryNamePattern+"'")
	}
	return nil
}

// Tag bounds (ECR's resource tags).
const (
	maxTags        = 50
	maxTagKeyLen   = 128
	maxTagValueLen = 256
)

func checkTags(tags []Tag) error {
	if len(tags) > maxTags {
		return newError(CodeTooManyTags, "Exceeded the maximum number of tags: %d", maxTags) // unconfirmed wording
	}
	seen := map[string]bool{}
	for _, t := range tags {
		if t.Key == "" || len(t.Key) > maxTagKeyLen || len(t.Value) > maxTagValueLen || strings.HasPrefix(t.Key, "aws:") {
			return newError(CodeInvalidTagParameter, "Tag keys must be 1 to 128 characters and not start with 'aws:', tag values at most 256 characters") // unconfirmed wording
		}
		if seen[t.Key] {
			return newError(CodeInvalidTagParameter, "Duplicate tag key: %s", t.Key) // unconfirmed wording
		}
		seen[t.Key] = true
	}
	return nil
}

func checkMutability(m string, filters []ExclusionFilter) error {
	switch m {
	case Mutable, Immutable:
		if len(filters) > 0 {
			return invalidParameter("imageTagMutabilityExclusionFilters", "ImageTagMutabilityExclusionFilters can only be set when imageTagMutability is "+
				ImmutableWithExclusion+" or "+MutableWithExclusion) // unconfirmed wording
		}
	case ImmutableWithExclusion, MutableWithExclusion:
		if len(filters) == 0 {
			return invalidParameter("imageTagMutabilityExclusionFilters", "ImageTagMutabilityExclusionFilters can't be null when imageTagMutability is set as "+m)
		}
	default:
		return newError(CodeValidation, "1 validation error detected: Value '%s' at 'imageTagMutability' failed to satisfy constraint: Member must satisfy enum value set: [MUTABLE, IMMUTABLE, IMMUTABLE_WITH_EXCLUSION, MUTABLE_WITH_EXCLUSION]", m)
	}
	if len(filters) > 5 {
		return newError(CodeValidation, "1 validation error detected: Value at 'imageTagMutabilityExclusionFilters' failed to satisfy constraint: Member must have length less than or equal to 5")
	}
	for _, f := range filters {
		if f.FilterType != "WILDCARD" {
			return newError(CodeValidation, "1 validation error detected: Value '%s' at 'imageTagMutabilityExclusionFilters.1.member.filterType' failed to satisfy constraint: Member must satisfy enum value set: [WILDCARD]", f.FilterType)
		}
		if len(f.Filter) < 1 || len(f.Filter) > 128 || strings.Trim(f.Filter, "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ._*-") != "" {
			return newError(CodeValidation, "1 validation error detected: Value '%s' at 'imageTagMutabilityExclusionFilters.1.member.filter' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[0-9a-zA-Z._*-]{1,128}$", f.Filter)
		}
	}
	return nil
}

// CreateRepository creates a repository.
func (s *Service) CreateRepository(ctx context.Context, in CreateRepositoryInput) (*Repository, error) {
	if err := CheckRepositoryName(in.Name); err != nil {
		return nil, err
	}
	if in.ImageTagMutability == "" {
		in.ImageTagMutability = Mutable
	}
	if err := checkMutability(in.ImageTagMutability, in.ExclusionFilters); err != nil {
		return nil, err
	}
	switch in.EncryptionType {
	case "", "AES256":
		if in.KMSKey != "" {
			return nil, invalidParameter("encryptionConfiguration", "kmsKey can only be specified when encryptionType is KMS or KMS_DSSE") // unconfirmed wording
		}
	case "KMS", "KMS_DSSE":
		// Blobs are files under the data directory, not encrypted with a
		// KMS key: claiming otherwise would be a lie.
		return nil, invalidParameter("encryptionConfiguration", "encryptionType "+in.EncryptionType+" is not supported by this server; use AES256")
	default:
		return nil, newError(CodeValidation, "1 validation error detected: Value '%s' at 'encryptionConfiguration.encryptionType' failed to satisfy constraint: Member must satisfy enum value set: [AES256, KMS, KMS_DSSE]", in.EncryptionType)
	}
	if err := checkTags(in.Tags); err != nil {
		return nil, err
	}
	r := &Repository{Name: in.Name, CreatedAt: s.opts.Now().UTC().Truncate(time.Millisecond), ImageTagMutability: in.ImageTagMutability,
		ExclusionFilters: in.ExclusionFilters, ScanOnPush: in.ScanOnPush, EncryptionType: "AES256", Tags: in.Tags}
	body, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	err = s.opts.Store.Update(ctx, func(tx store.Tx) error {
		return tx.CreateECRRepository(ctx, &store.ECRRepository{Name: r.Name, Body: body})
	})
	if errors.Is(err, store.ErrAlreadyExists) {
		return nil, newError(CodeRepositoryAlreadyExists, "The repository with name '%s' already exists in the registry with id '%s'", in.Name, s.opts.Account)
	}
	if err != nil {
		return nil, err
	}
	return r, nil
}

func (s *Service) decode(rec store.ECRRepository) (*Repository, error) {
	var r Repository
	if err := json.Unmarshal(rec.Body, &r); err != nil {
		return nil, fmt.Errorf("repository %s: %w", rec.Name, err)
	}
	r.Name = rec.Name
	if r.Policy != "" {
		p, err := s.parsedPolicy(r.Policy)
		if err != nil {
			return nil, fmt.Errorf("repository %s policy: %w", rec.Name, err)
		}
		r.policy = p
	}
	return &r, nil
}

func (s *Service) parsedPolicy(doc string) (*policy.Policy, error) {
	s.policyMu.RLock()
	p, ok := s.policies[doc]
	s.policyMu.RUnlock()
	if ok {
		return p, nil
	}
	p, err := policy.ParseRepositoryPolicy([]byte(doc))
	if err != nil {
		return nil, err
	}
	s.policyMu.Lock()
	if len(s.policies) >= 1024 {
		clear(s.policies)
	}
	s.policies[doc] = p
	s.policyMu.Unlock()
	return p, nil
}

// Repository returns a repository; RepositoryNotFoundException when there
// is none.
func (s *Service) Repository(ctx context.Context, name string) (*Repository, error) {
	var rec store.ECRRepository
	err := s.opts.Store.View(ctx, func(tx store.Tx) (err error) {
		rec, err = tx.GetECRRepository(ctx, name)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrRepositoryNotFound(name, s.opts.Account)
	}
	if err != nil {
		return nil, err
	}
	return s.decode(rec)
}

// Repositories returns every repository, ordered by name.
func (s *Service) Repositories(ctx context.Context) ([]*Repository, error) {
	var recs []store.ECRRepository
	if err := s.opts.Store.View(ctx, func(tx store.Tx) (err error) {
		recs, err = tx.ListECRRepositories(ctx)
		return err
	}); err != nil {
		return nil, err
	}
	out := make([]*Repository, 0, len(recs))
	for _, rec := range recs {
		r, err := s.decode(rec)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// DeleteRepository deletes a repository; one holding images only with
// force. Its blobs stay on disk until CollectGarbage finds no repository
// linking them.
func (s *Service) DeleteRepository(ctx context.Context, name string, force bool) (*Repository, error) {
	var r *Repository
	err := s.opts.Store.Update(ctx, func(tx store.Tx) error {
		rec, err := tx.GetECRRepository(ctx, name)
		if errors.Is(err, store.ErrNotFound) {
			return ErrRepositoryNotFound(name, s.opts.Account)
		}
		if err != nil {
			return err
		}
		if r, err = s.decode(rec); err != nil {
			return err
		}
		imgs, err := tx.ListECRImages(ctx, name)
		if err != nil {
			return err
		}
		if len(imgs) > 0 && !force {
			return newError(CodeRepositoryNotEmpty, "The repository with name '%s' in registry with id '%s' cannot be deleted because it still contains images", name, s.opts.Account)
		}
		return tx.DeleteECRRepository(ctx, name)
	})
	if err != nil {
		return nil, err
	}
	return r, nil
}

// MaxPolicyLength is the model's RepositoryPolicyText maximum.
const MaxPolicyLength = 10240

// ParsePolicy checks a repository policy as SetRepositoryPolicy does.
func ParsePolicy(doc string) (*policy.Policy, error) {
	if len(doc) > MaxPolicyLength {
		return nil, newError(CodeValidation, "1 validation error detected: Value at 'policyText' failed to satisfy constraint: Member must have length less than or equal to %d", MaxPolicyLength)
	}
	p, err := policy.ParseRepositoryPolicy([]byte(doc))
	if err != nil {
		e := invalidParameter("PolicyText", "Invalid repository policy provided")
		e.Cause = err
		return nil, e
	}
	return p, nil
}

// SetPolicy replaces a repository's policy (already checked with
// ParsePolicy).
func (s *Service) SetPolicy(ctx context.Context, name, doc string) (*Repository, error) {
	return s.updateRepository(ctx, name, func(r *Repository) error {
		r.Policy = doc
		return nil
	})
}

// DeletePolicy removes a repository's policy and returns the repository
// as it was.
func (s *Service) DeletePolicy(ctx context.Context, name string) (*Repository, error) {
	var old *Repository
	_, err := s.updateRepository(ctx, name, func(r *Repository) error {
		if r.Policy == "" {
			return ErrPolicyNotFound(name, s.opts.Account)
		}
		c := *r
		old = &c
		r.Policy = ""
		return nil
	})
	return old, err
}

// ErrPolicyNotFound is ECR's answer for a repository without a policy.
func ErrPolicyNotFound(name, registryID string) *Error {
	return newError(CodeRepositoryPolicyNotFound, "Repository policy does not exist for the repository with name '%s' in the registry with id '%s'", name, registryID)
}

func (s *Service) updateRepository(ctx context.Context, name string, change func(*Repository) error) (*Repository, error) {
	var r *Repository
	err := s.opts.Store.Update(ctx, func(tx store.Tx) error {
		rec, err := tx.GetECRRepository(ctx, name)
		if errors.Is(err, store.ErrNotFound) {
			return ErrRepositoryNotFound(name, s.opts.Account)
		}
		if err != nil {
			return err
		}
		if r, err = s.decode(rec); err != nil {
			return err
		}
		if err := change(r); err != nil {
			return err
		}
		body, err := json.Marshal(r)
		if err != nil {
			return err
		}
		return tx.UpdateECRRepository(ctx, name, body)
	})
	if err != nil {
		return nil, err
	}
	if r.Policy != "" {
		if r.policy, err = s.parsedPolicy(r.Policy); err != nil {
			return nil, err
		}
	} else {
		r.policy = nil
	}
	return r, nil
}

// tagImmutable reports whether tag may not be moved in r.
func (r *Repository) tagImmutable(tag string) bool {
	excluded := false
	for _, f := range r.ExclusionFilters {
		if wildcardMatch(f.Filter, tag) {
			excluded = true
			break
		}
	}
	switch r.ImageTagMutability {
	case Immutable:
		return true
	case ImmutableWithExclusion:
		return !excluded
	case MutableWithExclusion:
		return excluded
	}
	return false
}

// wildcardMatch matches s against an exclusion filter, where '*' matches
// any run of characters (filters hold no '?': their pattern is checked).
// The policy engine's matcher keeps it linear-bounded: a filter such as
// "a*a*a*…b" must not cost exponential time on a push.
func wildcardMatch(pattern, s string) bool { return policy.MatchStringLike(pattern, s) }

func mkdir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("registry storage: %w", err)
	}
	return nil
}
