package main

import (
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/schollz/progressbar/v3"
)

// progressRedraw is the shortest time between two redraws of the progress
// bar: at most ten a second, however fast the bytes come.
const progressRedraw = 100 * time.Millisecond

// download is the progress bar of "get -o FILE" on a terminal. For one URL
// whose response says its Content-Length it shows bytes of total, percent,
// rate and time left; otherwise (several URLs, fetched a few at a time, or
// no length) bytes received, rate and time spent. It counts body bytes as
// they arrive (Write), from any number of concurrent fetches, and does not
// draw while hold reports true (a password prompt is on the line). finish
// clears it.
type download struct {
	w      io.Writer
	single bool
	hold   func() bool
	// held counts bytes received while hold was true, added at the next
	// draw.
	held atomic.Int64

	mu sync.Mutex // guards bar
	// bar is nil until the first response arrives.
	bar *progressbar.ProgressBar
}

var _ io.Writer = (*download)(nil)

// newDownload returns the progress of a download of one URL (single) or
// several to w. Nothing is drawn before the first response.
func newDownload(w io.Writer, single bool, hold func() bool) *download {
	return &download{w: w, single: single, hold: hold}
}

// response starts the bar when the first response's head arrives; length
// is its Content-Length, -1 when unknown.
func (d *download) response(length int64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.bar != nil {
		return
	}
	if !d.single || length <= 0 {
		length = -1
	}
	d.bar = progressbar.NewOptions64(length,
		progressbar.OptionSetWriter(d.w),
		progressbar.OptionShowBytes(true),
		progressbar.OptionShowCount(),
		progressbar.OptionShowTotalBytes(true),
		progressbar.OptionUseIECUnits(true),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(progressRedraw),
		progressbar.OptionClearOnFinish(),
		progressbar.OptionSpinnerType(14),
		// Redraw only when bytes arrive: no goroutine of the bar's own
		// to outlive the command.
		progressbar.OptionSetSpinnerChangeInterval(0),
	)
}

func (d *download) current() *progressbar.ProgressBar {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.bar
}

// Write counts len(b) received bytes; it never fails.
func (d *download) Write(b []byte) (int, error) {
	n := int64(len(b))
	bar := d.current()
	if bar == nil || d.hold() {
		d.held.Add(n)
		return len(b), nil
	}
	_ = bar.Add64(n + d.held.Swap(0))
	return len(b), nil
}

// finish clears the bar from the terminal.
func (d *download) finish() {
	if bar := d.current(); bar != nil {
		_ = bar.Finish() // draws the end, which OptionClearOnFinish clears
	}
}
