// Package filelock excludes other processes and other goroutines from a
// lock file. It is the one home of github.com/gofrs/flock.
//
// A lock file is never the data it protects and is never deleted: deleting
// it on unlock would let a waiter lock the old inode while a newcomer locks
// a fresh one.
package filelock

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
	"time"

	"github.com/gofrs/flock"

	"github.com/tokenrefresh/tokenrefresh/internal/keymutex"
)

// A waiter retries a lock held by another process with backoff: flock
// offers no blocking wait that honours a context. The first retry comes
// after minPoll, so a lock released a moment later (the common case: a
// refresh takes a millisecond) is taken at once; waits double up to
// maxPoll, which bounds the cost of a long wait.
const (
	minPoll = 50 * time.Microsecond
	maxPoll = 10 * time.Millisecond
)

// ErrUnlocked is returned by an unlock function called a second time.
var ErrUnlocked = errors.New("filelock: lock already released")

// Locker hands out exclusive locks on lock files. Within the process a
// per-path semaphore orders goroutines (an flock is held by an open file, so
// two goroutines could otherwise both believe they hold it); across processes
// the OS file lock does. The zero value is ready to use; a Locker must not be
// copied after first use. It is safe for concurrent use.
type Locker struct {
	inProcess keymutex.Map
}

// Lock creates path (mode 0600) if needed and blocks until this caller holds
// its lock, or returns an error wrapping ctx.Err() when ctx is done first. The
// directory of path must exist. Lock never follows a symbolic link at path:
// a planted link fails the call (the error says so and wraps ELOOP on Unix)
// and its target is neither created nor opened. The returned function
// releases the lock and must be called exactly once; later calls return
// [ErrUnlocked]. If the process dies, the OS releases the lock.
func (l *Locker) Lock(ctx context.Context, path string) (unlock func() error, err error) {
	path = filepath.Clean(path)
	release, err := l.inProcess.Lock(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("filelock: %w", err)
	}
	if err := checkNotSymlink(path); err != nil {
		release()
		return nil, err
	}
	// A fresh Flock per hold: each has its own open file, so another Locker
	// in this process conflicts with us exactly as another process does.
	fl := flock.New(path, flock.SetPermissions(0o600), flock.SetFlag(openFlag()))
	ok, err := tryLock(ctx, fl)
	if err != nil || !ok {
		release()
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, fmt.Errorf("filelock: %w", ctxErr)
		}
		if errors.Is(err, syscall.ELOOP) && isSymlink(path) {
			return nil, fmt.Errorf("filelock: lock file %s is a symbolic link; refusing to follow it: %w", path, err)
		}
		return nil, fmt.Errorf("filelock: lock %s: %w", path, err)
	}
	var once sync.Once
	return func() error {
		err := ErrUnlocked
		once.Do(func() {
			err = fl.Unlock()
			release()
			if err != nil {
				err = fmt.Errorf("filelock: unlock %s: %w", path, err)
			}
		})
		return err
	}, nil
}

// tryLock takes fl's lock, retrying with backoff from minPoll to maxPoll
// while another process holds it, until ctx is done.
func tryLock(ctx context.Context, fl *flock.Flock) (bool, error) {
	wait := minPoll
	var timer *time.Timer
	for {
		ok, err := fl.TryLock()
		if ok || err != nil {
			return ok, err
		}
		if timer == nil {
			timer = time.NewTimer(wait)
			defer timer.Stop()
		} else {
			timer.Reset(wait)
		}
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case <-timer.C:
		}
		wait = min(2*wait, maxPoll)
	}
}

// isSymlink reports whether path is a symbolic link.
func isSymlink(path string) bool {
	fi, err := os.Lstat(path)
	return err == nil && fi.Mode()&fs.ModeSymlink != 0
}

// openFlag is how a lock file is opened: created if missing, never through
// a symbolic link, read-only where an exclusive flock allows it (as
// github.com/gofrs/flock does by default).
func openFlag() int {
	switch runtime.GOOS {
	case "aix", "solaris", "illumos":
		return os.O_CREATE | os.O_RDWR | oNoFollow
	}
	return os.O_CREATE | os.O_RDONLY | oNoFollow
}
