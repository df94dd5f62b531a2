package iam

import (
	"time"

	"github.com/oidcfed/oidcfed/internal/iam/policy"
)

// ManagedPolicy is a standalone IAM policy: customer managed (stored,
// versioned, at most five versions) or AWS managed (built in at
// arn:aws:iam::aws:policy/…, read-only).
type ManagedPolicy struct {
	ARN              string
	ID               string // ANPA + 17 characters
	Name             string
	Path             string
	Description      string
	DefaultVersionID string
	// Versions, oldest first. AWS managed policies carry only their
	// default version.
	Versions []PolicyVersion
	// LastVersion is the highest version number ever created (ids are
	// never reused).
	LastVersion     int
	AttachmentCount int
	AWSManaged      bool
	Tags            []Tag
	CreateDate      time.Time
	UpdateDate      time.Time

	parsedDefault *policy.Policy // see Default
}

// PolicyVersion is one version of a managed policy.
type PolicyVersion struct {
	VersionID  string // v1, v2, …
	Document   string
	CreateDate time.Time
}

// DefaultDocument is the policy's default version's document.
func (p *ManagedPolicy) DefaultDocument() string {
	for _, v := range p.Versions {
		if v.VersionID == p.DefaultVersionID {
			return v.Document
		}
	}
	return ""
}

// Tag is an IAM tag.
type Tag struct {
	Key   string
	Value string
}
