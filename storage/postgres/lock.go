package postgres

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// rollbackWait bounds the ROLLBACK after a failed lock wait.
const rollbackWait = 5 * time.Second

// Lock takes the fleet-wide lock for key: a transaction-scoped advisory
// lock (pg_advisory_xact_lock) on a hash of the table name and key, held in
// a transaction on a connection taken from the pool for as long as the lock
// is held. Waiters block in the server, without polling.
// When ctx is done first, Lock gives up and returns an error wrapping
// ctx.Err(); once Lock has returned the lock, ctx no longer matters.
//
// The lock is released by the unlock function, or by the server when the
// holder's connection dies (the process was killed, the engine restarted)
// or stays silent for longer than [Options.LockLease]: the transaction sets
// idle_in_transaction_session_timeout to the lease, and a heartbeat query
// every LockLease/3 keeps a live holder's transaction from going idle that
// long. The lock does not touch the table, so writes to key on other
// connections go ahead while it is held.
//
// unlock must be called exactly once; a second call returns an error. It
// returns an error wrapping [ErrLockLost] when the lock may have been
// released before it (lease run out, session terminated, engine
// restarted), so that another process may have held it meanwhile.
func (s *Store) Lock(ctx context.Context, key string) (unlock func() error, err error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("postgres: lock: %w", err)
	}
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, wrap(ctx, "lock", err)
	}
	// One round trip in the simple protocol (all values are numbers made
	// here): open the transaction, set its lease, wait for the lock.
	// SET LOCAL ends with the transaction, so the pooled connection is
	// not left with the timeout.
	q := fmt.Sprintf("BEGIN; SET LOCAL idle_in_transaction_session_timeout = %d; SELECT pg_advisory_xact_lock(%d)",
		s.lease.Milliseconds(), lockID(s.name, key))
	if _, err := conn.Exec(ctx, q); err != nil {
		abandon(conn)
		return nil, wrap(ctx, "lock", err)
	}
	h := &held{conn: conn, lease: s.lease, stop: make(chan struct{}), done: make(chan struct{})}
	go h.heartbeat()
	return h.unlock, nil
}

// abandon gives a connection whose lock wait failed back to the pool, which
// destroys it unless it is idle and healthy. When the wait was cancelled,
// pgx has already closed the connection and sent the server a cancel
// request, so the server stops waiting for the lock on its behalf (it would
// otherwise take the lock, for an instant, once free).
func abandon(conn *pgxpool.Conn) {
	defer conn.Release()
	if !conn.Conn().IsClosed() {
		ctx, cancel := context.WithTimeout(context.Background(), rollbackWait)
		defer cancel()
		_, _ = conn.Exec(ctx, "ROLLBACK")
	}
}

// held is one held lock: its connection, inside the lock's transaction,
// and the heartbeat that keeps that transaction from idling out.
//
// The connection is used by the heartbeat goroutine until it ends (done
// closed), then by unlock only: unlock stops the heartbeat and waits for it
// before touching the connection, so the two never use it at once.
type held struct {
	conn     *pgxpool.Conn
	lease    time.Duration
	stop     chan struct{} // closed by unlock to end the heartbeat
	done     chan struct{} // closed by the heartbeat when it ends
	lost     error         // why the heartbeat failed; written before done is closed
	unlocked atomic.Bool
}

// heartbeat runs a query on the lock's connection every lease/3 until
// stopped or until the query fails, which means the session (and the lock)
// is gone.
func (h *held) heartbeat() {
	defer close(h.done)
	t := time.NewTicker(h.lease / 3)
	defer t.Stop()
	for {
		select {
		case <-h.stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), h.lease)
		_, err := h.conn.Exec(ctx, "SELECT 1")
		cancel()
		if err != nil {
			h.lost = err
			return
		}
	}
}

// unlock ends the lock's transaction, which releases the lock, and gives
// the connection back to the pool.
func (h *held) unlock() error {
	if !h.unlocked.CompareAndSwap(false, true) {
		return errUnlocked
	}
	close(h.stop)
	<-h.done
	defer h.conn.Release() // destroys the connection unless it is healthy and idle
	if h.lost != nil {
		return fmt.Errorf("postgres: unlock: %w: %w", ErrLockLost, h.lost)
	}
	ctx, cancel := context.WithTimeout(context.Background(), h.lease)
	defer cancel()
	if _, err := h.conn.Exec(ctx, "COMMIT"); err != nil {
		return fmt.Errorf("postgres: unlock: %w: %w", ErrLockLost, err)
	}
	if st := h.conn.Conn().PgConn().TxStatus(); st != 'I' {
		return fmt.Errorf("postgres: unlock: %w: transaction status %q after COMMIT", ErrLockLost, st)
	}
	return nil
}
