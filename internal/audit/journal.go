package audit

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/oidcfed/oidcfed/internal/store"
)

// The journal keeps the embedded store's audit records in segment files
// of their own, beside the database: a commit is one direct O_DSYNC
// write (directio.go; or a write and a data sync where the filesystem
// refuses direct I/O) into a segment whose blocks were written (with
// zeros) in advance, so the sync flushes data only — no block allocation
// or size change for the filesystem to journal. A database transaction
// per commit costs several times that (measured: about 60 µs of CPU per
// 3 KB record in the embedded SQLite, more than the whole request it
// records), which made durable auditing halve the server's throughput.
//
// A segment is a run of frames: payload length (4 bytes, big-endian),
// CRC-32C of the payload (4 bytes), payload (encodeRecord: the fields
// lookups filter on, then the event's JSON). A zero length ends the
// segment's frames (the preinitialized rest); so does a frame whose CRC
// does not match — a torn write, whose batch was never acknowledged.
//
// Segments are numbered in order (0000000000000001.seg, …); one is
// written at a time. When it is full, or the server stops, it is sealed:
// cut to its frames and given a summary (N.sum: record count, time
// range, each writer's first and last sequence number), so readers skip
// it without reading it. Lookups scan segments newest first, filtering on
// the frames' fields without decoding events; pruning removes whole
// sealed segments and records each chain's anchor (anchors.json), so
// what remains still verifies.
//
// One process writes a journal (the data directory's lock sees to that);
// any number read it, while it is written (`oidcfed audit`).

const (
	// DefaultSegmentSize is one segment's preinitialized size: about
	// 12,000 records of 2-3 KB.
	DefaultSegmentSize = 32 << 20
	// minSegmentSize keeps a frame of maxFrame bytes within a segment.
	minSegmentSize = 2 * maxFrame
	// maxFrame bounds one record's payload (an event is a few KB; request
	// values are cut before they reach one).
	maxFrame    = 1 << 20
	frameHeader = 8
	anchorsFile = "anchors.json"
	// scanBuffer is a segment reader's buffer.
	scanBuffer = 128 << 10
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// ErrJournalReadOnly is what a journal opened for reading answers writes.
var ErrJournalReadOnly = errors.New("audit journal opened read-only")

// JournalOptions configure OpenJournal.
type JournalOptions struct {
	// SegmentSize is each segment's size (DefaultSegmentSize when 0).
	SegmentSize int64
	// ReadOnly opens the journal for reading, beside the process that
	// writes it.
	ReadOnly bool
}

// Journal is a Backend of segment files in one directory.
type Journal struct {
	dir      string
	size     int64
	readOnly bool

	// mu guards sealed (summaries of sealed segments, which never change)
	// and the active segment's number, length and summary.
	mu     sync.Mutex
	sealed map[uint64]*segmentSummary
	seg    uint64
	off    int64
	active segmentSummary

	// wlock serializes Append, rotation and Close; the fields
	// below are the writer's. bg counts spare segments being made.
	wlock sync.Mutex
	bg    sync.WaitGroup
	// pruneMu serializes Prune and SetAnchor (anchors.json), which touch
	// sealed segments only and so never hold up Append.
	pruneMu sync.Mutex
	f       *os.File
	broken  bool // the last write or sync failed: start a new segment
	// direct is the active segment opened for direct commits (directio.go),
	// nil while commits go through the page cache; noDirect: the
	// filesystem refused direct I/O. stage holds, at its front, the
	// segment's last partial block, which each direct commit rewrites.
	direct   *os.File
	noDirect bool
	stage    []byte
	// directWriteAt, when set, stands in for the direct descriptor's
	// WriteAt (tests: a filesystem refusing direct I/O).
	directWriteAt func(*os.File, []byte, int64) (int, error)
	// async submits direct writes without blocking a thread (nil: pwrite);
	// noAsync: the system refused it.
	async   asyncWriteCloser
	noAsync bool
	buf     []byte
	spare   chan *os.File     // the next segment, preinitialized in the background
	last    map[string]uint64 // each writer's last sequence number
	closed  bool
}

// segmentSummary is what a reader needs of a segment to skip it.
type segmentSummary struct {
	Records int64          `json:"records"`
	Size    int64          `json:"size"`     // bytes of frames
	MinTime int64          `json:"min_time"` // Unix nanoseconds
	MaxTime int64          `json:"max_time"`
	Chains  []segmentChain `json:"chains"` // by writer
}

type segmentChain struct {
	Writer string `json:"writer"`
	First  uint64 `json:"first"`
	Last   uint64 `json:"last"`
	Count  int64  `json:"count"`
}

func (s *segmentSummary) add(writer string, seq uint64, t int64) {
	if s.Records == 0 || t < s.MinTime {
		s.MinTime = t
	}
	if s.Records == 0 || t > s.MaxTime {
		s.MaxTime = t
	}
	s.Records++
	for i := range s.Chains {
		if c := &s.Chains[i]; c.Writer == writer {
			c.First, c.Last, c.Count = min(c.First, seq), max(c.Last, seq), c.Count+1
			return
		}
	}
	s.Chains = append(s.Chains, segmentChain{Writer: writer, First: seq, Last: seq, Count: 1})
	slices.SortFunc(s.Chains, func(a, b segmentChain) int { return strings.Compare(a.Writer, b.Writer) })
}

func (s *segmentSummary) chain(writer string) *segmentChain {
	for i := range s.Chains {
		if s.Chains[i].Writer == writer {
			return &s.Chains[i]
		}
	}
	return nil
}

func (s *segmentSummary) clone() *segmentSummary {
	c := *s
	c.Chains = slices.Clone(s.Chains)
	return &c
}

func segmentName(n uint64) string { return fmt.Sprintf("%016d.seg", n) }
func summaryName(n uint64) string { return fmt.Sprintf("%016d.sum", n) }

// OpenJournal opens the journal in dir. A writer creates dir, seals what
// an earlier process left unsealed (cutting a torn last batch, which was
// never acknowledged) and starts a new segment.
func OpenJournal(dir string, opts JournalOptions) (*Journal, error) {
	size := opts.SegmentSize
	if size == 0 {
		size = DefaultSegmentSize
	}
	if size < minSegmentSize {
		return nil, fmt.Errorf("audit journal: segment size %d is under %d", size, minSegmentSize)
	}
	j := &Journal{dir: dir, size: size, readOnly: opts.ReadOnly, sealed: map[uint64]*segmentSummary{},
		noDirect: !directIO, noAsync: !asyncIO}
	if opts.ReadOnly {
		return j, nil // a journal not yet made reads as empty
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("audit journal: %w", err)
	}
	if err := j.recover(); err != nil {
		return nil, fmt.Errorf("audit journal: %w", err)
	}
	segs, err := j.segments()
	if err != nil {
		return nil, fmt.Errorf("audit journal: %w", err)
	}
	next := uint64(1)
	if len(segs) > 0 {
		next = segs[len(segs)-1] + 1
	}
	// Never reuse a number a summary (or anchors.json's prune) has seen.
	sums, _ := filepath.Glob(filepath.Join(dir, "*.sum"))
	for _, p := range sums {
		if k, err := strconv.ParseUint(strings.TrimSuffix(filepath.Base(p), ".sum"), 10, 64); err == nil && k >= next {
			next = k + 1
		}
	}
	f, err := createSegment(dir, next, size, 0, !j.noDirect)
	if err != nil {
		return nil, fmt.Errorf("audit journal: %w", err)
	}
	j.f, j.seg = f, next
	// Each writer's last sequence number, so Append refuses a record it
	// already holds, as the store's unique (writer, seq) does.
	j.last = map[string]uint64{}
	chains, err := j.Chains(context.Background())
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("audit journal: %w", err)
	}
	for _, c := range chains {
		j.last[c.Writer] = max(c.Last, anchorSeq(c.Anchor))
	}
	j.spare = make(chan *os.File, 1)
	j.prepare(next + 1)
	return j, nil
}

func anchorSeq(a *store.AuditAnchor) uint64 {
	if a == nil {
		return 0
	}
	return a.Seq
}

// recover seals every segment an earlier writer left unsealed, removes
// empty ones and any half-made spare.
func (j *Journal) recover() error {
	entries, err := os.ReadDir(j.dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		name := e.Name()
		// A half-made file, or a summary whose segment a prune removed
		// before it crashed.
		_, segErr := os.Stat(filepath.Join(j.dir, strings.TrimSuffix(name, ".sum")+".seg"))
		if strings.HasSuffix(name, ".new") || (strings.HasSuffix(name, ".sum") && errors.Is(segErr, fs.ErrNotExist)) {
			if err := os.Remove(filepath.Join(j.dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
		}
	}
	segs, err := j.segments()
	if err != nil {
		return err
	}
	for _, n := range segs {
		if _, err := os.Stat(filepath.Join(j.dir, summaryName(n))); err == nil {
			continue
		}
		sum, err := j.scanSummary(n, 0)
		if err != nil {
			return err
		}
		// What follows the last whole frame must be a torn write (never
		// acknowledged) and zeros; a whole frame further on means the
		// segment is damaged in the middle, and cutting it would lose
		// acknowledged records.
		if at, err := j.frameAfter(n, sum.Size); err != nil {
			return err
		} else if at >= 0 {
			return fmt.Errorf("segment %d is damaged at byte %d (a whole record follows at %d); not cutting it: move it aside to start", n, sum.Size, at)
		}
		if err := j.seal(n, nil, sum); err != nil {
			return err
		}
	}
	return nil
}

// frameAfter is the offset of the first whole frame (length in range, CRC
// matching) after from in segment n, or -1 when there is none.
func (j *Journal) frameAfter(n uint64, from int64) (int64, error) {
	b, err := os.ReadFile(filepath.Join(j.dir, segmentName(n)))
	if err != nil {
		return -1, err
	}
	for off := from + 1; off+frameHeader <= int64(len(b)); off++ {
		size := int64(binary.BigEndian.Uint32(b[off:]))
		if size == 0 || size > maxFrame || off+frameHeader+size > int64(len(b)) {
			continue
		}
		if crc32.Checksum(b[off+frameHeader:off+frameHeader+size], crcTable) == binary.BigEndian.Uint32(b[off+4:]) {
			return off, nil
		}
	}
	return -1, nil
}

// segments lists the segment numbers in order.
func (j *Journal) segments() ([]uint64, error) {
	entries, err := os.ReadDir(j.dir)
	if errors.Is(err, fs.ErrNotExist) && j.readOnly {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []uint64
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".seg")
		if !ok {
			continue
		}
		if n, err := strconv.ParseUint(name, 10, 64); err == nil && n > 0 {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out, nil
}

// createSegment writes segment n's zeros under a temporary name, moves
// the file into place and syncs the directory. Each 1 MiB is synced as it
// is written, so the filesystem never holds a large backlog of dirty
// pages: ext4 flushes such a backlog before it commits its journal, and a
// commit the segment's own sync waited on stalled requests for hundreds of
// milliseconds when 32 MiB were synced at once (scripts/load-roles, p99
// 534 ms). pace, between chunks, leaves the disk to the requests' syncs.
func createSegment(dir string, n uint64, size int64, pace time.Duration, direct bool) (*os.File, error) {
	path := filepath.Join(dir, segmentName(n))
	tmp := path + ".new"
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*os.File, error) {
		f.Close()
		os.Remove(tmp)
		return nil, err
	}
	if err := writeZeros(f, size, pace, direct); err != nil {
		return fail(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fail(err)
	}
	if err := syncDir(dir); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// spacing is the pause between a spare segment's 1 MiB chunks: 32 MiB in
// about a third of a second, while a segment lasts seconds under load.
const spacing = 5 * time.Millisecond

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// prepare makes segment n in the background; a failure leaves a nil
// spare, and rotation then tries itself (and reports the error).
func (j *Journal) prepare(n uint64) {
	direct := !j.noDirect // read here: the writer's, under wlock or before any Append
	j.bg.Add(1)
	go func() {
		defer j.bg.Done()
		f, err := createSegment(j.dir, n, j.size, spacing, direct)
		if err != nil {
			f = nil
		}
		j.spare <- f
	}()
}

// Append makes records durable, all or none: one write and one data sync
// into one segment (a batch that would not fit starts the next one).
func (j *Journal) Append(_ context.Context, records []store.AuditRecord) error {
	if j.readOnly {
		return ErrJournalReadOnly
	}
	j.wlock.Lock()
	defer j.wlock.Unlock()
	if j.closed {
		return ErrClosed
	}
	next := map[string]uint64{}
	for i := range records {
		r := &records[i]
		last, ok := next[r.Writer]
		if !ok {
			last = j.last[r.Writer]
		}
		if r.Seq <= last {
			return fmt.Errorf("audit journal: %s #%d: %w", r.Writer, r.Seq, store.ErrAlreadyExists)
		}
		next[r.Writer] = r.Seq
	}
	j.buf = j.buf[:0]
	var sum segmentSummary
	for i := range records {
		start := len(j.buf)
		j.buf = append(j.buf, make([]byte, frameHeader)...)
		j.buf = encodeRecord(j.buf, &records[i])
		payload := j.buf[start+frameHeader:]
		if len(payload) > maxFrame {
			return fmt.Errorf("audit record of %d bytes is over the journal's %d", len(payload), maxFrame)
		}
		binary.BigEndian.PutUint32(j.buf[start:], uint32(len(payload)))
		binary.BigEndian.PutUint32(j.buf[start+4:], crc32.Checksum(payload, crcTable))
		sum.add(records[i].Writer, records[i].Seq, records[i].Time.UnixNano())
	}
	if int64(len(j.buf)) > j.size {
		return fmt.Errorf("audit batch of %d bytes is over a journal segment's %d", len(j.buf), j.size)
	}
	if j.broken || j.off+int64(len(j.buf)) > j.size {
		if err := j.rotate(); err != nil {
			return err
		}
	}
	if err := j.writeFrames(j.buf); err != nil {
		// What the failed write or sync left is unknown (Linux may have
		// dropped the pages): the segment is sealed before these frames.
		j.broken = true
		return err
	}
	j.mu.Lock()
	j.off += int64(len(j.buf))
	j.active.merge(&sum)
	j.mu.Unlock()
	for w, seq := range next {
		j.last[w] = seq
	}
	return nil
}

func (s *segmentSummary) merge(o *segmentSummary) {
	if o.Records == 0 {
		return
	}
	if s.Records == 0 || o.MinTime < s.MinTime {
		s.MinTime = o.MinTime
	}
	if s.Records == 0 || o.MaxTime > s.MaxTime {
		s.MaxTime = o.MaxTime
	}
	s.Records += o.Records
	for _, c := range o.Chains {
		if mine := s.chain(c.Writer); mine != nil {
			mine.First, mine.Last, mine.Count = min(mine.First, c.First), max(mine.Last, c.Last), mine.Count+c.Count
			continue
		}
		s.Chains = append(s.Chains, c)
	}
	slices.SortFunc(s.Chains, func(a, b segmentChain) int { return strings.Compare(a.Writer, b.Writer) })
}

// rotate moves to the next segment (the spare, when it is ready) and
// seals the last in the background: nothing here waits for the disk but
// a spare not yet made.
func (j *Journal) rotate() error {
	f := <-j.spare
	n := j.seg + 1
	if f == nil {
		var err error
		if f, err = createSegment(j.dir, n, j.size, 0, !j.noDirect); err != nil {
			j.spare <- nil // try again next time
			return fmt.Errorf("new audit journal segment: %w", err)
		}
	}
	if j.broken {
		// A failed write or sync may have left frames past j.off that
		// were reported failed (their sequence numbers are used again):
		// cut them off before anything goes to the next segment, or a
		// restart would recover them.
		if err := j.f.Truncate(j.off); err != nil {
			j.spare <- f
			return fmt.Errorf("cut audit journal segment after a failed write: %w", err)
		}
		if err := j.f.Sync(); err != nil {
			j.spare <- f
			return fmt.Errorf("cut audit journal segment after a failed write: %w", err)
		}
	}
	j.closeSegmentDirect()
	j.mu.Lock()
	old, oldOff, oldSum := j.seg, j.off, j.active.clone()
	oldF := j.f
	j.f, j.seg, j.off, j.active, j.broken = f, n, 0, segmentSummary{}, false
	j.mu.Unlock()
	oldSum.Size = oldOff
	j.bg.Add(1)
	go func() {
		defer j.bg.Done()
		// A seal that fails leaves the records durable, only without the
		// cut tail and the summary, which the next start makes.
		_ = j.seal(old, oldF, oldSum)
	}()
	j.prepare(n + 1)
	return nil
}

// seal cuts segment n to its frames (sum.Size bytes) and writes its
// summary; an empty segment is removed. f is the segment open for
// writing, or nil.
func (j *Journal) seal(n uint64, f *os.File, sum *segmentSummary) error {
	path := filepath.Join(j.dir, segmentName(n))
	if f != nil {
		defer f.Close()
	}
	if sum.Records == 0 {
		return os.Remove(path)
	}
	if f == nil {
		var err error
		if f, err = os.OpenFile(path, os.O_RDWR, 0); err != nil {
			return err
		}
		defer f.Close()
	}
	if err := f.Truncate(sum.Size); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	b, err := json.Marshal(sum)
	if err != nil {
		return err
	}
	if err := writeFileAtomic(filepath.Join(j.dir, summaryName(n)), b); err != nil {
		return err
	}
	j.mu.Lock()
	j.sealed[n] = sum
	j.mu.Unlock()
	return nil
}

// writeFileAtomic writes path's content under a temporary name, syncs it
// and moves it into place, then syncs the directory.
func writeFileAtomic(path string, b []byte) error {
	tmp := path + ".new"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	f, err := os.OpenFile(tmp, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	err = f.Sync()
	f.Close()
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	return syncDir(filepath.Dir(path))
}

// Close seals the active segment and removes the spare.
func (j *Journal) Close() error {
	if j.readOnly {
		return nil
	}
	j.wlock.Lock()
	defer j.wlock.Unlock()
	if j.closed {
		return nil
	}
	j.mu.Lock()
	j.closed = true
	sum := j.active.clone()
	sum.Size = j.off
	j.mu.Unlock()
	j.closeSegmentDirect()
	var err error
	if j.async != nil {
		err = j.async.Close()
		j.async = nil
	}
	err = errors.Join(err, j.seal(j.seg, j.f, sum))
	j.bg.Wait()
	if f := <-j.spare; f != nil {
		f.Close()
		err = errors.Join(err, os.Remove(filepath.Join(j.dir, segmentName(j.seg+1))))
	}
	return err
}

// segmentView is one segment as a reader sees it: its summary, and for
// the segment being written by this process, how far to read.
type segmentView struct {
	n     uint64
	sum   *segmentSummary
	limit int64 // 0: to the end of its frames
}

// view lists the segments with their summaries: sealed ones from memory
// or their summary files, the others scanned.
func (j *Journal) view() ([]segmentView, error) {
	segs, err := j.segments()
	if err != nil {
		return nil, err
	}
	out := make([]segmentView, 0, len(segs))
	for _, n := range segs {
		j.mu.Lock()
		sum, ok := j.sealed[n]
		isActive := !j.readOnly && n == j.seg && !j.closed
		var limit int64
		if isActive {
			sum, limit, ok = j.active.clone(), j.off, true
		}
		j.mu.Unlock()
		if !ok {
			sum, err = j.loadSummary(n)
			if errors.Is(err, fs.ErrNotExist) {
				continue // pruned meanwhile
			}
			if err != nil {
				return nil, err
			}
		}
		if sum.Records == 0 {
			continue
		}
		out = append(out, segmentView{n: n, sum: sum, limit: limit})
	}
	return out, nil
}

// loadSummary reads segment n's summary file, or scans the segment when
// it has none (it is being written, or its writer stopped unexpectedly).
func (j *Journal) loadSummary(n uint64) (*segmentSummary, error) {
	b, err := os.ReadFile(filepath.Join(j.dir, summaryName(n)))
	if err == nil {
		var sum segmentSummary
		if err := json.Unmarshal(b, &sum); err != nil {
			return nil, fmt.Errorf("audit journal summary %d: %w", n, err)
		}
		j.mu.Lock()
		j.sealed[n] = &sum
		j.mu.Unlock()
		return &sum, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(j.dir, segmentName(n))); err != nil {
		return nil, err
	}
	return j.scanSummary(n, 0)
}

func (j *Journal) scanSummary(n uint64, limit int64) (*segmentSummary, error) {
	sum := &segmentSummary{}
	end, err := scanFrames(filepath.Join(j.dir, segmentName(n)), limit, func(_ int64, p []byte) error {
		v, err := decodeView(p)
		if err != nil {
			return fmt.Errorf("audit journal segment %d: %w", n, err)
		}
		sum.add(string(v.writer), v.seq, v.time)
		return nil
	})
	sum.Size = end
	return sum, err
}

// scanFrames calls fn with each whole frame's offset and payload (valid
// during the call only) of the segment at path, up to limit bytes (0: to
// the end of its frames), and returns where its frames end.
func scanFrames(path string, limit int64, fn func(off int64, payload []byte) error) (int64, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil // pruned meanwhile
	}
	if err != nil {
		return 0, err
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, scanBuffer)
	var hdr [frameHeader]byte
	var payload []byte
	off := int64(0)
	for limit <= 0 || off+frameHeader <= limit {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				break
			}
			return off, err
		}
		size := int64(binary.BigEndian.Uint32(hdr[:4]))
		if size == 0 || size > maxFrame || (limit > 0 && off+frameHeader+size > limit) {
			break
		}
		if int64(cap(payload)) < size {
			payload = make([]byte, size)
		}
		payload = payload[:size]
		if _, err := io.ReadFull(r, payload); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				break
			}
			return off, err
		}
		if crc32.Checksum(payload, crcTable) != binary.BigEndian.Uint32(hdr[4:]) {
			break
		}
		if err := fn(off, payload); err != nil {
			return off, err
		}
		off += frameHeader + size
	}
	return off, nil
}

// readFrame reads the record whose frame starts at off in segment n.
func (j *Journal) readFrame(f *os.File, off int64) (store.AuditRecord, error) {
	var hdr [frameHeader]byte
	if _, err := f.ReadAt(hdr[:], off); err != nil {
		return store.AuditRecord{}, err
	}
	size := binary.BigEndian.Uint32(hdr[:4])
	if size == 0 || size > maxFrame {
		return store.AuditRecord{}, errBadRecord
	}
	payload := make([]byte, size)
	if _, err := f.ReadAt(payload, off+frameHeader); err != nil {
		return store.AuditRecord{}, err
	}
	if crc32.Checksum(payload, crcTable) != binary.BigEndian.Uint32(hdr[4:]) {
		return store.AuditRecord{}, errBadRecord
	}
	v, err := decodeView(payload)
	if err != nil {
		return store.AuditRecord{}, err
	}
	return v.record(), nil
}

// hit is a matching record's sort key and place.
type hit struct {
	time   int64
	writer string
	seq    uint64
	seg    uint64
	off    int64
}

func compareHits(a, b hit) int {
	return cmp.Or(cmp.Compare(a.time, b.time), strings.Compare(a.writer, b.writer), cmp.Compare(a.seq, b.seq))
}

// Query lists the records q selects: it keeps the sort keys of the best
// Limit matches while scanning the segments that can hold any (newest
// first, or oldest first with q.Oldest), then reads those records.
func (j *Journal) Query(ctx context.Context, q store.AuditQuery) ([]store.AuditRecord, error) {
	segs, err := j.view()
	if err != nil {
		return nil, err
	}
	limit := q.Limit
	if limit <= 0 {
		limit = 1000
	}
	since, until := int64(0), int64(0)
	if !q.Since.IsZero() {
		since = q.Since.UnixNano()
	}
	if !q.Until.IsZero() {
		until = q.Until.UnixNano()
	}
	var after *hit
	if q.After != nil {
		after = &hit{time: q.After.Time.UnixNano(), writer: q.After.Writer, seq: q.After.Seq}
	}
	// better orders hits as the listing does.
	better := func(a, b hit) int {
		if q.Oldest {
			return compareHits(a, b)
		}
		return compareHits(b, a)
	}
	if !q.Oldest {
		slices.Reverse(segs)
	}
	writers := map[string]string{} // interned writer names
	var hits []hit
	// Once limit hits are kept, cutoff is the worst of them: only a
	// better record can enter.
	var cutoff *hit
	keep := func() {
		slices.SortFunc(hits, better)
		if len(hits) >= limit {
			hits = hits[:limit]
			c := hits[limit-1]
			cutoff = &c
		}
	}
	for _, s := range segs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if (since != 0 && s.sum.MaxTime < since) || (until != 0 && s.sum.MinTime >= until) {
			continue
		}
		if after != nil && ((q.Oldest && s.sum.MaxTime < after.time) || (!q.Oldest && s.sum.MinTime > after.time)) {
			continue
		}
		if cutoff != nil {
			// None here can enter when the segment's best time is worse
			// than the worst kept's.
			if (q.Oldest && s.sum.MinTime > cutoff.time) || (!q.Oldest && s.sum.MaxTime < cutoff.time) {
				continue
			}
		}
		_, err := scanFrames(filepath.Join(j.dir, segmentName(s.n)), s.limit, func(off int64, p []byte) error {
			v, err := decodeView(p)
			if err != nil {
				return fmt.Errorf("audit journal segment %d at %d: %w", s.n, off, err)
			}
			if !v.matches(&q, since, until) {
				return nil
			}
			w, ok := writers[string(v.writer)]
			if !ok {
				w = string(v.writer)
				writers[w] = w
			}
			h := hit{time: v.time, writer: w, seq: v.seq, seg: s.n, off: off}
			if after != nil && better(h, *after) <= 0 {
				return nil
			}
			if cutoff != nil && better(h, *cutoff) >= 0 {
				return nil
			}
			hits = append(hits, h)
			if len(hits) >= 2*limit {
				keep()
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		keep()
	}
	return j.read(hits)
}

// read loads the records of hits, in hits' order.
func (j *Journal) read(hits []hit) ([]store.AuditRecord, error) {
	out := make([]store.AuditRecord, 0, len(hits))
	files := map[uint64]*os.File{}
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	for _, h := range hits {
		f, ok := files[h.seg]
		if !ok {
			var err error
			if f, err = os.Open(filepath.Join(j.dir, segmentName(h.seg))); err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					continue // pruned meanwhile
				}
				return nil, err
			}
			files[h.seg] = f
		}
		r, err := j.readFrame(f, h.off)
		if err != nil {
			return nil, fmt.Errorf("audit journal segment %d at %d: %w", h.seg, h.off, err)
		}
		out = append(out, r)
	}
	return out, nil
}

// Chains describes each writer's chain: its records' range over the
// segments, and its anchor when pruned.
func (j *Journal) Chains(context.Context) ([]store.AuditChainInfo, error) {
	segs, err := j.view()
	if err != nil {
		return nil, err
	}
	anchors, err := j.anchors()
	if err != nil {
		return nil, err
	}
	byWriter := map[string]*store.AuditChainInfo{}
	get := func(w string) *store.AuditChainInfo {
		c, ok := byWriter[w]
		if !ok {
			c = &store.AuditChainInfo{Writer: w}
			byWriter[w] = c
		}
		return c
	}
	for _, s := range segs {
		for _, sc := range s.sum.Chains {
			c := get(sc.Writer)
			if c.Count == 0 || sc.First < c.First {
				c.First = sc.First
			}
			c.Last = max(c.Last, sc.Last)
			c.Count += sc.Count
		}
	}
	for w, a := range anchors {
		get(w).Anchor = &store.AuditAnchor{Writer: w, Seq: a.Seq, Hash: a.Hash}
	}
	out := make([]store.AuditChainInfo, 0, len(byWriter))
	for _, c := range byWriter {
		out = append(out, *c)
	}
	slices.SortFunc(out, func(a, b store.AuditChainInfo) int { return strings.Compare(a.Writer, b.Writer) })
	return out, nil
}

// Chain returns up to limit records of writer from sequence number from
// on, in order.
func (j *Journal) Chain(ctx context.Context, writer string, from uint64, limit int) ([]store.AuditRecord, error) {
	segs, err := j.view()
	if err != nil {
		return nil, err
	}
	// Records at or before a prune anchor are being removed (a prune
	// stopped between writing anchors.json and deleting its segments).
	anchors, err := j.anchors()
	if err != nil {
		return nil, err
	}
	if a, ok := anchors[writer]; ok && from <= a.Seq {
		from = a.Seq + 1
	}
	var out []store.AuditRecord
	for _, s := range segs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		c := s.sum.chain(writer)
		if c == nil || c.Last < from {
			continue
		}
		var page []store.AuditRecord
		_, err := scanFrames(filepath.Join(j.dir, segmentName(s.n)), s.limit, func(off int64, p []byte) error {
			v, err := decodeView(p)
			if err != nil {
				return fmt.Errorf("audit journal segment %d at %d: %w", s.n, off, err)
			}
			if string(v.writer) == writer && v.seq >= from {
				page = append(page, v.record())
				if len(out)+len(page) >= limit {
					return errStop // a writer's records are in order
				}
			}
			return nil
		})
		if err != nil && !errors.Is(err, errStop) {
			return nil, err
		}
		slices.SortFunc(page, func(a, b store.AuditRecord) int { return cmp.Compare(a.Seq, b.Seq) })
		out = append(out, page...)
		if len(out) >= limit {
			return out[:limit], nil
		}
	}
	return out, nil
}

// journalAnchor is a pruned chain's anchor as anchors.json keeps it.
type journalAnchor struct {
	Seq  uint64 `json:"seq"`
	Hash string `json:"hash"`
}

func (j *Journal) anchors() (map[string]journalAnchor, error) {
	b, err := os.ReadFile(filepath.Join(j.dir, anchorsFile))
	if errors.Is(err, fs.ErrNotExist) && j.readOnly {
		return map[string]journalAnchor{}, nil
	}
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]journalAnchor{}, nil
	}
	if err != nil {
		return nil, err
	}
	out := map[string]journalAnchor{}
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("audit journal %s: %w", anchorsFile, err)
	}
	return out, nil
}

// SetAnchor records where a chain whose start is gone now starts (records
// moved from another backend after pruning there).
func (j *Journal) SetAnchor(a store.AuditAnchor) error {
	if j.readOnly {
		return ErrJournalReadOnly
	}
	j.pruneMu.Lock()
	defer j.pruneMu.Unlock()
	anchors, err := j.anchors()
	if err != nil {
		return err
	}
	anchors[a.Writer] = journalAnchor{Seq: a.Seq, Hash: a.Hash}
	b, err := json.Marshal(anchors)
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(j.dir, anchorsFile), b)
}

// Prune removes the oldest sealed segments whose every record is older
// than before. It first records, for each chain they hold, the last
// record removed (anchors.json), so the records kept still verify.
func (j *Journal) Prune(ctx context.Context, before time.Time) (int64, error) {
	if j.readOnly {
		return 0, ErrJournalReadOnly
	}
	j.pruneMu.Lock()
	defer j.pruneMu.Unlock()
	segs, err := j.view()
	if err != nil {
		return 0, err
	}
	cut := before.UnixNano()
	var doomed []segmentView
	for _, s := range segs {
		j.mu.Lock()
		_, sealed := j.sealed[s.n]
		j.mu.Unlock()
		if !sealed || s.sum.MaxTime >= cut {
			break // the active segment, one being sealed, or one with a record to keep
		}
		doomed = append(doomed, s)
	}
	if len(doomed) == 0 {
		return 0, nil
	}
	anchors, err := j.anchors()
	if err != nil {
		return 0, err
	}
	var removed int64
	for _, s := range doomed {
		removed += s.sum.Records
		for _, c := range s.sum.Chains {
			if a, ok := anchors[c.Writer]; ok && a.Seq >= c.Last {
				continue
			}
			last, err := j.Chain(ctx, c.Writer, c.Last, 1)
			if err != nil {
				return 0, err
			}
			if len(last) != 1 || last[0].Seq != c.Last {
				return 0, fmt.Errorf("audit journal: record %d of %s is missing from segment %d", c.Last, c.Writer, s.n)
			}
			sum := sha256.Sum256(last[0].Body)
			anchors[c.Writer] = journalAnchor{Seq: c.Last, Hash: hex.EncodeToString(sum[:])}
		}
	}
	b, err := json.Marshal(anchors)
	if err != nil {
		return 0, err
	}
	if err := writeFileAtomic(filepath.Join(j.dir, anchorsFile), b); err != nil {
		return 0, err
	}
	for _, s := range doomed {
		// The summary goes last: a segment without one is scanned, never
		// skipped.
		if err := os.Remove(filepath.Join(j.dir, segmentName(s.n))); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return removed, err
		}
		if err := os.Remove(filepath.Join(j.dir, summaryName(s.n))); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return removed, err
		}
		j.mu.Lock()
		delete(j.sealed, s.n)
		j.mu.Unlock()
	}
	return removed, syncDir(j.dir)
}

// encodeRecord appends r's payload: uvarint-length-prefixed strings and
// bytes and uvarint numbers, in store.AuditRecord's field order, the
// event's JSON last.
func encodeRecord(b []byte, r *store.AuditRecord) []byte {
	str := func(s string) { b = binary.AppendUvarint(b, uint64(len(s))); b = append(b, s...) }
	str(r.Writer)
	b = binary.AppendUvarint(b, r.Seq)
	b = binary.AppendVarint(b, r.Time.UnixNano())
	str(r.EventID)
	str(r.EventName)
	str(r.EventSource)
	if r.ReadOnly {
		b = append(b, 1)
	} else {
		b = append(b, 0)
	}
	str(r.Username)
	str(r.AccessKeyID)
	str(r.ErrorCode)
	str(r.Subject)
	b = binary.AppendUvarint(b, uint64(len(r.Resources)))
	for _, s := range r.Resources {
		str(s)
	}
	b = binary.AppendUvarint(b, uint64(len(r.Body)))
	return append(b, r.Body...)
}

var (
	errBadRecord = errors.New("malformed journal record")
	errStop      = errors.New("stop scanning")
)

// frameView is a payload's fields, aliasing the payload.
type frameView struct {
	writer                                 []byte
	seq                                    uint64
	time                                   int64
	eventID, eventName, eventSource        []byte
	readOnly                               bool
	username, accessKeyID, errorCode, subj []byte
	resources                              []byte // the encoded list, after its count
	nResources                             uint64
	body                                   []byte
}

// decodeView reads a payload encodeRecord made, refusing anything else.
func decodeView(p []byte) (frameView, error) {
	var v frameView
	bad := false
	uv := func() uint64 {
		if bad {
			return 0
		}
		x, n := binary.Uvarint(p)
		if n <= 0 {
			bad = true
			return 0
		}
		p = p[n:]
		return x
	}
	raw := func() []byte {
		n := uv()
		if bad || n > uint64(len(p)) {
			bad = true
			return nil
		}
		out := p[:n:n]
		p = p[n:]
		return out
	}
	v.writer = raw()
	v.seq = uv()
	if !bad {
		x, n := binary.Varint(p)
		if n <= 0 {
			return v, errBadRecord
		}
		p, v.time = p[n:], x
	}
	v.eventID, v.eventName, v.eventSource = raw(), raw(), raw()
	if bad || len(p) == 0 || p[0] > 1 {
		return v, errBadRecord
	}
	v.readOnly, p = p[0] == 1, p[1:]
	v.username, v.accessKeyID, v.errorCode, v.subj = raw(), raw(), raw(), raw()
	v.nResources = uv()
	if bad || v.nResources > uint64(len(p)) {
		return v, errBadRecord
	}
	start := p
	for i := uint64(0); i < v.nResources && !bad; i++ {
		raw()
	}
	if bad {
		return v, errBadRecord
	}
	v.resources = start[:len(start)-len(p)]
	v.body = raw()
	if bad || len(p) != 0 || len(v.writer) == 0 || v.seq == 0 || len(v.body) == 0 {
		return v, errBadRecord
	}
	return v, nil
}

// eachResource calls fn with each resource name until it returns false.
func (v *frameView) eachResource(fn func([]byte) bool) {
	p := v.resources
	for i := uint64(0); i < v.nResources; i++ {
		n, k := binary.Uvarint(p)
		p = p[k:]
		if !fn(p[:n]) {
			return
		}
		p = p[n:]
	}
}

// matches reports whether the record passes q's filters (not its After).
func (v *frameView) matches(q *store.AuditQuery, since, until int64) bool {
	if (since != 0 && v.time < since) || (until != 0 && v.time >= until) {
		return false
	}
	for _, f := range [...]struct {
		field []byte
		want  string
	}{
		{v.eventID, q.EventID}, {v.eventName, q.EventName}, {v.eventSource, q.EventSource},
		{v.username, q.Username}, {v.accessKeyID, q.AccessKeyID}, {v.subj, q.Subject},
	} {
		if f.want != "" && string(f.field) != f.want {
			return false
		}
	}
	if q.ReadOnly != nil && v.readOnly != *q.ReadOnly {
		return false
	}
	if q.ErrorsOnly && len(v.errorCode) == 0 {
		return false
	}
	if q.Resource != "" {
		found := false
		v.eachResource(func(name []byte) bool {
			found = string(name) == q.Resource
			return !found
		})
		if !found {
			return false
		}
	}
	return true
}

// record copies the view out into a store record.
func (v *frameView) record() store.AuditRecord {
	r := store.AuditRecord{
		Writer: string(v.writer), Seq: v.seq, Time: time.Unix(0, v.time).UTC(),
		EventID: string(v.eventID), EventName: string(v.eventName), EventSource: string(v.eventSource),
		ReadOnly: v.readOnly, Username: string(v.username), AccessKeyID: string(v.accessKeyID),
		ErrorCode: string(v.errorCode), Subject: string(v.subj), Body: bytes.Clone(v.body),
	}
	v.eachResource(func(name []byte) bool {
		r.Resources = append(r.Resources, string(name))
		return true
	})
	return r
}
