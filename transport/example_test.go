package transport_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/tokenrefresh/tokenrefresh/tokensource"
	"github.com/tokenrefresh/tokenrefresh/tokensource/authtest"
	"github.com/tokenrefresh/tokenrefresh/transport"
)

// ExampleTransport calls a protected API through a Transport. The token is
// obtained on the first request; when the server revokes it, the 401 is
// intercepted, the token renewed once and the request retried.
func ExampleTransport() {
	srv, err := authtest.New(authtest.Options{}) // in a test: authtest.NewServer(t, ...)
	if err != nil {
		panic(err)
	}
	defer srv.Close()

	src := &tokensource.Source{Grant: &tokensource.JSONGrant{
		LoginURL:   srv.LoginURL(),
		RefreshURL: srv.RefreshURL(),
		Username:   srv.User,
		Password:   srv.Password,
	}}
	defer src.Close(context.Background()) // finish any refresh before exit

	client := &http.Client{Transport: &transport.Transport{
		Source: src,
		OnEvent: func(e tokensource.Event) {
			fmt.Println("event:", e.Kind)
		},
	}}
	get := func() {
		resp, err := client.Get(srv.APIURL("/profile"))
		if err != nil {
			fmt.Println("error:", err)
			return
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		fmt.Println(resp.StatusCode, strings.TrimSpace(string(body)))
	}

	get()
	srv.RevokeAccessTokens()
	get()
	fmt.Println("refreshes:", srv.Counters().Refreshes)
	// Output:
	// 200 {"email":"alice@example.com","user":"alice"}
	// event: request_unauthorized
	// 200 {"email":"alice@example.com","user":"alice"}
	// refreshes: 1
}
