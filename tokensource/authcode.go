package tokensource

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// defaultRedirectPath is the path of the loopback redirect URI when
// AuthCodeGrant.RedirectPath is empty.
const defaultRedirectPath = "/callback"

// AuthCodeGrant logs a user in through a browser: the authorization code
// grant (RFC 6749 section 4.1) with PKCE (RFC 7636, method S256), as RFC
// 8252 describes it for native apps. It is what most identity providers
// (Keycloak, Okta, Auth0, Entra ID, Google, Ory Hydra) offer where the
// password grant is disabled.
//
// Login listens on a loopback port of 127.0.0.1 (random, or RedirectPort),
// sends the user's browser to AuthorizationURL with a random state and the
// S256 challenge of a random code_verifier, and waits, until ctx is done,
// for the browser to come back to http://127.0.0.1:PORT/callback. A
// redirect whose state differs from the one sent fails with
// [ErrStateMismatch] and its code is not exchanged; one carrying an error
// (access_denied, ...) fails with an [*AuthorizationError]. The browser is
// shown a short success or failure page. The listener is closed on every
// path, before the code is exchanged at TokenURL (with the code_verifier),
// through the same request path as [PasswordGrant]: sent at most once
// unless it provably did not reach the server, never following a redirect,
// the answer read the same way, errors as [*TokenError] that never show the
// code, the verifier, a token or the client secret.
//
// Login needs a human, so AuthCodeGrant is [Interactive]: a [Source] never
// runs it by itself (when the refresh token dies it returns
// [ErrReauthRequired]); call [Source.Login], whose ctx bounds the wait.
// Refresh is the standard refresh_token grant and Revoke is RFC 7009, as
// for PasswordGrant. An id_token in an answer is kept in Token.IDToken.
//
// An AuthCodeGrant is safe for concurrent use as long as its fields are
// not changed; concurrent Logins each listen on their own port (so they
// need RedirectPort zero).
type AuthCodeGrant struct {
	// AuthorizationURL is the authorization endpoint
	// ([Metadata].AuthorizationEndpoint), which the browser opens. It and
	// TokenURL must be https:// unless loopback or AllowInsecureHTTP is
	// set. Query parameters it already has are kept.
	AuthorizationURL string
	// TokenURL is the token endpoint ([Metadata].TokenEndpoint).
	TokenURL string
	// RevokeURL is the RFC 7009 revocation endpoint
	// ([Metadata].RevocationEndpoint). Empty makes Revoke a no-op.
	RevokeURL string
	// ClientID identifies the client; required. ClientSecret is optional:
	// empty means a public client, as native apps usually are (client_id
	// is then sent in the form and PKCE protects the code).
	ClientID, ClientSecret string
	// Scopes are requested at login, such as "openid" (for an id_token)
	// and "offline_access" (for a refresh token, with some providers).
	// Nil requests the server's default.
	Scopes []string
	// AuthStyle selects client authentication at the token endpoint when
	// ClientSecret is set; the zero value is [AuthBasic].
	AuthStyle AuthStyle
	// AuthParams are extra parameters of the authorization request, such
	// as audience (Auth0), access_type=offline (Google), prompt or
	// login_hint. They may not set the parameters Login sets itself
	// (response_type, client_id, redirect_uri, state, code_challenge,
	// code_challenge_method), nor scope when Scopes is set.
	AuthParams url.Values
	// RedirectPort is the loopback port to listen on. Zero picks a free
	// port for each login, as RFC 8252 section 7.3 asks servers to allow;
	// set it for a provider that only accepts a registered redirect URI.
	RedirectPort int
	// RedirectPath is the path of the redirect URI; empty means
	// "/callback". The redirect URI is http://127.0.0.1:PORT + this path.
	RedirectPath string
	// OpenBrowser opens the authorization URL in the user's browser. It
	// runs while Login waits for the redirect, and must return once its
	// ctx is done. Nil means [OpenSystemBrowser]: the command in the
	// BROWSER environment variable, else the OS's usual command (xdg-open
	// on Linux). An error is written to Prompt and the wait goes on, since
	// the user can open the printed URL; without a Prompt it ends Login.
	OpenBrowser func(ctx context.Context, url string) error
	// NoBrowser skips OpenBrowser: the URL is only written to Prompt, for
	// a user whose browser is on another machine (who then needs a way to
	// reach the loopback port, such as an SSH tunnel; a [DeviceGrant] is
	// usually better there).
	NoBrowser bool
	// Prompt, when set, receives the authorization URL, on a line of its
	// own after a line saying what to do with it, before the browser is
	// opened, so the user can open it by hand. A CLI passes os.Stderr.
	// Nil prints nothing. NoBrowser requires it.
	Prompt io.Writer
	// HTTPClient makes each token-endpoint attempt, as for
	// [PasswordGrant]: its Transport and Timeout are used, its
	// CheckRedirect is not. Nil means a client on http.DefaultTransport
	// with a 30s timeout per attempt. The browser never uses it.
	HTTPClient *http.Client
	// Retry bounds re-sending token-endpoint requests that provably did
	// not reach the server; the zero value is a sensible default.
	Retry RetryPolicy
	// ReuseGrace is the server's documented reuse grace period for a
	// rotated refresh token, as for [PasswordGrant]. Zero means none.
	ReuseGrace time.Duration
	// AllowInsecureHTTP permits http:// endpoints on non-loopback hosts.
	AllowInsecureHTTP bool
	// Now is the clock that turns expires_in into expiry times. Nil means
	// time.Now.
	Now func() time.Time
	// Logger receives debug records about retries and a failure to open
	// the browser. Nil means silent.
	Logger *slog.Logger
}

var (
	_ Grant       = (*AuthCodeGrant)(nil)
	_ Revoker     = (*AuthCodeGrant)(nil)
	_ Identifier  = (*AuthCodeGrant)(nil)
	_ ReuseGracer = (*AuthCodeGrant)(nil)
	_ Interactive = (*AuthCodeGrant)(nil)
)

// Interactive reports true: Login needs a human with a browser.
func (g *AuthCodeGrant) Interactive() bool { return true }

// RefreshReuseGrace returns ReuseGrace. It implements [ReuseGracer].
func (g *AuthCodeGrant) RefreshReuseGrace() time.Duration { return g.ReuseGrace }

// Identity implements [Identifier]: the token endpoint's origin and the
// client. The user is not known before the login.
func (g *AuthCodeGrant) Identity() string {
	return fmt.Sprintf("%s client=%s", origin(g.TokenURL), g.ClientID)
}

func (g *AuthCodeGrant) form() *oauthForm {
	return standardForm(g.ClientID, g.ClientSecret, g.AuthStyle, g.HTTPClient, g.Retry, g.Logger, g.AllowInsecureHTTP, g.Now)
}

// authParamsReserved are the authorization request parameters Login sets.
var authParamsReserved = []string{"response_type", "client_id", "redirect_uri", "state", "code_challenge", "code_challenge_method"}

// check refuses a configuration Login cannot work with, before anything
// is opened or sent.
func (g *AuthCodeGrant) check() error {
	switch {
	case g.ClientID == "":
		return newError("login: AuthCodeGrant.ClientID is empty")
	case g.RedirectPort < 0 || g.RedirectPort > 65535:
		return errorf("login: AuthCodeGrant.RedirectPort %d is not a port", g.RedirectPort)
	case g.RedirectPath != "" && !strings.HasPrefix(g.RedirectPath, "/"):
		return newError("login: AuthCodeGrant.RedirectPath must start with /")
	case g.NoBrowser && g.Prompt == nil:
		return newError("login: AuthCodeGrant.NoBrowser needs a Prompt to show the URL on")
	}
	for _, k := range authParamsReserved {
		if g.AuthParams.Has(k) {
			return errorf("login: AuthCodeGrant.AuthParams may not set %s", k)
		}
	}
	if g.AuthParams.Has("scope") && len(g.Scopes) > 0 {
		return newError("login: AuthCodeGrant.AuthParams may not set scope when Scopes is set")
	}
	if err := checkEndpoint("AuthCodeGrant.AuthorizationURL", g.AuthorizationURL, g.AllowInsecureHTTP); err != nil {
		return errorf("login: %w", err)
	}
	if err := checkEndpoint("AuthCodeGrant.TokenURL", g.TokenURL, g.AllowInsecureHTTP); err != nil {
		return errorf("login: %w", err)
	}
	return nil
}

// authorizationURL builds the authorization request (RFC 6749 section
// 4.1.1, RFC 7636 section 4.3). check has parsed AuthorizationURL.
func (g *AuthCodeGrant) authorizationURL(redirectURI, state, challenge string) string {
	u, _ := url.Parse(g.AuthorizationURL)
	q := u.Query()
	for k, vs := range g.AuthParams {
		q[k] = append([]string(nil), vs...)
	}
	q.Set("response_type", "code")
	q.Set("client_id", g.ClientID)
	q.Set("redirect_uri", redirectURI)
	if len(g.Scopes) > 0 {
		q.Set("scope", strings.Join(g.Scopes, " "))
	}
	q.Set("state", state)
	q.Set("code_challenge", challenge)
	q.Set("code_challenge_method", "S256")
	u.RawQuery = q.Encode()
	return u.String()
}

// Login runs the browser login and exchanges its code for a token: see
// [AuthCodeGrant]. It returns when the token endpoint has answered, or
// when ctx is done, which bounds the wait for the user.
func (g *AuthCodeGrant) Login(ctx context.Context) (*Token, error) {
	if err := g.check(); err != nil {
		return nil, err
	}
	path := g.RedirectPath
	if path == "" {
		path = defaultRedirectPath
	}
	state, verifier := newState(), newVerifier()
	l, err := listenRedirect(g.RedirectPort, path, state)
	if err != nil {
		return nil, err
	}
	defer l.close()
	code, err := g.await(ctx, l, g.authorizationURL(l.uri, state, s256Challenge(verifier)))
	l.close() // before the exchange: nothing more may come in
	if err != nil {
		return nil, err
	}
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code},
		"redirect_uri": {l.uri}, "code_verifier": {verifier}}
	return g.form().token(ctx, "login", g.TokenURL, form, "", code, verifier)
}

// await shows the URL, opens the browser and waits for the redirect's
// outcome or the end of ctx. The browser opener has returned when it
// returns: after the redirect, it is given a moment to finish loading the
// page before its context is cancelled.
func (g *AuthCodeGrant) await(ctx context.Context, l *redirectListener, authURL string) (string, error) {
	if g.Prompt != nil {
		if g.NoBrowser {
			fmt.Fprintf(g.Prompt, "To log in, open this URL in a browser:\n%s\n", authURL)
		} else {
			fmt.Fprintf(g.Prompt, "Opening a browser to log in. If none opens, open this URL:\n%s\n", authURL)
		}
	}
	opened := make(chan error, 1)
	finished := make(chan struct{}) // closed when the opener has returned
	octx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() {
		cancel()
		wg.Wait()
	}()
	if g.NoBrowser {
		close(finished)
	} else {
		open := g.OpenBrowser
		if open == nil {
			open = OpenSystemBrowser
		}
		wg.Go(func() {
			defer close(finished)
			opened <- open(octx, authURL)
		})
	}
	for {
		select {
		case res := <-l.result:
			// Let the browser load the page it is being served before
			// its opener is told to stop.
			t := time.NewTimer(redirectShutdown)
			defer t.Stop()
			select {
			case <-finished:
			case <-t.C:
			case <-ctx.Done():
			}
			return res.code, res.err
		case err := <-opened:
			opened = nil // one answer
			if err == nil {
				continue
			}
			if g.Logger != nil {
				g.Logger.LogAttrs(ctx, slog.LevelWarn, "tokensource: opening the browser failed", slog.String("error", bareMessage(err)))
			}
			if g.Prompt == nil {
				return "", errorf("login: %w", err)
			}
			fmt.Fprintf(g.Prompt, "Could not open a browser (%s).\nOpen the URL above yourself; waiting for the login.\n", serverText(bareMessage(err), 300))
		case <-ctx.Done():
			return "", errorf("login: waiting for the browser to come back to %s: %w", l.uri, ctx.Err())
		}
	}
}

// Refresh requests a token with grant_type=refresh_token, as
// [PasswordGrant.Refresh] does.
func (g *AuthCodeGrant) Refresh(ctx context.Context, refreshToken string) (*Token, error) {
	return g.form().refresh(ctx, g.TokenURL, refreshToken)
}

// Revoke revokes tok's refresh token (or, without one, its access token)
// at RevokeURL as RFC 7009 describes. It does nothing when RevokeURL is
// empty or tok is nil.
func (g *AuthCodeGrant) Revoke(ctx context.Context, tok *Token) error {
	if g.RevokeURL == "" || tok == nil {
		return nil
	}
	return g.form().revoke(ctx, g.RevokeURL, tok)
}

func (g AuthCodeGrant) view() view {
	v := view{typ: "AuthCodeGrant"}
	v.add("authorization_url", g.AuthorizationURL)
	v.add("token_url", g.TokenURL)
	v.add("revoke_url", g.RevokeURL)
	v.add("client_id", g.ClientID)
	v.secret("client_secret", g.ClientSecret != "")
	v.add("scopes", strings.Join(g.Scopes, " "))
	v.keys("auth_params", g.AuthParams)
	if g.RedirectPort != 0 {
		v.add("redirect_port", strconv.Itoa(g.RedirectPort))
	}
	return v
}

// String describes g without its client secret or parameter values.
func (g AuthCodeGrant) String() string { return g.view().String() }

// GoString implements [fmt.GoStringer] so that %#v redacts too.
func (g AuthCodeGrant) GoString() string { return "tokensource." + g.String() }

// Format implements [fmt.Formatter]: every verb prints the redacted form.
func (g AuthCodeGrant) Format(f fmt.State, verb rune) { g.view().format(f, verb) }

// LogValue implements [slog.LogValuer]: only non-secret fields are logged.
func (g AuthCodeGrant) LogValue() slog.Value { return g.view().logValue() }

// MarshalJSON encodes the non-secret fields only.
func (g AuthCodeGrant) MarshalJSON() ([]byte, error) { return g.view().marshalJSON() }
