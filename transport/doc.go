// Package transport provides [Transport], an [http.RoundTripper] that
// authorizes requests with tokens from a [Source] and renews a token that a
// server rejects.
//
// # Request path
//
// For each request the Transport asks Source for the current token, sends a
// shallow copy of the request with its own Header map carrying
// "Authorization: <type> <token>", and returns the response. The caller's
// request is never modified.
//
// # 401 handling
//
// When the response is 401 Unauthorized, the WWW-Authenticate header
// decides (RFC 6750 section 3.1):
//
//   - no WWW-Authenticate at all: renewable. Many servers send a bare 401;
//   - a challenge for the token's scheme (normally Bearer) with
//     error="insufficient_scope": returned as is, since a new token with the
//     same scopes would not help;
//   - any other challenge for the token's scheme: renewable. RFC 6750 names
//     error="invalid_token", but real servers use other codes for a revoked
//     token (Ory Hydra: error="request_unauthorized"), and the request is
//     retried at most once anyway;
//   - only challenges of other schemes (say Basic): not about our token,
//     returned as is.
//
// For a renewable 401 the Transport reports tokensource.EventUnauthorized
// and reads the response body so that the connection is freed for reuse,
// but only what arrives within 50ms in all, and at most 4 KiB: a body still
// arriving then is closed, and its HTTP/1 connection with it, so a server
// that stalls or trickles a 401 body cannot hold the request. If Source already
// holds a token other than the rejected one, another request renewed it
// meanwhile: the request is retried with it at once
// (tokensource.EventRequestStaleRetry) and nothing is refreshed. Otherwise, if
// Source implements [Renewer], Renew is called with the rejected token and
// the request is retried once with the new token. There is never a second
// retry: a 401 to the retry is returned to the caller. Every answer other
// than 401 is reported to a Source that is an [Acceptor]; a
// *tokensource.Source uses it to tell a revoked token (renewed at once)
// from an API that refuses every token: a renewal's token rejected before
// any server accepted it is not renewed again for a while, and its 401 is
// returned (tokensource.EventRequestRejectedAgain).
//
// A request body is replayed only through Request.GetBody (set by
// http.NewRequest for in-memory bodies). A request whose body cannot be
// replayed does not race a refresh: when Source is a [Settler] (as
// *tokensource.Source is), such a request waits for a refresh in flight or
// due (bounded by its context) and goes out with the new token, so a server
// that kills the old access token on refresh does not reject it. If it is
// answered 401 all the same, the original 401 is returned, its body still readable, but the token has been
// renewed so the next request succeeds. The same 401 is returned when
// Source cannot renew (it is not a Renewer). A returned 401 whose body was
// cut short, as above, keeps its status and headers; reading its body
// yields the bytes that arrived and then an error, never an early end that
// looks complete. When renewal fails, the 401 is discarded and RoundTrip
// returns an error wrapping the Source's error, so
// errors.Is(err, tokensource.ErrReauthRequired) tells the caller to log in
// again.
//
// # Where tokens are not sent
//
//   - A request that already has an Authorization header is sent unchanged.
//   - On a redirect hop (Request.Response set by [http.Client]) to another
//     origin (scheme, host and port) than the first request of the chain,
//     the request is sent unchanged, without a token.
//   - Over plain http:// to a host that is not loopback, RoundTrip fails
//     with [ErrInsecureTransport] unless AllowInsecureHTTP is set; Source is
//     not consulted.
//
// Neither errors, panics nor log records of this package ever contain a
// token.
package transport
