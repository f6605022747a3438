package postgres

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tokenrefresh/tokenrefresh/storage"
)

// DefaultTable is the table a [Store] uses when [Options.Table] is empty.
const DefaultTable = "tokenrefresh_tokens"

// DefaultLockLease is the lease of a lock when [Options.LockLease] is zero.
const DefaultLockLease = 10 * time.Second

// minLockLease is the shortest lease accepted: the heartbeat runs every
// third of it and needs a round trip to the server in that time.
const minLockLease = 100 * time.Millisecond

// Options configures a [Store]. The zero value (or a nil *Options) is
// usable: table "tokenrefresh_tokens", a 10 s lock lease.
type Options struct {
	// Table names the table holding the values. Empty means
	// "tokenrefresh_tokens". It must be a plain SQL identifier (a letter or
	// underscore, then letters, digits or underscores, at most 63
	// characters); it is resolved through the connection's search_path and
	// created there when absent.
	Table string

	// LockLease bounds how long a lock outlives a holder that stops
	// answering (paused, partitioned, its machine gone): the server ends an
	// idle lock transaction after LockLease, releasing the lock. A live
	// holder renews it by itself every LockLease/3, however long it holds
	// the lock. A holder that dies loses its lock at once, whatever the
	// lease. Zero means 10 s; it must be at least 100 ms.
	LockLease time.Duration
}

// Store keeps values in one PostgreSQL table, with a generation per key
// ([storage.Versioned]) and a lock per key ([storage.Locker]) that spans
// every process using the same database.
//
// A Store is safe for concurrent use. It does not own the pool: the caller
// closes it after the last call and the last unlock (pgxpool's Close waits
// for the connections of held locks).
type Store struct {
	pool  *pgxpool.Pool
	table string // the table name, quoted for SQL
	name  string // the table name as given, for lock hashing
	lease time.Duration

	// SQL statements, built once for the table.
	qGet, qPut, qDelete, qInsert, qUpdate string
}

var (
	_ storage.Store     = (*Store)(nil)
	_ storage.Locker    = (*Store)(nil)
	_ storage.Versioned = (*Store)(nil)
)

// identifier is what Options.Table accepts: a plain, unquoted SQL name.
var identifier = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,62}$`)

// New returns a Store on pool with the default [Options]. It checks that the
// database answers and creates the table when absent.
func New(ctx context.Context, pool *pgxpool.Pool) (*Store, error) {
	return NewWithOptions(ctx, pool, nil)
}

// NewWithOptions returns a Store on pool configured by opts (nil means the
// defaults). It returns an error when an option is invalid, when the pool
// allows fewer than 2 connections (a held lock keeps one connection for
// itself while writes need another), when the database cannot be reached
// before ctx is done, or when the table is absent and cannot be created.
// Concurrent calls from many processes on a fresh database are safe.
func NewWithOptions(ctx context.Context, pool *pgxpool.Pool, opts *Options) (*Store, error) {
	if pool == nil {
		return nil, errors.New("postgres: nil pool")
	}
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Table == "" {
		o.Table = DefaultTable
	}
	if !identifier.MatchString(o.Table) {
		return nil, fmt.Errorf("postgres: table name %q is not a plain SQL identifier (letters, digits, underscores; at most 63)", o.Table)
	}
	if o.LockLease == 0 {
		o.LockLease = DefaultLockLease
	}
	if o.LockLease < minLockLease {
		return nil, fmt.Errorf("postgres: LockLease %v is shorter than the minimum %v", o.LockLease, minLockLease)
	}
	if n := pool.Config().MaxConns; n < 2 {
		return nil, fmt.Errorf("postgres: the pool allows %d connection(s), need at least 2: a held lock keeps one connection while writes need another (set pool_max_conns or MaxConns)", n)
	}
	t := pgx.Identifier{o.Table}.Sanitize()
	s := &Store{
		pool:  pool,
		table: t,
		name:  o.Table,
		lease: o.LockLease,

		qGet: `SELECT generation, value FROM ` + t + ` WHERE key = $1`,
		qPut: `INSERT INTO ` + t + ` AS t (key, generation, value) VALUES ($1, 1, $2)
			ON CONFLICT (key) DO UPDATE SET generation = t.generation + 1, value = excluded.value, updated_at = now()`,
		qDelete: `UPDATE ` + t + ` SET generation = generation + 1, value = NULL, updated_at = now()
			WHERE key = $1 AND value IS NOT NULL`,
		qInsert: `INSERT INTO ` + t + ` (key, generation, value) VALUES ($1, 1, $2)
			ON CONFLICT (key) DO NOTHING RETURNING generation`,
		qUpdate: `UPDATE ` + t + ` SET generation = generation + 1, value = $3, updated_at = now()
			WHERE key = $1 AND generation = $2 RETURNING generation`,
	}
	if err := s.ensureTable(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// ensureTable creates the table unless it exists. CREATE TABLE IF NOT
// EXISTS alone races with itself (two sessions both see no table, one fails
// on a unique index of the catalog), so creators take a transaction-scoped
// advisory lock first. A table that exists is only looked up, so a role
// without the CREATE privilege can use a table made by an administrator.
func (s *Store) ensureTable(ctx context.Context) error {
	var exists bool
	err := s.pool.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, s.table).Scan(&exists)
	var pe *pgconn.PgError
	switch {
	case errors.As(err, &pe) && pe.Severity != "FATAL": // FATAL: refused at connection (authentication...)
		return wrap(ctx, "look up table "+s.name, err)
	case err != nil:
		return wrap(ctx, "cannot reach the database", err)
	case exists:
		return nil
	}
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, lockID("create-table", s.name)); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS `+s.table+` (
			key        bytea PRIMARY KEY,
			generation bigint NOT NULL,
			value      bytea,
			updated_at timestamptz NOT NULL DEFAULT now()
		)`)
		return err
	})
	if err != nil {
		return wrap(ctx, "create table "+s.name, err)
	}
	return nil
}

// lockID hashes a (namespace, key) pair to the 64-bit key of an advisory
// lock. Two keys with one hash merely share a lock.
func lockID(namespace, key string) int64 {
	h := sha256.New()
	h.Write([]byte("tokenrefresh\x00"))
	h.Write([]byte(namespace))
	h.Write([]byte{0})
	h.Write([]byte(key))
	return int64(binary.BigEndian.Uint64(h.Sum(nil)))
}

// Get returns the value stored under key, or an error wrapping
// [storage.ErrNotFound] when there is none (never written, or deleted).
func (s *Store) Get(ctx context.Context, key string) ([]byte, error) {
	v, _, err := s.get(ctx, "get", key)
	return v, err
}

// GetVersioned returns the value stored under key and its generation. When
// there is no value it returns an error wrapping [storage.ErrNotFound] with
// the generation of the Delete that removed it, or 0 when the key was never
// written.
func (s *Store) GetVersioned(ctx context.Context, key string) ([]byte, int64, error) {
	return s.get(ctx, "get", key)
}

func (s *Store) get(ctx context.Context, op, key string) ([]byte, int64, error) {
	var (
		gen   int64
		value []byte
	)
	err := retryRead(ctx, func() error {
		return s.pool.QueryRow(ctx, s.qGet, []byte(key)).Scan(&gen, &value)
	})
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return nil, 0, fmt.Errorf("postgres: %s: %w", op, storage.ErrNotFound)
	case err != nil:
		return nil, 0, wrap(ctx, op, err)
	case value == nil:
		return nil, gen, fmt.Errorf("postgres: %s: %w", op, storage.ErrNotFound)
	}
	return value, gen, nil
}

// Put stores value under key, whatever its generation, and moves the
// generation on. It returns when the write is committed.
func (s *Store) Put(ctx context.Context, key string, value []byte) error {
	if _, err := s.pool.Exec(ctx, s.qPut, []byte(key), notNull(value)); err != nil {
		return wrap(ctx, "put", err)
	}
	return nil
}

// Delete removes the value under key, leaving a tombstone that keeps the
// key's generation growing. Deleting a missing key does nothing.
func (s *Store) Delete(ctx context.Context, key string) error {
	if _, err := s.pool.Exec(ctx, s.qDelete, []byte(key)); err != nil {
		return wrap(ctx, "delete", err)
	}
	return nil
}

// CompareAndSwap stores value under key if the key's generation is still
// gen (0: never written) and returns the new generation. Otherwise it
// returns an error wrapping [storage.ErrConflict]. It returns when the write
// is committed.
func (s *Store) CompareAndSwap(ctx context.Context, key string, gen int64, value []byte) (int64, error) {
	var (
		next int64
		err  error
	)
	if gen == 0 {
		err = s.pool.QueryRow(ctx, s.qInsert, []byte(key), notNull(value)).Scan(&next)
	} else {
		err = s.pool.QueryRow(ctx, s.qUpdate, []byte(key), gen, notNull(value)).Scan(&next)
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, fmt.Errorf("postgres: compare-and-swap from generation %d: %w", gen, storage.ErrConflict)
	}
	if err != nil {
		return 0, wrap(ctx, "compare-and-swap", err)
	}
	return next, nil
}

// notNull turns a nil value into an empty one: pgx sends a nil slice as
// NULL, which is the tombstone.
func notNull(v []byte) []byte {
	if v == nil {
		return []byte{}
	}
	return v
}
