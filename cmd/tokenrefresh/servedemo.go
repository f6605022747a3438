package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tokenrefresh/tokenrefresh/tokensource/authtest"
)

const serveDemoLong = `Runs the demo API and authorization server on a loopback address until
Ctrl-C or SIGTERM stops it (exit 0: that is how it ends): the fake server
of the Go test kit github.com/tokenrefresh/tokenrefresh/tokensource/authtest,
for tests that drive it from another process. The first line on stdout is
its base URL; token events (never token values) are logged to stderr.

Endpoints: POST /auth/login, /auth/refresh, /auth/logout (JSON API);
POST /oauth2/token, /oauth2/revoke (RFC 6749 / RFC 7009: password,
refresh_token, authorization_code, device_code and client_credentials
grants); GET /oauth2/authorize (the browser flow's authorization endpoint:
PKCE, a loopback redirect, the demo user approved at once unless
--require-approval); POST /oauth2/device_authorization and the page
/oauth2/device (RFC 8628); GET /.well-known/oauth-authorization-server and
/.well-known/openid-configuration (discovery: the base URL is the issuer,
for 'tokenrefresh login --issuer URL'); GET /api/profile, /api/items,
/api/large?bytes=N (protected); /debug/ (below).
The demo user is alice, password wonderland, unless --user or --users-file
gives others (both may be used; --user wins for a name in both);
any OAuth2 client id is accepted unless --client-id is given.

Debug endpoints, for tests that drive the server from another process.
Each call must come from a loopback client, name a loopback host
(127.0.0.1, [::1] or localhost) in its Host header and carry the header
"X-Tokenrefresh-Debug: 1"; anything else gets 403, so no web page can use
them. The POSTs take form or query parameters and answer 204.
  GET  /debug/stats           server counters as JSON
  GET  /debug/events          the event log as JSON (tokens as labels only)
  POST /debug/revoke-access   revoke every access token (clients must refresh)
  POST /debug/revoke-all      revoke every token (clients must log in again)
  POST /debug/fail?path=P&n=N&status=S[&body=B][&header=Name:+value]
                              answer the next N requests to path P with
                              status S (header may be repeated)
  POST /debug/delay?path=P&delay=D
                              delay every request to path P by D (a Go
                              duration such as 2s; 0 clears)
  POST /debug/authorize?decision=approve|deny
                              decide the next (or a waiting) browser login
  POST /debug/device?decision=approve|deny[&user_code=C]
                              decide a pending device login (every one
                              without user_code)

Try it:
  tokenrefresh serve-demo --access-ttl 30s &
  echo wonderland | tokenrefresh login --login-url http://127.0.0.1:8080/auth/login \
      --refresh-url http://127.0.0.1:8080/auth/refresh \
      --logout-url http://127.0.0.1:8080/auth/logout --username alice --password-stdin
  tokenrefresh get http://127.0.0.1:8080/api/profile
  curl -X POST -H 'X-Tokenrefresh-Debug: 1' http://127.0.0.1:8080/debug/revoke-access
  tokenrefresh login -p dev --issuer http://127.0.0.1:8080 --client-id cli --flow device &
  curl -X POST -H 'X-Tokenrefresh-Debug: 1' 'http://127.0.0.1:8080/debug/device?decision=approve'
`

type serveDemoOptions struct {
	addr            string
	accessTTL       time.Duration
	refreshTTL      time.Duration
	usersFile       string
	users           userFlag
	clientID        string
	requireApproval bool
	deviceInterval  time.Duration
	env             *env
}

func newServeDemoCmd(e *env, runF func(context.Context, *serveDemoOptions) error) *cobra.Command {
	o := &serveDemoOptions{env: e}
	c := &cobra.Command{
		Use:                   "serve-demo [--addr 127.0.0.1:8080] [--access-ttl 15m] [--refresh-ttl 12h]",
		DisableFlagsInUseLine: true,
		Short:                 "run the demo server on its own",
		Long:                  serveDemoLong,
		Annotations:           map[string]string{noProfile: "true"},
		Args:                  noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if o.accessTTL < time.Second || o.refreshTTL < time.Second {
				// expires_in is sent in whole seconds.
				return usageErr("--access-ttl and --refresh-ttl must be at least 1s")
			}
			if o.deviceInterval < time.Second || o.deviceInterval%time.Second != 0 {
				// interval is sent in whole seconds.
				return usageErr("--device-interval must be whole seconds, at least 1s")
			}
			if runF != nil {
				return runF(c.Context(), o)
			}
			return o.run(c.Context())
		},
	}
	f := c.Flags()
	f.StringVar(&o.addr, "addr", "127.0.0.1:8080", "loopback `address` to listen on (port 0 picks a free one)")
	f.DurationVar(&o.accessTTL, "access-ttl", authtest.DefaultAccessTTL, "access token `lifetime`")
	f.DurationVar(&o.refreshTTL, "refresh-ttl", authtest.DefaultRefreshTTL, "refresh token `lifetime`")
	f.StringVar(&o.usersFile, "users-file", "", "`file` of user:password lines (default: alice:wonderland)")
	f.Var(&o.users, "user", "a `name:password` user; repeat for more (default: alice:wonderland)")
	f.StringVar(&o.clientID, "client-id", "", "OAuth2 client `id` to require; the secret comes from TOKENREFRESH_CLIENT_SECRET (default: any client)")
	f.BoolVar(&o.requireApproval, "require-approval", false, "make each browser login wait for POST /debug/authorize (default: approved at once)")
	f.DurationVar(&o.deviceInterval, "device-interval", authtest.DefaultDeviceInterval, "polling `interval` that device logins are told to keep")
	_ = c.MarkFlagFilename("users-file")
	return c
}

func (o *serveDemoOptions) run(ctx context.Context) error {
	e := o.env
	opts := authtest.Options{
		Addr:       o.addr,
		AccessTTL:  o.accessTTL,
		RefreshTTL: o.refreshTTL,
		Logger:     slog.New(slog.NewTextHandler(e.stderr, nil)),

		RequireApproval: o.requireApproval,
		DeviceInterval:  o.deviceInterval,
	}
	if o.clientID == "" {
		opts.AnyClient = true
	} else {
		opts.ClientID, opts.ClientSecret = o.clientID, e.getenv("TOKENREFRESH_CLIENT_SECRET")
		opts.PublicClient = opts.ClientSecret == "" // the id alone, as before
	}
	if o.usersFile != "" {
		f, err := os.Open(o.usersFile)
		if err != nil {
			return err
		}
		opts.Users, err = authtest.LoadUsers(f)
		f.Close()
		if err != nil {
			return err
		}
	}
	if len(o.users) > 0 && opts.Users == nil {
		opts.Users = map[string]string{}
	}
	for name, pw := range o.users {
		opts.Users[name] = pw
	}
	srv, err := authtest.New(opts)
	if err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, srv.URL)
	select {
	case <-ctx.Done():
		// Interrupted: the normal way to stop.
		_ = srv.Close()
		return nil
	case <-srv.Done():
		return srv.Close() // serving failed: say why
	}
}

// userFlag collects repeated --user name:password values.
type userFlag map[string]string

func (u *userFlag) String() string { return "" } // never print passwords

// Type names the value in help and errors.
func (u *userFlag) Type() string { return "name:password" }

func (u *userFlag) Set(v string) error {
	name, pw, ok := strings.Cut(v, ":")
	if !ok || name == "" || pw == "" {
		return fmt.Errorf("want name:password")
	}
	if *u == nil {
		*u = userFlag{}
	}
	(*u)[name] = pw
	return nil
}
