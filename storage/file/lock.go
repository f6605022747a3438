package file

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Lock takes the lock of key, shared with every process and goroutine using
// this directory, through the lock file <hash>.lock (created if missing,
// never the data file, never deleted). It waits until the lock is free or ctx
// is done, then returns an error wrapping ctx.Err(). The returned function
// releases the lock and must be called exactly once. A process that dies
// holding the lock releases it.
//
// Once the lock is held, Lock removes the temporary files of key that
// writers killed mid-write left behind (see "Leftover temporary files" in
// the package doc); it never touches other keys' files, and a failure to
// remove one does not fail Lock. Lock never follows a lock file that is a
// symbolic link: it fails instead. Its errors are mapped as [Store.Put]
// maps them (on a read-only file system a key that has no lock file yet
// cannot be locked: [storage.ErrReadOnly]).
func (s *Store) Lock(ctx context.Context, key string) (unlock func() error, err error) {
	unlock, err = s.locks.Lock(ctx, filepath.Join(s.dir, s.name(key)+".lock"))
	if err != nil {
		return nil, opError("lock", err)
	}
	s.removeLeftovers(key)
	return unlock, nil
}

// removeLeftovers removes the temporary files of key that no live writer
// has open (see lockTemp). Call it only while holding key's lock.
func (s *Store) removeLeftovers(key string) {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return
	}
	prefix := s.tempPrefix(key)
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), prefix) || !e.Type().IsRegular() {
			continue
		}
		_ = removeUnlessBusy(filepath.Join(s.dir, e.Name()))
	}
}

// removeUnlessBusy removes the temporary file path unless a live writer
// holds it (tempBusy). It opens path without following a symbolic link.
func removeUnlessBusy(path string) error {
	f, err := openNoFollow(path)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, errSymlink) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("open leftover: %w", err)
	}
	busy := tempBusy(f)
	_ = f.Close()
	if busy {
		return nil
	}
	return os.Remove(path)
}
