package ecr

import (
	"regexp"
	"strings"
)

// Name and reference grammars. Every name that reaches a file path or a
// store key has passed one of these, so none can climb out of the data
// directory ("..", "/", "\" and NUL are all refused).
var (
	// repositoryNameRE is the RepositoryName pattern of botocore's ECR
	// model, anchored (AWS checks the whole name).
	repositoryNameRE = regexp.MustCompile(`^[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*$`)
	// tagRE is the OCI distribution spec's tag grammar.
	tagRE = regexp.MustCompile(`^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$`)
)

// RepositoryNamePattern is how ECR's messages spell the repository name
// rule (as moto reproduces them; unconfirmed against AWS today, whose
// model carries a newer pattern that repositoryNameRE follows).
const RepositoryNamePattern = `(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*`

// Repository name length bounds (the model's RepositoryName).
const (
	MinRepositoryName = 2
	MaxRepositoryName = 256
)

// ValidRepositoryName reports whether name is a repository name ECR
// accepts.
func ValidRepositoryName(name string) bool {
	return len(name) >= MinRepositoryName && len(name) <= MaxRepositoryName && repositoryNameRE.MatchString(name)
}

// ValidTag reports whether tag is an OCI tag.
func ValidTag(tag string) bool { return tagRE.MatchString(tag) }

// DigestAlgorithm is the only digest algorithm stored: SHA-256, as ECR
// computes image digests.
const DigestAlgorithm = "sha256"

// ValidDigest reports whether d is "sha256:" and 64 lower-case hex digits,
// the only digests this registry stores.
func ValidDigest(d string) bool {
	hex, ok := strings.CutPrefix(d, DigestAlgorithm+":")
	if !ok || len(hex) != 64 {
		return false
	}
	for i := 0; i < len(hex); i++ {
		if c := hex[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// layerDigestRE is the model's LayerDigest and ImageDigest shape, which
// requests are checked against before a digest is looked up.
var layerDigestRE = regexp.MustCompile(`^[a-zA-Z0-9-_+.]+:[a-fA-F0-9]+$`)

// WellFormedDigest reports whether d has the model's digest shape
// ("algorithm:hex"), which ECR's API checks before looking anything up.
func WellFormedDigest(d string) bool { return len(d) <= 1000 && layerDigestRE.MatchString(d) }
