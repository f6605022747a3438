package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/tokenrefresh/tokenrefresh/tokensource"
)

// errNoPassword means a password is needed but none can be had without a
// terminal. It satisfies errors.Is(err, tokensource.ErrReauthRequired), so
// it maps to exit code 3.
var errNoPassword = fmt.Errorf("%w: no password available non-interactively", tokensource.ErrReauthRequired)

// readPasswordLine reads one line (without its line ending) from r, as
// --password-stdin does. A missing final newline is fine.
func readPasswordLine(r io.Reader) (string, error) {
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read password from stdin: %w", err)
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", errors.New("read password from stdin: empty password")
	}
	return line, nil
}

// prompt asks for a password on the terminal without echo. It runs in the
// command's own flow, never inside a token refresh, on a context of its
// own that SIGINT and SIGTERM cancel: Ctrl-C returns an *interrupted error
// at once. The terminal is restored before prompt returns, on every path.
func (e *env) prompt(ctx context.Context, username string) (string, error) {
	f, ok := e.stdin.(*os.File)
	if !ok {
		return "", errNoPassword
	}
	ctx, stop := notifyContext(ctx)
	defer stop()
	e.prompting.Store(true)
	defer e.prompting.Store(false)
	pw, err := readNoEcho(ctx, f, func() { fmt.Fprintf(e.stderr, "Password for %s: ", username) })
	// The Enter key (or Ctrl-C) was not echoed: end the prompt's line.
	fmt.Fprintln(e.stderr)
	switch {
	case ctx.Err() != nil:
		return "", context.Cause(ctx)
	case err != nil:
		return "", fmt.Errorf("password prompt: %w", err)
	case pw == "":
		return "", errors.New("password prompt: empty password")
	}
	return pw, nil
}
