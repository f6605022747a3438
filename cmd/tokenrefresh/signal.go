package main

import (
	"context"
	"errors"
	"os"
	"os/signal"
	"syscall"
)

// interrupted is the error (and the context cancellation cause) when
// SIGINT or SIGTERM stops a command. It matches context.Canceled.
type interrupted struct {
	sig os.Signal
}

func (i *interrupted) Error() string { return "interrupted by " + i.sig.String() }

func (i *interrupted) Is(target error) bool { return target == context.Canceled }

// exitCode is 128 plus the signal's number, as shells report a process
// killed by it: 130 for SIGINT (Ctrl-C), 143 for SIGTERM.
func (i *interrupted) exitCode() int {
	if s, ok := i.sig.(syscall.Signal); ok {
		return 128 + int(s)
	}
	return 128 + int(syscall.SIGINT)
}

// notifyContext is signal.NotifyContext for SIGINT and SIGTERM whose
// cancellation cause is an *interrupted naming the signal, so the exit
// code can tell Ctrl-C from SIGTERM. After the first signal it stops
// catching them, so a second Ctrl-C ends the process at once (the first
// one already restored the terminal). stop releases the signals and
// cancels the context.
func notifyContext(parent context.Context) (ctx context.Context, stop func()) {
	ctx, cancel := context.WithCancelCause(parent)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		defer close(done)
		select {
		case s := <-sigs:
			cancel(&interrupted{sig: s})
			signal.Stop(sigs)
		case <-ctx.Done():
		}
	}()
	return ctx, func() {
		signal.Stop(sigs)
		cancel(context.Canceled)
		<-done
	}
}

// interruption returns the signal that stopped a command that failed with
// err under ctx, or nil when no signal did.
func interruption(ctx context.Context, err error) *interrupted {
	var in *interrupted
	if errors.As(err, &in) {
		return in
	}
	if ctx.Err() != nil && errors.As(context.Cause(ctx), &in) {
		return in
	}
	return nil
}
