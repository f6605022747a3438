package storagetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/tokenrefresh/tokenrefresh/storage"
)

// runVersioned runs the compare-and-set checks for stores that implement
// [storage.Versioned].
func runVersioned(t *testing.T, newStore func(t *testing.T) storage.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s storage.Store, v storage.Versioned)
	}{
		{"MissingKeyIsGenerationZero", testVersionedMissing},
		{"CreateFromZero", testVersionedCreate},
		{"GenerationsGrow", testVersionedGrow},
		{"StaleGenerationConflicts", testVersionedConflict},
		{"PutMovesTheGeneration", testVersionedPut},
		{"DeleteLeavesATombstone", testVersionedDelete},
		{"OneWinnerPerGeneration", testVersionedOneWinner},
		{"ValuesAreCopied", testVersionedCopies},
		{"LargeValue", testVersionedLarge},
		{"CancelledContext", testVersionedCancelled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t)
			tt.fn(t, s, s.(storage.Versioned))
		})
	}
}

func getVersioned(t *testing.T, v storage.Versioned, key string) ([]byte, int64) {
	t.Helper()
	b, gen, err := v.GetVersioned(context.Background(), key)
	if err != nil {
		t.Fatalf("GetVersioned(%q) = %v, want nil", key, err)
	}
	return b, gen
}

func mustSwap(t *testing.T, v storage.Versioned, key string, gen int64, value []byte) int64 {
	t.Helper()
	next, err := v.CompareAndSwap(context.Background(), key, gen, value)
	if err != nil {
		t.Fatalf("CompareAndSwap(%q, %d) = %v, want nil", key, gen, err)
	}
	if next <= gen {
		t.Fatalf("CompareAndSwap(%q, %d) returned generation %d, want > %d", key, gen, next, gen)
	}
	return next
}

func testVersionedMissing(t *testing.T, s storage.Store, v storage.Versioned) {
	key := uniqueKey(t, "missing")
	b, gen, err := v.GetVersioned(context.Background(), key)
	if !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("GetVersioned(missing) error = %v, want ErrNotFound", err)
	}
	if gen != 0 || b != nil {
		t.Fatalf("GetVersioned(missing) = %q, %d; want nil, 0", b, gen)
	}
}

func testVersionedCreate(t *testing.T, s storage.Store, v storage.Versioned) {
	key := uniqueKey(t, "create")
	cleanupKey(t, s, key)
	gen := mustSwap(t, v, key, 0, []byte("first"))
	b, got := getVersioned(t, v, key)
	if string(b) != "first" || got != gen {
		t.Fatalf("GetVersioned = %q, %d; want %q, %d", b, got, "first", gen)
	}
	if g := mustGet(t, s, key); string(g) != "first" {
		t.Fatalf("Get after CompareAndSwap = %q, want %q", g, "first")
	}
	if _, err := v.CompareAndSwap(context.Background(), key, 0, []byte("again")); !errors.Is(err, storage.ErrConflict) {
		t.Fatalf("second create from generation 0: error = %v, want ErrConflict", err)
	}
}

func testVersionedGrow(t *testing.T, s storage.Store, v storage.Versioned) {
	key := uniqueKey(t, "grow")
	cleanupKey(t, s, key)
	var gen int64
	for i := range 5 {
		gen = mustSwap(t, v, key, gen, fmt.Appendf(nil, "v%d", i))
	}
	b, got := getVersioned(t, v, key)
	if string(b) != "v4" || got != gen {
		t.Fatalf("GetVersioned = %q, %d; want %q, %d", b, got, "v4", gen)
	}
}

func testVersionedConflict(t *testing.T, s storage.Store, v storage.Versioned) {
	key := uniqueKey(t, "conflict")
	cleanupKey(t, s, key)
	g1 := mustSwap(t, v, key, 0, []byte("one"))
	mustSwap(t, v, key, g1, []byte("two"))
	_, err := v.CompareAndSwap(context.Background(), key, g1, []byte("late"))
	if !errors.Is(err, storage.ErrConflict) {
		t.Fatalf("CompareAndSwap with a stale generation: error = %v, want ErrConflict", err)
	}
	if b, _ := getVersioned(t, v, key); string(b) != "two" {
		t.Fatalf("a refused CompareAndSwap changed the value to %q", b)
	}
	if _, err := v.CompareAndSwap(context.Background(), key, g1+1000, []byte("future")); !errors.Is(err, storage.ErrConflict) {
		t.Fatalf("CompareAndSwap with a generation never written: error = %v, want ErrConflict", err)
	}
}

func testVersionedPut(t *testing.T, s storage.Store, v storage.Versioned) {
	key := uniqueKey(t, "put")
	cleanupKey(t, s, key)
	g1 := mustSwap(t, v, key, 0, []byte("cas"))
	mustPut(t, s, key, []byte("put"))
	b, g2 := getVersioned(t, v, key)
	if string(b) != "put" || g2 <= g1 {
		t.Fatalf("after Put: GetVersioned = %q, %d; want %q and a generation > %d", b, g2, "put", g1)
	}
	if _, err := v.CompareAndSwap(context.Background(), key, g1, []byte("late")); !errors.Is(err, storage.ErrConflict) {
		t.Fatalf("CompareAndSwap from before a Put: error = %v, want ErrConflict", err)
	}
	mustSwap(t, v, key, g2, []byte("after"))
}

func testVersionedDelete(t *testing.T, s storage.Store, v storage.Versioned) {
	key := uniqueKey(t, "delete")
	cleanupKey(t, s, key)
	g1 := mustSwap(t, v, key, 0, []byte("live"))
	if err := s.Delete(context.Background(), key); err != nil {
		t.Fatalf("Delete = %v", err)
	}
	b, g2, err := v.GetVersioned(context.Background(), key)
	if !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("GetVersioned after Delete: error = %v, want ErrNotFound", err)
	}
	if b != nil || g2 <= g1 {
		t.Fatalf("GetVersioned after Delete = %q, %d; want nil and a generation > %d (a tombstone)", b, g2, g1)
	}
	if _, err := s.Get(context.Background(), key); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("Get after Delete: error = %v, want ErrNotFound", err)
	}
	for _, stale := range []int64{0, g1} {
		if _, err := v.CompareAndSwap(context.Background(), key, stale, []byte("resurrect")); !errors.Is(err, storage.ErrConflict) {
			t.Fatalf("CompareAndSwap from generation %d over a tombstone: error = %v, want ErrConflict", stale, err)
		}
	}
	g3 := mustSwap(t, v, key, g2, []byte("again"))
	if b, got := getVersioned(t, v, key); string(b) != "again" || got != g3 {
		t.Fatalf("GetVersioned = %q, %d; want %q, %d", b, got, "again", g3)
	}
	// Deleting a missing key is still not an error.
	if err := s.Delete(context.Background(), uniqueKey(t, "never")); err != nil {
		t.Fatalf("Delete(missing) = %v, want nil", err)
	}
}

func testVersionedOneWinner(t *testing.T, s storage.Store, v storage.Versioned) {
	const writers, rounds = 8, 5
	key := uniqueKey(t, "race")
	cleanupKey(t, s, key)
	var gen int64
	for round := range rounds {
		var wg sync.WaitGroup
		wins := make(chan int64, writers)
		errs := make(chan error, writers)
		for w := range writers {
			wg.Go(func() {
				next, err := v.CompareAndSwap(context.Background(), key, gen, fmt.Appendf(nil, "r%d-w%d", round, w))
				switch {
				case err == nil:
					wins <- next
				case !errors.Is(err, storage.ErrConflict):
					errs <- err
				}
			})
		}
		wg.Wait()
		close(wins)
		close(errs)
		for err := range errs {
			t.Fatalf("round %d: CompareAndSwap = %v, want nil or ErrConflict", round, err)
		}
		var n int
		for g := range wins {
			n++
			gen = g
		}
		if n != 1 {
			t.Fatalf("round %d: %d writers won the same generation, want exactly 1", round, n)
		}
		if _, got := getVersioned(t, v, key); got != gen {
			t.Fatalf("round %d: stored generation %d, want the winner's %d", round, got, gen)
		}
	}
}

func testVersionedCopies(t *testing.T, s storage.Store, v storage.Versioned) {
	key := uniqueKey(t, "copies")
	cleanupKey(t, s, key)
	value := []byte("original")
	mustSwap(t, v, key, 0, value)
	copy(value, "XXXXXXXX")
	b, _ := getVersioned(t, v, key)
	if string(b) != "original" {
		t.Fatalf("CompareAndSwap retained the caller's slice: got %q", b)
	}
	copy(b, "YYYYYYYY")
	if b2, _ := getVersioned(t, v, key); string(b2) != "original" {
		t.Fatalf("GetVersioned returned the store's own slice: got %q", b2)
	}
}

func testVersionedLarge(t *testing.T, s storage.Store, v storage.Versioned) {
	key := uniqueKey(t, "large")
	cleanupKey(t, s, key)
	value := bytes.Repeat([]byte{0, 1, 2, 0xff, 'x'}, 64<<10/5)
	gen := mustSwap(t, v, key, 0, value)
	b, got := getVersioned(t, v, key)
	if !bytes.Equal(b, value) || got != gen {
		t.Fatalf("GetVersioned of a %d-byte value: got %d bytes at generation %d, want the same bytes at %d", len(value), len(b), got, gen)
	}
}

func testVersionedCancelled(t *testing.T, s storage.Store, v storage.Versioned) {
	key := uniqueKey(t, "cancelled")
	cleanupKey(t, s, key)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := v.CompareAndSwap(ctx, key, 0, []byte("x")); !errors.Is(err, context.Canceled) {
		t.Fatalf("CompareAndSwap with a cancelled context: error = %v, want context.Canceled", err)
	}
	if _, _, err := v.GetVersioned(ctx, key); !errors.Is(err, context.Canceled) {
		t.Fatalf("GetVersioned with a cancelled context: error = %v, want context.Canceled", err)
	}
	if _, err := s.Get(context.Background(), key); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("a cancelled CompareAndSwap stored a value (Get error = %v)", err)
	}
}
