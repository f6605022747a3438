package redis

import (
	"context"
	"errors"
	"fmt"
	"strings"

	goredis "github.com/redis/go-redis/v9"

	"github.com/tokenrefresh/tokenrefresh/storage"
)

// ErrLockLost is wrapped by the error of an unlock function when the lock
// was no longer ours to release: its lease ran out (the holder paused, or
// could not reach Redis to renew it) and it expired or another process took
// it. Writes made meanwhile are still fenced by the generation checked by
// [Store.CompareAndSwap].
var ErrLockLost = errors.New("redis: lock lost (lease expired)")

// ErrUnsafePersistence is matched (with errors.Is) by every
// [*UnsafePersistenceError].
var ErrUnsafePersistence = errors.New("redis: persistence can lose acknowledged writes")

// UnsafePersistenceError is returned by [New] when the Redis server's
// settings allow it to lose an acknowledged write, or when they could not
// be read. It names the first such setting. Set
// [Options.AllowUnsafePersistence] to accept the risk.
type UnsafePersistenceError struct {
	Setting string // "appendonly", "appendfsync" or "maxmemory-policy"
	Value   string // the value found; empty when it could not be read
	Want    string // what the store needs: "yes", "always" or "noeviction or volatile-*"
	// Addr is the server whose settings these are, on a cluster or ring;
	// empty for a single-server client.
	Addr string
	// Err says why the setting could not be read (CONFIG disabled or
	// denied); nil when Value was read.
	Err error
}

// Error names the setting, what was found and what is needed.
func (e *UnsafePersistenceError) Error() string {
	var b strings.Builder
	b.WriteString("redis: ")
	if e.Addr != "" {
		fmt.Fprintf(&b, "server %s: ", e.Addr)
	}
	if e.Err != nil || e.Value == "" {
		fmt.Fprintf(&b, "%s could not be verified", e.Setting)
		if e.Err != nil {
			fmt.Fprintf(&b, " (%v)", e.Err)
		}
		fmt.Fprintf(&b, ", want %q", e.Want)
	} else {
		fmt.Fprintf(&b, "%s is %q, want %q", e.Setting, e.Value, e.Want)
	}
	risk := "an acknowledged write can be lost on a crash"
	if e.Setting == "maxmemory-policy" {
		risk = "the token can be evicted when memory runs short"
	}
	fmt.Fprintf(&b, " (%s; set Options.AllowUnsafePersistence to accept that)", risk)
	return b.String()
}

// Unwrap returns Err.
func (e *UnsafePersistenceError) Unwrap() error { return e.Err }

// Is makes an UnsafePersistenceError match [ErrUnsafePersistence].
func (e *UnsafePersistenceError) Is(target error) bool { return target == ErrUnsafePersistence }

// wrap prefixes err with the operation and maps Redis conditions to the
// storage sentinels: READONLY (a replica) to [storage.ErrReadOnly], OOM and
// a failing append-only file out of space to [storage.ErrNoSpace], WRONGTYPE
// (our key holds something else) to [storage.ErrCorrupt]. When ctx is done
// the error also wraps ctx.Err(). Redis error replies never contain stored
// values or credentials.
func wrap(ctx context.Context, op string, err error) error {
	var sentinel error
	switch {
	case goredis.IsReadOnlyError(err):
		sentinel = storage.ErrReadOnly
	case goredis.IsOOMError(err),
		goredis.HasErrorPrefix(err, "MISCONF") && strings.Contains(err.Error(), "No space left"):
		sentinel = storage.ErrNoSpace
	case goredis.HasErrorPrefix(err, "WRONGTYPE"):
		sentinel = storage.ErrCorrupt
	}
	ctxErr := ctx.Err()
	switch {
	case errors.Is(err, ctxErr):
		return fmt.Errorf("redis: %s: %w", op, err)
	case ctxErr != nil:
		return fmt.Errorf("redis: %s: %w (%w)", op, ctxErr, err)
	case sentinel != nil:
		return fmt.Errorf("redis: %s: %w: %w", op, sentinel, err)
	}
	return fmt.Errorf("redis: %s: %w", op, err)
}
