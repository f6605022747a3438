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
// gets a password only from what is already at hand (passwords). When
// that is nothing, the Source fails with tokensource.ErrReauthRequired and
// the command itself, in its own flow, asks on the terminal and calls Login
// (relogin), at most once per command. A password the server rejected is
// not sent again within the command (see passwords).

// relogin handles err from a call that used s's token. When err says a
// new login is needed and stdin is a terminal, it asks for the password
// (once per command: later calls find it asked; a password the server
// rejects is asked again, up to maxPasswordTries times), logs in with it and
// reports retry: the caller tries its call once more. A failed or
// interrupted prompt, or a login the server refuses, is returned as fatal:
// the command stops with it. Otherwise err is for the caller to report.
// It must be called from the command's own flow, never concurrently.
func (e *env) relogin(ctx context.Context, s *session, err error) (retry bool, fatal error) {
	if !errors.Is(err, tokensource.ErrReauthRequired) || !e.isTerminal(e.stdin) {
		return false, nil
	}
	if s.reloggedIn {
		// Asked and logged in already (a failure would have stopped the
		// command): this call failed before that login.
		return true, nil
	}
	why := ""
	if s.pw.envRejected() {
		why = " (the server rejected the password in TOKENREFRESH_PASSWORD)"
	}
	fmt.Fprintf(e.stderr, "The session of profile %s needs a new login%s.\n", s.name, why)
	err = e.promptLogin(ctx, s.prof.Username, s.prof.host(), s.pw.setTyped, func() error {
		_, err := s.src.Login(ctx)
		return err
	})
	if err != nil {
		if interruption(ctx, err) != nil {
			return false, err
		}
		// A rejected password is a login failure (exit 1), as in
		// "tokenrefresh login".
		return false, &codedError{code: exitError, err: fmt.Errorf("log in again: %w", err)}
	}
	s.reloggedIn = true
	return true, nil
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
