package demoserver

import (
	"net/http"
	"time"
)

// FailNext makes the next n requests to path (exact match on the URL path,
// any method) answer status with body instead of being served; it is
// FailNextWith(path, n, Fault{Status: status, Body: body}) (see
// [Server.FailNextWith]). Safe for concurrent use.
func (s *Server) FailNext(path string, n int, status int, body string) {
	s.FailNextWith(path, n, Fault{Status: status, Body: body})
}

// SetDelay makes every request to path (exact match) wait d before it is
// served. The wait ends early, without an answer, when the request's context
// is done (the client gave up) or after [Server.StopDelays]. d <= 0 clears
// the delay. Safe for concurrent use.
func (s *Server) SetDelay(path string, d time.Duration) {
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
// [Running.Close] calls it. Safe for concurrent use and to call repeatedly.
func (s *Server) StopDelays() {
	s.stopOnce.Do(func() { close(s.stopDelays) })
}

// RevokeAccessTokens revokes every access token issued so far, while they
// are still valid by the clock; refresh tokens stay valid. Clients then see
// 401 on resources and must refresh. Safe for concurrent use.
func (s *Server) RevokeAccessTokens() {
	s.tokens.revokeAllAccess()
	s.stats.revocations.Add(1)
	s.log.Info("demoserver: all access tokens revoked")
}

// RevokeAll revokes every token family issued so far (access and refresh
// tokens), forcing every client to log in again. Safe for concurrent use.
func (s *Server) RevokeAll() {
	s.tokens.revokeAll()
	s.stats.revocations.Add(1)
	s.log.Info("demoserver: all token families revoked")
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
