package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	"github.com/tokenrefresh/tokenrefresh/tokensource"
)

// errNoPassword means a password is needed but none can be had without a
// terminal. It satisfies errors.Is(err, tokensource.ErrReauthRequired), so
// it maps to exit code 3.
var errNoPassword = fmt.Errorf("%w: no password available non-interactively", tokensource.ErrReauthRequired)

// errEnvPasswordRejected means a login was needed and the server rejected
// the password in TOKENREFRESH_PASSWORD. Like errNoPassword it maps to
// exit code 3: the session needs a human.
var errEnvPasswordRejected = fmt.Errorf("%w: the server rejected the password in TOKENREFRESH_PASSWORD", tokensource.ErrReauthRequired)

// maxPasswordTries is how often a terminal user may type a password the
// server rejects before the command gives up.
const maxPasswordTries = 3

// passwordRejected reports whether err is a login the server refused for
// its credentials (not a configuration or network problem).
func passwordRejected(err error) bool {
	var te *tokensource.TokenError
	return errors.As(err, &te) && te.Rejected && te.Op == "login"
}

// Where a password came from.
const (
	fromNone   = ""
	fromEnv    = "TOKENREFRESH_PASSWORD"
	fromStdin  = "--password-stdin"
	fromPrompt = "the prompt"
)

// passwords is the PasswordFunc of a session's grant: the password for a
// login the Source runs by itself (a dead refresh token), without ever
// prompting. It hands out the password typed at this command's prompt,
// else TOKENREFRESH_PASSWORD, and remembers (through the Source's events)
// one the server rejected: that one is not sent again within the command,
// so N requests on a dead session cost one failed login, not N. It is safe
// for concurrent use.
type passwords struct {
	env string // TOKENREFRESH_PASSWORD; "" when unset

	mu sync.Mutex // guards the fields below
	// typed is the password typed at the prompt; "" until then, and
	// again once the server rejected it.
	typed string
	// handed is where the last password handed out came from.
	handed string
	// envBad is set once the server rejected env.
	envBad bool
}

// get is the grant's PasswordFunc.
func (p *passwords) get(context.Context) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case p.typed != "":
		p.handed = fromPrompt
		return p.typed, nil
	case p.env != "" && p.envBad:
		return "", errEnvPasswordRejected
	case p.env != "":
		p.handed = fromEnv
		return p.env, nil
	}
	return "", errNoPassword
}

// observe is the Source's OnEvent: a login refused for its credentials
// marks the password it used as rejected. The Source reports the event
// before any caller sees the failure, so the next login finds the mark.
func (p *passwords) observe(ev tokensource.Event) {
	if ev.Kind != tokensource.EventLoginFailed || !passwordRejected(ev.Err) {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	switch p.handed {
	case fromEnv:
		p.envBad = true
	case fromPrompt:
		p.typed = ""
	}
	p.handed = fromNone
}

// setTyped makes pw, typed at the prompt, the password of the next login.
func (p *passwords) setTyped(pw string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.typed = pw
}

// envRejected reports whether the server rejected TOKENREFRESH_PASSWORD.
func (p *passwords) envRejected() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.envBad
}

// readPasswordLine reads one line (without its line ending) from r, as
// --password-stdin does. A missing final newline is fine.
func readPasswordLine(r io.Reader) (string, error) {
	return readSecretLine(r, "password")
}

// readSecretLine reads one line (without its line ending) from r: the
// password of --password-stdin or the refresh token of
// --refresh-token-stdin, named by what in errors. A missing final newline
// is fine; an empty line is an error.
func readSecretLine(r io.Reader, what string) (string, error) {
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read %s from stdin: %w", what, err)
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", fmt.Errorf("read %s from stdin: empty %s", what, what)
	}
	return line, nil
}

// prompt asks for the password of user at server on the terminal without
// echo ("Password for alice at auth.example.com: "). It runs in the
// command's own flow, never inside a token refresh, on a context of its
// own that SIGINT and SIGTERM cancel: Ctrl-C returns an *interrupted error
// at once. The terminal is restored before prompt returns, on every path.
func (e *env) prompt(ctx context.Context, user, server string) (string, error) {
	f, ok := e.stdin.(*os.File)
	if !ok {
		return "", errNoPassword
	}
	ctx, stop := notifyContext(ctx)
	defer stop()
	e.prompting.Store(true)
	defer e.prompting.Store(false)
	pw, err := readNoEcho(ctx, f, func() { fmt.Fprintf(e.stderr, "Password for %s at %s: ", user, server) })
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

// promptLogin asks for the password on the terminal and logs in with it
// through login, up to maxPasswordTries times while the server rejects it.
// set hands each typed password to the grant before login runs.
func (e *env) promptLogin(ctx context.Context, user, server string, set func(string), login func() error) error {
	for try := 1; ; try++ {
		pw, err := e.prompt(ctx, user, server)
		if err != nil {
			return err
		}
		set(pw)
		err = login()
		switch {
		case err == nil:
			return nil
		case !passwordRejected(err):
			return err
		case try == maxPasswordTries:
			return fmt.Errorf("the server rejected the password for %s at %s %d times: %w", user, server, try, err)
		}
		fmt.Fprintf(e.stderr, "The server rejected the password for %s at %s; try again.\n", user, server)
	}
}

// passwordLogin is the password flow: the password from --password-stdin,
// else TOKENREFRESH_PASSWORD, each sent once, else the terminal prompt; on
// a terminal a rejected password is asked again. set hands the password
// to the grant, login logs in with it.
func (o *loginOptions) passwordLogin(ctx context.Context, p *profile, set func(string), login func() error) error {
	e := o.env
	host := p.host()
	var from string
	switch env := e.getenv("TOKENREFRESH_PASSWORD"); {
	case o.passwordStdin:
		pw, err := readPasswordLine(e.stdin)
		if err != nil {
			return err
		}
		set(pw)
		from = fromStdin
	case env != "":
		set(env)
		from = fromEnv
	default:
		return e.promptLogin(ctx, p.Username, host, set, login)
	}
	err := login()
	if !passwordRejected(err) {
		return err
	}
	if from == fromEnv && e.isTerminal(e.stdin) {
		fmt.Fprintf(e.stderr, "The server rejected the password in TOKENREFRESH_PASSWORD for %s at %s.\n", p.Username, host)
		return e.promptLogin(ctx, p.Username, host, set, login)
	}
	return fmt.Errorf("the server rejected the password for %s at %s (from %s): %w", p.Username, host, from, err)
}
