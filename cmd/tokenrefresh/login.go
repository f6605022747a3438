package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"sync/atomic"

	"github.com/spf13/cobra"

	"github.com/tokenrefresh/tokenrefresh/storage"
	"github.com/tokenrefresh/tokenrefresh/tokensource"
)

const loginUsage = `tokenrefresh login --token-url URL [--client-id ID] [--client-secret-file FILE] --username NAME [flags]
tokenrefresh login --login-url URL --refresh-url URL [--logout-url URL] --username NAME [flags]
tokenrefresh login [--profile NAME]      (log in again with a saved profile)`

const loginLong = `Add --api-url URL (repeatable) for each API the token is for; 'get' sends
the token only to those origins (default: the origin of the login or token
URL).

Logs in and saves the profile (URLs, user, store; never a secret) so later
commands need no flags. With --token-url it speaks a standard OAuth2 token
endpoint (password grant, refresh_token grant with rotation; the client
authenticates with HTTP Basic, or in the form body with --auth-style form);
with --login-url an in-house JSON API ({"username","password"} in, tokens
out).

The password comes from --password-stdin (first line of stdin), else
TOKENREFRESH_PASSWORD, else a no-echo prompt when stdin is a terminal
("Password for alice at auth.example.com:"). A password the server rejects
is sent once: on a terminal it is asked again (3 tries), otherwise login
fails (exit 1). The client secret comes from TOKENREFRESH_CLIENT_SECRET or
--client-secret-file (only the path is saved). Tokens go to the OS keyring
or to files (--store auto|keyring|file); the command says which it used.

When the profile already holds a session, that session is ended on the
server (revoked, best effort, at most 10 s) once the new one is saved.
`

// loginOptions are the flags of "login", in three parts: which server and
// who (the endpoints, saved in the profile), how the user proves it (the
// flow: today the password flow; a browser, device or client-credentials
// flow, an issuer to discover endpoints from and a refresh token from stdin
// slot in beside it), and where the session is kept.
type loginOptions struct {
	*globalOptions
	env *env

	// Which server and who: flags that fill the profile.
	prof       profile
	secretFile string
	scopes     string
	apiURLs    []string

	// How: the password flow's source of the password.
	passwordStdin bool
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
			if err := o.validate(); err != nil {
				return err
			}
			if runF != nil {
				return runF(c.Context(), o)
			}
			return o.run(c.Context())
		},
	}
	f := c.Flags()
	f.StringVar(&o.prof.TokenURL, "token-url", "", "OAuth2 token endpoint `URL` (selects oauth2 mode)")
	f.StringVar(&o.prof.RevokeURL, "revoke-url", "", "OAuth2 revocation endpoint `URL` (RFC 7009), used by logout")
	f.StringVar(&o.prof.ClientID, "client-id", "", "OAuth2 client `id`")
	f.StringVar(&o.secretFile, "client-secret-file", "", "`file` holding the OAuth2 client secret")
	f.StringVar(&o.prof.AuthStyle, "auth-style", "", "OAuth2 client authentication `style`: basic (HTTP Basic) or form (client_id and client_secret in the form body) (default basic)")
	f.StringVar(&o.scopes, "scope", "", "OAuth2 `scopes`, space or comma separated")
	f.StringVar(&o.prof.LoginURL, "login-url", "", "JSON login `URL` (selects json mode)")
	f.StringVar(&o.prof.RefreshURL, "refresh-url", "", "JSON refresh `URL`")
	f.StringVar(&o.prof.LogoutURL, "logout-url", "", "JSON logout `URL`, used by logout")
	f.StringArrayVar(&o.apiURLs, "api-url", nil, "`URL` of an API the token is for (repeatable; default: the login or token URL's origin)")
	f.StringVarP(&o.prof.Username, "username", "u", "", "user `name`")
	f.BoolVar(&o.passwordStdin, "password-stdin", false, "read the password from the first line of stdin")
	f.StringVar(&o.prof.Store, "store", "", "token `store`: auto, keyring or file (default auto)")
	_ = c.RegisterFlagCompletionFunc("store", fixedValues("auto", "keyring", "file"))
	_ = c.RegisterFlagCompletionFunc("auth-style", fixedValues(authStyleBasic, authStyleForm))
	_ = c.MarkFlagFilename("client-secret-file")
	return c
}

// validate checks the flags on their own, before anything is read.
func (o *loginOptions) validate() error {
	switch o.prof.Store {
	case "", "auto", "keyring", "file":
	default:
		return usageErr("--store must be auto, keyring or file, not %q", o.prof.Store)
	}
	switch o.prof.AuthStyle {
	case "", authStyleBasic, authStyleForm:
	default:
		return usageErr("--auth-style must be basic or form, not %q", o.prof.AuthStyle)
	}
	if o.prof.TokenURL != "" && o.prof.LoginURL != "" {
		return usageErr("--token-url and --login-url are exclusive")
	}
	if o.prof.LoginURL != "" && o.prof.AuthStyle != "" {
		return usageErr("--auth-style applies to OAuth2 token endpoints (--token-url), not to --login-url")
	}
	for _, u := range []string{o.prof.TokenURL, o.prof.RevokeURL, o.prof.LoginURL, o.prof.RefreshURL, o.prof.LogoutURL} {
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

// resolve merges the flags with the saved profile, if any: the server's
// endpoints and the user. (Discovery from an issuer URL would fill the
// endpoints here.)
func (o *loginOptions) resolve(dir string) (*profile, error) {
	p := o.prof
	switch {
	case p.TokenURL != "":
		p.Mode = modeOAuth2
	case p.LoginURL != "":
		p.Mode = modeJSON
	default:
		saved, err := loadProfile(dir, o.profile)
		if errors.Is(err, errNoProfile) {
			return nil, usageErr("--token-url or --login-url is required for a new profile")
		}
		if err != nil {
			return nil, err
		}
		if p.Username != "" {
			saved.Username = p.Username
		}
		if p.Store != "" {
			saved.Store = p.Store
		}
		if p.AuthStyle != "" {
			if saved.Mode != modeOAuth2 {
				return nil, usageErr("--auth-style applies to OAuth2 profiles; profile %q uses %s mode", o.profile, saved.Mode)
			}
			saved.AuthStyle = p.AuthStyle
		}
		p = *saved
	}
	if p.Mode == modeOAuth2 && o.secretFile != "" {
		abs, err := filepath.Abs(o.secretFile)
		if err != nil {
			return nil, err
		}
		p.ClientSecretFile = abs
	}
	if len(o.apiURLs) > 0 {
		origins, err := checkAPIURLs(o.apiURLs)
		if err != nil {
			return nil, usageErr("%v", err)
		}
		p.APIURLs = origins
	}
	if o.scopes != "" {
		p.Scopes = strings.FieldsFunc(o.scopes, func(r rune) bool { return r == ',' || r == ' ' })
	}
	if p.Store == "" {
		p.Store = "auto"
	}
	if p.Username == "" {
		return nil, usageErr("--username is required")
	}
	if p.Mode == modeJSON && p.RefreshURL == "" {
		return nil, usageErr("--refresh-url is required with --login-url")
	}
	p.Key = storeKey(o.profile, &p)
	return &p, p.validate()
}

func (o *loginOptions) run(ctx context.Context) error {
	e := o.env
	dir, err := e.configDir(o.configDir)
	if err != nil {
		return err
	}
	p, err := o.resolve(dir)
	if err != nil {
		return err
	}
	if !o.passwordStdin && e.getenv("TOKENREFRESH_PASSWORD") == "" && !e.isTerminal(e.stdin) {
		return usageErr("no password: use --password-stdin, TOKENREFRESH_PASSWORD or a terminal")
	}
	// The session this profile held, read before the new one replaces it.
	prev := e.previousSession(ctx, *o.globalOptions)

	var fallback error
	store, backend, err := openStore(ctx, dir, p.Store, func(reason error) { fallback = reason })
	if err != nil {
		return err
	}
	p.Backend = backend
	if where := quarantineCorrupt(ctx, store, p.Key); where != "" {
		fmt.Fprintf(e.stderr, "warning: the stored session was unreadable; its bytes were kept aside in %s and a new session replaces it\n", where)
	}
	if err := o.startSession(ctx, p, store); err != nil {
		return err
	}
	if err := saveProfile(dir, o.profile, p); err != nil {
		return err
	}
	if fallback != nil {
		fmt.Fprintf(e.stderr, "warning: OS keyring unavailable (%s); tokens are stored in files (0600) under %s\n",
			oneLine(fallback.Error()), filepath.Join(dir, "tokens"))
	}
	fmt.Fprintf(e.stdout, "Logged in as %s (profile %s, %s mode); tokens stored in the %s store.\n",
		p.Username, o.profile, p.Mode, backend)
	if prev != nil {
		return e.endPrevious(ctx, prev, p)
	}
	return nil
}

// startSession logs in by the password flow and saves the new session in
// store. Other flows would build their grant and log in through the same
// Source here.
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
	err = o.passwordLogin(ctx, p, set, func() error {
		_, err := src.Login(ctx)
		return err
	})
	if cerr := e.closeSession(ctx, &session{src: src}); err == nil && cerr != nil {
		return cerr
	}
	var ce *codedError
	if err != nil && !errors.As(err, &ce) {
		// A rejected password is a login failure (exit 1), not a
		// "run tokenrefresh login" situation.
		return &codedError{code: exitError, err: err}
	}
	return err
}

// passwordLogin is the password flow: the password from --password-stdin,
// else TOKENREFRESH_PASSWORD, each sent once, else the terminal prompt; on
// a terminal a rejected password is asked again. set hands the password
// to the grant, login logs in with it.
func (o *loginOptions) passwordLogin(ctx context.Context, p *profile, set func(string), login func() error) error {
	e := o.env
	host := p.host()
	var from string
	switch env := e.getenv("TOKENREFRESH_PASSWORD"); {
	case o.passwordStdin:
		pw, err := readPasswordLine(e.stdin)
		if err != nil {
			return err
		}
		set(pw)
		from = fromStdin
	case env != "":
		set(env)
		from = fromEnv
	default:
		return e.promptLogin(ctx, p.Username, host, set, login)
	}
	err := login()
	if !passwordRejected(err) {
		return err
	}
	if from == fromEnv && e.isTerminal(e.stdin) {
		fmt.Fprintf(e.stderr, "The server rejected the password in TOKENREFRESH_PASSWORD for %s at %s.\n", p.Username, host)
		return e.promptLogin(ctx, p.Username, host, set, login)
	}
	return fmt.Errorf("the server rejected the password for %s at %s (from %s): %w", p.Username, host, from, err)
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
