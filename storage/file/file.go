// Package file is a [storage.Store] that keeps each value in its own file in
// one directory, and a [storage.Locker] that excludes other processes with a
// lock file beside it.
//
// # Layout
//
// For a key K the Store uses, inside its directory (mode 0700):
//
//	<hex sha256 of K>.json   the value, in a versioned JSON envelope (mode 0600)
//	<hex sha256 of K>.lock   the lock file, empty, never deleted (mode 0600)
//	.<hex>.json.tmp-*        a write in progress; removed on failure
//
// Keys never become paths, so any string is a valid key.
//
// # Safety
//
// Put writes a temporary file in the same directory, fsyncs it, renames it
// over the old file and fsyncs the directory: a crash leaves either the old
// or the new value, never a torn one. A data file or directory that other
// users can access is refused with a [*PermissionError], as ssh refuses such
// a private key. A file that does not decode gives a [*CorruptError] naming
// it; one written by a newer, incompatible version gives a [*VersionError].
// Neither is ever a panic.
package file

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"

	"github.com/tokenrefresh/tokenrefresh/internal/filelock"
	"github.com/tokenrefresh/tokenrefresh/storage"
)

var (
	_ storage.Store  = (*Store)(nil)
	_ storage.Locker = (*Store)(nil)
)

// maxFileSize bounds what Get reads, so a runaway file cannot exhaust memory.
const maxFileSize = 64 << 20

// Store keeps values in files in one directory. Create it with [New]; the
// zero value is not usable. It is safe for concurrent use by multiple
// goroutines and by several processes sharing the directory. It holds no open
// files between calls, so there is nothing to close.
type Store struct {
	dir   string
	locks filelock.Locker
}

// New returns a Store for dir, creating it (and its parents) with mode 0700
// if it does not exist. It fails if dir is empty, is not a directory, or can
// be written by other users ([*PermissionError]).
func New(dir string) (*Store, error) {
	if dir == "" {
		return nil, errors.New("file: empty directory name")
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("file: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("file: create token directory: %w", err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("file: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("file: %s is not a directory", dir)
	}
	if checkPerms() && fi.Mode().Perm()&0o022 != 0 {
		return nil, &PermissionError{Path: dir, Mode: fi.Mode()}
	}
	return &Store{dir: dir}, nil
}

// Dir returns the absolute path of the Store's directory.
func (s *Store) Dir() string { return s.dir }

// Path returns the data file that holds key, whether or not it exists. It is
// meant for messages to the user ("token stored in ...").
func (s *Store) Path(key string) string { return filepath.Join(s.dir, s.name(key)+".json") }

func (s *Store) name(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// checkPerms reports whether Unix permission bits mean anything here.
func checkPerms() bool { return runtime.GOOS != "windows" }

// Get returns the value under key, or an error wrapping [storage.ErrNotFound]
// when there is no file for it. It returns a [*PermissionError] for a file
// other users can access, and a [*CorruptError] or [*VersionError] for one it
// cannot decode. It fails with ctx.Err() when ctx is already done.
func (s *Store) Get(ctx context.Context, key string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("file: get: %w", err)
	}
	path := s.Path(key)
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("file: get: %w", storage.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("file: get: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("file: get: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, &CorruptError{Path: path, Err: errors.New("not a regular file")}
	}
	if checkPerms() && fi.Mode().Perm()&0o077 != 0 {
		return nil, &PermissionError{Path: path, Mode: fi.Mode()}
	}
	b, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("file: get: read %s: %w", path, err)
	}
	if len(b) > maxFileSize {
		return nil, &CorruptError{Path: path, Err: fmt.Errorf("larger than %d bytes", maxFileSize)}
	}
	return decode(path, key, b)
}

// Put stores value under key, atomically and durably: when it returns nil
// the new value survives a crash, and at no point can a reader see a partial
// value. It fails with ctx.Err() when ctx is already done.
func (s *Store) Put(ctx context.Context, key string, value []byte) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("file: put: %w", err)
	}
	b, err := encode(key, value)
	if err != nil {
		return fmt.Errorf("file: put: %w", err)
	}
	name := s.name(key)
	tmp, err := os.CreateTemp(s.dir, "."+name+".json.tmp-*") // mode 0600
	if err != nil {
		return fmt.Errorf("file: put: %w", err)
	}
	if err := writeSync(tmp, b); err != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("file: put: %w", err)
	}
	if err := os.Rename(tmp.Name(), s.Path(key)); err != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("file: put: %w", err)
	}
	if err := syncDir(s.dir); err != nil {
		return fmt.Errorf("file: put: %w", err)
	}
	return nil
}

// writeSync writes b to f, flushes it to stable storage and closes f.
func writeSync(f *os.File, b []byte) error {
	_, err := f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// syncDir makes a rename or removal in dir durable. Windows cannot fsync a
// directory; its rename is durable on return.
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// Delete removes the data file of key; a missing file is not an error. The
// lock file stays. It fails with ctx.Err() when ctx is already done.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("file: delete: %w", err)
	}
	err := os.Remove(s.Path(key))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("file: delete: %w", err)
	}
	if err := syncDir(s.dir); err != nil {
		return fmt.Errorf("file: delete: %w", err)
	}
	return nil
}

// Lock takes the lock of key, shared with every process and goroutine using
// this directory, through the lock file <hash>.lock (created if missing,
// never the data file, never deleted). It waits until the lock is free or ctx
// is done, then returns an error wrapping ctx.Err(). The returned function
// releases the lock and must be called exactly once. A process that dies
// holding the lock releases it.
func (s *Store) Lock(ctx context.Context, key string) (unlock func() error, err error) {
	unlock, err = s.locks.Lock(ctx, filepath.Join(s.dir, s.name(key)+".lock"))
	if err != nil {
		return nil, fmt.Errorf("file: lock: %w", err)
	}
	return unlock, nil
}
