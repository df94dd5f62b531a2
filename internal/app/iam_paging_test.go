package app_test

import (
	"fmt"
	"net/url"
	"os/exec"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	iamsdk "github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
)

// TestIAMPaginationWithSDKs: boto3's and aws-sdk-go-v2's paginators walk
// ListRoles and ListPolicies over several pages and see every entity once.
func TestIAMPaginationWithSDKs(t *testing.T) {
	w, root := bareDev(t)
	akid, secret := strings.TrimPrefix(root[0], "AWS_ACCESS_KEY_ID="), strings.TrimPrefix(root[1], "AWS_SECRET_ACCESS_KEY=")
	const trust = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::000000000000:root"},"Action":"sts:AssumeRole"}]}`
	const allow = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}`
	const roles, policies = 23, 12
	for i := range roles {
		form := url.Values{"Action": {"CreateRole"}, "Version": {"2010-05-08"}, "RoleName": {fmt.Sprintf("role-%02d", i)}, "AssumeRolePolicyDocument": {trust}}
		if r := signedIAM(t, w.URL, akid, secret, form.Encode()); r.Status != 200 {
			t.Fatalf("CreateRole: %d %s", r.Status, r.Body)
		}
	}
	for i := range policies {
		form := url.Values{"Action": {"CreatePolicy"}, "Version": {"2010-05-08"}, "PolicyName": {fmt.Sprintf("policy-%02d", i)}, "PolicyDocument": {allow}}
		if r := signedIAM(t, w.URL, akid, secret, form.Encode()); r.Status != 200 {
			t.Fatalf("CreatePolicy: %d %s", r.Status, r.Body)
		}
	}
	t.Run("boto3", func(t *testing.T) {
		script := `
import boto3, os
iam = boto3.client("iam", endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name="us-east-1")
pages = list(iam.get_paginator("list_roles").paginate(PaginationConfig={"PageSize": 5}))
names = [r["RoleName"] for p in pages for r in p["Roles"]]
print(len(pages), len(names), len(set(names)), names[0], names[-1])
pages = list(iam.get_paginator("list_policies").paginate(Scope="Local", PaginationConfig={"PageSize": 5}))
names = [r["PolicyName"] for p in pages for r in p["Policies"]]
print(len(pages), len(names), len(set(names)))
doc = iam.get_role(RoleName="role-00")["Role"]["AssumeRolePolicyDocument"]
print(doc["Statement"][0]["Action"])
`
		cmd := exec.CommandContext(t.Context(), requirePython(t), "-c", script)
		cmd.Env = w.awsEnv(root...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		if want := "5 23 23 role-00 role-22\n3 12 12\nsts:AssumeRole\n"; string(out) != want {
			t.Fatalf("boto3 printed %q, want %q", out, want)
		}
	})
	t.Run("aws-sdk-go-v2", func(t *testing.T) {
		client := iamsdk.New(iamsdk.Options{
			Region: "us-east-1", BaseEndpoint: aws.String(w.URL),
			Credentials: credentials.NewStaticCredentialsProvider(akid, secret, ""),
		})
		var names []string
		pages := 0
		for p := iamsdk.NewListRolesPaginator(client, &iamsdk.ListRolesInput{MaxItems: aws.Int32(4)}); p.HasMorePages(); {
			out, err := p.NextPage(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			pages++
			for _, r := range out.Roles {
				names = append(names, aws.ToString(r.RoleName))
			}
		}
		if pages != 6 || len(names) != roles || names[roles-1] != "role-22" {
			t.Fatalf("ListRoles: %d pages, %d roles %v", pages, len(names), names)
		}
		names, pages = nil, 0
		for p := iamsdk.NewListPoliciesPaginator(client, &iamsdk.ListPoliciesInput{Scope: types.PolicyScopeTypeLocal, MaxItems: aws.Int32(5)}); p.HasMorePages(); {
			out, err := p.NextPage(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			pages++
			for _, pol := range out.Policies {
				names = append(names, aws.ToString(pol.PolicyName))
			}
		}
		if pages != 3 || len(names) != policies {
			t.Fatalf("ListPolicies: %d pages, %d policies", pages, len(names))
		}
		aws, err := client.ListPolicies(t.Context(), &iamsdk.ListPoliciesInput{Scope: types.PolicyScopeTypeAws})
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, p := range aws.Policies {
			found = found || *p.Arn == "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPullOnly"
		}
		if !found || len(aws.Policies) < 7 {
			t.Fatalf("ListPolicies --scope AWS: %d policies, PullOnly found %v", len(aws.Policies), found)
		}
	})
}
