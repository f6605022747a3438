package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/tokenrefresh/tokenrefresh/storage"
	"github.com/tokenrefresh/tokenrefresh/tokensource"
)

const logoutLong = `Deletes the stored tokens first, then revokes the session on the server
when the profile has a way to (the OAuth2 revocation endpoint, given with
--revoke-url or discovered from --issuer at login, or the JSON logout URL),
waiting at most 10 seconds for the server ("revoking on the server…"
appears on a terminal after a second). A
revocation that fails or times out is a warning: the local tokens are gone
either way, also when Ctrl-C interrupts the wait. Without a session it says
so and exits 0. The profile itself is kept, so 'tokenrefresh login' with
just a password (or a new browser or device login) starts a new session.
`

type logoutOptions struct {
	*globalOptions
	env *env
}

func newLogoutCmd(e *env, g *globalOptions, runF func(context.Context, *logoutOptions) error) *cobra.Command {
	o := &logoutOptions{globalOptions: g, env: e}
	return &cobra.Command{
		Use:   "logout",
		Short: "delete the stored tokens and revoke them on the server",
		Long:  logoutLong,
		Args:  noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(c.Context(), o)
			}
			return o.env.withSession(c.Context(), *o.globalOptions, o.logout)
		},
	}
}

func (o *logoutOptions) logout(ctx context.Context, s *session) error {
	e := o.env
	if !hasSession(ctx, s) {
		fmt.Fprintf(e.stdout, "Not logged in: profile %s (%s) has no session to log out of.\n", s.name, s.prof.account())
		return nil
	}
	// Source.Logout deletes the stored session before it waits on the
	// network, then revokes within lctx.
	lctx, cancel := context.WithTimeout(ctx, e.revokeTimeout)
	defer cancel()
	stop := e.waitNotice("revoking on the server…")
	err := s.src.Logout(lctx)
	stop()
	if hasSession(context.WithoutCancel(ctx), s) {
		// Interrupted or timed out before the local delete (waiting for
		// another process's lock, say): delete here, without the lock,
		// so that a logout never leaves the session it found on disk.
		dctx, dcancel := context.WithTimeout(context.WithoutCancel(ctx), cutShortGrace)
		defer dcancel()
		if derr := s.store.Delete(dctx, s.prof.Key); derr != nil && !errors.Is(derr, storage.ErrNotFound) {
			return fmt.Errorf("delete the stored tokens: %w", errors.Join(err, derr))
		}
	}
	if in := interruption(ctx, ctx.Err()); in != nil {
		return in
	}
	revoked := "revoked on the server"
	switch {
	case !hasRevocation(s.prof):
		revoked = "not revoked on the server: the profile has no revocation endpoint (login --revoke-url or --logout-url, or --issuer of a server that advertises one)"
	case errors.Is(err, context.DeadlineExceeded) && lctx.Err() != nil:
		fmt.Fprintf(e.stderr, "tokenrefresh logout: warning: no answer from the server within %s; the session was not revoked there\n", e.revokeTimeout)
		revoked = "not revoked on the server"
	case err != nil:
		fmt.Fprintf(e.stderr, "tokenrefresh logout: warning: %s\n", oneLine(err.Error()))
		revoked = "not revoked on the server"
	}
	who := s.prof.Username
	if who == "" {
		who = "of " + s.prof.host()
	}
	fmt.Fprintf(e.stdout, "Logged out %s (profile %s): tokens deleted from the %s store, session %s.\n",
		who, s.name, s.backend, revoked)
	return nil
}

// hasSession reports whether the store holds something under s's key, a
// session this program cannot read included.
func hasSession(ctx context.Context, s *session) bool {
	_, err := s.store.Get(ctx, s.prof.Key)
	return !errors.Is(err, storage.ErrNotFound)
}

// hasRevocation reports whether p's server can revoke a session.
func hasRevocation(p *profile) bool {
	if p.Mode == modeJSON {
		return p.LogoutURL != ""
	}
	return p.RevokeURL != ""
}

// previous is the session a profile held before a login.
type previous struct {
	*session
	tok *tokensource.Token // as read before the login
}

// previousSession reads the session profile g held before a login, or nil
// when it held none (or none that can be read).
func (e *env) previousSession(ctx context.Context, g globalOptions) *previous {
	// The login's --store-url names the new session's store; the old one
	// is opened with it only when it names the same place.
	if dir, err := e.configDir(g.configDir); err == nil && g.storeURL != "" {
		if old, err := loadProfile(dir, g.profile); err != nil || withoutPassword(g.storeURL) != old.StoreURL {
			g.storeURL = ""
		}
	}
	s, err := e.openProfile(ctx, g)
	if err != nil {
		return nil
	}
	tok, err := storedToken(ctx, s)
	if err != nil || tok == nil || (tok.RefreshToken == "" && tok.AccessToken == "") {
		return nil
	}
	return &previous{session: s, tok: tok}
}

// endPrevious ends, after a login saved the new session p, the session the
// profile held before: revoked on the server (best effort, within
// e.revokeTimeout), and deleted from its store unless the new session took
// its place (same key, same store). Failures are warnings: the login
// succeeded.
func (e *env) endPrevious(ctx context.Context, prev *previous, p *profile) error {
	if !hasRevocation(prev.prof) && prev.prof.Key == p.Key && prev.backend == p.Backend && prev.prof.StoreURL == p.StoreURL {
		return nil // nothing to revoke with, nothing left to delete
	}
	grant, err := e.newGrant(prev.prof, "", nil)
	if err != nil {
		fmt.Fprintf(e.stderr, "tokenrefresh login: warning: the previous session was not revoked on the server: %s\n", oneLine(err.Error()))
		return nil
	}
	rctx, cancel := context.WithTimeout(ctx, e.revokeTimeout)
	defer cancel()
	stop := e.waitNotice("revoking the previous session on the server…")
	if prev.prof.Key == p.Key && prev.backend == p.Backend && prev.prof.StoreURL == p.StoreURL {
		// The store holds the new session now: revoke the old one as
		// read before the login.
		if r, ok := grant.(tokensource.Revoker); ok {
			err = r.Revoke(rctx, prev.tok)
		}
	} else {
		// Another user, server or store: delete it there too.
		err = (&tokensource.Source{Grant: grant, Store: prev.store, Key: prev.prof.Key, Now: e.now}).Logout(rctx)
	}
	stop()
	if in := interruption(ctx, ctx.Err()); in != nil {
		return in
	}
	switch {
	case err != nil:
		fmt.Fprintf(e.stderr, "tokenrefresh login: warning: the previous session was not revoked on the server: %s\n", oneLine(err.Error()))
	case hasRevocation(prev.prof):
		fmt.Fprintln(e.stdout, "The previous session was revoked on the server.")
	}
	return nil
}
