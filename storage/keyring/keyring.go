package keyring

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	gokeyring "github.com/zalando/go-keyring"

	"github.com/tokenrefresh/tokenrefresh/internal/filelock"
	"github.com/tokenrefresh/tokenrefresh/storage"
)

var (
	_ storage.Store  = (*Store)(nil)
	_ storage.Locker = (*Store)(nil)
)

// DefaultTimeout is the deadline of one keyring call when [Store.Timeout]
// is zero.
const DefaultTimeout = 5 * time.Second

// Store keeps values in the OS keyring under one service name. Create it
// with [New] and set the optional fields before first use. It is safe for
// concurrent use by multiple goroutines. It holds no resources to close.
type Store struct {
	// Timeout bounds each keyring call; 0 means [DefaultTimeout]. One
	// operation may make several calls (a chunked value).
	Timeout time.Duration
	// LockDir is the directory of the lock files used by [Store.Lock],
	// created with mode 0700 if missing. "" means $XDG_RUNTIME_DIR/tokenrefresh
	// when XDG_RUNTIME_DIR is set, else tokenrefresh/locks in
	// [os.UserCacheDir].
	LockDir string
	// ChunkSize is the longest secret written as one keyring item, in bytes
	// of the base64 text; longer values are split (see the package doc).
	// 0 means a per-platform default: 2000 on macOS, 2500 on Windows,
	// 1 MiB elsewhere. Values below 64 are treated as 64.
	ChunkSize int

	service string
	kr      backend // nil means the OS keyring
	locks   filelock.Locker
}

// New returns a Store for the keyring service name service (for example the
// application's name). An empty service makes every operation fail.
func New(service string) *Store { return &Store{service: service} }

// Service returns the keyring service name.
func (s *Store) Service() string { return s.service }

// backend is the part of go-keyring the Store uses, so tests can put a fake
// in front of the same logic.
type backend interface {
	Set(service, user, secret string) error
	Get(service, user string) (string, error)
	Delete(service, user string) error
}

// osKeyring calls go-keyring's package functions (the OS keyring).
type osKeyring struct{}

func (osKeyring) Set(service, user, secret string) error   { return gokeyring.Set(service, user, secret) }
func (osKeyring) Get(service, user string) (string, error) { return gokeyring.Get(service, user) }
func (osKeyring) Delete(service, user string) error        { return gokeyring.Delete(service, user) }

func (s *Store) backend() backend {
	if s.kr == nil {
		return osKeyring{}
	}
	return s.kr
}

func (s *Store) timeout() time.Duration {
	if s.Timeout <= 0 {
		return DefaultTimeout
	}
	return s.Timeout
}

func (s *Store) chunkSize() int {
	switch {
	case s.ChunkSize >= 64:
		return s.ChunkSize
	case s.ChunkSize > 0:
		return 64
	case runtime.GOOS == "darwin":
		return 2000
	case runtime.GOOS == "windows":
		return 2500
	default:
		return 1 << 20
	}
}

// errTooBig marks go-keyring's ErrSetDataTooBig inside this package.
var errTooBig = errors.New("keyring: value too big for one keyring item")

// call runs fn (one go-keyring call) under the Store's timeout and ctx, and
// translates its error. After a timeout fn keeps running in its goroutine
// until the keyring answers; its result is dropped.
func call[T any](ctx context.Context, s *Store, op string, fn func(b backend) (T, error)) (T, error) {
	var zero T
	if s.service == "" {
		return zero, fmt.Errorf("keyring: %s: empty service name", op)
	}
	if err := ctx.Err(); err != nil {
		return zero, fmt.Errorf("keyring: %s: %w", op, err)
	}
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1) // buffered: an abandoned call must not block
	b := s.backend()
	go func() {
		v, err := fn(b)
		done <- result{v, err}
	}()
	timer := time.NewTimer(s.timeout())
	defer timer.Stop()
	select {
	case r := <-done:
		return r.v, translate(op, r.err)
	case <-ctx.Done():
		return zero, fmt.Errorf("keyring: %s: %w", op, ctx.Err())
	case <-timer.C:
		return zero, &UnavailableError{Op: op,
			Err: fmt.Errorf("no answer within %v: %w", s.timeout(), context.DeadlineExceeded)}
	}
}

func translate(op string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, gokeyring.ErrNotFound):
		return fmt.Errorf("keyring: %s: %w", op, storage.ErrNotFound)
	case errors.Is(err, gokeyring.ErrSetDataTooBig):
		return fmt.Errorf("keyring: %s: %w", op, errTooBig)
	default:
		return &UnavailableError{Op: op, Err: err}
	}
}

// get, set and del are single keyring calls under the deadline.
func (s *Store) get(ctx context.Context, op, service, user string) (string, error) {
	return call(ctx, s, op, func(b backend) (string, error) { return b.Get(service, user) })
}

func (s *Store) set(ctx context.Context, op, service, user, secret string) error {
	_, err := call(ctx, s, op, func(b backend) (struct{}, error) { return struct{}{}, b.Set(service, user, secret) })
	return err
}

func (s *Store) del(ctx context.Context, op, service, user string) error {
	_, err := call(ctx, s, op, func(b backend) (struct{}, error) { return struct{}{}, b.Delete(service, user) })
	return err
}

// userName maps a key to the keyring user name: the key itself when it is
// short printable text, else a hash, so any key works on every platform.
func userName(key string) string {
	plain := key != "" && len(key) <= 200 && utf8.ValidString(key) &&
		!strings.HasPrefix(key, "sha256:") &&
		strings.IndexFunc(key, func(r rune) bool { return !unicode.IsPrint(r) }) < 0
	if plain {
		return key
	}
	sum := sha256.Sum256([]byte(key))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// Available reports whether the keyring answers, with one bounded lookup of
// a probe item: nil when it answers (found or not found), else an
// [*UnavailableError] or ctx's error.
func (s *Store) Available(ctx context.Context) error {
	_, err := s.get(ctx, "probe", s.service, "tokenrefresh-probe")
	if err == nil || errors.Is(err, storage.ErrNotFound) {
		return nil
	}
	return err
}

// Lock takes the lock of key through a lock file in [Store.LockDir], shared
// with every process and goroutine using the same service and directory. It
// waits until the lock is free or ctx is done, then returns an error wrapping
// ctx.Err(). The returned function releases the lock and must be called
// exactly once. A process that dies holding the lock releases it.
func (s *Store) Lock(ctx context.Context, key string) (unlock func() error, err error) {
	dir, err := s.lockDir()
	if err != nil {
		return nil, fmt.Errorf("keyring: lock: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("keyring: lock: %w", err)
	}
	sum := sha256.Sum256([]byte(s.service + "\x00" + key))
	unlock, err = s.locks.Lock(ctx, filepath.Join(dir, "keyring-"+hex.EncodeToString(sum[:])+".lock"))
	if err != nil {
		return nil, fmt.Errorf("keyring: lock: %w", err)
	}
	return unlock, nil
}

func (s *Store) lockDir() (string, error) {
	if s.LockDir != "" {
		return s.LockDir, nil
	}
	if rt := os.Getenv("XDG_RUNTIME_DIR"); rt != "" && filepath.IsAbs(rt) {
		return filepath.Join(rt, "tokenrefresh"), nil
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(cache, "tokenrefresh", "locks"), nil
}
