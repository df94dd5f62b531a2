package audit

import (
	"encoding/binary"
	"hash/crc32"
)

// FixFrameCRCs recomputes the CRC of every frame in a segment's bytes, as
// someone editing a record would.
func FixFrameCRCs(b []byte) {
	for off := 0; off+frameHeader <= len(b); {
		size := int(binary.BigEndian.Uint32(b[off:]))
		if size == 0 || off+frameHeader+size > len(b) {
			return
		}
		binary.BigEndian.PutUint32(b[off+4:], crc32.Checksum(b[off+frameHeader:off+frameHeader+size], crcTable))
		off += frameHeader + size
	}
}

// Crash stands for kill -9 in tests: it lets the journal's background
// work (a spare segment being made, a segment being sealed) finish, so a
// test that edits the files next races no goroutine of a dead writer,
// and leaves everything else as it is (no seal, no Close).
func Crash(j *Journal) { j.bg.Wait() }

// SetDirectIO turns the journal's direct I/O on or off (off: page-cache
// writes and fdatasync, as on a filesystem that refuses direct I/O) for
// journals opened until restore (a journal reads it once, when opened).
func SetDirectIO(on bool) (restore func()) {
	saved := directIO
	directIO = on
	return func() { directIO = saved }
}

// SetAsyncIO turns asynchronous direct writes (aio_linux.go) on or off
// for journals opened until restore.
func SetAsyncIO(on bool) (restore func()) {
	saved := asyncIO
	asyncIO = on
	return func() { asyncIO = saved }
}
