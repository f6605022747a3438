package authtest

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
)

func TestResourceChallenges(t *testing.T) {
	s := NewServer(t, Options{})
	at, _ := login(t, s.URL)
	tests := []struct {
		name, auth    string
		wantChallenge string
	}{
		{"no header", "", `Bearer realm="authtest"`},
		{"unknown token", "Bearer at_nope", `Bearer realm="authtest", error="invalid_token", error_description="unknown access token"`},
		{"basic scheme", "Basic YTpi", `Bearer realm="authtest", error="invalid_token", error_description="malformed Authorization header"`},
		{"empty bearer", "Bearer ", `Bearer realm="authtest", error="invalid_token", error_description="malformed Authorization header"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, s.URL+"/api/items", nil)
			if tt.auth != "" {
				req.Header.Set("Authorization", tt.auth)
			}
			r := do(t, req)
			if r.status != http.StatusUnauthorized || r.header.Get("WWW-Authenticate") != tt.wantChallenge {
				t.Errorf("got %d %q, want 401 %q", r.status, r.header.Get("WWW-Authenticate"), tt.wantChallenge)
			}
		})
	}
	// The scheme is case-insensitive.
	req, _ := http.NewRequest(http.MethodGet, s.URL+"/api/items", nil)
	req.Header.Set("Authorization", "bearer "+at)
	if r := do(t, req); r.status != http.StatusOK {
		t.Errorf("lowercase bearer = %d, want 200", r.status)
	}
	if st := s.Counters(); st.Unauthorized != int64(len(tests)) || st.Resources != 1 {
		t.Errorf("Counters() = %+v, want %d unauthorized, 1 resource", st, len(tests))
	}
}

func TestResources(t *testing.T) {
	ts := NewServer(t, Options{})
	at, _ := login(t, ts.URL)
	tests := []struct {
		path     string
		want     int
		contains string
	}{
		{"/api/profile", 200, `"user":"alice"`},
		{"/api/items", 200, `[{"id":1,"name":"apple"}`},
		{"/api/items/2", 200, `{"id":2,"name":"banana"}`},
		{"/api/items/9", 404, `not_found`},
		{"/api/items/x", 404, `not_found`},
		{"/api/nothing", 404, `not_found`},
		{"/api/large?bytes=-1", 400, `invalid_request`},
		{"/api/large?bytes=" + strconv.Itoa(maxLarge+1), 400, `invalid_request`},
		{"/api/redirect", 400, `invalid_request`},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			r := get(t, ts.URL, tt.path, at)
			if r.status != tt.want || !strings.Contains(string(r.body), tt.contains) {
				t.Errorf("GET %s = %d %s, want %d containing %s", tt.path, r.status, r.body, tt.want, tt.contains)
			}
		})
	}
	t.Run("large", func(t *testing.T) {
		for _, n := range []int{0, 1, 100_000} {
			r := get(t, ts.URL, "/api/large?bytes="+strconv.Itoa(n), at)
			if r.status != 200 || len(r.body) != n || r.header.Get("Content-Length") != strconv.Itoa(n) {
				t.Errorf("large %d: status %d, %d bytes, Content-Length %q", n, r.status, len(r.body), r.header.Get("Content-Length"))
			}
		}
	})
	t.Run("echo", func(t *testing.T) {
		body := `{"a":[1,2,3]}`
		req, _ := http.NewRequest(http.MethodPost, ts.URL+"/api/echo", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+at)
		if r := do(t, req); r.status != 200 || string(r.body) != body {
			t.Errorf("echo = %d %s, want 200 %s", r.status, r.body, body)
		}
		req, _ = http.NewRequest(http.MethodPost, ts.URL+"/api/echo", strings.NewReader("{"))
		req.Header.Set("Authorization", "Bearer "+at)
		if r := do(t, req); r.status != 400 {
			t.Errorf("echo malformed = %d, want 400", r.status)
		}
	})
	t.Run("redirect", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodGet, ts.URL+"/api/redirect?to=http://127.0.0.1:1/x", nil)
		req.Header.Set("Authorization", "Bearer "+at)
		resp, err := ts.Client().Transport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "http://127.0.0.1:1/x" {
			t.Errorf("redirect = %d %q", resp.StatusCode, resp.Header.Get("Location"))
		}
	})
	t.Run("method", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodDelete, ts.URL+"/api/profile", nil)
		req.Header.Set("Authorization", "Bearer "+at)
		if r := do(t, req); r.status != http.StatusMethodNotAllowed {
			t.Errorf("DELETE /api/profile = %d, want 405", r.status)
		}
	})
}

func TestRevokeAccessTokensAndAll(t *testing.T) {
	s := NewServer(t, Options{})
	at, rt := login(t, s.URL)
	s.RevokeAccessTokens()
	r := get(t, s.URL, "/api/profile", at)
	if r.status != http.StatusUnauthorized || !strings.Contains(r.header.Get("WWW-Authenticate"), "access token revoked") {
		t.Fatalf("revoked access token = %d %q, want 401 revoked", r.status, r.header.Get("WWW-Authenticate"))
	}
	r2 := refresh(t, s.URL, rt)
	if r2.status != http.StatusOK {
		t.Fatalf("refresh after RevokeAccessTokens = %d, want 200", r2.status)
	}
	if got := get(t, s.URL, "/api/profile", r2.str("access_token")); got.status != http.StatusOK {
		t.Errorf("new access token = %d, want 200", got.status)
	}
	s.RevokeAll()
	if got := get(t, s.URL, "/api/profile", r2.str("access_token")); got.status != http.StatusUnauthorized {
		t.Errorf("access after RevokeAll = %d, want 401", got.status)
	}
	if got := refresh(t, s.URL, r2.str("refresh_token")); got.status != http.StatusUnauthorized {
		t.Errorf("refresh after RevokeAll = %d, want 401", got.status)
	}
	at3, _ := login(t, s.URL)
	if got := get(t, s.URL, "/api/profile", at3); got.status != http.StatusOK {
		t.Errorf("login after RevokeAll = %d, want 200", got.status)
	}
	if st := s.Counters(); st.Revocations != 2 || st.ActiveFamilies != 1 {
		t.Errorf("Counters() = %+v, want 2 revocations, 1 active family", st)
	}
}

func TestDebugStats(t *testing.T) {
	ts := NewServer(t, Options{})
	login(t, ts.URL)
	get(t, ts.URL, "/api/profile", "")
	r := get(t, ts.URL, "/debug/stats", "")
	if r.status != 200 || r.json["logins"] != float64(1) || r.json["unauthorized"] != float64(1) || r.json["active_families"] != float64(1) {
		t.Errorf("/debug/stats = %d %s", r.status, r.body)
	}
	for _, k := range []string{"failed_logins", "refreshes", "failed_refreshes", "reuses", "forbidden", "resources", "revocations", "injected_failures"} {
		if _, ok := r.json[k]; !ok {
			t.Errorf("/debug/stats lacks %q", k)
		}
	}
}
