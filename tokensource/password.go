package tokensource

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/hashicorp/go-retryablehttp"
	"golang.org/x/oauth2"
)

// AuthStyle says how a [PasswordGrant] authenticates its client to the
// token endpoint. There is deliberately no auto-detection: probing resends
// a failed request, which burns a single-use refresh token.
type AuthStyle int

const (
	// AuthBasic sends client_id and client_secret as HTTP Basic
	// credentials (RFC 6749 section 2.3.1). It is the zero value. As the
	// RFC requires, both are form-encoded before the Basic encoding; some
	// servers (go-oauth2 v4) do not decode them, so a secret with
	// characters other than letters, digits and "-._~" fails there with
	// invalid_client: use AuthForm with such servers.
	AuthBasic AuthStyle = iota
	// AuthForm sends client_id and client_secret in the form body.
	AuthForm
)

// PasswordGrant speaks to a standard OAuth2 token endpoint (RFC 6749): it
// logs in with the resource-owner password grant and refreshes with the
// refresh_token grant. golang.org/x/oauth2 builds each request, with an
// explicit client authentication style; the retrying token-endpoint client
// sends it and this package reads the answer.
//
// A request is sent at most once unless it provably did not reach the
// server (see [RetryPolicy]); it never follows a redirect. A refresh whose
// request may have reached the server without a usable answer coming back
// (a reset or timeout after sending, 500, 502, 504, a redirect, an
// unreadable body, a success without a token) fails with an error
// matching [ErrRefreshOutcomeUnknown]: the server may have rotated the
// refresh token, so it must not be sent again.
//
// Any success answer that carries an access token is accepted; odd other
// fields are normalised, never a reason to drop the refresh token that came
// with it. expires_in may be a number or a numeric string; a zero,
// negative, absurd (over ten years) or non-numeric value means an unknown
// lifetime, as does a missing one, unless the access token is a JWT with
// an "exp" claim: the token is then used until a server rejects it.
// Absolute expires_at values and the JWT exp are read against the server's
// clock (its Date header), so a server whose clock is off still yields
// tokens of the right lifetime; Token.ClockSkew records the difference. A
// token_type that is not an HTTP auth scheme (a number, say) becomes
// "Bearer". refresh_expires_in or refresh_token_expires_in (Keycloak,
// GitHub) give the refresh token's lifetime; 0 or an odd value means no
// known expiry. With no refresh_token on refresh the old one is kept.
//
// A success answer with no access token fails with an error wrapping
// [ErrMalformedResponse]; when it still carries a refresh token, Login and
// Refresh return a *Token holding that RefreshToken (and no AccessToken)
// together with the error, so the caller can keep the new refresh token.
//
// Errors are [*TokenError]. invalid_grant, or 400/401/403 without a client
// configuration error code, is Rejected (errors.Is(err, ErrReauthRequired)):
// bad user credentials on Login, a dead refresh token on Refresh.
// invalid_client, unauthorized_client, unsupported_grant_type and
// invalid_scope are not Rejected: they are configuration errors that new
// user credentials cannot fix. Error messages never contain the password,
// client secret or tokens the request carried.
//
// A PasswordGrant is safe for concurrent use as long as its fields are not
// changed.
type PasswordGrant struct {
	// TokenURL is the token endpoint. It must be https:// unless it is a
	// loopback address (an IP in 127.0.0.0/8 or ::1, or exactly
	// "localhost") or AllowInsecureHTTP is set.
	TokenURL string
	// RevokeURL is the RFC 7009 revocation endpoint. Empty makes Revoke a
	// no-op.
	RevokeURL string
	// ClientID and ClientSecret identify the client. An empty ClientSecret
	// means a public client: client_id is sent in the form and no Basic
	// credentials are sent, whatever AuthStyle says.
	ClientID, ClientSecret string
	// Scopes are requested at login. Nil requests the server's default.
	Scopes []string
	// Username and Password are the resource owner's credentials.
	Username, Password string
	// PasswordFunc supplies the password at each Login when Password is
	// empty, for example from a prompt, so the password need not be kept.
	PasswordFunc func(ctx context.Context) (string, error)
	// AuthStyle selects client authentication; the zero value is
	// [AuthBasic].
	AuthStyle AuthStyle
	// HTTPClient makes each attempt: its Transport and Timeout are used,
	// its CheckRedirect is not (requests that carry credentials never
	// follow a redirect). Nil means a client on http.DefaultTransport with
	// a 30s timeout per attempt. Retries are added on top, per Retry.
	HTTPClient *http.Client
	// Retry bounds re-sending requests that provably did not reach the
	// server; the zero value is a sensible default.
	Retry RetryPolicy
	// ReuseGrace is the server's documented reuse grace period for a
	// rotated refresh token: how long after rotating it the server still
	// accepts the old refresh token (Okta, Auth0, Cognito and Ory Hydra
	// can be configured so). Zero, the default, means none. Set it only
	// when the server documents one: a [Source] then may send a refresh
	// token whose outcome is unknown once more inside that window instead
	// of logging in again. The grant itself never re-sends.
	ReuseGrace time.Duration
	// AllowInsecureHTTP permits http:// endpoints on non-loopback hosts.
	AllowInsecureHTTP bool
	// Now is the clock that turns expires_in into expiry times. Nil means
	// time.Now.
	Now func() time.Time
	// Logger receives debug records about retries. Nil means silent.
	Logger *slog.Logger
}

var (
	_ Grant       = (*PasswordGrant)(nil)
	_ Revoker     = (*PasswordGrant)(nil)
	_ ReuseGracer = (*PasswordGrant)(nil)
)

// RefreshReuseGrace returns ReuseGrace. It implements [ReuseGracer].
func (g *PasswordGrant) RefreshReuseGrace() time.Duration { return g.ReuseGrace }

func (g *PasswordGrant) endpoint() endpoint {
	return endpoint{client: g.HTTPClient, policy: g.Retry, logger: g.Logger, allowInsecure: g.AllowInsecureHTTP}
}

func (g *PasswordGrant) now() time.Time {
	if g.Now == nil {
		return time.Now()
	}
	return g.Now()
}

// call describes one request of op carrying secrets and the client
// credentials.
func (g *PasswordGrant) call(op string, secrets ...string) call {
	if g.ClientSecret != "" {
		basic := url.QueryEscape(g.ClientID) + ":" + url.QueryEscape(g.ClientSecret)
		secrets = append(secrets, g.ClientSecret, base64.StdEncoding.EncodeToString([]byte(basic)))
	}
	return call{op: op, secrets: secrets}
}

func (g *PasswordGrant) config() *oauth2.Config {
	style := oauth2.AuthStyleInHeader
	if g.AuthStyle == AuthForm || g.ClientSecret == "" {
		style = oauth2.AuthStyleInParams
	}
	return &oauth2.Config{
		ClientID:     g.ClientID,
		ClientSecret: g.ClientSecret,
		Endpoint:     oauth2.Endpoint{TokenURL: g.TokenURL, AuthStyle: style},
		Scopes:       g.Scopes,
	}
}

// Login requests a token with grant_type=password. The password is sent
// at most once per call unless the request provably did not reach the
// server.
func (g *PasswordGrant) Login(ctx context.Context) (*Token, error) {
	user, pass, err := credentials(ctx, g.Username, g.Password, g.PasswordFunc)
	if err != nil {
		return nil, err
	}
	return g.exchange(ctx, g.call("login", pass), "", func(ctx context.Context, c *oauth2.Config) error {
		_, err := c.PasswordCredentialsToken(ctx, user, pass)
		return err
	})
}

// Refresh requests a token with grant_type=refresh_token. The refresh token
// is sent at most once unless the request provably did not reach the
// server; see [PasswordGrant] for what the error says about it.
func (g *PasswordGrant) Refresh(ctx context.Context, refreshToken string) (*Token, error) {
	if refreshToken == "" {
		return nil, ErrNoRefreshToken
	}
	return g.exchange(ctx, g.call("refresh", refreshToken), refreshToken, func(ctx context.Context, c *oauth2.Config) error {
		_, err := c.TokenSource(ctx, &oauth2.Token{RefreshToken: refreshToken}).Token()
		return err
	})
}

// recorder keeps what the retrying client saw for x/oauth2's one request.
// x/oauth2 calls the transport on its own goroutine, synchronously, so no
// lock is needed.
type recorder struct {
	reply *reply
	err   error
}

// exchange lets x/oauth2 build and send the request through the retrying
// client, then reads the raw reply itself: x/oauth2 neither exposes the
// Date header nor accepts odd fields, and its error message quotes the
// body, so neither its token nor its error is used.
func (g *PasswordGrant) exchange(ctx context.Context, c call, oldRefresh string,
	send func(context.Context, *oauth2.Config) error) (*Token, error) {
	e := g.endpoint()
	if err := e.checkURL(g.TokenURL); err != nil {
		return nil, &TokenError{Op: c.op, Err: err}
	}
	var rec recorder
	hc := &http.Client{
		Transport:     roundTripFunc(func(req *http.Request) (*http.Response, error) { return e.roundTrip(req, &rec) }),
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	_ = send(context.WithValue(ctx, oauth2.HTTPClient, hc), g.config())
	switch {
	case rec.err != nil:
		return nil, c.transportError(rec.err)
	case rec.reply == nil:
		return nil, &TokenError{Op: c.op, Err: errors.New("tokensource: request not sent")}
	case rec.reply.status >= 200 && rec.reply.status <= 299 && errorCodeOnSuccess(rec.reply):
		return nil, c.responseError(rec.reply, nil)
	}
	tok, _, err := c.token(rec.reply, &JSONMapping{}, g.now(), oldRefresh)
	return tok, err
}

// roundTrip sends req through the retrying client and records the reply,
// handing x/oauth2 a response whose body is the capped copy.
func (e endpoint) roundTrip(req *http.Request, rec *recorder) (*http.Response, error) {
	rreq, err := retryablehttp.FromRequest(req)
	if req.Body != nil {
		req.Body.Close()
	}
	if err != nil {
		rec.err = err
		return nil, err
	}
	r, err := e.do(rreq)
	if err != nil {
		rec.err = err
		return nil, err
	}
	rec.reply = r
	return &http.Response{
		Status:     http.StatusText(r.status),
		StatusCode: r.status,
		Header:     r.header,
		Body:       io.NopCloser(bytes.NewReader(r.body)),
		Request:    req,
	}, nil
}

// Revoke revokes tok's refresh token (or, without one, its access token)
// at RevokeURL as RFC 7009 describes, authenticating the client as Login
// does. It does nothing when RevokeURL is empty or tok is nil.
func (g *PasswordGrant) Revoke(ctx context.Context, tok *Token) error {
	if g.RevokeURL == "" || tok == nil {
		return nil
	}
	e := g.endpoint()
	if err := e.checkURL(g.RevokeURL); err != nil {
		return &TokenError{Op: "revoke", Err: err}
	}
	form := url.Values{"token": {tok.RefreshToken}, "token_type_hint": {"refresh_token"}}
	if tok.RefreshToken == "" {
		form = url.Values{"token": {tok.AccessToken}, "token_type_hint": {"access_token"}}
	}
	c := g.call("revoke", form.Get("token"))
	basic := g.AuthStyle == AuthBasic && g.ClientSecret != ""
	if !basic {
		form.Set("client_id", g.ClientID)
		if g.ClientSecret != "" {
			form.Set("client_secret", g.ClientSecret)
		}
	}
	req, err := retryablehttp.NewRequestWithContext(ctx, http.MethodPost, g.RevokeURL, strings.NewReader(form.Encode()))
	if err != nil {
		return &TokenError{Op: "revoke", Err: errors.New("tokensource: cannot build request")}
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if basic {
		req.SetBasicAuth(url.QueryEscape(g.ClientID), url.QueryEscape(g.ClientSecret))
	}
	r, err := e.do(req)
	if err != nil {
		return c.transportError(err)
	}
	if r.status < 200 || r.status > 299 {
		return c.responseError(r, nil)
	}
	return nil
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }
