package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/tokenrefresh/tokenrefresh/tokensource"
)

// A session's Source may need a new login in the middle of a refresh (the
// refresh token is dead). The refresh is shared and runs on a context
// detached from the command, so it must never wait for a human: its grant
// gets a password only from what is already at hand (passwords), and a
// browser or device grant never logs in there at all (the Source returns
// tokensource.ErrReauthRequired for an Interactive grant). The command
// itself, in its own flow and only on a terminal, then logs in again the
// profile's way (relogin): it asks for the password, or runs the browser or
// device login in the foreground; at most once per command. A password the
// server rejected is not sent again within the command (see passwords).

// relogin handles err from a call that used s's token. When err says a
// new login is needed and a human is at the terminal, it logs in again by
// the profile's flow: for the password flow it asks for the password (once
// per command: later calls find it asked; a password the server rejects is
// asked again, up to maxPasswordTries times), for the browser and device
// flows it runs that login in the foreground (stdin and stderr must both be
// terminals: someone must see the URL or code). It then reports retry: the
// caller tries its call once more. A failed or interrupted login is
// returned as fatal: the command stops with it. Otherwise err is for the
// caller to report. It must be called from the command's own flow, never
// concurrently.
func (e *env) relogin(ctx context.Context, s *session, err error) (retry bool, fatal error) {
	if !errors.Is(err, tokensource.ErrReauthRequired) {
		return false, nil
	}
	flow := s.prof.flow()
	switch {
	case flow == flowPassword && e.isTerminal(e.stdin):
	case interactive(flow) && e.isTerminal(e.stdin) && e.isTerminal(e.stderr):
	default:
		return false, nil
	}
	if s.reloggedIn {
		// Logged in again already (a failure would have stopped the
		// command): this call failed before that login.
		return true, nil
	}
	if flow == flowPassword {
		why := ""
		if s.pw.envRejected() {
			why = " (the server rejected the password in TOKENREFRESH_PASSWORD)"
		}
		fmt.Fprintf(e.stderr, "The session of profile %s needs a new login%s.\n", s.name, why)
		err = e.promptLogin(ctx, s.prof.Username, s.prof.host(), s.pw.setTyped, func() error {
			_, err := s.src.Login(ctx)
			return err
		})
	} else {
		fmt.Fprintf(e.stderr, "The session of profile %s needs a new login: %s.\n", s.name, describeFlow(flow))
		err = e.foregroundLogin(ctx, flow, func(ctx context.Context) error {
			_, err := s.src.Login(ctx)
			return err
		})
	}
	if err != nil {
		if interruption(ctx, err) != nil {
			return false, err
		}
		// A rejected password, a denied or expired login, is a login
		// failure (exit 1), as in "tokenrefresh login".
		return false, &codedError{code: exitError, err: fmt.Errorf("log in again: %w", err)}
	}
	s.reloggedIn = true
	return true, nil
}

// reloginNeeded is the exit-3 error of a command whose session needs a new
// login that only "tokenrefresh login" (or a terminal) can run: a browser
// or device profile away from a terminal, a client whose credentials the
// server refused, a session seeded from a refresh token that died.
type reloginNeeded struct {
	profile, flow string
	err           error
}

func (r *reloginNeeded) Error() string { return r.err.Error() }
func (r *reloginNeeded) Unwrap() error { return r.err }

// message is the one line report prints for it.
func (r *reloginNeeded) message() string {
	login := "`tokenrefresh login`"
	if r.profile != "default" {
		login = "`tokenrefresh login --profile " + r.profile + "`"
	}
	switch r.flow {
	case flowBrowser, flowDevice:
		return fmt.Sprintf("re-login needed: the session of profile %s has ended, and %s runs only in the foreground on a terminal (stdin and stderr), never in a pipe or a batch job; run %s on one",
			r.profile, describeFlow(r.flow), login)
	case flowRefreshToken:
		return fmt.Sprintf("re-login needed: the session of profile %s came from a refresh token that is no longer valid; start a new one with %s --refresh-token-stdin",
			r.profile, login)
	}
	return fmt.Sprintf("%s; check the client secret (TOKENREFRESH_CLIENT_SECRET or the saved client secret file), then run %s",
		oneLine(r.err.Error()), login)
}

// retryAfterLogin runs call; when it fails because the session needs a new
// login and relogin got one, call runs once more.
func (e *env) retryAfterLogin(ctx context.Context, s *session, call func() error) error {
	err := call()
	retry, fatal := e.relogin(ctx, s, err)
	switch {
	case fatal != nil:
		return fatal
	case retry:
		return call()
	}
	return err
}

// token returns a valid token of s, logging in again first (see relogin)
// when the session needs it.
func (e *env) token(ctx context.Context, s *session) (tok *tokensource.Token, err error) {
	err = e.retryAfterLogin(ctx, s, func() (err error) {
		tok, err = s.src.Token(ctx)
		return err
	})
	return tok, err
}
