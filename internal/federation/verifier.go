package federation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Provider is one registered OIDC identity provider (an IAM OIDC provider entity).
type Provider struct {
	// URL is the issuer exactly as tokens carry it in iss: compared byte for byte, with no
	// trailing-slash, case or scheme normalisation.
	URL string
	// ClientIDs are the accepted audiences: one element of aud must equal one of them.
	ClientIDs []string
	// Thumbprints are hex SHA-1 fingerprints of the top CA certificate the JWKS host
	// presents. As on AWS they are consulted only when the certificate does not chain to a
	// trusted root (the system's, or CABundlePEM's).
	Thumbprints []string
	// CABundlePEM, when set, replaces the system roots for this provider's fetches.
	CABundlePEM []byte
	// AllowInsecureHTTPLoopback permits an http:// URL (and jwks_uri) on a loopback host.
	// Dev mode sets it for its own issuer; it is never honoured for other hosts.
	AllowInsecureHTTPLoopback bool
	// AllowJWKSOnOtherHost permits a jwks_uri on a host other than the issuer's. Off by
	// default: a discovery document is then unable to point key fetches anywhere else.
	AllowJWKSOnOtherHost bool
}

// Options configure a Verifier. Zero values take the defaults noted.
type Options struct {
	Providers []Provider
	// Now is the clock (default time.Now). Cache TTLs, rate limits and time claims use it.
	Now func() time.Time
	// DialContext replaces the dialer of every fetch (tests route hosts to loopback).
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)
	// FetchTimeout bounds one refresh: discovery plus JWKS (default 5 s, AWS's budget).
	FetchTimeout time.Duration
	// MaxResponseBytes caps a discovery or JWKS body (default 256 KiB).
	MaxResponseBytes int64
	// RefetchInterval is the least time between two fetches for a provider whose keys are
	// cached: an unknown kid refetches at most this often (default 30 s), so random kids
	// cannot turn requests into outbound fetches.
	RefetchInterval time.Duration
	// RetryInterval is the least time between fetches while a provider has no usable keys
	// (default 5 s).
	RetryInterval time.Duration
	// ClockSkew is the leeway on exp, nbf and iat (default 5 minutes, as AWS allows past
	// exp).
	ClockSkew time.Duration
	// DefaultTTL caches keys when the JWKS response names no max-age (default 1 h).
	DefaultTTL time.Duration
	// Logger receives fetch failures and skipped keys (default: discarded).
	Logger *slog.Logger
}

// TTL bounds for a cached JWKS, whatever Cache-Control says.
const (
	MinCacheTTL = 5 * time.Minute
	MaxCacheTTL = 24 * time.Hour
)

// Verifier checks web-identity tokens against a set of providers. It is safe for
// concurrent use. It never contacts a provider until a token names it.
type Verifier struct {
	opts      Options
	providers atomic.Pointer[map[string]*providerState]
	mu        sync.Mutex // serialises SetProviders
}

// Verified is an authentic, current token from a registered provider.
type Verified struct {
	// Provider is the registered provider that issued the token (read-only).
	Provider *Provider
	// Audience is the client ID that aud matched (the first, if several did).
	Audience string
	Claims   Claims
	KID      string
	Alg      string
}

// Claims holds the payload: Raw is every claim as parsed (numbers as json.Number, exact),
// the rest are the typed registered claims. Zero times mean the claim was absent.
type Claims struct {
	Raw       map[string]any
	Issuer    string
	Subject   string
	Audience  []string
	Expiry    time.Time
	IssuedAt  time.Time
	NotBefore time.Time
	AMR       []string
}

// New returns a Verifier for providers. It checks their configuration but fetches
// nothing: start-up never waits on a remote issuer.
func New(opts Options) (*Verifier, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.FetchTimeout <= 0 {
		opts.FetchTimeout = 5 * time.Second
	}
	if opts.MaxResponseBytes <= 0 {
		opts.MaxResponseBytes = 256 << 10
	}
	if opts.RefetchInterval <= 0 {
		opts.RefetchInterval = 30 * time.Second
	}
	if opts.RetryInterval <= 0 {
		opts.RetryInterval = 5 * time.Second
	}
	if opts.ClockSkew <= 0 {
		opts.ClockSkew = 5 * time.Minute
	}
	if opts.DefaultTTL <= 0 {
		opts.DefaultTTL = time.Hour
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	v := &Verifier{opts: opts}
	if err := v.SetProviders(opts.Providers); err != nil {
		return nil, err
	}
	return v, nil
}

// SetProviders replaces the provider list (IAM changes at run time). A provider whose
// configuration is unchanged keeps its cached keys.
func (v *Verifier) SetProviders(providers []Provider) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	old := v.providers.Load()
	next := make(map[string]*providerState, len(providers))
	for _, p := range providers {
		if _, dup := next[p.URL]; dup {
			return fmt.Errorf("federation: provider %q declared twice", p.URL)
		}
		if old != nil {
			if st, ok := (*old)[p.URL]; ok && sameProvider(&st.cfg, &p) {
				next[p.URL] = st
				continue
			}
		}
		st, err := newProviderState(v, p)
		if err != nil {
			return err
		}
		next[p.URL] = st
	}
	v.providers.Store(&next)
	if old != nil {
		for url, st := range *old {
			if next[url] != st {
				st.client.CloseIdleConnections()
			}
		}
	}
	return nil
}

// Close releases idle connections to providers. A refresh still running ends by itself
// within FetchTimeout; Verify keeps working after Close.
func (v *Verifier) Close() {
	for _, st := range *v.providers.Load() {
		st.client.CloseIdleConnections()
	}
}

func sameProvider(a, b *Provider) bool {
	return a.URL == b.URL && slices.Equal(a.ClientIDs, b.ClientIDs) &&
		slices.Equal(a.Thumbprints, b.Thumbprints) && string(a.CABundlePEM) == string(b.CABundlePEM) &&
		a.AllowInsecureHTTPLoopback == b.AllowInsecureHTTPLoopback &&
		a.AllowJWKSOnOtherHost == b.AllowJWKSOnOtherHost
}

// validateProviderURL applies IAM's rules for a provider URL (https, no query, fragment
// or userinfo), with the one dev-mode exception of http on loopback.
func validateProviderURL(p *Provider) (*url.URL, error) {
	u, err := url.Parse(p.URL)
	if err != nil {
		return nil, fmt.Errorf("federation: provider URL %q: %w", p.URL, err)
	}
	if u.Host == "" || u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(p.URL, "#") {
		return nil, fmt.Errorf("federation: provider URL %q must be scheme://host[/path] without userinfo, query or fragment", p.URL)
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !p.AllowInsecureHTTPLoopback || !isLoopbackHost(u.Hostname()) {
			return nil, fmt.Errorf("federation: provider URL %q: http is allowed only on a loopback host with allow_insecure_http_loopback", p.URL)
		}
	default:
		return nil, fmt.Errorf("federation: provider URL %q must begin with https://", p.URL)
	}
	return u, nil
}

func isLoopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Verify checks token and returns its claims, or a *TokenError carrying AWS's code and
// message. Order: structure and algorithm, then the provider by exact iss, the audience,
// the key and signature, and only then sub and the time claims — so "expired" is never
// said of a forged token, and nothing is fetched for a token no provider would accept.
func (v *Verifier) Verify(ctx context.Context, token string) (*Verified, error) {
	j, terr := decodeJWS(token)
	if terr != nil {
		return nil, terr
	}
	claims := j.claims

	iss, ok := claims["iss"].(string)
	if !ok {
		if _, present := claims["iss"]; !present {
			return nil, invalid(msgMissingClaim+"iss", fmt.Errorf("%w: iss missing", ErrClaim))
		}
		return nil, invalid(msgBadClaim+"iss", fmt.Errorf("%w: iss not a string", ErrClaim))
	}
	p := (*v.providers.Load())[iss]
	if p == nil {
		return nil, invalid(msgNoProvider+iss, ErrUnknownIssuer)
	}

	aud, matched, terr := checkAudience(claims, p.cfg.ClientIDs)
	if terr != nil {
		return nil, terr
	}

	key, terr := p.key(ctx, j)
	if terr != nil {
		return nil, terr
	}
	if !key.fits(j.alg) {
		return nil, invalid(msgSignature, fmt.Errorf("%w: key %q cannot verify %s", ErrSignature, key.kid, j.alg.name))
	}
	if err := j.verifySignature(key); err != nil {
		return nil, invalid(msgSignature, err)
	}

	out := &Verified{Provider: &p.cfg, Audience: matched, KID: j.kid, Alg: j.alg.name}
	out.Claims = Claims{Raw: claims, Issuer: iss, Audience: aud}
	if terr := v.checkClaims(&out.Claims); terr != nil {
		return nil, terr
	}
	return out, nil
}

// checkAudience requires aud to be a string or a non-empty array of strings with one
// element equal to a client ID. It returns the audiences and the first match.
func checkAudience(claims map[string]any, clientIDs []string) ([]string, string, *TokenError) {
	raw, present := claims["aud"]
	if !present {
		return nil, "", invalid(msgMissingAud, fmt.Errorf("%w: aud missing", ErrAudience))
	}
	var auds []string
	switch a := raw.(type) {
	case string:
		auds = []string{a}
	case []any:
		if len(a) == 0 {
			return nil, "", invalid(msgAudience, fmt.Errorf("%w: empty aud array", ErrAudience))
		}
		auds = make([]string, len(a))
		for i, e := range a {
			s, ok := e.(string)
			if !ok {
				return nil, "", invalid(msgAudience, fmt.Errorf("%w: aud element not a string", ErrAudience))
			}
			auds[i] = s
		}
	default:
		return nil, "", invalid(msgAudience, fmt.Errorf("%w: aud neither string nor array", ErrAudience))
	}
	for _, a := range auds {
		if slices.Contains(clientIDs, a) {
			return auds, a, nil
		}
	}
	return nil, "", invalid(msgAudience, fmt.Errorf("%w: %d audiences, none registered", ErrAudience, len(auds)))
}

// checkClaims types sub, exp, nbf, iat and amr, and applies the clock. Only called on
// tokens whose signature verified.
func (v *Verifier) checkClaims(c *Claims) *TokenError {
	raw := c.Raw
	switch sub := raw["sub"].(type) {
	case string:
		if sub == "" {
			return invalid(msgMissingClaim+"sub", fmt.Errorf("%w: sub empty", ErrClaim))
		}
		c.Subject = sub
	case nil:
		return invalid(msgMissingClaim+"sub", fmt.Errorf("%w: sub missing or null", ErrClaim))
	default:
		return invalid(msgBadClaim+"sub", fmt.Errorf("%w: sub not a string", ErrClaim))
	}

	now := v.opts.Now()
	nowUnix := now.Unix()
	skew := int64(v.opts.ClockSkew / time.Second)

	expRaw, present := raw["exp"]
	if !present {
		return invalid(msgMissingClaim+"exp", fmt.Errorf("%w: exp missing", ErrClaim))
	}
	exp, ok := numericDate(expRaw)
	if !ok {
		return invalid(msgBadClaim+"exp", fmt.Errorf("%w: exp not a NumericDate", ErrClaim))
	}
	c.Expiry = time.Unix(exp, 0)
	if nowUnix > exp+skew {
		return &TokenError{Code: ExpiredTokenException, Message: fmt.Sprintf(msgExpiredFmt, nowUnix, exp), Cause: ErrExpired}
	}
	if nbfRaw, present := raw["nbf"]; present {
		nbf, ok := numericDate(nbfRaw)
		if !ok {
			return invalid(msgBadClaim+"nbf", fmt.Errorf("%w: nbf not a NumericDate", ErrClaim))
		}
		c.NotBefore = time.Unix(nbf, 0)
		if nbf > nowUnix+skew {
			return invalid(msgNotYetValid, fmt.Errorf("%w: nbf %d after now %d", ErrClaim, nbf, nowUnix))
		}
	}
	if iatRaw, present := raw["iat"]; present {
		iat, ok := numericDate(iatRaw)
		if !ok {
			return invalid(msgBadClaim+"iat", fmt.Errorf("%w: iat not a NumericDate", ErrClaim))
		}
		c.IssuedAt = time.Unix(iat, 0)
		if iat > nowUnix+skew {
			return invalid(msgIssuedAhead, fmt.Errorf("%w: iat %d after now %d", ErrClaim, iat, nowUnix))
		}
	}
	if amrRaw, present := raw["amr"]; present {
		switch a := amrRaw.(type) {
		case string:
			c.AMR = []string{a}
		case []any:
			c.AMR = make([]string, 0, len(a))
			for _, e := range a {
				s, ok := e.(string)
				if !ok {
					return invalid(msgBadClaim+"amr", fmt.Errorf("%w: amr element not a string", ErrClaim))
				}
				c.AMR = append(c.AMR, s)
			}
		default:
			return invalid(msgBadClaim+"amr", fmt.Errorf("%w: amr neither string nor array", ErrClaim))
		}
	}
	return nil
}

// Number is the type of every number in Claims.Raw.
type Number = json.Number

var errCanceled = errors.New("request canceled while waiting for keys")

// Unverified is a token's header and claims as decoded, before any check
// of provider, key, signature or time. Only explanations use it: after
// Verify has refused a token, they go on to show what the trust policy
// would have said of its claims. Nothing may be granted on it.
type Unverified struct {
	Alg    string
	KID    string
	Claims map[string]any // numbers as json.Number
}

// DecodeUnverified decodes token with Verify's strict structural rules
// (size, compact form, algorithm allow-list, JSON) but checks nothing
// else.
func DecodeUnverified(token string) (*Unverified, error) {
	j, terr := decodeJWS(token)
	if terr != nil {
		return nil, terr
	}
	return &Unverified{Alg: j.alg.name, KID: j.kid, Claims: j.claims}, nil
}

// Step names the stage of Verify that err (a *TokenError) failed at:
// "token" (structure, algorithm, header), "provider", "audience", "key",
// "signature" or "claims" (sub and the time claims). "" for other errors.
func Step(err error) string {
	switch {
	case errors.Is(err, ErrUnknownIssuer):
		return "provider"
	case errors.Is(err, ErrAudience):
		return "audience"
	case errors.Is(err, ErrKeyNotFound), errors.Is(err, ErrFetch), errors.Is(err, ErrFetchTransient),
		errors.Is(err, ErrThumbprint), errors.Is(err, ErrRefetchLimited):
		return "key"
	case errors.Is(err, ErrSignature):
		return "signature"
	case errors.Is(err, ErrExpired):
		return "claims"
	case errors.Is(err, ErrClaim):
		var te *TokenError
		if errors.As(err, &te) && strings.HasSuffix(te.Message, "iss") {
			return "provider"
		}
		return "claims"
	case errors.Is(err, ErrMalformed), errors.Is(err, ErrAlgorithm), errors.Is(err, ErrHeader), errors.Is(err, ErrTokenTooLong):
		return "token"
	}
	var te *TokenError
	if errors.As(err, &te) && te.Code == ValidationError {
		return "token"
	}
	return ""
}

// ProviderFor returns the registered provider whose URL is iss, if any.
func (v *Verifier) ProviderFor(iss string) (*Provider, bool) {
	p := (*v.providers.Load())[iss]
	if p == nil {
		return nil, false
	}
	return &p.cfg, true
}

// SkewAllowed is the leeway Verify gives exp, nbf and iat.
func (v *Verifier) SkewAllowed() time.Duration { return v.opts.ClockSkew }

// ClaimsOf types raw's registered claims as Verify does, without checking
// them (explanations of unverified or hypothetical claims): a claim of
// the wrong type is left zero.
func ClaimsOf(raw map[string]any) Claims {
	c := Claims{Raw: raw}
	c.Issuer, _ = raw["iss"].(string)
	c.Subject, _ = raw["sub"].(string)
	c.Audience = stringList(raw["aud"])
	c.AMR = stringList(raw["amr"])
	for name, t := range map[string]*time.Time{"exp": &c.Expiry, "iat": &c.IssuedAt, "nbf": &c.NotBefore} {
		if v, ok := raw[name]; ok {
			if n, ok := numericDate(v); ok {
				*t = time.Unix(n, 0)
			}
		}
	}
	return c
}

func stringList(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		var out []string
		for _, e := range x {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}
