package audit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/oidcfed/oidcfed/internal/store"
)

// directTestSegment is a segment size that is not a whole number of
// direct blocks, so the last chunk of a spare's zeros is refused direct
// I/O and goes through the page cache.
const directTestSegment = 2<<20 + 100

// writeBatches appends the same batches of records (bodies of 50 bytes to
// 9 KB, 1 to 7 records a commit, past a segment's end) to a journal in
// dir and closes it. It returns the journal as it was before Close.
func writeBatches(t *testing.T, dir string, direct bool) *Journal {
	t.Helper()
	saved := directIO
	directIO = direct // read once, by OpenJournal
	j, err := OpenJournal(dir, JournalOptions{SegmentSize: directTestSegment})
	directIO = saved
	if err != nil {
		t.Fatal(err)
	}
	seq, t0 := uint64(0), time.Date(2026, 11, 22, 1, 2, 3, 0, time.UTC)
	for batch := 0; batch < 700; batch++ {
		var recs []store.AuditRecord
		for range batch%7 + 1 {
			seq++
			body := fmt.Sprintf(`{"n":%d,"pad":%q}`, seq, strings.Repeat("x", int(seq*7919%9000)+50))
			recs = append(recs, store.AuditRecord{Writer: "w", Seq: seq, Time: t0.Add(time.Duration(seq) * time.Second),
				EventID: fmt.Sprint("id-", seq), EventName: "AssumeRoleWithWebIdentity", Body: []byte(body)})
		}
		if err := j.Append(context.Background(), recs); err != nil {
			t.Fatal(err)
		}
	}
	return j
}

func readDir(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	paths, _ := filepath.Glob(filepath.Join(dir, "*"))
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		files[filepath.Base(p)] = b
	}
	return files
}

// TestDirectCommitsWriteWhatPageCacheCommitsWrite: commits written with
// direct I/O (each rewriting the segment's last partial block) leave
// every segment and summary byte for byte as page-cache writes do, while
// the journal is open and once it is sealed.
func TestDirectCommitsWriteWhatPageCacheCommitsWrite(t *testing.T) {
	directDir, bufferedDir := t.TempDir(), t.TempDir()
	dj := writeBatches(t, directDir, true)
	if dj.noDirect || dj.direct == nil {
		t.Skip("this filesystem refuses direct I/O; the page-cache path is what it runs")
	}
	bj := writeBatches(t, bufferedDir, false)
	if bj.direct != nil {
		t.Fatal("page-cache journal opened its segment for direct I/O")
	}
	if dj.seg < 3 {
		t.Fatalf("the journal is on segment %d; the test wants rotations", dj.seg)
	}
	dj.bg.Wait()
	bj.bg.Wait()
	for _, stage := range []string{"open", "sealed"} {
		direct, buffered := readDir(t, directDir), readDir(t, bufferedDir)
		if len(direct) != len(buffered) {
			t.Fatalf("%s: %d files with direct I/O, %d without", stage, len(direct), len(buffered))
		}
		for name, b := range buffered {
			if !bytes.Equal(direct[name], b) {
				t.Errorf("%s: %s differs (%d bytes with direct I/O, %d without)", stage, name, len(direct[name]), len(b))
			}
		}
		if err := dj.Close(); err != nil {
			t.Fatal(err)
		}
		if err := bj.Close(); err != nil {
			t.Fatal(err)
		}
	}
	recs, err := dj.Query(context.Background(), store.AuditQuery{Limit: 5000})
	if err != nil || len(recs) != 2800 {
		t.Fatalf("read back %d records, %v; want 2800", len(recs), err)
	}
}

// appendOne appends record seq (a small one) to j.
func appendOne(j *Journal, seq uint64) error {
	return j.Append(context.Background(), []store.AuditRecord{{Writer: "w", Seq: seq, Time: time.Unix(int64(seq), 0),
		EventID: fmt.Sprint(seq), Body: []byte(`{}`)}})
}

// TestDirectIORefusedFallsBack: when the kernel refuses a direct commit
// (EINVAL, as from a filesystem without direct I/O or with a larger
// block), the commit goes through the page cache instead, and so does
// every later one.
func TestDirectIORefusedFallsBack(t *testing.T) {
	j, err := OpenJournal(t.TempDir(), JournalOptions{SegmentSize: directTestSegment})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	refused := 0
	j.directWriteAt = func(*os.File, []byte, int64) (int, error) {
		refused++
		return 0, syscall.EINVAL
	}
	for seq := uint64(1); seq <= 3; seq++ {
		if err := appendOne(j, seq); err != nil {
			t.Fatalf("append %d: %v", seq, err)
		}
	}
	if refused != 1 || !j.noDirect || j.direct != nil {
		t.Fatalf("direct writes tried %d times; then noDirect %v, direct %v", refused, j.noDirect, j.direct)
	}
	recs, err := j.Query(context.Background(), store.AuditQuery{})
	if err != nil || len(recs) != 3 {
		t.Fatalf("read back %d records, %v; want 3", len(recs), err)
	}
}

// TestDirectWriteFailureStartsANewSegment: a direct commit that fails
// (EIO) fails its records and breaks the segment; the next commit goes to
// a new segment, again with direct I/O, after the old one is cut to the
// records acknowledged before; a reopened journal finds exactly those.
func TestDirectWriteFailureStartsANewSegment(t *testing.T) {
	dir := t.TempDir()
	j, err := OpenJournal(dir, JournalOptions{SegmentSize: directTestSegment})
	if err != nil {
		t.Fatal(err)
	}
	for seq := uint64(1); seq <= 2; seq++ {
		if err := appendOne(j, seq); err != nil {
			t.Fatal(err)
		}
	}
	if j.direct == nil {
		t.Skip("this filesystem refuses direct I/O")
	}
	j.directWriteAt = func(f *os.File, b []byte, off int64) (int, error) {
		f.WriteAt(b[:directAlign], off) // its first block reaches the disk
		return 0, syscall.EIO
	}
	if err := appendOne(j, 3); !errors.Is(err, syscall.EIO) {
		t.Fatalf("append during the failure: %v, want EIO", err)
	}
	j.directWriteAt = nil
	first := j.seg
	if err := appendOne(j, 4); err != nil {
		t.Fatal(err)
	}
	if j.seg == first || j.direct == nil || j.noDirect {
		t.Fatalf("after the failure: segment %d (was %d), direct %v, noDirect %v", j.seg, first, j.direct, j.noDirect)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	reopened, err := OpenJournal(dir, JournalOptions{SegmentSize: directTestSegment, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	recs, err := reopened.Query(context.Background(), store.AuditQuery{Oldest: true})
	var seqs []uint64
	for _, r := range recs {
		seqs = append(seqs, r.Seq)
	}
	if err != nil || fmt.Sprint(seqs) != "[1 2 4]" {
		t.Fatalf("records after reopening: %v, %v; want [1 2 4]", seqs, err)
	}
}
