// Package keys owns key custody: the master key that seals every secret at
// rest, and the asymmetric keys that sign tokens. Other packages get a
// crypto.Signer or a Sealer and never handle raw key bytes.
package keys

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// MasterKeySize is the size of a master key: AES-256.
const MasterKeySize = 32

// MasterKey is a loaded master key. Its String method never prints the key.
type MasterKey struct {
	id  string // hex, 16 chars: names the key in sealed values and messages
	aad []byte // binary form of id, mixed into every seal's associated data
	gcm cipher.AEAD
}

// ID names the key without revealing it (a truncated SHA-256 of a label
// and the key).
func (k *MasterKey) ID() string { return k.id }

// String keeps the key out of logs and panics.
func (k *MasterKey) String() string { return "master-key(" + k.id + ")" }

// GoString keeps the key out of %#v.
func (k *MasterKey) GoString() string { return k.String() }

// NewMasterKey builds a MasterKey from 32 raw bytes.
func NewMasterKey(raw []byte) (*MasterKey, error) {
	if len(raw) != MasterKeySize {
		return nil, fmt.Errorf("master key must be %d bytes, got %d", MasterKeySize, len(raw))
	}
	block, err := aes.NewCipher(raw)
	if err != nil {
		return nil, err
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(append([]byte("oidcfed master key id\x00"), raw...))
	return &MasterKey{id: hex.EncodeToString(sum[:8]), aad: sum[:8], gcm: gcm}, nil
}

// Errors a master key file can cause. The messages are meant for operators.
var (
	ErrMasterKeyMissing    = errors.New("master key file does not exist")
	ErrMasterKeyPermissive = errors.New("master key file is readable by group or others")
	ErrMasterKeyMalformed  = errors.New("master key file does not hold a 32-byte key")
)

// MaxMasterKeyFileSize bounds what LoadMasterKeyFile will read. The longest
// valid content is 64 hex characters and a CRLF; the bound leaves room for
// nothing else, so a wrong path (a log file, a database, a sparse file) is
// refused from its size alone, before a single byte is read.
const MaxMasterKeyFileSize = 1 << 10

// LoadMasterKeyFile reads a master key file. The file must not be readable
// by group or others (mode 0600 or stricter), must be at most
// MaxMasterKeyFileSize bytes, and must hold either 64 hexadecimal characters
// (optionally followed by a newline), the form `openssl rand -hex 32`
// writes, or exactly 32 raw random bytes.
func LoadMasterKeyFile(path string) (*MasterKey, error) {
	info, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s", ErrMasterKeyMissing, path)
	}
	if err != nil {
		return nil, fmt.Errorf("master key file %s: %w", path, err)
	}
	if !info.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: %s is not a regular file", ErrMasterKeyMalformed, path)
	}
	if perm := info.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("%w: %s has mode %04o; run chmod 600 %s", ErrMasterKeyPermissive, path, perm, path)
	}
	if info.Size() > MaxMasterKeyFileSize {
		return nil, fmt.Errorf("%w: %s is %d bytes; want %d hex characters or %d raw bytes", ErrMasterKeyMalformed, path, info.Size(), 2*MasterKeySize, MasterKeySize)
	}
	data, err := readBounded(path, MaxMasterKeyFileSize)
	if err != nil {
		return nil, fmt.Errorf("master key file %s: %w", path, err)
	}
	defer clear(data)
	if len(data) > MaxMasterKeyFileSize {
		// The file grew between Stat and the read.
		return nil, fmt.Errorf("%w: %s is over %d bytes", ErrMasterKeyMalformed, path, MaxMasterKeyFileSize)
	}
	raw, err := decodeMasterKey(data)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrMasterKeyMalformed, path, err)
	}
	defer clear(raw)
	return NewMasterKey(raw)
}

// readBounded reads at most limit+1 bytes, so a caller can tell "too big"
// from "exactly limit" without ever holding more than that in memory (the
// Stat size check comes first, but a file can grow after it).
func readBounded(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, limit+1))
}

// errMasterKeyText explains the refusal of 32 bytes of text: almost
// certainly a passphrase or a truncated hex key, either of which holds far
// less than 256 bits of entropy.
var errMasterKeyText = fmt.Errorf("found %d bytes of text, not a random key; use %d hex characters (openssl rand -hex %d) or %d random bytes", MasterKeySize, 2*MasterKeySize, MasterKeySize, MasterKeySize)

func decodeMasterKey(data []byte) ([]byte, error) {
	if len(data) == MasterKeySize {
		// 32 random bytes are all printable (or whitespace) with a
		// probability of about (98/256)^32, 4e-14; 32 bytes of text are a
		// 31-character passphrase and a newline, or half a hex key.
		if isText(data) {
			return nil, errMasterKeyText
		}
		return bytes.Clone(data), nil
	}
	text := strings.TrimRight(string(data), "\r\n")
	if len(text) == 2*MasterKeySize {
		if raw, err := hex.DecodeString(text); err == nil {
			return raw, nil
		}
	}
	return nil, fmt.Errorf("found %d bytes; want %d hex characters (openssl rand -hex %d) or %d random bytes", len(data), 2*MasterKeySize, MasterKeySize, MasterKeySize)
}

// isText reports whether every byte is printable ASCII or the whitespace a
// text editor writes.
func isText(b []byte) bool {
	for _, c := range b {
		if (c < 0x20 || c > 0x7e) && c != '\t' && c != '\n' && c != '\r' {
			return false
		}
	}
	return true
}

// fsync is (*os.File).Sync; tests replace it to observe what is synced
// and to simulate a failing disk.
var fsync = (*os.File).Sync

// CreateMasterKeyFile writes a new random key as hex to path with mode 0600.
// It refuses to overwrite an existing file. The file and its directory
// entry are synced before it returns: the caller is about to seal secrets
// under the key, and a crash must not leave them sealed under a key whose
// file is empty or missing.
func CreateMasterKeyFile(path string) (*MasterKey, error) {
	raw := make([]byte, MasterKeySize)
	defer clear(raw)
	if _, err := rand.Read(raw); err != nil {
		return nil, err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	// The key is written and synced under a temporary name, then linked
	// to path, which fails if path exists: the file appears whole or not
	// at all, so replicas starting together never read a half-written key
	// (the loser of the race gets an error wrapping os.ErrExist).
	f, err := os.CreateTemp(dir, ".master-key-*")
	if err != nil {
		return nil, fmt.Errorf("create master key file: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	werr := f.Chmod(0o600)
	if werr == nil {
		_, werr = f.WriteString(hex.EncodeToString(raw) + "\n")
	}
	var serr error
	if werr == nil {
		serr = fsync(f)
	}
	cerr := f.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		return nil, fmt.Errorf("write master key file: %w", err)
	}
	if err := os.Link(tmp, path); err != nil {
		return nil, fmt.Errorf("create master key file: %w", err)
	}
	if err := SyncDir(dir); err != nil {
		_ = os.Remove(path)
		return nil, fmt.Errorf("write master key file: %w", err)
	}
	return NewMasterKey(raw)
}

// RenameMasterKeyFile moves a key file over another (atomically, on one
// file system) and syncs the directory, so that once it returns the new
// name survives a crash. rotate-master-key calls it after the store has
// committed secrets sealed under the key in from.
func RenameMasterKeyFile(from, to string) error {
	if err := os.Rename(from, to); err != nil {
		return err
	}
	if err := SyncDir(filepath.Dir(to)); err != nil {
		return err
	}
	if dir := filepath.Dir(from); dir != filepath.Dir(to) {
		return SyncDir(dir)
	}
	return nil
}

// SyncDir fsyncs a directory, making the creation, removal or renaming of
// entries in it durable (a file's own fsync does not cover its name).
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync directory: %w", err)
	}
	serr := fsync(d)
	if err := errors.Join(serr, d.Close()); err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}

// Sealed values: magic | key id (8 bytes) | nonce (12) | ciphertext+tag.
// The key id lets a keyring pick the right key and lets rotate-master-key
// report which values are still under an old key.
var sealMagic = []byte("ofs1")

const sealHeaderLen = 4 + 8 + 12

// ErrUnseal is returned for a sealed value that cannot be opened: wrong key,
// wrong associated data, or tampered bytes. It never carries plaintext.
var ErrUnseal = errors.New("cannot unseal secret")

// Sealer seals under one current master key and opens values sealed under
// any key in its ring (the current one and, during rotation, the old one).
type Sealer struct {
	current *MasterKey
	ring    map[string]*MasterKey
}

// NewSealer seals under current and also opens values sealed under older.
func NewSealer(current *MasterKey, older ...*MasterKey) *Sealer {
	s := &Sealer{current: current, ring: map[string]*MasterKey{current.id: current}}
	for _, k := range older {
		s.ring[k.id] = k
	}
	return s
}

// KeyID is the id of the key new values are sealed under.
func (s *Sealer) KeyID() string { return s.current.id }

// Seal encrypts plaintext bound to aad (which names the record that holds it).
func (s *Sealer) Seal(plaintext []byte, aad string) ([]byte, error) {
	k := s.current
	out := make([]byte, sealHeaderLen, sealHeaderLen+len(plaintext)+k.gcm.Overhead())
	copy(out, sealMagic)
	copy(out[4:], k.aad)
	nonce := out[12:sealHeaderLen]
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return k.gcm.Seal(out, nonce, plaintext, associatedData(out[:12], aad)), nil
}

// Open decrypts a value produced by Seal with the same aad.
func (s *Sealer) Open(sealed []byte, aad string) ([]byte, error) {
	if len(sealed) < sealHeaderLen || !bytes.Equal(sealed[:4], sealMagic) {
		return nil, fmt.Errorf("%w: not a sealed value", ErrUnseal)
	}
	id := hex.EncodeToString(sealed[4:12])
	k, ok := s.ring[id]
	if !ok {
		return nil, fmt.Errorf("%w: sealed under master key %s, but the loaded master key is %s", ErrUnseal, id, s.current.id)
	}
	plain, err := k.gcm.Open(nil, sealed[12:sealHeaderLen], sealed[sealHeaderLen:], associatedData(sealed[:12], aad))
	if err != nil {
		return nil, fmt.Errorf("%w: authentication failed (tampered value or wrong record)", ErrUnseal)
	}
	return plain, nil
}

// SealedKeyID reports which master key a sealed value is under.
func SealedKeyID(sealed []byte) (string, bool) {
	if len(sealed) < sealHeaderLen || !bytes.Equal(sealed[:4], sealMagic) {
		return "", false
	}
	return hex.EncodeToString(sealed[4:12]), true
}

// Reseal opens a value (under any key in the ring) and seals it again under
// the current key. It is the callback rotate-master-key hands to the store.
func (s *Sealer) Reseal(aad string, sealed []byte) ([]byte, error) {
	plain, err := s.Open(sealed, aad)
	if err != nil {
		return nil, err
	}
	defer clear(plain)
	return s.Seal(plain, aad)
}

func associatedData(header []byte, aad string) []byte {
	out := make([]byte, 0, len(header)+len(aad))
	return append(append(out, header...), aad...)
}

// DeriveKey derives a key for one purpose (named by info) from the current
// master key; see MasterKey.DeriveKey.
func (s *Sealer) DeriveKey(info string) []byte { return s.current.DeriveKey(info) }
