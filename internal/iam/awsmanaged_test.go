package iam_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/oidcfed/oidcfed/internal/iam"
	"github.com/oidcfed/oidcfed/internal/iam/policy"
)

var policyIDRE = regexp.MustCompile(`^ANPA[A-Z0-9]{17}$`)

// parseAWSManaged parses an AWS managed policy document as an identity policy. AWS managed
// policies are exempt from the customer quotas (ReadOnlyAccess is ~90,000 characters), so
// only the service model's MaxDocumentChars applies; the identity-policy rules still do.
func parseAWSManaged(t *testing.T, p *iam.ManagedPolicy) *policy.Policy {
	t.Helper()
	doc := []byte(p.DefaultDocument())
	parsed, err := policy.ParseWithLimit(doc, 0)
	if err != nil {
		t.Fatalf("%s: parse: %v", p.Name, err)
	}
	if err := parsed.Validate(policy.IdentityPolicy); err != nil {
		t.Fatalf("%s: validate as identity policy: %v", p.Name, err)
	}
	return parsed
}

func TestAWSManagedPoliciesWellFormed(t *testing.T) {
	list := iam.AWSManagedPolicies()
	if len(list) == 0 {
		t.Fatal("no AWS managed policies")
	}
	names := make([]string, len(list))
	ids := map[string]string{}
	for i, p := range list {
		names[i] = p.Name
		t.Run(p.Name, func(t *testing.T) {
			if !policyIDRE.MatchString(p.ID) {
				t.Errorf("PolicyId %q does not match %s", p.ID, policyIDRE)
			}
			if other, dup := ids[p.ID]; dup {
				t.Errorf("PolicyId %s also used by %s", p.ID, other)
			}
			ids[p.ID] = p.Name
			if !strings.HasPrefix(p.Path, "/") || !strings.HasSuffix(p.Path, "/") {
				t.Errorf("Path %q must begin and end with /", p.Path)
			}
			if want := "arn:aws:iam::aws:policy" + p.Path + p.Name; p.ARN != want {
				t.Errorf("ARN = %q, want %q", p.ARN, want)
			}
			if !p.AWSManaged {
				t.Error("AWSManaged is false")
			}
			if p.Description == "" {
				t.Error("no Description")
			}
			if !regexp.MustCompile(`^v[1-9][0-9]*$`).MatchString(p.DefaultVersionID) {
				t.Errorf("DefaultVersionID %q", p.DefaultVersionID)
			}
			if len(p.Versions) != 1 || p.Versions[0].VersionID != p.DefaultVersionID {
				t.Fatalf("Versions = %+v, want only the default %s", p.Versions, p.DefaultVersionID)
			}
			if !p.Versions[0].CreateDate.Equal(p.UpdateDate) {
				t.Errorf("default version created %v, policy updated %v", p.Versions[0].CreateDate, p.UpdateDate)
			}
			if p.CreateDate.IsZero() || p.UpdateDate.Before(p.CreateDate) {
				t.Errorf("CreateDate %v, UpdateDate %v", p.CreateDate, p.UpdateDate)
			}

			// The document is the file's bytes, trailing newline trimmed.
			raw, err := os.ReadFile(filepath.Join("awsmanaged", p.Name+".json"))
			if err != nil {
				t.Fatal(err)
			}
			if got, want := p.DefaultDocument(), strings.TrimRight(string(raw), "\n"); got != want {
				t.Error("document differs from awsmanaged/" + p.Name + ".json")
			}
			var generic map[string]any
			if err := json.Unmarshal(raw, &generic); err != nil {
				t.Fatalf("not JSON: %v", err)
			}
			if generic["Version"] != policy.Version2012 {
				t.Errorf("Version = %v", generic["Version"])
			}

			parsed := parseAWSManaged(t, p)
			if len(parsed.Statements) == 0 {
				t.Error("no statements")
			}

			got, ok := iam.AWSManagedPolicyByARN(p.ARN)
			if !ok {
				t.Fatalf("AWSManagedPolicyByARN(%q) not found", p.ARN)
			}
			if got.Name != p.Name || got.ID != p.ID || got.DefaultDocument() != p.DefaultDocument() {
				t.Errorf("AWSManagedPolicyByARN(%q) = %s/%s", p.ARN, got.Name, got.ID)
			}
		})
	}
	if !sort.StringsAreSorted(names) {
		t.Errorf("not sorted by name: %v", names)
	}

	// Every embedded file has a table entry and every entry a file.
	entries, err := os.ReadDir("awsmanaged")
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, e := range entries {
		if name, ok := strings.CutSuffix(e.Name(), ".json"); ok {
			files = append(files, name)
		}
	}
	sort.Strings(files)
	if strings.Join(files, ",") != strings.Join(names, ",") {
		t.Errorf("files %v\ntable %v", files, names)
	}
}

// ParseKind applies the identity-policy quota meant for customer documents. The built-in
// documents all parse under it except those AWS made larger (ReadOnlyAccess), which may
// fail only for their size, never as malformed.
func TestAWSManagedParseKind(t *testing.T) {
	for _, p := range iam.AWSManagedPolicies() {
		_, err := policy.ParseKind([]byte(p.DefaultDocument()), policy.IdentityPolicy)
		var limit *policy.LimitError
		switch {
		case err == nil:
		case p.Name == "ReadOnlyAccess" && errors.As(err, &limit):
			t.Logf("%s: %v (AWS managed policies are exempt from that quota)", p.Name, err)
		default:
			t.Errorf("ParseKind(%s): %v", p.Name, err)
		}
	}
}

func TestAWSManagedPolicyByARNUnknown(t *testing.T) {
	for _, arn := range []string{
		"",
		"arn:aws:iam::aws:policy/NoSuchPolicy",
		"arn:aws:iam::aws:policy/readonlyaccess", // names are case-sensitive in ARNs
		"arn:aws:iam::aws:policy/service-role/ReadOnlyAccess",  // wrong path
		"arn:aws:iam::111122223333:policy/AdministratorAccess", // a customer policy
		"AdministratorAccess",
	} {
		if p, ok := iam.AWSManagedPolicyByARN(arn); ok {
			t.Errorf("AWSManagedPolicyByARN(%q) = %s, want not found", arn, p.Name)
		}
	}
}

func TestAWSManagedPoliciesReturnsCopies(t *testing.T) {
	a := iam.AWSManagedPolicies()
	a[0].AttachmentCount = 7
	a[0].Versions[0].Document = "changed"
	b := iam.AWSManagedPolicies()
	if b[0].AttachmentCount != 0 || b[0].Versions[0].Document == "changed" {
		t.Fatal("AWSManagedPolicies returned shared values")
	}
	shared, _ := iam.AWSManagedPolicyByARN(b[0].ARN)
	if shared.AttachmentCount != 0 || shared.DefaultDocument() == "changed" {
		t.Fatal("modifying a copy changed the shared policy")
	}
}

func TestAWSManagedPolicyMetadata(t *testing.T) {
	// Spot checks against what IAM's GetPolicy returns.
	for _, tc := range []struct{ name, id, version string }{
		{"AdministratorAccess", "ANPAIWMBCKSKIEE64ZLYK", "v1"},
		{"AmazonEC2ContainerRegistryPullOnly", "ANPAZKAPJZG4ACPA6HO4Q", "v1"},
		{"AmazonEC2ContainerRegistryReadOnly", "ANPAIFYZPA37OOHVIH7KQ", "v3"},
		{"AWSKeyManagementServicePowerUser", "ANPAJNPP7PPPPMJRV2SA4", "v2"},
		{"IAMReadOnlyAccess", "ANPAJKSO7NDY4T57MWDSQ", "v4"},
	} {
		p, ok := iam.AWSManagedPolicyByARN("arn:aws:iam::aws:policy/" + tc.name)
		if !ok {
			t.Errorf("%s missing", tc.name)
			continue
		}
		if p.ID != tc.id || p.DefaultVersionID != tc.version || p.Path != "/" {
			t.Errorf("%s: id %s version %s path %s, want %s %s /", tc.name, p.ID, p.DefaultVersionID, p.Path, tc.id, tc.version)
		}
	}
}

func TestAWSManagedPolicyBehaviour(t *testing.T) {
	const (
		ecrRepo = "arn:aws:ecr:us-east-1:111122223333:repository/app"
		kmsKey  = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
		role    = "arn:aws:iam::111122223333:role/deploy"
		bucket  = "arn:aws:s3express:us-east-1:111122223333:bucket/data--use1-az4--x-s3"
	)
	type check struct {
		action, resource string
		ctx              map[string]string
		allow            bool
	}
	allow := func(action, resource string) check { return check{action: action, resource: resource, allow: true} }
	deny := func(action, resource string) check { return check{action: action, resource: resource} }
	with := func(c check, key, value string) check {
		c.ctx = map[string]string{key: value}
		return c
	}
	cases := map[string][]check{
		"AdministratorAccess": {
			allow("iam:CreateRole", role),
			allow("kms:ScheduleKeyDeletion", kmsKey),
			allow("ecr:DeleteRepository", ecrRepo),
			allow("sts:AssumeRole", role),
			allow("anything:AtAll", "*"),
		},
		"PowerUserAccess": {
			allow("ecr:PutImage", ecrRepo),
			allow("kms:ScheduleKeyDeletion", kmsKey),
			allow("sts:AssumeRoleWithWebIdentity", role),
			allow("iam:ListRoles", "*"),
			allow("iam:CreateServiceLinkedRole", "*"),
			allow("account:GetAccountInformation", "*"),
			allow("organizations:DescribeOrganization", "*"),
			deny("iam:CreateRole", role),
			deny("iam:GetRole", role),
			deny("iam:PassRole", role),
			deny("organizations:CreateAccount", "*"),
			deny("account:PutAlternateContact", "*"),
		},
		"ReadOnlyAccess": {
			allow("iam:GetRole", role),
			allow("iam:ListAttachedRolePolicies", role),
			allow("iam:SimulatePrincipalPolicy", role),
			allow("kms:DescribeKey", kmsKey),
			allow("kms:GetPublicKey", kmsKey),
			allow("kms:ListAliases", "*"),
			allow("ecr:BatchGetImage", ecrRepo),
			allow("ecr:DescribeRepositories", ecrRepo),
			allow("sts:GetCallerIdentity", "*"),
			allow("s3:GetObject", "arn:aws:s3:::bucket/key"),
			with(allow("s3express:CreateSession", bucket), "s3express:SessionMode", "ReadOnly"),
			with(deny("s3express:CreateSession", bucket), "s3express:SessionMode", "ReadWrite"),
			deny("kms:Sign", kmsKey),
			deny("kms:Decrypt", kmsKey),
			deny("kms:CreateKey", "*"),
			deny("iam:CreateRole", role),
			deny("iam:PassRole", role),
			deny("ecr:PutImage", ecrRepo),
			deny("sts:AssumeRole", role),
			deny("s3:PutObject", "arn:aws:s3:::bucket/key"),
		},
		"IAMReadOnlyAccess": {
			allow("iam:GetRole", role),
			allow("iam:ListRoles", "*"),
			allow("iam:GenerateCredentialReport", "*"),
			allow("iam:SimulateCustomPolicy", "*"),
			deny("iam:CreateRole", role),
			deny("iam:AttachRolePolicy", role),
			deny("iam:PassRole", role),
			deny("sts:AssumeRole", role),
			deny("kms:DescribeKey", kmsKey),
		},
		"IAMFullAccess": {
			allow("iam:CreateRole", role),
			allow("iam:PassRole", role),
			allow("organizations:ListRoots", "*"),
			deny("organizations:CreateAccount", "*"),
			deny("kms:CreateKey", "*"),
			deny("sts:AssumeRole", role),
		},
		"AmazonEC2ContainerRegistryReadOnly": {
			allow("ecr:GetAuthorizationToken", "*"),
			allow("ecr:BatchGetImage", ecrRepo),
			allow("ecr:GetDownloadUrlForLayer", ecrRepo),
			allow("ecr:BatchCheckLayerAvailability", ecrRepo),
			allow("ecr:DescribeImageScanFindings", ecrRepo),
			deny("ecr:PutImage", ecrRepo),
			deny("ecr:InitiateLayerUpload", ecrRepo),
			deny("ecr:BatchImportUpstreamImage", ecrRepo),
			deny("ecr:DeleteRepository", ecrRepo),
		},
		"AmazonEC2ContainerRegistryPullOnly": {
			allow("ecr:GetAuthorizationToken", "*"),
			allow("ecr:BatchGetImage", ecrRepo),
			allow("ecr:GetDownloadUrlForLayer", ecrRepo),
			allow("ecr:BatchImportUpstreamImage", ecrRepo),
			deny("ecr:DescribeRepositories", ecrRepo),
			deny("ecr:BatchCheckLayerAvailability", ecrRepo),
			deny("ecr:PutImage", ecrRepo),
		},
		"AmazonEC2ContainerRegistryPowerUser": {
			allow("ecr:GetAuthorizationToken", "*"),
			allow("ecr:PutImage", ecrRepo),
			allow("ecr:InitiateLayerUpload", ecrRepo),
			allow("ecr:UploadLayerPart", ecrRepo),
			allow("ecr:CompleteLayerUpload", ecrRepo),
			allow("ecr:BatchGetImage", ecrRepo),
			deny("ecr:DeleteRepository", ecrRepo),
			deny("ecr:SetRepositoryPolicy", ecrRepo),
			deny("ecr:CreateRepository", ecrRepo),
			deny("ecr:BatchImportUpstreamImage", ecrRepo),
		},
		"AmazonEC2ContainerRegistryFullAccess": {
			allow("ecr:DeleteRepository", ecrRepo),
			allow("ecr:PutImage", ecrRepo),
			allow("cloudtrail:LookupEvents", "*"),
			with(allow("iam:CreateServiceLinkedRole", "*"), "iam:AWSServiceName", "replication.ecr.amazonaws.com"),
			with(deny("iam:CreateServiceLinkedRole", "*"), "iam:AWSServiceName", "ec2.amazonaws.com"),
			deny("iam:CreateServiceLinkedRole", "*"),
			deny("iam:CreateRole", role),
		},
		"AWSKeyManagementServicePowerUser": {
			allow("kms:CreateKey", "*"),
			allow("kms:CreateAlias", "arn:aws:kms:us-east-1:111122223333:alias/app"),
			allow("kms:DescribeKey", kmsKey),
			allow("kms:GetPublicKey", kmsKey),
			allow("kms:GetKeyPolicy", kmsKey),
			allow("kms:ListKeys", "*"),
			allow("kms:TagResource", kmsKey),
			allow("kms:GenerateRandom", "*"),
			allow("iam:ListRoles", "*"),
			deny("kms:ScheduleKeyDeletion", kmsKey),
			deny("kms:DisableKey", kmsKey),
			deny("kms:PutKeyPolicy", kmsKey),
			deny("kms:Sign", kmsKey),
			deny("kms:Verify", kmsKey),
			deny("kms:Encrypt", kmsKey),
			deny("kms:Decrypt", kmsKey),
			deny("iam:GetRole", role),
		},
	}
	seen := map[string]bool{}
	for _, p := range iam.AWSManagedPolicies() {
		seen[p.Name] = true
		checks, ok := cases[p.Name]
		if !ok {
			t.Errorf("%s has no behaviour cases", p.Name)
			continue
		}
		parsed := parseAWSManaged(t, p)
		for _, c := range checks {
			ctx := policy.Context{}
			for k, v := range c.ctx {
				ctx.Set(k, v)
			}
			req := &policy.Request{Action: c.action, Resource: c.resource, Context: ctx}
			if d := policy.Evaluate(req, parsed); d.Allowed != c.allow {
				t.Errorf("%s: %s on %s (context %v): %v, want allowed=%v", p.Name, c.action, c.resource, c.ctx, d.Effect, c.allow)
			}
		}
	}
	for name := range cases {
		if !seen[name] {
			t.Errorf("case for %s, which is not built in", name)
		}
	}
}
