//go:build aix || darwin || dragonfly || freebsd || linux || netbsd || openbsd || solaris || zos

package main

import (
	"bufio"
	"context"
	"errors"
	"io"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// readNoEcho reads one line from the terminal f with echo off, calling
// ready (to print the prompt) once echo is off. Echo is turned off here,
// before the read starts, and restored before readNoEcho returns, whether a
// line came, ctx ended or the read failed. (term.ReadPassword switches echo
// off inside the blocked read, so a caller that gives up on it races that
// switch and can leave the terminal silent.) Line editing and Ctrl-C keep
// working.
func readNoEcho(ctx context.Context, f *os.File, ready func()) (string, error) {
	fd := int(f.Fd())
	saved, err := unix.IoctlGetTermios(fd, ioctlGetTermios)
	if err != nil {
		return "", err
	}
	quiet := *saved
	quiet.Lflag &^= unix.ECHO
	quiet.Lflag |= unix.ICANON | unix.ISIG
	quiet.Iflag |= unix.ICRNL
	if err := unix.IoctlSetTermios(fd, ioctlSetTermios, &quiet); err != nil {
		return "", err
	}
	defer unix.IoctlSetTermios(fd, ioctlSetTermios, saved)
	ready()
	return readLine(ctx, f)
}

// readLine reads one line from f in a goroutine, so that the caller can
// give up on ctx: the goroutine then stays blocked until a line comes or
// the process exits (which an interrupted command soon does), and that
// line is dropped.
func readLine(ctx context.Context, f *os.File) (string, error) {
	type result struct {
		line string
		err  error
	}
	done := make(chan result, 1)
	go func() {
		line, err := bufio.NewReader(f).ReadString('\n')
		if errors.Is(err, io.EOF) && line != "" {
			err = nil
		}
		done <- result{strings.TrimRight(line, "\r\n"), err}
	}()
	select {
	case r := <-done:
		return r.line, r.err
	case <-ctx.Done():
		return "", ctx.Err()
	}
}
