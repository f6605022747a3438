package redis_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tokenrefresh/tokenrefresh/internal/enginetest"
	"github.com/tokenrefresh/tokenrefresh/storage/redis"
)

// lease is short so that the lease tests run quickly; renewal runs every
// third of it.
const lease = 500 * time.Millisecond

// TestLeaseRenewal proves a holder that keeps running keeps its lock well
// past one lease: a waiter bounded by three leases never gets it, and the
// holder's unlock succeeds.
func TestLeaseRenewal(t *testing.T) {
	rdb := newClient(t, enginetest.RedisURL(t))
	prefix := uniquePrefix()
	holder := newStore(t, rdb, redis.Options{Prefix: prefix, LockLease: lease})
	waiter := newStore(t, rdb, redis.Options{Prefix: prefix, LockLease: lease})
	unlock, err := holder.Lock(ctxWait(t), "k")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*lease)
	defer cancel()
	if u, err := waiter.Lock(ctx, "k"); !errors.Is(err, context.DeadlineExceeded) {
		if err == nil {
			_ = u()
		}
		t.Fatalf("Lock by a waiter while the holder renews = %v, want context.DeadlineExceeded", err)
	}
	if err := unlock(); err != nil {
		t.Fatalf("unlock after %v of renewals = %v, want nil", 3*lease, err)
	}
	if err := unlock(); err == nil || errors.Is(err, redis.ErrLockLost) {
		t.Fatalf("second unlock = %v, want an error other than ErrLockLost", err)
	}
	// Now free: the waiter gets it at once.
	u, err := waiter.Lock(ctxWait(t), "k")
	if err != nil {
		t.Fatal(err)
	}
	if err := u(); err != nil {
		t.Fatal(err)
	}
}

// TestLeaseLapse proves a holder that stops renewing (as a paused process
// would) loses the lock after its lease: a waiter takes it over, the old
// holder's unlock reports ErrLockLost and leaves the new holder's lock
// alone.
func TestLeaseLapse(t *testing.T) {
	rdb := newClient(t, enginetest.RedisURL(t))
	prefix := uniquePrefix()
	paused := newStore(t, rdb, redis.Options{Prefix: prefix, LockLease: lease})
	redis.DisableRenewal(paused)
	waiter := newStore(t, rdb, redis.Options{Prefix: prefix, LockLease: lease})

	unlockPaused, err := paused.Lock(ctxWait(t), "k")
	if err != nil {
		t.Fatal(err)
	}
	unlockWaiter, err := waiter.Lock(ctxWait(t), "k") // waits for the lease to run out
	if err != nil {
		t.Fatalf("waiter Lock = %v, want the lock after the holder's lease ran out", err)
	}
	if err := unlockPaused(); !errors.Is(err, redis.ErrLockLost) {
		t.Fatalf("unlock by the holder whose lease ran out = %v, want ErrLockLost", err)
	}
	_, lockKey := redis.Keys(waiter, "k")
	if n, err := rdb.Exists(ctxWait(t), lockKey).Result(); err != nil || n != 1 {
		t.Fatalf("the new holder's lock key exists = %d, %v; want 1 (not deleted by the old holder)", n, err)
	}
	if err := unlockWaiter(); err != nil {
		t.Fatalf("unlock by the new holder = %v, want nil", err)
	}
}

// TestLeaseExpiredUnclaimed proves unlock reports ErrLockLost when the
// lease ran out even if nobody took the lock since.
func TestLeaseExpiredUnclaimed(t *testing.T) {
	rdb := newClient(t, enginetest.RedisURL(t))
	s := newStore(t, rdb, redis.Options{LockLease: lease})
	redis.DisableRenewal(s)
	unlock, err := s.Lock(ctxWait(t), "k")
	if err != nil {
		t.Fatal(err)
	}
	_, lockKey := redis.Keys(s, "k")
	ctx := ctxWait(t)
	for rdb.Exists(ctx, lockKey).Val() == 1 {
		select {
		case <-ctx.Done():
			t.Fatalf("lock key still there after %v", wait)
		case <-time.After(lease / 5):
		}
	}
	if err := unlock(); !errors.Is(err, redis.ErrLockLost) {
		t.Fatalf("unlock after the lease ran out = %v, want ErrLockLost", err)
	}
}

// TestLockDoesNotBlockWrites proves the lock is a separate key: writes to
// the record from other stores and connections go through while it is held.
func TestLockDoesNotBlockWrites(t *testing.T) {
	url := enginetest.RedisURL(t)
	prefix := uniquePrefix()
	locker := newStore(t, newClient(t, url), redis.Options{Prefix: prefix})
	writer := newStore(t, newClient(t, url), redis.Options{Prefix: prefix})
	ctx := ctxWait(t)
	unlock, err := locker.Lock(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = unlock() }()
	gen, err := writer.CompareAndSwap(ctx, "k", 0, []byte("intent"))
	if err != nil {
		t.Fatalf("CompareAndSwap while another store holds the lock = %v", err)
	}
	if _, err := writer.CompareAndSwap(ctx, "k", gen, []byte("saved")); err != nil {
		t.Fatalf("second CompareAndSwap = %v", err)
	}
}
