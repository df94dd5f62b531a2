package audit_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oidcfed/oidcfed/internal/audit"
	"github.com/oidcfed/oidcfed/internal/store"
)

// smallSegments makes the journal rotate after a few thousand test
// records.
const smallSegments = 2 << 20

func openJournal(t testing.TB, dir string) *audit.Journal {
	t.Helper()
	j, err := audit.OpenJournal(dir, audit.JournalOptions{SegmentSize: smallSegments})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = j.Close() })
	return j
}

// crashableWriter opens a journal in dir and a Log "w1" on it that are
// never closed, so that a test can leave them as kill -9 would
// (audit.Crash).
func crashableWriter(t testing.TB, dir string) (*audit.Journal, *audit.Log) {
	t.Helper()
	j, err := audit.OpenJournal(dir, audit.JournalOptions{SegmentSize: smallSegments})
	if err != nil {
		t.Fatal(err)
	}
	l, err := audit.New(audit.Options{Backend: j, Writer: "w1", Now: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	return j, l
}

func readJournal(t testing.TB, dir string) *audit.Journal {
	t.Helper()
	j, err := audit.OpenJournal(dir, audit.JournalOptions{SegmentSize: smallSegments, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// recordMany records n events through l, 64 at a time.
func recordMany(t *testing.T, l *audit.Log, from, n int, at func(i int) time.Time) {
	t.Helper()
	for start := from; start < from+n; start += 64 {
		var wg sync.WaitGroup
		errs := make(chan error, 64)
		for i := start; i < min(start+64, from+n); i++ {
			wg.Go(func() {
				ev := event(i)
				if at != nil {
					ev.Time = at(i)
				}
				errs <- l.Record(context.Background(), ev)
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestJournalQueriesAcrossSegments: records spread over several segments
// (sealed and active) come back filtered, in order, page by page, to the
// writer and to a reader beside it, and the chain verifies.
func TestJournalQueriesAcrossSegments(t *testing.T) {
	dir := t.TempDir()
	j := openJournal(t, dir)
	l := newLog(t, audit.Options{Backend: j, Writer: "w1"})
	const n = 12000
	recordMany(t, l, 0, n, func(i int) time.Time { return t0.Add(time.Duration(i) * time.Second) })
	segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	if len(segs) < 3 {
		t.Fatalf("%d segments; the test wants several", len(segs))
	}
	reader := readJournal(t, dir)
	for name, b := range map[string]audit.Backend{"writer": j, "reader": reader} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			recs, err := b.Query(ctx, store.AuditQuery{Subject: "sub-4321"})
			if err != nil || len(recs) != 1 || recs[0].Subject != "sub-4321" {
				t.Fatalf("by subject: %d records, %v", len(recs), err)
			}
			recs, err = b.Query(ctx, store.AuditQuery{Since: t0.Add(100 * time.Second), Until: t0.Add(110 * time.Second), Oldest: true})
			if err != nil || len(recs) != 10 || !recs[0].Time.Equal(t0.Add(100*time.Second)) {
				t.Fatalf("time range: %d records, %v", len(recs), err)
			}
			// Newest first, 1000 a page, to the very first record.
			var all []store.AuditRecord
			q := store.AuditQuery{Limit: 1000}
			for {
				page, err := b.Query(ctx, q)
				if err != nil {
					t.Fatal(err)
				}
				all = append(all, page...)
				if len(page) < q.Limit {
					break
				}
				last := page[len(page)-1]
				q.After = &store.AuditPosition{Time: last.Time, Writer: last.Writer, Seq: last.Seq}
			}
			if len(all) != n {
				t.Fatalf("paged %d records, want %d", len(all), n)
			}
			if !slices.IsSortedFunc(all, func(a, b store.AuditRecord) int { return b.Time.Compare(a.Time) }) {
				t.Error("pages are not newest first")
			}
			chains, err := b.Chains(ctx)
			if err != nil || len(chains) != 1 || chains[0].First != 1 || chains[0].Last != n || chains[0].Count != n {
				t.Fatalf("chains: %+v, %v", chains, err)
			}
			reports, err := audit.Verify(ctx, b)
			if err != nil || !audit.OK(reports) || reports[0].Records != n {
				t.Fatalf("verify: %+v, %v", reports, err)
			}
		})
	}
}

// TestJournalTornTail: a crash in the middle of a batch's write leaves a
// torn frame; readers stop before it, and the next writer cuts it off
// and goes on, its records after the survivors.
func TestJournalTornTail(t *testing.T) {
	dir := t.TempDir()
	j, l := crashableWriter(t, dir)
	recordMany(t, l, 0, 100, nil)
	// No Close: as after kill -9. Tear the last frame and leave junk after it.
	audit.Crash(j)
	segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	slices.Sort(segs)
	active := segs[0] // 100 records fill no segment; any other is the spare
	b, err := os.ReadFile(active)
	if err != nil {
		t.Fatal(err)
	}
	end := len(strings.TrimRight(string(b), "\x00"))
	copy(b[end-10:], "garbage!!!")
	if err := os.WriteFile(active, b, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	recs, err := readJournal(t, dir).Query(ctx, store.AuditQuery{})
	if err != nil || len(recs) != 99 {
		t.Fatalf("reader after the tear: %d records, %v; want 99", len(recs), err)
	}
	j2 := openJournal(t, dir)
	l2 := newLog(t, audit.Options{Backend: j2, Writer: "w2"})
	recordMany(t, l2, 100, 10, nil)
	reports, err := audit.Verify(ctx, j2)
	if err != nil || !audit.OK(reports) || len(reports) != 2 || reports[0].Records != 99 || reports[1].Records != 10 {
		t.Fatalf("after restart: %+v, %v", reports, err)
	}
}

// TestJournalPruneKeepsTheRestVerifiable: pruning removes old sealed
// segments only, records anchors, and the chain still verifies from the
// first record kept.
func TestJournalPruneKeepsTheRestVerifiable(t *testing.T) {
	dir := t.TempDir()
	j := openJournal(t, dir)
	l := newLog(t, audit.Options{Backend: j, Writer: "w1"})
	const n = 12000
	recordMany(t, l, 0, n, func(i int) time.Time { return t0.Add(time.Duration(i) * time.Second) })
	ctx := context.Background()
	removed, err := j.Prune(ctx, t0.Add(n/2*time.Second))
	if err != nil || removed == 0 || removed > n/2 {
		t.Fatalf("pruned %d, %v", removed, err)
	}
	chains, err := j.Chains(ctx)
	if err != nil || len(chains) != 1 || chains[0].Anchor == nil || chains[0].First != chains[0].Anchor.Seq+1 || chains[0].Count != n-removed {
		t.Fatalf("chains after prune: %+v, %v", chains, err)
	}
	for name, b := range map[string]audit.Backend{"writer": j, "reader": readJournal(t, dir)} {
		reports, err := audit.Verify(ctx, b)
		if err != nil || !audit.OK(reports) || reports[0].Records != n-removed {
			t.Fatalf("%s verify after prune: %+v, %v", name, reports, err)
		}
	}
	// Pruning everything leaves the active segment.
	if _, err := j.Prune(ctx, t0.Add(2*n*time.Second)); err != nil {
		t.Fatal(err)
	}
	if recs, err := j.Query(ctx, store.AuditQuery{}); err != nil || len(recs) == 0 {
		t.Fatalf("after pruning all: %d records, %v; the active segment stays", len(recs), err)
	}
}

// TestJournalVerifyCatchesAnEdit: a record changed in its segment (its
// frame's CRC fixed up, as a careful attacker would) breaks the chain.
func TestJournalVerifyCatchesAnEdit(t *testing.T) {
	dir := t.TempDir()
	j := openJournal(t, dir)
	l := newLog(t, audit.Options{Backend: j, Writer: "w1"})
	for i := range 20 { // one at a time: record 7 is the 8th of the chain
		if err := l.Record(context.Background(), event(i)); err != nil {
			t.Fatal(err)
		}
	}
	l.Close()
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	if len(segs) != 1 {
		t.Fatalf("segments after close: %v", segs)
	}
	b, _ := os.ReadFile(segs[0])
	i := strings.Index(string(b), `"sub-7"`)
	if i < 0 {
		t.Fatal("record 7 not found")
	}
	b[i+5] = '8' // "sub-8": same length
	audit.FixFrameCRCs(b)
	if err := os.WriteFile(segs[0], b, 0o600); err != nil {
		t.Fatal(err)
	}
	reports, err := audit.Verify(context.Background(), readJournal(t, dir))
	if err != nil || audit.OK(reports) || reports[0].BreakSeq != 9 {
		t.Fatalf("verify after an edit: %+v, %v; want a break at record 9", reports, err)
	}
}

// TestJournalUnwritableFailsClosed: a journal whose directory cannot be
// written refuses to open, and a record on a journal that cannot grow a
// segment fails (the request fails; nothing is acknowledged).
func TestJournalUnwritable(t *testing.T) {
	if os.Getuid() == 0 {
		t.Skip("root writes anywhere")
	}
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o500); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.Chmod(dir, 0o700) })
	if _, err := audit.OpenJournal(filepath.Join(dir, "audit"), audit.JournalOptions{}); err == nil {
		t.Fatal("opened a journal in an unwritable directory")
	}
}

func TestJournalAnchorHash(t *testing.T) {
	// SetAnchor carries a moved chain's anchor into the journal.
	dir := t.TempDir()
	j := openJournal(t, dir)
	sum := sha256.Sum256([]byte("x"))
	if err := j.SetAnchor(store.AuditAnchor{Writer: "old", Seq: 41, Hash: hex.EncodeToString(sum[:])}); err != nil {
		t.Fatal(err)
	}
	chains, err := j.Chains(context.Background())
	if err != nil || len(chains) != 1 || chains[0].Anchor == nil || chains[0].Anchor.Seq != 41 {
		t.Fatalf("chains: %+v, %v", chains, err)
	}
}

// FuzzJournalSegment: whatever a segment file holds (damage, an attacker's
// edits), readers neither panic nor read past it.
func FuzzJournalSegment(f *testing.F) {
	// Seeds: testdata/fuzz/FuzzJournalSegment (a segment of three records,
	// whole and torn), and a frame with a bad CRC.
	f.Add([]byte{0, 0, 0, 4, 1, 2, 3, 4, 1, 1, 1, 1})
	f.Fuzz(func(t *testing.T, segment []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "0000000000000001.seg"), segment, 0o600); err != nil {
			t.Fatal(err)
		}
		r := readJournal(t, dir)
		ctx := context.Background()
		if _, err := r.Query(ctx, store.AuditQuery{Resource: "x", Oldest: true}); err != nil {
			return
		}
		if _, err := r.Query(ctx, store.AuditQuery{}); err != nil {
			return
		}
		_, _ = audit.Verify(ctx, r)
	})
}

// TestWriteJournalFuzzSeeds writes FuzzJournalSegment's seed corpus from a
// real segment (OIDCFED_WRITE_FUZZ_SEEDS=1).
func TestWriteJournalFuzzSeeds(t *testing.T) {
	if os.Getenv("OIDCFED_WRITE_FUZZ_SEEDS") == "" {
		t.Skip("set OIDCFED_WRITE_FUZZ_SEEDS=1 to rewrite the seeds")
	}
	dir := t.TempDir()
	j := openJournal(t, dir)
	l := newLog(t, audit.Options{Backend: j, Writer: "w1"})
	for i := range 3 {
		if err := l.Record(context.Background(), event(i)); err != nil {
			t.Fatal(err)
		}
	}
	l.Close()
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	seed, err := os.ReadFile(segs[0])
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join("testdata", "fuzz", "FuzzJournalSegment")
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{"whole": seed, "torn": seed[:len(seed)-7]} {
		if err := os.WriteFile(filepath.Join(out, name), []byte(fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", b)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestGroupCommitLeaders: many concurrent records through small batches
// (batches fill before their turn and queue) on both backends: every
// record is committed once, in one whole chain; and Close while records
// are arriving lets each either commit or fail with ErrClosed.
func TestGroupCommitLeaders(t *testing.T) {
	st, _ := openStore(t)
	backends := map[string]audit.Backend{"journal": openJournal(t, t.TempDir()), "store": audit.StoreBackend(st)}
	for name, b := range backends {
		t.Run(name, func(t *testing.T) {
			l := newLog(t, audit.Options{Backend: b, Writer: "w-" + name, MaxBatch: 3})
			recordConcurrently(t, l, 300)
			var wg sync.WaitGroup
			var mu sync.Mutex
			committed, closed := 0, 0
			for i := range 200 {
				wg.Go(func() {
					err := l.Record(context.Background(), event(1000+i))
					mu.Lock()
					defer mu.Unlock()
					switch err {
					case nil:
						committed++
					case audit.ErrClosed:
						closed++
					default:
						t.Error(err)
					}
				})
				if i == 100 {
					go l.Close()
				}
			}
			wg.Wait()
			reports, err := audit.Verify(context.Background(), b)
			if err != nil || !audit.OK(reports) || len(reports) != 1 || reports[0].Records != int64(300+committed) {
				t.Fatalf("after %d committed and %d refused: %+v, %v", committed, closed, reports, err)
			}
		})
	}
}

// TestJournalDamagedMiddleIsNotCut: a bad frame with whole records after
// it is damage, not a torn write: the writer refuses to start rather than
// cut acknowledged records off.
func TestJournalDamagedMiddleIsNotCut(t *testing.T) {
	dir := t.TempDir()
	j, l := crashableWriter(t, dir)
	for i := range 10 {
		if err := l.Record(context.Background(), event(i)); err != nil {
			t.Fatal(err)
		}
	}
	// No Close (a crash); flip a byte inside record 3's body.
	audit.Crash(j)
	seg := filepath.Join(dir, "0000000000000001.seg")
	b, err := os.ReadFile(seg)
	if err != nil {
		t.Fatal(err)
	}
	i := strings.Index(string(b), `"req-3"`)
	b[i+1] = 'X'
	if err := os.WriteFile(seg, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := audit.OpenJournal(dir, audit.JournalOptions{SegmentSize: smallSegments}); err == nil || !strings.Contains(err.Error(), "damaged") {
		t.Fatalf("open over a damaged segment: %v", err)
	}
	after, _ := os.ReadFile(seg)
	if len(after) != len(b) {
		t.Fatalf("the damaged segment was cut from %d to %d bytes", len(b), len(after))
	}
}

// TestJournalRefusesADuplicate: a (writer, seq) the journal holds is
// refused with store.ErrAlreadyExists, as the store's tables refuse it,
// before a restart and after; nothing of the batch is written.
func TestJournalRefusesADuplicate(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	rec := func(seq uint64) store.AuditRecord {
		return store.AuditRecord{Writer: "w1", Seq: seq, Time: t0, EventName: "E", Body: []byte(`{"n":1}`)}
	}
	j, err := audit.OpenJournal(dir, audit.JournalOptions{SegmentSize: smallSegments})
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Append(ctx, []store.AuditRecord{rec(1), rec(2)}); err != nil {
		t.Fatal(err)
	}
	if err := j.Append(ctx, []store.AuditRecord{rec(3), rec(2)}); !errors.Is(err, store.ErrAlreadyExists) {
		t.Fatalf("a batch repeating #2: %v", err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	j2 := openJournal(t, dir)
	if err := j2.Append(ctx, []store.AuditRecord{rec(2)}); !errors.Is(err, store.ErrAlreadyExists) {
		t.Fatalf("#2 again after a restart: %v", err)
	}
	if err := j2.Append(ctx, []store.AuditRecord{rec(3)}); err != nil {
		t.Fatal(err)
	}
	chains, err := j2.Chains(ctx)
	if err != nil || len(chains) != 1 || chains[0].Count != 3 || chains[0].Last != 3 {
		t.Fatalf("chains: %+v, %v", chains, err)
	}
}
