package main

import (
	"context"
	"fmt"
)

const tokenUsage = `Usage:
  tokenrefresh token [flags]

Prints a valid access token and a newline, refreshing (or logging in again
with TOKENREFRESH_PASSWORD or a terminal prompt) first if needed. This is
the only command that prints a token; it is meant for scripts:

  curl -H "Authorization: Bearer $(tokenrefresh token)" https://api.example.com/

Exit status 3 means a new login is needed and no password was available.
`

type tokenOptions struct {
	common
	env *env
}

func parseToken(e *env, args []string) (func(context.Context) error, error) {
	o := &tokenOptions{env: e}
	fs := newFlagSet("token")
	o.register(fs)
	if err := parseFlags(e, fs, tokenUsage, args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return o.run, nil
}

func (o *tokenOptions) run(ctx context.Context) error {
	return o.env.withSession(ctx, o.common, o.print)
}

func (o *tokenOptions) print(ctx context.Context, s *session) error {
	tok, err := o.env.token(ctx, s)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(o.env.stdout, tok.AccessToken)
	return err
}
