//go:build linux && (amd64 || arm64)

package audit

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

// newAsyncTestFile returns an asynchronous writer and a file of the given
// number of zeroed blocks, opened for direct writes (both closed when t
// ends); it skips t where the system lacks either.
func newAsyncTestFile(t *testing.T, blocks int) (asyncWriteCloser, *os.File, string) {
	t.Helper()
	a, err := newAsyncWriter()
	if err != nil {
		t.Skipf("no asynchronous I/O here (%v): the journal writes with pwrite", err)
	}
	t.Cleanup(func() { a.Close() })
	path := filepath.Join(t.TempDir(), "seg")
	if err := os.WriteFile(path, make([]byte, blocks*directAlign), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := openDirect(path, true)
	if err != nil {
		t.Skipf("this filesystem refuses direct I/O: %v", err)
	}
	t.Cleanup(func() { f.Close() })
	return a, f, path
}

// TestAsyncWriterWritesAndReportsPwritesErrors: an asynchronous direct
// write puts its bytes where pwrite would, and fails as pwrite would: a
// misaligned write is refused with EINVAL (which the journal takes as the
// filesystem declining direct I/O), a descriptor not open for writing
// with EBADF.
func TestAsyncWriterWritesAndReportsPwritesErrors(t *testing.T) {
	a, f, path := newAsyncTestFile(t, 8)
	buf := alignedBuffer(3 * directAlign)
	for i := range buf {
		buf[i] = byte(i % 251)
	}
	if n, err := a.WriteAt(f, buf, directAlign); err != nil || n != len(buf) {
		t.Fatalf("write: %d, %v", n, err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := make([]byte, 8*directAlign)
	copy(want[directAlign:], buf)
	if !bytes.Equal(got, want) {
		t.Fatal("the file does not hold what was written where it was written")
	}

	tests := []struct {
		name        string
		file        func(t *testing.T) *os.File
		off         int64
		wantErr     error
		wantRefusal bool
	}{
		{"misaligned offset", func(*testing.T) *os.File { return f }, 100, syscall.EINVAL, true},
		{"descriptor not open for writing", func(t *testing.T) *os.File {
			r, err := os.OpenFile(path, os.O_RDONLY|syscall.O_DIRECT, 0)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { r.Close() })
			return r
		}, 0, syscall.EBADF, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := a.WriteAt(tt.file(t), buf, tt.off)
			if !errors.Is(err, tt.wantErr) || directRefused(err) != tt.wantRefusal {
				t.Fatalf("error %v (refusal %v); want %v (refusal %v)", err, directRefused(err), tt.wantErr, tt.wantRefusal)
			}
		})
	}
	// The writer still works after the failures, and so it does once it
	// has turned synchronous (as after io_submit was forbidden).
	if _, err := a.WriteAt(f, buf[:directAlign], 0); err != nil {
		t.Fatal(err)
	}
	a.(*asyncWriter).sync = true
	clear(buf)
	if _, err := a.WriteAt(f, buf[:directAlign], 2*directAlign); err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(path); err != nil || !bytes.Equal(got[2*directAlign:3*directAlign], buf[:directAlign]) {
		t.Fatalf("synchronous write did not land: %v", err)
	}
}

// TestJournalCommitsAsynchronously: where the system has asynchronous
// I/O, a journal's direct commits use it.
func TestJournalCommitsAsynchronously(t *testing.T) {
	j, err := OpenJournal(t.TempDir(), JournalOptions{SegmentSize: directTestSegment})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	if err := appendOne(j, 1); err != nil {
		t.Fatal(err)
	}
	if j.direct == nil {
		t.Skip("this filesystem refuses direct I/O")
	}
	if j.async == nil {
		_, err := newAsyncWriter()
		t.Skipf("no asynchronous I/O here (%v)", err)
	}
}

// TestAIOStructLayouts: struct iocb is 64 bytes, struct io_event 32.
func TestAIOStructLayouts(t *testing.T) {
	if s, e := unsafe.Sizeof(iocb{}), unsafe.Sizeof(ioEvent{}); s != 64 || e != 32 {
		t.Fatalf("iocb %d bytes, io_event %d; the kernel's are 64 and 32", s, e)
	}
	if o := unsafe.Offsetof(iocb{}.opcode); o != 16 {
		t.Fatalf("aio_lio_opcode at %d, want 16", o)
	}
	if o := unsafe.Offsetof(iocb{}.flags); o != 56 {
		t.Fatalf("aio_flags at %d, want 56", o)
	}
	if o := unsafe.Offsetof(ioEvent{}.res); o != 16 {
		t.Fatalf("io_event res at %d, want 16", o)
	}
}

// TestAsyncWriteReapedPastThePollerDeadline: a write not seen complete
// within the poller deadline is reaped in the thread, and the eventfd
// count it leaves is drained, so the writes after it wait for their own
// completions (each one's bytes are in place when it returns).
func TestAsyncWriteReapedPastThePollerDeadline(t *testing.T) {
	for _, wait := range []time.Duration{0, time.Nanosecond} {
		t.Run(wait.String(), func(t *testing.T) {
			saved := pollerWait
			pollerWait = wait
			defer func() { pollerWait = saved }()
			a, f, path := newAsyncTestFile(t, 64)
			buf := alignedBuffer(directAlign)
			for i := range 64 {
				for j := range buf {
					buf[j] = byte(i + 1)
				}
				if _, err := a.WriteAt(f, buf, int64(i)*directAlign); err != nil {
					t.Fatalf("write %d: %v", i, err)
				}
				got := make([]byte, directAlign)
				r, err := os.Open(path)
				if err != nil {
					t.Fatal(err)
				}
				_, err = r.ReadAt(got, int64(i)*directAlign)
				r.Close()
				if err != nil || !bytes.Equal(got, buf) {
					t.Fatalf("block %d not written when its write returned (%v)", i, err)
				}
			}
		})
	}
}
