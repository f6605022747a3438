package authtest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// debugCall sends a debug request the way the test tools do: with the
// X-Tokenrefresh-Debug header, unless edit removes it. It uses its own
// client call, never a shared helper that might add the header.
func debugCall(t *testing.T, method, u string, form url.Values, edit func(*http.Request)) reply {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req.Header.Set("X-Tokenrefresh-Debug", "1")
	if edit != nil {
		edit(req)
	}
	return send(t, http.DefaultClient, req)
}

func TestDebugControl(t *testing.T) {
	s := NewServer(t, Options{})
	ctl := func(path string, v url.Values) int {
		return debugCall(t, http.MethodPost, s.URL+path, v, nil).status
	}
	at, rt := login(t, s.URL)
	if got := ctl("/debug/revoke-access", nil); got != http.StatusNoContent {
		t.Fatalf("revoke-access = %d, want 204", got)
	}
	if got := get(t, s.URL, "/api/profile", at); got.status != http.StatusUnauthorized {
		t.Errorf("access after /debug/revoke-access = %d, want 401", got.status)
	}
	if got := ctl("/debug/fail", url.Values{"path": {"/auth/refresh"}, "n": {"1"}, "status": {"503"}, "body": {"busy"}}); got != http.StatusNoContent {
		t.Fatalf("fail = %d, want 204", got)
	}
	if got := refresh(t, s.URL, rt); got.status != http.StatusServiceUnavailable || string(got.body) != "busy" {
		t.Errorf("injected over HTTP = %d %q, want 503 busy", got.status, got.body)
	}
	if got := ctl("/debug/revoke-all", nil); got != http.StatusNoContent {
		t.Fatalf("revoke-all = %d", got)
	}
	if got := refresh(t, s.URL, rt); got.status != http.StatusUnauthorized {
		t.Errorf("refresh after /debug/revoke-all = %d, want 401", got.status)
	}
	if got := ctl("/debug/delay", url.Values{"path": {"/x"}, "delay": {"1h"}}); got != http.StatusNoContent {
		t.Errorf("delay = %d, want 204", got)
	}
	s.injMu.Lock()
	d := s.delays["/x"]
	s.injMu.Unlock()
	if d.Hours() != 1 {
		t.Errorf("delay set over HTTP = %v, want 1h", d)
	}
	for _, bad := range []url.Values{
		{"path": {"/x"}, "delay": {"soon"}},
		{"delay": {"1s"}},
	} {
		if got := ctl("/debug/delay", bad); got != http.StatusBadRequest {
			t.Errorf("delay %v = %d, want 400", bad, got)
		}
	}
	if got := ctl("/debug/fail", url.Values{"path": {"/x"}, "n": {"x"}, "status": {"500"}}); got != http.StatusBadRequest {
		t.Errorf("fail with bad n = %d, want 400", got)
	}
	if got := debugCall(t, http.MethodGet, s.URL+"/debug/stats", nil, nil); got.status != http.StatusOK || got.json["logins"] != float64(1) {
		t.Errorf("stats = %d %s, want 200 with 1 login", got.status, got.body)
	}
	ev := debugCall(t, http.MethodGet, s.URL+"/debug/events", nil, nil)
	var events []Event
	if err := json.Unmarshal(ev.body, &events); err != nil || ev.status != http.StatusOK {
		t.Fatalf("events = %d %s (%v), want 200 with a JSON array", ev.status, ev.body, err)
	}
	var revokedViaDebug int
	for _, e := range events {
		if e.Kind == EventRevoked && e.Via == "debug" {
			revokedViaDebug++
		}
	}
	if revokedViaDebug != 2 || len(events) != len(s.Events()) {
		t.Errorf("/debug/events = %s, want the log with 2 revocations via debug", ev.body)
	}
}

// TestDebugRefusedOverTheWire drives the attacks through a real connection
// from loopback: a web page's form POST (no custom header), DNS rebinding
// (a foreign Host header) and a CORS preflight.
func TestDebugRefusedOverTheWire(t *testing.T) {
	s := NewServer(t, Options{})
	fail := url.Values{"path": {"/auth/login"}, "n": {"1"}, "status": {"200"}, "body": {`{"access_token":"attacker's"}`}}
	noHeader := func(r *http.Request) {
		r.Header.Del("X-Tokenrefresh-Debug")
		r.Header.Set("Origin", "https://evil.example")
	}
	tests := []struct {
		name   string
		method string
		path   string
		form   url.Values
		edit   func(*http.Request)
	}{
		{"cross-site form POST", http.MethodPost, "/debug/fail", fail, noHeader},
		{"header with another value", http.MethodPost, "/debug/fail", fail, func(r *http.Request) { r.Header.Set("X-Tokenrefresh-Debug", "true") }},
		{"rebound Host", http.MethodPost, "/debug/fail", fail, func(r *http.Request) { r.Host = "evil.example" }},
		{"rebound Host with port", http.MethodPost, "/debug/fail", fail, func(r *http.Request) { r.Host = "evil.example:" + r.URL.Port() }},
		{"loopback-looking name", http.MethodPost, "/debug/fail", fail, func(r *http.Request) { r.Host = "127.0.0.1.evil.example" }},
		{"name under localhost", http.MethodPost, "/debug/fail", fail, func(r *http.Request) { r.Host = "evil.localhost" }},
		{"stats without header", http.MethodGet, "/debug/stats", nil, noHeader},
		{"stats with rebound Host", http.MethodGet, "/debug/stats", nil, func(r *http.Request) { r.Host = "evil.example" }},
		{"events without header", http.MethodGet, "/debug/events", nil, noHeader},
		{"revoke-all without header", http.MethodPost, "/debug/revoke-all", url.Values{}, noHeader},
		{"preflight", http.MethodOptions, "/debug/fail", nil, func(r *http.Request) {
			noHeader(r)
			r.Header.Set("Access-Control-Request-Method", "POST")
			r.Header.Set("Access-Control-Request-Headers", "x-tokenrefresh-debug")
		}},
		{"unknown debug path", http.MethodPost, "/debug/nothing", url.Values{}, noHeader},
	}
	at, _ := login(t, s.URL)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := debugCall(t, tc.method, s.URL+tc.path, tc.form, tc.edit)
			if r.status != http.StatusForbidden || r.str("error_description") == "" {
				t.Errorf("%s %s = %d %s, want 403 with a reason", tc.method, tc.path, r.status, r.body)
			}
			if _, ok := r.json["logins"]; ok {
				t.Errorf("refused call got the stats: %s", r.body)
			}
			for k := range r.header {
				if strings.HasPrefix(k, "Access-Control-") {
					t.Errorf("answer carries CORS header %s: %q", k, r.header.Get(k))
				}
			}
		})
	}
	// None of the hooks fired.
	if r := postJSON(t, s.URL, "/auth/login", `{"username":"alice","password":"wonderland"}`); r.status != http.StatusOK || r.str("access_token") == "attacker's" {
		t.Errorf("login after refused /debug/fail = %d %s, want a real login", r.status, r.body)
	}
	if got := get(t, s.URL, "/api/profile", at); got.status != http.StatusOK {
		t.Errorf("access token after refused /debug/revoke-all = %d, want 200", got.status)
	}
	if st := s.Counters(); st.InjectedFailures != 0 || st.Revocations != 0 {
		t.Errorf("Counters() = %+v, want no injected failure and no revocation", st)
	}
}

// TestDebugGuard checks each condition of the guard on its own, calling
// ServeHTTP with a chosen peer address and Host header.
func TestDebugGuard(t *testing.T) {
	tests := []struct {
		peer, host string
		header     bool
		want       int
	}{
		{"127.0.0.1:1234", "127.0.0.1:8080", true, http.StatusOK},
		{"127.0.0.1:1234", "127.0.0.1", true, http.StatusOK},
		{"127.0.0.1:1234", "127.9.8.7:80", true, http.StatusOK},
		{"127.0.0.1:1234", "localhost:8080", true, http.StatusOK},
		{"127.0.0.1:1234", "localhost", true, http.StatusOK},
		{"127.0.0.1:1234", "LocalHost:8080", true, http.StatusOK},
		{"[::1]:1234", "[::1]:8080", true, http.StatusOK},
		{"[::1]:1234", "[::1]", true, http.StatusOK},
		{"127.0.0.1:1234", "127.0.0.1:8080", false, http.StatusForbidden},
		{"192.0.2.1:1234", "127.0.0.1:8080", true, http.StatusForbidden},
		{"[2001:db8::1]:1234", "[::1]:8080", true, http.StatusForbidden},
		{"127.0.0.1:1234", "evil.example", true, http.StatusForbidden},
		{"127.0.0.1:1234", "evil.example:8080", true, http.StatusForbidden},
		{"127.0.0.1:1234", "app.localhost:8080", true, http.StatusForbidden},
		{"127.0.0.1:1234", "localhost.evil.example", true, http.StatusForbidden},
		{"127.0.0.1:1234", "192.0.2.1:8080", true, http.StatusForbidden},
		{"127.0.0.1:1234", "[2001:db8::1]:8080", true, http.StatusForbidden},
		{"127.0.0.1:1234", "0.0.0.0:8080", true, http.StatusForbidden},
		{"127.0.0.1:1234", "", true, http.StatusForbidden},
	}
	s := newServer(Options{})
	for _, tc := range tests {
		req := httptest.NewRequest(http.MethodGet, "/debug/stats", nil)
		req.RemoteAddr = tc.peer
		req.Host = tc.host
		if tc.header {
			req.Header.Set("X-Tokenrefresh-Debug", "1")
		}
		w := httptest.NewRecorder()
		s.serveHTTP(w, req)
		if w.Code != tc.want {
			t.Errorf("GET /debug/stats from %s, Host %q, header %v = %d %s, want %d",
				tc.peer, tc.host, tc.header, w.Code, strings.TrimSpace(w.Body.String()), tc.want)
		}
	}
}

func TestDebugControlLoopbackOnly(t *testing.T) {
	s := newServer(Options{})
	at := s.tokens.login("alice", s.opts.Now(), s.opts.AccessTTL, s.opts.RefreshTTL).access
	req := httptest.NewRequest(http.MethodPost, "/debug/revoke-all", nil)
	req.RemoteAddr = "192.0.2.1:1234"
	req.Host = "127.0.0.1:8080"
	req.Header.Set("X-Tokenrefresh-Debug", "1")
	w := httptest.NewRecorder()
	s.serveHTTP(w, req)
	if w.Code != http.StatusForbidden {
		t.Errorf("remote /debug/revoke-all = %d, want 403", w.Code)
	}
	if _, reason := s.tokens.checkAccess(at, s.opts.Now()); reason != "" {
		t.Errorf("remote control revoked tokens: %s", reason)
	}
}
