package tokensource

import (
	"context"
	"encoding/base64"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/tokenrefresh/tokenrefresh/internal/tokenendpoint"
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
// refresh_token grant. It builds each form request itself, with an explicit
// client authentication style, sends it through this package's retrying
// token-endpoint client and reads the answer itself.
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

func (g *PasswordGrant) now() time.Time {
	if g.Now == nil {
		return time.Now()
	}
	return g.Now()
}

// oauthForm builds and sends the form requests of a standard endpoint
// (token and revocation) for one client: PasswordGrant's and
// ClientCredentialsGrant's.
//
// Why the libraries split here. golang.org/x/oauth2 builds these forms,
// but only inside calls that also send them and read the answer: it takes
// its HTTP client from a context value, follows redirects with the
// credentials, parses the body by rules that refuse odd expires_in values
// and hide the Date header, and quotes the body in its errors. A request
// that carries a password or a single-use refresh token needs each of those
// the other way, while the form itself is a few fields (RFC 6749 sections
// 4.3.2, 4.4.2 and 6, RFC 7009 section 2.1): so it is built here, sent by
// the internal token-endpoint client, where go-retryablehttp is the retry
// engine under this package's rule (re-send only what provably never
// reached the server, or 429 and 503), and read by the parser JSONGrant
// uses too. x/oauth2 keeps what it does well for callers: [Source.OAuth2]
// hands a Source to code that takes an oauth2.TokenSource.
type oauthForm struct {
	clientID, clientSecret string
	style                  AuthStyle
	ep                     *tokenendpoint.Client
	now                    func() time.Time
}

func (g *PasswordGrant) form() *oauthForm {
	return &oauthForm{clientID: g.ClientID, clientSecret: g.ClientSecret, style: g.AuthStyle,
		ep: endpointClient(g.HTTPClient, g.Retry, g.Logger, g.AllowInsecureHTTP), now: g.now}
}

// call builds the request of op: form plus the client's authentication,
// HTTP Basic (id and secret form-encoded first, as RFC 6749 section 2.3.1
// says) or client_id and client_secret in the form. A public client (no
// secret) sends client_id only. secrets, the client secret and its Basic
// encoding are kept out of every error.
func (o *oauthForm) call(op, endpointURL string, form url.Values, secrets ...string) *tokenendpoint.Call {
	h := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}
	switch {
	case o.clientSecret == "":
		if o.clientID != "" {
			form.Set("client_id", o.clientID)
		}
	case o.style == AuthBasic:
		authz := basicAuth(o.clientID, o.clientSecret)
		h["Authorization"] = []string{authz}
		secrets = append(secrets, o.clientSecret, authz[len("Basic "):])
	default:
		form.Set("client_id", o.clientID)
		form.Set("client_secret", o.clientSecret)
		secrets = append(secrets, o.clientSecret, basicAuth(o.clientID, o.clientSecret)[len("Basic "):])
	}
	return &tokenendpoint.Call{URL: endpointURL, Header: h, Body: []byte(form.Encode()),
		Refresh: op == "refresh", Standard: true, Secrets: secrets}
}

// basicAuth returns the Basic Authorization value of a client: "Basic "
// and the base64 of id:secret, both form-encoded first.
func basicAuth(id, secret string) string {
	raw := url.QueryEscape(id) + ":" + url.QueryEscape(secret)
	b := make([]byte, 0, len("Basic ")+base64.StdEncoding.EncodedLen(len(raw)))
	b = base64.StdEncoding.AppendEncode(append(b, "Basic "...), []byte(raw))
	return string(b)
}

// token posts form to the token endpoint and reads the token.
func (o *oauthForm) token(ctx context.Context, op, tokenURL string, form url.Values, oldRefresh string, secrets ...string) (*Token, error) {
	tok, _, err := exchange(ctx, o.ep, op, o.call(op, tokenURL, form, secrets...), tokenendpoint.Paths{}, o.now, oldRefresh)
	return tok, err
}

// revoke revokes tok's refresh token or, without one, its access token
// (RFC 7009).
func (o *oauthForm) revoke(ctx context.Context, revokeURL string, tok *Token) error {
	form := url.Values{"token": {tok.RefreshToken}, "token_type_hint": {"refresh_token"}}
	if tok.RefreshToken == "" {
		form = url.Values{"token": {tok.AccessToken}, "token_type_hint": {"access_token"}}
	}
	return send(ctx, o.ep, "revoke", o.call("revoke", revokeURL, form, form.Get("token")))
}

// Login requests a token with grant_type=password. The password is sent
// at most once per call unless the request provably did not reach the
// server.
func (g *PasswordGrant) Login(ctx context.Context) (*Token, error) {
	user, pass, err := credentials(ctx, g.Username, g.Password, g.PasswordFunc)
	if err != nil {
		return nil, err
	}
	form := url.Values{"grant_type": {"password"}, "username": {user}, "password": {pass}}
	if len(g.Scopes) > 0 {
		form.Set("scope", strings.Join(g.Scopes, " "))
	}
	return g.form().token(ctx, "login", g.TokenURL, form, "", pass)
}

// Refresh requests a token with grant_type=refresh_token. The refresh token
// is sent at most once unless the request provably did not reach the
// server; see [PasswordGrant] for what the error says about it.
func (g *PasswordGrant) Refresh(ctx context.Context, refreshToken string) (*Token, error) {
	if refreshToken == "" {
		return nil, ErrNoRefreshToken
	}
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refreshToken}}
	return g.form().token(ctx, "refresh", g.TokenURL, form, refreshToken, refreshToken)
}

// Revoke revokes tok's refresh token (or, without one, its access token)
// at RevokeURL as RFC 7009 describes, authenticating the client as Login
// does. It does nothing when RevokeURL is empty or tok is nil.
func (g *PasswordGrant) Revoke(ctx context.Context, tok *Token) error {
	if g.RevokeURL == "" || tok == nil {
		return nil
	}
	return g.form().revoke(ctx, g.RevokeURL, tok)
}
