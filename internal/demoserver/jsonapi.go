package demoserver

import (
	"crypto/subtle"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// tokenResponse builds the JSON answer for an issued pair, shared by the
// JSON API and the OAuth2 endpoint.
func (s *Server) tokenResponse(p pair) map[string]any {
	resp := map[string]any{
		"access_token": p.access,
		"token_type":   s.cfg.TokenType,
	}
	if p.refresh != "" {
		resp["refresh_token"] = p.refresh
	}
	s.putExpiry(resp, "expires", p.issued, s.cfg.AccessTTL)
	if p.refresh != "" {
		s.putExpiry(resp, "refresh_expires", p.issued, s.cfg.RefreshTTL)
	}
	return resp
}

// putExpiry sets prefix+"_in" (the lifetime d) or, with ExpiresAtEpoch,
// prefix+"_at" (issued+d in Unix seconds), as the ExpiresIn style says.
func (s *Server) putExpiry(m map[string]any, prefix string, issued time.Time, d time.Duration) {
	secs := int64(d / time.Second)
	switch s.cfg.ExpiresIn {
	case ExpiresInString:
		m[prefix+"_in"] = strconv.FormatInt(secs, 10)
	case ExpiresInOmitted:
	case ExpiresAtEpoch:
		m[prefix+"_at"] = issued.Add(d).Unix()
	default:
		m[prefix+"_in"] = secs
	}
}

// SetMutateTokenResponse replaces the hook that may change successful token
// responses before they are written (initially
// [Config].MutateTokenResponse; see there); nil removes it. Requests already
// past the hook are not affected. Safe for concurrent use.
func (s *Server) SetMutateTokenResponse(fn func(op string, body map[string]any)) {
	if fn == nil {
		s.mutate.Store(nil)
		return
	}
	s.mutate.Store(&fn)
}

// writeToken answers a successful token response for op, not cacheable,
// after the MutateTokenResponse hook.
func (s *Server) writeToken(w http.ResponseWriter, op string, body map[string]any) {
	if fn := s.mutate.Load(); fn != nil {
		(*fn)(op, body)
	}
	noStore(w)
	writeJSON(w, http.StatusOK, body)
}

// badCredentials answers a wrong user name or password: status def, or
// Config.BadCredentialsStatus when set.
func (s *Server) badCredentials(w http.ResponseWriter, def int, code string) {
	status := def
	if c := s.cfg.BadCredentialsStatus; c >= 200 && c <= 999 {
		status = c
	}
	writeError(w, status, code, "invalid username or password")
}

// checkPassword reports whether user exists with password pass, in time
// independent of how much of the password matched.
func (s *Server) checkPassword(user, pass string) bool {
	want, ok := s.cfg.Users[user]
	if !ok {
		// Compare anyway so unknown users cost the same.
		want = "\x00"
	}
	eq := subtle.ConstantTimeCompare([]byte(pass), []byte(want)) == 1
	return ok && eq
}

// login checks credentials and starts a family; ok is false for bad
// credentials (counted and logged, never with the password).
func (s *Server) login(user, pass, via string) (p pair, ok bool) {
	if !s.checkPassword(user, pass) {
		s.stats.failedLogins.Add(1)
		s.log.Info("demoserver: login refused", "user", user, "via", via)
		return pair{}, false
	}
	p = s.tokens.login(user, s.now(), s.cfg.AccessTTL, s.cfg.RefreshTTL)
	s.stats.logins.Add(1)
	s.log.Info("demoserver: login", "user", user, "family", p.family, "via", via)
	return p, true
}

// refresh redeems rt, counting and logging the outcome.
func (s *Server) refresh(rt, via string) refreshResult {
	res := s.tokens.redeem(rt, s.now(), s.cfg.AccessTTL, s.cfg.RefreshTTL, !s.cfg.DisableRotation)
	switch {
	case res.graced:
		s.stats.refreshes.Add(1)
		s.stats.grace.Add(1)
		s.log.Info("demoserver: spent refresh token reused within the grace period",
			"user", res.pair.user, "family", res.pair.family, "via", via)
	case res.reused:
		s.stats.failedRefreshes.Add(1)
		s.stats.reuse.Add(1)
		s.log.Warn("demoserver: refresh token reused, family revoked",
			"user", res.pair.user, "family", res.pair.family, "via", via)
	case res.reason != "":
		s.stats.failedRefreshes.Add(1)
		s.log.Info("demoserver: refresh refused", "reason", res.reason, "via", via)
	default:
		s.stats.refreshes.Add(1)
		s.log.Info("demoserver: refresh", "user", res.pair.user, "family", res.pair.family, "via", via)
	}
	return res
}

func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Username string `json:"username"`
		Password string `json:"password"`
	}
	if !decodeJSON(w, r, &req) {
		return
	}
	if req.Username == "" || req.Password == "" {
		writeError(w, http.StatusBadRequest, "invalid_request", "username and password are required")
		return
	}
	p, ok := s.login(req.Username, req.Password, "json")
	if s.loseReply(w, OpLogin) {
		return
	}
	if !ok {
		s.badCredentials(w, http.StatusUnauthorized, "invalid_credentials")
		return
	}
	s.writeToken(w, OpLogin, s.tokenResponse(p))
}

func (s *Server) handleRefresh(w http.ResponseWriter, r *http.Request) {
	var req struct {
		RefreshToken string `json:"refresh_token"`
	}
	if !decodeJSON(w, r, &req) {
		return
	}
	if req.RefreshToken == "" {
		writeError(w, http.StatusBadRequest, "invalid_request", "refresh_token is required")
		return
	}
	res := s.refresh(req.RefreshToken, "json")
	if s.loseReply(w, OpRefresh) {
		return
	}
	if res.reason != "" {
		writeError(w, http.StatusUnauthorized, "invalid_grant", res.reason)
		return
	}
	s.writeToken(w, OpRefresh, s.tokenResponse(res.pair))
}

// handleLogout revokes the family of the refresh token in the body and/or
// of the Bearer access token. Unknown tokens are not an error (logout is
// idempotent); a request carrying neither is.
func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request) {
	var req struct {
		RefreshToken string `json:"refresh_token"`
	}
	b, ok := readBody(w, r)
	if !ok {
		return
	}
	if len(strings.TrimSpace(string(b))) > 0 {
		if !decodeJSONBytes(w, b, &req) {
			return
		}
	}
	at, _ := bearerToken(r)
	if req.RefreshToken == "" && at == "" {
		writeError(w, http.StatusBadRequest, "invalid_request", "refresh_token or a Bearer access token is required")
		return
	}
	revoked := false
	for _, tok := range []string{req.RefreshToken, at} {
		if tok != "" && s.tokens.revoke(tok, true) {
			revoked = true
		}
	}
	if revoked {
		s.stats.revocations.Add(1)
		s.log.Info("demoserver: logout")
	}
	w.WriteHeader(http.StatusNoContent)
}

// noStore marks a response as never cacheable (RFC 6749 section 5.1).
func noStore(w http.ResponseWriter) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
}
