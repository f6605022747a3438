package authtest

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// TestJSONStyles checks the names and shape of the JSON API in each style,
// for the login, the refresh and the logout.
func TestJSONStyles(t *testing.T) {
	tests := []struct {
		name       string
		style      JSONStyle
		expires    ExpiresInStyle
		rtField    string   // request field of the refresh token
		wantFields []string // top-level (or envelope) fields of a token answer
		envelope   bool
	}{
		{"snake", JSONSnakeCase, ExpiresInNumber, "refresh_token",
			[]string{"access_token", "refresh_token", "token_type", "expires_in", "refresh_expires_in"}, false},
		{"camel", JSONCamelCase, ExpiresInNumber, "refreshToken",
			[]string{"accessToken", "refreshToken", "tokenType", "expiresIn", "refreshExpiresIn"}, false},
		{"camel absolute", JSONCamelCase, ExpiresAtEpoch, "refreshToken",
			[]string{"accessToken", "refreshToken", "tokenType", "expiresAt", "refreshExpiresAt"}, false},
		{"envelope", JSONEnvelope, ExpiresInNumber, "refresh_token",
			[]string{"access_token", "refresh_token", "token_type", "expires_in", "refresh_expires_in"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewServer(t, Options{JSONStyle: tt.style, ExpiresIn: tt.expires})
			tokens := func(r reply) map[string]any { t.Helper(); return tokenAnswer(t, r, tt.wantFields, tt.envelope) }
			pair := tokens(postJSON(t, s.URL, "/auth/login", `{"username":"alice","password":"wonderland"}`))
			rt, _ := pair[tt.wantFields[1]].(string)
			body := func(field string) string {
				b, _ := json.Marshal(map[string]string{field: rt})
				return string(b)
			}
			other := map[string]string{"refresh_token": "refreshToken", "refreshToken": "refresh_token"}[tt.rtField]
			if r := postJSON(t, s.URL, "/auth/refresh", body(other)); r.status != http.StatusBadRequest ||
				!strings.Contains(r.str("error_description"), tt.rtField+" is required") {
				t.Errorf("refresh with %s = %d %s, want 400 naming %s", other, r.status, r.body, tt.rtField)
			}
			next := tokens(postJSON(t, s.URL, "/auth/refresh", body(tt.rtField)))
			rt, _ = next[tt.wantFields[1]].(string)
			if r := postJSON(t, s.URL, "/auth/logout", body(tt.rtField)); r.status != http.StatusNoContent {
				t.Errorf("logout = %d %s, want 204", r.status, r.body)
			}
			if st := s.Counters(); st.Logins != 1 || st.Refreshes != 1 || st.Revocations != 1 || st.ActiveFamilies != 0 {
				t.Errorf("Counters() = %+v, want 1 login, 1 refresh, 1 revocation", st)
			}
			// Errors keep the RFC 6749 shape in every style.
			if r := postJSON(t, s.URL, "/auth/refresh", body(tt.rtField)); r.str("error") != "invalid_grant" {
				t.Errorf("refused refresh = %d %s, want a flat invalid_grant", r.status, r.body)
			}
		})
	}
}

// tokenAnswer checks that r is a token answer with exactly the fields
// want, at the top or in a {"data":...} envelope, and returns them.
func tokenAnswer(t *testing.T, r reply, want []string, envelope bool) map[string]any {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("status %d %s, want 200", r.status, r.body)
	}
	m := r.json
	if envelope {
		m, _ = r.json["data"].(map[string]any)
		if len(r.json) != 1 || m == nil {
			t.Fatalf("answer %s, want {\"data\":{...}} only", r.body)
		}
	}
	if len(m) != len(want) {
		t.Errorf("answer %s, want the fields %v", r.body, want)
	}
	for _, f := range want {
		if _, ok := m[f]; !ok {
			t.Errorf("answer %s lacks %q", r.body, f)
		}
	}
	return m
}

// TestJSONStyleNotOnOAuth2 checks that /oauth2/token stays RFC 6749
// whatever the JSON API's style.
func TestJSONStyleNotOnOAuth2(t *testing.T) {
	for _, style := range []JSONStyle{JSONCamelCase, JSONEnvelope} {
		s := NewServer(t, Options{JSONStyle: style})
		e := endpoints()[1]
		if _, rt := e.login(t, s.URL); rt == "" {
			t.Errorf("style %d: /oauth2/token answer lacks refresh_token", style)
		}
	}
}

func TestChallenges(t *testing.T) {
	const invalid = `Bearer realm="authtest", error="invalid_token", error_description="unknown access token"`
	hydra := `Bearer error="request_unauthorized", error_description="` + hydraDescription + `"`
	tests := []struct {
		name      string
		ch        Challenge
		withToken bool
		status    int
		header    string
		code      string
	}{
		{"invalid_token", ChallengeInvalidToken, true, 401, invalid, "invalid_token"},
		{"invalid_token, no token", ChallengeInvalidToken, false, 401, `Bearer realm="authtest"`, "invalid_token"},
		{"bare", ChallengeBare, true, 401, `Bearer realm="authtest"`, "invalid_token"},
		{"none", ChallengeNone, true, 401, "", "invalid_token"},
		{"none, no token", ChallengeNone, false, 401, "", "invalid_token"},
		{"insufficient_scope", ChallengeInsufficientScope, true, 403,
			`Bearer realm="authtest", error="insufficient_scope", error_description="unknown access token"`, "insufficient_scope"},
		{"insufficient_scope, no token", ChallengeInsufficientScope, false, 401, `Bearer realm="authtest"`, "invalid_token"},
		{"hydra", ChallengeHydra, true, 401, hydra, "request_unauthorized"},
		{"hydra, no token", ChallengeHydra, false, 401, hydra, "request_unauthorized"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewServer(t, Options{Challenge: tt.ch})
			tok := ""
			if tt.withToken {
				tok = "at_unknown"
			}
			r := get(t, s.URL, "/api/items", tok)
			if r.status != tt.status || r.header.Get("WWW-Authenticate") != tt.header || r.str("error") != tt.code {
				t.Errorf("got %d %q %q, want %d %q %q", r.status, r.header.Get("WWW-Authenticate"), r.str("error"),
					tt.status, tt.header, tt.code)
			}
			if _, ok := r.header["Www-Authenticate"]; ok != (tt.header != "") {
				t.Errorf("WWW-Authenticate present = %v, want %v", ok, tt.header != "")
			}
			st := s.Counters()
			if want := map[bool]int64{true: 1}[tt.status == 403]; st.Forbidden != want || st.Unauthorized != 1-want {
				t.Errorf("Counters() = %+v, want Forbidden %d", st, want)
			}
			// A valid token is served in every style.
			at, _ := login(t, s.URL)
			if r := get(t, s.URL, "/api/items", at); r.status != http.StatusOK {
				t.Errorf("valid token = %d, want 200", r.status)
			}
		})
	}
}
