package transfer_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/oidcfed/oidcfed/internal/store"
	"github.com/oidcfed/oidcfed/internal/store/postgres"
	"github.com/oidcfed/oidcfed/internal/store/postgres/pgtest"
	"github.com/oidcfed/oidcfed/internal/store/sqlite"
	"github.com/oidcfed/oidcfed/internal/store/transfer"
)

var t0 = time.Date(2026, 3, 14, 15, 9, 26, 535897932, time.UTC)

func newSQLite(t *testing.T) store.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "oidcfed.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func newPostgres(t *testing.T) store.Store {
	t.Helper()
	s, err := postgres.Open(context.Background(), postgres.Config{URL: pgtest.NewSchema(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// fill writes some of every record, shaped as oidcfed writes them: a
// revoked runner, a retired key, the root's and a user's access keys, IAM
// records, KMS keys and aliases, two audit chains, both pruned.
func fill(t *testing.T, s store.Store) {
	t.Helper()
	ctx := context.Background()
	sealed := func(aad string) []byte { return []byte("OFSK-not-really-sealed:" + aad) }
	err := s.Update(ctx, func(tx store.Tx) error {
		revoked := t0.Add(time.Hour)
		for _, r := range []*store.Runner{
			{Name: "old", TokenHash: []byte("hash-1"), CreatedAt: t0, RevokedAt: &revoked},
			{Name: "ci", TokenHash: []byte("hash-2"), CreatedAt: t0, Constraints: map[string][]string{"project_path": {"g/*", "h/*"}}},
		} {
			if err := tx.CreateRunner(ctx, r); err != nil {
				return err
			}
		}
		retire, expire := t0.Add(2*time.Hour), t0.Add(4*time.Hour)
		for _, k := range []*store.SigningKey{
			{Issuer: "https://ci.example", KID: "k1", Algorithm: "RS256", PublicJWK: []byte(`{"kty":"RSA"}`), CreatedAt: t0, ActivateAt: t0, RetireAt: &retire, ExpireAt: &expire},
			{Issuer: "https://ci.example", KID: "k2", Algorithm: "ES256", PublicJWK: []byte(`{"kty":"EC"}`), CreatedAt: t0, ActivateAt: retire},
			{Issuer: "http://127.0.0.1:8080", KID: "k3", Algorithm: "RS256", PublicJWK: []byte(`{}`), CreatedAt: t0, ActivateAt: t0},
		} {
			k.SealedPrivateKey = sealed(store.SigningKeyAAD(k.Issuer, k.KID))
			if err := tx.CreateSigningKey(ctx, k); err != nil {
				return err
			}
		}
		for _, k := range []*store.AccessKey{{ID: "AKIAROOT", Status: "Active", CreatedAt: t0}, {ID: "AKIABOB", UserName: "bob", Status: "Inactive", CreatedAt: t0}} {
			k.SealedSecret = sealed(store.AccessKeyAAD(k.ID))
			if err := tx.CreateAccessKey(ctx, k); err != nil {
				return err
			}
		}
		for _, r := range []*store.IAMRecord{{Kind: "role", Key: "deploy", Body: []byte(`{"Name":"deploy","Trust":"<&>"}`)}, {Kind: "user", Key: "bob", Body: []byte(`{"Name":"bob"}`)}} {
			if err := tx.CreateIAMRecord(ctx, r); err != nil {
				return err
			}
		}
		for _, id := range []string{"key-b", "key-a"} {
			if err := tx.CreateKMSKey(ctx, &store.KMSKey{ID: id, Body: []byte(`{"KeySpec":"ECC_NIST_P256"}`), SealedMaterial: sealed(store.KMSKeyAAD(id))}); err != nil {
				return err
			}
		}
		if err := tx.CreateKMSAlias(ctx, &store.KMSAlias{Name: "alias/ci-signing", KeyID: "key-a", CreatedAt: t0, UpdatedAt: t0.Add(time.Minute)}); err != nil {
			return err
		}
		// A registry repository with a blob, an image index over one child and a tag.
		if err := tx.CreateECRRepository(ctx, &store.ECRRepository{Name: "team/app", Body: []byte(`{"createdAt":"2026-11-22T00:00:00Z"}`)}); err != nil {
			return err
		}
		if err := tx.LinkECRBlob(ctx, &store.ECRBlobLink{Repository: "team/app", Digest: "sha256:layer", Size: 42, CreatedAt: t0}); err != nil {
			return err
		}
		for _, img := range []*store.ECRImage{
			{Repository: "team/app", Digest: "sha256:child", MediaType: "application/vnd.oci.image.manifest.v1+json", Manifest: []byte(`{"m":1}`), Size: 42, PushedAt: t0},
			{Repository: "team/app", Digest: "sha256:index", MediaType: "application/vnd.oci.image.index.v1+json", Manifest: []byte(`{"i":1}`), Size: 42,
				Children: []string{"sha256:child"}, PushedAt: t0.Add(time.Second)},
		} {
			if err := tx.PutECRImage(ctx, img); err != nil {
				return err
			}
		}
		if err := tx.TagECRImage(ctx, &store.ECRTag{Repository: "team/app", Tag: "v1", Digest: "sha256:index", UpdatedAt: t0}); err != nil {
			return err
		}
		var audit []store.AuditRecord
		for _, w := range []string{"replica-a", "replica-b"} {
			for seq := uint64(1); seq <= 1500; seq++ {
				audit = append(audit, store.AuditRecord{Writer: w, Seq: seq, Time: t0.Add(time.Duration(seq) * time.Second), EventID: fmt.Sprint(w, seq),
					EventName: "AssumeRoleWithWebIdentity", EventSource: "sts.amazonaws.com", ReadOnly: seq%2 == 0, Username: "u",
					Resources: []string{"arn:aws:iam::000000000000:role/deploy", "a,b{c}\"d"}, Body: fmt.Appendf(nil, `{"seq":%d,"w":"%s"}`, seq, w)})
			}
		}
		return tx.AppendAuditRecords(ctx, audit)
	})
	if err != nil {
		t.Fatal(err)
	}
	// Prune the first records of both chains: anchors to carry over.
	err = s.Update(ctx, func(tx store.Tx) error {
		_, err := tx.PruneAuditRecords(ctx, t0.Add(10*time.Second))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func export(t *testing.T, s store.Store) []byte {
	t.Helper()
	var b bytes.Buffer
	if _, err := transfer.Export(context.Background(), s, nil, &b, t0); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func importBytes(s store.Store, b []byte) (transfer.Summary, error) {
	return transfer.Import(context.Background(), s, func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil })
}

// TestRoundTrip: SQLite -> PostgreSQL -> SQLite keeps every record byte for
// byte: each export of the copies is the first export.
func TestRoundTrip(t *testing.T) {
	src := newSQLite(t)
	fill(t, src)
	want := export(t, src)
	backends := []struct {
		name string
		open func(t *testing.T) store.Store
	}{
		{"to postgres", newPostgres},
		{"back to sqlite", newSQLite},
	}
	from := want
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			dst := b.open(t)
			sum, err := importBytes(dst, from)
			if err != nil {
				t.Fatal(err)
			}
			if sum.Runners != 2 || sum.SigningKeys != 3 || sum.AccessKeys != 2 || sum.IAMRecords != 2 || sum.KMSKeys != 2 ||
				sum.KMSAliases != 1 || sum.AuditEvents != 2982 || sum.AuditAnchors != 2 || len(sum.SealedUnder) != 1 ||
				sum.ECRRepositories != 1 || sum.ECRBlobLinks != 1 || sum.ECRImages != 2 || sum.ECRTags != 1 {
				t.Errorf("summary %+v", sum)
			}
			got := export(t, dst)
			if !bytes.Equal(got, want) {
				t.Errorf("the copy exports differently:\n%.2000s\nwant\n%.2000s", got, want)
			}
			// Runners created later do not take an imported id.
			r := &store.Runner{Name: "new", TokenHash: []byte("hash-3"), CreatedAt: t0}
			if err := dst.Update(context.Background(), func(tx store.Tx) error { return tx.CreateRunner(context.Background(), r) }); err != nil || r.ID <= 2 {
				t.Errorf("a new runner got id %d (%v), want one past the imported ids", r.ID, err)
			}
			from = got
		})
	}
}

// TestImportRefusals: what Import refuses leaves the store as it was.
func TestImportRefusals(t *testing.T) {
	src := newSQLite(t)
	fill(t, src)
	good := export(t, src)
	lines := strings.SplitAfter(string(good), "\n")
	withoutTrailer := strings.Join(lines[:len(lines)-2], "")
	tests := []struct {
		name    string
		file    string
		full    bool // import into a store that already has records
		want    string
		wantErr error
	}{
		{"not empty", string(good), true, "the target store is not empty", transfer.ErrNotEmpty},
		{"cut short", withoutTrailer, false, "cut short", nil},
		{"counts disagree", strings.Replace(string(good), `"runners":2`, `"runners":3`, 1), false, "the trailer counts", nil},
		{"not an export", "{}\n", false, "not an oidcfed export", nil},
		{"newer format", strings.Replace(string(good), `"version":1`, `"version":2`, 1), false, "format version 2", nil},
		{"unknown record", lines[0] + `{"secret_thing":{}}` + "\n", false, "unknown field", nil},
		{"data after the trailer", string(good) + lines[1], false, "data after the trailer", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dst := newSQLite(t)
			if tc.full {
				fill(t, dst)
			}
			before := export(t, dst)
			_, err := importBytes(dst, []byte(tc.file))
			if err == nil || !strings.Contains(err.Error(), tc.want) || (tc.wantErr != nil && !errors.Is(err, tc.wantErr)) {
				t.Fatalf("Import = %v, want %q", err, tc.want)
			}
			if after := export(t, dst); !bytes.Equal(after, before) {
				t.Error("a refused import changed the store")
			}
		})
	}
}
