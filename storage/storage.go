// Package storage defines where tokens live: a [Store] keeps opaque bytes
// under a string key. The token source owns the encoding of those bytes, so
// this package and its backends never see a token type.
//
// Backends live in sub-packages: storage/memory, storage/file and
// storage/keyring for one machine; storage/postgres and storage/redis for a
// session shared by many machines ([Versioned] stores). Every backend runs
// the conformance suite in storage/storagetest.
package storage

import (
	"context"
	"errors"
)

// ErrNotFound is returned by [Store.Get] when nothing is stored under a key.
// Backends translate their own "not found" conditions into it, so callers
// never import a backend library to test for it.
var ErrNotFound = errors.New("storage: not found")

// Store keeps opaque values under string keys.
//
// Implementations are safe for concurrent use by multiple goroutines. A value
// passed to Put is not retained after Put returns (the backend copies it), and
// a value returned by Get belongs to the caller.
type Store interface {
	// Get returns the value stored under key, or an error that wraps
	// ErrNotFound when there is none.
	Get(ctx context.Context, key string) ([]byte, error)
	// Put stores value under key, replacing any previous value. When Put
	// returns nil the value is durable as far as the backend can promise.
	Put(ctx context.Context, key string, value []byte) error
	// Delete removes the value under key. Deleting a missing key is not an
	// error.
	Delete(ctx context.Context, key string) error
}

// Locker is implemented by stores that can exclude other processes (and
// other goroutines) from a key while a token is refreshed.
//
// Lock blocks until the lock for key is held or ctx is done, in which case
// it returns an error wrapping ctx.Err(). The returned unlock function
// releases the lock; it must be called exactly once. A process that dies
// while holding a lock releases it.
type Locker interface {
	Lock(ctx context.Context, key string) (unlock func() error, err error)
}

// Reserver is implemented by stores that can show, before a refresh token is
// spent, that the write of its successor will land. A token source reserves
// the save before it sends a single-use refresh token: when the store cannot
// take the result (disk full, read-only, no permission) the refresh is not
// sent and the session on the server is untouched.
//
// Reserve sets aside what a Put of key with a value of up to size bytes
// needs (for the file store: a temporary file in the target directory
// holding the space) and returns a [Reservation], or an error that says why
// it cannot (wrapping [ErrNoSpace], [ErrReadOnly] or fs.ErrPermission where
// the cause is one of those). Reserve is called while the caller holds the
// key's lock, when the store is also a [Locker].
type Reserver interface {
	Reserve(ctx context.Context, key string, size int) (Reservation, error)
}

// Reservation is a save set aside by [Reserver.Reserve]. Exactly one of
// Commit or Release ends it; Release after Commit is a no-op, so
// "defer r.Release()" is safe.
type Reservation interface {
	// Commit stores value under key as Put would (atomically, durably),
	// using the reserved resources, so that it does not fail for lack of
	// space when value fits in the reserved size. A larger value is written
	// as Put writes it. Commit may be called at most once.
	Commit(ctx context.Context, value []byte) error
	// Release gives the reserved resources back without storing anything.
	Release() error
}

// ErrNoSpace is wrapped by errors of stores that ran out of space (a full
// disk or quota).
var ErrNoSpace = errors.New("storage: no space left")

// ErrReadOnly is wrapped by errors of stores that cannot be written at all
// (a read-only file system or database).
var ErrReadOnly = errors.New("storage: read-only")

// ErrCorrupt is wrapped by Get errors for a value the store holds but
// cannot decode (truncated, checksum mismatch, damaged). The value is
// unusable; Put replaces it.
var ErrCorrupt = errors.New("storage: corrupt value")

// ErrNewerFormat is wrapped by errors for a value written in a format newer
// than this program reads. It must not be overwritten silently: a newer
// program may still need it.
var ErrNewerFormat = errors.New("storage: value written by a newer version")

// Quarantiner is implemented by stores that can move a corrupt value aside
// under key, keeping its bytes for inspection, so that a new value can be
// stored. Quarantine returns where the bytes went (for a message to the
// user); it returns an error wrapping ErrNotFound when there is no value.
type Quarantiner interface {
	Quarantine(ctx context.Context, key string) (where string, err error)
}

// ErrConflict is wrapped by [Versioned.CompareAndSwap] errors when the key
// was written by someone else since the generation the caller read.
var ErrConflict = errors.New("storage: changed by someone else")

// Versioned is implemented by stores shared by many processes on many
// machines (storage/postgres, storage/redis), whose values carry a
// generation that grows with every write. A writer saves on condition that
// nobody wrote since it read (compare-and-set on the generation), so a late
// or paused process can never roll the store back to an older token: it
// finds the newer one instead and adopts it.
//
// Put and Delete move the generation on too: a Delete leaves a tombstone
// with its generation, so generations never repeat under a key.
type Versioned interface {
	// GetVersioned returns the value stored under key and its generation.
	// When nothing is stored it returns an error wrapping ErrNotFound
	// together with the key's generation (that of the Delete that removed
	// the value, or 0 when the key was never written), so that a
	// CompareAndSwap can create the value.
	GetVersioned(ctx context.Context, key string) (value []byte, gen int64, err error)
	// CompareAndSwap stores value under key if the key's generation is
	// still gen and returns the new generation, which is greater than gen.
	// Otherwise it stores nothing and returns an error wrapping
	// ErrConflict. When CompareAndSwap returns nil the value is durable as
	// far as the backend can promise; when it fails for another reason
	// (the engine went away) the write may or may not have landed, which a
	// GetVersioned tells.
	CompareAndSwap(ctx context.Context, key string, gen int64, value []byte) (newGen int64, err error)
}
