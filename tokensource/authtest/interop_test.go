package authtest_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"testing"

	"github.com/tokenrefresh/tokenrefresh/tokensource"
	"github.com/tokenrefresh/tokenrefresh/tokensource/authtest"
	"github.com/tokenrefresh/tokenrefresh/transport"
)

// TestJSONGrantAgainstEveryStyle drives tokensource's JSONGrant, which
// detects the naming style, through a session in every JSON style and
// expiry encoding.
func TestJSONGrantAgainstEveryStyle(t *testing.T) {
	for _, style := range []authtest.JSONStyle{authtest.JSONSnakeCase, authtest.JSONCamelCase, authtest.JSONEnvelope} {
		for _, exp := range []authtest.ExpiresInStyle{authtest.ExpiresInNumber, authtest.ExpiresInString, authtest.ExpiresAtEpoch} {
			t.Run(fmt.Sprintf("style %d expires %d", style, exp), func(t *testing.T) {
				t.Parallel()
				srv := authtest.NewServer(t, authtest.Options{JSONStyle: style, ExpiresIn: exp})
				g := &tokensource.JSONGrant{LoginURL: srv.LoginURL(), RefreshURL: srv.RefreshURL(), LogoutURL: srv.LogoutURL(),
					Username: srv.User, Password: srv.Password, HTTPClient: srv.Client()}
				ctx := context.Background()
				first, err := g.Login(ctx)
				if err != nil || first.Expiry.IsZero() || first.RefreshExpiry.IsZero() {
					t.Fatalf("Login() = %v, %v; want a token with both expiries", first, err)
				}
				second, err := g.Refresh(ctx, first.RefreshToken)
				if err != nil || second.RefreshToken == first.RefreshToken || second.RefreshToken == "" {
					t.Fatalf("Refresh() = %v, %v; want a rotated token", second, err)
				}
				if err := g.Revoke(ctx, second); err != nil {
					t.Fatalf("Revoke() = %v", err)
				}
				c := srv.Counters()
				if c.Logins != 1 || c.Refreshes != 1 || c.Revocations != 1 || c.Reuses != 0 || c.ActiveFamilies != 0 {
					t.Errorf("Counters() = %+v, want 1 login, 1 refresh, 1 revocation", c)
				}
			})
		}
	}
}

// TestTransportAgainstEveryChallenge shows what transport.Transport does
// with each way the API can refuse a revoked token.
func TestTransportAgainstEveryChallenge(t *testing.T) {
	tests := []struct {
		name        string
		ch          authtest.Challenge
		wantStatus  int
		wantRefresh int64
	}{
		{"invalid_token", authtest.ChallengeInvalidToken, 200, 1},
		{"bare", authtest.ChallengeBare, 200, 1},
		{"none", authtest.ChallengeNone, 200, 1},
		// 403: not about the token's validity; never renewed.
		{"insufficient_scope", authtest.ChallengeInsufficientScope, 403, 0},
		// Hydra's request_unauthorized for a revoked token is renewed like
		// invalid_token: any Bearer 401 but insufficient_scope is.
		{"hydra", authtest.ChallengeHydra, 200, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := authtest.NewServer(t, authtest.Options{Challenge: tt.ch})
			src := &tokensource.Source{Grant: &tokensource.PasswordGrant{TokenURL: srv.TokenURL(),
				ClientID: srv.ClientID, ClientSecret: srv.ClientSecret, Username: srv.User, Password: srv.Password,
				HTTPClient: srv.Client()}}
			t.Cleanup(func() { _ = src.Close(context.Background()) })
			client := &http.Client{Transport: &transport.Transport{Source: src, Base: srv.Client().Transport}}
			get := func() int {
				resp, err := client.Get(srv.APIURL("/profile"))
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				_, _ = io.Copy(io.Discard, resp.Body)
				return resp.StatusCode
			}
			if got := get(); got != 200 {
				t.Fatalf("first GET = %d", got)
			}
			srv.RevokeAccessTokens()
			if got := get(); got != tt.wantStatus {
				t.Errorf("GET after revocation = %d, want %d", got, tt.wantStatus)
			}
			if c := srv.Counters(); c.Refreshes != tt.wantRefresh || c.Logins != 1 {
				t.Errorf("Counters() = %+v, want %d refreshes, 1 login", c, tt.wantRefresh)
			}
		})
	}
}
