package issuer

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
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
	from      int // which replica it fetches from (they alternate)
	// verified remembers tokens already verified against the current
	// JWKS: the answer can only change when the JWKS is refetched.
	verified map[string]bool
}

func (v *verifier) maybeRefresh(t *testing.T, replicas []*Issuer, now, start time.Time) {
	if !v.started {
		if now.Before(start.Add(v.offset)) {
			return
		}
		v.started = true
	} else if now.Sub(v.fetchedAt) < replicas[0].cfg.JWKSMaxAge {
		return
	}
	v.from = (v.from + 1) % len(replicas)
	jwks, err := replicas[v.from].JWKS()
	if err != nil {
		t.Fatalf("%s: replica %d refuses the JWKS: %v", now, v.from, err)
	}
	v.set = jose.JSONWebKeySet{}
	if err := json.Unmarshal(jwks, &v.set); err != nil {
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

// TestRotationNeverBreaksAVerifier runs eight simulated hours of rotations
// — automatic ones every hour, plus rotations written by a CLI whose config
// has shorter leads than the servers' — on two replicas sharing one store.
// Replica B reloads seven times less often than A (3.5 min, just inside
// StaleAfter) and its clock runs 40 s behind. Maximum-lifetime tokens are minted all the time. At every step,
// every token still valid must verify against the JWKS each verifier holds
// (fetched from alternating replicas and kept for the full max-age), and no
// key may leave the JWKS of either replica before the last token it signed
// has expired.
func TestRotationNeverBreaksAVerifier(t *testing.T) {
	ctx := context.Background()
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clk := &fakeClock{t: start}
	skewed := func() time.Time { return clk.t.Add(-40 * time.Second) }
	cfg := Config{
		Algorithm:      keys.ES256, // cheap to sign and verify many times
		JWKSMaxAge:     10 * time.Minute,
		MaxLifetime:    20 * time.Minute,
		DefaultTTL:     20 * time.Minute, // every token lives as long as allowed
		RotationPeriod: time.Hour,
		ReloadInterval: time.Minute,
	}
	st := newTestStore(t)
	sealer := newTestSealer(t)
	a := newTestIssuer(t, cfg, st, sealer, clk)
	b, err := New(func() Config { c := cfg; c.URL = a.cfg.URL; return c }(), st, sealer, skewed, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Maintain(ctx); err != nil {
		t.Fatal(err)
	}
	// The CLI: same store and issuer, a config with a 1-minute max-age and
	// a short max lifetime; its rotations are too hasty for the servers.
	cliCfg := Config{URL: a.cfg.URL, Algorithm: keys.ES256, JWKSMaxAge: time.Minute, MaxLifetime: 5 * time.Minute, ReloadInterval: 15 * time.Second}
	cli, err := New(cliCfg, st, sealer, clk.Now, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	replicas := []*Issuer{a, b}
	var verifiers []*verifier
	for n := range 10 { // fetch phases spread over one max-age
		verifiers = append(verifiers, &verifier{offset: time.Duration(n) * 61 * time.Second, from: n % 2})
	}
	runner := &store.Runner{ID: 1}
	req := &MintRequest{Audience: Audience{"sts.amazonaws.com"}, ProjectPath: "g/p", Ref: "main"}

	var outstanding []mintedToken
	lastExp := map[string]time.Time{} // kid → latest exp it signed
	kids := map[string]bool{}
	cliRotations := 0
	const step = 30 * time.Second
	for n := 0; clk.t.Before(start.Add(8 * time.Hour)); n++ {
		if err := a.Maintain(ctx); err != nil {
			t.Fatalf("%s: maintain A: %v", clk.t, err)
		}
		if n%7 == 0 { // 3.5 min: as late as a replica can be and still serve
			if err := b.Maintain(ctx); err != nil {
				t.Fatalf("%s: maintain B: %v", clk.t, err)
			}
		}
		if n%260 == 130 { // every 2h10m, mid-period
			if _, err := cli.Rotate(ctx); err == nil {
				cliRotations++
			} else if !errors.Is(err, ErrRotationInProgress) {
				t.Fatalf("%s: CLI rotate: %v", clk.t, err)
			}
		}
		now := clk.t
		// Keys leave a replica's JWKS only after their last token expired.
		for ri, r := range replicas {
			jwks, err := r.JWKS()
			if err != nil {
				t.Fatalf("%s: replica %d: %v", now, ri, err)
			}
			var set jose.JSONWebKeySet
			_ = json.Unmarshal(jwks, &set)
			published := map[string]bool{}
			for _, k := range set.Keys {
				published[k.KeyID] = true
			}
			for kid, exp := range lastExp {
				if !published[kid] && now.Before(exp) {
					t.Fatalf("%s: replica %d unpublished %s before its last token expires at %s", now, ri, kid, exp)
				}
			}
			if len(set.Keys) > 4 {
				t.Fatalf("%s: %d keys published; expired keys are not being removed", now, len(set.Keys))
			}
		}
		for _, v := range verifiers {
			v.maybeRefresh(t, replicas, now, start)
		}
		for ri, r := range replicas {
			if ri == 1 && n%2 == 1 {
				continue
			}
			tok, claims, err := r.Mint(runner, req)
			if err != nil {
				t.Fatalf("%s: replica %d mint: %v", now, ri, err)
			}
			jws, _ := jose.ParseSignedCompact(tok, []jose.SignatureAlgorithm{jose.ES256})
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
					t.Fatalf("%s: verifier %d (JWKS fetched %s from replica %d) rejects a live token signed by %s: %v", now, vi, v.fetchedAt, v.from, m.kid, err)
				}
			}
		}
		outstanding = live
		clk.Advance(step)
	}
	if cliRotations == 0 {
		t.Fatal("the CLI never got to rotate; the test lost its point")
	}
	// About one key per hour, however many replicas maintained the
	// schedule each step.
	if len(kids) < 7 || len(kids) > 11 {
		t.Fatalf("signed with %d distinct keys in 8 h (%d CLI rotations); want one per period", len(kids), cliRotations)
	}
}

// TestStaleReplicaStopsSigning: a replica that cannot re-read the schedule
// stops minting and publishing once its snapshot is older than StaleAfter,
// reports not ready, and recovers when the store answers again.
func TestStaleReplicaStopsSigning(t *testing.T) {
	ctx := context.Background()
	clk := &fakeClock{t: time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)}
	iss := newTestIssuer(t, Config{Algorithm: keys.ES256, ReloadInterval: 30 * time.Second}, newTestStore(t), newTestSealer(t), clk)
	req := &MintRequest{Audience: Audience{"a"}, ProjectPath: "g/p", Ref: "main"}
	if err := iss.Ready(); err != nil {
		t.Fatalf("fresh issuer not ready: %v", err)
	}
	clk.Advance(iss.cfg.StaleAfter())
	if _, _, err := iss.Mint(&store.Runner{ID: 1}, req); err != nil {
		t.Fatalf("at exactly StaleAfter: %v", err)
	}
	clk.Advance(time.Second)
	if _, _, err := iss.Mint(&store.Runner{ID: 1}, req); !errors.Is(err, ErrScheduleStale) {
		t.Fatalf("mint from a stale snapshot: err = %v", err)
	}
	if _, err := iss.JWKS(); !errors.Is(err, ErrScheduleStale) {
		t.Fatalf("JWKS from a stale snapshot: err = %v", err)
	}
	if err := iss.Ready(); !errors.Is(err, ErrScheduleStale) {
		t.Fatalf("Ready = %v", err)
	}
	if err := iss.Maintain(ctx); err != nil {
		t.Fatal(err)
	}
	if _, _, err := iss.Mint(&store.Runner{ID: 1}, req); err != nil {
		t.Fatalf("after recovery: %v", err)
	}
}

// TestAlgorithmChangeRotates: switching the configured algorithm starts a
// rotation at once, and discovery lists both algorithms while keys of both
// are published, so algorithm-checking verifiers keep working.
func TestAlgorithmChangeRotates(t *testing.T) {
	ctx := context.Background()
	clk := &fakeClock{t: time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)}
	st, sealer := newTestStore(t), newTestSealer(t)
	rs := newTestIssuer(t, Config{Algorithm: keys.RS256}, st, sealer, clk)
	es := newTestIssuer(t, Config{Algorithm: keys.ES256, URL: rs.cfg.URL}, st, sealer, clk)
	ks, err := es.Keys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(ks) != 2 || ks[0].Algorithm != keys.RS256 || ks[1].Algorithm != keys.ES256 || ks[1].Status != StatusPending {
		t.Fatalf("after switching to ES256: %+v", ks)
	}
	var doc struct {
		Algs []string `json:"id_token_signing_alg_values_supported"`
	}
	_ = json.Unmarshal(es.Discovery(), &doc)
	if strings.Join(doc.Algs, ",") != "ES256,RS256" {
		t.Fatalf("discovery algorithms %v", doc.Algs)
	}
	clk.Advance(es.cfg.lead())
	if err := es.Maintain(ctx); err != nil {
		t.Fatal(err)
	}
	tok, _, err := es.Mint(&store.Runner{ID: 1}, &MintRequest{Audience: Audience{"a"}, ProjectPath: "g/p", Ref: "main"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := jose.ParseSignedCompact(tok, []jose.SignatureAlgorithm{jose.ES256}); err != nil {
		t.Fatalf("after activation the token is not ES256: %v", err)
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
	lead, tail := iss.cfg.lead(), iss.cfg.tail()
	if lead != time.Hour+3*time.Minute || tail != 2*time.Hour+3*time.Minute {
		t.Fatalf("lead %s tail %s; want the 1h max-age and 2h lifetime plus a 3m margin", lead, tail)
	}
	if rot.RetiredKID != first || !rot.ActivateAt.Equal(clk.t.Add(lead)) || !rot.RetiredExpireAt.Equal(clk.t.Add(lead+tail)) {
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
		{"one second before activation", lead - time.Second, first, map[string]KeyStatus{first: StatusActive, rot.KID: StatusPending}},
		{"activation instant", time.Second, rot.KID, map[string]KeyStatus{first: StatusRetired, rot.KID: StatusActive}},
		{"old key still published while its tokens live", tail - time.Second, rot.KID, map[string]KeyStatus{first: StatusRetired, rot.KID: StatusActive}},
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
		jwks, _ := iss.JWKS()
		_ = json.Unmarshal(jwks, &set)
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
		got, _ := r.JWKS()
		want, _ := replicas[0].JWKS()
		if string(got) != string(want) {
			t.Fatalf("replica %d publishes a different JWKS", n)
		}
	}
}
