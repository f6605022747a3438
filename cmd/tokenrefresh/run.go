package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/term"
)

// Exit codes, documented in the top-level and "get" help texts.
const (
	exitOK      = 0 // success
	exitError   = 1 // any other failure
	exitUsage   = 2 // bad flags or arguments
	exitReauth  = 3 // a new login is needed and no password is available
	exitHTTPErr = 4 // a fetched URL answered with a status >= 400
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
	// prompting is set while a password prompt waits, so that a progress
	// line does not draw over it.
	prompting atomic.Bool
}

// run is the whole program: it parses args, runs one command and returns the
// process exit code. Errors are printed once, here, as one line on stderr.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	e := &env{
		stdin:      stdin,
		stdout:     stdout,
		stderr:     stderr,
		getenv:     os.Getenv,
		now:        time.Now,
		sleep:      sleep,
		isTerminal: isTerminal,
	}
	return e.run(ctx, args)
}

// command is one subcommand: parse turns arguments into a runnable action.
type command struct {
	name    string
	summary string
	parse   func(e *env, args []string) (func(context.Context) error, error)
}

func commands() []command {
	return []command{
		{"login", "log in and save a profile", parseLogin},
		{"get", "fetch URLs through the refreshing transport", parseGet},
		{"status", "show the profile and token expiry (never a token)", parseStatus},
		{"token", "print a valid access token for scripts", parseToken},
		{"logout", "revoke on the server and delete the stored tokens", parseLogout},
		{"demo", "watch refresh, rotation and re-login against a built-in server", parseDemo},
		{"serve-demo", "run the demo server on its own", parseServeDemo},
	}
}

func (e *env) run(ctx context.Context, args []string) int {
	if len(args) == 0 {
		fmt.Fprint(e.stderr, topUsage())
		return exitUsage
	}
	name := args[0]
	switch name {
	case "-h", "-help", "--help", "help":
		if name == "help" && len(args) > 1 {
			return e.run(ctx, []string{args[1], "--help"})
		}
		fmt.Fprint(e.stdout, topUsage())
		return exitOK
	}
	for _, c := range commands() {
		if c.name != name {
			continue
		}
		action, err := c.parse(e, args[1:])
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		if err != nil {
			fmt.Fprintf(e.stderr, "tokenrefresh %s: %v (see 'tokenrefresh %s --help')\n", name, err, name)
			return exitUsage
		}
		return e.report(ctx, name, action(ctx))
	}
	fmt.Fprintf(e.stderr, "tokenrefresh: unknown command %q (see 'tokenrefresh --help')\n", name)
	return exitUsage
}

// report prints err (if any) as one line and maps it to an exit code. A
// command that failed because SIGINT or SIGTERM arrived exits 130 or 143.
func (e *env) report(ctx context.Context, name string, err error) int {
	if err == nil {
		return exitOK
	}
	if in := interruption(ctx, err); in != nil {
		fmt.Fprintf(e.stderr, "tokenrefresh %s: interrupted\n", name)
		return in.exitCode()
	}
	code := exitCode(err)
	msg := oneLine(err.Error())
	if code == exitReauth {
		if errors.Is(err, errNoPassword) {
			// The chain only repeats "re-authentication required".
			msg = "re-login needed and no password available non-interactively"
		}
		msg += "; run `tokenrefresh login` (or set TOKENREFRESH_PASSWORD)"
	}
	fmt.Fprintf(e.stderr, "tokenrefresh %s: %s\n", name, msg)
	return code
}

// oneLine keeps an error message on a single line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

func topUsage() string {
	var b strings.Builder
	b.WriteString(`tokenrefresh keeps an OAuth2 or JSON-API session fresh: it renews the access
token on expiry or on a 401, rotates and saves the refresh token before use,
and logs in again when it must.

Usage:
  tokenrefresh <command> [flags] [args]

Commands:
`)
	for _, c := range commands() {
		fmt.Fprintf(&b, "  %-11s %s\n", c.name, c.summary)
	}
	b.WriteString(`
Run 'tokenrefresh <command> --help' for a command's flags.
` + sharedHelp)
	return b.String()
}

// sharedHelp documents exit codes and environment for every help text.
const sharedHelp = `
Exit codes:
  0  success
  1  error
  2  usage error (bad flags or arguments)
  3  re-login needed and no password available non-interactively
     (set TOKENREFRESH_PASSWORD, or run 'tokenrefresh login')
  4  HTTP error: a fetched URL answered with a status >= 400
  130  interrupted by Ctrl-C (SIGINT); 143 by SIGTERM

Environment:
  TOKENREFRESH_CONFIG_DIR    state directory (default: the user config
                             directory + /tokenrefresh)
  TOKENREFRESH_PASSWORD      password for login and automatic re-login
  TOKENREFRESH_CLIENT_SECRET OAuth2 client secret
  TOKENREFRESH_DEBUG         if set, log token events (never tokens) to stderr
`

// isTerminal reports whether f is an *os.File attached to a terminal.
func isTerminal(f any) bool {
	file, ok := f.(*os.File)
	return ok && term.IsTerminal(int(file.Fd()))
}
