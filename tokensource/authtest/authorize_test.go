package authtest

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tokenrefresh/tokenrefresh/internal/fakeclock"
)

// The RFC 7636 appendix B verifier and challenge.
const (
	testVerifier  = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
	testChallenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
	testRedirect  = "http://127.0.0.1:49152/callback"
)

// authorizeQuery is a valid authorization request of s's client.
func authorizeQuery(s *Server) url.Values {
	return url.Values{"response_type": {"code"}, "client_id": {s.ClientID}, "redirect_uri": {testRedirect},
		"state": {"st-1"}, "code_challenge": {testChallenge}, "code_challenge_method": {"S256"}, "scope": {"openid profile"}}
}

// authorize makes an authorization request without following its
// redirect, and returns the answer and the redirect's query.
func authorize(t *testing.T, ctx context.Context, s *Server, q url.Values) (reply, url.Values, error) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.AuthorizationURL()+"?"+q.Encode(), nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Transport: s.Client().Transport,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		return reply{}, nil, err
	}
	resp.Body.Close()
	r := reply{status: resp.StatusCode, header: resp.Header}
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if loc == nil {
		return r, nil, nil
	}
	return r, loc.Query(), nil
}

func exchange(t *testing.T, s *Server, code, verifier string) reply {
	t.Helper()
	return postForm(t, s.URL, "/oauth2/token", url.Values{"grant_type": {"authorization_code"}, "code": {code},
		"redirect_uri": {testRedirect}, "code_verifier": {verifier}}, s.ClientID, s.ClientSecret)
}

// TestAuthorizationCode runs the flow on the wire: a code bound to the
// PKCE challenge, refused with a wrong verifier, exchanged once for
// tokens and an (unsigned) id_token; a second exchange revokes them.
func TestAuthorizationCode(t *testing.T) {
	s := NewServer(t, Options{})
	r, back, err := authorize(t, t.Context(), s, authorizeQuery(s))
	if err != nil {
		t.Fatal(err)
	}
	if r.status != http.StatusFound || !strings.HasPrefix(r.header.Get("Location"), testRedirect+"?") {
		t.Fatalf("authorize: %d to %q", r.status, r.header.Get("Location"))
	}
	code := back.Get("code")
	if !strings.HasPrefix(code, "ac_") || back.Get("state") != "st-1" || back.Get("iss") != s.IssuerURL() {
		t.Fatalf("redirect query = %v", back)
	}
	if r := exchange(t, s, code, strings.Repeat("x", 43)); r.status != http.StatusBadRequest || r.str("error") != "invalid_grant" {
		t.Errorf("exchange with a wrong verifier: %d %s", r.status, r.body)
	}
	r = exchange(t, s, code, testVerifier)
	if r.status != http.StatusOK || r.str("access_token") == "" || r.str("refresh_token") == "" {
		t.Fatalf("exchange: %d %s", r.status, r.body)
	}
	parts := strings.Split(r.str("id_token"), ".")
	if len(parts) != 3 || parts[2] != "" {
		t.Fatalf("id_token = %q, want an unsigned JWT", r.str("id_token"))
	}
	claims, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var c map[string]any
	if err := json.Unmarshal(claims, &c); err != nil || c["sub"] != "alice" || c["aud"] != s.ClientID || c["iss"] != s.IssuerURL() {
		t.Errorf("id_token claims = %s", claims)
	}
	at := r.str("access_token")
	if got := get(t, s.URL, "/api/profile", at); got.status != http.StatusOK || got.str("user") != "alice" {
		t.Errorf("profile: %d %s", got.status, got.body)
	}
	if r := exchange(t, s, code, testVerifier); r.status != http.StatusBadRequest || !strings.Contains(r.str("error_description"), "reused") {
		t.Errorf("second exchange: %d %s", r.status, r.body)
	}
	if got := get(t, s.URL, "/api/profile", at); got.status != http.StatusUnauthorized {
		t.Errorf("profile after the code's reuse: %d, want 401", got.status)
	}
	if c := s.Counters(); c.AuthorizationCodes != 1 || c.Logins != 1 || c.FailedLogins != 2 {
		t.Errorf("counters = %+v, want 1 code, 1 login, 2 failed logins", c)
	}
}

// TestAuthorizationCodeRefusals: what the exchange checks.
func TestAuthorizationCodeRefusals(t *testing.T) {
	clk := fakeclock.New(clockStart)
	s := NewServer(t, Options{Now: clk.Now})
	newCode := func() string {
		_, back, err := authorize(t, t.Context(), s, authorizeQuery(s))
		if err != nil {
			t.Fatal(err)
		}
		return back.Get("code")
	}
	tests := []struct {
		name   string
		form   func(code string) url.Values
		before func()
		want   string
	}{
		{"unknown code", func(string) url.Values { return url.Values{"code": {"ac_nope"}} }, nil, "unknown"},
		{"other redirect_uri", func(c string) url.Values {
			return url.Values{"code": {c}, "redirect_uri": {"http://127.0.0.1:1/cb"}}
		}, nil, "redirect_uri"},
		{"no verifier", func(c string) url.Values { return url.Values{"code": {c}, "code_verifier": nil} }, nil, "code_verifier"},
		{"expired", func(c string) url.Values { return url.Values{"code": {c}} }, func() { clk.Advance(codeTTL) }, "expired"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			form := url.Values{"grant_type": {"authorization_code"}, "redirect_uri": {testRedirect}, "code_verifier": {testVerifier}}
			for k, v := range tt.form(newCode()) {
				form[k] = v
			}
			if tt.before != nil {
				tt.before()
			}
			r := postForm(t, s.URL, "/oauth2/token", form, s.ClientID, s.ClientSecret)
			if r.status != http.StatusBadRequest || r.str("error") != "invalid_grant" || !strings.Contains(r.str("error_description"), tt.want) {
				t.Errorf("%d %s, want invalid_grant about %s", r.status, r.body, tt.want)
			}
		})
	}
}

// TestAuthorizeRefusals: requests that cannot be redirected back get a
// page; the others are redirected back with an error.
func TestAuthorizeRefusals(t *testing.T) {
	s := NewServer(t, Options{})
	tests := []struct {
		name   string
		change func(q url.Values)
		status int
		code   string // the redirect's error
	}{
		{"unknown client", func(q url.Values) { q.Set("client_id", "other") }, http.StatusBadRequest, ""},
		{"redirect to another host", func(q url.Values) { q.Set("redirect_uri", "http://evil.example/cb") }, http.StatusBadRequest, ""},
		{"https redirect", func(q url.Values) { q.Set("redirect_uri", "https://127.0.0.1/cb") }, http.StatusBadRequest, ""},
		{"no PKCE", func(q url.Values) { q.Del("code_challenge") }, http.StatusFound, "invalid_request"},
		{"plain PKCE", func(q url.Values) { q.Set("code_challenge_method", "plain") }, http.StatusFound, "invalid_request"},
		{"implicit", func(q url.Values) { q.Set("response_type", "token") }, http.StatusFound, "unsupported_response_type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := authorizeQuery(s)
			tt.change(q)
			r, back, err := authorize(t, t.Context(), s, q)
			if err != nil {
				t.Fatal(err)
			}
			if r.status != tt.status || back.Get("error") != tt.code {
				t.Errorf("%d, error %q; want %d, %q", r.status, back.Get("error"), tt.status, tt.code)
			}
			if tt.code != "" && back.Get("state") != "st-1" {
				t.Errorf("error redirect without the state: %v", back)
			}
		})
	}
	if c := s.Counters(); c.AuthorizationCodes != 0 {
		t.Errorf("%d codes issued, want 0", c.AuthorizationCodes)
	}
}

// TestAuthorizeDecisions: a queued denial answers access_denied; with
// RequireApproval a request waits for a decision.
func TestAuthorizeDecisions(t *testing.T) {
	s := NewServer(t, Options{})
	s.DenyAuthorization()
	_, back, err := authorize(t, t.Context(), s, authorizeQuery(s))
	if err != nil {
		t.Fatal(err)
	}
	if back.Get("error") != "access_denied" || back.Get("code") != "" || back.Get("state") != "st-1" {
		t.Errorf("denied redirect = %v", back)
	}
	if _, back, _ = authorize(t, t.Context(), s, authorizeQuery(s)); back.Get("code") == "" {
		t.Errorf("after the one denial: %v, want a code", back)
	}

	// A server of its own, so that the abandoned request cannot take the
	// decisions below.
	w := NewServer(t, Options{RequireApproval: true})
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	if _, _, err := authorize(t, ctx, w, authorizeQuery(w)); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("request without a decision = %v, want it still waiting at its deadline", err)
	}

	m := NewServer(t, Options{RequireApproval: true})
	type result struct {
		back url.Values
		err  error
	}
	done := make(chan result, 1)
	go func() {
		_, back, err := authorize(t, t.Context(), m, authorizeQuery(m))
		done <- result{back, err}
	}()
	m.ApproveAuthorization()
	if r := <-done; r.err != nil || r.back.Get("code") == "" {
		t.Errorf("approved request = %v, %v", r.back, r.err)
	}
	if r := do(t, mustRequest(t, http.MethodPost, m.URL+"/debug/authorize?decision=deny")); r.status != http.StatusNoContent {
		t.Fatalf("POST /debug/authorize: %d", r.status)
	}
	if _, back, _ := authorize(t, t.Context(), m, authorizeQuery(m)); back.Get("error") != "access_denied" {
		t.Errorf("after /debug/authorize?decision=deny: %v", back)
	}
	if c := s.Counters().Denied + m.Counters().Denied; c != 2 {
		t.Errorf("%d denials counted, want 2", c)
	}
}

func mustRequest(t *testing.T, method, u string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// TestChallengeVector pins the server's S256 to RFC 7636 appendix B.
func TestChallengeVector(t *testing.T) {
	sum := sha256.Sum256([]byte(testVerifier))
	if got := base64.RawURLEncoding.EncodeToString(sum[:]); got != testChallenge {
		t.Errorf("S256(%q) = %q, want %q", testVerifier, got, testChallenge)
	}
}
