package authtest

import (
	"crypto/subtle"
	"net/http"
	"strings"
)

// Values of Event.Via.
const (
	viaJSON   = "json"
	viaOAuth2 = "oauth2"
	viaAPI    = "api"
	viaDebug  = "debug"
)

// reasonReuseRevoked is the Event.Reason of a reuse detection.
const reasonReuseRevoked = "refresh token reused: family revoked"

// badCredentials answers a wrong user name or password: status def, or
// Options.BadCredentialsStatus when set.
func (s *Server) badCredentials(w http.ResponseWriter, def int, code string) {
	writeError(w, s.badCredentialsStatus(def), code, "invalid username or password")
}

func (s *Server) badCredentialsStatus(def int) int {
	if c := s.opts.BadCredentialsStatus; c >= 200 && c <= 999 {
		return c
	}
	return def
}

// checkPassword reports whether user exists with password pass, in time
// independent of how much of the password matched.
func (s *Server) checkPassword(user, pass string) bool {
	want, ok := s.opts.Users[user]
	if !ok {
		// Compare anyway so unknown users cost the same.
		want = "\x00"
	}
	eq := subtle.ConstantTimeCompare([]byte(pass), []byte(want)) == 1
	return ok && eq
}

// login checks credentials and starts a family; ok is false for bad
// credentials. failStatus is the status a refusal is answered with.
func (s *Server) login(user, pass, via string, failStatus int) (p pair, ok bool) {
	if !s.checkPassword(user, pass) {
		s.tally.failedLogins.Add(1)
		s.record(Event{Kind: EventLoginFailed, Via: via, User: user, Status: failStatus,
			Reason: "invalid username or password"})
		return pair{}, false
	}
	p = s.tokens.login(user, s.now(), s.opts.AccessTTL, s.opts.RefreshTTL)
	s.tally.logins.Add(1)
	s.record(Event{Kind: EventLogin, Via: via, User: user, Family: p.family, Issued: issuedLabel(p), Status: http.StatusOK})
	return p, true
}

// refresh redeems rt, counting and recording the outcome; failStatus is
// the status a refusal is answered with.
func (s *Server) refresh(rt, via string, failStatus int) refreshResult {
	res := s.tokens.redeem(rt, s.now(), s.opts.AccessTTL, s.opts.RefreshTTL, !s.opts.DisableRotation)
	e := Event{Kind: EventRefresh, Via: via, User: res.pair.user, Family: res.pair.family,
		Label: TokenLabel(rt), Status: http.StatusOK}
	switch {
	case res.graced:
		s.tally.refreshes.Add(1)
		s.tally.grace.Add(1)
		e.Kind, e.Issued = EventGraceReuse, issuedLabel(res.pair)
		e.Reason = "spent refresh token presented within the reuse grace period"
	case res.reused:
		s.tally.failedRefreshes.Add(1)
		s.tally.reuse.Add(1)
		e.Kind, e.Status, e.Reason = EventReuseDetected, failStatus, reasonReuseRevoked
	case res.reason != "":
		s.tally.failedRefreshes.Add(1)
		e.Kind, e.Status, e.Reason = EventRefreshRejected, failStatus, res.reason
	default:
		s.tally.refreshes.Add(1)
		e.Issued = issuedLabel(res.pair)
	}
	s.record(e)
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
	failStatus := s.badCredentialsStatus(http.StatusUnauthorized)
	p, ok := s.login(req.Username, req.Password, viaJSON, failStatus)
	if s.loseReply(w, OpLogin, viaJSON) {
		return
	}
	if !ok {
		s.badCredentials(w, http.StatusUnauthorized, "invalid_credentials")
		return
	}
	s.writeToken(w, OpLogin, viaJSON, s.tokenResponse(p))
}

// refreshTokenIn decodes the JSON API's request body b and returns the
// refresh token it carries under the JSONStyle's name ("" when none). On
// failure it has answered 400.
func (s *Server) refreshTokenIn(w http.ResponseWriter, b []byte) (rt string, ok bool) {
	var req struct {
		Snake string `json:"refresh_token"`
		Camel string `json:"refreshToken"`
	}
	if !decodeJSONBytes(w, b, &req) {
		return "", false
	}
	if s.opts.JSONStyle == JSONCamelCase {
		return req.Camel, true
	}
	return req.Snake, true
}

func (s *Server) handleRefresh(w http.ResponseWriter, r *http.Request) {
	b, ok := readBody(w, r)
	if !ok {
		return
	}
	rt, ok := s.refreshTokenIn(w, b)
	if !ok {
		return
	}
	if rt == "" {
		writeError(w, http.StatusBadRequest, "invalid_request", s.refreshField()+" is required")
		return
	}
	res := s.refresh(rt, viaJSON, http.StatusUnauthorized)
	if s.loseReply(w, OpRefresh, viaJSON) {
		return
	}
	if res.reason != "" {
		writeError(w, http.StatusUnauthorized, "invalid_grant", res.reason)
		return
	}
	s.writeToken(w, OpRefresh, viaJSON, s.tokenResponse(res.pair))
}

// handleLogout revokes the family of the refresh token in the body and/or
// of the Bearer access token. Unknown tokens are not an error (logout is
// idempotent); a request carrying neither is.
func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request) {
	b, ok := readBody(w, r)
	if !ok {
		return
	}
	var rt string
	if len(strings.TrimSpace(string(b))) > 0 {
		if rt, ok = s.refreshTokenIn(w, b); !ok {
			return
		}
	}
	at, _ := bearerToken(r)
	if rt == "" && at == "" {
		writeError(w, http.StatusBadRequest, "invalid_request", s.refreshField()+" or a Bearer access token is required")
		return
	}
	var labels []string
	for _, tok := range []string{rt, at} {
		if tok != "" && s.tokens.revoke(tok, true) {
			labels = append(labels, TokenLabel(tok))
		}
	}
	if len(labels) > 0 {
		s.tally.revocations.Add(1)
		s.record(Event{Kind: EventRevoked, Via: viaJSON, Label: strings.Join(labels, ","),
			Status: http.StatusNoContent, Reason: "logout: family revoked"})
	}
	w.WriteHeader(http.StatusNoContent)
}
