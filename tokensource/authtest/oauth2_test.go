package authtest

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"
)

func oauthConfig(base string, style oauth2.AuthStyle) *oauth2.Config {
	return &oauth2.Config{
		ClientID:     "cli",
		ClientSecret: "s3cret:/+",
		Endpoint:     oauth2.Endpoint{TokenURL: base + "/oauth2/token", AuthStyle: style},
	}
}

// TestOAuth2WithXOAuth2 drives the endpoint with golang.org/x/oauth2, the
// client tokensource uses, in both client authentication styles.
func TestOAuth2WithXOAuth2(t *testing.T) {
	for name, style := range map[string]oauth2.AuthStyle{"basic": oauth2.AuthStyleInHeader, "form": oauth2.AuthStyleInParams} {
		t.Run(name, func(t *testing.T) {
			s := NewServer(t, Options{ClientID: "cli", ClientSecret: "s3cret:/+"})
			ctx := context.WithValue(context.Background(), oauth2.HTTPClient, s.Client())
			conf := oauthConfig(s.URL, style)
			tok, err := conf.PasswordCredentialsToken(ctx, "alice", "wonderland")
			if err != nil {
				t.Fatalf("PasswordCredentialsToken: %v", err)
			}
			if tok.RefreshToken == "" || tok.ExpiresIn != 900 || tok.Extra("refresh_expires_in") != float64(43200) {
				t.Errorf("token: refresh %v, expires_in %d, refresh_expires_in %v", tok.RefreshToken != "", tok.ExpiresIn, tok.Extra("refresh_expires_in"))
			}
			old := *tok
			tok.Expiry = tok.Expiry.Add(-1e12) // force a refresh
			fresh, err := conf.TokenSource(ctx, tok).Token()
			if err != nil {
				t.Fatalf("refresh: %v", err)
			}
			if fresh.RefreshToken == old.RefreshToken || fresh.AccessToken == old.AccessToken {
				t.Errorf("refresh did not rotate")
			}
			// Reuse of the rotated-from refresh token: invalid_grant, family revoked.
			old.Expiry = old.Expiry.Add(-1e12)
			_, err = conf.TokenSource(ctx, &old).Token()
			var re *oauth2.RetrieveError
			if !errors.As(err, &re) || re.ErrorCode != "invalid_grant" || re.Response.StatusCode != http.StatusBadRequest {
				t.Fatalf("reuse error = %v, want 400 invalid_grant", err)
			}
			if got := get(t, s.URL, "/api/profile", fresh.AccessToken); got.status != http.StatusUnauthorized {
				t.Errorf("rotated-to access token after reuse: %d, want 401", got.status)
			}
			if st := s.Counters(); st.Logins != 1 || st.Refreshes != 1 || st.Reuses != 1 {
				t.Errorf("Counters() = %+v, want 1 login, 1 refresh, 1 reuse", st)
			}
		})
	}
}

func TestOAuth2Errors(t *testing.T) {
	// The oversized request makes net/http wait 0.5 s before closing its
	// connection (rstAvoidanceDelay), so this test runs beside the others.
	t.Parallel()
	ts := NewServer(t, Options{ClientID: "cli", ClientSecret: "sec"})
	pw := url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"wonderland"}}
	with := func(v url.Values, kv ...string) url.Values {
		out := url.Values{}
		for k, vs := range v {
			out[k] = vs
		}
		for i := 0; i < len(kv); i += 2 {
			out.Set(kv[i], kv[i+1])
		}
		return out
	}
	tests := []struct {
		name       string
		form       url.Values
		user, pass string // Basic credentials
		want       int
		wantErr    string
	}{
		{"ok basic", pw, "cli", "sec", 200, ""},
		{"ok form", with(pw, "client_id", "cli", "client_secret", "sec"), "", "", 200, ""},
		{"wrong secret basic", pw, "cli", "bad", 401, "invalid_client"},
		{"wrong client form", with(pw, "client_id", "other", "client_secret", "sec"), "", "", 401, "invalid_client"},
		{"no client", pw, "", "", 401, "invalid_client"},
		{"wrong password", with(pw, "password", "x"), "cli", "sec", 400, "invalid_grant"},
		{"missing username", with(pw, "username", ""), "cli", "sec", 400, "invalid_request"},
		{"unknown refresh", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"rt_x"}}, "cli", "sec", 400, "invalid_grant"},
		{"missing refresh", url.Values{"grant_type": {"refresh_token"}}, "cli", "sec", 400, "invalid_request"},
		{"unsupported grant", url.Values{"grant_type": {"urn:example:no-such-grant"}}, "cli", "sec", 400, "unsupported_grant_type"},
		{"missing grant", url.Values{}, "cli", "sec", 400, "invalid_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := postForm(t, ts.URL, "/oauth2/token", tt.form, tt.user, tt.pass)
			if r.status != tt.want || r.str("error") != tt.wantErr {
				t.Errorf("status, error = %d %q, want %d %q", r.status, r.str("error"), tt.want, tt.wantErr)
			}
			if cc := r.header.Get("Cache-Control"); cc != "no-store" {
				t.Errorf("Cache-Control = %q, want no-store", cc)
			}
		})
	}
	big := url.Values{"grant_type": {"password"}, "username": {string(make([]byte, maxBody))}}
	if r := postForm(t, ts.URL, "/oauth2/token", big, "cli", "sec"); r.status != http.StatusRequestEntityTooLarge {
		t.Errorf("oversized form = %d, want 413", r.status)
	}
}

func TestOAuth2RawBasicCredentials(t *testing.T) {
	ts := NewServer(t, Options{ClientID: "cli", ClientSecret: "a+b%"})
	pw := url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"wonderland"}}
	req, _ := http.NewRequest(http.MethodPost, ts.URL+"/oauth2/token", strings.NewReader(pw.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("cli", "a+b%") // not form-encoded, as many clients send it
	if r := do(t, req); r.status != http.StatusOK {
		t.Errorf("raw Basic credentials = %d %s, want 200", r.status, r.body)
	}
	if r := postForm(t, ts.URL, "/oauth2/token", pw, "cli", "a+b%"); r.status != http.StatusOK {
		t.Errorf("encoded Basic credentials = %d %s, want 200", r.status, r.body)
	}
	if r := postForm(t, ts.URL, "/oauth2/token", pw, "cli", "a b%"); r.status != http.StatusUnauthorized {
		t.Errorf("wrong secret = %d, want 401", r.status)
	}
}

func TestOAuth2PublicClient(t *testing.T) {
	ts := NewServer(t, Options{ClientID: "pub", PublicClient: true})
	pw := url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"wonderland"}, "client_id": {"pub"}, "scope": {"read"}}
	r := postForm(t, ts.URL, "/oauth2/token", pw, "", "")
	if r.status != http.StatusOK || r.str("scope") != "read" {
		t.Errorf("public client = %d %s, want 200 with scope read", r.status, r.body)
	}
}

func TestOAuth2Revoke(t *testing.T) {
	s := NewServer(t, Options{AnyClient: true}) // "any" client accepted
	revoke := func(tok string) int {
		return postForm(t, s.URL, "/oauth2/revoke", url.Values{"token": {tok}}, "any", "").status
	}
	if got := revoke("rt_unknown"); got != http.StatusOK {
		t.Errorf("revoke unknown = %d, want 200", got)
	}
	if got := postForm(t, s.URL, "/oauth2/revoke", url.Values{}, "any", "").status; got != http.StatusBadRequest {
		t.Errorf("revoke without token = %d, want 400", got)
	}

	// An access token: only itself.
	at1, rt1 := login(t, s.URL)
	if got := revoke(at1); got != http.StatusOK {
		t.Fatalf("revoke access = %d, want 200", got)
	}
	if got := get(t, s.URL, "/api/profile", at1); got.status != http.StatusUnauthorized {
		t.Errorf("revoked access token: %d, want 401", got.status)
	}
	r := refresh(t, s.URL, rt1)
	if r.status != http.StatusOK {
		t.Fatalf("refresh after access revocation = %d, want 200", r.status)
	}
	// A refresh token: the whole family.
	if got := revoke(r.str("refresh_token")); got != http.StatusOK {
		t.Fatalf("revoke refresh = %d", got)
	}
	if got := get(t, s.URL, "/api/profile", r.str("access_token")); got.status != http.StatusUnauthorized {
		t.Errorf("family access token after refresh-token revocation: %d, want 401", got.status)
	}
	if got := refresh(t, s.URL, r.str("refresh_token")); got.status != http.StatusUnauthorized || got.str("error_description") != reasonRevoked {
		t.Errorf("revoked refresh = %d %s, want 401 %q", got.status, got.body, reasonRevoked)
	}
	if st := s.Counters(); st.Revocations != 2 || st.ActiveFamilies != 0 {
		t.Errorf("Counters() = %+v, want 2 revocations, 0 active", st)
	}
}
