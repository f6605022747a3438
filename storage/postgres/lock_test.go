package postgres

import (
	"context"
	"errors"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tokenrefresh/tokenrefresh/internal/enginetest"
)

// longLease is a lease no test waits out: a lock released under it was
// released by something else (a dead connection).
const longLease = time.Minute

// lockRows counts the sessions holding and waiting for the advisory lock
// of key on s, as pg_locks shows them.
func lockRows(t *testing.T, pool *pgxpool.Pool, s *Store, key string) (holders, waiters int, holderPID int32) {
	t.Helper()
	id := uint64(lockID(s.name, key))
	rows, err := pool.Query(t.Context(), `SELECT granted, pid FROM pg_locks
		WHERE locktype = 'advisory' AND classid::bigint = $1 AND objid::bigint = $2 AND objsubid = 1`,
		int64(id>>32), int64(id&0xffffffff))
	if err != nil {
		t.Fatalf("query pg_locks: %v", err)
	}
	defer rows.Close()
	for rows.Next() {
		var granted bool
		var pid int32
		if err := rows.Scan(&granted, &pid); err != nil {
			t.Fatal(err)
		}
		if granted {
			holders++
			holderPID = pid
		} else {
			waiters++
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return holders, waiters, holderPID
}

// waitUntil polls cond until it holds, failing the test after testWait.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(testWait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up after %v waiting until %s", testWait, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// mustLock takes the lock for key and makes sure it is released by the end
// of the test, so that closing the pool does not wait for it.
func mustLock(t *testing.T, ctx context.Context, s *Store, key string) func() error {
	t.Helper()
	unlock, err := s.Lock(ctx, key)
	if err != nil {
		t.Fatalf("Lock(%q) = %v", key, err)
	}
	t.Cleanup(func() { _ = unlock() })
	return unlock
}

type lockResult struct {
	unlock func() error
	err    error
}

// lockAsync starts a Lock in a goroutine; its result arrives on the channel.
// A lock still held at the end of the test is released.
func lockAsync(t *testing.T, ctx context.Context, s *Store, key string) <-chan lockResult {
	ch := make(chan lockResult, 1)
	go func() {
		u, err := s.Lock(ctx, key)
		ch <- lockResult{u, err}
	}()
	return ch
}

// await returns the result of lockAsync, bounded by testWait.
func await(t *testing.T, ch <-chan lockResult) lockResult {
	t.Helper()
	select {
	case r := <-ch:
		if r.err == nil {
			t.Cleanup(func() { _ = r.unlock() })
		}
		return r
	case <-time.After(testWait):
		t.Fatalf("Lock did not return within %v", testWait)
	}
	return lockResult{}
}

// TestLockDoesNotBlockWrites proves the lock leaves the record alone: the
// holder writes it with CompareAndSwap on other connections.
func TestLockDoesNotBlockWrites(t *testing.T) {
	s, _ := newTestStore(t, 0)
	ctx, cancel := context.WithTimeout(t.Context(), testWait)
	defer cancel()
	unlock := mustLock(t, ctx, s, "k")
	g1, err := s.CompareAndSwap(ctx, "k", 0, []byte("intent"))
	if err != nil {
		t.Fatalf("CompareAndSwap while locked = %v", err)
	}
	if _, err := s.CompareAndSwap(ctx, "k", g1, []byte("saved")); err != nil {
		t.Fatalf("second CompareAndSwap while locked = %v", err)
	}
	if err := unlock(); err != nil {
		t.Fatalf("unlock = %v", err)
	}
	if got, err := s.Get(ctx, "k"); err != nil || string(got) != "saved" {
		t.Fatalf("Get = %q, %v; want %q", got, err, "saved")
	}
}

// TestUnlockTwice proves a second unlock is an error, not a panic.
func TestUnlockTwice(t *testing.T) {
	s, _ := newTestStore(t, 0)
	unlock := mustLock(t, t.Context(), s, "k")
	if err := unlock(); err != nil {
		t.Fatalf("first unlock = %v", err)
	}
	if err := unlock(); err == nil {
		t.Fatal("second unlock = nil, want an error")
	}
}

// TestLockDiesWithConnection proves the lock belongs to its connection:
// when the holder's session is terminated, a waiter gets the lock at once
// (the lease is far longer than the test waits), and the old holder's
// unlock reports ErrLockLost.
func TestLockDiesWithConnection(t *testing.T) {
	s, pool := newTestStore(t, longLease)
	unlock := mustLock(t, t.Context(), s, "k")
	waiter := lockAsync(t, t.Context(), s, "k")
	var pid int32
	waitUntil(t, "the waiter waits in the server", func() bool {
		h, w, p := lockRows(t, pool, s, "k")
		pid = p
		return h == 1 && w == 1
	})
	var ok bool
	if err := pool.QueryRow(t.Context(), "SELECT pg_terminate_backend($1)", pid).Scan(&ok); err != nil || !ok {
		t.Fatalf("pg_terminate_backend(%d) = %v, %v", pid, ok, err)
	}
	r := await(t, waiter)
	if r.err != nil {
		t.Fatalf("waiter's Lock after the holder's session ended = %v", r.err)
	}
	if err := unlock(); !errors.Is(err, ErrLockLost) {
		t.Errorf("old holder's unlock = %v, want error wrapping ErrLockLost", err)
	}
	if err := r.unlock(); err != nil {
		t.Errorf("new holder's unlock = %v", err)
	}
}

// TestLockDiesWithProcess proves a SIGKILLed holder (another process)
// releases the lock at once: the waiter gets it although the lease is far
// longer than the test waits.
func TestLockDiesWithProcess(t *testing.T) {
	s, pool := newTestStore(t, longLease)
	holder := startLockHolder(t, enginetest.PostgresDSN(t), s.name, "k", longLease)
	waiter := lockAsync(t, t.Context(), s, "k")
	waitUntil(t, "the waiter waits in the server", func() bool {
		h, w, _ := lockRows(t, pool, s, "k")
		return h == 1 && w == 1
	})
	if err := holder.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	if r := await(t, waiter); r.err != nil {
		t.Fatalf("waiter's Lock after the holder was killed = %v", r.err)
	}
}

// TestLockLeaseStoppedHolder proves a holder that stops answering (SIGSTOP)
// loses the lock after its lease, a waiter takes over, and the holder,
// resumed, learns from its unlock that the lock was lost.
func TestLockLeaseStoppedHolder(t *testing.T) {
	t.Parallel()
	const lease = time.Second
	s, _ := newTestStore(t, lease)
	holder := startLockHolder(t, enginetest.PostgresDSN(t), s.name, "k", lease)
	if err := holder.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), testWait)
	defer cancel()
	unlock, err := s.Lock(ctx, "k")
	if err != nil {
		t.Fatalf("Lock while the holder is stopped = %v, want the lock once its lease ran out", err)
	}
	if err := holder.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	if _, err := holder.stdin.Write([]byte("unlock\n")); err != nil {
		t.Fatal(err)
	}
	if got := holder.readLine(t); got != "unlock: lost" {
		t.Errorf("resumed holder's unlock: %q, want %q", got, "unlock: lost")
	}
	if err := unlock(); err != nil {
		t.Errorf("new holder's unlock = %v", err)
	}
}

// TestLockHeldAcrossLeases proves the heartbeat keeps a live holder's lock
// for several leases: after 3.5 leases the lock is still held (another
// Lock cannot take it) and unlock returns nil. The lease leaves the
// heartbeat (every lease/3) a wide margin on a loaded machine.
func TestLockHeldAcrossLeases(t *testing.T) {
	t.Parallel()
	const lease = 2 * time.Second
	s, _ := newTestStore(t, lease)
	unlock := mustLock(t, t.Context(), s, "k")
	time.Sleep(3*lease + lease/2)
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	if u, err := s.Lock(ctx, "k"); !errors.Is(err, context.DeadlineExceeded) {
		if err == nil {
			_ = u()
		}
		t.Errorf("second Lock while held = %v, want error wrapping context.DeadlineExceeded", err)
	}
	if err := unlock(); err != nil {
		t.Fatalf("unlock after holding for 3.5 leases = %v, want nil", err)
	}
}

// TestCancelledWaiterLeavesTheServer proves an abandoned Lock does not
// leave a backend waiting for the lock in the server (which would take it,
// for an instant, once free).
func TestCancelledWaiterLeavesTheServer(t *testing.T) {
	s, pool := newTestStore(t, 0)
	unlock := mustLock(t, t.Context(), s, "k")
	ctx, cancel := context.WithCancel(t.Context())
	waiter := lockAsync(t, ctx, s, "k")
	waitUntil(t, "the waiter waits in the server", func() bool {
		_, w, _ := lockRows(t, pool, s, "k")
		return w == 1
	})
	cancel()
	if r := await(t, waiter); !errors.Is(r.err, context.Canceled) {
		t.Fatalf("cancelled Lock = %v, want error wrapping context.Canceled", r.err)
	}
	waitUntil(t, "no session waits for the lock", func() bool {
		h, w, _ := lockRows(t, pool, s, "k")
		return h == 1 && w == 0
	})
	if err := unlock(); err != nil {
		t.Fatal(err)
	}
}

// TestLockEngineRestart proves an engine crash and restart while a lock is
// held: the unlock reports ErrLockLost, the value committed before the
// crash survives, and the store works again (CompareAndSwap, Lock).
func TestLockEngineRestart(t *testing.T) {
	t.Parallel()
	srv := enginetest.StartPostgres(t)
	pool := newPool(t, srv.DSN(), 8)
	s := storeOn(t, pool, 0)
	ctx, cancel := context.WithTimeout(t.Context(), 2*testWait)
	defer cancel()
	gen, err := s.CompareAndSwap(ctx, "k", 0, []byte("before"))
	if err != nil {
		t.Fatal(err)
	}
	unlock := mustLock(t, ctx, s, "k")
	srv.Restart(t)
	if err := unlock(); !errors.Is(err, ErrLockLost) {
		t.Errorf("unlock across an engine restart = %v, want error wrapping ErrLockLost", err)
	}
	got, g, err := s.GetVersioned(ctx, "k")
	if err != nil || string(got) != "before" || g != gen {
		t.Fatalf("GetVersioned after restart = %q, %d, %v; want %q, %d", got, g, err, "before", gen)
	}
	// Connections that died idle in the pool may fail one write each; a
	// writer re-reads and tries again, as the token source does.
	var saved bool
	for attempt := 0; attempt < 10 && !saved; attempt++ {
		if _, err := s.CompareAndSwap(ctx, "k", gen, []byte("after")); err == nil {
			saved = true
		} else if errors.Is(err, ErrLockLost) {
			t.Fatal(err)
		} else {
			t.Logf("CompareAndSwap attempt %d after restart: %v", attempt, err)
			if _, gen, err = s.GetVersioned(ctx, "k"); err != nil {
				t.Logf("GetVersioned: %v", err)
			}
		}
	}
	if got, err := s.Get(ctx, "k"); !saved || err != nil || string(got) != "after" {
		t.Fatalf("after restart: saved=%v, Get = %q, %v; want %q", saved, got, err, "after")
	}
	unlock, err = s.Lock(ctx, "k")
	if err != nil {
		t.Fatalf("Lock after restart = %v", err)
	}
	if err := unlock(); err != nil {
		t.Fatalf("unlock after restart = %v", err)
	}
}
