package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"

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

// passwordFunc returns the PasswordFunc for automatic re-login: the
// TOKENREFRESH_PASSWORD variable, else a no-echo prompt when stdin is a
// terminal, else errNoPassword.
func (e *env) passwordFunc(username string) func(context.Context) (string, error) {
	return func(ctx context.Context) (string, error) {
		if p := e.getenv("TOKENREFRESH_PASSWORD"); p != "" {
			return p, nil
		}
		if e.isTerminal(e.stdin) {
			return e.prompt(ctx, username)
		}
		return "", errNoPassword
	}
}

// prompt asks for a password on the terminal without echo. If ctx ends
// first (Ctrl-C), the terminal is restored and ctx's error returned.
func (e *env) prompt(ctx context.Context, username string) (string, error) {
	f, ok := e.stdin.(*os.File)
	if !ok {
		return "", errNoPassword
	}
	fd := int(f.Fd())
	state, err := term.GetState(fd)
	if err != nil {
		return "", fmt.Errorf("password prompt: %w", err)
	}
	fmt.Fprintf(e.stderr, "Password for %s: ", username)
	type result struct {
		pw  []byte
		err error
	}
	done := make(chan result, 1)
	go func() {
		pw, err := term.ReadPassword(fd)
		done <- result{pw, err}
	}()
	select {
	case r := <-done:
		fmt.Fprintln(e.stderr)
		if r.err != nil {
			return "", fmt.Errorf("password prompt: %w", r.err)
		}
		if len(r.pw) == 0 {
			return "", errors.New("password prompt: empty password")
		}
		return string(r.pw), nil
	case <-ctx.Done():
		_ = term.Restore(fd, state)
		fmt.Fprintln(e.stderr)
		return "", ctx.Err()
	}
}
