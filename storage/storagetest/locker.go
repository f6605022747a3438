package storagetest

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tokenrefresh/tokenrefresh/storage"
)

// lockWait bounds every wait in the locking checks. It is generous on
// purpose: the checks assert outcomes, never durations.
const lockWait = 20 * time.Second

// RunLocker runs the locking checks against lockers made by newLocker. [Run]
// calls it for stores that implement [storage.Locker]; call it directly for a
// locker that is not a store.
func RunLocker(t *testing.T, newLocker func(t *testing.T) storage.Locker) {
	t.Helper()
	runLocker(t, newLocker)
}

func runLocker(t *testing.T, newLocker func(t *testing.T) storage.Locker) {
	t.Run("MutualExclusion", func(t *testing.T) { testMutualExclusion(t, newLocker(t)) })
	t.Run("CancelWhileWaiting", func(t *testing.T) { testCancelWhileWaiting(t, newLocker(t)) })
	t.Run("CancelledBeforeLock", func(t *testing.T) { testCancelledBeforeLock(t, newLocker(t)) })
	t.Run("KeysLockIndependently", func(t *testing.T) { testKeysLockIndependently(t, newLocker(t)) })
	t.Run("Relock", func(t *testing.T) { testRelock(t, newLocker(t)) })
}

func lockOrFatal(t *testing.T, l storage.Locker, key string) func() error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), lockWait)
	defer cancel()
	unlock, err := l.Lock(ctx, key)
	if err != nil {
		t.Fatalf("Lock(%q) = %v, want nil", key, err)
	}
	return unlock
}

func testMutualExclusion(t *testing.T, l storage.Locker) {
	const workers, rounds = 8, 10
	key := uniqueKey(t, "lock")
	var inside, maxInside, total atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, workers*rounds)
	for range workers {
		wg.Go(func() {
			for range rounds {
				ctx, cancel := context.WithTimeout(context.Background(), lockWait)
				unlock, err := l.Lock(ctx, key)
				cancel()
				if err != nil {
					errs <- err
					return
				}
				n := inside.Add(1)
				for {
					m := maxInside.Load()
					if n <= m || maxInside.CompareAndSwap(m, n) {
						break
					}
				}
				total.Add(1)
				inside.Add(-1)
				if err := unlock(); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("Lock/unlock: %v", err)
	}
	if got := maxInside.Load(); got != 1 {
		t.Errorf("%d goroutines held the lock at once, want 1", got)
	}
	if got := total.Load(); got != workers*rounds {
		t.Errorf("lock acquired %d times, want %d", got, workers*rounds)
	}
}

func testCancelWhileWaiting(t *testing.T, l storage.Locker) {
	key := uniqueKey(t, "lock")
	unlock := lockOrFatal(t, l, key)
	defer func() {
		if err := unlock(); err != nil {
			t.Errorf("unlock = %v", err)
		}
	}()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		u, err := l.Lock(ctx, key)
		if err == nil {
			_ = u()
		}
		done <- err
	}()
	// Give the goroutine a moment to start waiting; the check below holds
	// whether or not it got there first.
	time.Sleep(50 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Lock while held, then cancelled = %v, want error wrapping context.Canceled", err)
		}
	case <-time.After(lockWait):
		t.Fatalf("Lock did not return within %v of its context being cancelled", lockWait)
	}
}

func testCancelledBeforeLock(t *testing.T, l storage.Locker) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	unlock, err := l.Lock(ctx, uniqueKey(t, "lock"))
	if err == nil {
		_ = unlock()
		t.Fatal("Lock(cancelled ctx) = nil error, want error wrapping context.Canceled")
	}
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Lock(cancelled ctx) = %v, want error wrapping context.Canceled", err)
	}
}

func testKeysLockIndependently(t *testing.T, l storage.Locker) {
	unlockA := lockOrFatal(t, l, uniqueKey(t, "a"))
	unlockB := lockOrFatal(t, l, uniqueKey(t, "b"))
	if err := unlockB(); err != nil {
		t.Errorf("unlock b = %v", err)
	}
	if err := unlockA(); err != nil {
		t.Errorf("unlock a = %v", err)
	}
}

func testRelock(t *testing.T, l storage.Locker) {
	key := uniqueKey(t, "lock")
	for i := range 3 {
		unlock := lockOrFatal(t, l, key)
		if err := unlock(); err != nil {
			t.Fatalf("unlock #%d = %v", i, err)
		}
	}
}
