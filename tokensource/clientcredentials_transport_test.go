package tokensource_test

import (
	"context"
	"io"
	"net/http"
	"testing"

	"github.com/tokenrefresh/tokenrefresh/tokensource"
	"github.com/tokenrefresh/tokenrefresh/tokensource/authtest"
	"github.com/tokenrefresh/tokenrefresh/transport"
)

// TestClientCredentialsRenewOn401: a token the server revoked is answered
// 401; the Transport renews it, which for client credentials is one new
// token request, and the retried request succeeds.
func TestClientCredentialsRenewOn401(t *testing.T) {
	srv := authtest.NewServer(t, authtest.Options{})
	src := &tokensource.Source{Grant: &tokensource.ClientCredentialsGrant{
		TokenURL: srv.TokenURL(), ClientID: srv.ClientID, ClientSecret: srv.ClientSecret, HTTPClient: srv.Client(),
	}}
	t.Cleanup(func() { _ = src.Close(context.Background()) })
	client := &http.Client{Transport: &transport.Transport{Source: src, Base: srv.Client().Transport}}
	get := func() {
		t.Helper()
		resp, err := client.Get(srv.APIURL("/items"))
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET = %d, want 200", resp.StatusCode)
		}
	}
	get()
	srv.RevokeAccessTokens()
	get()
	if c := srv.Counters(); c.ClientCredentials != 2 || c.Unauthorized != 1 || c.Resources != 2 {
		t.Errorf("server saw %d token requests, %d 401s, %d resources; want 2, 1, 2",
			c.ClientCredentials, c.Unauthorized, c.Resources)
	}
}
