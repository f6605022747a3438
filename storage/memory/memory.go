// Package memory is an in-memory [storage.Store]: nothing survives the
// process. It suits tests and programs that must not persist tokens.
package memory

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/tokenrefresh/tokenrefresh/internal/keymutex"
	"github.com/tokenrefresh/tokenrefresh/storage"
)

var (
	_ storage.Store  = (*Store)(nil)
	_ storage.Locker = (*Store)(nil)
)

// Store keeps values in a map. The zero value is an empty store ready to
// use; a Store must not be copied after first use. It is safe for concurrent
// use by multiple goroutines.
//
// Store also implements [storage.Locker], excluding goroutines of this
// process only (there is nothing to share with other processes).
type Store struct {
	// mu guards values.
	mu     sync.Mutex
	values map[string][]byte

	locks keymutex.Map
}

// New returns an empty Store. It is the same as new(Store).
func New() *Store { return new(Store) }

// Get returns a copy of the value under key, or an error wrapping
// [storage.ErrNotFound]. It fails with ctx.Err() when ctx is already done.
func (s *Store) Get(ctx context.Context, key string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("memory: get: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.values[key]
	if !ok {
		return nil, fmt.Errorf("memory: get: %w", storage.ErrNotFound)
	}
	return append([]byte{}, v...), nil
}

// Put stores a copy of value under key. It fails with ctx.Err() when ctx is
// already done.
func (s *Store) Put(ctx context.Context, key string, value []byte) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memory: put: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.values == nil {
		s.values = make(map[string][]byte)
	}
	s.values[key] = append([]byte{}, value...)
	return nil
}

// Delete removes key; a missing key is not an error. It fails with ctx.Err()
// when ctx is already done.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memory: delete: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.values, key)
	return nil
}

// errUnlocked is returned by an unlock function called a second time.
var errUnlocked = errors.New("memory: unlock: lock already released")

// Lock holds the per-key lock of this Store until the returned function is
// called, or returns an error wrapping ctx.Err() if ctx is done first. Locks
// of different keys are independent. The unlock function must be called
// exactly once; a second call returns an error and does nothing.
func (s *Store) Lock(ctx context.Context, key string) (unlock func() error, err error) {
	release, err := s.locks.Lock(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("memory: lock: %w", err)
	}
	var once sync.Once
	return func() error {
		err := errUnlocked
		once.Do(func() { release(); err = nil })
		return err
	}, nil
}
