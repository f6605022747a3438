// Package postgres is a [storage.Store] on PostgreSQL, shared by every
// process and machine that uses the same database: batch workers that call
// one API under one login share its rotating refresh token through it.
//
// A [Store] also implements [storage.Versioned] (every value carries a
// generation, and a save is a compare-and-set on it, so a late or paused
// worker can never roll the token back) and [storage.Locker] (a lock per
// key across the fleet, so one worker refreshes while the others wait and
// then adopt the new token).
//
//	pool, err := pgxpool.New(ctx, os.Getenv("DATABASE_URL")) // or pgxpool.New(ctx, "") to use PGHOST, PGUSER...
//	if err != nil { ... }
//	defer pool.Close()
//	store, err := postgres.New(ctx, pool) // creates its table if absent
//
// The package uses github.com/jackc/pgx/v5; the caller owns the pool.
//
// # The table
//
// New creates this table in the first schema of the search_path when it is
// absent (the name is [DefaultTable] unless [Options.Table] says otherwise):
//
//	CREATE TABLE tokenrefresh_tokens (
//		key        bytea PRIMARY KEY,          -- the key's bytes (keys may hold any byte, even NUL)
//		generation bigint NOT NULL,            -- grows by one with every write
//		value      bytea,                      -- NULL: deleted (a tombstone keeps the generation)
//		updated_at timestamptz NOT NULL DEFAULT now()
//	);
//
// Concurrent New calls from many workers on a fresh database are safe
// (creation is serialized with an advisory lock). When the table exists New
// only looks it up, so the workers can run as a role that cannot create
// tables. A least-privilege setup, run once by an administrator:
//
//	CREATE ROLE tokens_worker LOGIN PASSWORD '...';
//	CREATE TABLE tokenrefresh_tokens (...);     -- as above
//	GRANT SELECT, INSERT, UPDATE ON tokenrefresh_tokens TO tokens_worker;
//
// The table concentrates the fleet's secret: keep the database off the
// public network, and use sslmode=verify-full for connections that leave
// the machine.
//
// # The lock
//
// [Store.Lock] takes a connection from the pool, opens a transaction and
// waits in the server for a transaction-scoped advisory lock
// (pg_advisory_xact_lock) on a hash of the table and key. It does not lock
// the row, so the holder (and anyone else) can write the value while the
// lock is held; the compare-and-set on the generation is what fences
// writes. Waiters queue in the server without polling, and a cancelled
// waiter leaves the queue.
//
// The lock is transaction-scoped, not session-scoped, for two reasons. It
// works behind a pooler in transaction mode (PgBouncer), where a
// session-level lock could be left on a server connection that another
// client gets next. And it dies with the connection: when the holder's
// process is killed, its socket closes, the server aborts the transaction
// and the next waiter gets the lock at once.
//
// A holder that stays silent without dying (stopped, swapped out, cut off
// by a network partition) keeps its socket open; [Options.LockLease] (10 s
// by default) bounds that case. The lock transaction sets
// idle_in_transaction_session_timeout to the lease, so the server ends the
// session, and releases the lock, once it has been idle that long. A live
// holder runs a heartbeat query every LockLease/3, so it keeps the lock
// however long its refresh takes. The unlock function tells a holder that
// lost the lock meanwhile (lease run out, session terminated, engine
// restarted) with an error wrapping [ErrLockLost]; writes it made were
// still fenced by their generation.
//
// Each held lock, and each waiting Lock, keeps one connection of the pool
// for itself, while reads and writes need others: New refuses a pool of
// fewer than 2 connections, and a process that locks several keys at once
// needs a pool larger than that number (pgxpool's default is the larger of
// 4 and the number of CPUs; set pool_max_conns in the URL to change it).
//
// # Durability and errors
//
// Every write is one autocommit statement and returns once committed,
// durable with the server's defaults (fsync=on, synchronous_commit=on): a
// crash and restart of the engine loses nothing acknowledged. With
// streaming replication and failover, asynchronous replication can lose
// the last commits on failover, rolling the token back to one the
// authorization server may already have rotated away; a synchronous
// standby with synchronous_commit = remote_apply removes that risk.
//
// Errors start with "postgres: " and wrap pgx's error. A read-only database
// (a hot standby, default_transaction_read_only) gives errors wrapping
// [storage.ErrReadOnly], a full disk [storage.ErrNoSpace], a done context
// its ctx.Err(). A write that fails because the engine went away may or may
// not have landed; [Store.GetVersioned] tells. Errors never contain values,
// and pgx's connection errors name the host, user and database but never
// the password.
package postgres
