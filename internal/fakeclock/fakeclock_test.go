package fakeclock_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/tokenrefresh/tokenrefresh/internal/fakeclock"
)

var start = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func TestClock(t *testing.T) {
	t.Parallel()
	c := fakeclock.New(start)
	steps := []struct {
		name string
		move func()
		want time.Time
	}{
		{"new", func() {}, start},
		{"advance", func() { c.Advance(90 * time.Second) }, start.Add(90 * time.Second)},
		{"advance back", func() { c.Advance(-30 * time.Second) }, start.Add(time.Minute)},
		{"set", func() { c.Set(start.Add(time.Hour)) }, start.Add(time.Hour)},
		{"set back", func() { c.Set(start) }, start},
	}
	for _, s := range steps {
		s.move()
		if got := c.Now(); !got.Equal(s.want) {
			t.Errorf("%s: Now() = %v, want %v", s.name, got, s.want)
		}
	}
}

func TestZeroValue(t *testing.T) {
	t.Parallel()
	var c fakeclock.Clock
	if got := c.Now(); !got.IsZero() {
		t.Errorf("Now() = %v, want the zero time", got)
	}
	c.Advance(time.Second)
	if got, want := c.Now(), (time.Time{}).Add(time.Second); !got.Equal(want) {
		t.Errorf("after Advance(1s): Now() = %v, want %v", got, want)
	}
}

// TestConcurrent moves and reads the clock from many goroutines; run with
// -race. Every Advance must count.
func TestConcurrent(t *testing.T) {
	t.Parallel()
	c := fakeclock.New(start)
	now := c.Now // as a Now field holds it
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				c.Advance(time.Millisecond)
				if now().Before(start) {
					t.Error("Now() went back")
				}
			}
		})
	}
	wg.Wait()
	if got, want := c.Now(), start.Add(800*time.Millisecond); !got.Equal(want) {
		t.Errorf("Now() = %v, want %v", got, want)
	}
}

func Example() {
	c := fakeclock.New(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	expiry := c.Now().Add(time.Hour)
	c.Advance(61 * time.Minute)
	fmt.Println(c.Now().After(expiry))
	// Output: true
}
