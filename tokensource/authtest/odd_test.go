package authtest

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tokenrefresh/tokenrefresh/internal/fakeclock"
)

// TestMutateTokenResponse sends odd bodies while the server rotates as
// usual, on both APIs.
func TestMutateTokenResponse(t *testing.T) {
	for _, e := range endpoints() {
		t.Run(e.name, func(t *testing.T) {
			var mu sync.Mutex // guards ops
			var ops []string
			s := NewServer(t, Options{MutateTokenResponse: func(op string, body map[string]any) {
				mu.Lock()
				ops = append(ops, op)
				mu.Unlock()
				body["expires_in"] = 0
				if op == OpRefresh {
					body["token_type"] = 7
					delete(body, "access_token")
				}
			}})
			r := do(t, e.loginReq(t, s.URL, "alice", "wonderland"))
			if r.status != http.StatusOK || r.json["expires_in"] != float64(0) || r.str("token_type") != "Bearer" {
				t.Fatalf("mutated login = %d %v, want expires_in 0", r.status, r.json)
			}
			rt := r.str("refresh_token")
			r = e.refresh(t, s.URL, rt)
			if _, ok := r.json["access_token"]; ok || r.json["token_type"] != float64(7) || r.str("refresh_token") == "" {
				t.Fatalf("mutated refresh = %v, want no access_token, token_type 7, a refresh_token", r.json)
			}
			rt2 := r.str("refresh_token")
			s.SetMutateTokenResponse(func(_ string, body map[string]any) { body["expires_in"] = "soon" })
			if r := e.refresh(t, s.URL, rt2); r.status != http.StatusOK || r.str("expires_in") != "soon" || r.str("access_token") == "" {
				t.Errorf("refresh with the rotated token = %d %v, want 200 with expires_in \"soon\"", r.status, r.json)
			}
			s.SetMutateTokenResponse(nil)
			if r := e.refresh(t, s.URL, rt); r.str("error_description") != reasonReused {
				t.Errorf("first token again = %d %s, want reuse (it was rotated)", r.status, r.body)
			}
			mu.Lock()
			got := strings.Join(ops, ",")
			mu.Unlock()
			if got != "login,refresh" {
				t.Errorf("hook saw ops %q, want login,refresh", got)
			}
			if st := s.Counters(); st.Refreshes != 2 || st.Reuses != 1 {
				t.Errorf("Counters() = %+v, want 2 refreshes, 1 reuse", st)
			}
		})
	}
}

// TestClockOffsetAbsoluteExpiry runs the server's clock 20 minutes behind:
// expires_at read against Date gives the 15-minute lifetime, and the server
// judges expiry on its own clock.
func TestClockOffsetAbsoluteExpiry(t *testing.T) {
	for _, e := range endpoints() {
		t.Run(e.name, func(t *testing.T) {
			clk := fakeclock.New(clockStart)
			s := NewServer(t, Options{Now: clk.Now, ClockOffset: -20 * time.Minute, ExpiresIn: ExpiresAtEpoch})
			r := do(t, e.loginReq(t, s.URL, "alice", "wonderland"))
			serverNow := clk.Now().Add(-20 * time.Minute)
			date, err := http.ParseTime(r.header.Get("Date"))
			if err != nil || !date.Equal(serverNow.Truncate(time.Second)) {
				t.Fatalf("Date = %q (%v), want the server's clock %v", r.header.Get("Date"), err, serverNow)
			}
			at, _ := r.json["expires_at"].(float64)
			rat, _ := r.json["refresh_expires_at"].(float64)
			if int64(at)-date.Unix() != 900 || int64(rat)-date.Unix() != 43200 {
				t.Errorf("expires_at - Date = %v, refresh_expires_at - Date = %v; want 900, 43200", int64(at)-date.Unix(), int64(rat)-date.Unix())
			}
			if _, ok := r.json["expires_in"]; ok {
				t.Errorf("response has expires_in with ExpiresAtEpoch: %v", r.json)
			}
			access := r.str("access_token")
			clk.Advance(14 * time.Minute)
			if got := get(t, s.URL, "/api/profile", access); got.status != http.StatusOK {
				t.Errorf("at 14 minutes: %d, want 200", got.status)
			}
			clk.Advance(time.Minute)
			got := get(t, s.URL, "/api/profile", access)
			if got.status != http.StatusUnauthorized || got.header.Get("Date") != clk.Now().Add(-20*time.Minute).Format(http.TimeFormat) {
				t.Errorf("at 15 minutes: %d Date %q, want 401 with the server's Date", got.status, got.header.Get("Date"))
			}
			if st := s.Counters(); st.ActiveFamilies != 1 {
				t.Errorf("Counters() = %+v, want the family active", st)
			}
		})
	}
}

// TestDateHeaderEverywhere checks that injected, 404 and debug answers also
// carry the server's Date, with a positive offset.
func TestDateHeaderEverywhere(t *testing.T) {
	clk := fakeclock.New(clockStart)
	s := NewServer(t, Options{Now: clk.Now, ClockOffset: time.Hour})
	want := clk.Now().Add(time.Hour).Format(http.TimeFormat)
	s.FailPath("/auth/refresh", 1, Fault{Status: 503})
	s.RedirectPath("/auth/login", 1, http.StatusTemporaryRedirect, "")
	s.RotateThenFail(1, Lost504Empty)
	_, rt := login(t, s.URL) // follows the redirect
	replies := map[string]reply{
		"fault":    refresh(t, s.URL, rt),
		"lost":     refresh(t, s.URL, rt),
		"404":      get(t, s.URL, "/nowhere", ""),
		"stats":    get(t, s.URL, "/debug/stats", ""),
		"resource": get(t, s.URL, "/api/items", ""),
	}
	for name, r := range replies {
		if got := r.header.Get("Date"); got != want {
			t.Errorf("%s (%d): Date = %q, want %q", name, r.status, got, want)
		}
	}
	if replies["lost"].status != http.StatusGatewayTimeout || len(replies["lost"].body) != 0 {
		t.Errorf("Lost504Empty = %d %q, want an empty 504", replies["lost"].status, replies["lost"].body)
	}
}

// TestReuseGrace: a rotated token presented again within the grace period
// gets a fresh pair of its family; after it, reuse revokes the family.
func TestReuseGrace(t *testing.T) {
	for _, e := range endpoints() {
		t.Run(e.name, func(t *testing.T) {
			clk := fakeclock.New(clockStart)
			s := NewServer(t, Options{Now: clk.Now, ReuseGrace: 30 * time.Second})
			_, rt1 := e.login(t, s.URL)
			rt2 := e.refresh(t, s.URL, rt1).str("refresh_token")
			clk.Advance(29 * time.Second)
			r := e.refresh(t, s.URL, rt1)
			rt3 := r.str("refresh_token")
			if r.status != http.StatusOK || rt3 == "" || rt3 == rt2 || r.str("access_token") == "" {
				t.Fatalf("reuse within grace = %d %s, want 200 with a fresh pair", r.status, r.body)
			}
			if got := get(t, s.URL, "/api/profile", r.str("access_token")); got.status != http.StatusOK {
				t.Errorf("grace access token = %d, want 200", got.status)
			}
			if st := s.Counters(); st.GraceReuses != 1 || st.Reuses != 0 || st.Refreshes != 2 || liveRefreshTokens(s) != 2 {
				t.Fatalf("Counters() = %+v, want 1 grace reuse, both successors live", st)
			}
			clk.Advance(time.Second) // 30s after the rotation: grace over
			if r := e.refresh(t, s.URL, rt1); r.str("error_description") != reasonReused {
				t.Fatalf("reuse after grace = %d %s, want reuse detection", r.status, r.body)
			}
			if r := e.refresh(t, s.URL, rt3); r.str("error_description") != reasonRevoked {
				t.Errorf("grace successor after reuse = %d %s, want revoked", r.status, r.body)
			}
			st := s.Counters()
			if st.GraceReuses != 1 || st.Reuses != 1 || st.MaxPresentations != 3 || st.ActiveFamilies != 0 {
				t.Errorf("Counters() = %+v, want 1 grace reuse, 1 detection, max 3 presentations, no family", st)
			}
			p := s.Presentations()
			if p[TokenLabel(rt1)] != 3 || p[TokenLabel(rt3)] != 1 || p[TokenLabel(rt2)] != 0 {
				t.Errorf("Presentations() = %v, want rt1 3, rt3 1, rt2 absent", p)
			}
		})
	}
}

func TestBadCredentialsStatus(t *testing.T) {
	for _, tt := range []struct {
		status         int
		json, password int // want
	}{
		{0, http.StatusUnauthorized, http.StatusBadRequest},
		{http.StatusInternalServerError, 500, 500},
		{42, http.StatusUnauthorized, http.StatusBadRequest},
	} {
		s := NewServer(t, Options{BadCredentialsStatus: tt.status})
		for _, e := range endpoints() {
			want := map[string]int{"json": tt.json, "oauth2": tt.password}[e.name]
			r := do(t, e.loginReq(t, s.URL, "alice", "wrong"))
			if r.status != want || r.str("error") == "" {
				t.Errorf("BadCredentialsStatus %d, %s: wrong password = %d %s, want %d", tt.status, e.name, r.status, r.body, want)
			}
		}
		if st := s.Counters(); st.FailedLogins != 2 || st.LoginRequests != 2 || st.Logins != 0 {
			t.Errorf("Counters() = %+v, want 2 failed login requests", st)
		}
	}
}

func TestTokenLabel(t *testing.T) {
	for tok, prefix := range map[string]string{"rt_SECRET": "rt:", "at_SECRET": "at:", "SECRET": "tok:", "": "tok:"} {
		l := TokenLabel(tok)
		if !strings.HasPrefix(l, prefix) || len(l) != len(prefix)+12 || strings.Contains(l, "SECRET") || l != TokenLabel(tok) {
			t.Errorf("TokenLabel(%q) = %q, want %s and 12 hex digits, stable", tok, l, prefix)
		}
	}
	if TokenLabel("rt_a") == TokenLabel("rt_b") {
		t.Error("TokenLabel does not tell tokens apart")
	}
}

// TestResetOverTLS checks LostReset over HTTPS/1.1 (the TLS connection is
// cut below TLS) and HTTP/2 (the stream is aborted): the client gets an
// error either way, and the refresh was processed.
func TestResetOverTLS(t *testing.T) {
	for _, h2 := range []bool{false, true} {
		s := newServer(Options{})
		ts := httptest.NewUnstartedServer(http.HandlerFunc(s.serveHTTP))
		ts.EnableHTTP2 = h2
		ts.StartTLS()
		c := ts.Client()
		r := doWith(t, c, newReq(t, ts.URL+"/auth/login", "application/json", `{"username":"alice","password":"wonderland"}`))
		s.RotateThenFail(1, LostReset)
		resp, err := c.Do(newReq(t, ts.URL+"/auth/refresh", "application/json", `{"refresh_token":"`+r.str("refresh_token")+`"}`))
		if err == nil {
			t.Errorf("HTTP/2 %v: reset answered %d (%s), want an error", h2, resp.StatusCode, resp.Proto)
			resp.Body.Close()
		}
		t.Logf("HTTP/2 %v: client error: %v", h2, err)
		if st := s.Counters(); st.Refreshes != 1 || st.Resets != 1 || st.MaxPresentations != 1 {
			t.Errorf("HTTP/2 %v: Counters() = %+v, want 1 refresh, 1 reset", h2, st)
		}
		c.CloseIdleConnections()
		ts.Close()
	}
}

// TestNewModesLogNoSecrets runs the new modes with a debug logger and checks
// that no token value or password reached the log.
func TestNewModesLogNoSecrets(t *testing.T) {
	var buf safeBuffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	clk := fakeclock.New(clockStart)
	s := NewServer(t, Options{Logger: log, Now: clk.Now, ReuseGrace: time.Minute,
		Users: map[string]string{"alice": "pw-SECRET"}, BadCredentialsStatus: 500})
	postJSON(t, s.URL, "/auth/login", `{"username":"alice","password":"wrong-SECRET"}`)
	r := postJSON(t, s.URL, "/auth/login", `{"username":"alice","password":"pw-SECRET"}`)
	rt := r.str("refresh_token")
	s.RotateThenFail(1, Lost504HTML)
	refresh(t, s.URL, rt)
	r2 := refresh(t, s.URL, rt) // grace reuse
	out := buf.String()
	if !strings.Contains(out, "grace") || !strings.Contains(out, "answer lost") {
		t.Fatalf("log lacks the grace and lost-answer lines; got:\n%s", out)
	}
	for _, secret := range []string{rt, r.str("access_token"), r2.str("refresh_token"), r2.str("access_token"), "SECRET"} {
		if secret == "" || strings.Contains(out, secret) {
			t.Errorf("log contains a secret (or a token is missing) %q:\n%s", secret, out)
		}
	}
}
