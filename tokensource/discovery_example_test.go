package tokensource_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/tokenrefresh/tokenrefresh/tokensource"
	"github.com/tokenrefresh/tokenrefresh/tokensource/authtest"
	"github.com/tokenrefresh/tokenrefresh/transport"
)

// ExampleDiscover finds a server's endpoints from its issuer URL and uses
// them for a job with no user: the client credentials grant behind a
// Source, so the token is fetched once and replaced on expiry or 401.
func ExampleDiscover() {
	srv, err := authtest.New(authtest.Options{}) // stands in for https://auth.example.com
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()
	ctx := context.Background()

	meta, err := tokensource.Discover(ctx, srv.IssuerURL())
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := meta.Require("token_endpoint"); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("grant types:", meta.GrantTypesSupported)
	var missing *tokensource.MissingEndpointError
	if err := meta.Require("jwks_uri"); errors.As(err, &missing) {
		fmt.Println("no", missing.Field)
	}

	src := &tokensource.Source{Grant: &tokensource.ClientCredentialsGrant{
		TokenURL: meta.TokenEndpoint, RevokeURL: meta.RevocationEndpoint,
		ClientID: srv.ClientID, ClientSecret: srv.ClientSecret, // from a secret store in real life
	}}
	defer src.Close(ctx)
	client := &http.Client{Transport: &transport.Transport{Source: src}}
	resp, err := client.Get(srv.APIURL("/profile"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	var profile struct{ User string }
	_ = json.NewDecoder(resp.Body).Decode(&profile)
	fmt.Println(resp.Status, "as", profile.User)
	// Output:
	// grant types: [password refresh_token client_credentials authorization_code urn:ietf:params:oauth:grant-type:device_code]
	// no jwks_uri
	// 200 OK as authtest-client
}
