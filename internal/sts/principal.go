package sts

import (
	"strconv"
	"strings"
	"time"

	"github.com/oidcfed/oidcfed/internal/iam/policy"
)

// principal is what a caller contributes to every request it signs: its
// ARN as policies and messages name it, and its condition keys. For a
// session it depends only on the session (and the account, fixed for a
// server), so a session's is built once and kept with its opened token
// (opened.go): the KMS Sign path used to build these strings anew on every
// request, several times over. It is shared and must not be modified; its
// value slices are full (len == cap), so an append to one copies.
type principal struct {
	arn     string
	context []contextPair // in the order RequestContext sets them: later pairs win
}

// contextPair is one condition key, lower-case as policy.Context.Set
// stores keys.
type contextPair struct {
	key    string
	values []string
}

// principalOf returns c's principal: the one built with c when it was
// authenticated, else built now.
func (s *Service) principalOf(c *Caller) *principal {
	if c.principal != nil {
		return c.principal
	}
	return s.newPrincipal(c)
}

// withPrincipal builds c's principal once for the request: a user's is not
// kept beyond it, as its tags may change between requests.
func (s *Service) withPrincipal(c *Caller) *Caller {
	c.principal = s.newPrincipal(c)
	return c
}

// sessionPrincipal is sess's principal, kept with its opened token o (nil
// when the token is not cached) for the session's later requests.
func (s *Service) sessionPrincipal(sess *Session, o *openedToken) *principal {
	if o != nil {
		if p := o.principal.Load(); p != nil {
			return p
		}
	}
	p := s.newPrincipal(&Caller{Session: sess})
	if o != nil {
		o.principal.Store(p)
	}
	return p
}

// newPrincipal builds c's principal: the global principal keys (ARN, type,
// account, tags, and a web-identity session's provider, sub and aud).
func (s *Service) newPrincipal(c *Caller) *principal {
	account := s.dir.Account()
	p := &principal{context: make([]contextPair, 0, 10)}
	set := func(key, value string) {
		p.context = append(p.context, contextPair{key: strings.ToLower(key), values: []string{value}})
	}
	set("aws:principalaccount", account)
	switch {
	case c.Root:
		p.arn = "arn:aws:iam::" + account + ":root"
		set("aws:principalarn", p.arn)
		set("aws:principaltype", "Account")
	case c.User != nil:
		u := c.User
		p.arn = u.ARN
		set("aws:principalarn", u.ARN)
		set("aws:principaltype", "User")
		set("aws:username", u.Name)
		set("aws:userid", u.ID)
		for _, t := range u.Tags {
			set("aws:PrincipalTag/"+t.Key, t.Value)
		}
	default:
		sess := c.Session
		_, roleName := roleNameFromARN(sess.RoleARN)
		p.arn = assumedRoleARN(account, roleName, sess.SessionName)
		set("aws:principalarn", sess.RoleARN)
		set("aws:principaltype", "AssumedRole")
		set("aws:userid", sess.RoleID+":"+sess.SessionName)
		for _, t := range sess.Tags {
			set("aws:PrincipalTag/"+t.Key, t.Value)
		}
		if sess.SourceIdentity != "" {
			set("aws:sourceidentity", sess.SourceIdentity)
		}
		if sess.ProviderARN != "" {
			// A web-identity session carries its provider and the token's
			// aud and sub into every later request, as on AWS.
			set("aws:federatedprovider", sess.ProviderARN)
			if _, prov, ok := strings.Cut(sess.ProviderARN, ":oidc-provider/"); ok {
				set(prov+":sub", sess.Subject)
				set(prov+":aud", sess.Audience)
			}
		}
	}
	return p
}

// clockKeys are the request-time condition keys of one second: they change
// once a second, not once a request.
type clockKeys struct {
	unix            int64
	currentTime     []string
	epochTime       []string
	requestedRegion []string
}

func (s *Service) clockKeys(now time.Time) *clockKeys {
	unix := now.Unix()
	if k := s.clock.Load(); k != nil && k.unix == unix {
		return k
	}
	k := &clockKeys{unix: unix, currentTime: []string{now.UTC().Format("2006-01-02T15:04:05Z")},
		epochTime: []string{strconv.FormatInt(unix, 10)}, requestedRegion: []string{s.dir.Region()}}
	s.clock.Store(k)
	return k
}

// addRequestContext sets the principal's and the request's global keys in
// pc, after (so over) whatever pc holds.
func (s *Service) addRequestContext(pc policy.Context, p *principal) policy.Context {
	for _, kv := range p.context {
		pc[kv.key] = kv.values
	}
	k := s.clockKeys(s.now())
	pc["aws:currenttime"] = k.currentTime
	pc["aws:epochtime"] = k.epochTime
	pc["aws:requestedregion"] = k.requestedRegion
	return pc
}

// contextSize is how many keys addRequestContext sets for p.
func contextSize(p *principal) int { return len(p.context) + 3 }
