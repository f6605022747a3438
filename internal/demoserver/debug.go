package demoserver

import (
	"errors"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Debug control endpoints expose the test hooks over HTTP, for tests that
// run the server in another process (tokenrefresh serve-demo). They accept
// POST with form or query parameters, answer 204, and only from a loopback
// peer (403 otherwise), even when the server listens on other addresses:
//
//   - /debug/revoke-access: [Server.RevokeAccessTokens]
//   - /debug/revoke-all: [Server.RevokeAll]
//   - /debug/fail?path=P&n=N&status=S&body=B[&header=Name:+value...]:
//     [Server.FailNextWith]; header may be repeated, e.g.
//     header=Retry-After:+1
//   - /debug/delay?path=P&delay=D (a Go duration such as 2s): [Server.SetDelay]
func (s *Server) debugRoutes(m *http.ServeMux) {
	m.HandleFunc("GET /debug/stats", s.handleStats)
	m.HandleFunc("POST /debug/revoke-access", s.control(func(*http.Request) error {
		s.RevokeAccessTokens()
		return nil
	}))
	m.HandleFunc("POST /debug/revoke-all", s.control(func(*http.Request) error {
		s.RevokeAll()
		return nil
	}))
	m.HandleFunc("POST /debug/fail", s.control(func(r *http.Request) error {
		n, err := strconv.Atoi(r.Form.Get("n"))
		if err != nil {
			return err
		}
		status, err := strconv.Atoi(r.Form.Get("status"))
		if err != nil {
			return err
		}
		h, err := parseHeaders(r.Form["header"])
		if err != nil {
			return err
		}
		s.FailNextWith(r.Form.Get("path"), n, Fault{Status: status, Header: h, Body: r.Form.Get("body")})
		return nil
	}))
	m.HandleFunc("POST /debug/delay", s.control(func(r *http.Request) error {
		d, err := time.ParseDuration(r.Form.Get("delay"))
		if err != nil {
			return err
		}
		s.SetDelay(r.Form.Get("path"), d)
		return nil
	}))
}

// parseHeaders parses "Name: value" lines; none gives a nil Header.
func parseHeaders(lines []string) (http.Header, error) {
	var h http.Header
	for _, l := range lines {
		name, value, ok := strings.Cut(l, ":")
		name = strings.TrimSpace(name)
		if !ok || name == "" || strings.ContainsAny(name, " \t\r\n") || strings.ContainsAny(value, "\r\n") {
			return nil, errors.New("demoserver: header: want Name: value")
		}
		if h == nil {
			h = make(http.Header)
		}
		h.Add(name, strings.TrimSpace(value))
	}
	return h, nil
}

func (s *Server) handleStats(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.Stats())
}

// control wraps a debug action: loopback peers only, form parsed, 204 on
// success, 400 when fn rejects its parameters.
func (s *Server) control(fn func(*http.Request) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		host, _, err := net.SplitHostPort(r.RemoteAddr)
		if err != nil || !isLoopback(host) {
			writeError(w, http.StatusForbidden, "access_denied", "debug control is for loopback clients only")
			return
		}
		if !parseForm(w, r) {
			return
		}
		if r.Form.Get("path") == "" && (r.URL.Path == "/debug/fail" || r.URL.Path == "/debug/delay") {
			writeError(w, http.StatusBadRequest, "invalid_request", "path is required")
			return
		}
		if err := fn(r); err != nil {
			writeError(w, http.StatusBadRequest, "invalid_request", "bad parameter")
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
}
