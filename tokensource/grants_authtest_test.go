package tokensource

import (
	"errors"
	"net/http"
	"testing"

	"github.com/tokenrefresh/tokenrefresh/tokensource/authtest"
)

// gDemo starts the fake authorization server on loopback.
func gDemo(t *testing.T) *authtest.Server {
	t.Helper()
	return authtest.NewServer(t, authtest.Options{ClientID: "cli", ClientSecret: "s3cret", Now: gNow})
}

// TestGrantsAgainstAuthtest runs both grants through a whole session on a
// server that rotates refresh tokens and detects reuse.
func TestGrantsAgainstAuthtest(t *testing.T) {
	tests := []struct {
		name        string
		grant       func(srv *authtest.Server) Grant
		refreshPath string
	}{
		{"json", func(srv *authtest.Server) Grant {
			return &JSONGrant{
				LoginURL: srv.LoginURL(), RefreshURL: srv.RefreshURL(), LogoutURL: srv.LogoutURL(),
				Username: "alice", Password: "wonderland", HTTPClient: srv.Client(), Retry: gFast(), Now: gNow,
			}
		}, "/auth/refresh"},
		{"password", func(srv *authtest.Server) Grant {
			return &PasswordGrant{
				TokenURL: srv.TokenURL(), RevokeURL: srv.RevokeURL(),
				ClientID: "cli", ClientSecret: "s3cret",
				Username: "alice", Password: "wonderland", HTTPClient: srv.Client(), Retry: gFast(), Now: gNow,
			}
		}, "/oauth2/token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := gDemo(t)
			g := tt.grant(srv)
			ctx := t.Context()
			first, err := g.Login(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if first.Expiry != gNow().Add(authtest.DefaultAccessTTL) || first.RefreshExpiry.IsZero() {
				t.Errorf("login token expiries = %v, %v", first.Expiry, first.RefreshExpiry)
			}
			srv.FailPath(tt.refreshPath, 1, authtest.Fault{Status: http.StatusServiceUnavailable, Body: "<html>busy</html>"})
			second, err := g.Refresh(ctx, first.RefreshToken)
			if err != nil {
				t.Fatalf("Refresh() after one 503 = %v", err)
			}
			if second.RefreshToken == first.RefreshToken {
				t.Errorf("refresh token was not rotated")
			}
			_, err = g.Refresh(ctx, first.RefreshToken) // reuse: the server revokes the family
			if !errors.Is(err, ErrReauthRequired) {
				t.Errorf("Refresh(spent token) error = %v, want ErrReauthRequired", err)
			}
			third, err := g.Login(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if err := g.(Revoker).Revoke(ctx, third); err != nil {
				t.Errorf("Revoke() = %v", err)
			}
			st := srv.Counters()
			if st.Logins != 2 || st.Refreshes != 1 || st.Reuses != 1 || st.InjectedFailures != 1 || st.Revocations != 1 {
				t.Errorf("server stats = %+v, want 2 logins, 1 refresh, 1 reuse, 1 injected failure, 1 revocation", st)
			}
		})
	}
}

func TestAuthtestBadPassword(t *testing.T) {
	srv := gDemo(t)
	g := &PasswordGrant{TokenURL: srv.TokenURL(), ClientID: "cli", ClientSecret: "s3cret",
		Username: "alice", Password: "wrong", HTTPClient: srv.Client(), Retry: gFast()}
	if _, err := g.Login(t.Context()); !errors.Is(err, ErrReauthRequired) {
		t.Errorf("Login(bad password) error = %v, want ErrReauthRequired", err)
	}
	g.Password, g.ClientSecret = "wonderland", "wrong"
	_, err := g.Login(t.Context())
	if te := gTokenError(t, err); te.Rejected || te.Code != "invalid_client" {
		t.Errorf("Login(bad client secret) error = %+v, want non-rejected invalid_client", te)
	}
}
