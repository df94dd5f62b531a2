package iam

import (
	"embed"
	"strings"
	"sync"
	"time"
)

// AWS managed policies: the policies AWS publishes at arn:aws:iam::aws:policy/…,
// built in so roles can attach them and the engine can evaluate them. Each
// document is AWS's current default version, verbatim (statement order, Sids and
// action order as AWS publishes them; only the whitespace is ours), stored as
// awsmanaged/<PolicyName>.json. To update one, replace its file with the new
// default version and bump DefaultVersionID and UpdateDate below.
//
// The documents are not parsed here: the tests parse and validate every one.
// AWS managed policies are exempt from the customer managed policy size quota
// (ReadOnlyAccess is far beyond it), so callers parsing one should use
// policy.ParseWithLimit(doc, 0) and Validate rather than a kind's quota.

//go:embed awsmanaged/*.json
var awsManagedFS embed.FS

// AWSManagedARNPrefix begins the ARN of every AWS managed policy; the policy's
// path and name follow.
const AWSManagedARNPrefix = "arn:aws:iam::aws:policy"

// awsManagedMeta is what IAM's GetPolicy says of an AWS managed policy.
type awsManagedMeta struct {
	Name             string
	Path             string
	ID               string
	DefaultVersionID string
	Description      string
	CreateDate       time.Time
	UpdateDate       time.Time // the default version's CreateDate
}

func utc(year int, month time.Month, day, hour, min, sec int) time.Time {
	return time.Date(year, month, day, hour, min, sec, 0, time.UTC)
}

// awsManagedTable holds one entry per file in awsmanaged/, as AWS reports it
// (ids, versions and dates from list-policies/get-policy output; descriptions
// as the AWS managed policy reference words them).
var awsManagedTable = []awsManagedMeta{
	{
		Name: "AWSKeyManagementServicePowerUser", Path: "/",
		ID: "ANPAJNPP7PPPPMJRV2SA4", DefaultVersionID: "v2",
		Description: "Provides access to AWS Key Management Service (KMS).",
		CreateDate:  utc(2015, time.February, 6, 18, 40, 40),
		UpdateDate:  utc(2017, time.March, 7, 0, 55, 11),
	},
	{
		Name: "AdministratorAccess", Path: "/",
		ID: "ANPAIWMBCKSKIEE64ZLYK", DefaultVersionID: "v1",
		Description: "Provides full access to AWS services and resources.",
		CreateDate:  utc(2015, time.February, 6, 18, 39, 46),
		UpdateDate:  utc(2015, time.February, 6, 18, 39, 46),
	},
	{
		Name: "AmazonEC2ContainerRegistryFullAccess", Path: "/",
		ID: "ANPAIESRL7KD7IIVF6V4W", DefaultVersionID: "v3",
		Description: "Provides administrative access to Amazon ECR resources",
		CreateDate:  utc(2015, time.December, 21, 17, 6, 48),
		UpdateDate:  utc(2020, time.December, 5, 0, 4, 19),
	},
	{
		Name: "AmazonEC2ContainerRegistryPowerUser", Path: "/",
		ID: "ANPAJDNE5PIHROIBGGDDW", DefaultVersionID: "v3",
		Description: "Provides full access to Amazon EC2 Container Registry repositories, but does not allow repository deletion or policy changes.",
		CreateDate:  utc(2015, time.December, 21, 17, 5, 33),
		UpdateDate:  utc(2019, time.December, 10, 20, 48, 8),
	},
	{
		Name: "AmazonEC2ContainerRegistryPullOnly", Path: "/",
		ID: "ANPAZKAPJZG4ACPA6HO4Q", DefaultVersionID: "v1",
		Description: "Provides access to pull images from Amazon EC2 Container Registry repositories.",
		CreateDate:  utc(2024, time.October, 4, 16, 58, 49),
		UpdateDate:  utc(2024, time.October, 4, 16, 58, 49),
	},
	{
		Name: "AmazonEC2ContainerRegistryReadOnly", Path: "/",
		ID: "ANPAIFYZPA37OOHVIH7KQ", DefaultVersionID: "v3",
		Description: "Provides read-only access to Amazon EC2 Container Registry repositories.",
		CreateDate:  utc(2015, time.December, 21, 17, 4, 15),
		UpdateDate:  utc(2019, time.December, 10, 20, 56, 32),
	},
	{
		Name: "IAMFullAccess", Path: "/",
		ID: "ANPAI7XKCFMBPM3QQRRVQ", DefaultVersionID: "v2",
		Description: "Provides full access to IAM via the AWS Management Console.",
		CreateDate:  utc(2015, time.February, 6, 18, 40, 38),
		UpdateDate:  utc(2019, time.June, 21, 19, 40, 0),
	},
	{
		Name: "IAMReadOnlyAccess", Path: "/",
		ID: "ANPAJKSO7NDY4T57MWDSQ", DefaultVersionID: "v4",
		Description: "Provides read only access to IAM via the AWS Management Console.",
		CreateDate:  utc(2015, time.February, 6, 18, 40, 39),
		UpdateDate:  utc(2018, time.January, 25, 19, 11, 27),
	},
	{
		Name: "PowerUserAccess", Path: "/",
		ID: "ANPAJYRXTHIB4FOVS3ZXS", DefaultVersionID: "v12",
		Description: "Provides full access to AWS services and resources, but does not allow management of Users and groups.",
		CreateDate:  utc(2015, time.February, 6, 18, 39, 47),
		UpdateDate:  utc(2026, time.February, 12, 17, 59, 14),
	},
	{
		Name: "ReadOnlyAccess", Path: "/",
		ID: "ANPAILL3HVNFSB6DCOWYQ", DefaultVersionID: "v188",
		Description: "Provides read-only access to AWS services and resources.",
		CreateDate:  utc(2015, time.February, 6, 18, 39, 48),
		UpdateDate:  utc(2026, time.July, 21, 18, 42, 30),
	},
}

// awsManaged is the built-in set, sorted by name, and its index by ARN. Built
// on first use; the table is sorted already, and a test keeps it so.
var awsManaged = sync.OnceValues(func() ([]*ManagedPolicy, map[string]*ManagedPolicy) {
	list := make([]*ManagedPolicy, 0, len(awsManagedTable))
	byARN := make(map[string]*ManagedPolicy, len(awsManagedTable))
	for _, m := range awsManagedTable {
		doc, err := awsManagedFS.ReadFile("awsmanaged/" + m.Name + ".json")
		if err != nil {
			panic("iam: AWS managed policy " + m.Name + " has no document: " + err.Error())
		}
		p := &ManagedPolicy{
			ARN:              AWSManagedARNPrefix + m.Path + m.Name,
			ID:               m.ID,
			Name:             m.Name,
			Path:             m.Path,
			Description:      m.Description,
			DefaultVersionID: m.DefaultVersionID,
			Versions: []PolicyVersion{{
				VersionID:  m.DefaultVersionID,
				Document:   strings.TrimRight(string(doc), "\n"),
				CreateDate: m.UpdateDate,
			}},
			AWSManaged: true,
			CreateDate: m.CreateDate,
			UpdateDate: m.UpdateDate,
		}
		p.prepare()
		list = append(list, p)
		byARN[p.ARN] = p
	}
	return list, byARN
})

// AWSManagedPolicies returns every built-in AWS managed policy, sorted by name.
// Each call returns fresh copies, which the caller may modify (to set
// AttachmentCount, say); the documents are shared strings.
func AWSManagedPolicies() []*ManagedPolicy {
	list, _ := awsManaged()
	out := make([]*ManagedPolicy, len(list))
	for i, p := range list {
		c := *p
		c.Versions = append([]PolicyVersion(nil), p.Versions...)
		out[i] = &c
	}
	return out
}

// AWSManagedPolicyByARN looks up a built-in AWS managed policy by its exact ARN
// (arn:aws:iam::aws:policy/<path><name>). The result is shared by every caller
// and must not be modified: copy it first (AWSManagedPolicies returns copies).
func AWSManagedPolicyByARN(arn string) (*ManagedPolicy, bool) {
	_, byARN := awsManaged()
	p, ok := byARN[arn]
	return p, ok
}
