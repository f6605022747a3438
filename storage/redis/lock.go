package redis

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"
)

// Waiting for a busy lock polls with a backoff from lockPollMin doubling up
// to lockPollMax, with jitter.
const (
	lockPollMin = 2 * time.Millisecond
	lockPollMax = 100 * time.Millisecond
)

// Lock takes the lock of key, waiting until it is free or ctx is done
// (then the error wraps ctx.Err()). The lock is a Redis key set with
// SET NX PX [Options.LockLease] to a random 128-bit token; it does not
// block reads or writes of the record, which stay fenced by generations.
//
// While the lock is held a goroutine renews the lease every third of it,
// if the lock still holds our token. The returned unlock function stops
// the renewal and deletes the lock if it still holds our token. It returns
// an error wrapping [ErrLockLost] when the lease had run out meanwhile (the
// process paused, or Redis was unreachable for a whole lease), and an error
// when called a second time. A process that dies holding the lock keeps it
// until the lease runs out: other processes take it over after LockLease
// at the latest.
func (s *Store) Lock(ctx context.Context, key string) (func() error, error) {
	_, lockKey := s.keys(key)
	token := randomID()
	leaseMS := strconv.FormatInt(s.lease.Milliseconds(), 10)
	wait := lockPollMin
	for {
		if err := ctx.Err(); err != nil {
			return nil, wrap(ctx, "lock", err)
		}
		got, err := acquireScript.Run(ctx, s.rdb, []string{lockKey}, token, leaseMS).Int64()
		if err != nil {
			return nil, wrap(ctx, "lock", err)
		}
		if got == 1 {
			return s.held(lockKey, token, leaseMS), nil
		}
		// Full jitter over [wait/2, wait): waiters spread out instead of
		// polling in step.
		d := wait/2 + rand.N(wait/2+1)
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, wrap(ctx, "lock", ctx.Err())
		case <-t.C:
		}
		wait = min(wait*2, lockPollMax)
	}
}

// heldLock is a lock taken by Lock: its renewal goroutine and its release.
type heldLock struct {
	s       *Store
	lockKey string
	token   string
	leaseMS string
	stop    chan struct{} // closed by unlock to end renew
	done    chan struct{} // closed when renew has returned

	// lost is set by renew, before it closes done, when a renewal found
	// the lock no longer ours.
	lost bool

	mu       sync.Mutex
	released bool // guarded by mu: unlock has run
}

func (s *Store) held(lockKey, token, leaseMS string) func() error {
	h := &heldLock{
		s: s, lockKey: lockKey, token: token, leaseMS: leaseMS,
		stop: make(chan struct{}), done: make(chan struct{}),
	}
	go h.renew()
	return h.unlock
}

// renew extends the lease every third of it until unlock, or until a
// renewal finds another token (or none) in the lock. A renewal that fails
// to reach Redis is retried at the next tick; if Redis stays away for a
// whole lease, the lock expires and unlock reports it.
func (h *heldLock) renew() {
	defer close(h.done)
	if h.s.skipRenew {
		<-h.stop
		return
	}
	every := h.s.lease / 3
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-h.stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), every)
		ok, err := renewScript.Run(ctx, h.s.rdb, []string{h.lockKey}, h.token, h.leaseMS).Int64()
		cancel()
		if err == nil && ok == 0 {
			h.lost = true
			return
		}
	}
}

// unlockTimeout bounds the release of a lock.
const unlockTimeout = 10 * time.Second

func (h *heldLock) unlock() error {
	h.mu.Lock()
	if h.released {
		h.mu.Unlock()
		return errors.New("redis: unlock: lock already released")
	}
	h.released = true
	h.mu.Unlock()
	close(h.stop)
	<-h.done

	ctx, cancel := context.WithTimeout(context.Background(), max(unlockTimeout, h.s.lease))
	defer cancel()
	deleted, err := releaseScript.Run(ctx, h.s.rdb, []string{h.lockKey}, h.token).Int64()
	if err != nil {
		return wrap(ctx, "unlock", err)
	}
	if deleted == 0 || h.lost {
		return fmt.Errorf("redis: unlock: %w", ErrLockLost)
	}
	return nil
}
