package ecr

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"slices"
	"strings"

	"github.com/oidcfed/oidcfed/internal/store"
)

// MaxManifestSize is the largest manifest stored: the model's ImageManifest
// maximum (4 MiB), which is also the OCI distribution spec's suggested
// limit.
const MaxManifestSize = 4 << 20

// maxDescriptors bounds the descriptors one manifest may list (layers,
// or an index's manifests): far above what images use (Docker stops at
// 127 layers) and small enough that checking them is cheap.
const maxDescriptors = 1024

// Manifest media types the registry stores.
const (
	MediaTypeOCIManifest    = "application/vnd.oci.image.manifest.v1+json"
	MediaTypeOCIIndex       = "application/vnd.oci.image.index.v1+json"
	MediaTypeDockerManifest = "application/vnd.docker.distribution.manifest.v2+json"
	MediaTypeDockerList     = "application/vnd.docker.distribution.manifest.list.v2+json"
)

// IsIndex reports whether mediaType is a manifest list or image index.
func IsIndex(mediaType string) bool {
	return mediaType == MediaTypeOCIIndex || mediaType == MediaTypeDockerList
}

func supportedManifest(mediaType string) bool {
	switch mediaType {
	case MediaTypeOCIManifest, MediaTypeOCIIndex, MediaTypeDockerManifest, MediaTypeDockerList:
		return true
	}
	return false
}

// nonDistributable layers are not pushed to a registry (foreign layers):
// a manifest may name them without the registry holding them.
func nonDistributable(mediaType string) bool {
	return strings.Contains(mediaType, ".foreign.") || strings.Contains(mediaType, ".nondistributable.")
}

type descriptor struct {
	MediaType    string `json:"mediaType"`
	Digest       string `json:"digest"`
	Size         *int64 `json:"size"`
	ArtifactType string `json:"artifactType"`
}

type manifestDoc struct {
	SchemaVersion *int         `json:"schemaVersion"`
	MediaType     string       `json:"mediaType"`
	ArtifactType  string       `json:"artifactType"`
	Config        *descriptor  `json:"config"`
	Layers        []descriptor `json:"layers"`
	Manifests     []descriptor `json:"manifests"`
	Subject       *descriptor  `json:"subject"`
}

// manifestInvalid is a manifest the registry refuses (the registry maps
// it to the OCI error MANIFEST_INVALID).
func manifestInvalid(format string, args ...any) *Error {
	return newError(CodeInvalidParameter, "Invalid parameter at 'ImageManifest' failed to satisfy constraint: '%s'", fmt.Sprintf(format, args...))
}

// ManifestDigest is the digest of a manifest's bytes.
func ManifestDigest(body []byte) string {
	sum := sha256.Sum256(body)
	return DigestAlgorithm + ":" + hex.EncodeToString(sum[:])
}

// parsedManifest is what PutManifest learns from a manifest.
type parsedManifest struct {
	mediaType    string
	artifactType string
	subject      string
	blobs        []descriptor // config and layers the registry must hold
	children     []descriptor // an index's manifests
	size         int64        // layers' sizes (indexes: computed from children)
}

func checkDescriptor(d descriptor, where string) error {
	if !ValidDigest(d.Digest) {
		return manifestInvalid("%s digest %q is not a sha256 digest", where, truncate(d.Digest, 80))
	}
	// At most 2^50 bytes: 1,024 of them add up without overflowing.
	if d.Size == nil || *d.Size < 0 || *d.Size > 1<<50 {
		return manifestInvalid("%s has no valid size", where)
	}
	return nil
}

// parseManifest checks a manifest as the registry stores it: JSON, schema
// version 2, a media type it knows (from contentType, or the document's
// own when the header is a generic one) that the document does not
// contradict, and well-formed descriptors.
func parseManifest(contentType string, body []byte) (*parsedManifest, error) {
	if len(body) > MaxManifestSize {
		return nil, manifestInvalid("Manifest is larger than %d bytes", MaxManifestSize)
	}
	var m manifestDoc
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&m); err != nil || dec.More() {
		return nil, manifestInvalid("Invalid JSON syntax")
	}
	if m.SchemaVersion == nil || *m.SchemaVersion != 2 {
		return nil, manifestInvalid("Manifest schemaVersion must be 2")
	}
	mt := contentType
	if parsed, _, err := mime.ParseMediaType(contentType); err == nil {
		mt = parsed
	}
	switch mt {
	case "", "application/json", "application/octet-stream":
		mt = m.MediaType
	}
	if !supportedManifest(mt) {
		return nil, manifestInvalid("Unsupported manifest media type %q", truncate(mt, 128))
	}
	if m.MediaType != "" && m.MediaType != mt {
		return nil, manifestInvalid("Manifest mediaType %q does not match the Content-Type %q", truncate(m.MediaType, 128), mt)
	}
	p := &parsedManifest{mediaType: mt, artifactType: m.ArtifactType}
	if m.Subject != nil {
		if err := checkDescriptor(*m.Subject, "subject"); err != nil {
			return nil, err
		}
		p.subject = m.Subject.Digest
	}
	if IsIndex(mt) {
		if m.Config != nil || m.Layers != nil {
			return nil, manifestInvalid("An image index has no config or layers")
		}
		if len(m.Manifests) > maxDescriptors {
			return nil, manifestInvalid("An image index lists at most %d manifests", maxDescriptors)
		}
		for i, d := range m.Manifests {
			if err := checkDescriptor(d, fmt.Sprintf("manifests[%d]", i)); err != nil {
				return nil, err
			}
			p.children = append(p.children, d)
		}
		return p, nil
	}
	if m.Manifests != nil {
		return nil, manifestInvalid("An image manifest has no manifests list")
	}
	if m.Config == nil {
		return nil, manifestInvalid("An image manifest needs a config")
	}
	if err := checkDescriptor(*m.Config, "config"); err != nil {
		return nil, err
	}
	if len(m.Layers) > maxDescriptors {
		return nil, manifestInvalid("An image manifest lists at most %d layers", maxDescriptors)
	}
	p.blobs = append(p.blobs, *m.Config)
	if p.artifactType == "" {
		p.artifactType = m.Config.MediaType
	}
	for i, d := range m.Layers {
		if err := checkDescriptor(d, fmt.Sprintf("layers[%d]", i)); err != nil {
			return nil, err
		}
		p.size += *d.Size
		if !nonDistributable(d.MediaType) {
			p.blobs = append(p.blobs, d)
		}
	}
	return p, nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// ImageID names an image as ECR's API does.
func ImageID(digest, tag string) string {
	d, t := "null", "null"
	if digest != "" {
		d = digest
	}
	if tag != "" {
		t = tag
	}
	return "{imageDigest:'" + d + "', imageTag:'" + t + "'}"
}

// ErrImageNotFound is ECR's answer for an image a repository lacks.
func (s *Service) ErrImageNotFound(repo, digest, tag string) *Error {
	return newError(CodeImageNotFound, "The image with imageId %s does not exist within the repository with name '%s' in the registry with id '%s'",
		ImageID(digest, tag), repo, s.opts.Account)
}

// PutManifest stores a manifest pushed to repo under ref (a tag, or the
// manifest's own digest). The blobs an image manifest names must be in the
// repository, an index's manifests too; an immutable tag is not moved.
func (s *Service) PutManifest(ctx context.Context, repo *Repository, ref, contentType string, body []byte) (*store.ECRImage, error) {
	digest := ManifestDigest(body)
	tag := ""
	switch {
	case ValidDigest(ref):
		if ref != digest {
			return nil, newError(CodeImageDigestDoesNotMatch, "Provided digest %s does not match the digest %s computed for the manifest", ref, digest) // unconfirmed wording
		}
	case ValidTag(ref):
		tag = ref
	default:
		return nil, invalidParameter("imageTag", "Image tag must match the OCI tag grammar [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}") // unconfirmed wording
	}
	p, err := parseManifest(contentType, body)
	if err != nil {
		return nil, err
	}
	now := s.opts.Now().UTC()
	img := &store.ECRImage{Repository: repo.Name, Digest: digest, MediaType: p.mediaType, ArtifactType: p.artifactType, Manifest: body,
		Size: p.size, Subject: p.subject, PushedAt: now}
	for _, c := range p.children {
		img.Children = append(img.Children, c.Digest)
	}
	err = s.opts.Store.Update(ctx, func(tx store.Tx) error {
		for _, b := range p.blobs {
			if _, err := tx.GetECRBlobLink(ctx, repo.Name, b.Digest); errors.Is(err, store.ErrNotFound) {
				return newError(CodeLayersNotFound, "The image manifest references blob %s, which is not in repository %s", b.Digest, repo.Name) // unconfirmed wording
			} else if err != nil {
				return err
			}
		}
		img.Size = p.size
		for _, c := range p.children {
			child, err := tx.GetECRImage(ctx, repo.Name, c.Digest)
			if errors.Is(err, store.ErrNotFound) {
				return newError(CodeReferencedImagesNotFound, "The image index references manifest %s, which is not in repository %s", c.Digest, repo.Name) // unconfirmed wording
			} else if err != nil {
				return err
			}
			// An index's size is its largest image's, as ECR reports it.
			img.Size = max(img.Size, child.Size)
		}
		if tag != "" && repo.tagImmutable(tag) {
			old, err := tx.GetECRTag(ctx, repo.Name, tag)
			if err == nil && old.Digest != digest {
				return newError(CodeImageTagAlreadyExists, "The image tag '%s' already exists in the '%s' repository and cannot be overwritten because the repository is immutable.", tag, repo.Name)
			} else if err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
		}
		if err := tx.PutECRImage(ctx, img); err != nil {
			return err
		}
		if tag != "" {
			return tx.TagECRImage(ctx, &store.ECRTag{Repository: repo.Name, Tag: tag, Digest: digest, UpdatedAt: now})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return img, nil
}

// Image returns the image ref names in repo: a digest, or a tag.
// ImageNotFoundException when there is none.
func (s *Service) Image(ctx context.Context, repo, ref string) (store.ECRImage, error) {
	var img store.ECRImage
	digest, tag := ref, ""
	if !ValidDigest(ref) {
		digest, tag = "", ref
	}
	err := s.opts.Store.View(ctx, func(tx store.Tx) error {
		d := digest
		if tag != "" {
			t, err := tx.GetECRTag(ctx, repo, tag)
			if err != nil {
				return err
			}
			d = t.Digest
		}
		var err error
		img, err = tx.GetECRImage(ctx, repo, d)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return store.ECRImage{}, s.ErrImageNotFound(repo, digest, tag)
	}
	return img, err
}

// Image is an image of a repository with its tags.
type Image struct {
	store.ECRImage
	Tags []string
}

// Images lists a repository's images (without manifests) with their tags,
// ordered by digest; tags are in lexical order.
func (s *Service) Images(ctx context.Context, repo string) ([]Image, error) {
	var imgs []store.ECRImage
	var tags []store.ECRTag
	err := s.opts.Store.View(ctx, func(tx store.Tx) (err error) {
		if imgs, err = tx.ListECRImages(ctx, repo); err != nil {
			return err
		}
		tags, err = tx.ListECRTags(ctx, repo)
		return err
	})
	if err != nil {
		return nil, err
	}
	byDigest := map[string][]string{}
	for _, t := range tags {
		byDigest[t.Digest] = append(byDigest[t.Digest], t.Tag)
	}
	out := make([]Image, len(imgs))
	for i, img := range imgs {
		out[i] = Image{ECRImage: img, Tags: byDigest[img.Digest]}
	}
	return out, nil
}

// Tags lists a repository's tags in lexical order.
func (s *Service) Tags(ctx context.Context, repo string) ([]store.ECRTag, error) {
	var tags []store.ECRTag
	err := s.opts.Store.View(ctx, func(tx store.Tx) (err error) {
		tags, err = tx.ListECRTags(ctx, repo)
		return err
	})
	return tags, err
}

// Referrers lists the images of repo whose subject is digest (of
// artifactType when set), ordered by digest.
func (s *Service) Referrers(ctx context.Context, repo, digest, artifactType string) ([]store.ECRImage, error) {
	imgs, err := s.Images(ctx, repo)
	if err != nil {
		return nil, err
	}
	var out []store.ECRImage
	for _, img := range imgs {
		if img.Subject == digest && (artifactType == "" || img.ArtifactType == artifactType) {
			out = append(out, img.ECRImage)
		}
	}
	return out, nil
}

// DeleteImage deletes the image digest names in repo with its tags. An
// image an index of the repository lists is not deleted (ECR's
// ImageReferencedByManifestList).
func (s *Service) DeleteImage(ctx context.Context, repo, digest string) error {
	return s.opts.Store.Update(ctx, func(tx store.Tx) error {
		imgs, err := tx.ListECRImages(ctx, repo)
		if err != nil {
			return err
		}
		found := false
		for _, img := range imgs {
			if img.Digest == digest {
				found = true
			}
			if img.Digest != digest && slices.Contains(img.Children, digest) {
				return newError(CodeImageReferencedByManifest, "Requested image referenced by manifest list: [%s]", img.Digest) // moto-style, unconfirmed wording
			}
		}
		if !found {
			return s.ErrImageNotFound(repo, digest, "")
		}
		return tx.DeleteECRImage(ctx, repo, digest)
	})
}

// Untag removes a tag from repo; the image stays.
func (s *Service) Untag(ctx context.Context, repo, tag string) error {
	err := s.opts.Store.Update(ctx, func(tx store.Tx) error { return tx.UntagECRImage(ctx, repo, tag) })
	if errors.Is(err, store.ErrNotFound) {
		return s.ErrImageNotFound(repo, "", tag)
	}
	return err
}

// BlobLink returns the link that lets repo serve digest;
// LayersNotFoundException when repo has no such blob.
func (s *Service) BlobLink(ctx context.Context, repo, digest string) (store.ECRBlobLink, error) {
	var l store.ECRBlobLink
	err := s.opts.Store.View(ctx, func(tx store.Tx) (err error) {
		l, err = tx.GetECRBlobLink(ctx, repo, digest)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return l, newError(CodeLayersNotFound, "The specified layers could not be found, or the specified layer is not valid for this repository.") // unconfirmed wording
	}
	return l, err
}

// LinkBlob lets repo serve a blob already in the blob store.
func (s *Service) LinkBlob(ctx context.Context, repo, digest string, size int64) error {
	return s.opts.Store.Update(ctx, func(tx store.Tx) error {
		return tx.LinkECRBlob(ctx, &store.ECRBlobLink{Repository: repo, Digest: digest, Size: size, CreatedAt: s.opts.Now().UTC()})
	})
}
