package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/tokenrefresh/tokenrefresh/storage"
	"github.com/tokenrefresh/tokenrefresh/tokensource"
)

// restoreTimeout bounds putting back the session a refused refresh token
// from stdin replaced.
const restoreTimeout = 5 * time.Second

// seedSession starts p's session from refreshToken, obtained elsewhere
// ("bring your own session"): it is stored as the session, and a first
// refresh proves it (and rotates it, when the server rotates). The Source
// never logs in here: a refresh token the server refuses fails the login
// (exit 1), and the store gets back what it held before.
func (o *loginOptions) seedSession(ctx context.Context, p *profile, store storage.Store, refreshToken string) error {
	e := o.env
	// No password: the password flow's Login fails with ErrNoCredentials,
	// and a browser or device grant never logs in inside a refresh.
	grant, err := e.newGrant(p, "", nil)
	if err != nil {
		return err
	}
	before, err := store.Get(ctx, p.Key)
	if errors.Is(err, storage.ErrNotFound) {
		before, err = nil, nil
	}
	if err != nil {
		return fmt.Errorf("read the stored session: %w", err)
	}
	if err := tokensource.SeedRefreshToken(ctx, store, p.Key, refreshToken); err != nil {
		return err
	}
	src := &tokensource.Source{Grant: grant, Store: store, Key: p.Key, Now: e.now, Logger: e.logger()}
	stop := e.waitNotice("refreshing the refresh token from stdin…")
	_, err = src.Token(ctx)
	stop()
	if cerr := e.closeSession(ctx, &session{src: src}); err == nil && cerr != nil {
		err = cerr
	}
	if err == nil {
		return nil
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), restoreTimeout)
	defer cancel()
	if before != nil {
		_ = store.Put(rctx, p.Key, before)
	} else {
		_ = store.Delete(rctx, p.Key)
	}
	if interruption(ctx, err) != nil {
		return err
	}
	if errors.Is(err, tokensource.ErrReauthRequired) && !errors.Is(err, tokensource.ErrRefreshOutcomeUnknown) {
		err = fmt.Errorf("the server refused the refresh token from stdin (invalid, expired, revoked or already used): %w", err)
	} else {
		err = fmt.Errorf("the refresh token from stdin did not give a session: %w", err)
	}
	return &codedError{code: exitError, err: err}
}

// readRefreshToken reads the refresh token of --refresh-token-stdin: the
// first line of stdin, typed (or pasted) without echo when stdin is a
// terminal, as the password prompt is; Ctrl-C there returns at once.
func (e *env) readRefreshToken(ctx context.Context) (string, error) {
	f, ok := e.stdin.(*os.File)
	if !ok || !e.isTerminal(e.stdin) {
		return readSecretLine(e.stdin, "refresh token")
	}
	ctx, stop := notifyContext(ctx)
	defer stop()
	e.prompting.Store(true)
	defer e.prompting.Store(false)
	tok, err := readNoEcho(ctx, f, func() { fmt.Fprint(e.stderr, "Refresh token: ") })
	fmt.Fprintln(e.stderr) // the Enter key was not echoed
	tok = strings.TrimSpace(tok)
	switch {
	case ctx.Err() != nil:
		return "", context.Cause(ctx)
	case err != nil:
		return "", fmt.Errorf("read refresh token: %w", err)
	case tok == "":
		return "", errors.New("read refresh token: empty refresh token")
	}
	return tok, nil
}
