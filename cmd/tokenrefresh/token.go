package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
)

const tokenLong = `Prints a valid access token and a newline, refreshing (or logging in again
with TOKENREFRESH_PASSWORD or a terminal prompt) first if needed. This is
the only command that prints a token; it is meant for scripts:

  curl -H "Authorization: Bearer $(tokenrefresh token)" https://api.example.com/

--timeout (or TOKENREFRESH_TIMEOUT) bounds the whole call, refresh
included. Exit status 3 means a new login is needed and no password was
available.
`

type tokenOptions struct {
	*globalOptions
	env     *env
	timeout timeoutOption
}

func newTokenCmd(e *env, g *globalOptions, runF func(context.Context, *tokenOptions) error) *cobra.Command {
	o := &tokenOptions{globalOptions: g, env: e}
	c := &cobra.Command{
		Use:   "token",
		Short: "print a valid access token for scripts",
		Long:  tokenLong,
		Args:  noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if err := o.timeout.resolve(c, e); err != nil {
				return err
			}
			if runF != nil {
				return runF(c.Context(), o)
			}
			return o.run(c.Context())
		},
	}
	o.timeout.register(c)
	return c
}

func (o *tokenOptions) run(ctx context.Context) error {
	return o.timeout.run(ctx, func(ctx context.Context) error {
		return o.env.withSession(ctx, *o.globalOptions, o.print)
	})
}

func (o *tokenOptions) print(ctx context.Context, s *session) error {
	tok, err := o.env.token(ctx, s)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(o.env.stdout, tok.AccessToken)
	return err
}
