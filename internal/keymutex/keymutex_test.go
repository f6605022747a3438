package keymutex

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"testing"
)

func TestMutualExclusion(t *testing.T) {
	var m Map
	var wg sync.WaitGroup
	var inside, maxInside, total int
	var mu sync.Mutex
	for range 50 {
		wg.Go(func() {
			release, err := m.Lock(context.Background(), "k")
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			inside++
			maxInside = max(maxInside, inside)
			mu.Unlock()
			runtime.Gosched() // give a second holder, if any, time to get in
			mu.Lock()
			inside--
			total++
			mu.Unlock()
			release()
		})
	}
	wg.Wait()
	if maxInside != 1 || total != 50 {
		t.Fatalf("max holders = %d, total = %d; want 1, 50", maxInside, total)
	}
}

func TestAbandonAndIndependentKeys(t *testing.T) {
	var m Map
	release, err := m.Lock(context.Background(), "a")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := m.Lock(ctx, "a")
		done <- err
	}()
	other, err := m.Lock(context.Background(), "b")
	if err != nil {
		t.Fatalf("key b blocked by key a: %v", err)
	}
	other()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("abandoned waiter got %v, want context.Canceled", err)
	}
	if _, err := m.Lock(ctx, "b"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Lock with a done ctx = %v, want context.Canceled", err)
	}
	release()
	again, err := m.Lock(context.Background(), "a")
	if err != nil {
		t.Fatalf("lock not free after release and an abandoned waiter: %v", err)
	}
	again()
}
