package redis

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/tokenrefresh/tokenrefresh/storage"
)

// DefaultPrefix is the key prefix used when [Options.Prefix] is empty.
const DefaultPrefix = "tokenrefresh:"

// DefaultLockLease is the lock lease used when [Options.LockLease] is zero.
const DefaultLockLease = 10 * time.Second

// minLockLease is the shortest lease accepted: renewal runs every third of
// it, and each renewal is one round trip.
const minLockLease = 30 * time.Millisecond

// Options configure a [Store]. The zero value (and a nil *Options) selects
// the defaults.
type Options struct {
	// Prefix starts every Redis key the store writes; empty means
	// DefaultPrefix ("tokenrefresh:"). Stores with different prefixes on
	// one Redis do not see each other. It must not contain '{' or '}',
	// which would change the Redis Cluster hash tag.
	Prefix string
	// LockLease is how long a lock taken by [Store.Lock] stays valid
	// without renewal; zero means DefaultLockLease (10 s). While the lock
	// is held a goroutine renews it every LockLease/3, so the lease only
	// runs out when its holder died, paused or lost Redis: another process
	// then takes the lock over after LockLease at the latest.
	LockLease time.Duration
	// AllowUnsafePersistence skips the durability check of [NewWithOptions]
	// and accepts a Redis that can lose an acknowledged write (no AOF,
	// appendfsync everysec or no, an evicting maxmemory-policy, or settings
	// that cannot be read). A lost write can roll a rotating refresh token
	// back to a spent one, which costs a login. See the package
	// documentation.
	AllowUnsafePersistence bool
}

// Store is a [storage.Store], [storage.Locker] and [storage.Versioned] on
// Redis. Make one with [New] or [NewWithOptions]; it is safe for
// concurrent use. It does not own the client: closing the client is the
// caller's job, after the last use of the store.
type Store struct {
	rdb    goredis.UniversalClient
	prefix string
	lease  time.Duration

	// skipRenew, set only by tests, stops lock renewal so that a lease
	// runs out as if its holder were paused.
	skipRenew bool
}

var (
	_ storage.Store     = (*Store)(nil)
	_ storage.Locker    = (*Store)(nil)
	_ storage.Versioned = (*Store)(nil)
)

// New returns a Store on rdb with the default [Options]. It checks that
// Redis answers and cannot lose an acknowledged write (see
// [NewWithOptions]); ctx bounds that check.
func New(ctx context.Context, rdb goredis.UniversalClient) (*Store, error) {
	return NewWithOptions(ctx, rdb, nil)
}

// NewWithOptions returns a Store on rdb configured by opts (nil means the
// defaults). It checks, within ctx, that Redis answers and that its
// persistence cannot lose an acknowledged write: appendonly yes,
// appendfsync always and a maxmemory-policy of noeviction or volatile-*.
// Otherwise it returns an [*UnsafePersistenceError] naming the setting,
// unless opts.AllowUnsafePersistence is set. On a cluster or ring client
// every shard is checked.
func NewWithOptions(ctx context.Context, rdb goredis.UniversalClient, opts *Options) (*Store, error) {
	if rdb == nil {
		return nil, errors.New("redis: nil client")
	}
	var o Options
	if opts != nil {
		o = *opts
	}
	s := &Store{rdb: rdb, prefix: o.Prefix, lease: o.LockLease}
	if s.prefix == "" {
		s.prefix = DefaultPrefix
	}
	if strings.ContainsAny(s.prefix, "{}") {
		return nil, errors.New("redis: Options.Prefix must not contain '{' or '}'")
	}
	switch {
	case s.lease == 0:
		s.lease = DefaultLockLease
	case s.lease < minLockLease:
		return nil, fmt.Errorf("redis: Options.LockLease %v is shorter than the minimum %v", s.lease, minLockLease)
	}
	if err := s.check(ctx, o.AllowUnsafePersistence); err != nil {
		return nil, err
	}
	return s, nil
}

// keys returns the record and lock keys of key. Both carry the same hash
// tag, a SHA-256 of key, so that they live in one Redis Cluster slot and
// arbitrary keys (braces, NUL bytes, any length) map to fixed-size names.
func (s *Store) keys(key string) (record, lock string) {
	sum := sha256.Sum256([]byte(key))
	base := s.prefix + "{" + hex.EncodeToString(sum[:]) + "}:"
	return base + "token", base + "lock"
}

// Get returns the value stored under key, or an error wrapping
// [storage.ErrNotFound] when there is none (never written, or deleted).
func (s *Store) Get(ctx context.Context, key string) ([]byte, error) {
	v, _, err := s.get(ctx, "get", key)
	return v, err
}

// GetVersioned returns the value stored under key and its generation. When
// there is no value it returns nil, the generation of the tombstone left by
// the last Delete (0 when key was never written) and an error wrapping
// [storage.ErrNotFound].
func (s *Store) GetVersioned(ctx context.Context, key string) ([]byte, int64, error) {
	return s.get(ctx, "get", key)
}

func (s *Store) get(ctx context.Context, op, key string) ([]byte, int64, error) {
	if err := ctx.Err(); err != nil {
		return nil, 0, wrap(ctx, op, err)
	}
	record, _ := s.keys(key)
	vals, err := s.rdb.HMGet(ctx, record, fieldGen, fieldValue).Result()
	if err != nil {
		return nil, 0, wrap(ctx, op, err)
	}
	if len(vals) != 2 {
		return nil, 0, fmt.Errorf("redis: %s: %w: HMGET returned %d fields", op, storage.ErrCorrupt, len(vals))
	}
	genText, hasGen := vals[0].(string)
	value, hasValue := vals[1].(string)
	switch {
	case !hasGen && !hasValue:
		return nil, 0, fmt.Errorf("redis: %s: %w", op, storage.ErrNotFound)
	case !hasGen:
		return nil, 0, fmt.Errorf("redis: %s: %w: record has a value but no generation", op, storage.ErrCorrupt)
	}
	gen, err := strconv.ParseInt(genText, 10, 64)
	if err != nil || gen <= 0 {
		return nil, 0, fmt.Errorf("redis: %s: %w: record has a malformed generation", op, storage.ErrCorrupt)
	}
	if !hasValue {
		return nil, gen, fmt.Errorf("redis: %s: %w (deleted)", op, storage.ErrNotFound)
	}
	return []byte(value), gen, nil
}

// Put stores value under key unconditionally and moves its generation on.
// When Put returns nil the write is acknowledged by Redis (and, with the
// settings New requires, fsynced to its append-only file).
func (s *Store) Put(ctx context.Context, key string, value []byte) error {
	if err := ctx.Err(); err != nil {
		return wrap(ctx, "put", err)
	}
	record, _ := s.keys(key)
	if err := putScript.Run(ctx, s.rdb, []string{record}, value).Err(); err != nil {
		return wrap(ctx, "put", err)
	}
	return nil
}

// Delete removes the value under key, leaving a tombstone that keeps the
// key's generation (moved on by one), so that generations never repeat.
// Deleting a missing or already deleted key is a no-op.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return wrap(ctx, "delete", err)
	}
	record, _ := s.keys(key)
	if err := deleteScript.Run(ctx, s.rdb, []string{record}).Err(); err != nil {
		return wrap(ctx, "delete", err)
	}
	return nil
}

// CompareAndSwap stores value under key if the key's generation is still
// gen (0: never written) and returns the new generation, gen+1. Otherwise
// it stores nothing and returns an error wrapping [storage.ErrConflict].
//
// The write is one Lua script, so it is atomic. Each call carries a random
// write ID stored with the value: when go-redis retries the script because
// the reply to a first attempt that did land was lost, the retry recognises
// its own write and reports success instead of a conflict.
func (s *Store) CompareAndSwap(ctx context.Context, key string, gen int64, value []byte) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, wrap(ctx, "compare-and-swap", err)
	}
	if gen < 0 {
		return 0, fmt.Errorf("redis: compare-and-swap: negative generation %d: %w", gen, storage.ErrConflict)
	}
	record, _ := s.keys(key)
	next, err := casScript.Run(ctx, s.rdb, []string{record},
		strconv.FormatInt(gen, 10), strconv.FormatInt(gen+1, 10), value, randomID()).Int64()
	switch {
	case err != nil:
		return 0, wrap(ctx, "compare-and-swap", err)
	case next <= 0:
		return 0, fmt.Errorf("redis: compare-and-swap from generation %d: %w", gen, storage.ErrConflict)
	}
	return next, nil
}

// randomID returns 128 random bits in hex: lock tokens and write IDs.
func randomID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	return hex.EncodeToString(b[:])
}
