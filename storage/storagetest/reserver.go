package storagetest

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/tokenrefresh/tokenrefresh/storage"
)

// runReserver runs the reservation checks against stores made by newStore,
// which must implement [storage.Reserver]. [Run] calls it for such stores.
func runReserver(t *testing.T, newStore func(t *testing.T) storage.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s storage.Store, r storage.Reserver)
	}{
		{"CommitRoundTrip", testReserveCommit},
		{"CommitNewKey", testReserveCommitNewKey},
		{"ReleaseKeepsValue", testReserveRelease},
		{"ReleaseAfterCommit", testReleaseAfterCommit},
		{"CommitLargerThanReserved", testCommitLarger},
		{"SecondCommitFails", testSecondCommit},
		{"CommitAfterReleaseFails", testCommitAfterRelease},
		{"PutBetweenReserveAndCommit", testPutBetween},
		{"CancelledContext", testReserveCancelled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t)
			tt.fn(t, s, s.(storage.Reserver))
		})
	}
}

func mustReserve(t *testing.T, r storage.Reserver, key string, size int) storage.Reservation {
	t.Helper()
	res, err := r.Reserve(context.Background(), key, size)
	if err != nil {
		t.Fatalf("Reserve(%q, %d) = %v, want nil", key, size, err)
	}
	return res
}

func mustCommit(t *testing.T, res storage.Reservation, value []byte) {
	t.Helper()
	if err := res.Commit(context.Background(), value); err != nil {
		t.Fatalf("Commit = %v, want nil", err)
	}
}

func testReserveCommit(t *testing.T, s storage.Store, r storage.Reserver) {
	key := uniqueKey(t, "k")
	cleanupKey(t, s, key)
	mustPut(t, s, key, []byte("old"))
	want := []byte(`{"access_token":"a","refresh_token":"r2"}` + "\x00\xff\n")
	res := mustReserve(t, r, key, len(want))
	mustCommit(t, res, want)
	if got := mustGet(t, s, key); !bytes.Equal(got, want) {
		t.Fatalf("Get after Commit = %q, want %q", got, want)
	}
}

func testReserveCommitNewKey(t *testing.T, s storage.Store, r storage.Reserver) {
	key := uniqueKey(t, "k")
	cleanupKey(t, s, key)
	res := mustReserve(t, r, key, 100)
	mustCommit(t, res, nil)
	if got := mustGet(t, s, key); len(got) != 0 {
		t.Fatalf("Get after Commit(empty) = %q, want empty value", got)
	}
}

func testReserveRelease(t *testing.T, s storage.Store, r storage.Reserver) {
	key, missing := uniqueKey(t, "k"), uniqueKey(t, "missing")
	cleanupKey(t, s, key)
	mustPut(t, s, key, []byte("old"))
	for _, k := range []string{key, missing} {
		if err := mustReserve(t, r, k, 100).Release(); err != nil {
			t.Fatalf("Release(%q) = %v, want nil", k, err)
		}
	}
	if got := mustGet(t, s, key); string(got) != "old" {
		t.Errorf("Get after Release = %q, want the previous value %q", got, "old")
	}
	if _, err := s.Get(context.Background(), missing); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("Get of a key only reserved and released = %v, want storage.ErrNotFound", err)
	}
}

func testReleaseAfterCommit(t *testing.T, s storage.Store, r storage.Reserver) {
	key := uniqueKey(t, "k")
	cleanupKey(t, s, key)
	res := mustReserve(t, r, key, 100)
	mustCommit(t, res, []byte("committed"))
	for i := range 2 {
		if err := res.Release(); err != nil {
			t.Fatalf("Release #%d after Commit = %v, want nil (a no-op)", i+1, err)
		}
	}
	if got := mustGet(t, s, key); string(got) != "committed" {
		t.Fatalf("Get after Commit and Release = %q, want %q", got, "committed")
	}
}

func testCommitLarger(t *testing.T, s storage.Store, r storage.Reserver) {
	key := uniqueKey(t, "k")
	cleanupKey(t, s, key)
	want := make([]byte, 256<<10)
	rnd := rand.New(rand.NewPCG(3, 4))
	for i := range want {
		want[i] = byte(rnd.UintN(256))
	}
	res := mustReserve(t, r, key, 16)
	mustCommit(t, res, want)
	if got := mustGet(t, s, key); !bytes.Equal(got, want) {
		t.Fatalf("Get after committing %d bytes into a 16-byte reservation returned %d bytes that differ",
			len(want), len(got))
	}
}

func testSecondCommit(t *testing.T, s storage.Store, r storage.Reserver) {
	key := uniqueKey(t, "k")
	cleanupKey(t, s, key)
	res := mustReserve(t, r, key, 100)
	mustCommit(t, res, []byte("first"))
	if err := res.Commit(context.Background(), []byte("second")); err == nil {
		t.Fatal("second Commit = nil, want an error")
	}
	if got := mustGet(t, s, key); string(got) != "first" {
		t.Fatalf("Get after a second Commit = %q, want the first %q", got, "first")
	}
}

func testCommitAfterRelease(t *testing.T, s storage.Store, r storage.Reserver) {
	key := uniqueKey(t, "k")
	cleanupKey(t, s, key)
	mustPut(t, s, key, []byte("old"))
	res := mustReserve(t, r, key, 100)
	if err := res.Release(); err != nil {
		t.Fatalf("Release = %v", err)
	}
	if err := res.Commit(context.Background(), []byte("new")); err == nil {
		t.Fatal("Commit after Release = nil, want an error")
	}
	if got := mustGet(t, s, key); string(got) != "old" {
		t.Fatalf("Get after Commit-after-Release = %q, want %q", got, "old")
	}
}

// testPutBetween follows a token source: lock (when the store is a
// Locker), reserve, write an intent record with Put, commit the result.
func testPutBetween(t *testing.T, s storage.Store, r storage.Reserver) {
	key := uniqueKey(t, "k")
	cleanupKey(t, s, key)
	mustPut(t, s, key, []byte("old"))
	if l, ok := s.(storage.Locker); ok {
		unlock := lockOrFatal(t, l, key)
		defer func() {
			if err := unlock(); err != nil {
				t.Errorf("unlock = %v", err)
			}
		}()
	}
	res := mustReserve(t, r, key, 100)
	defer res.Release()
	mustPut(t, s, key, []byte("intent"))
	if got := mustGet(t, s, key); string(got) != "intent" {
		t.Fatalf("Get after Put during a reservation = %q, want %q", got, "intent")
	}
	mustCommit(t, res, []byte("result"))
	if got := mustGet(t, s, key); string(got) != "result" {
		t.Fatalf("Get after Commit = %q, want %q", got, "result")
	}
}

func testReserveCancelled(t *testing.T, s storage.Store, r storage.Reserver) {
	key := uniqueKey(t, "k")
	cleanupKey(t, s, key)
	mustPut(t, s, key, []byte("before"))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res, err := r.Reserve(ctx, key, 100)
	if err == nil {
		_ = res.Release()
		t.Fatal("Reserve(cancelled ctx) = nil error, want error wrapping context.Canceled")
	}
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Reserve(cancelled ctx) = %v, want error wrapping context.Canceled", err)
	}
	if got := mustGet(t, s, key); string(got) != "before" {
		t.Errorf("Get after a cancelled Reserve = %q, want %q", got, "before")
	}
}
