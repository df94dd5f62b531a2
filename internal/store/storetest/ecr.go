package storetest

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/oidcfed/oidcfed/internal/store"
)

func ecrImage(repo, digest string, children ...string) *store.ECRImage {
	return &store.ECRImage{Repository: repo, Digest: digest, MediaType: "application/vnd.oci.image.manifest.v1+json",
		Manifest: []byte(`{"schemaVersion":2,"d":"` + digest + `"}`), Size: 42, Children: children, PushedAt: t0}
}

func testECRRepositories(t *testing.T, s store.Store) {
	ctx := context.Background()
	update(t, s, func(tx store.Tx) error {
		for _, name := range []string{"team/b", "team/a"} {
			if err := tx.CreateECRRepository(ctx, &store.ECRRepository{Name: name, Body: []byte(`{"n":"` + name + `"}`)}); err != nil {
				return err
			}
		}
		return nil
	})
	cases := []struct {
		name string
		fn   func(tx store.Tx) error
		want error
	}{
		{"duplicate", func(tx store.Tx) error {
			return tx.CreateECRRepository(ctx, &store.ECRRepository{Name: "team/a", Body: []byte(`{}`)})
		}, store.ErrAlreadyExists},
		{"update a missing repository", func(tx store.Tx) error { return tx.UpdateECRRepository(ctx, "zz", []byte(`{}`)) }, store.ErrNotFound},
		{"delete a missing repository", func(tx store.Tx) error { return tx.DeleteECRRepository(ctx, "zz") }, store.ErrNotFound},
		{"image in a missing repository", func(tx store.Tx) error { return tx.PutECRImage(ctx, ecrImage("zz", "sha256:1")) }, store.ErrNotFound},
		{"link in a missing repository", func(tx store.Tx) error {
			return tx.LinkECRBlob(ctx, &store.ECRBlobLink{Repository: "zz", Digest: "sha256:1", Size: 1, CreatedAt: t0})
		}, store.ErrNotFound},
	}
	for _, tc := range cases {
		if err := s.Update(ctx, tc.fn); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	update(t, s, func(tx store.Tx) error { return tx.UpdateECRRepository(ctx, "team/a", []byte(`{"policy":"x"}`)) })
	view(t, s, func(tx store.Tx) error {
		r, err := tx.GetECRRepository(ctx, "team/a")
		if err != nil {
			return err
		}
		if string(r.Body) != `{"policy":"x"}` {
			t.Errorf("team/a: %s", r.Body)
		}
		if _, err := tx.GetECRRepository(ctx, "zz"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("get of a missing repository: %v", err)
		}
		list, err := tx.ListECRRepositories(ctx)
		if err != nil {
			return err
		}
		if len(list) != 2 || list[0].Name != "team/a" || list[1].Name != "team/b" {
			t.Errorf("ListECRRepositories: %+v", list)
		}
		return nil
	})
}

func testECRImagesAndTags(t *testing.T, s store.Store) {
	ctx := context.Background()
	at := t0.Add(time.Minute)
	update(t, s, func(tx store.Tx) error {
		for _, name := range []string{"app", "other"} {
			if err := tx.CreateECRRepository(ctx, &store.ECRRepository{Name: name, Body: []byte(`{}`)}); err != nil {
				return err
			}
		}
		for _, img := range []*store.ECRImage{ecrImage("app", "sha256:b"), ecrImage("app", "sha256:a"), ecrImage("app", "sha256:i", "sha256:a", "sha256:b")} {
			if err := tx.PutECRImage(ctx, img); err != nil {
				return err
			}
		}
		// The same digest again is left as it is.
		again := ecrImage("app", "sha256:a")
		again.Size, again.PushedAt = 7, at
		if err := tx.PutECRImage(ctx, again); err != nil {
			return err
		}
		for _, tg := range []store.ECRTag{{Tag: "v2", Digest: "sha256:a"}, {Tag: "V1", Digest: "sha256:a"}, {Tag: "v1", Digest: "sha256:b"}} {
			tg.Repository, tg.UpdatedAt = "app", t0
			if err := tx.TagECRImage(ctx, &tg); err != nil {
				return err
			}
		}
		// Retagging moves the tag.
		return tx.TagECRImage(ctx, &store.ECRTag{Repository: "app", Tag: "v2", Digest: "sha256:b", UpdatedAt: at})
	})
	if err := s.Update(ctx, func(tx store.Tx) error {
		return tx.TagECRImage(ctx, &store.ECRTag{Repository: "other", Tag: "v1", Digest: "sha256:a", UpdatedAt: t0})
	}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("tag of another repository's image: %v", err)
	}
	view(t, s, func(tx store.Tx) error {
		img, err := tx.GetECRImage(ctx, "app", "sha256:a")
		if err != nil {
			return err
		}
		if img.Size != 42 || !img.PushedAt.Equal(t0) || img.PushedAt.Location() != time.UTC || string(img.Manifest) != `{"schemaVersion":2,"d":"sha256:a"}` || img.Children != nil {
			t.Errorf("image a: %+v", img)
		}
		if _, err := tx.GetECRImage(ctx, "other", "sha256:a"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("image of another repository: %v", err)
		}
		list, err := tx.ListECRImages(ctx, "app")
		if err != nil {
			return err
		}
		var digests []string
		for _, img := range list {
			digests = append(digests, img.Digest)
			if img.Manifest != nil {
				t.Errorf("ListECRImages returned the manifest of %s", img.Digest)
			}
		}
		if !slices.Equal(digests, []string{"sha256:a", "sha256:b", "sha256:i"}) || !slices.Equal(list[2].Children, []string{"sha256:a", "sha256:b"}) {
			t.Errorf("ListECRImages: %+v", list)
		}
		tags, err := tx.ListECRTags(ctx, "app")
		if err != nil {
			return err
		}
		var got []string
		for _, tg := range tags {
			got = append(got, tg.Tag+"="+tg.Digest)
		}
		if !slices.Equal(got, []string{"V1=sha256:a", "v1=sha256:b", "v2=sha256:b"}) {
			t.Errorf("ListECRTags: %q", got)
		}
		v2, err := tx.GetECRTag(ctx, "app", "v2")
		if err != nil || v2.Digest != "sha256:b" || !v2.UpdatedAt.Equal(at) {
			t.Errorf("tag v2: %+v %v", v2, err)
		}
		return nil
	})
	// Deleting an image deletes its tags; untagging leaves the image.
	update(t, s, func(tx store.Tx) error {
		if err := tx.DeleteECRImage(ctx, "app", "sha256:a"); err != nil {
			return err
		}
		return tx.UntagECRImage(ctx, "app", "v1")
	})
	for name, fn := range map[string]func(tx store.Tx) error{
		"delete a missing image": func(tx store.Tx) error { return tx.DeleteECRImage(ctx, "app", "sha256:a") },
		"untag a missing tag":    func(tx store.Tx) error { return tx.UntagECRImage(ctx, "app", "V1") },
	} {
		if err := s.Update(ctx, fn); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s: %v", name, err)
		}
	}
	view(t, s, func(tx store.Tx) error {
		tags, err := tx.ListECRTags(ctx, "app")
		if err != nil {
			return err
		}
		if len(tags) != 1 || tags[0].Tag != "v2" {
			t.Errorf("tags after deletes: %+v", tags)
		}
		if _, err := tx.GetECRImage(ctx, "app", "sha256:b"); err != nil {
			t.Errorf("untagged image: %v", err)
		}
		return nil
	})
	// Deleting the repository takes everything in it.
	update(t, s, func(tx store.Tx) error { return tx.DeleteECRRepository(ctx, "app") })
	update(t, s, func(tx store.Tx) error {
		return tx.CreateECRRepository(ctx, &store.ECRRepository{Name: "app", Body: []byte(`{}`)})
	})
	view(t, s, func(tx store.Tx) error {
		imgs, err := tx.ListECRImages(ctx, "app")
		if err != nil {
			return err
		}
		tags, err := tx.ListECRTags(ctx, "app")
		if err != nil {
			return err
		}
		if len(imgs) != 0 || len(tags) != 0 {
			t.Errorf("a recreated repository has %d images and %d tags", len(imgs), len(tags))
		}
		return nil
	})
}

func testECRBlobLinks(t *testing.T, s store.Store) {
	ctx := context.Background()
	update(t, s, func(tx store.Tx) error {
		for _, name := range []string{"app", "other"} {
			if err := tx.CreateECRRepository(ctx, &store.ECRRepository{Name: name, Body: []byte(`{}`)}); err != nil {
				return err
			}
		}
		if err := tx.LinkECRBlob(ctx, &store.ECRBlobLink{Repository: "app", Digest: "sha256:l", Size: 10, CreatedAt: t0}); err != nil {
			return err
		}
		// Linking again changes nothing.
		return tx.LinkECRBlob(ctx, &store.ECRBlobLink{Repository: "app", Digest: "sha256:l", Size: 99, CreatedAt: t0.Add(time.Hour)})
	})
	view(t, s, func(tx store.Tx) error {
		l, err := tx.GetECRBlobLink(ctx, "app", "sha256:l")
		if err != nil || l.Size != 10 || !l.CreatedAt.Equal(t0) {
			t.Errorf("link: %+v %v", l, err)
		}
		if _, err := tx.GetECRBlobLink(ctx, "other", "sha256:l"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("link through another repository: %v", err)
		}
		if ok, err := tx.ECRBlobLinked(ctx, "sha256:l"); !ok || err != nil {
			t.Errorf("ECRBlobLinked: %v %v", ok, err)
		}
		if ls, err := tx.ListECRBlobLinks(ctx, "app"); err != nil || len(ls) != 1 || ls[0].Digest != "sha256:l" || ls[0].Size != 10 || !ls[0].CreatedAt.Equal(t0) {
			t.Errorf("ListECRBlobLinks(app): %+v %v", ls, err)
		}
		if ls, err := tx.ListECRBlobLinks(ctx, "other"); err != nil || len(ls) != 0 {
			t.Errorf("ListECRBlobLinks(other): %+v %v", ls, err)
		}
		return nil
	})
	update(t, s, func(tx store.Tx) error { return tx.DeleteECRRepository(ctx, "app") })
	view(t, s, func(tx store.Tx) error {
		if ok, err := tx.ECRBlobLinked(ctx, "sha256:l"); ok || err != nil {
			t.Errorf("ECRBlobLinked after the repository went: %v %v", ok, err)
		}
		return nil
	})
}
