// Package demoserver is a small secured API with its own token endpoints: the
// server the tokenrefresh demo talks to, and the fake authorization server the
// repository's tests run against (it speaks wire JSON and forms only, and
// imports nothing from this module).
//
// # Endpoints
//
//   - POST /auth/login {"username","password"} answers a token pair:
//     {"access_token","refresh_token","token_type":"Bearer","expires_in",
//     "refresh_expires_in"}. Each login starts a token family.
//   - POST /auth/refresh {"refresh_token"} rotates: the presented refresh token
//     is spent and a new pair of the same family is issued. A spent (reused)
//     refresh token is treated as theft: the whole family is revoked and the
//     answer is 401 {"error":"invalid_grant","error_description":"refresh
//     token reused"}. Expired, unknown or revoked refresh tokens get the same
//     error with another description.
//   - POST /auth/logout {"refresh_token"} and/or a Bearer access token revokes
//     the family and answers 204.
//   - POST /oauth2/token (RFC 6749, form-encoded, password and refresh_token
//     grants, client authentication by HTTP Basic or form fields) and
//     POST /oauth2/revoke (RFC 7009) over the same users and tokens.
//   - GET /api/profile, GET /api/items, GET /api/items/{id},
//     GET /api/large?bytes=N, POST /api/echo, GET /api/redirect?to=URL:
//     protected resources answering 401 with
//     WWW-Authenticate: Bearer realm="demo", error="invalid_token" for an
//     expired, revoked or unknown token.
//   - GET /debug/stats: the counters of [Stats] as JSON.
//   - POST /debug/revoke-access, /debug/revoke-all, /debug/fail and
//     /debug/delay: the test hooks below, for a server in another process
//     (loopback peers only).
//
// # Test hooks
//
// [Server.FailNext], [Server.SetDelay], [Server.RevokeAccessTokens],
// [Server.RevokeAll] and an injectable clock ([Config].Now) let tests provoke
// every failure a real authorization server can produce. Tokens are never
// logged.
package demoserver
