package tokensource

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-retryablehttp"
)

// ErrNoCredentials is returned by a grant's Login when it has no username
// or password (and no PasswordFunc, or one that failed). It satisfies
// errors.Is(err, ErrReauthRequired).
var ErrNoCredentials = fmt.Errorf("%w: no credentials", ErrReauthRequired)

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
// until one has been seen). A response with no expiry falls back to the
// "exp" claim of a JWT access token, else the token is used until a server
// rejects it.
//
// A refresh answered 400, 401 or 403, with invalid_grant, or with an error
// body saying the token is invalid, expired, revoked or reused fails with a
// [TokenError] that satisfies errors.Is(err, ErrReauthRequired).
//
// A JSONGrant is safe for concurrent use. It remembers the API's naming
// style, so it must not be copied after first use. Fields must not be
// changed while calls are in flight.
type JSONGrant struct {
	// LoginURL, RefreshURL and LogoutURL are the endpoints. LogoutURL empty
	// makes Revoke a no-op. Each must be https:// unless it is a loopback
	// address or AllowInsecureHTTP is set.
	LoginURL, RefreshURL, LogoutURL string
	// Username and Password are the login credentials.
	Username, Password string
	// PasswordFunc supplies the password at each Login when Password is
	// empty, for example from a prompt or a secret manager, so that a
	// long-running process need not keep it.
	PasswordFunc func(ctx context.Context) (string, error)
	// Header holds extra headers sent with every request (an API key, a
	// client version). Nil means none. It is read, never modified.
	Header http.Header
	// Mapping overrides field names; the zero value auto-detects.
	Mapping JSONMapping
	// HTTPClient makes each attempt (its Transport, Timeout and redirect
	// policy are used). Nil means a client on http.DefaultTransport with a
	// 30s timeout per attempt. Retries are always added on top, per Retry.
	HTTPClient *http.Client
	// Retry bounds retries of transient failures; the zero value is a
	// sensible default.
	Retry RetryPolicy
	// AllowInsecureHTTP permits http:// endpoints on non-loopback hosts.
	AllowInsecureHTTP bool
	// Now is the clock that turns lifetimes into expiry times. Nil means
	// time.Now.
	Now func() time.Time
	// Logger receives debug records about retries. Nil means silent.
	Logger *slog.Logger

	style atomic.Int32 // nameStyle of the last response seen
}

var (
	_ Grant   = (*JSONGrant)(nil)
	_ Revoker = (*JSONGrant)(nil)
)

func (g *JSONGrant) endpoint() endpoint {
	return endpoint{client: g.HTTPClient, policy: g.Retry, logger: g.Logger, allowInsecure: g.AllowInsecureHTTP}
}

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
	return g.post(ctx, "login", g.LoginURL, body, "")
}

// Refresh posts refreshToken to RefreshURL. When the response carries no
// refresh token, the returned token keeps refreshToken.
func (g *JSONGrant) Refresh(ctx context.Context, refreshToken string) (*Token, error) {
	if refreshToken == "" {
		return nil, ErrNoRefreshToken
	}
	body := map[string]any{}
	for _, f := range g.refreshFields() {
		setPath(body, f, refreshToken)
	}
	return g.post(ctx, "refresh", g.RefreshURL, body, refreshToken)
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
	r, err := g.send(ctx, "revoke", g.LogoutURL, body, tok.AccessToken)
	if err != nil {
		return err
	}
	if r.status < 200 || r.status > 299 {
		return responseError("revoke", r, nil)
	}
	return nil
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
	switch nameStyle(g.style.Load()) {
	case styleCamel:
		return []string{"refreshToken"}
	case styleSnake:
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

// post sends body and turns the reply into a Token.
func (g *JSONGrant) post(ctx context.Context, op, endpointURL string, body map[string]any, oldRefresh string) (*Token, error) {
	r, err := g.send(ctx, op, endpointURL, body, "")
	if err != nil {
		return nil, err
	}
	if r.tooLarge || r.status < 200 || r.status > 299 {
		return nil, responseError(op, r, nil)
	}
	p, err := parseTokenJSON(r.body, &g.Mapping)
	if err != nil {
		return nil, responseError(op, r, err)
	}
	tok, err := p.finish(g.now(), oldRefresh)
	if err != nil {
		return nil, responseError(op, r, err)
	}
	g.style.Store(int32(p.style))
	return tok, nil
}

// send posts body as JSON with the grant's headers.
func (g *JSONGrant) send(ctx context.Context, op, endpointURL string, body map[string]any, bearer string) (*reply, error) {
	e := g.endpoint()
	if err := e.checkURL(endpointURL); err != nil {
		return nil, &TokenError{Op: op, Err: err}
	}
	raw, err := json.Marshal(body)
	if err != nil {
		return nil, &TokenError{Op: op, Err: err}
	}
	req, err := retryablehttp.NewRequestWithContext(ctx, http.MethodPost, endpointURL, raw)
	if err != nil {
		return nil, &TokenError{Op: op, Err: errors.New("tokensource: cannot build request")}
	}
	for k, vs := range g.Header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	r, err := e.do(req)
	if err != nil {
		return nil, transportError(op, err)
	}
	return r, nil
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
			return "", "", fmt.Errorf("%w: password function: %w", ErrNoCredentials, err)
		}
		password = p
	}
	if password == "" {
		return "", "", ErrNoCredentials
	}
	return user, password, nil
}
