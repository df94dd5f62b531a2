package app_test

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/oidcfed/oidcfed/internal/app"
)

// TestSessionKeyRotation: raising sts.session_key_generation by one keeps
// live sessions working (the previous generation still opens them); a
// second raise retires them with InvalidClientTokenId. New sessions always
// use the current generation.
func TestSessionKeyRotation(t *testing.T) {
	hermeticEnv(t)
	dir, listen := t.TempDir(), freeAddr(t)
	start := func(gen int) *testServer {
		return startDev(t, dir, listen, func(o *app.Options) { o.SessionKeyGeneration = gen })
	}
	s := start(1)
	client := func(s *testServer, creds aws.CredentialsProvider) *sts.Client {
		return sts.New(sts.Options{Region: "us-east-1", BaseEndpoint: aws.String(s.URL), Credentials: creds})
	}
	out, err := client(s, aws.AnonymousCredentials{}).AssumeRoleWithWebIdentity(context.Background(), &sts.AssumeRoleWithWebIdentityInput{
		RoleArn: aws.String("arn:aws:iam::000000000000:role/" + app.DevDeployRole), RoleSessionName: aws.String("gen1"),
		WebIdentityToken: aws.String(func() string { tok, _ := mintJSON(t, s.URL, s.Token, basicRequest(s.Issuer)); return tok }())})
	if err != nil {
		t.Fatal(err)
	}
	c := out.Credentials
	creds := credentials.NewStaticCredentialsProvider(aws.ToString(c.AccessKeyId), aws.ToString(c.SecretAccessKey), aws.ToString(c.SessionToken))
	whoami := func(s *testServer) error {
		_, err := client(s, creds).GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
		return err
	}
	if err := whoami(s); err != nil {
		t.Fatalf("generation 1: %v", err)
	}
	s.stop(t)
	s = start(2)
	if err := whoami(s); err != nil {
		t.Fatalf("after one rotation a live session must still work: %v", err)
	}
	s.stop(t)
	s = start(3)
	err = whoami(s)
	if err == nil || !strings.Contains(err.Error(), "InvalidClientTokenId") {
		t.Fatalf("after two rotations: err = %v, want InvalidClientTokenId", err)
	}
}
