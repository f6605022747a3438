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
//   - POST /debug/revoke-access, /debug/revoke-all, /debug/fail (with
//     optional headers) and /debug/delay: the test hooks below, for a server
//     in another process. Every /debug/ call must come from a loopback peer,
//     with a loopback Host header (127.0.0.0/8, [::1] or localhost) and the
//     header X-Tokenrefresh-Debug: 1 ([DebugHeader]), so that no web page
//     can drive them; anything else gets 403.
//
// Every response carries a Date header from the server's own clock
// ([Config].Now plus [Config].ClockOffset), which also decides token expiry.
//
// # Test hooks
//
// [Server.FailNext], [Server.SetDelay], [Server.RevokeAccessTokens],
// [Server.RevokeAll] and an injectable clock ([Config].Now) let tests provoke
// every failure a real authorization server can produce. Tokens and
// passwords are never logged. All hooks are safe for concurrent use.
//
// Faults that leave a request unprocessed (a refresh token sent with it is
// not spent, no login happens):
//
//   - [Server.FailNextWith] answers the next N requests to a path with a
//     [Fault]: any status, headers (503 or 429 with Retry-After: 1) and body.
//     [Server.FailNext] is the header-less shorthand.
//   - [Server.RedirectNext] answers the next N requests to a path with a
//     302, 307 or 308 to a given Location, by default the same URL (a loop).
//
// Faults that process the request and then lose the answer:
//
//   - [Server.ProcessThenFail] (for refreshes, [Server.RotateThenFail]): the
//     next N login or refresh requests are handled in full (a refresh
//     token is spent and its successor stored as valid) and then answered
//     with 504 Gateway Timeout ([Lost504HTML], [Lost504Empty]) or with a
//     connection closed without any response ([LostReset]).
//
// Odd but successful servers:
//
//   - [Config].MutateTokenResponse or [Server.SetMutateTokenResponse]
//     rewrite token responses (expires_in 0, negative, huge or a string,
//     a numeric token_type, no access_token...) while the server issues
//     and stores tokens as usual. [Config].ExpiresIn picks expires_in as a
//     number, a string, nothing, or absolute expires_at/refresh_expires_at
//     epoch seconds ([ExpiresAtEpoch]).
//   - [Config].ClockOffset runs the server's clock ahead or behind.
//   - [Config].ReuseGrace accepts a just-rotated refresh token again for a
//     while, with a fresh pair and no revocation (Okta, Auth0, Hydra).
//   - [Config].BadCredentialsStatus answers a wrong password with another
//     status, such as 500.
//
// # Counters
//
// [Server.Stats] counts logins, refreshes and their failures, the requests
// that reached the login and refresh logic (LoginRequests,
// RefreshRequests), reuse detections, grace reuses, injected failures,
// redirects, lost answers and resets, and MaxPresentations: how many times
// the most re-sent refresh token was presented. [Server.Presentations]
// gives the count per token, keyed by the non-secret [TokenLabel].
package demoserver
