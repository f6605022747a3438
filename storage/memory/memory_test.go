package memory_test

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/tokenrefresh/tokenrefresh/storage"
	"github.com/tokenrefresh/tokenrefresh/storage/memory"
	"github.com/tokenrefresh/tokenrefresh/storage/storagetest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Store { return memory.New() })
}

func TestZeroValue(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Store { return &memory.Store{} })
}

func TestDoubleUnlock(t *testing.T) {
	var s memory.Store
	unlock, err := s.Lock(t.Context(), "k")
	if err != nil {
		t.Fatalf("Lock = %v", err)
	}
	if err := unlock(); err != nil {
		t.Fatalf("first unlock = %v, want nil", err)
	}
	if err := unlock(); err == nil {
		t.Fatal("second unlock = nil, want an error")
	}
	// The lock is still usable after the misuse.
	unlock2, err := s.Lock(t.Context(), "k")
	if err != nil {
		t.Fatalf("Lock after double unlock = %v", err)
	}
	if err := unlock2(); err != nil {
		t.Fatalf("unlock = %v", err)
	}
}
