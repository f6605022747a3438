package tokensource

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/tokenrefresh/tokenrefresh/internal/tokenendpoint"
)

// ErrNoCredentials is returned by a grant's Login when it has no username
// or password (and no PasswordFunc, or one that failed). It satisfies
// errors.Is(err, ErrReauthRequired).
var ErrNoCredentials = errorf("%w: no credentials", ErrReauthRequired)

// JSONMapping names the JSON fields of an API that does not use the common
// names. All fields are dotted paths from the top of the body, such as
// "data.jwt" or, for a request, "credentials.user". Every empty field means
// auto-detection, as described on [JSONGrant]. The zero value detects all.
type JSONMapping struct {
	// Request fields. Empty means "username", "password", and
	// "refresh_token" or "refreshToken" following the API's style (both
	// until a response has shown the style).
	UsernameField, PasswordField, RefreshTokenField string

	// Response paths.
	AccessToken, RefreshToken, TokenType string
	// ExpiresIn and RefreshExpiresIn hold lifetimes in seconds (a number or
	// a numeric string); ExpiresAt and RefreshExpiresAt absolute times
	// (RFC 3339, epoch seconds or epoch milliseconds).
	ExpiresIn, ExpiresAt, RefreshExpiresIn, RefreshExpiresAt string
}

// JSONGrant logs in and refreshes against an in-house JSON API:
//
//	POST LoginURL   {"username":"...","password":"..."}
//	POST RefreshURL {"refresh_token":"..."}
//	POST LogoutURL  {"refresh_token":"..."} with the access token as Bearer
//
// each answered with a token object. Without a [JSONMapping], responses
// may use snake_case or camelCase names (access_token/accessToken,
// refresh_token/refreshToken, token_type, expires_in/expiresIn,
// refresh_expires_in, expires_at/expiresAt as RFC 3339 or epoch seconds and
// their refresh equivalents), may be wrapped in an envelope object ("data",
// "result", "token", "tokens", "payload" or "response"), and the refresh
// request follows the naming style of the last response seen (snake_case
// until one has been seen).
//
// Any success answer that carries an access token is accepted; odd other
// fields are normalised, never a reason to drop the refresh token that came
// with it. A lifetime that is zero, negative, absurd (over ten years) or
// not a number counts as unknown, like a missing one: the "exp" claim of a
// JWT access token is used if there is one, else the token is used until a
// server rejects it. Absolute expiries (expires_at and the like, and the
// JWT exp) are read against the server's clock, from the Date header of
// its answer, so an API whose clock is off still yields tokens of the
// right lifetime; Token.ClockSkew records the difference. A token_type
// that is not an HTTP auth scheme (a number, say) becomes "Bearer".
//
// A success answer with no access token fails with an error wrapping
// [ErrMalformedResponse]; when it still carries a refresh token, Login and
// Refresh return a *Token holding that RefreshToken (and no AccessToken)
// together with the error, so the caller can keep the new refresh token.
//
// A request is sent at most once unless it provably did not reach the
// server (see [RetryPolicy]); it never follows a redirect ([ErrRedirect]).
// A refresh whose request may have reached the server without a usable
// answer coming back (a reset or timeout after sending, 500, 502, 504, a
// redirect, an unreadable body, a success without a token) fails with an
// error matching [ErrRefreshOutcomeUnknown]: the server may have rotated
// the refresh token, so it must not be sent again. A refresh answered 400,
// 401 or 403, with invalid_grant, or with an error body saying the token is
// invalid, expired, revoked or reused fails with a [TokenError] that
// satisfies errors.Is(err, ErrReauthRequired). Error messages never contain
// the password, tokens or Header values the request carried.
//
// A JSONGrant is safe for concurrent use. It remembers the API's naming
// style, so it must not be copied after first use. Fields must not be
// changed while calls are in flight.
type JSONGrant struct {
	// LoginURL, RefreshURL and LogoutURL are the endpoints. LogoutURL empty
	// makes Revoke a no-op. Each must be https:// unless it is a loopback
	// address (an IP in 127.0.0.0/8 or ::1, or exactly "localhost") or
	// AllowInsecureHTTP is set.
	LoginURL, RefreshURL, LogoutURL string
	// Username and Password are the login credentials.
	Username, Password string
	// PasswordFunc supplies the password at each Login when Password is
	// empty, for example from a prompt or a secret manager, so that a
	// long-running process need not keep it.
	PasswordFunc func(ctx context.Context) (string, error)
	// Header holds extra headers sent with every request (an API key, a
	// client version). Nil means none. It is read, never modified. Its
	// values are kept out of error messages like the other secrets.
	Header http.Header
	// Mapping overrides field names; the zero value auto-detects.
	Mapping JSONMapping
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
	// accepts the old refresh token (as Okta, Auth0, Cognito and Ory Hydra
	// offer). Zero, the default, means none. Set it only when the server
	// documents one: a [Source] then may send a refresh token whose
	// outcome is unknown once more inside that window instead of logging
	// in again. The grant itself never re-sends.
	ReuseGrace time.Duration
	// AllowInsecureHTTP permits http:// endpoints on non-loopback hosts.
	AllowInsecureHTTP bool
	// Now is the clock that turns lifetimes into expiry times. Nil means
	// time.Now.
	Now func() time.Time
	// Logger receives debug records about retries. Nil means silent.
	Logger *slog.Logger

	style atomic.Int32 // tokenendpoint.Style of the last response seen
}

var (
	_ Grant       = (*JSONGrant)(nil)
	_ Revoker     = (*JSONGrant)(nil)
	_ ReuseGracer = (*JSONGrant)(nil)
)

// RefreshReuseGrace returns ReuseGrace. It implements [ReuseGracer].
func (g *JSONGrant) RefreshReuseGrace() time.Duration { return g.ReuseGrace }

func (g *JSONGrant) now() time.Time {
	if g.Now == nil {
		return time.Now()
	}
	return g.Now()
}

// Login posts the username and password to LoginURL.
func (g *JSONGrant) Login(ctx context.Context) (*Token, error) {
	user, pass, err := credentials(ctx, g.Username, g.Password, g.PasswordFunc)
	if err != nil {
		return nil, err
	}
	body := map[string]any{}
	setPath(body, orName(g.Mapping.UsernameField, "username"), user)
	setPath(body, orName(g.Mapping.PasswordField, "password"), pass)
	return g.post(ctx, "login", g.call("login", g.LoginURL, body, "", pass), "")
}

// Refresh posts refreshToken to RefreshURL. When the response carries no
// refresh token, the returned token keeps refreshToken. The refresh token
// is sent at most once unless the request provably did not reach the
// server; see [JSONGrant] for what the error says about it.
func (g *JSONGrant) Refresh(ctx context.Context, refreshToken string) (*Token, error) {
	if refreshToken == "" {
		return nil, ErrNoRefreshToken
	}
	body := map[string]any{}
	for _, f := range g.refreshFields() {
		setPath(body, f, refreshToken)
	}
	return g.post(ctx, "refresh", g.call("refresh", g.RefreshURL, body, "", refreshToken), refreshToken)
}

// Revoke posts tok's refresh token to LogoutURL with the access token as a
// Bearer credential. It does nothing when LogoutURL is empty or tok is nil.
func (g *JSONGrant) Revoke(ctx context.Context, tok *Token) error {
	if g.LogoutURL == "" || tok == nil {
		return nil
	}
	body := map[string]any{}
	if tok.RefreshToken != "" {
		for _, f := range g.refreshFields() {
			setPath(body, f, tok.RefreshToken)
		}
	}
	c := g.call("revoke", g.LogoutURL, body, tok.AccessToken, tok.RefreshToken, tok.AccessToken)
	return send(ctx, g.client(), "revoke", c)
}

func (g *JSONGrant) client() *tokenendpoint.Client {
	return endpointClient(g.HTTPClient, g.Retry, g.Logger, g.AllowInsecureHTTP)
}

// call builds the request of op: body as JSON, with the grant's headers and
// bearer, when set, as the Authorization. secrets and the Header values
// are kept out of every error; for a header value with a scheme
// ("Bearer k1") the credential after it counts too.
func (g *JSONGrant) call(op, endpointURL string, body map[string]any, bearer string, secrets ...string) *tokenendpoint.Call {
	h := make(http.Header, len(g.Header)+3)
	for k, vs := range g.Header {
		for _, v := range vs {
			h.Add(k, v)
			secrets = append(secrets, v)
			if _, cred, ok := strings.Cut(strings.TrimSpace(v), " "); ok {
				secrets = append(secrets, strings.TrimSpace(cred))
			}
		}
	}
	h.Set("Content-Type", "application/json")
	h.Set("Accept", "application/json")
	if bearer != "" {
		h.Set("Authorization", "Bearer "+bearer)
	}
	raw, _ := json.Marshal(body) // a map of strings always encodes
	return &tokenendpoint.Call{URL: endpointURL, Header: h, Body: raw, Refresh: op == "refresh", Secrets: secrets}
}

// refreshFields names the request field(s) that carry the refresh token:
// the mapped one, else the API's style. Before any response has shown the
// style (a new process continuing a stored session) both spellings are
// sent, so a camelCase API does not reject the first refresh and force a
// needless re-login.
func (g *JSONGrant) refreshFields() []string {
	if g.Mapping.RefreshTokenField != "" {
		return []string{g.Mapping.RefreshTokenField}
	}
	switch tokenendpoint.Style(g.style.Load()) {
	case tokenendpoint.StyleCamel:
		return []string{"refreshToken"}
	case tokenendpoint.StyleSnake:
		return []string{"refresh_token"}
	}
	return []string{"refresh_token", "refreshToken"}
}

// setPath stores v at a dotted path ("auth.user"), creating objects on the
// way; a path through a non-object value replaces that value.
func setPath(obj map[string]any, path string, v string) {
	parts := strings.Split(path, ".")
	for _, p := range parts[:len(parts)-1] {
		next, ok := obj[p].(map[string]any)
		if !ok {
			next = map[string]any{}
			obj[p] = next
		}
		obj = next
	}
	obj[parts[len(parts)-1]] = v
}

func orName(name, def string) string {
	if name == "" {
		return def
	}
	return name
}

// post sends a login or refresh and reads the token, remembering the
// API's naming style.
func (g *JSONGrant) post(ctx context.Context, op string, c *tokenendpoint.Call, oldRefresh string) (*Token, error) {
	m := &g.Mapping
	paths := tokenendpoint.Paths{AccessToken: m.AccessToken, RefreshToken: m.RefreshToken, TokenType: m.TokenType,
		ExpiresIn: m.ExpiresIn, ExpiresAt: m.ExpiresAt, RefreshExpiresIn: m.RefreshExpiresIn, RefreshExpiresAt: m.RefreshExpiresAt}
	tok, style, err := exchange(ctx, g.client(), op, c, paths, g.now, oldRefresh)
	if tok != nil {
		g.style.Store(int32(style))
	}
	return tok, err
}

// credentials returns the username and the password, asking passwordFunc
// when password is empty.
func credentials(ctx context.Context, user, password string, passwordFunc func(context.Context) (string, error)) (string, string, error) {
	if user == "" {
		return "", "", ErrNoCredentials
	}
	if password == "" && passwordFunc != nil {
		p, err := passwordFunc(ctx)
		if err != nil {
			return "", "", errorfJoin("%w: password function: %w", ErrNoCredentials, err)
		}
		password = p
	}
	if password == "" {
		return "", "", ErrNoCredentials
	}
	return user, password, nil
}
