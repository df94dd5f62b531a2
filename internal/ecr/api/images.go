package api

import (
	"errors"
	"fmt"
	"slices"

	"github.com/oidcfed/oidcfed/internal/audit"
	"github.com/oidcfed/oidcfed/internal/ecr"
)

// imageIdentifier is ECR's ImageIdentifier.
type imageIdentifier struct {
	ImageDigest string `json:"imageDigest,omitempty"`
	ImageTag    string `json:"imageTag,omitempty"`
}

// imageFailure is ECR's ImageFailure.
type imageFailure struct {
	ImageID       imageIdentifier `json:"imageId"`
	FailureCode   string          `json:"failureCode"`
	FailureReason string          `json:"failureReason"`
}

// Failure reasons, as moto reproduces ECR's (unconfirmed against AWS).
const (
	reasonNotFound       = "Requested image not found"
	reasonMissing        = "Invalid request parameters: both tag and digest cannot be null"
	reasonInvalidDigest  = "Invalid request parameters: image digest should satisfy the regex '[a-zA-Z0-9-_+.]+:[a-fA-F0-9]+'"
	reasonInvalidTag     = "Invalid request parameters: image tag should satisfy the OCI tag grammar" // unconfirmed wording
	reasonTagDigest      = "Invalid request parameters: image tag does not match image digest"        // unconfirmed wording
	reasonReferencedList = "Requested image referenced by manifest list"                              // unconfirmed wording
)

// checkImageIDs checks an imageIds member's length (1 to 100).
func checkImageIDs(ids []imageIdentifier, required bool) error {
	switch {
	case ids == nil && required:
		return &ecr.Error{Code: ecr.CodeValidation, Message: "1 validation error detected: Value null at 'imageIds' failed to satisfy constraint: Member must not be null"}
	case ids != nil && (len(ids) < 1 || len(ids) > 100):
		return &ecr.Error{Code: ecr.CodeValidation, Message: "1 validation error detected: Value at 'imageIds' failed to satisfy constraint: Member must have length between 1 and 100"}
	}
	for i, id := range ids {
		if id.ImageTag != "" && len(id.ImageTag) > 300 {
			return &ecr.Error{Code: ecr.CodeValidation, Message: fmt.Sprintf("1 validation error detected: Value at 'imageIds.%d.member.imageTag' failed to satisfy constraint: Member must have length less than or equal to 300", i+1)}
		}
	}
	return nil
}

func recordImageIDs(ids []imageIdentifier) []imageIdentifier {
	out := make([]imageIdentifier, 0, min(len(ids), 100))
	for _, id := range ids[:min(len(ids), 100)] {
		out = append(out, imageIdentifier{ImageDigest: audit.Value(id.ImageDigest, 128), ImageTag: audit.Value(id.ImageTag, 300)})
	}
	return out
}

// resolve finds the image an identifier names among imgs; a failure
// when it cannot.
func resolve(imgs []ecr.Image, id imageIdentifier) (*ecr.Image, *imageFailure) {
	fail := func(code, reason string) (*ecr.Image, *imageFailure) {
		return nil, &imageFailure{ImageID: id, FailureCode: code, FailureReason: reason}
	}
	switch {
	case id.ImageDigest == "" && id.ImageTag == "":
		return fail("MissingDigestAndTag", reasonMissing)
	case id.ImageDigest != "" && !ecr.WellFormedDigest(id.ImageDigest):
		return fail("InvalidImageDigest", reasonInvalidDigest)
	case id.ImageTag != "" && !ecr.ValidTag(id.ImageTag):
		return fail("InvalidImageTag", reasonInvalidTag)
	}
	for i := range imgs {
		img := &imgs[i]
		byDigest := id.ImageDigest != "" && img.Digest == id.ImageDigest
		byTag := id.ImageTag != "" && slices.Contains(img.Tags, id.ImageTag)
		switch {
		case byDigest && (id.ImageTag == "" || byTag), byTag && id.ImageDigest == "":
			return img, nil
		case byDigest || byTag:
			return fail("ImageTagDoesNotMatchDigest", reasonTagDigest)
		}
	}
	return fail("ImageNotFound", reasonNotFound)
}

type imagesRequest struct {
	repositoryRequest
	ImageIDs   []imageIdentifier `json:"imageIds"`
	NextToken  *string           `json:"nextToken"`
	MaxResults *int              `json:"maxResults"`
	Filter     *struct {
		TagStatus   string `json:"tagStatus"`
		ImageStatus string `json:"imageStatus"`
	} `json:"filter"`
}

// tagStatus is the request's filter.tagStatus (ANY when unset).
func (in *imagesRequest) tagStatus() (string, error) {
	if in.Filter == nil || in.Filter.TagStatus == "" {
		return "ANY", nil
	}
	switch s := in.Filter.TagStatus; s {
	case "TAGGED", "UNTAGGED", "ANY":
		return s, nil
	default:
		return "", &ecr.Error{Code: ecr.CodeValidation, Message: "1 validation error detected: Value '" + audit.Value(s, 64) +
			"' at 'filter.tagStatus' failed to satisfy constraint: Member must satisfy enum value set: [TAGGED, UNTAGGED, ANY]"}
	}
}

// imagesOf reads the request, authorizes action and lists the images.
func (h *Handler) imagesOf(c *call, action string, in *imagesRequest) ([]ecr.Image, error) {
	if err := decode(c, in); err != nil {
		return nil, err
	}
	c.noteRepository(in.RepositoryName)
	if in.ImageIDs != nil {
		c.ev.RequestParameters["imageIds"] = recordImageIDs(in.ImageIDs)
	}
	if _, err := h.repository(c, action, in.RegistryID, in.RepositoryName); err != nil {
		return nil, err
	}
	return h.svc.Images(c.ctx, in.RepositoryName)
}

// page cuts items after the token's key (items are in key order).
func page[T any](items []T, key func(T) string, token *string, maxResults *int, def int) ([]T, string, error) {
	if err := checkMaxResults(maxResults); err != nil {
		return nil, "", err
	}
	start := 0
	if token != nil {
		after, err := readPageToken(*token)
		if err != nil {
			return nil, "", err
		}
		for start < len(items) && key(items[start]) <= after {
			start++
		}
	}
	limit := def
	if maxResults != nil {
		limit = *maxResults
	}
	end := min(len(items), start+limit)
	next := ""
	if end < len(items) {
		next = pageToken(key(items[end-1]))
	}
	return items[start:end], next, nil
}

func withNext(resp map[string]any, next string) map[string]any {
	if next != "" {
		resp["nextToken"] = next
	}
	return resp
}

func (h *Handler) listImages(c *call) (any, error) {
	var in imagesRequest
	imgs, err := h.imagesOf(c, "ecr:ListImages", &in)
	if err != nil {
		return nil, err
	}
	status, err := in.tagStatus()
	if err != nil {
		return nil, err
	}
	var ids []imageIdentifier
	for _, img := range imgs {
		if len(img.Tags) == 0 && status != "TAGGED" {
			ids = append(ids, imageIdentifier{ImageDigest: img.Digest})
		}
		if status != "UNTAGGED" {
			for _, t := range img.Tags {
				ids = append(ids, imageIdentifier{ImageDigest: img.Digest, ImageTag: t})
			}
		}
	}
	got, next, err := page(ids, func(id imageIdentifier) string { return id.ImageDigest + "\x00" + id.ImageTag }, in.NextToken, in.MaxResults, 100)
	if err != nil {
		return nil, err
	}
	if got == nil {
		got = []imageIdentifier{}
	}
	return withNext(map[string]any{"imageIds": got}, next), nil
}

// imageDetail is ECR's ImageDetail.
type imageDetail struct {
	RegistryID             string   `json:"registryId"`
	RepositoryName         string   `json:"repositoryName"`
	ImageDigest            string   `json:"imageDigest"`
	ImageTags              []string `json:"imageTags,omitempty"`
	ImageSizeInBytes       int64    `json:"imageSizeInBytes"`
	ImagePushedAt          float64  `json:"imagePushedAt"`
	ImageManifestMediaType string   `json:"imageManifestMediaType"`
	ArtifactMediaType      string   `json:"artifactMediaType,omitempty"`
	SubjectManifestDigest  string   `json:"subjectManifestDigest,omitempty"`
}

func (h *Handler) describeImages(c *call) (any, error) {
	var in imagesRequest
	imgs, err := h.imagesOf(c, "ecr:DescribeImages", &in)
	if err != nil {
		return nil, err
	}
	if err := checkImageIDs(in.ImageIDs, false); err != nil {
		return nil, err
	}
	status, err := in.tagStatus()
	if err != nil {
		return nil, err
	}
	detail := func(img *ecr.Image) imageDetail {
		return imageDetail{RegistryID: h.svc.Account(), RepositoryName: in.RepositoryName, ImageDigest: img.Digest, ImageTags: img.Tags,
			ImageSizeInBytes: img.Size, ImagePushedAt: epoch(img.PushedAt), ImageManifestMediaType: img.MediaType,
			ArtifactMediaType: img.ArtifactType, SubjectManifestDigest: img.Subject}
	}
	if in.ImageIDs != nil {
		if in.NextToken != nil || in.MaxResults != nil {
			return nil, &ecr.Error{Code: ecr.CodeInvalidParameter, Message: "Invalid parameter at 'maxResults' failed to satisfy constraint: 'maxResults and nextToken cannot be used with imageIds'"} // unconfirmed wording
		}
		out := []imageDetail{}
		for _, id := range in.ImageIDs {
			img, f := resolve(imgs, id)
			if f != nil {
				if f.FailureCode == "ImageNotFound" || f.FailureCode == "ImageTagDoesNotMatchDigest" {
					return nil, h.svc.ErrImageNotFound(in.RepositoryName, id.ImageDigest, id.ImageTag)
				}
				return nil, &ecr.Error{Code: ecr.CodeInvalidParameter, Message: f.FailureReason}
			}
			out = append(out, detail(img))
		}
		return map[string]any{"imageDetails": out}, nil
	}
	imgs = slices.DeleteFunc(imgs, func(img ecr.Image) bool {
		return (status == "TAGGED" && len(img.Tags) == 0) || (status == "UNTAGGED" && len(img.Tags) > 0)
	})
	got, next, err := page(imgs, func(img ecr.Image) string { return img.Digest }, in.NextToken, in.MaxResults, 100)
	if err != nil {
		return nil, err
	}
	out := make([]imageDetail, 0, len(got))
	for i := range got {
		out = append(out, detail(&got[i]))
	}
	return withNext(map[string]any{"imageDetails": out}, next), nil
}

func (h *Handler) batchGetImage(c *call) (any, error) {
	var in imagesRequest
	var extra struct {
		AcceptedMediaTypes []string `json:"acceptedMediaTypes"`
	}
	if err := decode(c, &extra); err != nil {
		return nil, err
	}
	imgs, err := h.imagesOf(c, "ecr:BatchGetImage", &in)
	if err != nil {
		return nil, err
	}
	if err := checkImageIDs(in.ImageIDs, true); err != nil {
		return nil, err
	}
	if extra.AcceptedMediaTypes != nil && (len(extra.AcceptedMediaTypes) < 1 || len(extra.AcceptedMediaTypes) > 100) {
		return nil, &ecr.Error{Code: ecr.CodeValidation, Message: "1 validation error detected: Value at 'acceptedMediaTypes' failed to satisfy constraint: Member must have length between 1 and 100"}
	}
	images, failures := []map[string]any{}, []imageFailure{}
	for _, id := range in.ImageIDs {
		img, f := resolve(imgs, id)
		if f != nil {
			failures = append(failures, *f)
			continue
		}
		full, err := h.svc.Image(c.ctx, in.RepositoryName, img.Digest)
		if err != nil {
			return nil, err
		}
		images = append(images, map[string]any{"registryId": h.svc.Account(), "repositoryName": in.RepositoryName,
			"imageId": imageIdentifier{ImageDigest: img.Digest, ImageTag: id.ImageTag}, "imageManifest": string(full.Manifest),
			"imageManifestMediaType": full.MediaType})
	}
	return map[string]any{"images": images, "failures": failures}, nil
}

func (h *Handler) batchDeleteImage(c *call) (any, error) {
	var in imagesRequest
	imgs, err := h.imagesOf(c, "ecr:BatchDeleteImage", &in)
	if err != nil {
		return nil, err
	}
	if err := checkImageIDs(in.ImageIDs, true); err != nil {
		return nil, err
	}
	deleted, failures := []imageIdentifier{}, []imageFailure{}
	for _, id := range in.ImageIDs {
		img, f := resolve(imgs, id)
		if f != nil {
			failures = append(failures, *f)
			continue
		}
		// By tag: the tag goes, and the image with its last tag. By
		// digest: the image and every tag on it.
		if id.ImageDigest == "" && len(img.Tags) > 1 {
			err = h.svc.Untag(c.ctx, in.RepositoryName, id.ImageTag)
		} else {
			err = h.svc.DeleteImage(c.ctx, in.RepositoryName, img.Digest)
		}
		var ee *ecr.Error
		if errors.As(err, &ee) && ee.Code == ecr.CodeImageReferencedByManifest {
			failures = append(failures, imageFailure{ImageID: id, FailureCode: "ImageReferencedByManifestList", FailureReason: reasonReferencedList})
			continue
		}
		if err != nil {
			return nil, err
		}
		if id.ImageDigest == "" && len(img.Tags) > 1 {
			deleted = append(deleted, imageIdentifier{ImageDigest: img.Digest, ImageTag: id.ImageTag})
			img.Tags = slices.DeleteFunc(img.Tags, func(t string) bool { return t == id.ImageTag })
			continue
		}
		if len(img.Tags) == 0 {
			deleted = append(deleted, imageIdentifier{ImageDigest: img.Digest})
		}
		for _, t := range img.Tags {
			deleted = append(deleted, imageIdentifier{ImageDigest: img.Digest, ImageTag: t})
		}
		imgs = slices.DeleteFunc(imgs, func(i ecr.Image) bool { return i.Digest == img.Digest })
	}
	c.ev.ResponseElements = map[string]any{"imageIds": recordImageIDs(deleted), "failures": len(failures)}
	return map[string]any{"imageIds": deleted, "failures": failures}, nil
}

type layerRequest struct {
	repositoryRequest
	LayerDigests []string `json:"layerDigests"`
	LayerDigest  *string  `json:"layerDigest"`
}

func (h *Handler) batchCheckLayerAvailability(c *call) (any, error) {
	var in layerRequest
	if err := decode(c, &in); err != nil {
		return nil, err
	}
	c.noteRepository(in.RepositoryName)
	switch {
	case in.LayerDigests == nil:
		return nil, &ecr.Error{Code: ecr.CodeValidation, Message: "1 validation error detected: Value null at 'layerDigests' failed to satisfy constraint: Member must not be null"}
	case len(in.LayerDigests) < 1 || len(in.LayerDigests) > 100:
		return nil, &ecr.Error{Code: ecr.CodeValidation, Message: "1 validation error detected: Value at 'layerDigests' failed to satisfy constraint: Member must have length between 1 and 100"}
	}
	c.ev.RequestParameters["layerDigests"] = boundedList(in.LayerDigests)
	if _, err := h.repository(c, "ecr:BatchCheckLayerAvailability", in.RegistryID, in.RepositoryName); err != nil {
		return nil, err
	}
	type layer struct {
		LayerDigest       string `json:"layerDigest"`
		LayerAvailability string `json:"layerAvailability"`
		LayerSize         *int64 `json:"layerSize,omitempty"`
	}
	type layerFailure struct {
		LayerDigest   string `json:"layerDigest"`
		FailureCode   string `json:"failureCode"`
		FailureReason string `json:"failureReason"`
	}
	layers, failures := []layer{}, []layerFailure{}
	for i, d := range in.LayerDigests {
		switch {
		case len(d) > 1000:
			return nil, &ecr.Error{Code: ecr.CodeValidation, Message: fmt.Sprintf("1 validation error detected: Value at 'layerDigests.%d.member' failed to satisfy constraint: Member must have length less than or equal to 1000", i+1)}
		case d == "":
			failures = append(failures, layerFailure{LayerDigest: d, FailureCode: "MissingLayerDigest", FailureReason: "Missing layer digest"}) // unconfirmed wording
			continue
		case !ecr.WellFormedDigest(d):
			failures = append(failures, layerFailure{LayerDigest: d, FailureCode: "InvalidLayerDigest", FailureReason: "Invalid layer digest"}) // unconfirmed wording
			continue
		}
		l, err := h.svc.BlobLink(c.ctx, in.RepositoryName, d)
		var ee *ecr.Error
		if errors.As(err, &ee) && ee.Code == ecr.CodeLayersNotFound {
			layers = append(layers, layer{LayerDigest: d, LayerAvailability: "UNAVAILABLE"})
			continue
		}
		if err != nil {
			return nil, err
		}
		size := l.Size
		layers = append(layers, layer{LayerDigest: d, LayerAvailability: "AVAILABLE", LayerSize: &size})
	}
	return map[string]any{"layers": layers, "failures": failures}, nil
}

func (h *Handler) getDownloadURLForLayer(c *call) (any, error) {
	var in layerRequest
	if err := decode(c, &in); err != nil {
		return nil, err
	}
	c.noteRepository(in.RepositoryName)
	if in.LayerDigest == nil {
		return nil, &ecr.Error{Code: ecr.CodeValidation, Message: "1 validation error detected: Value null at 'layerDigest' failed to satisfy constraint: Member must not be null"}
	}
	d := *in.LayerDigest
	c.ev.RequestParameters["layerDigest"] = audit.Value(d, 128)
	if !ecr.WellFormedDigest(d) {
		return nil, &ecr.Error{Code: ecr.CodeValidation, Message: "1 validation error detected: Value '" + audit.Value(d, 128) +
			"' at 'layerDigest' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9-_+.]+:[a-fA-F0-9]+"}
	}
	if _, err := h.repository(c, "ecr:GetDownloadUrlForLayer", in.RegistryID, in.RepositoryName); err != nil {
		return nil, err
	}
	if _, err := h.svc.BlobLink(c.ctx, in.RepositoryName, d); err != nil {
		return nil, err
	}
	return map[string]any{"downloadUrl": h.downloads.URL(in.RepositoryName, d, h.svc.Now()), "layerDigest": d}, nil
}
