package tokensource

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/tokenrefresh/tokenrefresh/internal/demoserver"
)

// gDemo starts the demo authorization server on loopback.
func gDemo(t *testing.T) (*demoserver.Server, *httptest.Server) {
	t.Helper()
	ds := demoserver.New(demoserver.Config{ClientID: "cli", ClientSecret: "s3cret", Now: gNow})
	srv := httptest.NewServer(ds)
	t.Cleanup(srv.Close)
	return ds, srv
}

// TestGrantsAgainstDemoServer runs both grants through a whole session on a
// server that rotates refresh tokens and detects reuse.
func TestGrantsAgainstDemoServer(t *testing.T) {
	tests := []struct {
		name        string
		grant       func(srv *httptest.Server) Grant
		refreshPath string
	}{
		{"json", func(srv *httptest.Server) Grant {
			return &JSONGrant{
				LoginURL: srv.URL + "/auth/login", RefreshURL: srv.URL + "/auth/refresh", LogoutURL: srv.URL + "/auth/logout",
				Username: "alice", Password: "wonderland", HTTPClient: srv.Client(), Retry: gFast(), Now: gNow,
			}
		}, "/auth/refresh"},
		{"password", func(srv *httptest.Server) Grant {
			return &PasswordGrant{
				TokenURL: srv.URL + "/oauth2/token", RevokeURL: srv.URL + "/oauth2/revoke",
				ClientID: "cli", ClientSecret: "s3cret",
				Username: "alice", Password: "wonderland", HTTPClient: srv.Client(), Retry: gFast(), Now: gNow,
			}
		}, "/oauth2/token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ds, srv := gDemo(t)
			g := tt.grant(srv)
			ctx := t.Context()
			first, err := g.Login(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if first.Expiry != gNow().Add(demoserver.DefaultAccessTTL) || first.RefreshExpiry.IsZero() {
				t.Errorf("login token expiries = %v, %v", first.Expiry, first.RefreshExpiry)
			}
			ds.FailNext(tt.refreshPath, 1, http.StatusServiceUnavailable, "<html>busy</html>")
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
			st := ds.Stats()
			if st.Logins != 2 || st.Refreshes != 1 || st.ReuseDetections != 1 || st.InjectedFailures != 1 || st.Revocations != 1 {
				t.Errorf("server stats = %+v, want 2 logins, 1 refresh, 1 reuse, 1 injected failure, 1 revocation", st)
			}
		})
	}
}

func TestDemoServerBadPassword(t *testing.T) {
	_, srv := gDemo(t)
	g := &PasswordGrant{TokenURL: srv.URL + "/oauth2/token", ClientID: "cli", ClientSecret: "s3cret",
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
