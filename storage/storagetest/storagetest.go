// Package storagetest is the conformance suite for [storage.Store]
// implementations, in the spirit of testing/fstest.TestFS: every backend's
// tests call [Run] so all backends behave alike.
//
// Only _test.go files import this package.
package storagetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/tokenrefresh/tokenrefresh/storage"
)

// Run runs the conformance suite against stores made by newStore, one fresh
// store per subtest. newStore should register any cleanup with t.Cleanup.
// When the store also implements [storage.Locker] the locking checks run too,
// and when it implements [storage.Reserver] the reservation checks do
// (reserve and commit, release, commit of a value larger than reserved, a
// second commit, a Put between reserve and commit, a cancelled context), and
// when it implements [storage.Versioned] the compare-and-set checks do
// (generations grow, a stale generation conflicts, Put and Delete move the
// generation, one winner among concurrent writers of one generation).
//
// Subtests never run in parallel with each other, so a backend with one shared
// external resource (an OS keyring) can be tested safely.
func Run(t *testing.T, newStore func(t *testing.T) storage.Store) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, s storage.Store)
	}{
		{"MissingKey", testMissingKey},
		{"RoundTrip", testRoundTrip},
		{"Overwrite", testOverwrite},
		{"Delete", testDelete},
		{"DeleteMissing", testDeleteMissing},
		{"KeysAreDistinct", testKeysAreDistinct},
		{"ValuesAreCopied", testValuesAreCopied},
		{"EmptyValue", testEmptyValue},
		{"LargeValue", testLargeValue},
		{"ConcurrentWriters", testConcurrentWriters},
		{"CancelledContext", testCancelledContext},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, newStore(t)) })
	}
	t.Run("Locker", func(t *testing.T) {
		if _, ok := newStore(t).(storage.Locker); !ok {
			t.Skip("store does not implement storage.Locker")
		}
		runLocker(t, func(t *testing.T) storage.Locker {
			return newStore(t).(storage.Locker)
		})
	})
	t.Run("Reserver", func(t *testing.T) {
		if _, ok := newStore(t).(storage.Reserver); !ok {
			t.Skip("store does not implement storage.Reserver")
		}
		runReserver(t, newStore)
	})
	t.Run("Versioned", func(t *testing.T) {
		if _, ok := newStore(t).(storage.Versioned); !ok {
			t.Skip("store does not implement storage.Versioned")
		}
		runVersioned(t, newStore)
	})
}

// oddKeys are keys a backend must keep apart and must not treat as paths.
var oddKeys = []string{
	"default", "Default", "a/b", "../escape", `c:\x`, "with space", "ünïcödé",
	"", "x\x00y", "very-long-" + string(bytes.Repeat([]byte("k"), 300)),
}

// uniqueKey returns a key unique to the running test, so a backend backed by
// a shared resource (an OS keyring) does not see other tests' values.
func uniqueKey(t *testing.T, suffix string) string {
	return fmt.Sprintf("storagetest/%s/%s", t.Name(), suffix)
}

func mustPut(t *testing.T, s storage.Store, key string, value []byte) {
	t.Helper()
	if err := s.Put(context.Background(), key, value); err != nil {
		t.Fatalf("Put(%q) = %v, want nil", key, err)
	}
}

func mustGet(t *testing.T, s storage.Store, key string) []byte {
	t.Helper()
	got, err := s.Get(context.Background(), key)
	if err != nil {
		t.Fatalf("Get(%q) = %v, want nil", key, err)
	}
	return got
}

func cleanupKey(t *testing.T, s storage.Store, key string) {
	t.Cleanup(func() { _ = s.Delete(context.Background(), key) })
}

func testMissingKey(t *testing.T, s storage.Store) {
	key := uniqueKey(t, "missing")
	got, err := s.Get(context.Background(), key)
	if !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("Get(missing) = %q, %v; want error wrapping storage.ErrNotFound", got, err)
	}
}

func testRoundTrip(t *testing.T, s storage.Store) {
	key := uniqueKey(t, "k")
	cleanupKey(t, s, key)
	want := []byte(`{"access_token":"a","refresh_token":"r"}` + "\x00\xff\n")
	mustPut(t, s, key, want)
	if got := mustGet(t, s, key); !bytes.Equal(got, want) {
		t.Fatalf("Get = %q, want %q", got, want)
	}
}

func testOverwrite(t *testing.T, s storage.Store) {
	key := uniqueKey(t, "k")
	cleanupKey(t, s, key)
	mustPut(t, s, key, []byte("first value, the longer one"))
	mustPut(t, s, key, []byte("second"))
	if got := mustGet(t, s, key); string(got) != "second" {
		t.Fatalf("Get after overwrite = %q, want %q", got, "second")
	}
}

func testDelete(t *testing.T, s storage.Store) {
	key := uniqueKey(t, "k")
	cleanupKey(t, s, key)
	mustPut(t, s, key, []byte("v"))
	if err := s.Delete(context.Background(), key); err != nil {
		t.Fatalf("Delete = %v, want nil", err)
	}
	if _, err := s.Get(context.Background(), key); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("Get after Delete = %v, want storage.ErrNotFound", err)
	}
	// A deleted key can be written again.
	mustPut(t, s, key, []byte("again"))
	if got := mustGet(t, s, key); string(got) != "again" {
		t.Fatalf("Get after re-Put = %q, want %q", got, "again")
	}
}

func testDeleteMissing(t *testing.T, s storage.Store) {
	if err := s.Delete(context.Background(), uniqueKey(t, "never-written")); err != nil {
		t.Fatalf("Delete(missing) = %v, want nil", err)
	}
}

func testKeysAreDistinct(t *testing.T, s storage.Store) {
	keys := make([]string, len(oddKeys))
	for i, k := range oddKeys {
		keys[i] = uniqueKey(t, k)
		cleanupKey(t, s, keys[i])
		mustPut(t, s, keys[i], fmt.Appendf(nil, "value %d", i))
	}
	for i, k := range keys {
		if got, want := string(mustGet(t, s, k)), fmt.Sprintf("value %d", i); got != want {
			t.Errorf("Get(%q) = %q, want %q", k, got, want)
		}
	}
}

func testValuesAreCopied(t *testing.T, s storage.Store) {
	key := uniqueKey(t, "k")
	cleanupKey(t, s, key)
	in := []byte("original")
	mustPut(t, s, key, in)
	copy(in, "XXXXXXXX")
	out := mustGet(t, s, key)
	if string(out) != "original" {
		t.Fatalf("Get = %q after caller changed the Put slice, want %q", out, "original")
	}
	copy(out, "YYYYYYYY")
	if got := mustGet(t, s, key); string(got) != "original" {
		t.Fatalf("Get = %q after caller changed a Get result, want %q", got, "original")
	}
}

func testEmptyValue(t *testing.T, s storage.Store) {
	key := uniqueKey(t, "k")
	cleanupKey(t, s, key)
	mustPut(t, s, key, nil)
	if got := mustGet(t, s, key); len(got) != 0 {
		t.Fatalf("Get = %q, want empty value", got)
	}
}

func testLargeValue(t *testing.T, s storage.Store) {
	key := uniqueKey(t, "k")
	cleanupKey(t, s, key)
	want := make([]byte, 1<<20)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range want {
		want[i] = byte(r.UintN(256))
	}
	mustPut(t, s, key, want)
	if got := mustGet(t, s, key); !bytes.Equal(got, want) {
		t.Fatalf("Get of a 1 MiB value returned %d bytes that differ from what was put", len(got))
	}
}

func testConcurrentWriters(t *testing.T, s storage.Store) {
	const writers, rounds = 8, 5
	shared := uniqueKey(t, "shared")
	cleanupKey(t, s, shared)
	var wg sync.WaitGroup
	errs := make(chan error, writers*rounds*3)
	for w := range writers {
		own := uniqueKey(t, fmt.Sprintf("own-%d", w))
		cleanupKey(t, s, own)
		wg.Go(func() {
			ctx := context.Background()
			for r := range rounds {
				v := fmt.Appendf(nil, "writer %d round %d", w, r)
				if err := s.Put(ctx, shared, v); err != nil {
					errs <- fmt.Errorf("Put(shared): %w", err)
				}
				if err := s.Put(ctx, own, v); err != nil {
					errs <- fmt.Errorf("Put(own): %w", err)
				}
				if _, err := s.Get(ctx, shared); err != nil {
					errs <- fmt.Errorf("Get(shared) during writes: %w", err)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	got := string(mustGet(t, s, shared))
	var ok bool
	for w := range writers {
		ok = ok || got == fmt.Sprintf("writer %d round %d", w, rounds-1)
		own := string(mustGet(t, s, uniqueKey(t, fmt.Sprintf("own-%d", w))))
		if want := fmt.Sprintf("writer %d round %d", w, rounds-1); own != want {
			t.Errorf("own key of writer %d = %q, want %q", w, own, want)
		}
	}
	if !ok {
		t.Errorf("shared key = %q, want the last value of one of the writers", got)
	}
}

func testCancelledContext(t *testing.T, s storage.Store) {
	key := uniqueKey(t, "k")
	cleanupKey(t, s, key)
	mustPut(t, s, key, []byte("before"))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Get(ctx, key); !errors.Is(err, context.Canceled) {
		t.Errorf("Get(cancelled ctx) = %v, want error wrapping context.Canceled", err)
	}
	if err := s.Put(ctx, key, []byte("after")); !errors.Is(err, context.Canceled) {
		t.Errorf("Put(cancelled ctx) = %v, want error wrapping context.Canceled", err)
	}
	if err := s.Delete(ctx, key); !errors.Is(err, context.Canceled) {
		t.Errorf("Delete(cancelled ctx) = %v, want error wrapping context.Canceled", err)
	}
	if got := mustGet(t, s, key); string(got) != "before" {
		t.Errorf("Get after cancelled Put/Delete = %q, want %q", got, "before")
	}
}
