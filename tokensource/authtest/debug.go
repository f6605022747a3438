package authtest

import (
	"errors"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// DebugHeader is the request header every debug call must carry, with the
// value "1". A web page cannot add a custom header to a cross-site request
// without a CORS preflight, and this server approves none.
const DebugHeader = "X-Tokenrefresh-Debug"

// debugRoutes installs the debug endpoints, which expose the counters and
// the test hooks over HTTP for tests that run the server in another process
// (tokenrefresh serve-demo):
//
//   - GET /debug/stats: [Server.Counters] as JSON.
//   - GET /debug/events: [Server.Events] as a JSON array.
//   - POST /debug/revoke-access: [Server.RevokeAccessTokens]
//   - POST /debug/revoke-all: [Server.RevokeAll]
//   - POST /debug/fail?path=P&n=N&status=S&body=B[&header=Name:+value...]:
//     [Server.FailPath]; header may be repeated, e.g.
//     header=Retry-After:+1
//   - POST /debug/delay?path=P&delay=D (a Go duration such as 2s):
//     [Server.SetDelay]
//   - POST /debug/authorize?decision=approve|deny:
//     [Server.ApproveAuthorization], [Server.DenyAuthorization]
//   - POST /debug/device?decision=approve|deny[&user_code=C]:
//     [Server.ApproveDevice], [Server.DenyDevice] (every pending device
//     code without user_code; 400 when none matches)
//
// The POSTs take form or query parameters and answer 204, or 400 for a
// bad parameter. A call to any /debug/ path, these and any other, is
// served only when it
//
//   - comes from a loopback peer, even when the server listens on other
//     addresses;
//   - names a loopback host in its Host header: an IP literal in
//     127.0.0.0/8, [::1], or the name localhost itself (not a name under
//     it), any port. This defeats DNS rebinding, where a page reaches the
//     server under a name of its own;
//   - carries X-Tokenrefresh-Debug: 1 ([DebugHeader]), which a cross-site
//     form or fetch cannot send without a CORS preflight.
//
// Anything else, CORS preflights included, is answered 403 with a one-line
// reason, and no answer carries Access-Control-* headers. Without these
// checks any web page the user visits could make the next login return the
// page's answer (/debug/fail) or read the counters.
func (s *Server) debugRoutes(m *http.ServeMux) {
	m.HandleFunc("GET /debug/stats", guardDebug(func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, s.Counters())
	}))
	m.HandleFunc("GET /debug/events", guardDebug(func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, s.Events())
	}))
	// Everything else under /debug/ (other methods, OPTIONS preflights,
	// unknown paths) is refused by the guard or, past it, not found.
	m.HandleFunc("/debug/", guardDebug(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "invalid_request", "no such debug endpoint for this method")
	}))
	m.HandleFunc("POST /debug/revoke-access", s.control(func(*http.Request) error {
		s.revokeAccess(viaDebug)
		return nil
	}))
	m.HandleFunc("POST /debug/revoke-all", s.control(func(*http.Request) error {
		s.revokeAll(viaDebug)
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
		s.FailPath(r.Form.Get("path"), n, Fault{Status: status, Header: h, Body: r.Form.Get("body")})
		return nil
	}))
	m.HandleFunc("POST /debug/authorize", s.control(func(r *http.Request) error {
		switch r.Form.Get("decision") {
		case "approve":
			s.ApproveAuthorization()
		case "deny":
			s.DenyAuthorization()
		default:
			return errors.New("authtest: decision: want approve or deny")
		}
		return nil
	}))
	m.HandleFunc("POST /debug/device", s.control(func(r *http.Request) error {
		st := deviceApproved
		switch r.Form.Get("decision") {
		case "approve":
		case "deny":
			st = deviceDenied
		default:
			return errors.New("authtest: decision: want approve or deny")
		}
		return s.decideDevice(r.Form.Get("user_code"), st, viaDebug)
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
			return nil, errors.New("authtest: header: want Name: value")
		}
		if h == nil {
			h = make(http.Header)
		}
		h.Add(name, strings.TrimSpace(value))
	}
	return h, nil
}

// control wraps a debug action: caller checked by guardDebug, form parsed,
// 204 on success, 400 when fn rejects its parameters.
func (s *Server) control(fn func(*http.Request) error) http.HandlerFunc {
	return guardDebug(func(w http.ResponseWriter, r *http.Request) {
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
	})
}

// guardDebug serves r with h only if [debugRefusal] finds nothing wrong,
// and answers 403 with the reason otherwise.
func guardDebug(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if reason := debugRefusal(r); reason != "" {
			writeError(w, http.StatusForbidden, "access_denied", reason)
			return
		}
		h(w, r)
	}
}

// debugRefusal returns why r may not use a debug endpoint, or "" if it may:
// it must come from a loopback peer, name a loopback Host and carry
// DebugHeader: 1.
func debugRefusal(r *http.Request) string {
	peer, _, err := net.SplitHostPort(r.RemoteAddr)
	if ip := net.ParseIP(peer); err != nil || ip == nil || !ip.IsLoopback() {
		return "debug endpoints are for loopback clients only"
	}
	if !isLoopbackHostHeader(r.Host) {
		return "debug endpoints need a loopback Host header: 127.0.0.1, [::1] or localhost"
	}
	if r.Header.Get(DebugHeader) != "1" {
		return "debug endpoints need the header " + DebugHeader + ": 1"
	}
	return ""
}

// isLoopbackHostHeader reports whether a Host header names this machine
// by a loopback IP literal (127.0.0.0/8, [::1]) or as exactly "localhost",
// with or without a port. Other names, even under .localhost or resolving
// to loopback, are refused: a DNS rebinding attack reaches the server under
// a name of the attacker's choosing, and the browser sends that name.
func isLoopbackHostHeader(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	} else if strings.HasPrefix(hostport, "[") && strings.HasSuffix(hostport, "]") {
		host = hostport[1 : len(hostport)-1]
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
