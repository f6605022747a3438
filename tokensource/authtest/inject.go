package authtest

import (
	"net/http"
	"time"
)

// FailNext makes the next n requests to any token endpoint (POST
// /auth/login, /auth/refresh and /oauth2/token) answer status with an RFC
// 6749 error body ({"error":"temporarily_unavailable",...} for 503 and
// 429, "server_error" for other 5xx, "invalid_request" for other 4xx)
// instead of being processed: a refresh token they carry is not spent. No
// Retry-After is sent; [Server.FailNextWith] sends any headers. n <= 0
// clears the rule.
func (s *Server) FailNext(status, n int) {
	s.FailNextWith(n, injectedFault(status))
}

// FailNextWith makes the next n requests to any token endpoint (POST
// /auth/login, /auth/refresh and /oauth2/token) answer f instead of being
// processed, such as Fault{Status: 503, Header: http.Header{"Retry-After":
// {"1"}}}, or Fault{Status: 200, Body: `{"access_token":`} for a truncated
// body. A rule set by [Server.FailPath] or [Server.RedirectPath] for the
// exact path of a request is used first. Each answer counts in
// [Counters].InjectedFailures and is recorded as an [EventInjected]. n <=
// 0 clears the rule; a later call replaces it.
func (s *Server) FailNextWith(n int, f Fault) {
	s.arm(groupToken, n, f, false, "")
}

// MalformedNext makes the next n requests to any token endpoint answer 200
// OK with an HTML sign-in page instead of a token, as a captive portal or a
// misrouted single sign-on proxy does. It is a [Server.FailNextWith]: the
// request is not processed.
func (s *Server) MalformedNext(n int) {
	s.FailNextWith(n, Fault{Status: http.StatusOK, Header: http.Header{"Content-Type": {"text/html; charset=utf-8"}},
		Body: "<!DOCTYPE html><html><head><title>Sign in</title></head><body><form>...</form></body></html>\n"})
}

// FailAPI makes the next n requests to the protected API (any path under
// /api/) answer status with an RFC 6749 style error body, as FailNext does
// for the token endpoints, instead of being served. n <= 0 clears the rule.
func (s *Server) FailAPI(status, n int) {
	s.FailAPIWith(n, injectedFault(status))
}

// FailAPIWith makes the next n requests to the protected API (any path
// under /api/) answer f instead of being served. A rule for the exact path
// of a request ([Server.FailPath], [Server.RedirectPath]) is used first.
// n <= 0 clears the rule; a later call replaces it.
func (s *Server) FailAPIWith(n int, f Fault) {
	s.arm(groupAPI, n, f, false, "")
}

// FailPath makes the next n requests to one path (exact match, any method)
// answer f instead of being served. path is a path such as "/auth/refresh"
// or "/api/items", or a URL of the server such as s.RefreshURL() (only its
// path counts). Each answer counts in [Counters].InjectedFailures. n <= 0
// clears the rule; a later FailPath or RedirectPath for the same path
// replaces it.
func (s *Server) FailPath(path string, n int, f Fault) {
	s.arm(pathOf(path), n, f, false, "")
}

// RedirectPath makes the next n requests to one path (as for
// [Server.FailPath]) answer a redirect with status (a 3xx; any other value
// means 307) and a Location header, instead of being served: the
// redirected request is not processed. location "" means the request's
// own path and query, a redirect loop. Each counts in
// [Counters].InjectedRedirects. n <= 0 clears the rule; a later FailPath
// or RedirectPath for the same path replaces it.
func (s *Server) RedirectPath(path string, n int, status int, location string) {
	if status < 300 || status > 399 {
		status = http.StatusTemporaryRedirect
	}
	s.arm(pathOf(path), n, Fault{Status: status}, true, location)
}

// SetDelay makes every request to path (exact match; a path or a URL of
// the server, as for [Server.FailPath]) wait d before it is served. The
// wait ends early, without an answer, when the request's context is done
// (the client gave up), or with the answer after [Server.StopDelays]. d <=
// 0 clears the delay.
func (s *Server) SetDelay(path string, d time.Duration) {
	path = pathOf(path)
	s.injMu.Lock()
	defer s.injMu.Unlock()
	if d <= 0 {
		delete(s.delays, path)
		return
	}
	s.delays[path] = d
}

// StopDelays ends every current and future delay set by [Server.SetDelay]
// at once, so a server can be closed without waiting for sleeping requests.
// [Server.Close] calls it. It may be called repeatedly.
func (s *Server) StopDelays() {
	s.stopOnce.Do(func() { close(s.stopDelays) })
}

// RevokeAccessTokens revokes every access token issued so far, while they
// are still valid by the clock; refresh tokens stay valid. Clients then see
// 401 on the API and must refresh.
func (s *Server) RevokeAccessTokens() { s.revokeAccess("") }

func (s *Server) revokeAccess(via string) {
	s.tokens.revokeAllAccess()
	s.tally.revocations.Add(1)
	s.record(Event{Kind: EventRevoked, Via: via, Reason: "RevokeAccessTokens: every access token"})
}

// RevokeAll revokes every token family issued so far (access and refresh
// tokens), forcing every client to log in again.
func (s *Server) RevokeAll() { s.revokeAll("") }

func (s *Server) revokeAll(via string) {
	s.tokens.revokeAll()
	s.tally.revocations.Add(1)
	s.record(Event{Kind: EventRevoked, Via: via, Reason: "RevokeAll: every token family"})
}

// wait applies the delay configured for r's path. It returns false when the
// request was abandoned and must not be answered.
func (s *Server) wait(r *http.Request) bool {
	s.injMu.Lock()
	d := s.delays[r.URL.Path]
	s.injMu.Unlock()
	if d <= 0 {
		return true
	}
	s.waiting.Add(1)
	defer s.waiting.Add(-1)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-s.stopDelays:
		return true
	case <-r.Context().Done():
		return false
	}
}
