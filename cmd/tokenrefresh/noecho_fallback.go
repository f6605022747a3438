//go:build !(aix || darwin || dragonfly || freebsd || linux || netbsd || openbsd || solaris || zos)

package main

import (
	"context"
	"os"

	"golang.org/x/term"
)

// readNoEcho reads one line from the terminal f with echo off, calling
// ready (to print the prompt) first, and gives up when ctx ends (the
// terminal state is then restored here).
// term.ReadPassword turns echo off inside the read it runs in a goroutine,
// so a Ctrl-C in the instant before that can still leave echo off; the
// Unix version has no such window.
func readNoEcho(ctx context.Context, f *os.File, ready func()) (string, error) {
	fd := int(f.Fd())
	saved, err := term.GetState(fd)
	if err != nil {
		return "", err
	}
	type result struct {
		pw  []byte
		err error
	}
	done := make(chan result, 1)
	ready()
	go func() {
		pw, err := term.ReadPassword(fd)
		done <- result{pw, err}
	}()
	select {
	case r := <-done:
		return string(r.pw), r.err
	case <-ctx.Done():
		_ = term.Restore(fd, saved)
		return "", ctx.Err()
	}
}
