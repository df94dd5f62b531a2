package sts

import (
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/oidcfed/oidcfed/internal/awsproto"
)

// Session tag limits (IAM user guide, id_session-tags).
const (
	maxSessionTags  = 50
	maxTagKeyLen    = 128
	maxTagValueLen  = 256
	tagCharsPattern = `^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$`
)

var tagCharsRE = regexp.MustCompile(tagCharsPattern)

// sessionTagsFromClaim reads the https://aws.amazon.com/tags claim:
// {"principal_tags": {"Key": ["value"]}, "transitive_tag_keys": ["Key"]}.
// Each principal tag carries exactly one value. A malformed claim is the
// token's fault: InvalidIdentityToken.
func sessionTagsFromClaim(raw any) ([]Tag, []string, *awsproto.Error) {
	bad := func(format string, args ...any) *awsproto.Error {
		return awsproto.NewError(http.StatusBadRequest, "InvalidIdentityToken", fmt.Sprintf(format, args...))
	}
	obj, ok := raw.(map[string]any)
	if !ok {
		return nil, nil, bad("The https://aws.amazon.com/tags claim must be an object")
	}
	pt, ok := obj["principal_tags"].(map[string]any)
	if !ok {
		return nil, nil, bad("The https://aws.amazon.com/tags claim must contain a principal_tags object")
	}
	if len(pt) > maxSessionTags {
		return nil, nil, bad("Session tags cannot exceed %d tags", maxSessionTags)
	}
	var tags []Tag
	seen := map[string]bool{}
	for k, v := range pt {
		vals, ok := v.([]any)
		if !ok || len(vals) != 1 {
			return nil, nil, bad("Session tag %q must have exactly one value", truncateValue(k))
		}
		val, ok := vals[0].(string)
		if !ok {
			return nil, nil, bad("Session tag %q must have a string value", truncateValue(k))
		}
		if k == "" || utf8.RuneCountInString(k) > maxTagKeyLen || utf8.RuneCountInString(val) > maxTagValueLen ||
			!tagCharsRE.MatchString(k) || !tagCharsRE.MatchString(val) || strings.HasPrefix(strings.ToLower(k), "aws:") {
			return nil, nil, bad("Session tag %q is not a valid tag", truncateValue(k))
		}
		// Tag keys are case-insensitive in IAM: two spellings of one key
		// would make aws:RequestTag ambiguous.
		if seen[strings.ToLower(k)] {
			return nil, nil, bad("Session tag keys must be unique regardless of case: %q", truncateValue(k))
		}
		seen[strings.ToLower(k)] = true
		tags = append(tags, Tag{Key: k, Value: val})
	}
	sort.Slice(tags, func(i, j int) bool { return tags[i].Key < tags[j].Key })
	var transitive []string
	if tk, present := obj["transitive_tag_keys"]; present {
		list, ok := tk.([]any)
		if !ok {
			return nil, nil, bad("transitive_tag_keys must be a list of tag keys")
		}
		for _, e := range list {
			k, ok := e.(string)
			if !ok || !seen[strings.ToLower(k)] {
				return nil, nil, bad("transitive_tag_keys must name principal tags")
			}
			transitive = append(transitive, k)
		}
	}
	return tags, transitive, nil
}
