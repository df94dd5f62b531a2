package ecr

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/oidcfed/oidcfed/internal/store/sqlite"
)

type testClock struct{ t time.Time }

func (c *testClock) now() time.Time { return c.t }

func newTestService(t *testing.T, mutate func(*Options)) (*Service, *testClock) {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	clock := &testClock{t: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)}
	o := Options{Store: st, Dir: t.TempDir(), Account: "000000000000", Region: "us-east-1", RegistryHost: "registry.test", Now: clock.now}
	if mutate != nil {
		mutate(&o)
	}
	s, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return s, clock
}

func digestOf(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

func codeOf(err error) ErrorCode {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// pushBlob uploads b in two chunks and links it to repo.
func pushBlob(t *testing.T, s *Service, repo string, b []byte) string {
	t.Helper()
	id, err := s.Uploads().Start(repo)
	if err != nil {
		t.Fatal(err)
	}
	half := len(b) / 2
	if _, err := s.Uploads().Append(id, repo, 0, bytes.NewReader(b[:half])); err != nil {
		t.Fatal(err)
	}
	d := digestOf(b)
	size, err := s.Uploads().Finish(id, repo, d, bytes.NewReader(b[half:]))
	if err != nil || size != int64(len(b)) {
		t.Fatalf("Finish: %d %v", size, err)
	}
	if err := s.LinkBlob(context.Background(), repo, d, size); err != nil {
		t.Fatal(err)
	}
	return d
}

func manifestFor(config string, layers ...string) []byte {
	type desc struct {
		MediaType string `json:"mediaType"`
		Digest    string `json:"digest"`
		Size      int    `json:"size"`
	}
	m := map[string]any{"schemaVersion": 2, "mediaType": MediaTypeOCIManifest,
		"config": desc{"application/vnd.oci.image.config.v1+json", config, 2}}
	var ls []desc
	for _, l := range layers {
		ls = append(ls, desc{"application/vnd.oci.image.layer.v1.tar+gzip", l, 5})
	}
	m["layers"] = ls
	b, _ := json.Marshal(m)
	return b
}

func TestUploads(t *testing.T) {
	s, clock := newTestService(t, func(o *Options) { o.MaxBlobSize = 10; o.MaxUploads = 2 })
	ups := s.Uploads()
	content := []byte("0123456789")
	good := digestOf(content)
	files := func() int {
		n := 0
		_ = filepath.WalkDir(s.opts.Dir, func(_ string, d os.DirEntry, _ error) error {
			if !d.IsDir() {
				n++
			}
			return nil
		})
		return n
	}

	t.Run("digest mismatch stores nothing", func(t *testing.T) {
		id, _ := ups.Start("app")
		if _, err := ups.Finish(id, "app", digestOf([]byte("other")), bytes.NewReader(content)); !errors.Is(err, ErrDigestMismatch) {
			t.Fatalf("Finish: %v", err)
		}
		if _, err := s.Blobs().Size(good); !errors.Is(err, ErrBlobMissing) {
			t.Fatalf("blob after a mismatch: %v", err)
		}
		if _, err := ups.Size(id, "app"); !errors.Is(err, ErrUploadUnknown) {
			t.Fatalf("session after a mismatch: %v", err)
		}
		if n := files(); n != 0 {
			t.Fatalf("%d files left", n)
		}
	})
	t.Run("too large stores nothing", func(t *testing.T) {
		id, _ := ups.Start("app")
		if _, err := ups.Append(id, "app", -1, bytes.NewReader(append(content, 'x'))); !errors.Is(err, ErrBlobTooLarge) {
			t.Fatalf("Append: %v", err)
		}
		if n := files(); n != 0 {
			t.Fatalf("%d files left", n)
		}
		if _, err := ups.Put(digestOf(append(content, 'x')), bytes.NewReader(append(content, 'x'))); !errors.Is(err, ErrBlobTooLarge) {
			t.Fatalf("Put: %v", err)
		}
	})
	t.Run("sessions belong to their repository", func(t *testing.T) {
		id, _ := ups.Start("app")
		if _, err := ups.Append(id, "other", -1, bytes.NewReader(content)); !errors.Is(err, ErrUploadUnknown) {
			t.Fatalf("Append from another repository: %v", err)
		}
		if err := ups.Cancel(id, "app"); err != nil {
			t.Fatal(err)
		}
		if err := ups.Cancel(id, "app"); !errors.Is(err, ErrUploadUnknown) {
			t.Fatalf("second Cancel: %v", err)
		}
	})
	t.Run("ranges continue the upload", func(t *testing.T) {
		id, _ := ups.Start("app")
		if _, err := ups.Append(id, "app", 0, bytes.NewReader(content[:4])); err != nil {
			t.Fatal(err)
		}
		if size, err := ups.Append(id, "app", 3, bytes.NewReader(content[4:])); !errors.Is(err, ErrUploadRange) || size != 4 {
			t.Fatalf("overlapping chunk: %d %v", size, err)
		}
		if _, err := ups.Append(id, "app", 4, bytes.NewReader(content[4:])); err != nil {
			t.Fatal(err)
		}
		if size, err := ups.Finish(id, "app", good, bytes.NewReader(nil)); err != nil || size != 10 {
			t.Fatalf("Finish: %d %v", size, err)
		}
		f, err := s.Blobs().Open(good)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		var got bytes.Buffer
		_, _ = got.ReadFrom(f)
		if !bytes.Equal(got.Bytes(), content) {
			t.Fatalf("blob holds %q", got.Bytes())
		}
	})
	t.Run("bounded and expiring", func(t *testing.T) {
		a, _ := ups.Start("app")
		if _, err := ups.Start("app"); err != nil {
			t.Fatal(err)
		}
		if _, err := ups.Start("app"); !errors.Is(err, ErrTooManyUploads) {
			t.Fatalf("third session: %v", err)
		}
		clock.t = clock.t.Add(DefaultUploadTTL + time.Second)
		if _, err := ups.Start("app"); err != nil {
			t.Fatalf("after the idle sessions expired: %v", err)
		}
		if _, err := ups.Size(a, "app"); !errors.Is(err, ErrUploadUnknown) {
			t.Fatalf("expired session: %v", err)
		}
	})
}

func TestPutManifest(t *testing.T) {
	ctx := context.Background()
	s, _ := newTestService(t, nil)
	repo, err := s.CreateRepository(ctx, CreateRepositoryInput{Name: "app"})
	if err != nil {
		t.Fatal(err)
	}
	immutable, err := s.CreateRepository(ctx, CreateRepositoryInput{Name: "frozen", ImageTagMutability: Immutable})
	if err != nil {
		t.Fatal(err)
	}
	config := pushBlob(t, s, "app", []byte("{}"))
	layer := pushBlob(t, s, "app", []byte("layer"))
	pushBlob(t, s, "frozen", []byte("{}"))
	pushBlob(t, s, "frozen", []byte("layer"))
	image := manifestFor(config, layer)
	img, err := s.PutManifest(ctx, repo, "v1", MediaTypeOCIManifest, image)
	if err != nil {
		t.Fatal(err)
	}
	if img.Size != 5 || img.ArtifactType != "application/vnd.oci.image.config.v1+json" {
		t.Fatalf("image: %+v", img)
	}
	unknown := digestOf([]byte("never pushed"))
	index, _ := json.Marshal(map[string]any{"schemaVersion": 2, "mediaType": MediaTypeOCIIndex,
		"manifests": []map[string]any{{"mediaType": MediaTypeOCIManifest, "digest": img.Digest, "size": len(image)}}})
	if _, err := s.PutManifest(ctx, repo, "multi", "", index); err != nil {
		t.Fatalf("index: %v", err)
	}
	for _, tc := range []struct {
		name        string
		repo        *Repository
		ref, ctype  string
		body        []byte
		code        ErrorCode
		messagePart string
	}{
		{"not JSON", repo, "x", MediaTypeOCIManifest, []byte("{"), CodeInvalidParameter, "Invalid JSON syntax"},
		{"trailing data", repo, "x", MediaTypeOCIManifest, append(manifestFor(config), '{'), CodeInvalidParameter, "Invalid JSON syntax"},
		{"schema 1", repo, "x", MediaTypeOCIManifest, []byte(`{"schemaVersion":1}`), CodeInvalidParameter, "schemaVersion"},
		{"unknown type", repo, "x", "text/plain", manifestFor(config), CodeInvalidParameter, "Unsupported manifest media type"},
		{"type mismatch", repo, "x", MediaTypeDockerManifest, manifestFor(config), CodeInvalidParameter, "does not match"},
		{"blob not in the repository", repo, "x", MediaTypeOCIManifest, manifestFor(config, unknown), CodeLayersNotFound, unknown},
		{"bad layer digest", repo, "x", MediaTypeOCIManifest, manifestFor(config, "sha256:../../etc"), CodeInvalidParameter, "is not a sha256 digest"},
		{"digest reference mismatch", repo, unknown, MediaTypeOCIManifest, image, CodeImageDigestDoesNotMatch, "does not match"},
		{"bad tag", repo, "a/b", MediaTypeOCIManifest, image, CodeInvalidParameter, "OCI tag grammar"},
		{"index of a missing manifest", repo, "x", MediaTypeOCIIndex, bytes.Replace(index, []byte(img.Digest), []byte(unknown), 1), CodeReferencedImagesNotFound, unknown},
		{"too large", repo, "x", MediaTypeOCIManifest, append(manifestFor(config), bytes.Repeat([]byte(" "), MaxManifestSize)...), CodeInvalidParameter, "larger than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.PutManifest(ctx, tc.repo, tc.ref, tc.ctype, tc.body)
			if codeOf(err) != tc.code || !strings.Contains(err.Error(), tc.messagePart) {
				t.Fatalf("got %v, want %s containing %q", err, tc.code, tc.messagePart)
			}
		})
	}
	imgs, err := s.Images(ctx, "app")
	if err != nil || len(imgs) != 2 {
		t.Fatalf("images after refusals: %+v %v", imgs, err)
	}

	// An immutable tag does not move; pushing the same image again is fine.
	if _, err := s.PutManifest(ctx, immutable, "v1", MediaTypeOCIManifest, image); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PutManifest(ctx, immutable, "v1", MediaTypeOCIManifest, image); err != nil {
		t.Fatalf("same image again: %v", err)
	}
	if _, err := s.PutManifest(ctx, immutable, "v1", MediaTypeOCIManifest, manifestFor(config)); codeOf(err) != CodeImageTagAlreadyExists {
		t.Fatalf("moving an immutable tag: %v", err)
	}

	// An image an index lists is not deleted; the index is, then it.
	if err := s.DeleteImage(ctx, "app", img.Digest); codeOf(err) != CodeImageReferencedByManifest {
		t.Fatalf("delete of an indexed image: %v", err)
	}
	got, err := s.Image(ctx, "app", "multi")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteImage(ctx, "app", got.Digest); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteImage(ctx, "app", img.Digest); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Image(ctx, "app", "v1"); codeOf(err) != CodeImageNotFound ||
		err.Error() != "ImageNotFoundException: The image with imageId {imageDigest:'null', imageTag:'v1'} does not exist within the repository with name 'app' in the registry with id '000000000000'" {
		t.Fatalf("deleted image: %v", err)
	}
}

func TestRepositories(t *testing.T) {
	ctx := context.Background()
	s, clock := newTestService(t, nil)
	if _, err := s.CreateRepository(ctx, CreateRepositoryInput{Name: "app"}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		in   CreateRepositoryInput
		code ErrorCode
	}{
		{"exists", CreateRepositoryInput{Name: "app"}, CodeRepositoryAlreadyExists},
		{"bad name", CreateRepositoryInput{Name: "App"}, CodeInvalidParameter},
		{"bad mutability", CreateRepositoryInput{Name: "b1", ImageTagMutability: "SOMETIMES"}, CodeValidation},
		{"filters without exclusion", CreateRepositoryInput{Name: "b2", ImageTagMutability: Immutable, ExclusionFilters: []ExclusionFilter{{"WILDCARD", "x*"}}}, CodeInvalidParameter},
		{"exclusion without filters", CreateRepositoryInput{Name: "b3", ImageTagMutability: ImmutableWithExclusion}, CodeInvalidParameter},
		{"KMS encryption", CreateRepositoryInput{Name: "b4", EncryptionType: "KMS"}, CodeInvalidParameter},
		{"unknown encryption", CreateRepositoryInput{Name: "b5", EncryptionType: "ROT13"}, CodeValidation},
		{"too many tags", CreateRepositoryInput{Name: "b6", Tags: make([]Tag, 51)}, CodeTooManyTags},
		{"empty tag key", CreateRepositoryInput{Name: "b7", Tags: []Tag{{"", "v"}}}, CodeInvalidTagParameter},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := s.CreateRepository(ctx, tc.in); codeOf(err) != tc.code {
				t.Fatalf("got %v, want %s", err, tc.code)
			}
		})
	}
	repos, err := s.Repositories(ctx)
	if err != nil || len(repos) != 1 {
		t.Fatalf("repositories after refusals: %v %v", repos, err)
	}
	// A repository with an image is deleted only with force; its blobs
	// go once nothing links them.
	repo := repos[0]
	config := pushBlob(t, s, "app", []byte("{}"))
	if _, err := s.PutManifest(ctx, repo, "v1", "", manifestFor(config)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DeleteRepository(ctx, "app", false); codeOf(err) != CodeRepositoryNotEmpty {
		t.Fatalf("delete without force: %v", err)
	}
	if _, err := s.DeleteRepository(ctx, "app", true); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DeleteRepository(ctx, "app", true); codeOf(err) != CodeRepositoryNotFound {
		t.Fatalf("second delete: %v", err)
	}
	if n, err := s.CollectGarbage(ctx, clock.t.Add(-time.Hour)); n != 0 || err != nil {
		t.Fatalf("garbage collection of fresh blobs: %d %v", n, err)
	}
	if n, err := s.CollectGarbage(ctx, time.Now().Add(time.Hour)); n != 1 || err != nil {
		t.Fatalf("garbage collection: %d %v", n, err)
	}
	if _, err := s.Blobs().Size(config); !errors.Is(err, ErrBlobMissing) {
		t.Fatalf("collected blob: %v", err)
	}
}

// FuzzParseManifest: any body is a manifest or a refusal with ECR's
// InvalidParameterException, and never a panic.
func FuzzParseManifest(f *testing.F) {
	d := digestOf([]byte("x"))
	f.Add(MediaTypeOCIManifest, manifestFor(d, d))
	f.Add("", []byte(`{"schemaVersion":2,"mediaType":"`+MediaTypeOCIIndex+`","manifests":[{"digest":"`+d+`","size":1}],"subject":{"digest":"`+d+`","size":3}}`))
	f.Add(MediaTypeDockerManifest+"; charset=utf-8", []byte(`{"schemaVersion":2,"config":{"digest":"`+d+`","size":-1}}`))
	f.Add("application/json", []byte(`[1,2,3]`))
	f.Fuzz(func(t *testing.T, ctype string, body []byte) {
		p, err := parseManifest(ctype, body)
		if err != nil {
			if codeOf(err) != CodeInvalidParameter {
				t.Fatalf("refusal %v is not InvalidParameterException", err)
			}
			return
		}
		if !supportedManifest(p.mediaType) || p.size < 0 {
			t.Fatalf("accepted %+v", p)
		}
		for _, b := range append(p.blobs, p.children...) {
			if !ValidDigest(b.Digest) {
				t.Fatalf("accepted a descriptor with digest %q", b.Digest)
			}
		}
	})
}

// TestConcurrentUploads: requests on one session at once are refused, not
// interleaved, and sessions of their own proceed side by side (run with
// -race).
func TestConcurrentUploads(t *testing.T) {
	s, _ := newTestService(t, nil)
	ups := s.Uploads()
	id, _ := ups.Start("app")
	done := make(chan error, 8)
	for range 8 {
		go func() {
			_, err := ups.Append(id, "app", -1, bytes.NewReader([]byte("chunk")))
			done <- err
		}()
	}
	for range 8 {
		if err := <-done; err != nil && !errors.Is(err, ErrUploadBusy) {
			t.Fatal(err)
		}
	}
	size, err := ups.Size(id, "app")
	if err != nil || size == 0 || size%5 != 0 {
		t.Fatalf("size %d %v", size, err)
	}
	for i := range 8 {
		go func() {
			b := []byte(strings.Repeat("x", i+1))
			_, err := ups.Put(digestOf(b), bytes.NewReader(b))
			done <- err
		}()
	}
	for range 8 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}
