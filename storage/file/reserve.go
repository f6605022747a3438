package file

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/tokenrefresh/tokenrefresh/storage"
)

var _ storage.Reserver = (*Store)(nil)

// reserveSlack is added to the largest envelope a reserved value can need
// before the reservation is rounded up to whole reserveBlocks.
const (
	reserveSlack = 256
	reserveBlock = 4096
)

// errReservationEnded is returned by Commit on a reservation that was
// already committed or released.
var errReservationEnded = errors.New("reservation already committed or released")

// Reserve sets aside the space a [Store.Put] of key with a value of up to
// size bytes needs, so that a token source can learn that a write will fail
// before it spends a single-use refresh token. It creates the temporary file
// that Put would create (.<hash>.json.tmp-*, mode 0600, beside the data file),
// preallocates the largest envelope such a value can take, rounded up.
//
// Reserve fails with an error wrapping [storage.ErrNoSpace] when the disk
// or quota is full, [storage.ErrReadOnly] on a read-only file system, and
// matching fs.ErrPermission when the directory cannot be written; with
// ctx.Err() when ctx is already done. Call it while holding key's
// [Store.Lock] when other processes share the directory.
//
// The [storage.Reservation] holds an open file until Commit or Release; the
// caller must call one of them.
func (s *Store) Reserve(ctx context.Context, key string, size int) (storage.Reservation, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("file: reserve: %w", err)
	}
	n, err := reserveSize(key, size)
	if err != nil {
		return nil, fmt.Errorf("file: reserve: %w", err)
	}
	tmp, err := s.createTemp(key)
	if err != nil {
		return nil, opError("reserve", err)
	}
	// No fsync: the allocation holds for as long as the file is open, which
	// is all a reservation promises; after a crash the file is garbage.
	if err = preallocate(tmp, n); err != nil {
		_ = tmp.Close()
		_ = os.Remove(tmp.Name())
		return nil, opError("reserve", err)
	}
	return &reservation{s: s, key: key, tmp: tmp}, nil
}

// reserveSize returns how many bytes to preallocate for a value of size
// bytes under key: the envelope with the key and an empty value, plus the
// base64 of size bytes, plus slack, rounded up to whole blocks.
func reserveSize(key string, size int) (int64, error) {
	if size < 0 {
		return 0, fmt.Errorf("negative size %d", size)
	}
	if size > maxFileSize {
		return 0, fmt.Errorf("size %d is larger than the %d bytes a token file may hold", size, maxFileSize)
	}
	empty, err := encode(key, []byte{})
	if err != nil {
		return 0, err
	}
	n := int64(len(empty)) + int64(base64.StdEncoding.EncodedLen(size)) + reserveSlack
	if n > maxFileSize {
		return 0, fmt.Errorf("a %d-byte value makes a token file larger than the %d bytes allowed", size, maxFileSize)
	}
	return (n + reserveBlock - 1) / reserveBlock * reserveBlock, nil
}

// writeZeros writes n zero bytes at the start of f.
func writeZeros(f *os.File, n int64) error {
	_, err := f.WriteAt(make([]byte, n), 0)
	return err
}

// reservation is the [storage.Reservation] of a Store: a preallocated
// temporary file that Commit fills, flushes and renames over the data file.
// It is safe for concurrent use.
type reservation struct {
	s   *Store
	key string

	// mu guards tmp, which is nil once the reservation has ended.
	mu  sync.Mutex
	tmp *os.File
}

// Commit writes value's envelope into the reserved file, at offset 0,
// truncates the file to the envelope's length, flushes it, closes it,
// renames it over the data file and flushes the directory: a Put that
// reuses the reserved space, so it does not fail for lack of space when
// value is no larger than the reserved size. A larger value is written the
// same way and needs the extra space, as Put would.
//
// Commit does not give up when ctx is done: the write is short and local,
// and abandoning it would lose a value (a rotated refresh token) that
// exists nowhere else. The reservation ends with Commit, whether it
// succeeds or not (on failure the temporary file is removed); a second
// Commit returns an error. Errors are mapped as [Store.Put] maps them.
func (r *reservation) Commit(_ context.Context, value []byte) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.tmp == nil {
		return fmt.Errorf("file: commit: %w", errReservationEnded)
	}
	tmp := r.tmp
	r.tmp = nil
	b, err := encode(r.key, value)
	if err != nil {
		_ = tmp.Close()
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("file: commit: %w", err)
	}
	if err := r.s.install(tmp, r.key, b); err != nil {
		return opError("commit", err)
	}
	return nil
}

// Release closes and removes the reserved file, storing nothing. Release
// after Commit or Release does nothing and returns nil.
func (r *reservation) Release() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.tmp == nil {
		return nil
	}
	tmp := r.tmp
	r.tmp = nil
	err := tmp.Close()
	if rerr := os.Remove(tmp.Name()); err == nil {
		err = rerr
	}
	if err != nil {
		return opError("release", err)
	}
	return nil
}
