package authtest

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
)

// maxLarge caps GET /api/large; defaultLarge is its size without ?bytes.
const (
	maxLarge     = 64 << 20
	defaultLarge = 1 << 20
)

// userKey is the context key under which protect stores the user name.
type userKey struct{}

// item is a sample resource.
type item struct {
	ID   int    `json:"id"`
	Name string `json:"name"`
}

// items returns the sample list (a fresh slice: no shared mutable state).
func items() []item {
	return []item{{1, "apple"}, {2, "banana"}, {3, "cherry"}}
}

// bearerToken returns the token of an "Authorization: Bearer" header (any
// case of the scheme); present reports whether any Authorization header was
// sent.
func bearerToken(r *http.Request) (tok string, present bool) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return "", false
	}
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", true
	}
	return strings.TrimSpace(tok), true
}

// protect runs next only for a request with a valid access token; others
// are refused as Options.Challenge says.
func (s *Server) protect(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tok, present := bearerToken(r)
		if !present {
			s.refuse(w, "", false, "missing access token")
			return
		}
		reason := "malformed Authorization header"
		var user string
		if tok != "" {
			user, reason = s.tokens.checkAccess(tok, s.now())
		}
		if reason != "" {
			s.refuse(w, tok, true, reason)
			return
		}
		s.tally.resources.Add(1)
		next(w, r.WithContext(context.WithValue(r.Context(), userKey{}, user)))
	}
}

// hydraDescription is the error_description Ory Hydra sends with
// error="request_unauthorized".
const hydraDescription = "The request could not be authorized. Check that you provided valid credentials in the right format."

// refuse answers an API request whose access token tok is not valid, for
// reason, in the Options.Challenge style; sent is false when the request
// had no Authorization header.
func (s *Server) refuse(w http.ResponseWriter, tok string, sent bool, reason string) {
	status, code := http.StatusUnauthorized, "invalid_token"
	challenge := `Bearer realm="authtest"`
	switch ch := s.opts.Challenge; {
	case ch == ChallengeHydra:
		code = "request_unauthorized"
		challenge = `Bearer error="request_unauthorized", error_description="` + hydraDescription + `"`
	case ch == ChallengeNone:
		challenge = ""
	case !sent || ch == ChallengeBare:
		// RFC 6750 section 3.1: no error code when no token was sent.
	case ch == ChallengeInsufficientScope:
		status, code = http.StatusForbidden, "insufficient_scope"
		challenge += `, error="insufficient_scope", error_description="` + reason + `"`
	default:
		challenge += `, error="invalid_token", error_description="` + reason + `"`
	}
	if status == http.StatusForbidden {
		s.tally.forbidden.Add(1)
	} else {
		s.tally.unauthorized.Add(1)
	}
	e := Event{Kind: EventRejected, Via: viaAPI, Status: status, Reason: reason}
	if tok != "" {
		e.Label = TokenLabel(tok)
	}
	s.record(e)
	if challenge != "" {
		w.Header().Set("WWW-Authenticate", challenge)
	}
	writeError(w, status, code, reason)
}

func userOf(r *http.Request) string {
	u, _ := r.Context().Value(userKey{}).(string)
	return u
}

func (s *Server) handleProfile(w http.ResponseWriter, r *http.Request) {
	u := userOf(r)
	writeJSON(w, http.StatusOK, map[string]string{"user": u, "email": u + "@example.com"})
}

func (s *Server) handleItems(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, items())
}

func (s *Server) handleItem(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.Atoi(r.PathValue("id"))
	if err == nil {
		for _, it := range items() {
			if it.ID == id {
				writeJSON(w, http.StatusOK, it)
				return
			}
		}
	}
	writeError(w, http.StatusNotFound, "not_found", "no such item")
}

// handleNotFound answers /api/ paths no other route took: 405 when the path
// exists for another method (the catch-all hides the mux's own 405), else
// 404.
func (s *Server) handleNotFound(w http.ResponseWriter, r *http.Request) {
	var allow []string
	for _, m := range []string{http.MethodGet, http.MethodPost} {
		r2 := r.Clone(r.Context())
		r2.Method = m
		if _, pattern := s.mux.Handler(r2); pattern != "" && pattern != "/api/" {
			allow = append(allow, m)
		}
	}
	if len(allow) > 0 {
		w.Header().Set("Allow", strings.Join(allow, ", "))
		writeError(w, http.StatusMethodNotAllowed, "invalid_request", "method not allowed")
		return
	}
	writeError(w, http.StatusNotFound, "not_found", "no such resource")
}

// handleLarge streams ?bytes=N bytes (default 1 MiB, at most 64 MiB) of
// application/octet-stream with a Content-Length, for download progress.
func (s *Server) handleLarge(w http.ResponseWriter, r *http.Request) {
	n := int64(defaultLarge)
	if v := r.URL.Query().Get("bytes"); v != "" {
		var err error
		n, err = strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 || n > maxLarge {
			writeError(w, http.StatusBadRequest, "invalid_request", "bytes must be 0.."+strconv.Itoa(maxLarge))
			return
		}
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.FormatInt(n, 10))
	w.WriteHeader(http.StatusOK)
	chunk := make([]byte, 32<<10)
	for i := range chunk {
		chunk[i] = byte('a' + i%26)
	}
	for n > 0 && r.Context().Err() == nil {
		c := min(n, int64(len(chunk)))
		if _, err := w.Write(chunk[:c]); err != nil {
			return
		}
		n -= c
	}
}

// handleEcho answers the JSON request body as it came.
func (s *Server) handleEcho(w http.ResponseWriter, r *http.Request) {
	b, ok := readBody(w, r)
	if !ok {
		return
	}
	if !json.Valid(b) {
		writeError(w, http.StatusBadRequest, "invalid_request", "malformed JSON body")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}

// handleRedirect answers 302 to ?to=URL, for redirect tests.
func (s *Server) handleRedirect(w http.ResponseWriter, r *http.Request) {
	to := r.URL.Query().Get("to")
	if to == "" {
		writeError(w, http.StatusBadRequest, "invalid_request", "to is required")
		return
	}
	w.Header().Set("Location", to)
	w.WriteHeader(http.StatusFound)
}
