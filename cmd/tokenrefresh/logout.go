package main

import (
	"context"
	"fmt"
)

const logoutUsage = `Usage:
  tokenrefresh logout [flags]

Revokes the session on the server when it offers a way (the OAuth2
revocation endpoint or the JSON logout URL saved at login; best effort),
then deletes the stored tokens. A failed revocation is a warning once the
local tokens are gone. The profile itself is kept, so
'tokenrefresh login' with just a password starts a new session.
`

type logoutOptions struct {
	common
	env *env
}

func parseLogout(e *env, args []string) (func(context.Context) error, error) {
	o := &logoutOptions{env: e}
	fs := newFlagSet("logout")
	o.register(fs)
	if err := parseFlags(e, fs, logoutUsage, args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return o.run, nil
}

func (o *logoutOptions) run(ctx context.Context) error {
	return o.env.withSession(ctx, o.common, o.logout)
}

func (o *logoutOptions) logout(ctx context.Context, s *session) (err error) {
	if err := s.src.Logout(ctx); err != nil {
		// Logout clears local state even when the server's revocation
		// fails; that is only worth a warning once the tokens are gone.
		if tok, gerr := storedToken(ctx, s); gerr != nil || tok != nil {
			return err
		}
		fmt.Fprintf(o.env.stderr, "tokenrefresh logout: warning: %s\n", oneLine(err.Error()))
	}
	fmt.Fprintf(o.env.stdout, "Logged out %s (profile %s); tokens deleted from the %s store.\n",
		s.prof.Username, s.name, s.backend)
	return nil
}
