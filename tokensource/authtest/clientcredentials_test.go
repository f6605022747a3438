package authtest

import (
	"net/http"
	"net/url"
	"testing"
)

// TestClientCredentials: the grant answers an access token with expires_in
// and no refresh token, counts apart from logins, and the token works on
// the API as the client.
func TestClientCredentials(t *testing.T) {
	s := NewServer(t, Options{ClientID: "job", ClientSecret: "s3cret"})
	cc := url.Values{"grant_type": {"client_credentials"}, "scope": {"read"}}

	r := postForm(t, s.URL, "/oauth2/token", cc, "job", "s3cret")
	if r.status != http.StatusOK || r.str("access_token") == "" || r.json["refresh_token"] != nil {
		t.Fatalf("client_credentials: status %d, body %s; want 200 with an access token and no refresh token", r.status, r.body)
	}
	if r.json["expires_in"] != float64(900) || r.str("scope") != "read" || r.header.Get("Cache-Control") != "no-store" {
		t.Errorf("answer = %s (Cache-Control %q), want expires_in 900, scope read, no-store", r.body, r.header.Get("Cache-Control"))
	}
	if p := get(t, s.URL, "/api/profile", r.str("access_token")); p.status != http.StatusOK || p.str("user") != "job" {
		t.Errorf("profile = %d %s, want 200 for user job", p.status, p.body)
	}

	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {"job"}, "client_secret": {"s3cret"}}
	if r := postForm(t, s.URL, "/oauth2/token", form, "", ""); r.status != http.StatusOK {
		t.Errorf("client_credentials with form authentication: status %d, body %s", r.status, r.body)
	}
	if r := postForm(t, s.URL, "/oauth2/token", cc, "job", "wrong"); r.status != http.StatusUnauthorized || r.str("error") != "invalid_client" {
		t.Errorf("wrong secret: %d %s, want 401 invalid_client", r.status, r.body)
	}

	c := s.Counters()
	if c.ClientCredentials != 2 || c.Logins != 0 || c.LoginRequests != 0 || c.ActiveFamilies != 0 {
		t.Errorf("Counters() = %+v, want 2 client credentials, no login, no active family", c)
	}
	var issued, rejected int
	for _, e := range s.Events() {
		switch e.Kind {
		case EventClientCredentials:
			issued++
			if e.User != "job" || e.Issued == "" {
				t.Errorf("event %v, want user job and an issued label", e)
			}
		case EventClientRejected:
			rejected++
		}
	}
	if issued != 2 || rejected != 1 {
		t.Errorf("events: %d client-credentials, %d client-rejected; want 2, 1", issued, rejected)
	}
}

// TestClientCredentialsRevocation: RevokeAccessTokens, RevokeAll and RFC
// 7009 revocation all kill a client credentials token.
func TestClientCredentialsRevocation(t *testing.T) {
	tests := []struct {
		name   string
		revoke func(s *Server, at string)
	}{
		{"RevokeAccessTokens", func(s *Server, _ string) { s.RevokeAccessTokens() }},
		{"RevokeAll", func(s *Server, _ string) { s.RevokeAll() }},
		{"oauth2/revoke", func(s *Server, at string) {
			postForm(t, s.URL, "/oauth2/revoke", url.Values{"token": {at}}, DefaultClientID, DefaultClientSecret)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewServer(t, Options{})
			r := postForm(t, s.URL, "/oauth2/token", url.Values{"grant_type": {"client_credentials"}}, DefaultClientID, DefaultClientSecret)
			at := r.str("access_token")
			tt.revoke(s, at)
			if p := get(t, s.URL, "/api/items", at); p.status != http.StatusUnauthorized {
				t.Errorf("API after revocation: %d, want 401", p.status)
			}
		})
	}
}

// TestClientCredentialsLostReply: ProcessThenFail(OpClientCredentials)
// issues the token and loses the answer; MutateTokenResponse sees the op.
func TestClientCredentialsLostReply(t *testing.T) {
	var ops []string
	s := NewServer(t, Options{MutateTokenResponse: func(op string, _ map[string]any) { ops = append(ops, op) }})
	s.ProcessThenFail(OpClientCredentials, 1, Lost504Empty)
	cc := url.Values{"grant_type": {"client_credentials"}}
	if r := postForm(t, s.URL, "/oauth2/token", cc, DefaultClientID, DefaultClientSecret); r.status != http.StatusGatewayTimeout {
		t.Errorf("first answer: %d, want 504", r.status)
	}
	if r := postForm(t, s.URL, "/oauth2/token", cc, DefaultClientID, DefaultClientSecret); r.status != http.StatusOK {
		t.Errorf("second answer: %d, want 200", r.status)
	}
	if c := s.Counters(); c.ClientCredentials != 2 || c.LostReplies != 1 {
		t.Errorf("Counters() = %+v, want 2 client credentials, 1 lost reply", c)
	}
	if len(ops) != 1 || ops[0] != OpClientCredentials {
		t.Errorf("MutateTokenResponse ops = %q, want [%q]", ops, OpClientCredentials)
	}
}
