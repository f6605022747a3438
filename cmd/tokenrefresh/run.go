package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/tokenrefresh/tokenrefresh/tokensource"
)

// Exit codes, documented in the top-level and "get" help texts.
const (
	exitOK      = 0 // success
	exitError   = 1 // any other failure
	exitUsage   = 2 // bad flags or arguments
	exitReauth  = 3 // a new login is needed and cannot happen here (no password, no terminal)
	exitHTTPErr = 4 // a fetched URL answered with a status >= 400
)

// Waits on the network that a command bounds or announces.
const (
	// revokeTimeout bounds the revocation on the server at logout, and of
	// the previous session at login: the local tokens are gone by then,
	// so the server's answer is worth only a short wait.
	revokeTimeout = 10 * time.Second
	// noticeDelay is how long a command waits on the network before it
	// says on a terminal what it waits for.
	noticeDelay = time.Second
)

// env is everything a command reads from the outside world. run fills it
// from the process; tests build their own, so they need no globals.
type env struct {
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	// getenv reads an environment variable.
	getenv func(string) string
	// now is the clock of every command: token expiry, status output and
	// the demo's timeline.
	now func() time.Time
	// sleep waits for a duration on that clock, or until ctx is done. Only
	// the demo sleeps.
	sleep func(ctx context.Context, d time.Duration) error
	// isTerminal reports whether a stream is an interactive terminal.
	isTerminal func(any) bool
	// buildInfo reads the executable's build information, as
	// runtime/debug.ReadBuildInfo does.
	buildInfo func() (*debug.BuildInfo, bool)
	// revokeTimeout and noticeDelay are the constants of the same names;
	// tests shorten them.
	revokeTimeout time.Duration
	noticeDelay   time.Duration
	// browserAvailable reports whether the system has a way to open a
	// browser (tokensource.BrowserAvailable).
	browserAvailable func() bool
	// openBrowser opens the browser flow's URL; nil means
	// tokensource.OpenSystemBrowser (BROWSER, else xdg-open or open).
	openBrowser func(ctx context.Context, url string) error
	// prompting is set while a password prompt waits, so that a progress
	// bar does not draw over it.
	prompting atomic.Bool
	// exitFns run when the command ends (atExit): connections to a
	// store's engine are closed.
	exitMu  sync.Mutex
	exitFns []func()
}

// run is the whole program: it parses args, runs one command and returns the
// process exit code. Errors are printed once, here, as one line on stderr.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	e := &env{
		stdin:         stdin,
		stdout:        stdout,
		stderr:        stderr,
		getenv:        os.Getenv,
		now:           time.Now,
		sleep:         sleep,
		isTerminal:    isTerminal,
		buildInfo:     debug.ReadBuildInfo,
		revokeTimeout: revokeTimeout,
		noticeDelay:   noticeDelay,

		browserAvailable: tokensource.BrowserAvailable,
	}
	return e.run(ctx, args)
}

func (e *env) run(ctx context.Context, args []string) int {
	return e.execute(ctx, newRootCmd(e, runners{}), args)
}

// execute runs the command tree root on args.
func (e *env) execute(ctx context.Context, root *cobra.Command, args []string) int {
	// A non-nil slice: with nil, cobra would read os.Args.
	defer e.runAtExit()
	root.SetArgs(append([]string{}, longFlagArgs(root, args)...))
	cmd, err := root.ExecuteContextC(ctx)
	if cmd == nil {
		cmd = root
	}
	return e.report(ctx, cmd.CommandPath(), err)
}

// report prints err (if any) as one line and maps it to an exit code. A
// command that failed because SIGINT or SIGTERM arrived exits 130 or 143.
// name is the command's path, such as "tokenrefresh get".
func (e *env) report(ctx context.Context, name string, err error) int {
	if err == nil {
		return exitOK
	}
	if in := interruption(ctx, err); in != nil {
		fmt.Fprintf(e.stderr, "%s: interrupted\n", name)
		return in.exitCode()
	}
	if errors.Is(err, errShownUsage) {
		return exitUsage
	}
	code := exitCode(err)
	msg := oneLine(err.Error())
	var rn *reloginNeeded
	switch {
	case code == exitUsage:
		msg += fmt.Sprintf(" (see '%s --help')", name)
	case errors.As(err, &rn):
		msg = rn.message()
	case errors.Is(err, errEnvPasswordRejected):
		msg = "re-login needed, and the server rejected the password in TOKENREFRESH_PASSWORD; correct it, or run `tokenrefresh login`"
	case code == exitReauth:
		if errors.Is(err, errNoPassword) {
			// The chain only repeats "re-authentication required".
			msg = "re-login needed and no password available non-interactively"
		}
		msg += "; run `tokenrefresh login` (or set TOKENREFRESH_PASSWORD)"
	}
	fmt.Fprintf(e.stderr, "%s: %s\n", name, msg)
	return code
}

// oneLine keeps an error message on a single line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// isTerminal reports whether f is an *os.File attached to a terminal.
func isTerminal(f any) bool {
	file, ok := f.(*os.File)
	return ok && term.IsTerminal(int(file.Fd()))
}
