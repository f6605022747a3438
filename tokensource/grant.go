package tokensource

import (
	"context"
	"time"
)

// Grant obtains tokens from an authorization server. [PasswordGrant] speaks
// standard OAuth2 token endpoints and [JSONGrant] in-house JSON APIs; any
// other implementation works with [Source] too.
//
// Implementations must be safe for concurrent use. Returned tokens carry
// absolute expiry times computed when the response arrived.
type Grant interface {
	// Login obtains a new token with the grant's credentials. When it has
	// none, or the server rejects them, the error satisfies
	// errors.Is(err, ErrReauthRequired). Like Refresh it sends the
	// credentials at most once, and an answer with a refresh token but no
	// access token comes back as both a *Token holding only the
	// RefreshToken and an error.
	Login(ctx context.Context) (*Token, error)
	// Refresh exchanges refreshToken for a new token. If the response
	// carries no refresh token the returned token's RefreshToken is
	// refreshToken.
	//
	// Refresh must send the refresh token at most once: it may re-send the
	// request only when it provably did not reach the server. Its error
	// tells the Source what became of the refresh token:
	//   - errors.Is(err, ErrRefreshOutcomeUnknown): the request may have
	//     reached the server and no usable answer came back (a reset or
	//     timeout after sending, a 5xx other than 501 and 503, a redirect,
	//     an unreadable body, a success answer with no token at all); the
	//     token may be spent and is not sent again.
	//   - otherwise errors.Is(err, ErrReauthRequired): the server rejected
	//     the refresh token (invalid, expired, revoked or reused).
	//   - any other error: the server did not act on it; the token is
	//     still good.
	// An answer that rotated the refresh token but is otherwise unusable
	// (no access token) is returned as both a *Token holding only the new
	// RefreshToken and an error, so the new refresh token is not lost.
	Refresh(ctx context.Context, refreshToken string) (*Token, error)
}

// Revoker is implemented by grants whose server can revoke a token on
// logout (RFC 7009 revocation, or a JSON logout endpoint).
type Revoker interface {
	Revoke(ctx context.Context, tok *Token) error
}

// ReuseGracer is implemented by grants whose server accepts a rotated-away
// refresh token once more for a while after rotating it (a reuse grace
// period, as Okta, Auth0, Cognito and Ory Hydra offer). Inside the grace
// period a [Source] may send a refresh token whose outcome is unknown
// ([ErrRefreshOutcomeUnknown]) one more time, and only once, instead of
// logging in again. Zero means no grace: a refresh token is sent at most
// once.
type ReuseGracer interface {
	RefreshReuseGrace() time.Duration
}

// Interactive is implemented by grants whose Login needs a human (a
// browser, a device code typed elsewhere): [AuthCodeGrant]-style flows.
// A [Source] never runs such a login by itself: when the refresh token is
// dead it returns [ErrReauthRequired], and only an explicit
// [Source.Login], on the caller's context, runs the flow.
type Interactive interface {
	Interactive() bool
}

// interactive reports whether g's Login needs a human.
func interactive(g Grant) bool {
	i, ok := g.(Interactive)
	return ok && i.Interactive()
}
