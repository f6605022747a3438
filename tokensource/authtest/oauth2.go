package authtest

import (
	"crypto/subtle"
	"errors"
	"net/http"
	"net/url"
	"strings"
)

// parseForm parses a form-encoded POST body of at most maxBody bytes,
// answering 413 or 400 on failure.
func parseForm(w http.ResponseWriter, r *http.Request) bool {
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	if err := r.ParseForm(); err != nil {
		if mbe := (*http.MaxBytesError)(nil); errors.As(err, &mbe) {
			writeError(w, http.StatusRequestEntityTooLarge, "invalid_request", "request body too large")
		} else {
			writeError(w, http.StatusBadRequest, "invalid_request", "malformed form body")
		}
		return false
	}
	return true
}

// clientOK authenticates the OAuth2 client by HTTP Basic or by
// client_id/client_secret form fields. RFC 6749 section 2.3.1 form-encodes
// Basic credentials (as x/oauth2 does); many clients send them raw, so both
// readings are accepted. On failure it has answered 401 invalid_client.
func (s *Server) clientOK(w http.ResponseWriter, r *http.Request) bool {
	if s.opts.AnyClient {
		return true
	}
	id, secret, basic := r.BasicAuth()
	if !basic {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	ok := s.clientMatches(id, secret)
	if !ok && basic {
		uid, err1 := url.QueryUnescape(id)
		usecret, err2 := url.QueryUnescape(secret)
		ok = err1 == nil && err2 == nil && s.clientMatches(uid, usecret)
	}
	if !ok {
		s.refuseClient(w, basic)
	}
	return ok
}

// clientMatches compares client credentials with the configured ones; a
// public client is known by its id alone.
func (s *Server) clientMatches(id, secret string) bool {
	if subtle.ConstantTimeCompare([]byte(id), []byte(s.opts.ClientID)) != 1 {
		return false
	}
	return s.opts.PublicClient || subtle.ConstantTimeCompare([]byte(secret), []byte(s.opts.ClientSecret)) == 1
}

func (s *Server) refuseClient(w http.ResponseWriter, basic bool) {
	if basic {
		w.Header().Set("WWW-Authenticate", `Basic realm="authtest"`)
	}
	s.record(Event{Kind: EventClientRejected, Via: viaOAuth2, Status: http.StatusUnauthorized,
		Reason: "client authentication failed"})
	writeError(w, http.StatusUnauthorized, "invalid_client", "client authentication failed")
}

// handleToken is the RFC 6749 token endpoint: password, refresh_token,
// client_credentials, authorization_code and device code grants.
func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	noStore(w)
	if !parseForm(w, r) || !s.clientOK(w, r) {
		return
	}
	switch gt := r.PostForm.Get("grant_type"); gt {
	case "password":
		s.passwordGrant(w, r.PostForm)
	case "refresh_token":
		s.refreshGrant(w, r.PostForm)
	case "client_credentials":
		s.clientCredentialsGrant(w, r)
	case "authorization_code":
		s.authorizationCodeGrant(w, r)
	case deviceGrantType:
		s.deviceCodeGrant(w, r)
	case "":
		writeError(w, http.StatusBadRequest, "invalid_request", "grant_type is required")
	default:
		writeError(w, http.StatusBadRequest, "unsupported_grant_type", "supported: "+strings.Join(grantTypes, ", "))
	}
}

func (s *Server) passwordGrant(w http.ResponseWriter, f url.Values) {
	user, pass := f.Get("username"), f.Get("password")
	if user == "" || pass == "" {
		writeError(w, http.StatusBadRequest, "invalid_request", "username and password are required")
		return
	}
	p, ok := s.login(user, pass, viaOAuth2, s.badCredentialsStatus(http.StatusBadRequest))
	if s.loseReply(w, OpLogin, viaOAuth2) {
		return
	}
	if !ok {
		s.badCredentials(w, http.StatusBadRequest, "invalid_grant")
		return
	}
	s.writeToken(w, OpLogin, viaOAuth2, s.oauth2Response(p, f.Get("scope")))
}

func (s *Server) refreshGrant(w http.ResponseWriter, f url.Values) {
	rt := f.Get("refresh_token")
	if rt == "" {
		writeError(w, http.StatusBadRequest, "invalid_request", "refresh_token is required")
		return
	}
	res := s.refresh(rt, viaOAuth2, http.StatusBadRequest)
	if s.loseReply(w, OpRefresh, viaOAuth2) {
		return
	}
	if res.reason != "" {
		writeError(w, http.StatusBadRequest, "invalid_grant", res.reason)
		return
	}
	s.writeToken(w, OpRefresh, viaOAuth2, s.oauth2Response(res.pair, f.Get("scope")))
}

func (s *Server) oauth2Response(p pair, scope string) map[string]any {
	resp := s.tokenResponse(p)
	if scope != "" {
		resp["scope"] = scope
	}
	return resp
}

// handleRevoke is the RFC 7009 revocation endpoint: 200 whether or not the
// token was known; a refresh token revokes its whole family, an access
// token only itself.
func (s *Server) handleRevoke(w http.ResponseWriter, r *http.Request) {
	if !parseForm(w, r) || !s.clientOK(w, r) {
		return
	}
	tok := r.PostForm.Get("token")
	if tok == "" {
		writeError(w, http.StatusBadRequest, "invalid_request", "token is required")
		return
	}
	if s.tokens.revoke(tok, false) {
		s.tally.revocations.Add(1)
		s.record(Event{Kind: EventRevoked, Via: viaOAuth2, Label: TokenLabel(tok), Status: http.StatusOK,
			Reason: "RFC 7009 revocation"})
	}
	w.WriteHeader(http.StatusOK)
}
