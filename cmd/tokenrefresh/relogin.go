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
// gets a password only from what is already at hand (passwordFunc). When
// that is nothing, the Source fails with tokensource.ErrReauthRequired and
// the command itself, in its own flow, asks on the terminal and calls Login
// (relogin), at most once per command.

// passwordFunc is the grant's PasswordFunc: the password typed at this
// command's re-login prompt, else TOKENREFRESH_PASSWORD, else errNoPassword
// (which satisfies tokensource.ErrReauthRequired). It never prompts. The
// typed password comes first: it answers a failure with the other.
func (s *session) passwordFunc(e *env) func(context.Context) (string, error) {
	return func(context.Context) (string, error) {
		if p := s.typed.Load(); p != nil {
			return *p, nil
		}
		if p := e.getenv("TOKENREFRESH_PASSWORD"); p != "" {
			return p, nil
		}
		return "", errNoPassword
	}
}

// relogin handles err from a call that used s's token. When err says a
// new login is needed and stdin is a terminal, it asks for the password
// (once per command: later calls find it asked), logs in with it and
// reports retry: the caller tries its call once more. A failed or
// interrupted prompt, or a login the server refuses, is returned as fatal:
// the command stops with it. Otherwise err is for the caller to report.
// It must be called from the command's own flow, never concurrently.
func (e *env) relogin(ctx context.Context, s *session, err error) (retry bool, fatal error) {
	if !errors.Is(err, tokensource.ErrReauthRequired) || !e.isTerminal(e.stdin) {
		return false, nil
	}
	if s.typed.Load() != nil {
		// Asked and logged in already (a failure would have stopped the
		// command): this call failed before that login.
		return true, nil
	}
	fmt.Fprintf(e.stderr, "The session of profile %s needs a new login.\n", s.name)
	pw, err := e.prompt(ctx, s.prof.Username)
	if err != nil {
		return false, err
	}
	s.typed.Store(&pw)
	if _, err := s.src.Login(ctx); err != nil {
		// A rejected password is a login failure (exit 1), as in
		// "tokenrefresh login".
		return false, &codedError{code: exitError, err: fmt.Errorf("log in again: %w", err)}
	}
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
