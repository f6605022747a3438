// Package keymutex provides mutual exclusion per string key that a waiter
// can abandon through its context. storage/memory locks keys with it, and
// internal/filelock orders the goroutines of one process with it before
// they take an OS file lock.
package keymutex

import (
	"context"
	"sync"
)

// Map is a set of locks, one per key. The zero value is ready to use; a Map
// must not be copied after first use. It is safe for concurrent use.
type Map struct {
	// mu guards sems. Entries are never removed: programs lock few
	// distinct keys.
	mu   sync.Mutex
	sems map[string]chan struct{}
}

// Lock blocks until the lock of key is held, or returns ctx.Err() when ctx
// is done first (an already-done ctx never takes the lock). The returned
// release function must be called exactly once.
func (m *Map) Lock(ctx context.Context, key string) (release func(), err error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	sem := m.sem(key)
	select {
	case sem <- struct{}{}:
		return func() { <-sem }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (m *Map) sem(key string) chan struct{} {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.sems == nil {
		m.sems = make(map[string]chan struct{})
	}
	sem, ok := m.sems[key]
	if !ok {
		sem = make(chan struct{}, 1)
		m.sems[key] = sem
	}
	return sem
}
