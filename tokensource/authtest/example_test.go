package authtest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tokenrefresh/tokenrefresh/tokensource"
	"github.com/tokenrefresh/tokenrefresh/tokensource/authtest"
	"github.com/tokenrefresh/tokenrefresh/transport"
)

// ExampleServer_RevokeAccessTokens revokes every access token while 64
// requests are about to run through a transport.Transport: each gets a 401,
// and one refresh serves them all.
func ExampleServer_RevokeAccessTokens() {
	srv, err := authtest.New(authtest.Options{}) // in a test: authtest.NewServer(t, ...)
	if err != nil {
		panic(err)
	}
	defer srv.Close()
	src := &tokensource.Source{Grant: &tokensource.PasswordGrant{
		TokenURL: srv.TokenURL(), ClientID: srv.ClientID, ClientSecret: srv.ClientSecret,
		Username: srv.User, Password: srv.Password}}
	defer src.Close(context.Background())
	client := &http.Client{Transport: &transport.Transport{Source: src}}
	get := func() int {
		resp, err := client.Get(srv.APIURL("/items"))
		if err != nil {
			return 0
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode
	}

	fmt.Println("first call:", get())
	srv.RevokeAccessTokens()
	var ok atomic.Int64
	var wg sync.WaitGroup
	for range 64 {
		wg.Go(func() {
			if get() == http.StatusOK {
				ok.Add(1)
			}
		})
	}
	wg.Wait()
	c := srv.Counters()
	fmt.Println("succeeded after the revocation:", ok.Load(), "of 64")
	fmt.Println("logins:", c.Logins, "refreshes:", c.Refreshes, "reuses:", c.Reuses)
	// Output:
	// first call: 200
	// succeeded after the revocation: 64 of 64
	// logins: 1 refreshes: 1 reuses: 0
}

// Example_reuseDetection shows what strict rotation does to a naive client
// that refreshes twice with the same refresh token: the replay is detected
// and the whole session (the token family) is revoked, so even the newest
// refresh token is refused.
func Example_reuseDetection() {
	srv, err := authtest.New(authtest.Options{})
	if err != nil {
		panic(err)
	}
	defer srv.Close()
	post := func(form url.Values) (int, map[string]any) {
		form.Set("client_id", srv.ClientID)
		form.Set("client_secret", srv.ClientSecret)
		resp, err := http.PostForm(srv.TokenURL(), form)
		if err != nil {
			panic(err)
		}
		defer resp.Body.Close()
		var body map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&body)
		return resp.StatusCode, body
	}
	refresh := func(rt any) (int, map[string]any) {
		return post(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt.(string)}})
	}

	_, login := post(url.Values{"grant_type": {"password"}, "username": {srv.User}, "password": {srv.Password}})
	status, first := refresh(login["refresh_token"])
	fmt.Println("first refresh:", status)
	status, body := refresh(login["refresh_token"]) // the naive client's mistake
	fmt.Println("same refresh token again:", status, body["error"], "-", body["error_description"])
	status, body = refresh(first["refresh_token"])
	fmt.Println("newest refresh token:", status, body["error"], "-", body["error_description"])
	fmt.Println("reuses:", srv.Counters().Reuses)
	// Output:
	// first refresh: 200
	// same refresh token again: 400 invalid_grant - refresh token reused
	// newest refresh token: 400 invalid_grant - refresh token revoked
	// reuses: 1
}

// ExampleServer_FailNext makes the token endpoint answer 503 twice: the
// grant retries (503 means the request was not processed) and the login
// succeeds on the third attempt. The counters and the event log show what
// the server did.
func ExampleServer_FailNext() {
	srv, err := authtest.New(authtest.Options{})
	if err != nil {
		panic(err)
	}
	defer srv.Close()
	srv.FailNext(http.StatusServiceUnavailable, 2)

	grant := &tokensource.PasswordGrant{
		TokenURL: srv.TokenURL(), ClientID: srv.ClientID, ClientSecret: srv.ClientSecret,
		Username: srv.User, Password: srv.Password,
		// Quick retries, for the example.
		Retry: tokensource.RetryPolicy{MaxAttempts: 3, MinWait: time.Millisecond, MaxWait: 2 * time.Millisecond},
	}
	tok, err := grant.Login(context.Background())
	fmt.Println("logged in:", err == nil && tok.AccessToken != "")
	c := srv.Counters()
	fmt.Println("injected failures:", c.InjectedFailures, "logins:", c.Logins)
	for _, e := range srv.Events() {
		fmt.Println(e.Kind, e.Via, e.Status)
	}
	// Output:
	// logged in: true
	// injected failures: 2 logins: 1
	// injected oauth2 503
	// injected oauth2 503
	// login oauth2 200
}
