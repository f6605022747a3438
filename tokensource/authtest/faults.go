package authtest

import (
	"io"
	"net/http"
	"net/url"
	"strings"
)

// Fault is an answer injected in place of serving a request: the request
// is not processed, so a refresh token it carries is not spent and a login
// starts no family.
type Fault struct {
	// Status is the status code; one outside 100..999 is sent as 500.
	Status int
	// Header holds response headers to send, such as Retry-After: 1; nil
	// means none. It is copied when the fault is armed.
	Header http.Header
	// Body is the response body, sent as is. Unless Header sets a
	// Content-Type, it is guessed: application/json when Body starts with
	// '{', text/html when it starts with '<', text/plain otherwise.
	Body string
}

// Keys of the rules that apply to a group of paths rather than to one.
const (
	groupToken = "#token" // POST /auth/login, /auth/refresh, /oauth2/token
	groupAPI   = "#api"   // everything under /api/
)

// injection is a pending injected answer: a fault or, with redirect set, a
// redirect with status fault.Status to location ("" means the request's
// own URL).
type injection struct {
	n        int
	fault    Fault
	redirect bool
	location string
}

// injectedFault is the Fault of FailNext and FailAPI: status with an RFC
// 6749 style error body.
func injectedFault(status int) Fault {
	code := "server_error"
	switch {
	case status == http.StatusServiceUnavailable || status == http.StatusTooManyRequests:
		code = "temporarily_unavailable"
	case status >= 400 && status < 500:
		code = "invalid_request"
	}
	return Fault{Status: status, Body: `{"error":"` + code + `","error_description":"failure injected by authtest"}`}
}

// arm installs inj under key, or clears the rule when n <= 0.
func (s *Server) arm(key string, n int, f Fault, redirect bool, location string) {
	if f.Status < 100 || f.Status > 999 {
		f.Status = http.StatusInternalServerError
	}
	f.Header = f.Header.Clone()
	s.injMu.Lock()
	defer s.injMu.Unlock()
	if n <= 0 {
		delete(s.fails, key)
		return
	}
	s.fails[key] = &injection{n: n, fault: f, redirect: redirect, location: location}
}

// pathOf returns the path a rule for p applies to: p itself, or the path
// of p when p is an absolute URL (such as Server.RefreshURL()).
func pathOf(p string) string {
	if u, err := url.Parse(p); err == nil && u.Scheme != "" {
		return u.Path
	}
	return p
}

// groupOf returns the group rule key that covers path, or "".
func groupOf(path string) string {
	switch {
	case path == pathLogin || path == pathRefresh || path == pathToken:
		return groupToken
	case path == apiRoot || strings.HasPrefix(path, apiRoot+"/"):
		return groupAPI
	}
	return ""
}

// viaOf returns the Event.Via of a request to path.
func viaOf(path string) string {
	switch {
	case strings.HasPrefix(path, "/auth/"):
		return viaJSON
	case strings.HasPrefix(path, "/oauth2/"):
		return viaOAuth2
	case groupOf(path) == groupAPI:
		return viaAPI
	case strings.HasPrefix(path, "/debug/"):
		return viaDebug
	}
	return ""
}

// takeInjection consumes one use of the rule for path, if any: the rule
// for that exact path first, else the rule for its group.
func (s *Server) takeInjection(path string) (injection, bool) {
	s.injMu.Lock()
	defer s.injMu.Unlock()
	key := path
	inj, ok := s.fails[key]
	if !ok {
		if key = groupOf(path); key == "" {
			return injection{}, false
		}
		if inj, ok = s.fails[key]; !ok {
			return injection{}, false
		}
	}
	inj.n--
	if inj.n <= 0 {
		delete(s.fails, key)
	}
	return *inj, true
}

// injectFailure answers r with a pending injected failure or redirect, if
// any, and reports whether it did.
func (s *Server) injectFailure(w http.ResponseWriter, r *http.Request) bool {
	inj, ok := s.takeInjection(r.URL.Path)
	if !ok {
		return false
	}
	e := Event{Kind: EventInjected, Via: viaOf(r.URL.Path), Status: inj.fault.Status}
	if inj.redirect {
		s.tally.redirects.Add(1)
		loc := inj.location
		if loc == "" {
			loc = r.URL.RequestURI()
		}
		e.Reason = "redirect of " + r.Method + " " + r.URL.Path
		s.record(e)
		w.Header().Set("Location", loc)
		w.WriteHeader(inj.fault.Status)
		return true
	}
	s.tally.injected.Add(1)
	e.Reason = "fault on " + r.Method + " " + r.URL.Path
	s.record(e)
	writeFault(w, inj.fault)
	return true
}

// writeFault answers f.
func writeFault(w http.ResponseWriter, f Fault) {
	h := w.Header()
	for k, vs := range f.Header {
		h[k] = append([]string(nil), vs...)
	}
	if h.Get("Content-Type") == "" {
		ct := "text/plain; charset=utf-8"
		switch t := strings.TrimSpace(f.Body); {
		case strings.HasPrefix(t, "{"):
			ct = "application/json"
		case strings.HasPrefix(t, "<"):
			ct = "text/html; charset=utf-8"
		}
		h.Set("Content-Type", ct)
	}
	w.WriteHeader(f.Status)
	_, _ = io.WriteString(w, f.Body)
}
