package app_test

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// TestRouting: one endpoint serves every AWS client; requests go to their
// service by X-Amz-Target, by SigV4 credential scope (header or presigned
// query), and unsigned Query requests to STS.
func TestRouting(t *testing.T) {
	w := newSTSWorld(t)
	tok := w.mint(t, basicRequest(w.Issuer))
	// Credentials to sign with: a web-identity session.
	client := sts.New(sts.Options{Region: "us-east-1", BaseEndpoint: aws.String(w.URL), Credentials: aws.AnonymousCredentials{}})
	out, err := client.AssumeRoleWithWebIdentity(context.Background(), &sts.AssumeRoleWithWebIdentityInput{
		RoleArn: aws.String(w.deployRole), RoleSessionName: aws.String("router"), WebIdentityToken: aws.String(tok)})
	if err != nil {
		t.Fatal(err)
	}
	c := out.Credentials
	creds := credentials.NewStaticCredentialsProvider(aws.ToString(c.AccessKeyId), aws.ToString(c.SecretAccessKey), aws.ToString(c.SessionToken))

	t.Run("presigned GetCallerIdentity URL (X-Amz-Credential in the query)", func(t *testing.T) {
		// As aws-iam-authenticator builds EKS tokens: X-Amz-Expires in the
		// query, then the SDK's v4 presigner.
		req, _ := http.NewRequest(http.MethodGet, w.URL+"/?Action=GetCallerIdentity&Version=2011-06-15&X-Amz-Expires=60", nil)
		v, _ := creds.Retrieve(context.Background())
		const emptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
		url, header, err := v4.NewSigner().PresignHTTP(context.Background(), v, req, emptySHA256, "sts", "us-east-1", time.Now())
		if err != nil {
			t.Fatal(err)
		}
		resp := do(t, http.MethodGet, url, header, nil)
		if resp.Status != http.StatusOK || !strings.Contains(string(resp.Body), "assumed-role/gitlab-deploy/router") {
			t.Fatalf("presigned GetCallerIdentity: %d %s", resp.Status, resp.Body)
		}
	})
	t.Run("signed for a service this server does not run", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodPost, w.URL+"/", strings.NewReader("Action=DescribeInstances&Version=2016-11-15"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		v, _ := creds.Retrieve(context.Background())
		sum := "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" // wrong on purpose: routing comes first
		if err := v4.NewSigner().SignHTTP(context.Background(), v, req, sum, "ec2", "us-east-1", time.Now()); err != nil {
			t.Fatal(err)
		}
		resp := do(t, req.Method, req.URL.String(), req.Header, []byte("Action=DescribeInstances&Version=2016-11-15"))
		var env stsErrorXML
		if err := xml.Unmarshal(resp.Body, &env); err != nil || resp.Status != 400 || env.Error.Code != "InvalidAction" || !strings.Contains(env.Error.Message, "EC2") {
			t.Fatalf("%d %s", resp.Status, resp.Body)
		}
	})
	for _, tc := range []struct{ name, target, want string }{
		{"unknown X-Amz-Target", "DynamoDB_20120810.GetItem", "UnknownOperationException"},
		{"KMS unsigned", "TrentService.Sign", "MissingAuthenticationTokenException"},
		{"CloudTrail unsigned", "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents", "MissingAuthenticationTokenException"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := do(t, http.MethodPost, w.URL+"/", http.Header{"X-Amz-Target": {tc.target}, "Content-Type": {"application/x-amz-json-1.1"}}, []byte("{}"))
			var body map[string]string
			if err := json.Unmarshal(resp.Body, &body); err != nil || resp.Status != 400 || body["__type"] != tc.want {
				t.Fatalf("%d %s", resp.Status, resp.Body)
			}
		})
	}
}
