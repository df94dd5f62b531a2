package api

import (
	"encoding/base64"
	"fmt"
	"slices"
	"strconv"

	"github.com/oidcfed/oidcfed/internal/audit"
	"github.com/oidcfed/oidcfed/internal/ecr"
	"github.com/oidcfed/oidcfed/internal/iam/policy"
	"github.com/oidcfed/oidcfed/internal/sts"
)

// repository is ECR's Repository element.
type repository struct {
	RepositoryArn                      string                `json:"repositoryArn"`
	RegistryID                         string                `json:"registryId"`
	RepositoryName                     string                `json:"repositoryName"`
	RepositoryURI                      string                `json:"repositoryUri"`
	CreatedAt                          float64               `json:"createdAt"`
	ImageTagMutability                 string                `json:"imageTagMutability"`
	ImageTagMutabilityExclusionFilters []ecr.ExclusionFilter `json:"imageTagMutabilityExclusionFilters,omitempty"`
	ImageScanningConfiguration         scanningConfiguration `json:"imageScanningConfiguration"`
	EncryptionConfiguration            encryption            `json:"encryptionConfiguration"`
}

type scanningConfiguration struct {
	ScanOnPush bool `json:"scanOnPush"`
}

type encryption struct {
	EncryptionType string `json:"encryptionType"`
	KmsKey         string `json:"kmsKey,omitempty"`
}

func (h *Handler) repositoryElement(r *ecr.Repository) repository {
	return repository{RepositoryArn: h.svc.ARN(r.Name), RegistryID: h.svc.Account(), RepositoryName: r.Name, RepositoryURI: h.svc.URI(r.Name),
		CreatedAt: epoch(r.CreatedAt), ImageTagMutability: r.ImageTagMutability, ImageTagMutabilityExclusionFilters: r.ExclusionFilters,
		ImageScanningConfiguration: scanningConfiguration{r.ScanOnPush}, EncryptionConfiguration: encryption{EncryptionType: r.EncryptionType}}
}

func (h *Handler) getAuthorizationToken(c *call) (any, error) {
	var in struct {
		RegistryIds []string `json:"registryIds"`
	}
	if err := decode(c, &in); err != nil {
		return nil, err
	}
	if in.RegistryIds != nil {
		c.ev.RequestParameters = map[string]any{"registryIds": boundedList(in.RegistryIds)}
		if len(in.RegistryIds) < 1 || len(in.RegistryIds) > 10 {
			return nil, &ecr.Error{Code: ecr.CodeValidation, Message: "1 validation error detected: Value at 'registryIds' failed to satisfy constraint: Member must have length between 1 and 10"}
		}
		for i, id := range in.RegistryIds {
			if !registryIDRE.MatchString(id) {
				return nil, &ecr.Error{Code: ecr.CodeValidation, Message: fmt.Sprintf("1 validation error detected: Value '%s' at 'registryIds.%d.member' failed to satisfy constraint: Member must satisfy regular expression pattern: [0-9]{12}", audit.Value(id, 64), i+1)}
			}
		}
	}
	if err := h.authorizeIAM(c, "ecr:GetAuthorizationToken"); err != nil {
		return nil, err
	}
	encoded, err := sts.MarshalCaller(c.caller, c.accessKeyID)
	if err != nil {
		return nil, err
	}
	now := h.svc.Now()
	expires := now.Add(ecr.TokenLifetime)
	if exp := sts.CallerExpiry(c.caller); !exp.IsZero() && exp.Before(expires) {
		expires = exp
	}
	expires = expires.Truncate(1e9)
	password, err := h.tokens.Seal(encoded, expires)
	if err != nil {
		return nil, err
	}
	token := base64.StdEncoding.EncodeToString([]byte("AWS:" + password))
	// One registry is served: whatever ids were asked for (the parameter
	// is deprecated on ECR), the answer is its token, once per id.
	n := max(1, len(in.RegistryIds))
	data := make([]map[string]any, n)
	recorded := make([]map[string]any, n)
	for i := range data {
		data[i] = map[string]any{"authorizationToken": token, "expiresAt": epoch(expires), "proxyEndpoint": h.proxy}
		// The audit trail never holds the token.
		recorded[i] = map[string]any{"expiresAt": expires.UTC().Format(audit.TimeFormat), "proxyEndpoint": h.proxy}
	}
	c.ev.ResponseElements = map[string]any{"authorizationData": recorded}
	return map[string]any{"authorizationData": data}, nil
}

func boundedList(list []string) []string {
	out := make([]string, 0, min(len(list), 100))
	for _, s := range list[:min(len(list), 100)] {
		out = append(out, audit.Value(s, 256))
	}
	return out
}

type repositoryRequest struct {
	RegistryID     string `json:"registryId"`
	RepositoryName string `json:"repositoryName"`
}

func (c *call) noteRepository(name string) {
	if c.ev.RequestParameters == nil {
		c.ev.RequestParameters = map[string]any{}
	}
	c.ev.RequestParameters["repositoryName"] = audit.Value(name, 256)
}

func (h *Handler) createRepository(c *call) (any, error) {
	var in struct {
		repositoryRequest
		Tags                               []ecr.Tag              `json:"tags"`
		ImageTagMutability                 string                 `json:"imageTagMutability"`
		ImageTagMutabilityExclusionFilters []ecr.ExclusionFilter  `json:"imageTagMutabilityExclusionFilters"`
		ImageScanningConfiguration         *scanningConfiguration `json:"imageScanningConfiguration"`
		EncryptionConfiguration            *encryption            `json:"encryptionConfiguration"`
	}
	if err := decode(c, &in); err != nil {
		return nil, err
	}
	c.noteRepository(in.RepositoryName)
	if err := ecr.CheckRepositoryName(in.RepositoryName); err != nil {
		return nil, err
	}
	if in.RegistryID != "" && registryIDRE.MatchString(in.RegistryID) && in.RegistryID != h.svc.Account() {
		return nil, &ecr.Error{Code: ecr.CodeInvalidParameter, Message: "Invalid parameter at 'registryId' failed to satisfy constraint: 'Repositories can only be created in the registry of the caller's account'"} // unconfirmed wording
	}
	if err := h.checkRegistry(in.RegistryID, in.RepositoryName); err != nil {
		return nil, err
	}
	c.ev.Resources = []audit.Resource{{AccountID: h.svc.Account(), Type: "AWS::ECR::Repository", ARN: h.svc.ARN(in.RepositoryName)}}
	if err := h.Authorize(c.ctx, c.caller, "ecr:CreateRepository", in.RepositoryName, nil, c.ip); err != nil {
		return nil, err
	}
	ci := ecr.CreateRepositoryInput{Name: in.RepositoryName, ImageTagMutability: in.ImageTagMutability, ExclusionFilters: in.ImageTagMutabilityExclusionFilters,
		Tags: in.Tags}
	if in.ImageScanningConfiguration != nil {
		ci.ScanOnPush = in.ImageScanningConfiguration.ScanOnPush
	}
	if e := in.EncryptionConfiguration; e != nil {
		if e.EncryptionType == "" {
			return nil, &ecr.Error{Code: ecr.CodeValidation, Message: "1 validation error detected: Value null at 'encryptionConfiguration.encryptionType' failed to satisfy constraint: Member must not be null"}
		}
		ci.EncryptionType, ci.KMSKey = e.EncryptionType, e.KmsKey
	}
	r, err := h.svc.CreateRepository(c.ctx, ci)
	if err != nil {
		return nil, err
	}
	out := h.repositoryElement(r)
	c.ev.ResponseElements = map[string]any{"repository": out}
	return map[string]any{"repository": out}, nil
}

// pageToken is a listing's nextToken: the last name of the page, opaque.
func pageToken(last string) string { return base64.RawURLEncoding.EncodeToString([]byte(last)) }

func readPageToken(token string) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || len(token) > 2048 {
		return "", &ecr.Error{Code: ecr.CodeInvalidParameter, Message: "Invalid parameter at 'nextToken' failed to satisfy constraint: 'Invalid NextToken'"} // unconfirmed wording
	}
	return string(b), nil
}

func checkMaxResults(n *int) error {
	if n != nil && (*n < 1 || *n > 1000) {
		return &ecr.Error{Code: ecr.CodeValidation, Message: "1 validation error detected: Value '" + strconv.Itoa(*n) +
			"' at 'maxResults' failed to satisfy constraint: Member must have value " + map[bool]string{true: "greater than or equal to 1", false: "less than or equal to 1000"}[*n < 1]}
	}
	return nil
}

func (h *Handler) describeRepositories(c *call) (any, error) {
	var in struct {
		RegistryID      string   `json:"registryId"`
		RepositoryNames []string `json:"repositoryNames"`
		NextToken       *string  `json:"nextToken"`
		MaxResults      *int     `json:"maxResults"`
	}
	if err := decode(c, &in); err != nil {
		return nil, err
	}
	if in.RepositoryNames != nil {
		c.ev.RequestParameters = map[string]any{"repositoryNames": boundedList(in.RepositoryNames)}
		if len(in.RepositoryNames) < 1 || len(in.RepositoryNames) > 100 {
			return nil, &ecr.Error{Code: ecr.CodeValidation, Message: "1 validation error detected: Value at 'repositoryNames' failed to satisfy constraint: Member must have length between 1 and 100"}
		}
		if in.NextToken != nil || in.MaxResults != nil {
			return nil, &ecr.Error{Code: ecr.CodeInvalidParameter, Message: "Invalid parameter at 'maxResults' failed to satisfy constraint: 'maxResults and nextToken cannot be used with repositoryNames'"} // unconfirmed wording
		}
		var out []repository
		for _, name := range in.RepositoryNames {
			r, err := h.repository(c, "ecr:DescribeRepositories", in.RegistryID, name)
			if err != nil {
				return nil, err
			}
			out = append(out, h.repositoryElement(r))
		}
		c.ev.Resources = nil
		return map[string]any{"repositories": out}, nil
	}
	if err := h.checkRegistry(in.RegistryID, ""); err != nil {
		return nil, err
	}
	if err := checkMaxResults(in.MaxResults); err != nil {
		return nil, err
	}
	after := ""
	if in.NextToken != nil {
		var err error
		if after, err = readPageToken(*in.NextToken); err != nil {
			return nil, err
		}
	}
	// Listing every repository is authorized on all of them at once.
	if err := h.Authorize(c.ctx, c.caller, "ecr:DescribeRepositories", "*", nil, c.ip); err != nil {
		return nil, err
	}
	all, err := h.svc.Repositories(c.ctx)
	if err != nil {
		return nil, err
	}
	start := 0
	if after != "" {
		start = len(all) - len(slices.DeleteFunc(slices.Clone(all), func(r *ecr.Repository) bool { return r.Name <= after }))
	}
	limit := 100
	if in.MaxResults != nil {
		limit = *in.MaxResults
	}
	end := min(len(all), start+limit)
	out := make([]repository, 0, end-start)
	for _, r := range all[start:end] {
		out = append(out, h.repositoryElement(r))
	}
	resp := map[string]any{"repositories": out}
	if end < len(all) {
		resp["nextToken"] = pageToken(all[end-1].Name)
	}
	return resp, nil
}

func (h *Handler) deleteRepository(c *call) (any, error) {
	var in struct {
		repositoryRequest
		Force bool `json:"force"`
	}
	if err := decode(c, &in); err != nil {
		return nil, err
	}
	c.noteRepository(in.RepositoryName)
	if _, err := h.repository(c, "ecr:DeleteRepository", in.RegistryID, in.RepositoryName); err != nil {
		return nil, err
	}
	r, err := h.svc.DeleteRepository(c.ctx, in.RepositoryName, in.Force)
	if err != nil {
		return nil, err
	}
	out := h.repositoryElement(r)
	c.ev.ResponseElements = map[string]any{"repository": out}
	return map[string]any{"repository": out}, nil
}

func (h *Handler) policyResponse(name, text string) map[string]any {
	return map[string]any{"registryId": h.svc.Account(), "repositoryName": name, "policyText": text}
}

func (h *Handler) setRepositoryPolicy(c *call) (any, error) {
	var in struct {
		repositoryRequest
		PolicyText *string `json:"policyText"`
		Force      bool    `json:"force"`
	}
	if err := decode(c, &in); err != nil {
		return nil, err
	}
	c.noteRepository(in.RepositoryName)
	if in.PolicyText == nil {
		return nil, &ecr.Error{Code: ecr.CodeValidation, Message: "1 validation error detected: Value null at 'policyText' failed to satisfy constraint: Member must not be null"}
	}
	r, err := h.repository(c, "ecr:SetRepositoryPolicy", in.RegistryID, in.RepositoryName)
	if err != nil {
		return nil, err
	}
	p, err := ecr.ParsePolicy(*in.PolicyText)
	if err != nil {
		return nil, err
	}
	if !in.Force && h.locksOut(c, r.Name, p) {
		return nil, &ecr.Error{Code: ecr.CodeInvalidParameter, Message: "Invalid parameter at 'PolicyText' failed to satisfy constraint: 'The repository policy would prevent you from setting a repository policy in the future; set force to apply it'"} // unconfirmed wording
	}
	if _, err := h.svc.SetPolicy(c.ctx, r.Name, *in.PolicyText); err != nil {
		return nil, err
	}
	c.ev.RequestParameters["policyText"] = audit.Value(*in.PolicyText, ecr.MaxPolicyLength)
	return h.policyResponse(r.Name, *in.PolicyText), nil
}

// locksOut reports whether a new repository policy would deny its author
// ecr:SetRepositoryPolicy explicitly (the lockout force guards against).
func (h *Handler) locksOut(c *call, name string, p *policy.Policy) bool {
	req := &policy.Request{Principal: policy.Principal{Type: policy.PrincipalAWS, ID: h.auth.CallerARN(c.caller)}, Action: "ecr:SetRepositoryPolicy",
		Resource: h.svc.ARN(name), Context: h.requestContext(c.caller, c.ip)}
	return policy.EvaluateResource(req, p) == policy.ResourceDeny
}

func (h *Handler) getRepositoryPolicy(c *call) (any, error) {
	var in repositoryRequest
	if err := decode(c, &in); err != nil {
		return nil, err
	}
	c.noteRepository(in.RepositoryName)
	r, err := h.repository(c, "ecr:GetRepositoryPolicy", in.RegistryID, in.RepositoryName)
	if err != nil {
		return nil, err
	}
	if r.Policy == "" {
		return nil, ecr.ErrPolicyNotFound(r.Name, h.svc.Account())
	}
	return h.policyResponse(r.Name, r.Policy), nil
}

func (h *Handler) deleteRepositoryPolicy(c *call) (any, error) {
	var in repositoryRequest
	if err := decode(c, &in); err != nil {
		return nil, err
	}
	c.noteRepository(in.RepositoryName)
	if _, err := h.repository(c, "ecr:DeleteRepositoryPolicy", in.RegistryID, in.RepositoryName); err != nil {
		return nil, err
	}
	old, err := h.svc.DeletePolicy(c.ctx, in.RepositoryName)
	if err != nil {
		return nil, err
	}
	return h.policyResponse(old.Name, old.Policy), nil
}
