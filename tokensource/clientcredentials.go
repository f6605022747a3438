package tokensource

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/tokenrefresh/tokenrefresh/internal/tokenendpoint"
)

// ClientCredentialsGrant obtains tokens for a client acting on its own
// behalf, with no user: the client credentials grant of RFC 6749 section
// 4.4, for batch jobs and services.
//
// There is no refresh token: Refresh always returns [ErrNoRefreshToken],
// so a [Source] simply logs in again when the access token expires or a
// server rejects it, through its single-flight path (any number of
// concurrent callers cause one token request). A refresh token the server
// sends anyway (RFC 6749 section 4.4.3 says it should not) is dropped, so a
// job never depends on one.
//
// Requests are built and sent as [PasswordGrant] builds and sends its own:
// at most once unless the request provably did not reach the server (see
// [RetryPolicy]), never following a redirect, the answer read through a
// size cap and normalised the same way (odd expires_in values, absolute
// expiries against the server's Date header). Errors are [*TokenError]
// and never contain the client secret, a token or the value of a
// secret-looking EndpointParams entry (one named like a secret, token,
// password, assertion, key or credential). invalid_client and the other
// configuration codes are not Rejected; invalid_grant, or 400/401/403
// without a code, is.
//
// A ClientCredentialsGrant is safe for concurrent use as long as its fields
// are not changed.
type ClientCredentialsGrant struct {
	// TokenURL is the token endpoint ([Metadata].TokenEndpoint). It must be
	// https:// unless it is a loopback address or AllowInsecureHTTP is
	// set.
	TokenURL string
	// RevokeURL is the RFC 7009 revocation endpoint
	// ([Metadata].RevocationEndpoint). Empty makes Revoke a no-op.
	RevokeURL string
	// ClientID and ClientSecret identify the client; ClientID is required.
	// An empty ClientSecret sends client_id in the form and no secret, for
	// clients that authenticate otherwise, such as with a
	// client_assertion in EndpointParams (RFC 7523).
	ClientID, ClientSecret string
	// Scopes are requested with each token. Nil requests the server's
	// default.
	Scopes []string
	// AuthStyle selects client authentication; the zero value is
	// [AuthBasic].
	AuthStyle AuthStyle
	// EndpointParams are extra form parameters of the token request, such
	// as audience or resource (RFC 8707). They may not set grant_type,
	// client_id or client_secret, nor scope when Scopes is set.
	EndpointParams url.Values
	// HTTPClient makes each attempt, as for [PasswordGrant]: its Transport
	// and Timeout are used, its CheckRedirect is not. Nil means a client
	// on http.DefaultTransport with a 30s timeout per attempt.
	HTTPClient *http.Client
	// Retry bounds re-sending requests that provably did not reach the
	// server; the zero value is a sensible default.
	Retry RetryPolicy
	// AllowInsecureHTTP permits http:// endpoints on non-loopback hosts.
	AllowInsecureHTTP bool
	// Now is the clock that turns expires_in into expiry times. Nil means
	// time.Now.
	Now func() time.Time
	// Logger receives debug records about retries. Nil means silent.
	Logger *slog.Logger
}

var (
	_ Grant      = (*ClientCredentialsGrant)(nil)
	_ Revoker    = (*ClientCredentialsGrant)(nil)
	_ Identifier = (*ClientCredentialsGrant)(nil)
)

// form returns what sends g's requests: the client authentication and the
// endpoint client of [PasswordGrant], without a user.
func (g *ClientCredentialsGrant) form() *oauthForm {
	now := g.Now
	if now == nil {
		now = time.Now
	}
	return &oauthForm{clientID: g.ClientID, clientSecret: g.ClientSecret, style: g.AuthStyle,
		ep: endpointClient(g.HTTPClient, g.Retry, g.Logger, g.AllowInsecureHTTP), now: now}
}

// checkParams refuses EndpointParams that would change the grant or the
// client authentication.
func (g *ClientCredentialsGrant) checkParams() error {
	for k := range g.EndpointParams {
		switch {
		case k == "grant_type" || k == "client_id" || k == "client_secret":
			return errorf("EndpointParams may not set %s", k)
		case k == "scope" && len(g.Scopes) > 0:
			return newError("EndpointParams may not set scope when Scopes is set")
		}
	}
	return nil
}

// Login requests a token with grant_type=client_credentials. The request
// is sent at most once per call unless it provably did not reach the
// server. The token has no refresh token.
func (g *ClientCredentialsGrant) Login(ctx context.Context) (*Token, error) {
	if g.ClientID == "" {
		return nil, &TokenError{Op: "login", Err: newError("ClientCredentialsGrant.ClientID is empty")}
	}
	if err := g.checkParams(); err != nil {
		return nil, &TokenError{Op: "login", Err: err}
	}
	form := url.Values{"grant_type": {"client_credentials"}}
	if len(g.Scopes) > 0 {
		form.Set("scope", strings.Join(g.Scopes, " "))
	}
	var secrets []string
	for k, vs := range g.EndpointParams {
		form[k] = append([]string(nil), vs...)
		if tokenendpoint.SecretName(k) {
			secrets = append(secrets, vs...)
		}
	}
	tok, err := g.form().token(ctx, "login", g.TokenURL, form, "", secrets...)
	if err != nil {
		return nil, err // a Token beside an error would hold only a refresh token
	}
	tok.RefreshToken, tok.RefreshExpiry = "", time.Time{}
	return tok, nil
}

// Refresh returns [ErrNoRefreshToken]: a client credentials token is
// replaced by logging in again.
func (g *ClientCredentialsGrant) Refresh(context.Context, string) (*Token, error) {
	return nil, ErrNoRefreshToken
}

// Revoke revokes tok's access token at RevokeURL as RFC 7009 describes,
// authenticating the client as Login does. It does nothing when RevokeURL
// is empty or tok is nil.
func (g *ClientCredentialsGrant) Revoke(ctx context.Context, tok *Token) error {
	if g.RevokeURL == "" || tok == nil {
		return nil
	}
	return g.form().revoke(ctx, g.RevokeURL, &Token{AccessToken: tok.AccessToken})
}

// Identity implements [Identifier]: the token endpoint's origin and the
// client.
func (g *ClientCredentialsGrant) Identity() string {
	return fmt.Sprintf("%s client=%s", origin(g.TokenURL), g.ClientID)
}

func (g ClientCredentialsGrant) view() view {
	v := view{typ: "ClientCredentialsGrant"}
	v.add("token_url", g.TokenURL)
	v.add("revoke_url", g.RevokeURL)
	v.add("client_id", g.ClientID)
	v.secret("client_secret", g.ClientSecret != "")
	v.add("scopes", strings.Join(g.Scopes, " "))
	v.keys("endpoint_params", g.EndpointParams)
	return v
}

// String describes g without its client secret or parameter values.
func (g ClientCredentialsGrant) String() string { return g.view().String() }

// GoString implements [fmt.GoStringer] so that %#v redacts too.
func (g ClientCredentialsGrant) GoString() string { return "tokensource." + g.String() }

// Format implements [fmt.Formatter]: every verb prints the redacted form.
func (g ClientCredentialsGrant) Format(f fmt.State, verb rune) { g.view().format(f, verb) }

// LogValue implements [slog.LogValuer]: only non-secret fields are logged.
func (g ClientCredentialsGrant) LogValue() slog.Value { return g.view().logValue() }

// MarshalJSON encodes the non-secret fields only.
func (g ClientCredentialsGrant) MarshalJSON() ([]byte, error) { return g.view().marshalJSON() }
