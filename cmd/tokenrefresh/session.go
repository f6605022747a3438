package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/tokenrefresh/tokenrefresh/storage"
	"github.com/tokenrefresh/tokenrefresh/storage/auto"
	"github.com/tokenrefresh/tokenrefresh/tokensource"
)

// keyringService is the OS keyring service name for every profile.
const keyringService = "tokenrefresh"

// closeTimeout bounds how long a command that ran its course waits at exit
// for an in-flight refresh to be saved (announced on a terminal after a
// second).
const closeTimeout = 30 * time.Second

// cutShortGrace bounds that wait when the command was cut short by SIGINT,
// SIGTERM or --timeout. Source.Close with an ending context abandons a
// refresh that has not sent its refresh token yet (it costs nothing) and
// lets one run on that has: that refresh is still worth its save, since
// the rotated refresh token it brings back is the session. Its answer, once
// arrived, is saved in milliseconds (a file write and fsync, a keyring
// call); a refresh still waiting for the server is not worth holding the
// user for, because the intent it recorded before sending makes the next
// command log in instead of replaying a refresh token that may be spent.
// Half a second keeps Ctrl-C's exit within a second.
const cutShortGrace = 500 * time.Millisecond

// session is an opened profile: its store and a token source over it.
type session struct {
	name    string
	dir     string
	prof    *profile
	store   storage.Store
	backend string
	grant   tokensource.Grant
	src     *tokensource.Source
	// pw supplies the password of a login the Source runs by itself, and
	// remembers one the server rejected.
	pw *passwords
	// reloggedIn is set once relogin, in the command's flow, logged in
	// with a typed password.
	reloggedIn bool
}

// openStore opens the token store: mode is auto, keyring, file, postgres
// or redis (whose engine storeURL names; see openFleetStore). When auto
// falls back to files, onFallback (if not nil) gets the reason.
func (e *env) openStore(ctx context.Context, dir, mode, storeURL string, onFallback func(error)) (storage.Store, string, error) {
	if fleetStore(mode) {
		store, err := e.openFleetStore(ctx, mode, storeURL)
		if err != nil {
			return nil, "", fmt.Errorf("open %s store: %w", mode, err)
		}
		return store, mode, nil
	}
	store, backend, err := auto.Open(ctx, auto.Options{
		Service:    keyringService,
		Dir:        filepath.Join(dir, "tokens"),
		Mode:       auto.Mode(mode),
		OnFallback: onFallback,
	})
	if err != nil {
		return nil, "", fmt.Errorf("open %s store: %w", mode, err)
	}
	return store, string(backend), nil
}

// openProfile loads the profile named in c and opens the store its session
// lives in, without building a token source.
func (e *env) openProfile(ctx context.Context, c globalOptions) (*session, error) {
	dir, err := e.configDir(c.configDir)
	if err != nil {
		return nil, err
	}
	p, err := loadProfile(dir, c.profile)
	if err != nil {
		return nil, err
	}
	storeURL := c.storeURL
	if storeURL == "" {
		storeURL = p.StoreURL
	}
	store, backend, err := e.openStore(ctx, dir, p.Backend, storeURL, nil)
	if err != nil {
		return nil, err
	}
	return &session{name: c.profile, dir: dir, prof: p, store: store, backend: backend}, nil
}

// openSession loads the profile named in c and builds its token source.
// The source logs in again by itself only with a password it already has
// (see passwords); a prompt happens in the command's flow (see relogin).
func (e *env) openSession(ctx context.Context, c globalOptions) (*session, error) {
	s, err := e.openProfile(ctx, c)
	if err != nil {
		return nil, err
	}
	s.pw = &passwords{env: e.getenv("TOKENREFRESH_PASSWORD")}
	s.grant, err = e.newGrant(s.prof, "", s.pw.get)
	if err != nil {
		return nil, err
	}
	s.src = &tokensource.Source{Grant: s.grant, Store: s.store, Key: s.prof.Key, Now: e.now,
		Logger: e.logger(), OnEvent: s.pw.observe}
	return s, nil
}

// logger returns a debug logger on stderr when TOKENREFRESH_DEBUG is set,
// else nil (silent). Records never contain a token.
func (e *env) logger() *slog.Logger {
	if e.getenv("TOKENREFRESH_DEBUG") == "" {
		return nil
	}
	return slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// withSession opens the session of profile c, runs fn with it, and closes
// it (saving any refresh in flight) whatever fn returned; fn's error wins
// over the close error.
func (e *env) withSession(ctx context.Context, c globalOptions, fn func(context.Context, *session) error) (err error) {
	s, err := e.openSession(ctx, c)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := e.closeSession(ctx, s); err == nil {
			err = cerr
		}
	}()
	err = fn(ctx, s)
	switch {
	case exitCode(err) != exitReauth || interruption(ctx, err) != nil:
	case s.pw.envRejected():
		// Say what failed: the password given, not its absence.
		err = errEnvPasswordRejected
	case s.prof.flow() != flowPassword:
		err = &reloginNeeded{profile: s.name, flow: s.prof.flow(), err: err}
	}
	return err
}

// closeSession waits for in-flight refresh work to be saved: up to
// closeTimeout when the command ran its course, and only cutShortGrace
// once ctx has ended (SIGINT, SIGTERM, --timeout), also when it ends
// during the wait. A wait of over a second is announced on a terminal.
func (e *env) closeSession(ctx context.Context, s *session) error {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), closeTimeout)
	defer cancel()
	stopGrace := context.AfterFunc(ctx, func() {
		t := time.NewTimer(cutShortGrace)
		defer t.Stop()
		select {
		case <-t.C:
			cancel()
		case <-cctx.Done():
		}
	})
	defer stopGrace()
	stop := e.waitNotice("saving the session: waiting for a token refresh to finish…")
	defer stop()
	if err := s.src.Close(cctx); err != nil {
		return fmt.Errorf("saving session: %w", err)
	}
	return nil
}

// newGrant builds the grant for p's flow. For the password flow, password
// is used when set, and pw supplies one when a login is needed later.
func (e *env) newGrant(p *profile, password string, pw func(context.Context) (string, error)) (tokensource.Grant, error) {
	switch p.Mode {
	case modeOAuth2:
		if p.flow() != flowPassword {
			password, pw = "", nil
		}
		return e.newOAuth2Grant(p, password, pw)
	case modeJSON:
		return &tokensource.JSONGrant{
			LoginURL:     p.LoginURL,
			RefreshURL:   p.RefreshURL,
			LogoutURL:    p.LogoutURL,
			Username:     p.Username,
			Password:     password,
			PasswordFunc: pw,
			Now:          e.now,
		}, nil
	}
	return nil, fmt.Errorf("unknown mode %q", p.Mode)
}

// clientSecret reads the OAuth2 client secret: TOKENREFRESH_CLIENT_SECRET,
// else the file named in the profile, else none (a public client).
func (e *env) clientSecret(p *profile) (string, error) {
	if s := e.getenv("TOKENREFRESH_CLIENT_SECRET"); s != "" {
		return s, nil
	}
	if p.ClientSecretFile == "" {
		return "", nil
	}
	data, err := os.ReadFile(p.ClientSecretFile)
	if err != nil {
		// The path is not secret; its contents are never quoted.
		return "", fmt.Errorf("client secret: %w", err)
	}
	s := strings.TrimSpace(string(data))
	if s == "" {
		return "", fmt.Errorf("client secret: %s is empty", p.ClientSecretFile)
	}
	return s, nil
}

// storeKey is the storage key of a profile's session: the profile, the
// user (or, for flows that know none before the login, the flow and the
// client) and the server.
func storeKey(name string, p *profile) string {
	if p.flow() == flowPassword {
		return name + "/" + p.Username + "@" + p.host()
	}
	return name + "/" + p.flow() + ":" + p.ClientID + "@" + p.host()
}

// codedError carries an explicit exit code, overriding the mapping in
// exitCode.
type codedError struct {
	code int
	err  error
}

func (e *codedError) Error() string { return e.err.Error() }
func (e *codedError) Unwrap() error { return e.err }

// exitCode maps an error to the documented exit codes.
func exitCode(err error) int {
	var he *httpStatusError
	var ce *codedError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ce):
		return ce.code
	case errors.Is(err, tokensource.ErrReauthRequired):
		return exitReauth
	case errors.As(err, &he):
		return exitHTTPErr
	}
	return exitError
}

// quarantineCorrupt moves an unreadable stored session aside before a login
// replaces it, and returns where it went ("" when nothing was moved). A
// session written by a newer version is left alone: the login then fails
// with an error saying so.
func quarantineCorrupt(ctx context.Context, store storage.Store, key string) string {
	q, ok := store.(storage.Quarantiner)
	if !ok {
		return ""
	}
	b, err := store.Get(ctx, key)
	if err == nil {
		if _, derr := tokensource.DecodeToken(b); derr == nil || errors.Is(derr, storage.ErrNewerFormat) {
			return ""
		}
	} else if !errors.Is(err, storage.ErrCorrupt) {
		return ""
	}
	where, err := q.Quarantine(ctx, key)
	if err != nil {
		return ""
	}
	return where
}
