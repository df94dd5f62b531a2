package sts

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/oidcfed/oidcfed/internal/awsproto"
	"github.com/oidcfed/oidcfed/internal/explain"
	"github.com/oidcfed/oidcfed/internal/federation"
	"github.com/oidcfed/oidcfed/internal/iam"
	"github.com/oidcfed/oidcfed/internal/iam/policy"
)

// ExplainInput is an AssumeRoleWithWebIdentity request to explain: a
// token, or hypothetical claims (to try a trust policy before any
// pipeline runs).
type ExplainInput struct {
	RoleARN string
	Token   string
	// Claims, when Token is empty: a claim set as a token would carry it
	// (iss, aud, sub...; numbers as json.Number).
	Claims          map[string]any
	RoleSessionName string
	DurationSeconds *int64
	SourceIP        string
}

// ErrNothingToExplain: neither a token nor claims were given.
var ErrNothingToExplain = errors.New("explain: give a token or claims")

// tokenSteps are Verify's stages, in its order.
var tokenSteps = []string{explain.StepToken, explain.StepProvider, explain.StepAudience, explain.StepKey, explain.StepSignature, explain.StepClaims}

// ExplainWebIdentity replays the AssumeRoleWithWebIdentity decision for
// in without issuing anything, and reports every step: the same
// verifier, directory and trust evaluation as the call (webIdentity
// TrustInput), so the verdict is the call's. After a failed token check
// it goes on with the token's unverified claims, to show what the trust
// policy would also have said.
func (s *Service) ExplainWebIdentity(ctx context.Context, in ExplainInput) (*explain.Report, error) {
	r := &explain.Report{Action: "sts:AssumeRoleWithWebIdentity", RoleARN: in.RoleARN}
	if in.RoleSessionName == "" {
		in.RoleSessionName = "explain"
	}
	now := s.now()
	facts := explain.Facts{Now: now}
	if list, err := s.dir.ListOIDCProviders(ctx); err == nil {
		for _, p := range list {
			facts.Providers = append(facts.Providers, explain.Provider{ARN: p.ARN, URL: p.URL, ClientIDs: p.ClientIDs})
		}
	}
	deny := func(e *awsproto.Error) {
		if r.Error == nil {
			r.Error = &explain.APIError{Code: e.Code, HTTPStatus: e.HTTPStatus, Message: e.Message}
		}
	}

	var claims federation.Claims
	var audience string
	switch {
	case in.Token != "":
		token := strings.Trim(in.Token, " \t\r\n")
		verified, err := s.verifier.Verify(ctx, token)
		if err == nil {
			claims, audience = verified.Claims, verified.Audience
			r.Steps = append(r.Steps, verifiedSteps(verified, now)...)
			break
		}
		deny(tokenError(err))
		failed := federation.Step(err)
		facts.Expired = errors.Is(err, federation.ErrExpired)
		var te *federation.TokenError
		errors.As(err, &te)
		u, derr := federation.DecodeUnverified(token)
		var passed map[string]string // what the steps before the failure saw
		if derr == nil {
			claims = federation.ClaimsOf(u.Claims)
			passed = map[string]string{
				explain.StepToken:    "a compact JWS signed with " + u.Alg,
				explain.StepProvider: claims.Issuer + " is a registered provider",
				explain.StepAudience: fmt.Sprintf("%q is a client ID of the provider", claims.Audience),
				explain.StepKey:      fmt.Sprintf("key %q is in the provider's JWKS", u.KID),
			}
		}
		reached := true
		for _, name := range tokenSteps {
			switch {
			case name == failed:
				st := explain.Step{Name: name, Status: explain.Fail, Summary: te.Message}
				if te.Cause != nil {
					st.Cause = te.Cause.Error()
				}
				r.Steps = append(r.Steps, st)
				reached = false
			case reached:
				r.Steps = append(r.Steps, explain.Step{Name: name, Status: explain.Pass, Summary: passed[name]})
			default:
				r.Steps = append(r.Steps, explain.Step{Name: name, Status: explain.Skip, Summary: "not reached"})
			}
		}
		if derr != nil {
			r.Hints = explain.Hints(r, facts)
			return r, nil
		}
		r.Unverified = true
	case in.Claims != nil:
		r.Hypothetical = true
		claims = federation.ClaimsOf(in.Claims)
		r.Steps = append(r.Steps, explain.Step{Name: explain.StepToken, Status: explain.Skip, Summary: "hypothetical claims: no token"})
	default:
		return nil, ErrNothingToExplain
	}
	facts.Claims, facts.Audiences = claims.Raw, claims.Audience
	r.Subject = claims.Subject

	// The provider and audience, from the directory (the authority the call
	// consults after the verifier).
	provider, err := s.dir.OIDCProviderByURL(ctx, claims.Issuer)
	if err == nil {
		facts.Provider = &explain.Provider{ARN: provider.ARN, URL: provider.URL, ClientIDs: provider.ClientIDs}
	}
	if r.Hypothetical {
		s.explainHypothetical(r, &claims, provider, &audience, now, deny)
		facts.Expired = !claims.Expiry.IsZero() && now.After(claims.Expiry.Add(s.verifier.SkewAllowed()))
	} else if r.Unverified && provider != nil {
		audience = firstClientID(claims.Audience, provider.ClientIDs)
	}

	role, rerr := s.dir.RoleByARN(ctx, in.RoleARN)
	var trust *policy.Policy
	if rerr == nil {
		trust, rerr = role.Trust()
	}
	if rerr != nil {
		r.Steps = append(r.Steps, explain.Step{Name: explain.StepRole, Status: explain.Fail, Summary: "no role of the account has this ARN", Cause: rerr.Error()})
		deny(errNotAuthorizedWebIdentity())
		r.Hints = explain.Hints(r, facts)
		return r, nil
	}
	r.Steps = append(r.Steps, explain.Step{Name: explain.StepRole, Status: explain.Pass, Summary: role.ARN,
		Facts: []explain.Fact{{Name: "max session duration", Value: role.MaxSessionDuration.String()}}})

	if provider == nil {
		r.Steps = append(r.Steps, explain.Step{Name: explain.StepTrust, Status: explain.Skip, Summary: "no provider for the token's iss: the trust policy is not consulted"})
		r.Hints = explain.Hints(r, facts)
		return r, nil
	}
	if audience == "" {
		// No registered audience: the call stops before the trust policy;
		// show it anyway with the token's first aud, for the policy's sake.
		if len(claims.Audience) > 0 {
			audience = claims.Audience[0]
		}
	}
	callIn := &AssumeRoleWithWebIdentityInput{RoleARN: in.RoleARN, RoleSessionName: in.RoleSessionName, SourceIP: in.SourceIP, DurationSeconds: in.DurationSeconds}
	ti, terr := webIdentityTrustInput(provider, audience, &claims, callIn, s.dir.Region(), now, nil)
	if terr != nil {
		r.Steps = append(r.Steps, explain.Step{Name: explain.StepTrust, Status: explain.Fail, Summary: terr.Message})
		deny(terr)
		r.Hints = explain.Hints(r, facts)
		return r, nil
	}
	for _, action := range ti.actions {
		d, expl := policy.Explain(ti.request(action), trust)
		r.Steps = append(r.Steps, explain.TrustStep(action, trust, d, expl))
		if !d.Allowed {
			deny(errNotAuthorizedWebIdentity())
		}
	}
	if in.DurationSeconds != nil {
		want := time.Duration(*in.DurationSeconds) * time.Second
		st := explain.Step{Name: explain.StepDuration, Status: explain.Pass, Summary: fmt.Sprintf("%s within the role's maximum %s", want, role.MaxSessionDuration)}
		if role.MaxSessionDuration > 0 && want > role.MaxSessionDuration {
			st.Status, st.Summary = explain.Fail, fmt.Sprintf("%s exceeds the role's maximum %s", want, role.MaxSessionDuration)
			deny(errDurationOverRoleMax())
		}
		r.Steps = append(r.Steps, st)
	}
	r.Allowed = r.Error == nil
	r.Hints = explain.Hints(r, facts)
	return r, nil
}

// verifiedSteps describes a token that passed every check.
func verifiedSteps(v *federation.Verified, now time.Time) []explain.Step {
	c := &v.Claims
	claimFacts := []explain.Fact{{Name: "sub", Value: c.Subject}, {Name: "exp", Value: timeFact(c.Expiry, now)}}
	if !c.IssuedAt.IsZero() {
		claimFacts = append(claimFacts, explain.Fact{Name: "iat", Value: timeFact(c.IssuedAt, now)})
	}
	return []explain.Step{
		{Name: explain.StepToken, Status: explain.Pass, Summary: "a compact JWS signed with " + v.Alg},
		{Name: explain.StepProvider, Status: explain.Pass, Summary: v.Provider.URL + " is a registered provider"},
		{Name: explain.StepAudience, Status: explain.Pass, Summary: fmt.Sprintf("%q is a client ID of the provider", v.Audience)},
		{Name: explain.StepKey, Status: explain.Pass, Summary: fmt.Sprintf("key %q is in the provider's JWKS", v.KID)},
		{Name: explain.StepSignature, Status: explain.Pass, Summary: "the signature verifies"},
		{Name: explain.StepClaims, Status: explain.Pass, Summary: "sub present; current at " + now.UTC().Format(time.RFC3339), Facts: claimFacts},
	}
}

// explainHypothetical checks what can be checked of a claim set without
// a token: the provider, the audience, sub, and the time claims when
// given.
func (s *Service) explainHypothetical(r *explain.Report, c *federation.Claims, provider *iam.OIDCProvider, audience *string, now time.Time, deny func(*awsproto.Error)) {
	if provider == nil {
		msg := "No OpenIDConnect provider found in your account for " + c.Issuer
		r.Steps = append(r.Steps, explain.Step{Name: explain.StepProvider, Status: explain.Fail, Summary: msg})
		deny(awsproto.NewError(http.StatusBadRequest, "InvalidIdentityToken", msg))
		return
	}
	r.Steps = append(r.Steps, explain.Step{Name: explain.StepProvider, Status: explain.Pass, Summary: provider.URL + " is a registered provider"})
	*audience = firstClientID(c.Audience, provider.ClientIDs)
	if *audience == "" {
		r.Steps = append(r.Steps, explain.Step{Name: explain.StepAudience, Status: explain.Fail, Summary: "Incorrect token audience",
			Facts: []explain.Fact{{Name: "aud", Value: strings.Join(c.Audience, ", ")}, {Name: "client IDs", Value: strings.Join(provider.ClientIDs, ", ")}}})
		deny(awsproto.NewError(http.StatusBadRequest, "InvalidIdentityToken", "Incorrect token audience"))
	} else {
		r.Steps = append(r.Steps, explain.Step{Name: explain.StepAudience, Status: explain.Pass, Summary: fmt.Sprintf("%q is a client ID of the provider", *audience)})
	}
	r.Steps = append(r.Steps,
		explain.Step{Name: explain.StepKey, Status: explain.Skip, Summary: "hypothetical claims: no key"},
		explain.Step{Name: explain.StepSignature, Status: explain.Skip, Summary: "hypothetical claims: no signature"})
	st := explain.Step{Name: explain.StepClaims, Status: explain.Pass, Summary: "sub present"}
	skew := s.verifier.SkewAllowed()
	switch {
	case c.Subject == "":
		st.Status, st.Summary = explain.Fail, "Missing a required claim: sub"
		deny(awsproto.NewError(http.StatusBadRequest, "InvalidIdentityToken", st.Summary))
	case c.Expiry.IsZero():
		st.Summary += "; no exp given: time claims not checked"
	case now.After(c.Expiry.Add(skew)):
		st.Status = explain.Fail
		st.Summary = fmt.Sprintf("Token expired: current date/time %d must be before the expiration date/time %d", now.Unix(), c.Expiry.Unix())
		deny(awsproto.NewError(http.StatusBadRequest, "ExpiredTokenException", st.Summary))
	default:
		st.Facts = []explain.Fact{{Name: "exp", Value: timeFact(c.Expiry, now)}}
	}
	r.Steps = append(r.Steps, st)
}

func firstClientID(auds, clientIDs []string) string {
	for _, a := range auds {
		if slices.Contains(clientIDs, a) {
			return a
		}
	}
	return ""
}

func timeFact(t, now time.Time) string {
	d := t.Sub(now).Round(time.Second)
	if d == 0 {
		return t.UTC().Format(time.RFC3339) + " (now)"
	}
	if d > 0 {
		return fmt.Sprintf("%s (in %s)", t.UTC().Format(time.RFC3339), d)
	}
	return fmt.Sprintf("%s (%s ago)", t.UTC().Format(time.RFC3339), -d)
}
