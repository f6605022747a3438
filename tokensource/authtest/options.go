package authtest

import (
	"log/slog"
	"time"
)

// Defaults applied when the corresponding [Options] field is zero.
const (
	// DefaultAccessTTL is the lifetime of access tokens.
	DefaultAccessTTL = 15 * time.Minute
	// DefaultRefreshTTL is the lifetime of refresh tokens.
	DefaultRefreshTTL = 12 * time.Hour
	// DefaultUser and DefaultPassword are the one demo user's
	// credentials: published, not secret.
	DefaultUser     = "alice"
	DefaultPassword = "wonderland"
	// DefaultClientID and DefaultClientSecret are the OAuth2 client's
	// credentials: published, not secret.
	DefaultClientID     = "authtest-client"
	DefaultClientSecret = "authtest-secret"
	// DefaultAddr is where New and NewServer listen: a free loopback port.
	DefaultAddr = "127.0.0.1:0"
	// DefaultDeviceCodeTTL is the lifetime of device codes.
	DefaultDeviceCodeTTL = 10 * time.Minute
	// DefaultDeviceInterval is the polling interval device authorization
	// answers ask for (RFC 8628's default).
	DefaultDeviceInterval = 5 * time.Second
)

// Options configures a [Server]. The zero value is usable: a free loopback
// port, 15-minute access tokens, 12-hour refresh tokens with strict
// rotation and reuse detection, one user "alice" with password
// "wonderland", one OAuth2 client "authtest-client" with secret
// "authtest-secret", the snake_case JSON API, expires_in as numbers,
// WWW-Authenticate with error="invalid_token", the real clock, no logging.
// New and NewServer read Options once; later changes to the value have no
// effect.
type Options struct {
	// Addr is the address to listen on; "" means DefaultAddr. Unless
	// AllowNonLoopback is set it must name a loopback host ("localhost"
	// or a loopback IP literal); an empty host (":8080", every
	// interface) is refused.
	Addr string
	// AllowNonLoopback lets Addr name a non-loopback address. The server
	// is not hardened for a network: leave it off in tests.
	AllowNonLoopback bool

	// AccessTTL is the lifetime of access tokens; 0 means
	// DefaultAccessTTL. Token responses state lifetimes in whole seconds.
	AccessTTL time.Duration
	// RefreshTTL is the lifetime of each refresh token from its issue; 0
	// means DefaultRefreshTTL.
	RefreshTTL time.Duration
	// Users maps user names to passwords. nil means {"alice":
	// "wonderland"}; an empty non-nil map means nobody can log in. The map
	// is copied.
	Users map[string]string

	// ClientID and ClientSecret are the credentials /oauth2/token and
	// /oauth2/revoke require, by HTTP Basic (form-encoded or raw) or by
	// client_id and client_secret form fields. "" means DefaultClientID
	// and DefaultClientSecret.
	ClientID, ClientSecret string
	// PublicClient accepts the client by its id alone, with any secret or
	// none, as for public clients (RFC 6749 section 2.1).
	PublicClient bool
	// AnyClient accepts every client id and secret, or none: client
	// authentication is off. Server.ClientID and ClientSecret still work.
	AnyClient bool

	// RequireApproval makes the authorization endpoint wait, for each
	// request, for a decision: [Server.ApproveAuthorization],
	// [Server.DenyAuthorization], or POST /debug/authorize. By default
	// the demo user ([Server].User) approves at once, unless a decision
	// is queued. The browser's request stays open while it waits.
	RequireApproval bool
	// DeviceCodeTTL is the lifetime of device codes; 0 means
	// DefaultDeviceCodeTTL.
	DeviceCodeTTL time.Duration
	// DeviceInterval is the polling interval device authorization answers
	// ask for, in whole seconds; 0 (or less than a second) means
	// DefaultDeviceInterval. A poll sooner than the interval after the
	// previous one is answered slow_down, and the interval of that device
	// code grows by 5 seconds, as RFC 8628 section 3.5 says.
	DeviceInterval time.Duration

	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// ClockOffset makes the server's own clock run ahead (positive) or
	// behind (negative) Now: token expiries, validity checks, absolute
	// expiries in token responses (ExpiresAtEpoch) and the Date header of
	// every response all use Now()+ClockOffset.
	ClockOffset time.Duration
	// Logger receives one record per [Event]; nil means silent. Token
	// values and passwords are never logged.
	Logger *slog.Logger

	// JSONStyle selects the field names and shape of the JSON API's
	// requests and token responses (not of /oauth2/token, which follows
	// RFC 6749 always). The zero value is JSONSnakeCase.
	JSONStyle JSONStyle
	// ExpiresIn selects how token responses encode lifetimes: numbers
	// (the zero value), strings, nothing, or absolute epoch seconds.
	ExpiresIn ExpiresInStyle
	// TokenType is the token_type sent in token responses; "" means
	// "Bearer". The API accepts any case of the Bearer scheme regardless.
	TokenType string
	// Challenge selects how the protected API refuses an expired, revoked
	// or unknown access token. The zero value is ChallengeInvalidToken.
	Challenge Challenge

	// DisableRotation makes refreshes return only a new access token (no
	// refresh_token field) and keep the presented refresh token valid, as
	// servers without rotation do. The default is strict rotation: each
	// refresh spends the presented refresh token, and presenting a spent
	// one again revokes its whole family (reuse detection).
	DisableRotation bool
	// ReuseGrace is how long after its rotation a spent refresh token may
	// still be presented without counting as reuse: within it the server
	// answers a fresh pair of the same family (counted in
	// [Counters].GraceReuses) and revokes nothing, as Okta, Auth0, Cognito
	// and Hydra can be configured to. 0 means no grace.
	ReuseGrace time.Duration
	// BadCredentialsStatus is the status answered for a wrong user name or
	// password (same error body); 0 (or a value outside 200..999) means 401
	// on the JSON login and 400 invalid_grant on the password grant. 500
	// mimics servers that answer a wrong password with an internal error.
	BadCredentialsStatus int
	// MutateTokenResponse, when set, is called with the body of every
	// successful token response (op is [OpLogin] or [OpRefresh]; JSON API
	// and /oauth2/token alike; [OpClientCredentials] for that grant) just
	// before it is written, and may change it
	// freely: set expires_in to 0, -5, 1e12 or "soon", token_type to 7,
	// delete access_token... The body always has the snake_case names
	// (access_token, token_type, refresh_token when issued, expires_in and
	// refresh_expires_in as int64, strings with ExpiresInString, absent
	// with ExpiresInOmitted, or expires_at and refresh_expires_at with
	// ExpiresAtEpoch, and scope when /oauth2/token was asked for one);
	// JSONStyle is applied to the result. Tokens are issued and stored
	// exactly as usual whatever it does. It is called concurrently, never
	// for an answer lost by [Server.ProcessThenFail].
	// [Server.SetMutateTokenResponse] replaces it.
	MutateTokenResponse func(op string, body map[string]any)
	// MutateDiscovery, when set, is called with a fresh copy of the
	// metadata document before each answer at
	// /.well-known/oauth-authorization-server and
	// /.well-known/openid-configuration, and may change it freely: another
	// "issuer" (an issuer mismatch), a plain-http endpoint, a deleted
	// "token_endpoint", an added "device_authorization_endpoint"... It is
	// called concurrently.
	MutateDiscovery func(doc map[string]any)
}

// ExpiresInStyle selects how token responses encode expires_in and
// refresh_expires_in, so clients can be tested against odd servers.
type ExpiresInStyle int

const (
	// ExpiresInNumber sends JSON numbers of seconds (the zero value, per
	// RFC 6749).
	ExpiresInNumber ExpiresInStyle = iota
	// ExpiresInString sends decimal strings such as "900", as some
	// providers do.
	ExpiresInString
	// ExpiresInOmitted leaves both fields out.
	ExpiresInOmitted
	// ExpiresAtEpoch sends absolute expires_at and refresh_expires_at
	// instead, as JSON numbers of Unix seconds on the server's clock (Now
	// plus ClockOffset); the response's Date header gives that clock.
	ExpiresAtEpoch
)

// JSONStyle selects the naming and shape of the in-house JSON API
// (/auth/login, /auth/refresh, /auth/logout). Error answers keep the RFC
// 6749 shape {"error","error_description"} in every style, and the login
// request is {"username","password"} in every style.
type JSONStyle int

const (
	// JSONSnakeCase: {"refresh_token"} requests and {"access_token",
	// "refresh_token","token_type","expires_in","refresh_expires_in"}
	// answers (the zero value).
	JSONSnakeCase JSONStyle = iota
	// JSONCamelCase: {"refreshToken"} requests and {"accessToken",
	// "refreshToken","tokenType","expiresIn","refreshExpiresIn"} (or
	// "expiresAt", "refreshExpiresAt") answers. A snake_case refresh_token
	// in a request is ignored.
	JSONCamelCase
	// JSONEnvelope: snake_case requests; answers wrap the snake_case
	// token object in {"data":{...}}.
	JSONEnvelope
)

// Challenge selects how the protected API (/api/) answers a request whose
// access token is expired, revoked, unknown or malformed. A request with no
// Authorization header at all gets 401 with a bare Bearer realm="authtest"
// challenge in every style but ChallengeNone and ChallengeHydra (RFC 6750
// section 3.1: no error code when no credentials were sent).
type Challenge int

const (
	// ChallengeInvalidToken: 401 with WWW-Authenticate: Bearer
	// realm="authtest", error="invalid_token", error_description="..."
	// (the zero value; RFC 6750 section 3.1).
	ChallengeInvalidToken Challenge = iota
	// ChallengeBare: 401 with WWW-Authenticate: Bearer realm="authtest",
	// no error code.
	ChallengeBare
	// ChallengeNone: 401 with no WWW-Authenticate header at all.
	ChallengeNone
	// ChallengeInsufficientScope: 403 Forbidden with WWW-Authenticate:
	// Bearer realm="authtest", error="insufficient_scope", as RFC 6750
	// section 3.1 prescribes for that code; a client must not renew its
	// token on it. Counted in [Counters].Forbidden, not Unauthorized.
	ChallengeInsufficientScope
	// ChallengeHydra: 401 with WWW-Authenticate: Bearer
	// error="request_unauthorized", error_description="The request could
	// not be authorized. ...", as Ory Hydra (fosite) answers, with no
	// realm, also when no token was sent.
	ChallengeHydra
)

// Operations passed to [Options].MutateTokenResponse and
// [Server.ProcessThenFail].
const (
	// OpLogin is a login: POST /auth/login, or the password,
	// authorization_code or device code grant of /oauth2/token.
	OpLogin = "login"
	// OpRefresh is a refresh: POST /auth/refresh or the refresh_token grant
	// of /oauth2/token.
	OpRefresh = "refresh"
	// OpClientCredentials is the client_credentials grant of
	// /oauth2/token.
	OpClientCredentials = "client_credentials"
)

// withDefaults returns o with every zero field that has a default set, and
// Users copied.
func (o Options) withDefaults() Options {
	if o.Addr == "" {
		o.Addr = DefaultAddr
	}
	if o.AccessTTL <= 0 {
		o.AccessTTL = DefaultAccessTTL
	}
	if o.RefreshTTL <= 0 {
		o.RefreshTTL = DefaultRefreshTTL
	}
	users := map[string]string{DefaultUser: DefaultPassword}
	if o.Users != nil {
		users = make(map[string]string, len(o.Users))
		for u, p := range o.Users {
			users[u] = p
		}
	}
	o.Users = users
	if o.ClientID == "" {
		o.ClientID = DefaultClientID
	}
	if o.ClientSecret == "" {
		o.ClientSecret = DefaultClientSecret
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.TokenType == "" {
		o.TokenType = "Bearer"
	}
	if o.DeviceCodeTTL < time.Second {
		o.DeviceCodeTTL = DefaultDeviceCodeTTL
	}
	o.DeviceInterval = o.DeviceInterval.Truncate(time.Second)
	if o.DeviceInterval <= 0 {
		o.DeviceInterval = DefaultDeviceInterval
	}
	return o
}
