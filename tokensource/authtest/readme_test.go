package authtest_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/tokenrefresh/tokenrefresh/tokensource"
	"github.com/tokenrefresh/tokenrefresh/tokensource/authtest"
	"github.com/tokenrefresh/tokenrefresh/transport"
)

// TestMyClientSurvivesRevocation is the test shown in the README's
// "Testing your code" section, verbatim: keep them in step.
func TestMyClientSurvivesRevocation(t *testing.T) {
	srv := authtest.NewServer(t, authtest.Options{AccessTTL: 2 * time.Second})
	src := &tokensource.Source{Grant: &tokensource.PasswordGrant{
		TokenURL: srv.TokenURL(), ClientID: srv.ClientID, ClientSecret: srv.ClientSecret,
		Username: srv.User, Password: srv.Password}}
	t.Cleanup(func() { _ = src.Close(context.Background()) })
	client := &http.Client{Transport: &transport.Transport{Source: src}}

	get := func() {
		t.Helper()
		resp, err := client.Get(srv.APIURL("/items"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET = %d, want 200", resp.StatusCode)
		}
	}
	get()
	srv.RevokeAccessTokens() // every access token dies; the refresh token lives
	get()                    // 401, one refresh, the request retried: 200

	if c := srv.Counters(); c.Logins != 1 || c.Refreshes != 1 || c.Reuses != 0 {
		t.Errorf("server saw %d logins, %d refreshes, %d reuses; want 1, 1, 0", c.Logins, c.Refreshes, c.Reuses)
	}
}
