package tokensource

import (
	"bytes"
	"context"
	"errors"
	"fmt"
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
	// credentials (RFC 6749 section 2.3.1). It is the zero value.
	AuthBasic AuthStyle = iota
	// AuthForm sends client_id and client_secret in the form body.
	AuthForm
)

// PasswordGrant speaks to a standard OAuth2 token endpoint (RFC 6749): it
// logs in with the resource-owner password grant and refreshes with the
// refresh_token grant, through golang.org/x/oauth2 with an explicit client
// authentication style and the retrying token-endpoint client.
//
// Responses may send expires_in as a number or a numeric string,
// refresh_expires_in or refresh_token_expires_in (Keycloak, GitHub; 0 means
// no expiry), any case of token_type, and no refresh_token on refresh (the
// old one is kept). With no expires_in the "exp" of a JWT access token is
// used, else the token lives until a server rejects it.
//
// Errors are [*TokenError]. invalid_grant, or 400/401/403 without a client
// configuration error code, is Rejected (errors.Is(err, ErrReauthRequired)):
// bad user credentials on Login, a dead refresh token on Refresh.
// invalid_client, unauthorized_client, unsupported_grant_type and
// invalid_scope are not Rejected: they are configuration errors that new
// user credentials cannot fix.
//
// A PasswordGrant is safe for concurrent use as long as its fields are not
// changed.
type PasswordGrant struct {
	// TokenURL is the token endpoint. It must be https:// unless it is a
	// loopback address or AllowInsecureHTTP is set.
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
	// HTTPClient makes each attempt (its Transport, Timeout and redirect
	// policy are used). Nil means a client on http.DefaultTransport with a
	// 30s timeout per attempt. Retries are always added on top, per Retry.
	HTTPClient *http.Client
	// Retry bounds retries of transient failures; the zero value is a
	// sensible default.
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
	_ Grant   = (*PasswordGrant)(nil)
	_ Revoker = (*PasswordGrant)(nil)
)

func (g *PasswordGrant) endpoint() endpoint {
	return endpoint{client: g.HTTPClient, policy: g.Retry, logger: g.Logger, allowInsecure: g.AllowInsecureHTTP}
}

func (g *PasswordGrant) now() time.Time {
	if g.Now == nil {
		return time.Now()
	}
	return g.Now()
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

// Login requests a token with grant_type=password.
func (g *PasswordGrant) Login(ctx context.Context) (*Token, error) {
	user, pass, err := credentials(ctx, g.Username, g.Password, g.PasswordFunc)
	if err != nil {
		return nil, err
	}
	return g.exchange(ctx, "login", "", func(ctx context.Context, c *oauth2.Config) (*oauth2.Token, error) {
		return c.PasswordCredentialsToken(ctx, user, pass)
	})
}

// Refresh requests a token with grant_type=refresh_token.
func (g *PasswordGrant) Refresh(ctx context.Context, refreshToken string) (*Token, error) {
	if refreshToken == "" {
		return nil, ErrNoRefreshToken
	}
	return g.exchange(ctx, "refresh", refreshToken, func(ctx context.Context, c *oauth2.Config) (*oauth2.Token, error) {
		return c.TokenSource(ctx, &oauth2.Token{RefreshToken: refreshToken}).Token()
	})
}

// recorder keeps what the retrying client saw for x/oauth2's one request.
// x/oauth2 calls the transport on its own goroutine, synchronously, so no
// lock is needed.
type recorder struct {
	reply *reply
	err   error
}

// exchange runs call with the retrying client installed in x/oauth2's
// context and maps its outcome.
func (g *PasswordGrant) exchange(ctx context.Context, op, oldRefresh string,
	call func(context.Context, *oauth2.Config) (*oauth2.Token, error)) (*Token, error) {
	e := g.endpoint()
	if err := e.checkURL(g.TokenURL); err != nil {
		return nil, &TokenError{Op: op, Err: err}
	}
	var rec recorder
	hc := &http.Client{
		Transport:     roundTripFunc(func(req *http.Request) (*http.Response, error) { return e.roundTrip(req, &rec) }),
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	otok, err := call(context.WithValue(ctx, oauth2.HTTPClient, hc), g.config())
	switch {
	case rec.err != nil:
		return nil, transportError(op, rec.err)
	case rec.reply == nil:
		return nil, &TokenError{Op: op, Err: errors.New("tokensource: request not sent")}
	case rec.reply.tooLarge:
		return nil, responseError(op, rec.reply, nil)
	case err != nil:
		// Never wrap x/oauth2's error: its message quotes the body. On a
		// success status our parser gets a second look: it accepts JSON
		// sent as text/plain and names what is wrong otherwise.
		var cause error
		if rec.reply.status >= 200 && rec.reply.status <= 299 {
			tok, perr := g.parseOwn(rec.reply, oldRefresh)
			if perr == nil {
				return tok, nil
			}
			cause = perr
		}
		return nil, responseError(op, rec.reply, cause)
	}
	tok, err := g.convert(otok, oldRefresh)
	if err != nil {
		return nil, responseError(op, rec.reply, err)
	}
	return tok, nil
}

// convert recomputes expiries with the grant's clock from the raw values
// (x/oauth2 uses time.Now and ignores refresh_expires_in) and validates them.
func (g *PasswordGrant) convert(otok *oauth2.Token, oldRefresh string) (*Token, error) {
	p := &parsedToken{access: otok.AccessToken, refresh: otok.RefreshToken, typ: otok.TokenType}
	p.expiresIn = extra(otok, "expires_in")
	p.refreshIn = extra(otok, "refresh_expires_in")
	if p.refreshIn == nil {
		p.refreshIn = extra(otok, "refresh_token_expires_in")
	}
	return p.finish(g.now(), oldRefresh)
}

// parseOwn reads a success body that x/oauth2 refused.
func (g *PasswordGrant) parseOwn(r *reply, oldRefresh string) (*Token, error) {
	if parseErrorBody(r.body, r.header.Get("Content-Type")).code != "" {
		return nil, fmt.Errorf("%w: error code in a success response", ErrMalformedResponse)
	}
	p, err := parseTokenJSON(r.body, &JSONMapping{})
	if err != nil {
		return nil, err
	}
	return p.finish(g.now(), oldRefresh)
}

// extra returns a raw response field, nil when absent or empty.
func extra(t *oauth2.Token, key string) any {
	v := t.Extra(key)
	if s, ok := v.(string); ok && s == "" {
		return nil
	}
	return v
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
		return transportError("revoke", err)
	}
	if r.status < 200 || r.status > 299 {
		return responseError("revoke", r, nil)
	}
	return nil
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }
