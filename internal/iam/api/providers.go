package api

import (
	"net/http"

	"github.com/oidcfed/oidcfed/internal/awsproto"
	"github.com/oidcfed/oidcfed/internal/iam"
)

// providerARN reads OpenIDConnectProviderArn and authorizes action on it.
func (h *Handler) providerARN(req *request, action string) (string, *awsproto.Error) {
	arn, e := required(req.v, "OpenIDConnectProviderArn", "openIDConnectProviderArn")
	if e != nil {
		return "", e
	}
	if !iam.ValidARN(arn) {
		return "", awsproto.NewError(http.StatusBadRequest, "ValidationError", "ARN "+arn+" is not valid.")
	}
	if p, err := h.m.OIDCProviderByARN(req.ctx, arn); err == nil {
		req.resourceTags(p.Tags)
	}
	return arn, h.authorize(req, action, arn, "")
}

func (h *Handler) createOpenIDConnectProvider(req *request, x *awsproto.XMLWriter) *awsproto.Error {
	u, e := required(req.v, "Url", "url")
	if e != nil {
		return e
	}
	clientIDs, e := stringList(req.v, "ClientIDList")
	if e != nil {
		return e
	}
	thumbprints, e := stringList(req.v, "ThumbprintList")
	if e != nil {
		return e
	}
	tagList, e := tags(req.v)
	if e != nil {
		return e
	}
	req.requestTags(tagList)
	if e := h.authorize(req, "iam:CreateOpenIDConnectProvider", iam.ProviderARN(h.m.Account(), u), ""); e != nil {
		return e
	}
	p, err := h.m.CreateOIDCProvider(req.ctx, u, clientIDs, thumbprints, tagList)
	if err != nil {
		return toAWS(err)
	}
	x.Element("OpenIDConnectProviderArn", p.ARN)
	writeTags(x, p.Tags, false)
	return nil
}

func (h *Handler) getOpenIDConnectProvider(req *request, x *awsproto.XMLWriter) *awsproto.Error {
	arn, e := h.providerARN(req, "iam:GetOpenIDConnectProvider")
	if e != nil {
		return e
	}
	p, err := h.m.OIDCProviderByARN(req.ctx, arn)
	if err != nil {
		return awsproto.NewError(http.StatusNotFound, "NoSuchEntity", "OpenIDConnect Provider not found for arn "+arn).WithCause(err)
	}
	// IAM returns the URL without its scheme.
	x.Element("Url", iam.ProviderConditionPrefix(p.URL))
	x.Start("ClientIDList")
	for _, c := range p.ClientIDs {
		x.Element("member", c)
	}
	x.End("ClientIDList")
	x.Start("ThumbprintList")
	for _, tp := range p.Thumbprints {
		x.Element("member", tp)
	}
	x.End("ThumbprintList")
	x.Element("CreateDate", isoTime(p.CreateDate))
	writeTags(x, p.Tags, false)
	return nil
}

func (h *Handler) listOpenIDConnectProviders(req *request, x *awsproto.XMLWriter) *awsproto.Error {
	if e := h.authorize(req, "iam:ListOpenIDConnectProviders", h.arn("oidc-provider/*"), ""); e != nil {
		return e
	}
	ps, err := h.m.ListOIDCProviders(req.ctx)
	if err != nil {
		return toAWS(err)
	}
	x.Start("OpenIDConnectProviderList")
	for _, p := range ps {
		x.Start("member")
		x.Element("Arn", p.ARN)
		x.End("member")
	}
	x.End("OpenIDConnectProviderList")
	return nil
}

func (h *Handler) deleteOpenIDConnectProvider(req *request) *awsproto.Error {
	arn, e := h.providerARN(req, "iam:DeleteOpenIDConnectProvider")
	if e != nil {
		return e
	}
	return toAWS(h.m.DeleteOIDCProvider(req.ctx, arn))
}

func (h *Handler) addClientID(req *request) *awsproto.Error {
	arn, e := h.providerARN(req, "iam:AddClientIDToOpenIDConnectProvider")
	if e != nil {
		return e
	}
	id, e := required(req.v, "ClientID", "clientID")
	if e != nil {
		return e
	}
	return toAWS(h.m.AddClientID(req.ctx, arn, id))
}

func (h *Handler) removeClientID(req *request) *awsproto.Error {
	arn, e := h.providerARN(req, "iam:RemoveClientIDFromOpenIDConnectProvider")
	if e != nil {
		return e
	}
	id, e := required(req.v, "ClientID", "clientID")
	if e != nil {
		return e
	}
	return toAWS(h.m.RemoveClientID(req.ctx, arn, id))
}

func (h *Handler) updateThumbprint(req *request) *awsproto.Error {
	arn, e := h.providerARN(req, "iam:UpdateOpenIDConnectProviderThumbprint")
	if e != nil {
		return e
	}
	if _, ok := req.v.Lookup("ThumbprintList"); !ok {
		if _, ok := req.v.Lookup("ThumbprintList.member.1"); !ok {
			return awsproto.ValidationError("1 validation error detected: Value null at 'thumbprintList' failed to satisfy constraint: Member must not be null")
		}
	}
	list, e := stringList(req.v, "ThumbprintList")
	if e != nil {
		return e
	}
	return toAWS(h.m.UpdateThumbprints(req.ctx, arn, list))
}

func (h *Handler) tagOpenIDConnectProvider(req *request) *awsproto.Error {
	tagList, e := tags(req.v)
	if e != nil {
		return e
	}
	req.requestTags(tagList)
	arn, e := h.providerARN(req, "iam:TagOpenIDConnectProvider")
	if e != nil {
		return e
	}
	return toAWS(h.m.TagOIDCProvider(req.ctx, arn, tagList))
}

func (h *Handler) untagOpenIDConnectProvider(req *request) *awsproto.Error {
	arn, e := h.providerARN(req, "iam:UntagOpenIDConnectProvider")
	if e != nil {
		return e
	}
	keys, e := stringList(req.v, "TagKeys")
	if e != nil {
		return e
	}
	return toAWS(h.m.UntagOIDCProvider(req.ctx, arn, keys))
}

func (h *Handler) listOpenIDConnectProviderTags(req *request, x *awsproto.XMLWriter) *awsproto.Error {
	arn, e := h.providerARN(req, "iam:ListOpenIDConnectProviderTags")
	if e != nil {
		return e
	}
	p, err := h.m.OIDCProviderByARN(req.ctx, arn)
	if err != nil {
		return awsproto.NewError(http.StatusNotFound, "NoSuchEntity", "OpenIDConnect Provider not found for arn "+arn).WithCause(err)
	}
	return writeTagPage(x, req.v, p.Tags)
}
