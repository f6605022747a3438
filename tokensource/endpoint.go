package tokensource

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/tokenrefresh/tokenrefresh/internal/tokenendpoint"
)

// RetryPolicy bounds how a grant re-sends a token-endpoint request. The
// request may carry a single-use refresh token or a password, so it is
// re-sent only when it provably did not reach the server:
//   - no connection was made (DNS failure, refused or failed dial, TLS
//     handshake failure other than a bad certificate), or the request was
//     not written in full;
//   - the server answered 429 Too Many Requests or 503 Service Unavailable,
//     with or without Retry-After (honoured, capped by MaxRetryAfter).
//
// Everything after the request was written is final and never re-sent: a
// reset or timeout while waiting for the answer, 500, 502, 504 and every
// other 5xx, a redirect, a body that cannot be read. So are 501 and every
// 4xx. Waits grow exponentially with jitter; the caller's context ends the
// whole call, waits included. The zero value is a sensible default.
type RetryPolicy struct {
	// MaxAttempts is the number of requests made at most, the first one
	// included. Zero means 4; 1 disables retries.
	MaxAttempts int
	// MinWait is the base of the exponential backoff. Zero means 500ms.
	MinWait time.Duration
	// MaxWait caps one backoff wait. Zero means 8s.
	MaxWait time.Duration
	// MaxRetryAfter caps a server's Retry-After. Zero means 30s.
	MaxRetryAfter time.Duration
}

// endpointClient is the internal token-endpoint client for a grant's (or
// a Discoverer's) settings: a few words of configuration, made per call
// for one small allocation. The costly part, the retrying client, is
// built once per retry policy inside tokenendpoint and shared; what else
// a call needs (HTTPClient, Logger) travels with its request. So a grant
// keeps no client of its own, and needs none: PasswordGrant and
// ClientCredentialsGrant have value methods and may be copied, and a
// copy whose HTTPClient or Retry was changed must not use the original's.
func endpointClient(hc *http.Client, p RetryPolicy, logger *slog.Logger, allowInsecure bool) *tokenendpoint.Client {
	return &tokenendpoint.Client{HTTPClient: hc, Retry: tokenendpoint.Retry(p), Logger: logger, AllowInsecure: allowInsecure}
}

// exchange sends a token request and reads its answer into a Token. It
// and send are where the internal client's results cross into this
// package: plain token fields become a Token, a Failure a [*TokenError]
// (see tokenError). now is read when the answer has arrived.
//
// A success answer with a refresh token but no access token returns both
// a Token holding only that refresh token and an error.
func exchange(ctx context.Context, ep *tokenendpoint.Client, op string, c *tokenendpoint.Call,
	paths tokenendpoint.Paths, now func() time.Time, oldRefresh string) (*Token, tokenendpoint.Style, error) {
	r, f := ep.Do(ctx, c)
	if f != nil {
		return nil, tokenendpoint.StyleUnknown, tokenError(op, f)
	}
	t, f := c.Token(r, paths, now(), oldRefresh)
	if t == nil {
		return nil, tokenendpoint.StyleUnknown, tokenError(op, f)
	}
	tok := &Token{AccessToken: t.AccessToken, TokenType: t.TokenType, RefreshToken: t.RefreshToken,
		IDToken: t.IDToken, Expiry: t.Expiry, RefreshExpiry: t.RefreshExpiry, ClockSkew: t.ClockSkew}
	if f != nil {
		return tok, t.Style, tokenError(op, f)
	}
	return tok, t.Style, nil
}

// send sends a request whose answer carries no token (a revocation, a
// logout): any success will do.
func send(ctx context.Context, ep *tokenendpoint.Client, op string, c *tokenendpoint.Call) error {
	r, f := ep.Do(ctx, c)
	if f == nil && !r.Success() {
		f = c.Fail(r)
	}
	if f != nil {
		return tokenError(op, f)
	}
	return nil
}
