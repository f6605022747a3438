package authtest

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// tokenResponse builds the snake_case answer for an issued pair, shared by
// the JSON API and the OAuth2 endpoint.
func (s *Server) tokenResponse(p pair) map[string]any {
	resp := map[string]any{
		"access_token": p.access,
		"token_type":   s.opts.TokenType,
	}
	if p.refresh != "" {
		resp["refresh_token"] = p.refresh
	}
	s.putExpiry(resp, "expires", p.issued, s.opts.AccessTTL)
	if p.refresh != "" {
		s.putExpiry(resp, "refresh_expires", p.issued, s.opts.RefreshTTL)
	}
	return resp
}

// putExpiry sets prefix+"_in" (the lifetime d) or, with ExpiresAtEpoch,
// prefix+"_at" (issued+d in Unix seconds), as the ExpiresIn style says.
func (s *Server) putExpiry(m map[string]any, prefix string, issued time.Time, d time.Duration) {
	secs := int64(d / time.Second)
	switch s.opts.ExpiresIn {
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
// [Options].MutateTokenResponse; see there); nil removes it. Requests
// already past the hook are not affected.
func (s *Server) SetMutateTokenResponse(fn func(op string, body map[string]any)) {
	if fn == nil {
		s.mutate.Store(nil)
		return
	}
	s.mutate.Store(&fn)
}

// writeToken answers a successful token response for op, not cacheable,
// after the MutateTokenResponse hook and, for the JSON API (via "json"),
// in the JSONStyle.
func (s *Server) writeToken(w http.ResponseWriter, op, via string, body map[string]any) {
	if fn := s.mutate.Load(); fn != nil {
		(*fn)(op, body)
	}
	noStore(w)
	if via != viaJSON {
		writeJSON(w, http.StatusOK, body)
		return
	}
	switch s.opts.JSONStyle {
	case JSONCamelCase:
		camel := make(map[string]any, len(body))
		for k, v := range body {
			camel[camelCase(k)] = v
		}
		writeJSON(w, http.StatusOK, camel)
	case JSONEnvelope:
		writeJSON(w, http.StatusOK, map[string]any{"data": body})
	default:
		writeJSON(w, http.StatusOK, body)
	}
}

// camelCase turns a snake_case name into camelCase: refresh_expires_in
// becomes refreshExpiresIn.
func camelCase(snake string) string {
	parts := strings.Split(snake, "_")
	for i := 1; i < len(parts); i++ {
		if p := parts[i]; p != "" {
			parts[i] = strings.ToUpper(p[:1]) + p[1:]
		}
	}
	return strings.Join(parts, "")
}

// refreshField is the JSON API's name of the refresh token in requests.
func (s *Server) refreshField() string {
	if s.opts.JSONStyle == JSONCamelCase {
		return "refreshToken"
	}
	return "refresh_token"
}

// issuedLabel labels what p issued: its refresh token, else its access
// token.
func issuedLabel(p pair) string {
	switch {
	case p.refresh != "":
		return TokenLabel(p.refresh)
	case p.access != "":
		return TokenLabel(p.access)
	}
	return ""
}

// noStore marks a response as never cacheable (RFC 6749 section 5.1).
func noStore(w http.ResponseWriter) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
}
