package ecr

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/oidcfed/oidcfed/internal/keys"
	"github.com/oidcfed/oidcfed/internal/store"
)

// Blobs are content-addressed files: blobs/sha256/<2 hex>/<64 hex>. A file
// is written under the uploads directory, synced, and renamed into place
// only once its digest is verified, so a blob file is always whole and
// always what its name says.
type Blobs struct {
	dir string
}

func newBlobs(dir string) (*Blobs, error) {
	if err := mkdir(filepath.Join(dir, DigestAlgorithm)); err != nil {
		return nil, err
	}
	return &Blobs{dir: dir}, nil
}

// ErrBlobMissing: the blob's file is not there.
var ErrBlobMissing = errors.New("blob file missing")

// path is where digest (already a ValidDigest) is kept.
func (b *Blobs) path(digest string) string {
	hex := digest[len(DigestAlgorithm)+1:]
	return filepath.Join(b.dir, DigestAlgorithm, hex[:2], hex)
}

// Open opens a blob for reading.
func (b *Blobs) Open(digest string) (*os.File, error) {
	if !ValidDigest(digest) {
		return nil, ErrBlobMissing
	}
	f, err := os.Open(b.path(digest))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrBlobMissing
	}
	return f, err
}

// Size is a blob's size.
func (b *Blobs) Size(digest string) (int64, error) {
	if !ValidDigest(digest) {
		return 0, ErrBlobMissing
	}
	fi, err := os.Stat(b.path(digest))
	if errors.Is(err, fs.ErrNotExist) {
		return 0, ErrBlobMissing
	}
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

// adopt moves a verified file into place as digest. A blob already there
// is the same content, so the new copy is dropped and the old one marked
// as just written: CollectGarbage leaves recent files alone, and this one
// is about to be linked again.
func (b *Blobs) adopt(tmp, digest string) error {
	dst := b.path(digest)
	if _, err := os.Stat(dst); err == nil {
		now := time.Now()
		return errors.Join(os.Chtimes(dst, now, now), os.Remove(tmp))
	}
	if err := mkdir(filepath.Dir(dst)); err != nil {
		return err
	}
	if err := os.Rename(tmp, dst); err != nil {
		return err
	}
	return keys.SyncDir(filepath.Dir(dst))
}

// CollectGarbage removes blob files no repository links, last changed
// before olderThan (so a blob being linked right now is left alone). It
// returns how many it removed.
func (s *Service) CollectGarbage(ctx context.Context, olderThan time.Time) (int, error) {
	removed := 0
	root := filepath.Join(s.blobs.dir, DigestAlgorithm)
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		digest := DigestAlgorithm + ":" + d.Name()
		if !ValidDigest(digest) {
			return nil
		}
		info, err := d.Info()
		if err != nil || !info.ModTime().Before(olderThan) {
			return nil
		}
		var linked bool
		if err := s.opts.Store.View(ctx, func(tx store.Tx) (err error) {
			linked, err = tx.ECRBlobLinked(ctx, digest)
			return err
		}); err != nil {
			return err
		}
		if !linked {
			if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
			removed++
		}
		return nil
	})
	return removed, err
}

// Upload errors; the registry maps each to its OCI error.
var (
	ErrUploadUnknown  = errors.New("upload session unknown")
	ErrUploadBusy     = errors.New("upload session in use by another request")
	ErrTooManyUploads = errors.New("too many upload sessions open")
	ErrBlobTooLarge   = errors.New("blob larger than the registry accepts")
	ErrUploadRange    = errors.New("content range does not continue the upload")
	ErrDigestMismatch = errors.New("content does not match the digest")
)

// Uploads are blob upload sessions: a file under the uploads directory
// each, with a running SHA-256 so finishing does not read the file again.
// Sessions live in memory (a restart loses them; clients start over),
// belong to the repository they were opened for, and are dropped after
// UploadTTL without use. At most MaxUploads are open at once, each at
// most MaxBlobSize bytes.
type Uploads struct {
	dir   string
	blobs *Blobs
	opts  Options

	mu       sync.Mutex
	sessions map[string]*upload
}

type upload struct {
	id, repo string
	f        *os.File
	h        hash.Hash
	size     int64
	touched  time.Time
	busy     bool
}

func newUploads(dir string, blobs *Blobs, o Options) (*Uploads, error) {
	if err := mkdir(dir); err != nil {
		return nil, err
	}
	// Sessions do not survive a restart: what their files held is gone
	// for good.
	if entries, err := os.ReadDir(dir); err == nil {
		for _, e := range entries {
			_ = os.Remove(filepath.Join(dir, e.Name()))
		}
	}
	return &Uploads{dir: dir, blobs: blobs, opts: o, sessions: map[string]*upload{}}, nil
}

// sweep drops sessions idle since before the TTL. Call with mu held.
func (u *Uploads) sweep(now time.Time) {
	for id, s := range u.sessions {
		if !s.busy && now.Sub(s.touched) > u.opts.UploadTTL {
			u.drop(id, s)
		}
	}
}

// drop removes a session and its file. Call with mu held.
func (u *Uploads) drop(id string, s *upload) {
	delete(u.sessions, id)
	name := s.f.Name()
	_ = s.f.Close()
	_ = os.Remove(name)
}

// Start opens a session for repo and returns its id.
func (u *Uploads) Start(repo string) (string, error) {
	var b [16]byte
	_, _ = rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	u.mu.Lock()
	defer u.mu.Unlock()
	now := u.opts.Now()
	u.sweep(now)
	if len(u.sessions) >= u.opts.MaxUploads {
		return "", ErrTooManyUploads
	}
	f, err := os.OpenFile(filepath.Join(u.dir, id), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", err
	}
	u.sessions[id] = &upload{id: id, repo: repo, f: f, h: sha256.New(), touched: now}
	return id, nil
}

// ValidUploadID reports whether id is what Start makes.
func ValidUploadID(id string) bool {
	if len(id) != 32 {
		return false
	}
	_, err := hex.DecodeString(id)
	return err == nil && strings.ToLower(id) == id
}

// acquire marks repo's session id in use by one request.
func (u *Uploads) acquire(id, repo string) (*upload, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	s, ok := u.sessions[id]
	switch {
	case !ok || s.repo != repo:
		return nil, ErrUploadUnknown
	case s.busy:
		return nil, ErrUploadBusy
	}
	s.busy = true
	return s, nil
}

func (u *Uploads) release(s *upload, keep bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	s.busy, s.touched = false, u.opts.Now()
	if !keep {
		u.drop(s.id, s)
	}
}

// write appends r to the session, at most up to MaxBlobSize in all; the
// size and hash follow exactly the bytes written.
func (u *Uploads) write(s *upload, r io.Reader) error {
	buf := make([]byte, 256<<10)
	for {
		n, rerr := r.Read(buf)
		if n > 0 {
			if s.size+int64(n) > u.opts.MaxBlobSize {
				return ErrBlobTooLarge
			}
			w, werr := s.f.Write(buf[:n])
			s.h.Write(buf[:w])
			s.size += int64(w)
			if werr != nil {
				return werr
			}
		}
		if rerr == io.EOF {
			return nil
		}
		if rerr != nil {
			return rerr
		}
	}
}

// Append adds a chunk to repo's session id. start, when not negative, is
// where the chunk begins (Content-Range): it must be where the upload is.
// A chunk over the size limit ends the session.
func (u *Uploads) Append(id, repo string, start int64, r io.Reader) (int64, error) {
	s, err := u.acquire(id, repo)
	if err != nil {
		return 0, err
	}
	// The session's fields are this request's until release; what is
	// returned is read before.
	if size := s.size; start >= 0 && start != size {
		u.release(s, true)
		return size, ErrUploadRange
	}
	err = u.write(s, r)
	size := s.size
	u.release(s, !errors.Is(err, ErrBlobTooLarge))
	return size, err
}

// Size is how much repo's session id holds.
func (u *Uploads) Size(id, repo string) (int64, error) {
	s, err := u.acquire(id, repo)
	if err != nil {
		return 0, err
	}
	size := s.size
	u.release(s, true)
	return size, nil
}

// Cancel ends repo's session id, discarding what it holds.
func (u *Uploads) Cancel(id, repo string) error {
	s, err := u.acquire(id, repo)
	if err != nil {
		return err
	}
	u.release(s, false)
	return nil
}

// Finish appends r (the final chunk, possibly empty) to repo's session id,
// checks the whole against digest and moves it into the blob store. The
// session ends whatever the outcome but a busy one; on any failure nothing
// is stored. It returns the blob's size.
func (u *Uploads) Finish(id, repo, digest string, r io.Reader) (int64, error) {
	s, err := u.acquire(id, repo)
	if err != nil {
		return 0, err
	}
	defer u.release(s, false)
	if err := u.write(s, r); err != nil {
		return 0, err
	}
	size := s.size
	return size, u.commit(s.f, s.h, digest)
}

// commit checks that f (hashed as h) is digest, syncs it and moves it
// into the blob store. f is closed.
func (u *Uploads) commit(f *os.File, h hash.Hash, digest string) error {
	if got := DigestAlgorithm + ":" + hex.EncodeToString(h.Sum(nil)); got != digest {
		f.Close()
		return fmt.Errorf("%w: got %s", ErrDigestMismatch, got)
	}
	if err := errors.Join(f.Sync(), f.Close()); err != nil {
		return err
	}
	// Renamed away: drop's Remove then finds nothing, as intended.
	return u.blobs.adopt(f.Name(), digest)
}

// Put stores r as blob digest in one go (a monolithic upload), returning
// its size; nothing is stored unless all of r matches digest.
func (u *Uploads) Put(digest string, r io.Reader) (int64, error) {
	id, err := u.Start("")
	if err != nil {
		return 0, err
	}
	return u.Finish(id, "", digest, r)
}
