package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"slices"
	"sync/atomic"

	"github.com/spf13/cobra"

	"github.com/tokenrefresh/tokenrefresh/storage"
	"github.com/tokenrefresh/tokenrefresh/tokensource"
)

const loginUsage = `tokenrefresh login --issuer URL --client-id ID [--flow browser|device|client-credentials|password] [flags]
tokenrefresh login --token-url URL [--client-id ID] [--client-secret-file FILE] --username NAME [flags]
tokenrefresh login --login-url URL --refresh-url URL [--logout-url URL] --username NAME [flags]
tokenrefresh login --issuer URL|--token-url URL --client-id ID --refresh-token-stdin [flags]
tokenrefresh login [--profile NAME]      (log in again with a saved profile)`

const loginLong = `Add --api-url URL (repeatable) for each API the token is for; 'get' sends
the token only to those origins (default: the origin of the login or token
URL).

Logs in and saves the profile (endpoints, flow, user, store; never a
secret) so later commands need no flags. --issuer discovers the server's
endpoints (RFC 8414, then OpenID Connect Discovery; the document's issuer
must be the URL given); --token-url, --revoke-url, --authorization-url and
--device-authorization-url give them explicitly, and win over discovered
ones. With --login-url it speaks an in-house JSON API ({"username",
"password"} in, tokens out) instead.

--flow says how to log in. Without it: password when --username is given,
else browser when a browser can be opened (BROWSER is set, or a graphical
session with xdg-open or macOS, and a terminal), else device.
  password             the user's password (RFC 6749 password grant, or the
                       JSON login)
  browser              authorization code with PKCE: a browser opens the
                       server's login page, which redirects back to
                       http://127.0.0.1:PORT/callback (a free port, or
                       --redirect-port). The URL is printed on stderr too;
                       --no-browser prints it only. When BROWSER is set,
                       that command is run with the URL as its one argument
                       (or in place of a %s; a list separated by ':' is
                       tried in order), as xdg-open and Python's webbrowser
                       do; else xdg-open (open on macOS). The wait ends
                       after 10 minutes, or --timeout.
  device               RFC 8628: prints the verification URI, the user code
                       and the URI with the code, one per line on stderr,
                       then waits while you approve on any device (Ctrl-C
                       stops at once)
  client-credentials   the client's own token, no user (RFC 6749 section
                       4.4): no refresh token; later commands get a new
                       token when it expires or a server rejects it
--refresh-token-stdin starts the session from a refresh token obtained
elsewhere (first line of stdin; on a terminal it is not echoed) and proves
it with a first refresh; --flow then names how to log in again once it dies
(default as above, when its endpoint is known; else none).

The password comes from --password-stdin (first line of stdin), else
TOKENREFRESH_PASSWORD, else a no-echo prompt when stdin is a terminal
("Password for alice at auth.example.com:"). A password the server rejects
is sent once: on a terminal it is asked again (3 tries), otherwise login
fails (exit 1). The client secret comes from TOKENREFRESH_CLIENT_SECRET or
--client-secret-file (only the path is saved); browser and device logins
work without one (a public client). Tokens go to the OS keyring or to files
(--store auto|keyring|file); the command says which it used. Batch workers
on many machines share one session through --store postgres or redis: the
connection comes from --store-url, else the engine's environment (PGHOST,
PGUSER, PGPASSWORD, PGDATABASE… or REDIS_URL); a password in --store-url is
never saved in the profile, so later commands take it from the environment
(PGPASSWORD, ~/.pgpass, REDISCLI_AUTH) or from --store-url again. A Redis
that can lose an acknowledged write (no appendonly, appendfsync other than
always, an allkeys-* eviction policy) is refused unless
TOKENREFRESH_REDIS_ALLOW_UNSAFE=1.

A browser or device login never runs in the background: when the session
dies later, a command on a terminal runs it again in the foreground, and
elsewhere exits 3.

When the profile already holds a session, that session is ended on the
server (revoked, best effort, at most 10 s) once the new one is saved.
`

// loginOptions are the flags of "login", in three parts: which server and
// who (the endpoints, saved in the profile), how the user proves it (the
// flow, and where a password or a refresh token comes from), and where the
// session is kept.
type loginOptions struct {
	*globalOptions
	env *env

	// Which server and who: flags that fill the profile.
	prof       profile
	secretFile string
	scopes     string
	apiURLs    []string

	// How: the flow, and the password flow's source of the password.
	flow              string
	passwordStdin     bool
	refreshTokenStdin bool
	timeout           timeoutOption
	// set reports whether a flag was given (for those that may override
	// a saved profile's value).
	set func(name string) bool
}

func newLoginCmd(e *env, g *globalOptions, runF func(context.Context, *loginOptions) error) *cobra.Command {
	o := &loginOptions{globalOptions: g, env: e}
	c := &cobra.Command{
		Use:         "login",
		Short:       "log in and save a profile",
		Long:        loginLong,
		Annotations: map[string]string{usageLines: loginUsage},
		Args:        noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			o.set = c.Flags().Changed
			if err := o.validate(); err != nil {
				return err
			}
			if err := o.timeout.resolve(c, e); err != nil {
				return err
			}
			if runF != nil {
				return runF(c.Context(), o)
			}
			return o.timeout.run(c.Context(), o.run)
		},
	}
	f := c.Flags()
	f.StringVar(&o.prof.Issuer, "issuer", "", "authorization server's issuer `URL`: discover its endpoints (selects oauth2 mode)")
	f.StringVar(&o.flow, "flow", "", "`flow` to log in by: password, browser, device or client-credentials (default: password with --username, else browser when one can be opened, else device)")
	f.StringVar(&o.prof.TokenURL, "token-url", "", "OAuth2 token endpoint `URL` (selects oauth2 mode)")
	f.StringVar(&o.prof.RevokeURL, "revoke-url", "", "OAuth2 revocation endpoint `URL` (RFC 7009), used by logout")
	f.StringVar(&o.prof.AuthorizationURL, "authorization-url", "", "OAuth2 authorization endpoint `URL`, for the browser flow")
	f.StringVar(&o.prof.DeviceAuthorizationURL, "device-authorization-url", "", "OAuth2 device authorization endpoint `URL` (RFC 8628), for the device flow")
	f.StringVar(&o.prof.ClientID, "client-id", "", "OAuth2 client `id`")
	f.StringVar(&o.secretFile, "client-secret-file", "", "`file` holding the OAuth2 client secret")
	f.StringVar(&o.prof.AuthStyle, "auth-style", "", "OAuth2 client authentication `style`: basic (HTTP Basic) or form (client_id and client_secret in the form body) (default basic)")
	f.StringVar(&o.scopes, "scope", "", "OAuth2 `scopes`, space or comma separated")
	f.BoolVar(&o.prof.NoBrowser, "no-browser", false, "browser flow: print the URL only, open no browser")
	f.IntVar(&o.prof.RedirectPort, "redirect-port", 0, "browser flow: loopback `port` of the redirect URI, for a provider that wants it registered (default: a free port)")
	f.StringVar(&o.prof.LoginURL, "login-url", "", "JSON login `URL` (selects json mode)")
	f.StringVar(&o.prof.RefreshURL, "refresh-url", "", "JSON refresh `URL`")
	f.StringVar(&o.prof.LogoutURL, "logout-url", "", "JSON logout `URL`, used by logout")
	f.StringArrayVar(&o.apiURLs, "api-url", nil, "`URL` of an API the token is for (repeatable; default: the login or token URL's origin)")
	f.StringVarP(&o.prof.Username, "username", "u", "", "user `name` (selects the password flow by default)")
	f.BoolVar(&o.passwordStdin, "password-stdin", false, "read the password from the first line of stdin")
	f.BoolVar(&o.refreshTokenStdin, "refresh-token-stdin", false, "start the session from a refresh token read from the first line of stdin")
	f.StringVar(&o.prof.Store, "store", "", "token `store`: auto, keyring, file, or postgres or redis for a session shared by many machines (see --store-url) (default auto)")
	c.Flags().DurationVar(&o.timeout.d, "timeout", 0, "give up after `duration` (such as 5m), discovery and the wait for a browser or device login included (default $TOKENREFRESH_TIMEOUT, else none; a browser login waits 10m at most)")
	_ = c.RegisterFlagCompletionFunc("store", fixedValues("auto", "keyring", "file", storePostgres, storeRedis))
	_ = c.RegisterFlagCompletionFunc("auth-style", fixedValues(authStyleBasic, authStyleForm))
	_ = c.RegisterFlagCompletionFunc("flow", fixedValues(flowNames...))
	_ = c.MarkFlagFilename("client-secret-file")
	return c
}

// validate checks the flags on their own, before anything is read.
func (o *loginOptions) validate() error {
	switch o.prof.Store {
	case "", "auto", "keyring", "file":
		if o.storeURL != "" {
			return usageErr("%v", errNoStoreURL)
		}
	case storePostgres, storeRedis:
	default:
		return usageErr("--store must be auto, keyring, file, postgres or redis, not %q", o.prof.Store)
	}
	switch o.prof.AuthStyle {
	case "", authStyleBasic, authStyleForm:
	default:
		return usageErr("--auth-style must be basic or form, not %q", o.prof.AuthStyle)
	}
	if o.flow != "" && !slices.Contains(flowNames, o.flow) {
		return usageErr("--flow must be password, browser, device or client-credentials, not %q", o.flow)
	}
	oauth2 := o.prof.TokenURL != "" || o.prof.Issuer != "" || o.prof.AuthorizationURL != "" || o.prof.DeviceAuthorizationURL != ""
	switch {
	case oauth2 && o.prof.LoginURL != "":
		return usageErr("--token-url and --login-url are exclusive (so are --issuer and --login-url)")
	case o.prof.LoginURL != "" && o.prof.AuthStyle != "":
		return usageErr("--auth-style applies to OAuth2 token endpoints (--token-url), not to --login-url")
	case o.prof.LoginURL != "" && o.flow != "" && o.flow != flowPassword:
		return usageErr("--login-url speaks the password flow only; the %s flow needs --issuer or OAuth2 endpoints", o.flow)
	case o.prof.RedirectPort < 0 || o.prof.RedirectPort > 65535:
		return usageErr("--redirect-port must be a port number, not %d", o.prof.RedirectPort)
	case o.passwordStdin && o.refreshTokenStdin:
		return usageErr("--password-stdin and --refresh-token-stdin are exclusive: both read stdin")
	case o.refreshTokenStdin && o.prof.LoginURL != "":
		return usageErr("--refresh-token-stdin needs an OAuth2 token endpoint: --issuer or --token-url")
	case o.refreshTokenStdin && o.flow == flowClientCredentials:
		return usageErr("--refresh-token-stdin does not apply to the client-credentials flow, which has no refresh token")
	case o.passwordStdin && o.flow != "" && o.flow != flowPassword:
		return usageErr("--password-stdin applies to the password flow, not to the %s flow", o.flow)
	}
	for _, u := range []string{o.prof.Issuer, o.prof.TokenURL, o.prof.RevokeURL, o.prof.AuthorizationURL,
		o.prof.DeviceAuthorizationURL, o.prof.LoginURL, o.prof.RefreshURL, o.prof.LogoutURL} {
		if err := checkURL(u); err != nil {
			return usageErr("%v", err)
		}
	}
	return nil
}

func checkURL(raw string) error {
	if raw == "" {
		return nil
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("invalid URL %q: want http(s)://host/path", raw)
	}
	return nil
}

func (o *loginOptions) run(ctx context.Context) error {
	e := o.env
	dir, err := e.configDir(o.configDir)
	if err != nil {
		return err
	}
	p, err := o.resolve(ctx, dir)
	if err != nil {
		return err
	}
	var refreshToken string
	switch {
	case o.refreshTokenStdin:
		if refreshToken, err = e.readRefreshToken(ctx); err != nil {
			return err
		}
	case p.flow() == flowPassword && !o.passwordStdin && e.getenv("TOKENREFRESH_PASSWORD") == "" && !e.isTerminal(e.stdin):
		return usageErr("no password: use --password-stdin, TOKENREFRESH_PASSWORD or a terminal")
	}
	// The session this profile held, read before the new one replaces it.
	prev := e.previousSession(ctx, *o.globalOptions)

	var fallback error
	if fleetStore(p.Store) {
		p.StoreURL = withoutPassword(o.storeURL)
	}
	store, backend, err := e.openStore(ctx, dir, p.Store, o.storeURL, func(reason error) { fallback = reason })
	if err != nil {
		return err
	}
	p.Backend = backend
	if where := quarantineCorrupt(ctx, store, p.Key); where != "" {
		fmt.Fprintf(e.stderr, "warning: the stored session was unreadable; its bytes were kept aside in %s and a new session replaces it\n", where)
	}
	if o.refreshTokenStdin {
		err = o.seedSession(ctx, p, store, refreshToken)
	} else {
		err = o.startSession(ctx, p, store)
	}
	if err != nil {
		return err
	}
	if err := saveProfile(dir, o.profile, p); err != nil {
		return err
	}
	if fallback != nil {
		fmt.Fprintf(e.stderr, "warning: OS keyring unavailable (%s); tokens are stored in files (0600) under %s\n",
			oneLine(fallback.Error()), filepath.Join(dir, "tokens"))
	}
	switch {
	case o.refreshTokenStdin:
		fmt.Fprintf(e.stdout, "Logged in to %s with a refresh token from stdin (profile %s); tokens stored in the %s store.\n",
			p.host(), o.profile, backend)
	case p.flow() == flowPassword:
		fmt.Fprintf(e.stdout, "Logged in as %s (profile %s, %s mode); tokens stored in the %s store.\n",
			p.Username, o.profile, p.Mode, backend)
	default:
		fmt.Fprintf(e.stdout, "Logged in to %s with %s (profile %s); tokens stored in the %s store.\n",
			p.host(), describeFlow(p.flow()), o.profile, backend)
	}
	if prev != nil {
		return e.endPrevious(ctx, prev, p)
	}
	return nil
}

// startSession logs in by the profile's flow and saves the new session in
// store: the password flow (with its prompt and retries), or a browser,
// device or client-credentials login, in the foreground on ctx.
func (o *loginOptions) startSession(ctx context.Context, p *profile, store storage.Store) error {
	e := o.env
	var password atomic.Pointer[string]
	set := func(pw string) { password.Store(&pw) }
	grant, err := e.newGrant(p, "", func(context.Context) (string, error) {
		if pw := password.Load(); pw != nil {
			return *pw, nil
		}
		return "", errNoPassword
	})
	if err != nil {
		return err
	}
	src := &tokensource.Source{Grant: grant, Store: store, Key: p.Key, Now: e.now, Logger: e.logger()}
	login := func() error {
		_, err := src.Login(ctx)
		return err
	}
	if p.flow() == flowPassword {
		err = o.passwordLogin(ctx, p, set, login)
	} else {
		err = e.foregroundLogin(ctx, p.flow(), func(ctx context.Context) error {
			_, err := src.Login(ctx)
			return err
		})
	}
	if cerr := e.closeSession(ctx, &session{src: src}); err == nil && cerr != nil {
		return cerr
	}
	var ce *codedError
	if err != nil && !errors.As(err, &ce) {
		// A rejected password, a denied or expired browser or device
		// login, is a login failure (exit 1), not a "run tokenrefresh
		// login" situation.
		return &codedError{code: exitError, err: err}
	}
	return err
}
