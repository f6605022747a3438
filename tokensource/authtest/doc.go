// Package authtest is a fake authorization server and protected API for
// testing code that uses tokens: what [net/http/httptest] is for HTTP, this
// is for token expiry, revocation, rotation, reuse detection and a flaky
// token endpoint.
//
//	srv := authtest.NewServer(t, authtest.Options{AccessTTL: 2 * time.Second})
//	src := &tokensource.Source{Grant: &tokensource.PasswordGrant{
//		TokenURL: srv.TokenURL(), ClientID: srv.ClientID, ClientSecret: srv.ClientSecret,
//		Username: srv.User, Password: srv.Password}}
//	client := &http.Client{Transport: &transport.Transport{Source: src}}
//	// ... use client against srv.APIURL("/items") ...
//	srv.RevokeAccessTokens()
//	// ... assert on srv.Counters() and srv.Events() ...
//
// The server speaks both API styles token clients meet: RFC 6749 (password,
// refresh_token and client_credentials grants, the authorization code
// grant with PKCE for native apps, the RFC 8628 device authorization
// grant, client authentication by HTTP Basic or form fields, RFC 7009
// revocation, RFC 8414 and OpenID Connect discovery) and an in-house JSON
// login API in several naming styles. It issues opaque random tokens with a real lifetime,
// rotates refresh tokens strictly and revokes a whole token family when a
// spent refresh token comes back, as Okta and Auth0 do with rotation
// enabled. Every failure a real server can produce can be injected,
// and everything it did can be asserted on.
//
// The package imports nothing from the rest of its module: it speaks JSON
// and forms on the wire only, so it tests any client, not only this
// module's.
//
// # What it is not
//
// It is not an authorization server for production, nor a conformance
// suite. It keeps everything in memory and forgets it on Close; it knows
// one OAuth2 client and a handful of demo users (passwords compared in
// constant time, but kept in memory in the clear); its authorization and
// device flows log in the demo user with no login page; it has no
// consent screen, no scopes (a requested scope is echoed back), no signed
// JWTs (the id_token it returns for the "openid" scope is unsigned, alg
// "none", and its OpenID Connect discovery document is the RFC 8414 one,
// without the OpenID-only fields) and no TLS, and is not hardened against
// hostile networks. It listens on loopback only unless told otherwise.
//
// # Starting a server
//
// [NewServer] is for tests: it takes a [testing.TB], listens on a free
// loopback port, fails the test if it cannot, and closes at the end of the
// test through t.Cleanup. [New] and [Server.Close] are for programs (a
// main, a demo, a CLI's serve command). Each Server is independent, so
// parallel tests may each start their own; none uses package-level state.
// Servers leave no goroutine behind once closed (checked with goleak), and
// are safe for concurrent use and under the race detector.
//
// # Endpoints
//
//   - POST /auth/login {"username","password"} ([Server.LoginURL]) answers
//     a token pair: {"access_token","refresh_token","token_type":"Bearer",
//     "expires_in","refresh_expires_in"}. Each login starts a token family.
//   - POST /auth/refresh {"refresh_token"} ([Server.RefreshURL]) rotates:
//     the presented refresh token is spent and a new pair of the same
//     family is issued. A spent (reused) refresh token is treated as theft:
//     the whole family is revoked and the answer is 401
//     {"error":"invalid_grant","error_description":"refresh token reused"}.
//     Expired, unknown or revoked refresh tokens get the same error with
//     another description.
//   - POST /auth/logout {"refresh_token"} and/or a Bearer access token
//     ([Server.LogoutURL]) revokes the family and answers 204.
//   - POST /oauth2/token ([Server.TokenURL]): RFC 6749, form-encoded,
//     password and refresh_token grants with the same rotation and reuse
//     detection (refusals are 400 invalid_grant), client authentication by
//     HTTP Basic (form-encoded per RFC 6749 section 2.3.1, or raw) or by
//     client_id/client_secret form fields. The client_credentials grant
//     (RFC 6749 section 4.4) answers an access token with expires_in and
//     no refresh token, for the client itself (the API's "user" is the
//     client id); each one counts in [Counters].ClientCredentials, not in
//     Logins.
//   - GET /oauth2/authorize ([Server.AuthorizationURL]): the authorization
//     endpoint of a native app's login (RFC 6749 section 4.1, RFC 8252):
//     PKCE with S256 required (RFC 7636), a loopback http redirect_uri
//     (any port). The demo user ([Server].User) approves at once and the
//     browser is redirected back with a single-use code (one minute), the
//     state and iss (RFC 9207); [Server.DenyAuthorization] makes the next
//     request come back with error=access_denied, and with
//     [Options].RequireApproval each request waits for
//     [Server.ApproveAuthorization] or DenyAuthorization. The
//     authorization_code grant of /oauth2/token checks the client, the
//     redirect_uri and the code_verifier; a code presented twice revokes
//     the tokens it gave. Each approved request counts in
//     [Counters].AuthorizationCodes, each exchange in Logins.
//   - POST /oauth2/device_authorization ([Server.DeviceAuthorizationURL]):
//     RFC 8628 device codes, with a user code such as "WDJB-MJHT", the
//     verification URI [Server.VerificationURL] (a page with Approve and
//     Deny buttons, acting as the demo user), expires_in
//     ([Options].DeviceCodeTTL) and interval ([Options].DeviceInterval).
//     The device code grant of /oauth2/token answers
//     authorization_pending until [Server.ApproveDevice] or
//     [Server.DenyDevice] (access_denied), slow_down to a poll sooner than
//     the interval (which then grows by 5 seconds), expired_token once the
//     code expired, and the tokens once, after approval.
//   - A login answer of either flow carries an unsigned id_token when the
//     scope asks for "openid".
//   - GET /.well-known/oauth-authorization-server (RFC 8414) and
//     GET /.well-known/openid-configuration: the metadata document, whose
//     issuer is [Server.IssuerURL] (the server's URL), with
//     authorization_endpoint, token_endpoint,
//     device_authorization_endpoint, revocation_endpoint,
//     grant_types_supported, response_types_supported,
//     code_challenge_methods_supported and
//     token_endpoint_auth_methods_supported; [Options].MutateDiscovery
//     changes the document (an issuer mismatch, a plain-http endpoint, a
//     missing endpoint...).
//   - POST /oauth2/revoke ([Server.RevokeURL]): RFC 7009; a refresh token
//     revokes its family, an access token only itself.
//   - The protected API ([Server.APIURL]): GET /api/profile, /api/items,
//     /api/items/{id}, /api/large?bytes=N (N bytes, default 1 MiB),
//     POST /api/echo (answers its JSON body), GET /api/redirect?to=URL (a
//     302). A request without a valid access token is refused as
//     [Options].Challenge says: by default 401 with WWW-Authenticate:
//     Bearer realm="authtest", error="invalid_token".
//
// Every response carries a Date header from the server's own clock
// ([Options].Now plus [Options].ClockOffset), which also decides token
// expiry.
//
// # Options
//
// Every field of [Options] has a useful zero value:
//
//   - Addr, AllowNonLoopback: where New and NewServer listen (a free
//     loopback port; non-loopback addresses are refused unless allowed).
//   - AccessTTL, RefreshTTL: token lifetimes (15 minutes and 12 hours).
//   - Users: user names and passwords (alice/wonderland); [LoadUsers]
//     reads them from a file.
//   - ClientID, ClientSecret, PublicClient, AnyClient: the one OAuth2
//     client (authtest-client/authtest-secret), a public client known by
//     its id alone, or no client authentication at all.
//   - Now, ClockOffset: the clock, and a server clock running ahead or
//     behind it (tests of absolute expiries against a skewed server).
//   - Logger: an [log/slog.Logger] for the event log (silent by default).
//   - JSONStyle: the JSON API's naming: snake_case, camelCase, or an
//     envelope {"data":{...}} ([JSONStyle]).
//   - ExpiresIn: lifetimes as numbers, strings, absent, or absolute
//     expires_at epoch seconds ([ExpiresInStyle]).
//   - TokenType: the token_type sent ("Bearer").
//   - Challenge: how the API refuses a token: invalid_token, a bare
//     Bearer challenge, no challenge, 403 insufficient_scope, or Ory
//     Hydra's error="request_unauthorized" ([Challenge]).
//   - DisableRotation, ReuseGrace: no rotation (the refresh token stays
//     valid), or strict rotation with a grace period during which a just
//     rotated refresh token is accepted again without revoking anything.
//   - BadCredentialsStatus: the status of a wrong password (500, say).
//   - MutateTokenResponse: rewrite successful token responses (odd
//     expires_in values, a numeric token_type, no access_token...).
//   - MutateDiscovery: rewrite the metadata document.
//   - RequireApproval, DeviceCodeTTL, DeviceInterval: the interactive
//     flows (authorization requests that wait for a decision, device code
//     lifetime and polling interval).
//
// # Fault injection
//
// Faults that leave a request unprocessed (a refresh token sent with it is
// not spent, no login happens):
//
//   - [Server.FailNext] fails the next N calls to any token endpoint with a
//     status; [Server.FailNextWith] with any [Fault] (headers such as
//     Retry-After, any body, a truncated JSON body);
//     [Server.MalformedNext] answers 200 with an HTML page instead of a
//     token.
//   - [Server.FailAPI] and [Server.FailAPIWith] do the same for the
//     protected API.
//   - [Server.FailPath] and [Server.RedirectPath] answer the next N
//     requests to one path with a Fault, or with a 302, 307 or 308 (by
//     default to the same URL: a loop).
//   - [Server.SetDelay] delays every request to a path.
//
// Faults that process the request and then lose the answer:
//
//   - [Server.ProcessThenFail] (for refreshes, [Server.RotateThenFail]):
//     the next N login or refresh requests are handled in full (a refresh
//     token is spent and its successor stored as valid) and then answered
//     with 504 Gateway Timeout ([Lost504HTML], [Lost504Empty]) or with a
//     connection closed without any response ([LostReset]).
//
// Server-side events: [Server.RevokeAccessTokens] (every access token dies,
// refresh tokens live) and [Server.RevokeAll] (every family dies).
//
// # Counters and events
//
// [Server.Counters] counts logins, refreshes and their failures,
// authorization codes, device codes and polls, denials, replays of
// spent refresh tokens (Reuses), grace reuses, 401 and 403 answers,
// revocations, injected failures, redirects, lost answers and resets, and
// MaxPresentations: how many times the most re-sent refresh token was
// presented. [Server.Presentations] gives the count per token.
// [Server.Events] is the event log: what was issued, refreshed, rejected
// and revoked, by whom and why. Tokens appear in events, logs and
// Presentations only as labels ([TokenLabel]), never as values; passwords
// and the client secret never appear.
//
// # Debug endpoints
//
// For a server in another process (tokenrefresh serve-demo), the same
// hooks are served over HTTP:
//
//   - GET /debug/stats: [Server.Counters] as JSON.
//   - GET /debug/events: [Server.Events] as JSON.
//   - POST /debug/revoke-access, /debug/revoke-all: RevokeAccessTokens,
//     RevokeAll.
//   - POST /debug/fail?path=P&n=N&status=S[&body=B][&header=Name:+value]:
//     [Server.FailPath].
//   - POST /debug/delay?path=P&delay=D: [Server.SetDelay].
//   - POST /debug/authorize?decision=approve|deny:
//     [Server.ApproveAuthorization], [Server.DenyAuthorization].
//   - POST /debug/device?decision=approve|deny[&user_code=C]:
//     [Server.ApproveDevice], [Server.DenyDevice] (every pending device
//     code when user_code is absent).
//
// Every /debug/ call must come from a loopback peer, with a loopback Host
// header (127.0.0.0/8, [::1] or localhost) and the header
// X-Tokenrefresh-Debug: 1 ([DebugHeader]), so that no web page can drive
// them (a cross-site request cannot add the header without a CORS
// preflight, which is never approved; DNS rebinding fails on the Host
// check); anything else gets 403.
package authtest
