package authtest

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tokenrefresh/tokenrefresh/internal/fakeclock"
)

func TestLoginRefreshResource(t *testing.T) {
	s := NewServer(t, Options{})
	r := postJSON(t, s.URL, "/auth/login", `{"username":"alice","password":"wonderland"}`)
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
	if got := get(t, s.URL, "/api/profile", at); got.status != 200 || got.str("user") != "alice" {
		t.Fatalf("profile = %d %s, want 200 alice", got.status, got.body)
	}
	r2 := refresh(t, s.URL, rt)
	if r2.status != http.StatusOK {
		t.Fatalf("refresh status = %d, body %s", r2.status, r2.body)
	}
	if r2.str("refresh_token") == rt || r2.str("access_token") == at {
		t.Errorf("refresh did not rotate the pair")
	}
	if got := get(t, s.URL, "/api/profile", r2.str("access_token")); got.status != 200 {
		t.Errorf("profile with refreshed token = %d, want 200", got.status)
	}
	st := s.Counters()
	if st.Logins != 1 || st.Refreshes != 1 || st.Resources != 2 || st.ActiveFamilies != 1 {
		t.Errorf("Counters() = %+v, want 1 login, 1 refresh, 2 resources, 1 family", st)
	}
}

func TestRefreshReuseRevokesFamily(t *testing.T) {
	s := NewServer(t, Options{})
	at1, rt1 := login(t, s.URL)
	r2 := refresh(t, s.URL, rt1)
	if r2.status != http.StatusOK {
		t.Fatalf("first refresh = %d, want 200", r2.status)
	}
	at2, rt2 := r2.str("access_token"), r2.str("refresh_token")

	reuse := refresh(t, s.URL, rt1)
	if reuse.status != http.StatusUnauthorized || reuse.str("error") != "invalid_grant" ||
		reuse.str("error_description") != "refresh token reused" {
		t.Fatalf("reuse = %d %s, want 401 invalid_grant refresh token reused", reuse.status, reuse.body)
	}
	for name, at := range map[string]string{"rotated-from access": at1, "rotated-to access": at2} {
		if got := get(t, s.URL, "/api/profile", at); got.status != http.StatusUnauthorized {
			t.Errorf("%s token after reuse: status %d, want 401", name, got.status)
		}
	}
	if got := refresh(t, s.URL, rt2); got.status != http.StatusUnauthorized || got.str("error") != "invalid_grant" {
		t.Errorf("rotated-to refresh token after reuse = %d %s, want 401 invalid_grant", got.status, got.body)
	}
	// A fresh login is a new family, unaffected.
	at3, _ := login(t, s.URL)
	if got := get(t, s.URL, "/api/profile", at3); got.status != http.StatusOK {
		t.Errorf("new family's token: status %d, want 200", got.status)
	}
	st := s.Counters()
	if st.Reuses != 1 || st.Refreshes != 1 || st.FailedRefreshes != 2 || st.ActiveFamilies != 1 {
		t.Errorf("Counters() = %+v, want 1 reuse, 1 refresh, 2 failed refreshes, 1 active family", st)
	}
}

func TestExpiryWithInjectedClock(t *testing.T) {
	clk := fakeclock.New(clockStart)
	s := NewServer(t, Options{AccessTTL: time.Minute, RefreshTTL: time.Hour, Now: clk.Now})
	r := postJSON(t, s.URL, "/auth/login", `{"username":"alice","password":"wonderland"}`)
	if r.json["expires_in"] != float64(60) || r.json["refresh_expires_in"] != float64(3600) {
		t.Errorf("lifetimes = %v/%v, want 60/3600", r.json["expires_in"], r.json["refresh_expires_in"])
	}
	at, rt := r.str("access_token"), r.str("refresh_token")

	clk.Advance(time.Minute - time.Second)
	if got := get(t, s.URL, "/api/profile", at); got.status != http.StatusOK {
		t.Fatalf("before expiry: status %d, want 200", got.status)
	}
	clk.Advance(time.Second)
	got := get(t, s.URL, "/api/profile", at)
	if got.status != http.StatusUnauthorized || !strings.Contains(got.header.Get("WWW-Authenticate"), `error="invalid_token"`) {
		t.Fatalf("at expiry: %d %q, want 401 invalid_token", got.status, got.header.Get("WWW-Authenticate"))
	}
	r2 := refresh(t, s.URL, rt)
	if r2.status != http.StatusOK {
		t.Fatalf("refresh after access expiry = %d, want 200", r2.status)
	}
	// The new refresh token lives RefreshTTL from its own issue.
	clk.Advance(time.Hour)
	r3 := refresh(t, s.URL, r2.str("refresh_token"))
	if r3.status != http.StatusUnauthorized || r3.str("error_description") != "refresh token expired" {
		t.Errorf("expired refresh = %d %s, want 401 refresh token expired", r3.status, r3.body)
	}
	if st := s.Counters(); st.ActiveFamilies != 0 || st.Reuses != 0 {
		t.Errorf("Counters() = %+v, want no active family and no reuse", st)
	}
}

func TestJSONAPIErrors(t *testing.T) {
	// The oversized request makes net/http wait 0.5 s before closing its
	// connection (rstAvoidanceDelay), so this test runs beside the others.
	t.Parallel()
	s := NewServer(t, Options{Users: map[string]string{"bob": "pw"}})
	tests := []struct {
		name, path, body string
		want             int
		wantErr          string
	}{
		{"wrong password", "/auth/login", `{"username":"bob","password":"nope"}`, 401, "invalid_credentials"},
		{"unknown user", "/auth/login", `{"username":"alice","password":"wonderland"}`, 401, "invalid_credentials"},
		{"missing password", "/auth/login", `{"username":"bob"}`, 400, "invalid_request"},
		{"malformed login", "/auth/login", `{"username":`, 400, "invalid_request"},
		{"too large", "/auth/login", `{"username":"` + strings.Repeat("x", maxBody) + `"}`, 413, "invalid_request"},
		{"unknown refresh", "/auth/refresh", `{"refresh_token":"rt_nope"}`, 401, "invalid_grant"},
		{"missing refresh", "/auth/refresh", `{}`, 400, "invalid_request"},
		{"malformed refresh", "/auth/refresh", `[`, 400, "invalid_request"},
		{"logout nothing", "/auth/logout", ``, 400, "invalid_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := postJSON(t, s.URL, tt.path, tt.body)
			if r.status != tt.want || r.str("error") != tt.wantErr {
				t.Errorf("POST %s = %d %q, want %d %q", tt.path, r.status, r.str("error"), tt.want, tt.wantErr)
			}
		})
	}
	if got := get(t, s.URL, "/auth/login", ""); got.status != http.StatusMethodNotAllowed {
		t.Errorf("GET /auth/login = %d, want 405", got.status)
	}
	if st := s.Counters(); st.FailedLogins != 2 || st.Logins != 0 || st.FailedRefreshes != 1 {
		t.Errorf("Counters() = %+v, want 2 failed logins, 0 logins, 1 failed refresh", st)
	}
}

func TestLogout(t *testing.T) {
	tests := []struct {
		name   string
		body   func(rt string) string
		bearer bool
	}{
		{"refresh token", func(rt string) string { return `{"refresh_token":"` + rt + `"}` }, false},
		{"bearer only", func(string) string { return "" }, true},
		{"both", func(rt string) string { return `{"refresh_token":"` + rt + `"}` }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewServer(t, Options{})
			at, rt := login(t, s.URL)
			req, err := http.NewRequest(http.MethodPost, s.URL+"/auth/logout", strings.NewReader(tt.body(rt)))
			if err != nil {
				t.Fatal(err)
			}
			if tt.bearer {
				req.Header.Set("Authorization", "Bearer "+at)
			}
			if r := do(t, req); r.status != http.StatusNoContent {
				t.Fatalf("logout = %d %s, want 204", r.status, r.body)
			}
			if got := get(t, s.URL, "/api/profile", at); got.status != http.StatusUnauthorized {
				t.Errorf("access token after logout: %d, want 401", got.status)
			}
			if got := refresh(t, s.URL, rt); got.status != http.StatusUnauthorized {
				t.Errorf("refresh after logout: %d, want 401", got.status)
			}
			if st := s.Counters(); st.Revocations != 1 || st.ActiveFamilies != 0 {
				t.Errorf("Counters() = %+v, want 1 revocation, 0 active", st)
			}
		})
	}
	ts := NewServer(t, Options{})
	if r := postJSON(t, ts.URL, "/auth/logout", `{"refresh_token":"rt_unknown"}`); r.status != http.StatusNoContent {
		t.Errorf("logout with unknown token = %d, want 204 (idempotent)", r.status)
	}
}

func TestResponseShapes(t *testing.T) {
	tests := []struct {
		name       string
		opts       Options
		wantExp    any
		wantType   string
		wantRotate bool
	}{
		{"number", Options{}, float64(900), "Bearer", true},
		{"string", Options{ExpiresIn: ExpiresInString}, "900", "Bearer", true},
		{"omitted", Options{ExpiresIn: ExpiresInOmitted}, nil, "Bearer", true},
		{"lowercase type", Options{TokenType: "bearer"}, float64(900), "bearer", true},
		{"no rotation", Options{DisableRotation: true}, float64(900), "Bearer", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := NewServer(t, tt.opts)
			_, rt := login(t, ts.URL)
			r := refresh(t, ts.URL, rt)
			if r.status != http.StatusOK {
				t.Fatalf("refresh = %d %s", r.status, r.body)
			}
			if r.json["expires_in"] != tt.wantExp || r.str("token_type") != tt.wantType {
				t.Errorf("expires_in, token_type = %#v, %q; want %#v, %q", r.json["expires_in"], r.str("token_type"), tt.wantExp, tt.wantType)
			}
			_, hasRT := r.json["refresh_token"]
			if hasRT != tt.wantRotate {
				t.Errorf("refresh_token present = %v, want %v", hasRT, tt.wantRotate)
			}
			// Without rotation the old refresh token keeps working.
			again := refresh(t, ts.URL, rt)
			if wantAgain := map[bool]int{true: 401, false: 200}[tt.wantRotate]; again.status != wantAgain {
				t.Errorf("second use of the first refresh token = %d, want %d", again.status, wantAgain)
			}
		})
	}
}
