package api

import (
	"reflect"
	"testing"

	"github.com/oidcfed/oidcfed/internal/awsproto"
	"github.com/oidcfed/oidcfed/internal/iam/policy"
)

func TestContextEntries(t *testing.T) {
	cases := []struct {
		name string
		body string
		want policy.Context
		code string // an error's, when one is expected
	}{
		{"none", "Action=SimulateCustomPolicy", policy.Context{}, ""},
		{"botocore's empty list", "ContextEntries=", policy.Context{}, ""},
		{"a list type is a multi-valued key, lower-cased",
			"ContextEntries.member.1.ContextKeyName=aws:TagKeys&ContextEntries.member.1.ContextKeyType=stringList" +
				"&ContextEntries.member.1.ContextKeyValues.member.1=team&ContextEntries.member.1.ContextKeyValues.member.2=env",
			policy.Context{"aws:tagkeys": {"team", "env"}}, ""},
		{"values in index order, whatever the parameters' order",
			"ContextEntries.member.1.ContextKeyValues.member.2=b&ContextEntries.member.1.ContextKeyValues.member.1=a" +
				"&ContextEntries.member.1.ContextKeyName=k:list&ContextEntries.member.1.ContextKeyType=numericList",
			nil, "InvalidInput"}, // a and b are not numbers
		{"every scalar type",
			"ContextEntries.member.1.ContextKeyName=aws:SecureTransport&ContextEntries.member.1.ContextKeyType=boolean&ContextEntries.member.1.ContextKeyValues.member.1=true" +
				"&ContextEntries.member.2.ContextKeyName=aws:CurrentTime&ContextEntries.member.2.ContextKeyType=date&ContextEntries.member.2.ContextKeyValues.member.1=2020-01-01T00:00:00Z" +
				"&ContextEntries.member.3.ContextKeyName=aws:SourceIp&ContextEntries.member.3.ContextKeyType=ip&ContextEntries.member.3.ContextKeyValues.member.1=10.0.0.1" +
				"&ContextEntries.member.4.ContextKeyName=k:blob&ContextEntries.member.4.ContextKeyType=binary&ContextEntries.member.4.ContextKeyValues.member.1=AAE=" +
				"&ContextEntries.member.5.ContextKeyName=aws:MultiFactorAuthAge&ContextEntries.member.5.ContextKeyType=numeric&ContextEntries.member.5.ContextKeyValues.member.1=60" +
				"&ContextEntries.member.6.ContextKeyName=aws:UserAgent&ContextEntries.member.6.ContextKeyType=string&ContextEntries.member.6.ContextKeyValues.member.1=x",
			policy.Context{"aws:securetransport": {"true"}, "aws:currenttime": {"2020-01-01T00:00:00Z"}, "aws:sourceip": {"10.0.0.1"},
				"k:blob": {"AAE="}, "aws:multifactorauthage": {"60"}, "aws:useragent": {"x"}}, ""},
		{"a key without values is present and empty",
			"ContextEntries.member.1.ContextKeyName=aws:TagKeys&ContextEntries.member.1.ContextKeyType=stringList&ContextEntries.member.1.ContextKeyValues=",
			policy.Context{"aws:tagkeys": nil}, ""},
		{"a gap among the values",
			"ContextEntries.member.1.ContextKeyName=aws:TagKeys&ContextEntries.member.1.ContextKeyType=stringList&ContextEntries.member.1.ContextKeyValues.member.2=x",
			nil, "InvalidParameterValue"},
		{"an index with a leading zero",
			"ContextEntries.member.01.ContextKeyName=aws:TagKeys", nil, "InvalidParameterValue"},
		{"a parameter beside the list's members", "ContextEntries.x=1", nil, "InvalidParameterValue"},
		{"a list type's value of the wrong type",
			"ContextEntries.member.1.ContextKeyName=aws:SourceIp&ContextEntries.member.1.ContextKeyType=ipList&ContextEntries.member.1.ContextKeyValues.member.1=10.0.0.1&ContextEntries.member.1.ContextKeyValues.member.2=nope",
			nil, "InvalidInput"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v, err := awsproto.ParseQueryString(tc.body)
			if err != nil {
				t.Fatal(err)
			}
			got, e := contextEntries(v)
			if tc.code != "" {
				if e == nil || e.Code != tc.code || e.HTTPStatus != 400 {
					t.Fatalf("got %v, %v; want a %s", got, e, tc.code)
				}
				return
			}
			if e != nil || len(got) != len(tc.want) {
				t.Fatalf("got %v, %v; want %v", got, e, tc.want)
			}
			for k, want := range tc.want {
				if have, ok := got[k]; !ok || len(have) != len(want) || len(want) > 0 && !reflect.DeepEqual(have, want) {
					t.Fatalf("key %s: got %q, want %q (context %v)", k, have, want, got)
				}
			}
		})
	}
}

// TestSimulationDecisions: how identity policies, a permissions boundary
// and a resource policy combine, within the caller's account and across
// accounts, and which statements each decision lists.
func TestSimulationDecisions(t *testing.T) {
	mustParse := func(doc, id, typ string, kind policy.Kind) *simPolicy {
		t.Helper()
		sp, e := parseSimPolicy(doc, id, typ, kind)
		if e != nil {
			t.Fatal(e)
		}
		return sp
	}
	const (
		allowGet    = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}`
		allowAll    = `{"Version":"2012-10-17","Statement":[{"Sid":"All","Effect":"Allow","Action":"*","Resource":"*"}]}`
		denyGet     = `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"s3:GetObject","Resource":"*"}]}`
		alice       = "arn:aws:iam::000000000000:user/alice"
		toAlice     = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"` + alice + `"},"Action":"s3:GetObject","Resource":"*"}]}`
		toAccount   = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"000000000000"},"Action":"s3:GetObject","Resource":"*"}]}`
		denyAlice   = `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"s3:GetObject","Resource":"*"}]}`
		ownResource = "arn:aws:s3:::bucket/k"
		otherOwned  = "arn:aws:sqs:us-east-1:111122223333:queue"
	)
	id := func(doc string, n int) *simPolicy {
		return mustParse(doc, "PolicyInputList."+string(rune('0'+n)), sourceIdentity, policy.IdentityPolicy)
	}
	boundary := func(doc string) *simPolicy {
		return mustParse(doc, "PermissionsBoundaryPolicyInputList.1", sourceIdentity, policy.IdentityPolicy)
	}
	resource := func(doc string) *simPolicy {
		return mustParse(doc, "ResourcePolicy", sourceResource, policy.ResourcePolicy)
	}
	yes, no := true, false
	cases := []struct {
		name         string
		sim          simulation
		resource     string
		effect       string
		matched      []string // SourcePolicyIds
		boundary     *bool
		crossAccount bool
	}{
		{"an identity allow", simulation{identity: []*simPolicy{id(allowGet, 1)}}, "*", "allowed", []string{"PolicyInputList.1"}, nil, false},
		{"every allow is listed", simulation{identity: []*simPolicy{id(allowGet, 1), id(allowAll, 2)}}, "*", "allowed",
			[]string{"PolicyInputList.1", "PolicyInputList.2"}, nil, false},
		{"a deny overrides and alone is listed", simulation{identity: []*simPolicy{id(allowAll, 1), id(denyGet, 2)}}, "*", "explicitDeny",
			[]string{"PolicyInputList.2"}, nil, false},
		{"nothing allows", simulation{identity: []*simPolicy{id(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sqs:*","Resource":"*"}]}`, 1)}}, "*", "implicitDeny", nil, nil, false},
		{"the boundary allows too", simulation{identity: []*simPolicy{id(allowAll, 1)}, boundary: boundary(allowGet)}, "*", "allowed",
			[]string{"PolicyInputList.1", "PermissionsBoundaryPolicyInputList.1"}, &yes, false},
		{"the boundary does not allow: nothing is listed", simulation{identity: []*simPolicy{id(allowAll, 1)}, boundary: boundary(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sqs:*","Resource":"*"}]}`)},
			"*", "implicitDeny", nil, &no, false},
		// Each policy set lists what decided it, as AWS lists a resource
		// policy's deny beside the identity policy's allow.
		{"the boundary denies", simulation{identity: []*simPolicy{id(allowAll, 1)}, boundary: boundary(denyGet)}, "*", "explicitDeny",
			[]string{"PolicyInputList.1", "PermissionsBoundaryPolicyInputList.1"}, &no, false},
		{"a resource policy naming the caller grants alone", simulation{resource: resource(toAlice), caller: alice, account: "000000000000"},
			ownResource, "allowed", []string{"ResourcePolicy"}, nil, false},
		{"... even past the boundary's implicit deny", simulation{resource: resource(toAlice), caller: alice, account: "000000000000", boundary: boundary(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sqs:*","Resource":"*"}]}`)},
			ownResource, "allowed", []string{"ResourcePolicy"}, &no, false},
		{"a resource policy naming the account defers to identity policies", simulation{resource: resource(toAccount), caller: alice, account: "000000000000"},
			ownResource, "implicitDeny", nil, nil, false},
		{"... which allow", simulation{identity: []*simPolicy{id(allowGet, 1)}, resource: resource(toAccount), caller: alice, account: "000000000000"},
			ownResource, "allowed", []string{"ResourcePolicy", "PolicyInputList.1"}, nil, false},
		{"a resource policy's deny, with the identity allow beside it", simulation{identity: []*simPolicy{id(allowGet, 1)}, resource: resource(denyAlice), caller: alice, account: "000000000000"},
			ownResource, "explicitDeny", []string{"ResourcePolicy", "PolicyInputList.1"}, nil, false},
		{"across accounts the resource policy alone is not enough", simulation{resource: resource(toAlice), caller: alice, account: "000000000000"},
			otherOwned, "implicitDeny", nil, nil, true},
		{"across accounts both sides allow", simulation{identity: []*simPolicy{id(allowGet, 1)}, resource: resource(toAlice), caller: alice, account: "000000000000"},
			otherOwned, "allowed", []string{"ResourcePolicy", "PolicyInputList.1"}, nil, true},
		{"ResourceOwner owns what its ARN does not say", simulation{resource: resource(toAlice), caller: alice, account: "000000000000", owner: "111122223333"},
			ownResource, "implicitDeny", nil, nil, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.sim.context = policy.Context{}
			d := tc.sim.evaluate("s3:GetObject", tc.resource)
			var matched []string
			for _, m := range d.matched {
				matched = append(matched, m.sp.id)
			}
			if d.effect != tc.effect || !reflect.DeepEqual(matched, tc.matched) || !reflect.DeepEqual(d.boundary, tc.boundary) || (len(d.details) > 0) != tc.crossAccount {
				t.Fatalf("got %s %q boundary %v details %v", d.effect, matched, d.boundary, d.details)
			}
		})
	}
}
