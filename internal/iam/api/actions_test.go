package api

import (
	"slices"
	"strings"
	"testing"
)

// TestActions: the action table holds exactly the actions served, those
// registered per identity kind included.
func TestActions(t *testing.T) {
	want := strings.Fields(`
		CreateOpenIDConnectProvider GetOpenIDConnectProvider ListOpenIDConnectProviders DeleteOpenIDConnectProvider
		AddClientIDToOpenIDConnectProvider RemoveClientIDFromOpenIDConnectProvider UpdateOpenIDConnectProviderThumbprint
		TagOpenIDConnectProvider UntagOpenIDConnectProvider ListOpenIDConnectProviderTags
		CreateRole GetRole ListRoles UpdateRole UpdateAssumeRolePolicy DeleteRole
		TagRole UntagRole ListRoleTags PutRolePolicy GetRolePolicy ListRolePolicies DeleteRolePolicy
		AttachRolePolicy DetachRolePolicy ListAttachedRolePolicies
		CreatePolicy GetPolicy ListPolicies DeletePolicy CreatePolicyVersion GetPolicyVersion ListPolicyVersions
		SetDefaultPolicyVersion DeletePolicyVersion ListEntitiesForPolicy
		CreateUser GetUser ListUsers DeleteUser TagUser UntagUser ListUserTags
		PutUserPolicy GetUserPolicy ListUserPolicies DeleteUserPolicy AttachUserPolicy DetachUserPolicy ListAttachedUserPolicies
		CreateAccessKey ListAccessKeys UpdateAccessKey DeleteAccessKey GetAccountAuthorizationDetails
		SimulateCustomPolicy SimulatePrincipalPolicy`)
	var got []string
	for name := range actions {
		got = append(got, name)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("actions:\n got %v\nwant %v", got, want)
	}
}
