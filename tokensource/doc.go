// Package tokensource obtains, refreshes and persists the tokens that
// authorize HTTP requests.
//
// # Pieces
//
// A [Token] is an access token with its refresh token and expiry times. A
// [Grant] talks to an authorization server: [PasswordGrant] speaks standard
// OAuth2 token endpoints (RFC 6749) and [JSONGrant] in-house JSON login and
// refresh APIs. A [Source] sits in front of a Grant and a storage.Store and
// hands out valid tokens to any number of goroutines.
//
// # The failure ladder
//
// A valid token is returned from memory. Inside its early-refresh margin it
// is still returned while one background refresh replaces it. An expired
// token, or one a server rejected ([Source.Renew]), makes callers wait for a
// single shared refresh. A dead refresh token (rejected, expired or already
// used) leads to logging in again with the Grant's credentials, and when that
// is impossible to an error satisfying errors.Is(err, [ErrReauthRequired]).
//
// # Persistence
//
// Every new token is saved to the Store before any caller sees it, in the
// versioned JSON of [EncodeToken]. When the Store also implements
// storage.Locker, refreshes are serialized across processes: the refresh
// re-reads the store under the lock and adopts a token that another process
// already rotated, so processes sharing one login never spend the same
// refresh token twice.
//
// # Secrets
//
// Tokens redact themselves when printed, logged or marshaled; errors carry
// no token, password or client secret.
package tokensource
