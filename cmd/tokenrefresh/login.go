package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"

	"github.com/tokenrefresh/tokenrefresh/storage"
	"github.com/tokenrefresh/tokenrefresh/tokensource"
)

const loginUsage = `Usage:
  tokenrefresh login --token-url URL [--client-id ID] [--client-secret-file FILE] --username NAME [flags]
  tokenrefresh login --login-url URL --refresh-url URL [--logout-url URL] --username NAME [flags]
  tokenrefresh login [--profile NAME]      (log in again with a saved profile)

Add --api-url URL (repeatable) for each API the token is for; 'get' sends
the token only to those origins (default: the origin of the login or token
URL).

Logs in and saves the profile (URLs, user, store; never a secret) so later
commands need no flags. With --token-url it speaks a standard OAuth2 token
endpoint (password grant, refresh_token grant with rotation); with
--login-url an in-house JSON API ({"username","password"} in, tokens out).

The password comes from --password-stdin (first line of stdin), else
TOKENREFRESH_PASSWORD, else a no-echo prompt when stdin is a terminal. The
client secret comes from TOKENREFRESH_CLIENT_SECRET or --client-secret-file
(only the path is saved). Tokens go to the OS keyring or to files
(--store auto|keyring|file); the command says which it used.
`

type loginOptions struct {
	common
	prof          profile
	secretFile    string
	scopes        string
	passwordStdin bool
	apiURLs       stringsFlag
	env           *env
}

func parseLogin(e *env, args []string) (func(context.Context) error, error) {
	o := &loginOptions{env: e}
	fs := newFlagSet("login")
	o.register(fs)
	fs.StringVar(&o.prof.TokenURL, "token-url", "", "OAuth2 token endpoint `URL` (selects oauth2 mode)")
	fs.StringVar(&o.prof.RevokeURL, "revoke-url", "", "OAuth2 revocation endpoint `URL` (RFC 7009), used by logout")
	fs.StringVar(&o.prof.ClientID, "client-id", "", "OAuth2 client `id`")
	fs.StringVar(&o.secretFile, "client-secret-file", "", "`file` holding the OAuth2 client secret")
	fs.StringVar(&o.scopes, "scope", "", "OAuth2 scopes, space or comma separated")
	fs.StringVar(&o.prof.LoginURL, "login-url", "", "JSON login `URL` (selects json mode)")
	fs.StringVar(&o.prof.RefreshURL, "refresh-url", "", "JSON refresh `URL`")
	fs.StringVar(&o.prof.LogoutURL, "logout-url", "", "JSON logout `URL`, used by logout")
	fs.StringVar(&o.prof.Username, "username", "", "user `name`")
	fs.BoolVar(&o.passwordStdin, "password-stdin", false, "read the password from the first line of stdin")
	fs.StringVar(&o.prof.Store, "store", "", "token store: auto, keyring or file (default auto)")
	fs.Var(&o.apiURLs, "api-url", "`URL` of an API the token is for (repeatable; default: the login or token URL's origin)")
	if err := parseFlags(e, fs, loginUsage, args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	switch o.prof.Store {
	case "", "auto", "keyring", "file":
	default:
		return nil, fmt.Errorf("--store must be auto, keyring or file, not %q", o.prof.Store)
	}
	if o.prof.TokenURL != "" && o.prof.LoginURL != "" {
		return nil, errors.New("--token-url and --login-url are exclusive")
	}
	for _, u := range []string{o.prof.TokenURL, o.prof.RevokeURL, o.prof.LoginURL, o.prof.RefreshURL, o.prof.LogoutURL} {
		if err := checkURL(u); err != nil {
			return nil, err
		}
	}
	return o.run, nil
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

func usageErr(format string, a ...any) error {
	return &codedError{code: exitUsage, err: fmt.Errorf(format, a...)}
}

// resolve merges the flags with the saved profile, if any.
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
		if p.Username != "" && p.Username != saved.Username {
			saved.Username = p.Username
		}
		if p.Store != "" {
			saved.Store = p.Store
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
	password, err := o.password(ctx, p.Username)
	if err != nil {
		return err
	}
	grant, err := e.newGrant(p, password, nil)
	if err != nil {
		return err
	}
	var fallback error
	store, backend, err := openStore(ctx, dir, p.Store, func(reason error) { fallback = reason })
	if err != nil {
		return err
	}
	p.Backend = backend
	if where := quarantineCorrupt(ctx, store, p.Key); where != "" {
		fmt.Fprintf(e.stderr, "warning: the stored session was unreadable; its bytes were kept aside in %s and a new session replaces it\n", where)
	}
	src := &tokensource.Source{Grant: grant, Store: store, Key: p.Key, Now: e.now}
	sess := &session{src: src}
	_, err = src.Login(ctx)
	if cerr := sess.close(ctx); err == nil && cerr != nil {
		return cerr
	}
	if err != nil {
		// A rejected password is a login failure (exit 1), not a
		// "run tokenrefresh login" situation.
		return &codedError{code: exitError, err: err}
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
	return nil
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

// password gets the login password: --password-stdin, else
// TOKENREFRESH_PASSWORD, else a terminal prompt.
func (o *loginOptions) password(ctx context.Context, username string) (string, error) {
	e := o.env
	if o.passwordStdin {
		return readPasswordLine(e.stdin)
	}
	if p := e.getenv("TOKENREFRESH_PASSWORD"); p != "" {
		return p, nil
	}
	if e.isTerminal(e.stdin) {
		return e.prompt(ctx, username)
	}
	return "", usageErr("no password: use --password-stdin, TOKENREFRESH_PASSWORD or a terminal")
}
