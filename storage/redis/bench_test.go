package redis_test

import (
	"bytes"
	"testing"

	"github.com/tokenrefresh/tokenrefresh/internal/enginetest"
	"github.com/tokenrefresh/tokenrefresh/storage/redis"
)

// BenchmarkCompareAndSwap measures one token-sized save: a Lua
// compare-and-set round trip (with appendfsync always on the shared
// server, an fsync per write).
func BenchmarkCompareAndSwap(b *testing.B) {
	s := newStore(b, newClient(b, enginetest.RedisURL(b)), redis.Options{})
	ctx := ctxWait(b)
	v := bytes.Repeat([]byte("t"), 2000)
	var gen int64
	for b.Loop() {
		next, err := s.CompareAndSwap(ctx, "k", gen, v)
		if err != nil {
			b.Fatal(err)
		}
		gen = next
	}
}

// BenchmarkLockUnlock measures an uncontended lock and unlock: two script
// round trips and the start and stop of the renewal goroutine.
func BenchmarkLockUnlock(b *testing.B) {
	s := newStore(b, newClient(b, enginetest.RedisURL(b)), redis.Options{})
	ctx := ctxWait(b)
	for b.Loop() {
		unlock, err := s.Lock(ctx, "k")
		if err != nil {
			b.Fatal(err)
		}
		if err := unlock(); err != nil {
			b.Fatal(err)
		}
	}
}
