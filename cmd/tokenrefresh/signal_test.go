package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/tokenrefresh/tokenrefresh/tokensource"
)

// TestInterruptedExitCode: a command cut short by SIGINT or SIGTERM exits
// 130 or 143 with one line on stderr, whether the signal reached it as its
// context's cause or as the error of a prompt; other failures keep their
// codes.
func TestInterruptedExitCode(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		cause error // of the command's context; nil: not cancelled
		err   error // what the command returned
		want  int
	}{
		{"ctrl-c while waiting", &interrupted{sig: os.Interrupt}, context.Canceled, 130},
		{"sigterm while waiting", &interrupted{sig: syscall.SIGTERM}, fmt.Errorf("get: %w", context.Canceled), 143},
		{"ctrl-c at a prompt", nil, fmt.Errorf("x: %w", &interrupted{sig: os.Interrupt}), 130},
		{"ctrl-c beats a login failure", &interrupted{sig: os.Interrupt}, &codedError{code: exitError, err: context.Canceled}, 130},
		{"cancelled without a signal", context.Canceled, context.Canceled, exitError},
		{"signal after success", &interrupted{sig: os.Interrupt}, nil, exitOK},
		{"no signal", nil, tokensource.ErrReauthRequired, exitReauth},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			te := newTestEnv(t, "")
			ctx, cancel := context.WithCancelCause(context.Background())
			defer cancel(nil)
			if tc.cause != nil {
				cancel(tc.cause)
			}
			if got := te.report(ctx, "get", tc.err); got != tc.want {
				t.Errorf("report = %d, want %d", got, tc.want)
			}
			if tc.err != nil && strings.Count(te.errOut.String(), "\n") != 1 {
				t.Errorf("stderr = %q, want one line", te.errOut.String())
			}
		})
	}
}
