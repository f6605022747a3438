package main

import (
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// progressInterval is how often the progress line is redrawn.
const progressInterval = 250 * time.Millisecond

// progress counts bytes written through it and redraws one status line
// ("12.0 MiB  3.1 MiB/s") on a terminal until stop is called, except while
// hold reports true (a password prompt is on the line). Write is safe for
// concurrent use.
type progress struct {
	w     io.Writer
	now   func() time.Time
	hold  func() bool
	start time.Time
	n     atomic.Int64
	quit  chan struct{}
	wg    sync.WaitGroup
}

func startProgress(w io.Writer, now func() time.Time, hold func() bool) *progress {
	p := &progress{w: w, now: now, hold: hold, start: now(), quit: make(chan struct{})}
	p.wg.Go(p.loop)
	return p
}

// Write counts b; it never fails.
func (p *progress) Write(b []byte) (int, error) {
	p.n.Add(int64(len(b)))
	return len(b), nil
}

func (p *progress) loop() {
	t := time.NewTicker(progressInterval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			if !p.hold() {
				p.draw()
			}
		case <-p.quit:
			return
		}
	}
}

func (p *progress) draw() {
	n := p.n.Load()
	rate := 0.0
	if secs := p.now().Sub(p.start).Seconds(); secs > 0 {
		rate = float64(n) / secs
	}
	fmt.Fprintf(p.w, "\r%10s  %10s/s ", formatBytes(float64(n)), formatBytes(rate))
}

// stop ends the redraw loop and leaves the final figures on their own line.
func (p *progress) stop() {
	close(p.quit)
	p.wg.Wait()
	p.draw()
	fmt.Fprintln(p.w)
}

// formatBytes renders n bytes with a binary unit: "512 B", "1.5 KiB".
func formatBytes(n float64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%.0f B", n)
	}
	suffixes := "KMGTPE"
	i := -1
	for n >= unit && i < len(suffixes)-1 {
		n /= unit
		i++
	}
	return fmt.Sprintf("%.1f %ciB", n, suffixes[i])
}
