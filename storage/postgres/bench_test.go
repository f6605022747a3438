package postgres

import (
	"bytes"
	"testing"
)

// BenchmarkCompareAndSwap measures one fenced save of a token-sized value
// (an autocommit UPDATE ... WHERE generation = $2, durable on return).
// Run on demand: go test -run '^$' -bench . ./storage/postgres
func BenchmarkCompareAndSwap(b *testing.B) {
	s, _ := newTestStore(b, 0)
	v := bytes.Repeat([]byte("t"), 2000)
	var gen int64
	for b.Loop() {
		next, err := s.CompareAndSwap(b.Context(), "k", gen, v)
		if err != nil {
			b.Fatal(err)
		}
		gen = next
	}
}

// BenchmarkLockUnlock measures taking and releasing the fleet-wide lock
// without contention (a transaction on a pooled connection).
func BenchmarkLockUnlock(b *testing.B) {
	s, _ := newTestStore(b, 0)
	for b.Loop() {
		unlock, err := s.Lock(b.Context(), "k")
		if err != nil {
			b.Fatal(err)
		}
		if err := unlock(); err != nil {
			b.Fatal(err)
		}
	}
}
