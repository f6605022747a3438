package tokensource_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"

	"github.com/tokenrefresh/tokenrefresh/storage/memory"
	"github.com/tokenrefresh/tokenrefresh/tokensource"
	"github.com/tokenrefresh/tokenrefresh/tokensource/authtest"
)

// ExampleAuthCodeGrant logs a user in through a browser: endpoints found
// by discovery, the browser sent to the authorization endpoint and back to
// a loopback listener, the code exchanged with its PKCE verifier. Here the
// "browser" is an HTTP client that follows the redirects; leave
// OpenBrowser nil to use the system's (or $BROWSER), and set Prompt to
// os.Stderr so the user can also open the URL by hand.
func ExampleAuthCodeGrant() {
	srv, err := authtest.New(authtest.Options{}) // stands in for https://auth.example.com
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()
	ctx := context.Background()

	meta, err := tokensource.Discover(ctx, srv.IssuerURL())
	if err == nil {
		err = meta.Require("authorization_endpoint", "token_endpoint")
	}
	if err != nil {
		fmt.Println(err)
		return
	}
	browser := func(ctx context.Context, url string) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
		fmt.Println("browser:", resp.Status)
		return nil
	}
	src := &tokensource.Source{
		Grant: &tokensource.AuthCodeGrant{
			AuthorizationURL: meta.AuthorizationEndpoint, TokenURL: meta.TokenEndpoint,
			RevokeURL: meta.RevocationEndpoint,
			ClientID:  srv.ClientID, ClientSecret: srv.ClientSecret, // often a public client: no secret
			Scopes:      []string{"openid"},
			OpenBrowser: browser,
		},
		Store: &memory.Store{},
		Key:   "alice",
	}
	defer src.Close(ctx)
	// Only an explicit Login runs a browser login; Token never does.
	tok, err := src.Login(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	fmt.Println("logged in; id_token kept:", tok.IDToken != "")
	fmt.Println(srv.Counters().AuthorizationCodes, "authorization code")
	// Output:
	// browser: 200 OK
	// logged in; id_token kept: true
	// 1 authorization code
}
