package issuer

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/oidcfed/oidcfed/internal/keys"
	"github.com/oidcfed/oidcfed/internal/store"
	"github.com/oidcfed/oidcfed/internal/store/sqlite"
)

// fakeClock is the injected clock every time-dependent test drives.
type fakeClock struct{ t time.Time }

func (c *fakeClock) Now() time.Time          { return c.t }
func (c *fakeClock) Advance(d time.Duration) { c.t = c.t.Add(d) }

func newTestStore(t testing.TB) store.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "oidcfed.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func newTestSealer(t testing.TB) *keys.Sealer {
	t.Helper()
	raw := make([]byte, keys.MasterKeySize)
	_, _ = rand.Read(raw)
	mk, err := keys.NewMasterKey(raw)
	if err != nil {
		t.Fatal(err)
	}
	return keys.NewSealer(mk)
}

func newTestIssuer(t testing.TB, cfg Config, st store.Store, sealer *keys.Sealer, clk *fakeClock) *Issuer {
	t.Helper()
	if cfg.URL == "" {
		cfg.URL = "https://ci.example.com"
	}
	iss, err := New(cfg, st, sealer, clk.Now, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := iss.Maintain(context.Background()); err != nil {
		t.Fatal(err)
	}
	return iss
}

// verifier models a relying party (AWS STS, go-oidc) that fetches the JWKS
// and keeps it for exactly the advertised max-age: the worst case a correct
// cache can be in.
type verifier struct {
	set       jose.JSONWebKeySet
	fetchedAt time.Time
	offset    time.Duration // first fetch happens this long after the start
	started   bool
	// verified remembers tokens already verified against the current
	// JWKS: the answer can only change when the JWKS is refetched.
	verified map[string]bool
}

func (v *verifier) maybeRefresh(t *testing.T, iss *Issuer, now, start time.Time) {
	if !v.started {
		if now.Before(start.Add(v.offset)) {
			return
		}
		v.started = true
	} else if now.Sub(v.fetchedAt) < iss.cfg.JWKSMaxAge {
		return
	}
	v.set = jose.JSONWebKeySet{}
	if err := json.Unmarshal(iss.JWKS(), &v.set); err != nil {
		t.Fatal(err)
	}
	v.fetchedAt = now
	v.verified = map[string]bool{}
}

func (v *verifier) verify(token string) error {
	if v.verified[token] {
		return nil
	}
	jws, err := jose.ParseSignedCompact(token, []jose.SignatureAlgorithm{jose.RS256, jose.ES256})
	if err != nil {
		return err
	}
	kid := jws.Signatures[0].Header.KeyID
	found := v.set.Key(kid)
	if len(found) != 1 {
		return errors.New("kid " + kid + " not in the cached JWKS")
	}
	if _, err = jws.Verify(found[0].Key); err == nil {
		v.verified[token] = true
	}
	return err
}

type mintedToken struct {
	token string
	kid   string
	exp   time.Time
}

// TestRotationNeverBreaksAVerifier runs five simulated days of automatic
// rotation on two replicas sharing one store, minting maximum-lifetime
// tokens every few minutes, and checks at every step that every token still
// valid verifies against the JWKS each verifier holds at that moment, and
// that no key is unpublished before the last token it signed has expired.
func TestRotationNeverBreaksAVerifier(t *testing.T) {
	ctx := context.Background()
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clk := &fakeClock{t: start}
	cfg := Config{
		JWKSMaxAge:     time.Hour,
		MaxLifetime:    2 * time.Hour,
		DefaultTTL:     2 * time.Hour, // every token lives as long as allowed
		RotationPeriod: 24 * time.Hour,
	}
	st := newTestStore(t)
	sealer := newTestSealer(t)
	replicas := []*Issuer{newTestIssuer(t, cfg, st, sealer, clk), newTestIssuer(t, cfg, st, sealer, clk)}
	verifiers := []*verifier{{offset: 0}, {offset: 17 * time.Minute}, {offset: 43 * time.Minute}}
	runner := &store.Runner{ID: 1}
	req := &MintRequest{Audience: Audience{"sts.amazonaws.com"}, ProjectPath: "g/p", Ref: "main"}

	var outstanding []mintedToken
	lastExp := map[string]time.Time{} // kid → latest exp it signed
	kids := map[string]bool{}
	const step = 7 * time.Minute
	for clk.t.Before(start.Add(5 * 24 * time.Hour)) {
		for _, r := range replicas {
			if err := r.Maintain(ctx); err != nil {
				t.Fatalf("%s: maintain: %v", clk.t, err)
			}
		}
		now := clk.t
		// Keys leave the JWKS only after their last token expired.
		published := map[string]bool{}
		var set jose.JSONWebKeySet
		_ = json.Unmarshal(replicas[0].JWKS(), &set)
		for _, k := range set.Keys {
			published[k.KeyID] = true
		}
		for kid, exp := range lastExp {
			if !published[kid] && now.Before(exp) {
				t.Fatalf("%s: key %s unpublished before its last token expires at %s", now, kid, exp)
			}
		}
		if len(set.Keys) > 3 {
			t.Fatalf("%s: %d keys published; expired keys are not being removed", now, len(set.Keys))
		}
		for _, v := range verifiers {
			v.maybeRefresh(t, replicas[0], now, start)
		}
		for n, r := range replicas {
			tok, claims, err := r.Mint(runner, req)
			if err != nil {
				t.Fatalf("%s: replica %d mint: %v", now, n, err)
			}
			jws, _ := jose.ParseSignedCompact(tok, []jose.SignatureAlgorithm{jose.RS256})
			kid := jws.Signatures[0].Header.KeyID
			kids[kid] = true
			exp := time.Unix(claims.Expiry, 0)
			if exp.After(lastExp[kid]) {
				lastExp[kid] = exp
			}
			outstanding = append(outstanding, mintedToken{tok, kid, exp})
		}
		live := outstanding[:0]
		for _, m := range outstanding {
			if !now.Before(m.exp) {
				continue
			}
			live = append(live, m)
			for vi, v := range verifiers {
				if !v.started {
					continue
				}
				if err := v.verify(m.token); err != nil {
					t.Fatalf("%s: verifier %d (JWKS fetched %s) rejects a live token signed by %s: %v", now, vi, v.fetchedAt, m.kid, err)
				}
			}
		}
		outstanding = live
		clk.Advance(step)
	}
	// 5 days with a 24 h period: the first key plus one per elapsed period,
	// created once although two replicas ran maintenance every step.
	if len(kids) < 5 || len(kids) > 6 {
		t.Fatalf("signed with %d distinct keys in 5 days; want 5 or 6 (one rotation per period)", len(kids))
	}
	ks, err := replicas[0].Keys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(ks) > 3 {
		t.Fatalf("%d keys kept in the store; expired keys should be deleted", len(ks))
	}
}

// TestRotationSchedule checks the state machine's transitions one by one.
func TestRotationSchedule(t *testing.T) {
	ctx := context.Background()
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	clk := &fakeClock{t: start}
	cfg := Config{JWKSMaxAge: time.Hour, MaxLifetime: 2 * time.Hour, RotationPeriod: 0}
	iss := newTestIssuer(t, cfg, newTestStore(t), newTestSealer(t), clk)

	status := func() map[string]KeyStatus {
		ks, err := iss.Keys(ctx)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]KeyStatus{}
		for _, k := range ks {
			out[k.KID] = k.Status
		}
		return out
	}
	signingKID := func() string {
		tok, _, err := iss.Mint(&store.Runner{ID: 1}, &MintRequest{Audience: Audience{"a"}, ProjectPath: "g/p", Ref: "main"})
		if err != nil {
			t.Fatal(err)
		}
		jws, _ := jose.ParseSignedCompact(tok, []jose.SignatureAlgorithm{jose.RS256})
		return jws.Signatures[0].Header.KeyID
	}

	first := signingKID()
	if got := status(); len(got) != 1 || got[first] != StatusActive {
		t.Fatalf("after bootstrap: %v", got)
	}
	// Automatic rotation is off: nothing happens with time alone.
	clk.Advance(90 * 24 * time.Hour)
	if err := iss.Maintain(ctx); err != nil {
		t.Fatal(err)
	}
	if len(status()) != 1 {
		t.Fatal("rotation happened with rotation_period 0")
	}

	rot, err := iss.Rotate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rot.RetiredKID != first || !rot.ActivateAt.Equal(clk.t.Add(time.Hour)) || !rot.RetiredExpireAt.Equal(clk.t.Add(3*time.Hour)) {
		t.Fatalf("rotation = %+v", rot)
	}
	if _, err := iss.Rotate(ctx); !errors.Is(err, ErrRotationInProgress) {
		t.Fatalf("second rotate during pending: err = %v, want ErrRotationInProgress", err)
	}
	steps := []struct {
		name       string
		advance    time.Duration
		wantSigner string
		want       map[string]KeyStatus
	}{
		{"new key published, not signing", 0, first, map[string]KeyStatus{first: StatusActive, rot.KID: StatusPending}},
		{"one second before activation", time.Hour - time.Second, first, map[string]KeyStatus{first: StatusActive, rot.KID: StatusPending}},
		{"activation instant", time.Second, rot.KID, map[string]KeyStatus{first: StatusRetired, rot.KID: StatusActive}},
		{"old key still published while its tokens live", 2*time.Hour - time.Second, rot.KID, map[string]KeyStatus{first: StatusRetired, rot.KID: StatusActive}},
		{"old key gone once its last token expired", time.Second, rot.KID, map[string]KeyStatus{rot.KID: StatusActive}},
	}
	for _, s := range steps {
		clk.Advance(s.advance)
		if err := iss.Maintain(ctx); err != nil {
			t.Fatal(err)
		}
		if got := signingKID(); got != s.wantSigner {
			t.Errorf("%s: signing kid %s, want %s", s.name, got, s.wantSigner)
		}
		got := status()
		if len(got) != len(s.want) {
			t.Errorf("%s: keys %v, want %v", s.name, got, s.want)
		}
		for kid, st := range s.want {
			if got[kid] != st {
				t.Errorf("%s: %s is %s, want %s", s.name, kid, got[kid], st)
			}
		}
		var set jose.JSONWebKeySet
		_ = json.Unmarshal(iss.JWKS(), &set)
		if len(set.Keys) != len(s.want) {
			t.Errorf("%s: JWKS has %d keys, want %d", s.name, len(set.Keys), len(s.want))
		}
	}
}

// TestReplicasRotateOnce races several replicas' maintenance at the instant
// a rotation falls due: exactly one new key must result.
func TestReplicasRotateOnce(t *testing.T) {
	ctx := context.Background()
	clk := &fakeClock{t: time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)}
	cfg := Config{JWKSMaxAge: time.Hour, MaxLifetime: time.Hour, RotationPeriod: 48 * time.Hour, Algorithm: keys.ES256}
	st, sealer := newTestStore(t), newTestSealer(t)
	var replicas []*Issuer
	for range 4 {
		replicas = append(replicas, newTestIssuer(t, cfg, st, sealer, clk))
	}
	clk.Advance(48 * time.Hour)
	errs := make(chan error, len(replicas))
	for _, r := range replicas {
		go func() { errs <- r.Maintain(ctx) }()
	}
	for range replicas {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	ks, err := replicas[0].Keys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(ks) != 2 {
		t.Fatalf("%d keys after concurrent maintenance, want 2 (one rotation)", len(ks))
	}
	// All replicas publish the same JWKS.
	for n, r := range replicas {
		if err := r.Reload(ctx); err != nil {
			t.Fatal(err)
		}
		if string(r.JWKS()) != string(replicas[0].JWKS()) {
			t.Fatalf("replica %d publishes a different JWKS", n)
		}
	}
}
