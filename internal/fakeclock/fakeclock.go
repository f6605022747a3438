// Package fakeclock provides a settable clock for tests, so code that takes
// a Now func() time.Time field can be driven past expiries without
// sleeping.
package fakeclock

import (
	"sync"
	"time"
)

// Clock is a clock that moves only when told to. It is safe for concurrent
// use: one goroutine may Advance it while others read it through Now, as a
// Source's background refresh does. The zero value reads the zero time.
type Clock struct {
	mu sync.Mutex // guards t
	t  time.Time
}

// New returns a Clock that reads t until it is moved.
func New(t time.Time) *Clock {
	return &Clock{t: t}
}

// Now returns the clock's time. Its method value, c.Now, fits the Now
// fields of the module's types.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock by d; a negative d moves it back.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// Set moves the clock to t, forwards or back.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}
