// Package storetest is the conformance suite every store backend runs, so
// that code written against store.Store behaves the same on SQLite and on
// PostgreSQL. A backend's own tests call RunTests, RunTransactionTests and
// RunConcurrencyTests with a constructor that returns a fresh, empty store
// (and registers its Close with t.Cleanup); backend-specific behaviour
// (files, corruption, connection handling) is tested next to the backend.
//
// The suite pins down the contract in store.go where the interface comments
// leave room for a backend to differ: times come back in UTC with their
// nanoseconds, "no constraints" may come back as a nil or an empty map, and
// Reseal is all or nothing on its own, not only when the caller rolls back.
package storetest

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oidcfed/oidcfed/internal/store"
)

type testCase struct {
	name string
	run  func(t *testing.T, s store.Store)
}

// runAll runs each test on its own store. newStore must return a fresh,
// empty store and arrange for it to be closed when the test ends.
func runAll(t *testing.T, newStore func(t *testing.T) store.Store, tests []testCase) {
	t.Helper()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, newStore(t)) })
	}
}

// RunTests runs the record-level conformance tests: runners, signing keys,
// time handling, Reseal, and the basic View/Update contract.
func RunTests(t *testing.T, newStore func(t *testing.T) store.Store) {
	runAll(t, newStore, []testCase{
		{"RunnerCreateGet", testRunnerCreateGet},
		{"RunnerIDsAssigned", testRunnerIDsAssigned},
		{"RunnerByTokenHash", testRunnerByTokenHash},
		{"RunnerNotFound", testRunnerNotFound},
		{"RunnerDuplicateTokenHash", testRunnerDuplicateTokenHash},
		{"RunnerNameUniqueAmongActive", testRunnerNameUnique},
		{"RunnerRevoke", testRunnerRevoke},
		{"RunnerConstraintsRoundTrip", testRunnerConstraints},
		{"RunnerList", testRunnerList},
		{"RunnerImport", testRunnerImport},
		{"SigningKeyCreateList", testSigningKeyCreateList},
		{"SigningKeyListOrder", testSigningKeyListOrder},
		{"SigningKeyDuplicateKID", testSigningKeyDuplicate},
		{"SigningKeySchedule", testSigningKeySchedule},
		{"SigningKeyPostpone", testSigningKeyPostpone},
		{"SigningKeyDelete", testSigningKeyDelete},
		{"TimesRoundTrip", testTimesRoundTrip},
		{"OptionalTimes", testOptionalTimes},
		{"AccessKeys", testAccessKeys},
		{"ResealAccessKeys", testResealAccessKeys},
		{"AccessKeyStatusDelete", testAccessKeyStatusDelete},
		{"IAMRecords", testIAMRecords},
		{"IAMRecordsInView", testIAMRecordsInView},
		{"ListAll", testListAll},
		{"KMSKeys", testKMSKeys},
		{"KMSAliases", testKMSAliases},
		{"ResealKMSKeys", testResealKMSKeys},
		{"ECRRepositories", testECRRepositories},
		{"ECRImagesAndTags", testECRImagesAndTags},
		{"ECRBlobLinks", testECRBlobLinks},
		{"AuditAppendQuery", testAuditAppendQuery},
		{"AuditPaging", testAuditPaging},
		{"AuditDuplicateSeq", testAuditDuplicateSeq},
		{"AuditPrune", testAuditPrune},
		{"AuditAnchorSet", testAuditAnchorSet},
		{"AuditAppender", testAuditAppender},
		{"Reseal", testReseal},
		{"ResealEmpty", testResealEmpty},
		{"ResealAllOrNothing", testResealAllOrNothing},
		{"ViewRejectsWrites", testViewRejectsWrites},
		{"UpdateRollsBackOnError", testUpdateRollback},
		{"UpdateCommits", testUpdateCommits},
		{"Ping", testPing},
	})
}

// Fixtures and helpers.

// t0 is a fixed instant with a non-zero nanosecond part, so any backend that
// truncates to micro- or milliseconds fails the round-trip checks.
var t0 = time.Date(2026, 3, 14, 15, 9, 26, 535897932, time.UTC)

// tokenHash returns the SHA-256 of seed, like the token hashes real callers
// store.
func tokenHash(seed string) []byte {
	h := sha256.Sum256([]byte(seed))
	return h[:]
}

// tokens numbers the runners newRunner makes so each gets its own hash.
var tokens atomic.Int64

func newRunner(name string) *store.Runner {
	return &store.Runner{
		Name:      name,
		TokenHash: tokenHash(fmt.Sprintf("token-%d", tokens.Add(1))),
		CreatedAt: t0,
	}
}

func newKey(issuer, kid string, activate time.Time) *store.SigningKey {
	return &store.SigningKey{
		Issuer:           issuer,
		KID:              kid,
		Algorithm:        "ES256",
		PublicJWK:        []byte(`{"kty":"EC","crv":"P-256","kid":"` + kid + `"}`),
		SealedPrivateKey: []byte("sealed:" + store.SigningKeyAAD(issuer, kid)),
		CreatedAt:        activate.Add(-time.Hour),
		ActivateAt:       activate,
	}
}

func update(t *testing.T, s store.Store, fn func(tx store.Tx) error) {
	t.Helper()
	if err := s.Update(t.Context(), fn); err != nil {
		t.Fatalf("Update: %v", err)
	}
}

func view(t *testing.T, s store.Store, fn func(tx store.Tx) error) {
	t.Helper()
	if err := s.View(t.Context(), fn); err != nil {
		t.Fatalf("View: %v", err)
	}
}

func createRunner(t *testing.T, s store.Store, r *store.Runner) store.Runner {
	t.Helper()
	update(t, s, func(tx store.Tx) error { return tx.CreateRunner(t.Context(), r) })
	return *r
}

func getRunner(t *testing.T, s store.Store, id int64) store.Runner {
	t.Helper()
	var r store.Runner
	view(t, s, func(tx store.Tx) (err error) {
		r, err = tx.GetRunner(t.Context(), id)
		return err
	})
	return r
}

func listRunners(t *testing.T, s store.Store) []store.Runner {
	t.Helper()
	var rs []store.Runner
	view(t, s, func(tx store.Tx) (err error) {
		rs, err = tx.ListRunners(t.Context())
		return err
	})
	return rs
}

func createKey(t *testing.T, s store.Store, k *store.SigningKey) {
	t.Helper()
	update(t, s, func(tx store.Tx) error { return tx.CreateSigningKey(t.Context(), k) })
}

func listKeys(t *testing.T, s store.Store, issuer string) []store.SigningKey {
	t.Helper()
	var ks []store.SigningKey
	view(t, s, func(tx store.Tx) (err error) {
		ks, err = tx.ListSigningKeys(t.Context(), issuer)
		return err
	})
	return ks
}

func wantErrIs(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Errorf("%s: err = %v, want errors.Is(err, %v)", what, err, target)
	}
}

// sameTime reports whether got is want's instant, in UTC, with nothing lost
// (monotonic readings aside, which no store can keep).
func sameTime(got, want time.Time) bool {
	return got == want.UTC().Round(0) // == also compares the location
}

func sameOptTime(got, want *time.Time) bool {
	if got == nil || want == nil {
		return got == want
	}
	return sameTime(*got, *want)
}

func fmtOptTime(t *time.Time) string {
	if t == nil {
		return "nil"
	}
	return t.String()
}

func sameConstraints(a, b map[string][]string) bool {
	// nil and empty both mean "unconstrained"; so do nil and empty globs.
	return maps.EqualFunc(a, b, func(x, y []string) bool { return slices.Equal(x, y) })
}

// checkRunner compares every field, with the time and constraint rules above.
func checkRunner(t *testing.T, got, want store.Runner) {
	t.Helper()
	if got.ID != want.ID || got.Name != want.Name || !slices.Equal(got.TokenHash, want.TokenHash) {
		t.Errorf("runner = {ID:%d Name:%q}, want {ID:%d Name:%q} (token hashes equal: %v)",
			got.ID, got.Name, want.ID, want.Name, slices.Equal(got.TokenHash, want.TokenHash))
	}
	if !sameConstraints(got.Constraints, want.Constraints) {
		t.Errorf("runner %d constraints = %v, want %v", want.ID, got.Constraints, want.Constraints)
	}
	if !sameTime(got.CreatedAt, want.CreatedAt) {
		t.Errorf("runner %d CreatedAt = %v, want %v", want.ID, got.CreatedAt, want.CreatedAt.UTC())
	}
	if !sameOptTime(got.RevokedAt, want.RevokedAt) {
		t.Errorf("runner %d RevokedAt = %s, want %s", want.ID, fmtOptTime(got.RevokedAt), fmtOptTime(want.RevokedAt))
	}
}

func checkKey(t *testing.T, got, want store.SigningKey) {
	t.Helper()
	name := want.Issuer + "#" + want.KID
	if got.Issuer != want.Issuer || got.KID != want.KID || got.Algorithm != want.Algorithm {
		t.Errorf("key = %s#%s (%s), want %s (%s)", got.Issuer, got.KID, got.Algorithm, name, want.Algorithm)
	}
	if !slices.Equal(got.PublicJWK, want.PublicJWK) {
		t.Errorf("key %s PublicJWK = %s, want %s", name, got.PublicJWK, want.PublicJWK)
	}
	if !slices.Equal(got.SealedPrivateKey, want.SealedPrivateKey) {
		t.Errorf("key %s SealedPrivateKey differs", name)
	}
	for _, f := range []struct {
		field     string
		got, want time.Time
	}{
		{"CreatedAt", got.CreatedAt, want.CreatedAt},
		{"ActivateAt", got.ActivateAt, want.ActivateAt},
	} {
		if !sameTime(f.got, f.want) {
			t.Errorf("key %s %s = %v, want %v", name, f.field, f.got, f.want.UTC())
		}
	}
	for _, f := range []struct {
		field     string
		got, want *time.Time
	}{
		{"RetireAt", got.RetireAt, want.RetireAt},
		{"ExpireAt", got.ExpireAt, want.ExpireAt},
	} {
		if !sameOptTime(f.got, f.want) {
			t.Errorf("key %s %s = %s, want %s", name, f.field, fmtOptTime(f.got), fmtOptTime(f.want))
		}
	}
}

func ptr[T any](v T) *T { return &v }

// Runners.

func testRunnerCreateGet(t *testing.T, s store.Store) {
	want := store.Runner{
		Name:        "ci-main",
		TokenHash:   tokenHash("ci-main"),
		Constraints: map[string][]string{"repository": {"org/*"}},
		CreatedAt:   t0,
	}
	r := want
	createRunner(t, s, &r)
	if r.ID == 0 {
		t.Fatal("CreateRunner did not assign an ID")
	}
	want.ID = r.ID
	checkRunner(t, getRunner(t, s, r.ID), want)
}

func testRunnerIDsAssigned(t *testing.T, s store.Store) {
	seen := map[int64]bool{}
	var last int64
	for i := range 5 {
		r := newRunner(fmt.Sprintf("r%d", i))
		r.ID = 9999 // ignored: the store assigns ids
		createRunner(t, s, r)
		if r.ID == 9999 || seen[r.ID] {
			t.Fatalf("runner %d got id %d, want a fresh one", i, r.ID)
		}
		if r.ID <= last {
			t.Errorf("runner %d got id %d after %d, want increasing ids", i, r.ID, last)
		}
		seen[r.ID], last = true, r.ID
	}
}

func testRunnerByTokenHash(t *testing.T, s store.Store) {
	a := createRunner(t, s, newRunner("a"))
	b := createRunner(t, s, newRunner("b"))
	tests := []struct {
		name    string
		hash    []byte
		want    *store.Runner
		wantErr error
	}{
		{"first", a.TokenHash, &a, nil},
		{"second", b.TokenHash, &b, nil},
		{"unknown", tokenHash("nobody"), nil, store.ErrNotFound},
		{"prefix of a known hash", a.TokenHash[:16], nil, store.ErrNotFound},
		{"empty", []byte{}, nil, store.ErrNotFound},
		{"nil", nil, nil, store.ErrNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := s.View(t.Context(), func(tx store.Tx) error {
				got, err := tx.GetRunnerByTokenHash(t.Context(), tc.hash)
				if err == nil && tc.want != nil {
					checkRunner(t, got, *tc.want)
				}
				return err
			})
			if tc.wantErr == nil && err != nil {
				t.Fatalf("err = %v", err)
			}
			if tc.wantErr != nil {
				wantErrIs(t, "GetRunnerByTokenHash", err, tc.wantErr)
			}
		})
	}
}

func testRunnerNotFound(t *testing.T, s store.Store) {
	r := createRunner(t, s, newRunner("only"))
	tests := []struct {
		name string
		op   func(ctx context.Context, tx store.Tx) error
	}{
		{"get unknown id", func(ctx context.Context, tx store.Tx) error {
			_, err := tx.GetRunner(ctx, r.ID+1000)
			return err
		}},
		{"get id 0", func(ctx context.Context, tx store.Tx) error {
			_, err := tx.GetRunner(ctx, 0)
			return err
		}},
		{"revoke unknown id", func(ctx context.Context, tx store.Tx) error {
			return tx.RevokeRunner(ctx, r.ID+1000, t0)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := s.Update(t.Context(), func(tx store.Tx) error { return tc.op(t.Context(), tx) })
			wantErrIs(t, tc.name, err, store.ErrNotFound)
		})
	}
}

func testRunnerDuplicateTokenHash(t *testing.T, s store.Store) {
	a := createRunner(t, s, newRunner("a"))
	tests := []struct {
		name   string
		revoke bool // revoke a first: the hash stays taken
	}{
		{"active holder", false},
		{"revoked holder", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.revoke {
				update(t, s, func(tx store.Tx) error { return tx.RevokeRunner(t.Context(), a.ID, t0) })
			}
			dup := newRunner("b-" + tc.name)
			dup.TokenHash = slices.Clone(a.TokenHash)
			err := s.Update(t.Context(), func(tx store.Tx) error { return tx.CreateRunner(t.Context(), dup) })
			wantErrIs(t, "CreateRunner with a taken token hash", err, store.ErrAlreadyExists)
		})
	}
	if n := len(listRunners(t, s)); n != 1 {
		t.Errorf("%d runners stored, want 1", n)
	}
}

func testRunnerNameUnique(t *testing.T, s store.Store) {
	// Steps run in order against one store: the name's history matters.
	steps := []struct {
		name    string
		create  string // create a runner with this name...
		revoke  bool   // ...or revoke the newest runner named create
		wantErr error
	}{
		{name: "first ci", create: "ci"},
		{name: "second active ci", create: "ci", wantErr: store.ErrAlreadyExists},
		{name: "other name", create: "deploy"},
		{name: "revoke ci", create: "ci", revoke: true},
		{name: "reuse ci after revoke", create: "ci"},
		{name: "reused ci is unique again", create: "ci", wantErr: store.ErrAlreadyExists},
		{name: "revoke ci again", create: "ci", revoke: true},
		{name: "third ci, two revoked before it", create: "ci"},
		{name: "names are case-sensitive", create: "CI"},
	}
	newest := map[string]int64{}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			var err error
			if st.revoke {
				err = s.Update(t.Context(), func(tx store.Tx) error {
					return tx.RevokeRunner(t.Context(), newest[st.create], t0)
				})
			} else {
				r := newRunner(st.create)
				err = s.Update(t.Context(), func(tx store.Tx) error { return tx.CreateRunner(t.Context(), r) })
				if err == nil {
					newest[st.create] = r.ID
				}
			}
			if st.wantErr == nil && err != nil {
				t.Fatalf("err = %v", err)
			}
			if st.wantErr != nil {
				wantErrIs(t, st.name, err, st.wantErr)
			}
		})
	}
	var active, revoked int
	for _, r := range listRunners(t, s) {
		if r.Name == "ci" && r.RevokedAt == nil {
			active++
		} else if r.Name == "ci" {
			revoked++
		}
	}
	if active != 1 || revoked != 2 {
		t.Errorf("runners named ci: %d active, %d revoked; want 1 and 2", active, revoked)
	}
}

func testRunnerRevoke(t *testing.T, s store.Store) {
	r := createRunner(t, s, newRunner("ci"))
	at := t0.Add(36 * time.Hour).Add(7)
	update(t, s, func(tx store.Tx) error { return tx.RevokeRunner(t.Context(), r.ID, at) })

	want := r
	want.RevokedAt = &at
	// A revoked runner stays visible everywhere; callers check RevokedAt.
	checkRunner(t, getRunner(t, s, r.ID), want)
	view(t, s, func(tx store.Tx) error {
		got, err := tx.GetRunnerByTokenHash(t.Context(), r.TokenHash)
		if err != nil {
			return err
		}
		checkRunner(t, got, want)
		return nil
	})
	if rs := listRunners(t, s); len(rs) != 1 {
		t.Errorf("ListRunners returned %d runners, want the revoked one", len(rs))
	}

	// Revoking again is ErrNotFound and keeps the first revocation time.
	err := s.Update(t.Context(), func(tx store.Tx) error {
		return tx.RevokeRunner(t.Context(), r.ID, at.Add(time.Hour))
	})
	wantErrIs(t, "second RevokeRunner", err, store.ErrNotFound)
	checkRunner(t, getRunner(t, s, r.ID), want)
}

func testRunnerConstraints(t *testing.T, s store.Store) {
	tests := []struct {
		name        string
		constraints map[string][]string
	}{
		{"nil", nil},
		{"empty", map[string][]string{}},
		{"one claim one glob", map[string][]string{"repository": {"org/repo"}}},
		{"several claims and globs", map[string][]string{
			"repository": {"org/*", "other/repo"},
			"ref":        {"refs/heads/main", "refs/tags/v*"},
			"workflow":   {"release.yml"},
		}},
		{"glob order kept", map[string][]string{"ref": {"z", "a", "m"}}},
		{"special characters", map[string][]string{
			`claim "quoted"`: {`back\slash`, "new\nline", "ünïcødé ✓", "*", "", "{json: [1]}"},
		}},
		{"claim with no globs", map[string][]string{"sub": {}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newRunner("c-" + tc.name)
			r.Constraints = tc.constraints
			createRunner(t, s, r)
			got := getRunner(t, s, r.ID)
			if !sameConstraints(got.Constraints, tc.constraints) {
				t.Errorf("constraints = %#v, want %#v", got.Constraints, tc.constraints)
			}
		})
	}
}

func testRunnerList(t *testing.T, s store.Store) {
	if rs := listRunners(t, s); len(rs) != 0 {
		t.Fatalf("fresh store lists %d runners", len(rs))
	}
	var want []store.Runner
	for _, name := range []string{"c", "a", "b"} {
		want = append(want, createRunner(t, s, newRunner(name)))
	}
	update(t, s, func(tx store.Tx) error { return tx.RevokeRunner(t.Context(), want[1].ID, t0) })
	want[1].RevokedAt = ptr(t0)

	got := listRunners(t, s)
	if len(got) != len(want) {
		t.Fatalf("ListRunners returned %d runners, want %d", len(got), len(want))
	}
	for i := range want { // ordered by id, i.e. creation order here
		checkRunner(t, got[i], want[i])
	}
}

// Signing keys.

func testSigningKeyCreateList(t *testing.T, s store.Store) {
	const iss = "https://issuer.example"
	k := newKey(iss, "kid-1", t0)
	k.Algorithm = "RS256"
	k.RetireAt = ptr(t0.Add(24 * time.Hour))
	k.ExpireAt = ptr(t0.Add(48 * time.Hour))
	createKey(t, s, k)
	createKey(t, s, newKey("https://other.example", "kid-2", t0))

	got := listKeys(t, s, iss)
	if len(got) != 1 {
		t.Fatalf("ListSigningKeys(%s) returned %d keys, want 1 (other issuers excluded)", iss, len(got))
	}
	checkKey(t, got[0], *k)
	if ks := listKeys(t, s, "https://unknown.example"); len(ks) != 0 {
		t.Errorf("unknown issuer lists %d keys, want 0", len(ks))
	}
}

func testSigningKeyListOrder(t *testing.T, s store.Store) {
	const iss = "https://issuer.example"
	// Inserted out of order; listed by ActivateAt, then KID.
	in := []*store.SigningKey{
		newKey(iss, "c", t0.Add(time.Hour)),
		newKey(iss, "b", t0),
		newKey(iss, "z", t0.Add(-time.Hour)),
		newKey(iss, "a", t0),
		newKey(iss, "early-by-1ns", t0.Add(-1)),
	}
	for _, k := range in {
		createKey(t, s, k)
	}
	var kids []string
	for _, k := range listKeys(t, s, iss) {
		kids = append(kids, k.KID)
	}
	if want := []string{"z", "early-by-1ns", "a", "b", "c"}; !slices.Equal(kids, want) {
		t.Errorf("ListSigningKeys order = %v, want %v", kids, want)
	}
}

func testSigningKeyDuplicate(t *testing.T, s store.Store) {
	createKey(t, s, newKey("https://a.example", "kid", t0))
	tests := []struct {
		name    string
		key     *store.SigningKey
		wantErr error
	}{
		{"same issuer and kid", newKey("https://a.example", "kid", t0.Add(time.Hour)), store.ErrAlreadyExists},
		{"same kid, other issuer", newKey("https://b.example", "kid", t0), nil},
		{"other kid, same issuer", newKey("https://a.example", "kid2", t0), nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := s.Update(t.Context(), func(tx store.Tx) error { return tx.CreateSigningKey(t.Context(), tc.key) })
			if tc.wantErr == nil && err != nil {
				t.Fatalf("err = %v", err)
			}
			if tc.wantErr != nil {
				wantErrIs(t, "CreateSigningKey", err, tc.wantErr)
			}
		})
	}
	// The failed insert did not replace the original.
	ks := listKeys(t, s, "https://a.example")
	if len(ks) != 2 || !sameTime(ks[0].ActivateAt, t0) || !sameTime(ks[1].ActivateAt, t0) {
		t.Errorf("after the duplicate insert issuer a has %d keys, want kid and kid2 both activating at t0", len(ks))
	}
}

func testSigningKeySchedule(t *testing.T, s store.Store) {
	const iss = "https://issuer.example"
	k := newKey(iss, "k", t0)
	createKey(t, s, k)
	other := newKey(iss, "other", t0)
	createKey(t, s, other)

	retire, expire := t0.Add(24*time.Hour+1), t0.Add(48*time.Hour+2)
	steps := []struct {
		name           string
		kid            string
		retire, expire *time.Time
		wantErr        error
	}{
		{name: "set both", kid: "k", retire: &retire, expire: &expire},
		{name: "clear expire", kid: "k", retire: &retire},
		{name: "set expire only", kid: "k", expire: &expire},
		{name: "clear both", kid: "k"},
		{name: "set both again", kid: "k", retire: &retire, expire: &expire},
		{name: "unknown kid", kid: "nope", retire: &retire, wantErr: store.ErrNotFound},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			err := s.Update(t.Context(), func(tx store.Tx) error {
				return tx.UpdateSigningKeySchedule(t.Context(), iss, st.kid, st.retire, st.expire)
			})
			if st.wantErr != nil {
				wantErrIs(t, "UpdateSigningKeySchedule", err, st.wantErr)
				return
			}
			if err != nil {
				t.Fatalf("err = %v", err)
			}
			want := *k
			want.RetireAt, want.ExpireAt = st.retire, st.expire
			for _, got := range listKeys(t, s, iss) {
				switch got.KID {
				case "k":
					checkKey(t, got, want)
				case "other": // untouched
					checkKey(t, got, *other)
				}
			}
		})
	}
	err := s.Update(t.Context(), func(tx store.Tx) error {
		return tx.UpdateSigningKeySchedule(t.Context(), "https://other.example", "k", nil, nil)
	})
	wantErrIs(t, "schedule of a kid under the wrong issuer", err, store.ErrNotFound)
}

func testSigningKeyPostpone(t *testing.T, s store.Store) {
	const iss = "https://issuer.example"
	k := newKey(iss, "k", t0)
	createKey(t, s, k)
	later := t0.Add(time.Hour + 7)
	cases := []struct {
		name     string
		kid      string
		at       time.Time
		wantErr  error // nil: success, or a sentinel
		wantFail bool  // any error
		want     time.Time
	}{
		{name: "later", kid: "k", at: later, want: later},
		{name: "same instant is fine", kid: "k", at: later, want: later},
		{name: "earlier refused", kid: "k", at: t0, wantFail: true, want: later},
		{name: "unknown kid", kid: "nope", at: later, wantErr: store.ErrNotFound, want: later},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := s.Update(t.Context(), func(tx store.Tx) error {
				return tx.PostponeSigningKeyActivation(t.Context(), iss, tc.kid, tc.at)
			})
			switch {
			case tc.wantErr != nil:
				wantErrIs(t, "PostponeSigningKeyActivation", err, tc.wantErr)
			case tc.wantFail && err == nil:
				t.Fatal("moving activation earlier succeeded")
			case !tc.wantFail && err != nil:
				t.Fatalf("err = %v", err)
			}
			ks := listKeys(t, s, iss)
			if len(ks) != 1 || !sameTime(ks[0].ActivateAt, tc.want) {
				t.Fatalf("activate_at = %v, want %v", ks[0].ActivateAt, tc.want)
			}
		})
	}
}

func testSigningKeyDelete(t *testing.T, s store.Store) {
	const iss = "https://issuer.example"
	for _, kid := range []string{"a", "b"} {
		createKey(t, s, newKey(iss, kid, t0))
	}
	update(t, s, func(tx store.Tx) error { return tx.DeleteSigningKey(t.Context(), iss, "a") })
	if ks := listKeys(t, s, iss); len(ks) != 1 || ks[0].KID != "b" {
		t.Errorf("after deleting a, keys = %v, want [b]", ks)
	}
	tests := []struct{ name, issuer, kid string }{
		{"already deleted", iss, "a"},
		{"never existed", iss, "zzz"},
		{"wrong issuer", "https://other.example", "b"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := s.Update(t.Context(), func(tx store.Tx) error {
				return tx.DeleteSigningKey(t.Context(), tc.issuer, tc.kid)
			})
			wantErrIs(t, "DeleteSigningKey", err, store.ErrNotFound)
		})
	}
	// A deleted kid may be created again (the record is gone, not tombstoned).
	createKey(t, s, newKey(iss, "a", t0))
}

// Times.

func testTimesRoundTrip(t *testing.T, s store.Store) {
	ist := time.FixedZone("IST", 5*3600+1800)
	nyc, err := time.LoadLocation("America/New_York")
	if err != nil {
		nyc = time.FixedZone("EST", -5*3600) // no tzdata: still not UTC
	}
	tests := []struct {
		name string
		t    time.Time
	}{
		{"UTC with nanoseconds", t0},
		{"fixed offset zone", time.Date(2026, 1, 2, 3, 4, 5, 123456789, ist)},
		{"named zone", time.Date(2026, 7, 4, 12, 0, 0, 1, nyc)},
		{"with monotonic reading", time.Now()},
		{"one nanosecond past a second", time.Date(2030, 1, 1, 0, 0, 0, 1, time.UTC)},
		{"before 1970", time.Date(1969, 12, 31, 23, 59, 59, 999999999, time.UTC)},
		{"far future", time.Date(2200, 2, 3, 4, 5, 6, 7, time.UTC)},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newRunner(fmt.Sprintf("times-%d", i))
			r.CreatedAt = tc.t
			r.RevokedAt = ptr(tc.t.Add(1))
			createRunner(t, s, r)
			got := getRunner(t, s, r.ID)
			if !sameTime(got.CreatedAt, tc.t) {
				t.Errorf("runner CreatedAt = %v (%s), want %v", got.CreatedAt, got.CreatedAt.Location(), tc.t.UTC())
			}
			if !sameOptTime(got.RevokedAt, r.RevokedAt) {
				t.Errorf("runner RevokedAt = %s, want %v", fmtOptTime(got.RevokedAt), r.RevokedAt.UTC())
			}

			k := newKey("https://times.example", fmt.Sprint("k", i), tc.t)
			k.CreatedAt = tc.t.Add(-1)
			k.RetireAt = ptr(tc.t.Add(2))
			k.ExpireAt = ptr(tc.t.Add(3))
			createKey(t, s, k)
			for _, gk := range listKeys(t, s, k.Issuer) {
				if gk.KID == k.KID {
					checkKey(t, gk, *k)
				}
			}
		})
	}
}

func testOptionalTimes(t *testing.T, s store.Store) {
	retire, expire := t0.Add(time.Hour), t0.Add(2*time.Hour)
	tests := []struct {
		name           string
		retire, expire *time.Time
	}{
		{"neither", nil, nil},
		{"retire only", &retire, nil},
		{"expire only", nil, &expire},
		{"both", &retire, &expire},
		{"both at the epoch", ptr(time.Unix(0, 0)), ptr(time.Unix(0, 0))},
	}
	const iss = "https://optional.example"
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k := newKey(iss, fmt.Sprint("k", i), t0)
			k.RetireAt, k.ExpireAt = tc.retire, tc.expire
			createKey(t, s, k)
			for _, got := range listKeys(t, s, iss) {
				if got.KID == k.KID {
					checkKey(t, got, *k)
				}
			}
		})
	}
	t.Run("runner not revoked", func(t *testing.T) {
		r := createRunner(t, s, newRunner("active"))
		if got := getRunner(t, s, r.ID); got.RevokedAt != nil {
			t.Errorf("RevokedAt = %v, want nil", got.RevokedAt)
		}
	})
}

// Reseal.

type resealCall struct {
	aad    string
	sealed string
}

func testReseal(t *testing.T, s store.Store) {
	keys := []*store.SigningKey{
		newKey("https://a.example", "k1", t0),
		newKey("https://a.example", "k2", t0.Add(time.Hour)),
		newKey("https://b.example", "k1", t0),
	}
	for _, k := range keys {
		createKey(t, s, k)
	}
	var calls []resealCall
	var n int
	update(t, s, func(tx store.Tx) (err error) {
		calls = nil // fn may be rerun on conflict
		n, err = tx.Reseal(t.Context(), func(aad string, sealed []byte) ([]byte, error) {
			calls = append(calls, resealCall{aad, string(sealed)})
			return append([]byte("v2:"), sealed...), nil
		})
		return err
	})
	if n != len(keys) {
		t.Errorf("Reseal returned %d, want %d", n, len(keys))
	}
	var want []resealCall
	for _, k := range keys {
		want = append(want, resealCall{store.SigningKeyAAD(k.Issuer, k.KID), string(k.SealedPrivateKey)})
	}
	sortCalls := func(c []resealCall) {
		slices.SortFunc(c, func(a, b resealCall) int {
			if a.aad < b.aad {
				return -1
			}
			if a.aad > b.aad {
				return 1
			}
			return 0
		})
	}
	sortCalls(calls)
	sortCalls(want)
	if !slices.Equal(calls, want) {
		t.Errorf("Reseal visited %v, want each sealed value once with its AAD: %v", calls, want)
	}
	for _, k := range keys {
		for _, got := range listKeys(t, s, k.Issuer) {
			if got.KID != k.KID {
				continue
			}
			if w := "v2:" + string(k.SealedPrivateKey); string(got.SealedPrivateKey) != w {
				t.Errorf("%s#%s sealed = %q, want %q", k.Issuer, k.KID, got.SealedPrivateKey, w)
			}
			// Nothing else about the key changed.
			want := *k
			want.SealedPrivateKey = got.SealedPrivateKey
			checkKey(t, got, want)
		}
	}
}

func testAccessKeys(t *testing.T, s store.Store) {
	root1 := &store.AccessKey{ID: "AKIAROOT000000000001", SealedSecret: []byte("sealed-1"), Status: "Active", CreatedAt: t0}
	root2 := &store.AccessKey{ID: "AKIAROOT000000000002", SealedSecret: []byte("sealed-2"), Status: "Inactive", CreatedAt: t0.Add(time.Second)}
	alice := &store.AccessKey{ID: "AKIAALICE00000000001", UserName: "alice", SealedSecret: []byte("sealed-3"), Status: "Active", CreatedAt: t0}
	for _, k := range []*store.AccessKey{root2, root1, alice} {
		update(t, s, func(tx store.Tx) error { return tx.CreateAccessKey(t.Context(), k) })
	}
	cases := []struct {
		name    string
		key     *store.AccessKey
		wantErr error
		anyErr  bool
	}{
		{name: "duplicate id", key: &store.AccessKey{ID: root1.ID, SealedSecret: []byte("x"), Status: "Active", CreatedAt: t0}, wantErr: store.ErrAlreadyExists},
		{name: "no secret", key: &store.AccessKey{ID: "AKIANOSECRET00000001", Status: "Active", CreatedAt: t0}, anyErr: true},
		{name: "bad status", key: &store.AccessKey{ID: "AKIABADSTATUS0000001", SealedSecret: []byte("x"), Status: "On", CreatedAt: t0}, anyErr: true},
		{name: "no id", key: &store.AccessKey{SealedSecret: []byte("x"), Status: "Active", CreatedAt: t0}, anyErr: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := s.Update(t.Context(), func(tx store.Tx) error { return tx.CreateAccessKey(t.Context(), tc.key) })
			if tc.wantErr != nil {
				wantErrIs(t, "CreateAccessKey", err, tc.wantErr)
			} else if err == nil {
				t.Fatal("CreateAccessKey accepted an invalid key")
			}
		})
	}
	var got store.AccessKey
	var roots, alices []store.AccessKey
	view(t, s, func(tx store.Tx) (err error) {
		if got, err = tx.GetAccessKey(t.Context(), root1.ID); err != nil {
			return err
		}
		if roots, err = tx.ListAccessKeys(t.Context(), ""); err != nil {
			return err
		}
		alices, err = tx.ListAccessKeys(t.Context(), "alice")
		return err
	})
	if got.ID != root1.ID || string(got.SealedSecret) != "sealed-1" || got.Status != "Active" || got.UserName != "" || !sameTime(got.CreatedAt, t0) {
		t.Errorf("GetAccessKey = %+v", got)
	}
	if len(roots) != 2 || roots[0].ID != root1.ID || roots[1].ID != root2.ID || len(alices) != 1 || alices[0].ID != alice.ID {
		t.Errorf("ListAccessKeys: root %v, alice %v", roots, alices)
	}
	err := s.View(t.Context(), func(tx store.Tx) error { _, err := tx.GetAccessKey(t.Context(), "AKIANOPE"); return err })
	wantErrIs(t, "GetAccessKey of an unknown id", err, store.ErrNotFound)
}

func testResealAccessKeys(t *testing.T, s store.Store) {
	createKey(t, s, newKey("https://a.example", "k1", t0))
	ak := &store.AccessKey{ID: "AKIARESEAL0000000001", SealedSecret: []byte("ak-sealed"), Status: "Active", CreatedAt: t0}
	update(t, s, func(tx store.Tx) error { return tx.CreateAccessKey(t.Context(), ak) })
	var aads []string
	update(t, s, func(tx store.Tx) error {
		aads = nil
		n, err := tx.Reseal(t.Context(), func(aad string, sealed []byte) ([]byte, error) {
			aads = append(aads, aad)
			return append([]byte("v2:"), sealed...), nil
		})
		if n != 2 {
			t.Errorf("Reseal returned %d, want 2 (a signing key and an access key)", n)
		}
		return err
	})
	if !slices.Contains(aads, store.AccessKeyAAD(ak.ID)) {
		t.Fatalf("Reseal did not visit the access key: %v", aads)
	}
	view(t, s, func(tx store.Tx) error {
		got, err := tx.GetAccessKey(t.Context(), ak.ID)
		if string(got.SealedSecret) != "v2:ak-sealed" {
			t.Errorf("access key sealed secret after Reseal = %q", got.SealedSecret)
		}
		return err
	})
}

func testResealEmpty(t *testing.T, s store.Store) {
	createRunner(t, s, newRunner("runners-have-no-sealed-values"))
	update(t, s, func(tx store.Tx) error {
		n, err := tx.Reseal(t.Context(), func(aad string, _ []byte) ([]byte, error) {
			return nil, fmt.Errorf("unexpected sealed value %s", aad)
		})
		if n != 0 {
			t.Errorf("Reseal of a store without sealed values returned %d", n)
		}
		return err
	})
}

func testResealAllOrNothing(t *testing.T, s store.Store) {
	const iss = "https://issuer.example"
	var keys []*store.SigningKey
	for i := range 4 {
		k := newKey(iss, fmt.Sprint("k", i), t0.Add(time.Duration(i)*time.Hour))
		createKey(t, s, k)
		keys = append(keys, k)
	}
	errKMS := errors.New("kms unavailable")
	failing := func(failAt int) func(string, []byte) ([]byte, error) {
		calls := 0
		return func(_ string, sealed []byte) ([]byte, error) {
			calls++
			if calls == failAt {
				return nil, errKMS
			}
			return append([]byte("v2:"), sealed...), nil
		}
	}
	tests := []struct {
		name string
		// swallow: the caller ignores Reseal's error and commits anyway;
		// Reseal must still leave every value as it was.
		swallow bool
		failAt  int
	}{
		{"first value fails, error returned", false, 1},
		{"last value fails, error returned", false, 4},
		{"middle value fails, error returned", false, 2},
		{"middle value fails, caller commits anyway", true, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			marker := newRunner("marker-" + tc.name)
			err := s.Update(t.Context(), func(tx store.Tx) error {
				n, err := tx.Reseal(t.Context(), failing(tc.failAt))
				if err == nil {
					t.Error("Reseal succeeded although fn failed")
				}
				if !errors.Is(err, errKMS) {
					t.Errorf("Reseal err = %v, want it to wrap fn's error", err)
				}
				if n != 0 {
					t.Errorf("failed Reseal returned count %d, want 0", n)
				}
				if tc.swallow {
					// The transaction is still usable and commits.
					return tx.CreateRunner(t.Context(), marker)
				}
				return err
			})
			if tc.swallow && err != nil {
				t.Fatalf("Update after a swallowed Reseal error: %v", err)
			}
			if !tc.swallow {
				wantErrIs(t, "Update", err, errKMS)
			}
			got := listKeys(t, s, iss)
			for i, k := range keys {
				if i < len(got) && !slices.Equal(got[i].SealedPrivateKey, k.SealedPrivateKey) {
					t.Errorf("%s was resealed although Reseal failed", k.KID)
				}
			}
		})
	}
}

// View and Update basics.

func testViewRejectsWrites(t *testing.T, s store.Store) {
	const iss = "https://issuer.example"
	r := createRunner(t, s, newRunner("existing"))
	createKey(t, s, newKey(iss, "existing", t0))

	tests := []struct {
		name  string
		write func(ctx context.Context, tx store.Tx) error
	}{
		{"CreateRunner", func(ctx context.Context, tx store.Tx) error {
			return tx.CreateRunner(ctx, newRunner("from-view"))
		}},
		{"RevokeRunner", func(ctx context.Context, tx store.Tx) error {
			return tx.RevokeRunner(ctx, r.ID, t0)
		}},
		{"CreateSigningKey", func(ctx context.Context, tx store.Tx) error {
			return tx.CreateSigningKey(ctx, newKey(iss, "from-view", t0))
		}},
		{"ImportRunner", func(ctx context.Context, tx store.Tx) error {
			r := newRunner("imported")
			r.ID = 99
			return tx.ImportRunner(ctx, r)
		}},
		{"SetAuditAnchor", func(ctx context.Context, tx store.Tx) error {
			return tx.SetAuditAnchor(ctx, store.AuditAnchor{Writer: "w", Seq: 1, Hash: "h"})
		}},
		{"UpdateSigningKeySchedule", func(ctx context.Context, tx store.Tx) error {
			return tx.UpdateSigningKeySchedule(ctx, iss, "existing", ptr(t0), ptr(t0))
		}},
		{"CreateAccessKey", func(ctx context.Context, tx store.Tx) error {
			return tx.CreateAccessKey(ctx, &store.AccessKey{ID: "AKIAVIEW000000000001", SealedSecret: []byte("x"), Status: "Active", CreatedAt: t0})
		}},
		{"PostponeSigningKeyActivation", func(ctx context.Context, tx store.Tx) error {
			return tx.PostponeSigningKeyActivation(ctx, iss, "existing", t0.Add(time.Hour))
		}},
		{"DeleteSigningKey", func(ctx context.Context, tx store.Tx) error {
			return tx.DeleteSigningKey(ctx, iss, "existing")
		}},
		{"Reseal", func(ctx context.Context, tx store.Tx) error {
			_, err := tx.Reseal(ctx, func(_ string, b []byte) ([]byte, error) { return append(b, '!'), nil })
			return err
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var writeErr error
			// fn swallows the write's error, so only the write itself can
			// fail: View must not let it through.
			err := s.View(t.Context(), func(tx store.Tx) error {
				writeErr = tc.write(t.Context(), tx)
				return nil
			})
			if err != nil {
				t.Logf("View returned %v", err)
			}
			if writeErr == nil {
				t.Errorf("%s inside View succeeded", tc.name)
			}
		})
	}
	// Nothing changed.
	rs := listRunners(t, s)
	if len(rs) != 1 || rs[0].RevokedAt != nil {
		t.Errorf("runners changed by writes inside View: %d runners, want the one active runner", len(rs))
	}
	ks := listKeys(t, s, iss)
	if len(ks) != 1 || ks[0].RetireAt != nil || string(ks[0].SealedPrivateKey) != "sealed:"+store.SigningKeyAAD(iss, "existing") {
		t.Errorf("signing keys changed by writes inside View: %d keys", len(ks))
	}
}

func testUpdateRollback(t *testing.T, s store.Store) {
	errStop := errors.New("stop")
	r := newRunner("rolled-back")
	err := s.Update(t.Context(), func(tx store.Tx) error {
		if err := tx.CreateRunner(t.Context(), r); err != nil {
			return err
		}
		if err := tx.CreateSigningKey(t.Context(), newKey("https://i.example", "k", t0)); err != nil {
			return err
		}
		// The writes are visible inside the transaction...
		if _, err := tx.GetRunner(t.Context(), r.ID); err != nil {
			return fmt.Errorf("own write not visible: %w", err)
		}
		return fmt.Errorf("wrapped: %w", errStop)
	})
	// ...and the caller's error comes back as it was returned.
	wantErrIs(t, "Update", err, errStop)
	if rs := listRunners(t, s); len(rs) != 0 {
		t.Errorf("%d runners stored by a rolled-back Update", len(rs))
	}
	if ks := listKeys(t, s, "https://i.example"); len(ks) != 0 {
		t.Errorf("%d keys stored by a rolled-back Update", len(ks))
	}
	// The name and token hash are free again.
	createRunner(t, s, r)
}

func testUpdateCommits(t *testing.T, s store.Store) {
	var id int64
	update(t, s, func(tx store.Tx) error {
		r := newRunner("committed")
		if err := tx.CreateRunner(t.Context(), r); err != nil {
			return err
		}
		id = r.ID
		return tx.CreateSigningKey(t.Context(), newKey("https://i.example", "k", t0))
	})
	if got := getRunner(t, s, id); got.Name != "committed" {
		t.Errorf("runner %d = %q after commit", id, got.Name)
	}
	if ks := listKeys(t, s, "https://i.example"); len(ks) != 1 {
		t.Errorf("%d keys after commit, want 1", len(ks))
	}
}

func testPing(t *testing.T, s store.Store) {
	if err := s.Ping(t.Context()); err != nil {
		t.Errorf("Ping: %v", err)
	}
}

func testAccessKeyStatusDelete(t *testing.T, s store.Store) {
	k := &store.AccessKey{ID: "AKIASTATUS0000000001", UserName: "bob", SealedSecret: []byte("x"), Status: "Active", CreatedAt: t0}
	update(t, s, func(tx store.Tx) error { return tx.CreateAccessKey(t.Context(), k) })
	update(t, s, func(tx store.Tx) error { return tx.SetAccessKeyStatus(t.Context(), k.ID, "Inactive") })
	var got store.AccessKey
	view(t, s, func(tx store.Tx) (err error) { got, err = tx.GetAccessKey(t.Context(), k.ID); return err })
	if got.Status != "Inactive" {
		t.Errorf("status after SetAccessKeyStatus = %q, want Inactive", got.Status)
	}
	err := s.Update(t.Context(), func(tx store.Tx) error { return tx.SetAccessKeyStatus(t.Context(), k.ID, "Paused") })
	if err == nil {
		t.Error("SetAccessKeyStatus accepted status Paused")
	}
	err = s.Update(t.Context(), func(tx store.Tx) error { return tx.SetAccessKeyStatus(t.Context(), "AKIANOPE", "Active") })
	wantErrIs(t, "SetAccessKeyStatus of an unknown id", err, store.ErrNotFound)
	update(t, s, func(tx store.Tx) error { return tx.DeleteAccessKey(t.Context(), k.ID) })
	err = s.Update(t.Context(), func(tx store.Tx) error { return tx.DeleteAccessKey(t.Context(), k.ID) })
	wantErrIs(t, "DeleteAccessKey twice", err, store.ErrNotFound)
}

func testIAMRecords(t *testing.T, s store.Store) {
	ctx := t.Context()
	gen := func() uint64 {
		var g uint64
		view(t, s, func(tx store.Tx) (err error) { g, err = tx.IAMGeneration(ctx); return err })
		return g
	}
	g0 := gen()
	recs := []*store.IAMRecord{
		{Kind: "role", Key: "deploy", Body: []byte(`{"n":1}`)},
		{Kind: "role", Key: "deploy-prod", Body: []byte(`{"n":2}`)},
		{Kind: "role", Key: "build", Body: []byte(`{"n":3}`)},
		{Kind: "user", Key: "deploy", Body: []byte(`{"n":4}`)},
	}
	for _, r := range recs {
		update(t, s, func(tx store.Tx) error { return tx.CreateIAMRecord(ctx, r) })
	}
	if g := gen(); g <= g0 {
		t.Errorf("generation %d after creates, was %d: must increase", g, g0)
	}
	bad := []struct {
		name    string
		rec     *store.IAMRecord
		wantErr error
	}{
		{"duplicate key", &store.IAMRecord{Kind: "role", Key: "deploy", Body: []byte(`{}`)}, store.ErrAlreadyExists},
		{"no kind", &store.IAMRecord{Key: "x", Body: []byte(`{}`)}, nil},
		{"no key", &store.IAMRecord{Kind: "role", Body: []byte(`{}`)}, nil},
		{"not JSON", &store.IAMRecord{Kind: "role", Key: "y", Body: []byte(`{`)}, nil},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			before := gen()
			err := s.Update(ctx, func(tx store.Tx) error { return tx.CreateIAMRecord(ctx, tc.rec) })
			if err == nil {
				t.Fatal("CreateIAMRecord accepted it")
			}
			if tc.wantErr != nil {
				wantErrIs(t, "CreateIAMRecord", err, tc.wantErr)
			}
			if gen() != before {
				t.Error("a refused write changed the generation")
			}
		})
	}
	var list, prefixed, users []store.IAMRecord
	var n int
	var one store.IAMRecord
	view(t, s, func(tx store.Tx) (err error) {
		if list, err = tx.ListIAMRecords(ctx, "role", ""); err != nil {
			return err
		}
		if prefixed, err = tx.ListIAMRecords(ctx, "role", "deploy"); err != nil {
			return err
		}
		if users, err = tx.ListIAMRecords(ctx, "user", ""); err != nil {
			return err
		}
		if n, err = tx.CountIAMRecords(ctx, "role"); err != nil {
			return err
		}
		one, err = tx.GetIAMRecord(ctx, "user", "deploy")
		return err
	})
	keys := func(rs []store.IAMRecord) (out []string) {
		for _, r := range rs {
			out = append(out, r.Key)
		}
		return out
	}
	if got := strings.Join(keys(list), ","); got != "build,deploy,deploy-prod" {
		t.Errorf("ListIAMRecords(role) = %s", got)
	}
	if got := strings.Join(keys(prefixed), ","); got != "deploy,deploy-prod" {
		t.Errorf("ListIAMRecords(role, deploy) = %s", got)
	}
	if len(users) != 1 || n != 3 || string(one.Body) != `{"n":4}` || one.Kind != "user" {
		t.Errorf("users %v, count %d, get %+v", users, n, one)
	}
	update(t, s, func(tx store.Tx) error {
		return tx.UpdateIAMRecord(ctx, &store.IAMRecord{Kind: "role", Key: "build", Body: []byte(`{"n":30}`)})
	})
	view(t, s, func(tx store.Tx) (err error) { one, err = tx.GetIAMRecord(ctx, "role", "build"); return err })
	if string(one.Body) != `{"n":30}` {
		t.Errorf("after UpdateIAMRecord body = %s", one.Body)
	}
	g1 := gen()
	update(t, s, func(tx store.Tx) error { return tx.DeleteIAMRecord(ctx, "role", "build") })
	if gen() <= g1 {
		t.Error("DeleteIAMRecord did not bump the generation")
	}
	for name, fn := range map[string]func(tx store.Tx) error{
		"get deleted":    func(tx store.Tx) error { _, err := tx.GetIAMRecord(ctx, "role", "build"); return err },
		"delete deleted": func(tx store.Tx) error { return tx.DeleteIAMRecord(ctx, "role", "build") },
		"update missing": func(tx store.Tx) error {
			return tx.UpdateIAMRecord(ctx, &store.IAMRecord{Kind: "role", Key: "nope", Body: []byte(`{}`)})
		},
	} {
		err := s.Update(ctx, fn)
		wantErrIs(t, name, err, store.ErrNotFound)
	}
	// A failed transaction leaves neither record nor generation behind.
	before := gen()
	boom := errors.New("boom")
	err := s.Update(ctx, func(tx store.Tx) error {
		if err := tx.CreateIAMRecord(ctx, &store.IAMRecord{Kind: "role", Key: "ghost", Body: []byte(`{}`)}); err != nil {
			return err
		}
		return boom
	})
	wantErrIs(t, "Update returning an error", err, boom)
	if gen() != before {
		t.Error("a rolled-back write changed the generation")
	}
}

func testIAMRecordsInView(t *testing.T, s store.Store) {
	err := s.View(t.Context(), func(tx store.Tx) error {
		return tx.CreateIAMRecord(t.Context(), &store.IAMRecord{Kind: "role", Key: "r", Body: []byte(`{}`)})
	})
	if err == nil {
		t.Fatal("CreateIAMRecord inside View succeeded")
	}
}

func testRunnerImport(t *testing.T, s store.Store) {
	ctx := t.Context()
	revoked := newRunner("old")
	revoked.ID, revoked.RevokedAt = 42, ptr(t0.Add(time.Hour))
	revoked.Constraints = map[string][]string{"project_path": {"g/*"}}
	active := newRunner("ci")
	active.ID = 7
	update(t, s, func(tx store.Tx) error {
		for _, r := range []*store.Runner{revoked, active} {
			r := *r
			if err := tx.ImportRunner(ctx, &r); err != nil {
				return err
			}
		}
		return nil
	})
	checkRunner(t, getRunner(t, s, 42), *revoked)
	checkRunner(t, getRunner(t, s, 7), *active)
	next := createRunner(t, s, newRunner("next"))
	if next.ID <= 42 {
		t.Errorf("a runner created after importing id 42 got id %d", next.ID)
	}
	bad := []struct {
		name string
		r    func() *store.Runner
		want error
	}{
		{"id taken", func() *store.Runner { r := newRunner("other"); r.ID = 7; return r }, store.ErrAlreadyExists},
		{"active name taken", func() *store.Runner { r := newRunner("ci"); r.ID = 100; return r }, store.ErrAlreadyExists},
		{"no id", func() *store.Runner { return newRunner("zero") }, nil},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			err := s.Update(ctx, func(tx store.Tx) error { return tx.ImportRunner(ctx, tc.r()) })
			if err == nil {
				t.Fatal("ImportRunner accepted it")
			}
			if tc.want != nil {
				wantErrIs(t, "ImportRunner", err, tc.want)
			}
		})
	}
}

// testListAll: the listings `admin export` walks a store with return every
// record of their table, whatever its issuer, user or kind.
func testListAll(t *testing.T, s store.Store) {
	ctx := t.Context()
	for _, k := range []*store.SigningKey{newKey("https://b.example", "k2", t0), newKey("https://a.example", "k1", t0.Add(time.Hour)),
		newKey("https://a.example", "k0", t0)} {
		createKey(t, s, k)
	}
	update(t, s, func(tx store.Tx) error {
		for _, k := range []store.AccessKey{
			{ID: "AKIAB", UserName: "bob", SealedSecret: []byte("s"), Status: "Active", CreatedAt: t0},
			{ID: "AKIAA", SealedSecret: []byte("s"), Status: "Inactive", CreatedAt: t0},
		} {
			if err := tx.CreateAccessKey(ctx, &k); err != nil {
				return err
			}
		}
		for _, r := range []store.IAMRecord{{Kind: "user", Key: "bob", Body: []byte(`{}`)}, {Kind: "role", Key: "z", Body: []byte(`{"a":1}`)},
			{Kind: "role", Key: "a", Body: []byte(`{}`)}} {
			if err := tx.CreateIAMRecord(ctx, &r); err != nil {
				return err
			}
		}
		return nil
	})
	view(t, s, func(tx store.Tx) error {
		ks, err := tx.ListAllSigningKeys(ctx)
		if err != nil {
			return err
		}
		var got []string
		for _, k := range ks {
			got = append(got, k.Issuer+"#"+k.KID)
		}
		if want := []string{"https://a.example#k0", "https://a.example#k1", "https://b.example#k2"}; !slices.Equal(got, want) {
			t.Errorf("ListAllSigningKeys = %q, want %q", got, want)
		}
		aks, err := tx.ListAllAccessKeys(ctx)
		if err != nil {
			return err
		}
		if len(aks) != 2 || aks[0].ID != "AKIAA" || aks[1].UserName != "bob" || string(aks[1].SealedSecret) != "s" {
			t.Errorf("ListAllAccessKeys = %+v", aks)
		}
		rs, err := tx.ListAllIAMRecords(ctx)
		if err != nil {
			return err
		}
		got = nil
		for _, r := range rs {
			got = append(got, r.Kind+"/"+r.Key+"="+string(r.Body))
		}
		if want := []string{"role/a={}", `role/z={"a":1}`, "user/bob={}"}; !slices.Equal(got, want) {
			t.Errorf("ListAllIAMRecords = %q, want %q", got, want)
		}
		return nil
	})
}
