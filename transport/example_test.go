package transport_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/tokenrefresh/tokenrefresh/internal/demoserver"
	"github.com/tokenrefresh/tokenrefresh/tokensource"
	"github.com/tokenrefresh/tokenrefresh/transport"
)

// ExampleTransport calls a protected API through a Transport. The token is
// obtained on the first request; when the server revokes it, the 401 is
// intercepted, the token renewed once and the request retried.
func ExampleTransport() {
	demo := demoserver.New(demoserver.Config{})
	srv := httptest.NewServer(demo)
	defer srv.Close()

	src := &tokensource.Source{Grant: &tokensource.JSONGrant{
		LoginURL:   srv.URL + "/auth/login",
		RefreshURL: srv.URL + "/auth/refresh",
		Username:   "alice",
		Password:   "wonderland",
	}}
	defer src.Close(context.Background()) // finish any refresh before exit

	client := &http.Client{Transport: &transport.Transport{
		Source: src,
		OnEvent: func(e tokensource.Event) {
			fmt.Println("event:", e.Kind)
		},
	}}
	get := func() {
		resp, err := client.Get(srv.URL + "/api/profile")
		if err != nil {
			fmt.Println("error:", err)
			return
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		fmt.Println(resp.StatusCode, strings.TrimSpace(string(body)))
	}

	get()
	demo.RevokeAccessTokens()
	get()
	fmt.Println("refreshes:", demo.Stats().Refreshes)
	// Output:
	// 200 {"email":"alice@example.com","user":"alice"}
	// event: unauthorized
	// 200 {"email":"alice@example.com","user":"alice"}
	// refreshes: 1
}
