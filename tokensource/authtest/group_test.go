package authtest

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestFailNextEveryTokenEndpoint checks that FailNext covers the JSON
// login and refresh and /oauth2/token, and nothing else.
func TestFailNextEveryTokenEndpoint(t *testing.T) {
	s := NewServer(t, Options{})
	at, rt := login(t, s.URL)
	s.FailNext(http.StatusServiceUnavailable, 3)
	// Not token endpoints: served as usual, the rule untouched.
	if r := get(t, s.URL, "/api/profile", at); r.status != http.StatusOK {
		t.Fatalf("API during FailNext = %d, want 200", r.status)
	}
	if r := postForm(t, s.URL, "/oauth2/revoke", url.Values{"token": {"x"}}, s.ClientID, s.ClientSecret); r.status != http.StatusOK {
		t.Fatalf("revoke during FailNext = %d, want 200", r.status)
	}
	replies := []reply{
		postJSON(t, s.URL, "/auth/login", `{"username":"alice","password":"wonderland"}`),
		refresh(t, s.URL, rt),
		postForm(t, s.URL, "/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, s.ClientID, s.ClientSecret),
	}
	for i, r := range replies {
		if r.status != http.StatusServiceUnavailable || r.str("error") != "temporarily_unavailable" ||
			r.header.Get("Content-Type") != "application/json" {
			t.Errorf("call %d = %d %q %s, want 503 temporarily_unavailable JSON", i, r.status, r.header.Get("Content-Type"), r.body)
		}
	}
	if r := refresh(t, s.URL, rt); r.status != http.StatusOK {
		t.Errorf("fourth call = %d %s, want 200 (the refresh token was not spent)", r.status, r.body)
	}
	if st := s.Counters(); st.InjectedFailures != 3 || st.Logins != 1 || st.Refreshes != 1 || st.MaxPresentations != 1 {
		t.Errorf("Counters() = %+v, want 3 injected, nothing else processed", st)
	}
}

func TestInjectedFaultBodies(t *testing.T) {
	for status, code := range map[int]string{429: "temporarily_unavailable", 500: "server_error", 502: "server_error",
		400: "invalid_request", 200: "server_error", 0: "server_error"} {
		s := NewServer(t, Options{})
		s.FailNext(status, 1)
		want := status
		if status == 0 {
			want = 500
		}
		r := postJSON(t, s.URL, "/auth/login", `{}`)
		if r.status != want || r.str("error") != code {
			t.Errorf("FailNext(%d) = %d %s, want %d %s", status, r.status, r.body, want, code)
		}
	}
}

// TestFaultRulePrecedence: a rule for a path beats the group rule, and
// each request consumes one rule only.
func TestFaultRulePrecedence(t *testing.T) {
	s := NewServer(t, Options{})
	s.FailNext(http.StatusBadGateway, 1)
	s.FailPath(s.LoginURL(), 1, Fault{Status: http.StatusTeapot})
	if r := postJSON(t, s.URL, "/auth/login", `{}`); r.status != http.StatusTeapot {
		t.Errorf("first login = %d, want the path rule's 418", r.status)
	}
	if r := postJSON(t, s.URL, "/auth/login", `{}`); r.status != http.StatusBadGateway {
		t.Errorf("second login = %d, want the group rule's 502", r.status)
	}
	login(t, s.URL)
	s.FailNextWith(2, Fault{Status: 503, Header: http.Header{"Retry-After": {"1"}}})
	s.FailNext(503, 0) // cleared
	login(t, s.URL)
	if st := s.Counters(); st.InjectedFailures != 2 || st.Logins != 2 {
		t.Errorf("Counters() = %+v, want 2 injected, 2 logins", st)
	}
}

func TestMalformedNext(t *testing.T) {
	for _, e := range endpoints() {
		s := NewServer(t, Options{})
		s.MalformedNext(1)
		r := do(t, e.loginReq(t, s.URL, "alice", "wonderland"))
		if r.status != http.StatusOK || r.json != nil || !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") ||
			!strings.Contains(string(r.body), "<html>") {
			t.Errorf("%s: malformed = %d %q %q, want 200 HTML", e.name, r.status, r.header.Get("Content-Type"), r.body)
		}
		e.login(t, s.URL)
		if st := s.Counters(); st.InjectedFailures != 1 || st.Logins != 1 {
			t.Errorf("%s: Counters() = %+v, want 1 injected, 1 login", e.name, st)
		}
	}
}

func TestFailAPI(t *testing.T) {
	s := NewServer(t, Options{})
	at, _ := login(t, s.URL)
	s.FailAPI(http.StatusServiceUnavailable, 2)
	for _, path := range []string{"/api/items", "/api/profile"} {
		if r := get(t, s.URL, path, at); r.status != http.StatusServiceUnavailable || r.str("error") != "temporarily_unavailable" {
			t.Errorf("GET %s = %d %s, want an injected 503", path, r.status, r.body)
		}
	}
	login(t, s.URL) // token endpoints are not affected
	if r := get(t, s.URL, "/api/items", at); r.status != http.StatusOK {
		t.Errorf("third GET = %d, want 200", r.status)
	}
	s.FailAPIWith(1, Fault{Status: 401, Header: http.Header{"Www-Authenticate": {`Bearer error="invalid_token"`}}})
	if r := get(t, s.URL, "/api/items", at); r.status != 401 || r.header.Get("WWW-Authenticate") == "" {
		t.Errorf("FailAPIWith 401 = %d %v", r.status, r.header)
	}
	if st := s.Counters(); st.InjectedFailures != 3 || st.Resources != 1 || st.Unauthorized != 0 || st.Logins != 2 {
		t.Errorf("Counters() = %+v, want 3 injected, 1 resource, 0 real 401s", st)
	}
}

// TestPathOrURL checks that FailPath, RedirectPath and SetDelay take a URL
// of the server as well as a path.
func TestPathOrURL(t *testing.T) {
	s := NewServer(t, Options{})
	at, _ := login(t, s.URL)
	s.FailPath(s.APIURL("/items/1"), 1, Fault{Status: 500})
	if r := get(t, s.URL, "/api/items/1", at); r.status != 500 {
		t.Errorf("FailPath(URL) = %d, want 500", r.status)
	}
	s.RedirectPath(s.APIURL("/items/2"), 1, http.StatusFound, "/api/items/3")
	if r := get(t, s.URL, "/api/items/2", at); r.status != http.StatusOK || r.str("name") != "cherry" {
		t.Errorf("redirected GET = %d %s, want item 3", r.status, r.body)
	}
	s.SetDelay(s.APIURL("/items"), time.Hour)
	s.injMu.Lock()
	d := s.delays["/api/items"]
	s.injMu.Unlock()
	if d != time.Hour {
		t.Errorf("SetDelay(URL) set %v on /api/items", d)
	}
	s.SetDelay(s.APIURL("/items"), 0)
}
