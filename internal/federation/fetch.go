package federation

import (
	"context"
	"crypto/sha1"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// providerState is one provider's configuration, HTTP client and key cache.
type providerState struct {
	v      *Verifier
	cfg    Provider
	issuer *url.URL
	client *http.Client

	// cache is read lock-free on every request; mu guards the fetch bookkeeping.
	cache atomic.Pointer[cachedKeys]

	mu          sync.Mutex
	lastAttempt time.Time
	lastErr     *TokenError // the last failed fetch, while nothing is cached
	inflight    *fetchCall
}

type cachedKeys struct {
	keys    *keySet
	fetched time.Time
	expires time.Time
}

// fetchCall is one in-flight refresh that concurrent callers share (singleflight).
type fetchCall struct {
	done  chan struct{}
	cache *cachedKeys
	err   *TokenError
}

func newProviderState(v *Verifier, p Provider) (*providerState, error) {
	u, err := validateProviderURL(&p)
	if err != nil {
		return nil, err
	}
	p.ClientIDs = slices.Clone(p.ClientIDs)
	thumbs := make(map[string]bool, len(p.Thumbprints))
	for _, t := range p.Thumbprints {
		b, err := hex.DecodeString(t)
		if err != nil || len(b) != sha1.Size {
			return nil, fmt.Errorf("federation: provider %q: thumbprint %q is not 40 hex characters", p.URL, t)
		}
		thumbs[strings.ToLower(t)] = true
	}
	var roots *x509.CertPool
	if len(p.CABundlePEM) > 0 {
		roots = x509.NewCertPool()
		if !roots.AppendCertsFromPEM(p.CABundlePEM) {
			return nil, fmt.Errorf("federation: provider %q: CA bundle holds no PEM certificate", p.URL)
		}
	}
	st := &providerState{v: v, cfg: p, issuer: u}
	st.client = st.newClient(roots, thumbs)
	return st, nil
}

// errRedirect marks a redirect we refuse to follow.
var errRedirect = errors.New("redirect refused")

func (p *providerState) newClient(roots *x509.CertPool, thumbs map[string]bool) *http.Client {
	timeout := p.v.opts.FetchTimeout
	tlsConf := &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: roots}
	if len(thumbs) > 0 {
		// Go's built-in verification cannot fall back to a thumbprint, so it is switched
		// off and VerifyConnection does all of it: chain to the roots first (AWS ignores
		// thumbprints for trusted CAs), else accept a chain whose top certificate's
		// SHA-1 is configured — still checking the chain up to it and the host name.
		tlsConf.InsecureSkipVerify = true
		tlsConf.VerifyConnection = func(cs tls.ConnectionState) error {
			return verifyWithThumbprints(cs, roots, thumbs)
		}
	}
	// An outbound proxy from the environment is honoured as by any Go client (loopback
	// never uses one; TLS runs end to end through it, so the checks above still hold),
	// unless the caller injected its own dialer and so owns where connections go.
	dial, proxy := p.v.opts.DialContext, http.ProxyFromEnvironment
	if dial == nil {
		dial = (&net.Dialer{Timeout: timeout}).DialContext
	} else {
		proxy = nil
	}
	tr := &http.Transport{
		Proxy:                 proxy,
		DialContext:           dial,
		TLSClientConfig:       tlsConf,
		TLSHandshakeTimeout:   timeout,
		ResponseHeaderTimeout: timeout,
		MaxIdleConnsPerHost:   2,
		IdleConnTimeout:       90 * time.Second,
		ForceAttemptHTTP2:     true,
	}
	return &http.Client{
		Transport: tr,
		// At most one redirect, and only to the same scheme and host: a discovery or
		// JWKS URL must not bounce key fetches elsewhere (or to plain http).
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) > 1 {
				return fmt.Errorf("%w: more than one", errRedirect)
			}
			if req.URL.Scheme != via[0].URL.Scheme || req.URL.Host != via[0].URL.Host {
				return fmt.Errorf("%w: to another host", errRedirect)
			}
			return nil
		},
	}
}

func verifyWithThumbprints(cs tls.ConnectionState, roots *x509.CertPool, thumbs map[string]bool) error {
	certs := cs.PeerCertificates
	if len(certs) == 0 {
		return errors.New("no certificate presented")
	}
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	opts := x509.VerifyOptions{DNSName: cs.ServerName, Roots: roots, Intermediates: inter}
	_, err := certs[0].Verify(opts)
	if err == nil {
		return nil
	}
	var unknown x509.UnknownAuthorityError
	if !errors.As(err, &unknown) {
		return err // expired, wrong host...: a thumbprint does not excuse those
	}
	// AWS: the thumbprint is the SHA-1 of the last certificate of the chain the JWKS host
	// presents (normally the top intermediate CA; the leaf itself if it sends only one).
	top := certs[len(certs)-1]
	sum := sha1.Sum(top.Raw)
	if !thumbs[hex.EncodeToString(sum[:])] {
		return fmt.Errorf("%w: top certificate %s", ErrThumbprint, hex.EncodeToString(sum[:]))
	}
	pinned := x509.NewCertPool()
	pinned.AddCert(top)
	opts.Roots = pinned
	_, err = certs[0].Verify(opts)
	return err
}

// key returns the verification key for j, fetching the provider's keys on first use and
// refetching (rate-limited, deduplicated) when the kid is unknown.
func (p *providerState) key(ctx context.Context, j *decodedJWS) (*jwk, *TokenError) {
	c := p.cache.Load()
	if c == nil {
		var terr *TokenError
		c, terr = p.refresh(ctx, true)
		if c == nil {
			return nil, terr
		}
	} else if !p.v.opts.Now().Before(c.expires) {
		// Stale: keep answering from it while a refresh runs in the background.
		_, _ = p.refresh(ctx, false)
	}
	if k := c.keys.lookup(j); k != nil {
		return k, nil
	}
	// Unknown kid: the provider may have rotated. One refetch, if the rate limit allows.
	if c2, _ := p.refresh(ctx, true); c2 != nil && c2 != c {
		if k := c2.keys.lookup(j); k != nil {
			return k, nil
		}
	}
	return nil, invalid(msgNoKey, fmt.Errorf("%w: kid %.64q at %s", ErrKeyNotFound, j.kid, p.cfg.URL))
}

// refresh starts a fetch unless one is running or the provider was fetched too recently,
// and (if wait) waits for it. It returns the newest cache (possibly the old one) and,
// when nothing is cached, why.
func (p *providerState) refresh(ctx context.Context, wait bool) (*cachedKeys, *TokenError) {
	p.mu.Lock()
	call := p.inflight
	if call == nil {
		now := p.v.opts.Now()
		cur := p.cache.Load()
		gap := p.v.opts.RefetchInterval
		if cur == nil {
			gap = p.v.opts.RetryInterval
		}
		if !p.lastAttempt.IsZero() && now.Sub(p.lastAttempt) < gap {
			err := p.lastErr
			p.mu.Unlock()
			if cur == nil && err == nil {
				err = invalid(msgNoKey, ErrRefetchLimited)
			}
			return cur, err
		}
		p.lastAttempt = now
		call = &fetchCall{done: make(chan struct{})}
		p.inflight = call
		// The fetch runs detached from ctx: other callers share it, and its result is
		// worth caching even if this request gives up.
		go p.run(call)
	}
	p.mu.Unlock()
	if !wait {
		return nil, nil
	}
	select {
	case <-call.done:
		return call.cache, call.err
	case <-ctx.Done():
		return nil, &TokenError{Code: IDPCommunicationError, Message: msgIDPComm, Cause: fmt.Errorf("%w: %v", errCanceled, ctx.Err())}
	}
}

func (p *providerState) run(call *fetchCall) {
	ctx, cancel := context.WithTimeout(context.Background(), p.v.opts.FetchTimeout)
	defer cancel()
	keys, ttl, err := p.fetch(ctx)
	p.mu.Lock()
	if err == nil {
		now := p.v.opts.Now()
		c := &cachedKeys{keys: keys, fetched: now, expires: now.Add(ttl)}
		p.cache.Store(c)
		p.lastErr = nil
		call.cache = c
		if keys.skipped > 0 {
			p.v.opts.Logger.Warn("federation: skipped unusable JWKS keys", "issuer", p.cfg.URL, "skipped", keys.skipped)
		}
	} else {
		// A failed fetch never replaces a good cache.
		terr := classifyFetchError(err)
		p.lastErr = terr
		call.cache = p.cache.Load()
		if call.cache == nil {
			call.err = terr
		}
		p.v.opts.Logger.Warn("federation: key fetch failed", "issuer", p.cfg.URL, "code", string(terr.Code), "error", err)
	}
	p.inflight = nil
	p.mu.Unlock()
	close(call.done)
}

// transientError marks failures worth retrying: the provider could not be reached or
// answered 5xx/429. Everything else (bad TLS, bad JSON, refused redirect, huge body) is
// a configuration problem that a retry will not fix.
type transientError struct{ err error }

func (e *transientError) Error() string { return e.err.Error() }
func (e *transientError) Unwrap() error { return e.err }

func classifyFetchError(err error) *TokenError {
	if errors.Is(err, ErrThumbprint) {
		return invalid(msgThumbprint, err)
	}
	var t *transientError
	if errors.As(err, &t) {
		return &TokenError{Code: IDPCommunicationError, Message: msgIDPComm, Cause: fmt.Errorf("%w: %v", ErrFetchTransient, err)}
	}
	return invalid(msgNoKey, fmt.Errorf("%w: %v", ErrFetch, err))
}

// fetch reads discovery, then the JWKS it names.
func (p *providerState) fetch(ctx context.Context) (*keySet, time.Duration, error) {
	discoveryURL := strings.TrimSuffix(p.cfg.URL, "/") + "/.well-known/openid-configuration"
	body, _, err := p.get(ctx, discoveryURL)
	if err != nil {
		return nil, 0, fmt.Errorf("discovery: %w", err)
	}
	doc, err := parseJSONObject(body)
	if err != nil {
		return nil, 0, fmt.Errorf("discovery: %w", err)
	}
	// OIDC Discovery §4.3: the document must name exactly the issuer we asked for, or
	// its keys could be another issuer's.
	if iss, _ := doc["issuer"].(string); iss != p.cfg.URL {
		return nil, 0, fmt.Errorf("discovery: issuer %.200q is not %q", iss, p.cfg.URL)
	}
	jwksURI, _ := doc["jwks_uri"].(string)
	ju, err := url.Parse(jwksURI)
	if err != nil || jwksURI == "" {
		return nil, 0, fmt.Errorf("discovery: bad jwks_uri %.200q", jwksURI)
	}
	if err := p.checkJWKSURL(ju); err != nil {
		return nil, 0, err
	}
	body, hdr, err := p.get(ctx, jwksURI)
	if err != nil {
		return nil, 0, fmt.Errorf("JWKS: %w", err)
	}
	ks, err := parseJWKS(body)
	if err != nil {
		return nil, 0, err
	}
	if len(ks.byKID) == 0 && len(ks.noKID) == 0 {
		return nil, 0, fmt.Errorf("%w (%d skipped)", errNoUsableKeySets, ks.skipped)
	}
	return ks, p.ttl(hdr), nil
}

func (p *providerState) checkJWKSURL(u *url.URL) error {
	switch u.Scheme {
	case "https":
	case "http":
		if !p.cfg.AllowInsecureHTTPLoopback || !isLoopbackHost(u.Hostname()) {
			return fmt.Errorf("discovery: jwks_uri %.200q is not https", u.String())
		}
	default:
		return fmt.Errorf("discovery: jwks_uri %.200q is not https", u.String())
	}
	if u.User != nil || u.Host == "" {
		return fmt.Errorf("discovery: bad jwks_uri %.200q", u.String())
	}
	if !p.cfg.AllowJWKSOnOtherHost && u.Host != p.issuer.Host {
		return fmt.Errorf("discovery: jwks_uri host %q is not the issuer's %q", u.Host, p.issuer.Host)
	}
	return nil
}

// get fetches url with the provider's client, reading at most MaxResponseBytes.
func (p *providerState) get(ctx context.Context, u string) (string, http.Header, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := p.client.Do(req)
	if err != nil {
		if errors.Is(err, errRedirect) || errors.Is(err, ErrThumbprint) || isCertError(err) {
			return "", nil, err
		}
		return "", nil, &transientError{err}
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		// Drain a little so the connection can be reused; never the whole body.
		_, _ = io.CopyN(io.Discard, resp.Body, 4<<10)
		err := fmt.Errorf("%s answered HTTP %d", u, resp.StatusCode)
		if resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests {
			return "", nil, &transientError{err}
		}
		return "", nil, err
	}
	limit := p.v.opts.MaxResponseBytes
	b, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return "", nil, &transientError{err}
	}
	if int64(len(b)) > limit {
		return "", nil, fmt.Errorf("%s: response larger than %d bytes", u, limit)
	}
	return string(b), resp.Header, nil
}

func isCertError(err error) bool {
	var (
		cv *tls.CertificateVerificationError
		ua x509.UnknownAuthorityError
		he x509.HostnameError
		ci x509.CertificateInvalidError
	)
	return errors.As(err, &cv) || errors.As(err, &ua) || errors.As(err, &he) || errors.As(err, &ci)
}

// ttl reads Cache-Control max-age from the JWKS response, clamped to [5 min, 24 h]:
// short enough to pick up rotations, long enough that the cache absorbs load.
func (p *providerState) ttl(h http.Header) time.Duration {
	ttl := p.v.opts.DefaultTTL
	for _, part := range strings.Split(h.Get("Cache-Control"), ",") {
		part = strings.TrimSpace(part)
		switch {
		case strings.EqualFold(part, "no-cache"), strings.EqualFold(part, "no-store"):
			ttl = MinCacheTTL
		case len(part) > 8 && strings.EqualFold(part[:8], "max-age="):
			if n, err := strconv.ParseInt(part[8:], 10, 64); err == nil && n >= 0 {
				if n > int64(MaxCacheTTL/time.Second) {
					n = int64(MaxCacheTTL / time.Second)
				}
				ttl = time.Duration(n) * time.Second
			}
		}
	}
	return min(max(ttl, MinCacheTTL), MaxCacheTTL)
}
