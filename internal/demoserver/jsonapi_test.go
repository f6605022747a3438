package demoserver

import (
	"net/http"
	"strings"
	"testing"
)

func TestLoginRefreshResource(t *testing.T) {
	s, ts := newTestServer(t, Config{})
	r := postJSON(t, ts.URL, "/auth/login", `{"username":"alice","password":"wonderland"}`)
	if r.status != http.StatusOK {
		t.Fatalf("login status = %d, want 200; body %s", r.status, r.body)
	}
	at, rt := r.str("access_token"), r.str("refresh_token")
	if !strings.HasPrefix(at, "at_") || !strings.HasPrefix(rt, "rt_") {
		t.Fatalf("tokens lack prefixes: access %q... refresh %q...", at[:3], rt[:3])
	}
	if r.str("token_type") != "Bearer" || r.json["expires_in"] != float64(900) || r.json["refresh_expires_in"] != float64(43200) {
		t.Errorf("login response = %v, want Bearer, 900, 43200", r.json)
	}
	if got := get(t, ts.URL, "/api/profile", at); got.status != 200 || got.str("user") != "alice" {
		t.Fatalf("profile = %d %s, want 200 alice", got.status, got.body)
	}
	r2 := refresh(t, ts.URL, rt)
	if r2.status != http.StatusOK {
		t.Fatalf("refresh status = %d, body %s", r2.status, r2.body)
	}
	if r2.str("refresh_token") == rt || r2.str("access_token") == at {
		t.Errorf("refresh did not rotate the pair")
	}
	if got := get(t, ts.URL, "/api/profile", r2.str("access_token")); got.status != 200 {
		t.Errorf("profile with refreshed token = %d, want 200", got.status)
	}
	st := s.Stats()
	if st.Logins != 1 || st.Refreshes != 1 || st.Resources != 2 || st.ActiveFamilies != 1 {
		t.Errorf("Stats() = %+v, want 1 login, 1 refresh, 2 resources, 1 family", st)
	}
}
